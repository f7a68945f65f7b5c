#!/bin/bash
# @NAME@'s tests, as `make test` runs them: the API through nginx against a real PostgreSQL
# (the framework's dev stack, on free ports, in a throwaway state directory, loaded with
# sql/data.sql and sql/users.in), then every tests/test_*.sh in order: each calls `expect`
# for every route with each of its outcomes. Prints "tests: N passed, M failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
project=$(dirname "$here")
: "${KIVA_SHARE:?run me through make test}" "${KIVA:?run me through make test}"

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

passed=0 failed=0
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

echo "tests: $passed passed, $failed failed"
[ "$failed" = 0 ]
