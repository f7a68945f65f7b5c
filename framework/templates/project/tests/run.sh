#!/bin/bash
# @NAME@'s tests, as `make test` runs them: the C++ tests (tests/*.cpp, kiva's test client)
# in process against a real PostgreSQL; then the API through nginx (the framework's dev
# stack, on free ports, in a throwaway state directory, loaded with sql/data.sql and
# sql/users.in): every tests/test_*.sh in order, each calling `expect` for every route with
# each of its outcomes, then the same C++ tests at its URL. Prints "tests: N passed, M failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
project=$(dirname "$here")
: "${KIVA_SHARE:?run me through make test}" "${KIVA:?run me through make test}"

passed=0 failed=0
# cpp_tests LABEL [ENV...]: the C++ test binary (Boost.Test), counted as one check per case.
cpp_tests() {
  local label=$1 out total bad; shift
  [ -x "${KIVA_TESTS:-}" ] || return 0
  out=$(env "$@" "$KIVA_TESTS" --report_level=short 2>&1)
  total=$(sed -n 's/.* \([0-9]\+\) test cases\? out of \([0-9]\+\).*/\2/p' <<<"$out" | head -n 1)
  bad=$(sed -n 's/.* \([0-9]\+\) test cases\? out of [0-9]\+ failed.*/\1/p' <<<"$out" | head -n 1)
  total=${total:-1} bad=${bad:-0}
  grep -q 'No errors detected\|test cases\? out of' <<<"$out" || bad=$total
  passed=$((passed + total - bad)) failed=$((failed + bad))
  if [ "$bad" = 0 ]; then echo "ok   C++ tests $label ($total cases)"; else echo "FAIL C++ tests $label"; echo "$out" | tail -n 30; fi
}
cpp_tests "in process"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
state=$(mktemp -d /tmp/@NAME@-test-XXXXXX)
chmod 755 "$state"
port=$(free_port) pgport=$(free_port)
url="http://127.0.0.1:$port/api"
env STATE="$state" PORT="$port" PGPORT="$pgport" PREFIX=/api KIVA_APP_DIR="$project" \
  "$KIVA_SHARE/deploy/dev/stack.sh" >"$state/stack.log" 2>&1 &
stack=$!
cleanup() { kill -TERM "$stack" 2>/dev/null; wait "$stack" 2>/dev/null; rm -rf "$state"; }
trap cleanup EXIT
for _ in $(seq 600); do
  grep -qF "kiva serving $url" "$state/stack.log" && break
  kill -0 "$stack" 2>/dev/null || break
  sleep 0.1
done
grep -qF "kiva serving $url" "$state/stack.log" || { cat "$state/stack.log"; echo "tests: 0 passed, 1 failed"; exit 1; }

# expect NAME STATUS BODY_PATTERN -- CURL_ARGS...: one request to $url..., its status and its
# body (an extended regular expression; '' for any) checked.
expect() {
  local name=$1 status=$2 pattern=$3; shift 4
  local out code body
  out=$(curl -s -m 10 -w '\n%{http_code}' "$@") || true
  code=${out##*$'\n'} body=${out%$'\n'*}
  if [ "$code" = "$status" ] && { [ -z "$pattern" ] || grep -qE -- "$pattern" <<<"$body"; }; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name: $code $body (expected $status ${pattern:+and /$pattern/})"
  fi
}
for test in "$here"/test_*.sh; do
  echo "--- $(basename "$test")"
  # shellcheck source=/dev/null
  . "$test"
done
# Last: they add rows, and the shell tests above count on the demo data alone.
cpp_tests "through nginx" KIVA_TEST_URL="$url"

echo "tests: $passed passed, $failed failed"
[ "$failed" = 0 ]
