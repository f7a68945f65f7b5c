#!/bin/bash
# @NAME@'s tests, as `make test` runs them: the API through nginx against a real PostgreSQL
# (the framework's dev stack, on free ports, in a throwaway state directory), every route
# with each of its outcomes. Prints "tests: N passed, M failed"; exit status 1 on a failure.
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
# expect NAME STATUS [BODY_PATTERN] -- CURL_ARGS...: one request, its status and body checked.
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
admin=(-u admin:admin-password) alice=(-u alice:alice-password)

expect "GET /items lists the demo rows" 200 '"name":"first item"' -- "$url/items"
expect "GET /items/1" 200 '^\{"iid":1,"name":"first item"\}$' -- "$url/items/1"
expect "GET /items/999: 404 JSON" 404 '"error"' -- "$url/items/999"
expect "GET /items/x: 404 (not an int)" 404 '"error"' -- "$url/items/x"
expect "POST /items without credentials: 401" 401 '"error"' -- -X POST -d name=third "$url/items"
expect "POST /items with a wrong password: 401" 401 '"error"' -- -X POST -u alice:wrong -d name=third "$url/items"
expect "POST /items: 201 and its id" 201 '"iid":3' -- -X POST "${alice[@]}" -d name=third "$url/items"
expect "POST /items, the same name: 409" 409 '"error"' -- -X POST "${alice[@]}" -d name=third "$url/items"
expect "POST /items without name: 400" 400 'name' -- -X POST "${alice[@]}" "$url/items"
expect "POST /items with an unknown parameter: 400" 400 'nope' -- -X POST "${alice[@]}" -d name=x -d nope=1 "$url/items"
expect "PUT /items/3: 204" 204 '' -- -X PUT "${alice[@]}" -d name=renamed "$url/items/3"
expect "GET /items/3 after PUT" 200 '"renamed"' -- "$url/items/3"
expect "PUT /items/999: 404" 404 '"error"' -- -X PUT "${alice[@]}" -d name=x "$url/items/999"
expect "DELETE /items/3 as alice: 403" 403 '"error"' -- -X DELETE "${alice[@]}" "$url/items/3"
expect "DELETE /items/3 as admin: 204" 204 '' -- -X DELETE "${admin[@]}" "$url/items/3"
expect "DELETE /items/3 again: 404" 404 '"error"' -- -X DELETE "${admin[@]}" "$url/items/3"
expect "PATCH /items/1: 405" 405 '"error"' -- -X PATCH "${alice[@]}" -d name=x "$url/items/1"
expect "GET /nowhere: 404" 404 '"error"' -- "$url/nowhere"
token=$(curl -s -m 10 "${alice[@]}" "$url/login" | tr -d '"')
expect "GET /login gives a token that authenticates" 200 '^"alice"$' -- -H "Authorization: Bearer $token" "$url/whoami"
expect "GET /whoami with a forged token: 401" 401 '"error"' -- -H "Authorization: Bearer ${token}x" "$url/whoami"
expect "GET /health" 200 '' -- "$url/health"
expect "GET /openapi.json documents /items" 200 '"/items"' -- "$url/openapi.json"

echo "tests: $passed passed, $failed failed"
[ "$failed" = 0 ]
