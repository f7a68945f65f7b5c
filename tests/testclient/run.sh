#!/bin/bash
# The test client's tests in both of its modes, from one test binary (testclient_tests):
#   1. in process: App::handle on a throwaway PostgreSQL, a copy of the schema per test case;
#   2. at a URL: the same binary with KIVA_TEST_URL pointing at nginx, in front of the Item
#      application's worker (testclient_items), started by deploy/dev/stack.sh on a
#      PostgreSQL of its own made here (schema and test users loaded as in process);
#   3. in process again on that PostgreSQL, given by KIVA_TEST_DATABASE (none started).
# Every step is bounded; ports are picked free. Prints "testclient: N passed, M failed"
# (test cases of both runs; those skipped at a URL are not counted).
#
#   tests/testclient/run.sh [BUILD_DIR]     (default: build)
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build=$(cd "${1:-build}" && pwd)
here=$root/tests/testclient
passed=0 failed=0
say() { echo "testclient: $*" >&2; }

# run_tests LABEL [VAR=VALUE...]: the test binary, its counts added.
run_tests() {
  local label=$1 out rc ok bad skipped; shift
  out=$(env "$@" timeout -s TERM 300 "$build/testclient_tests" --report_level=short --color_output=false 2>&1); rc=$?
  echo "$out" | grep -vE '^(Running|$)' | tail -n 40 | sed "s/^/[$label] /"
  ok=$(echo "$out" | sed -n 's/^ *\([0-9]\+\) test cases\? out of [0-9]\+ passed.*/\1/p' | head -n 1)
  bad=$(echo "$out" | sed -n 's/^ *\([0-9]\+\) test cases\? out of [0-9]\+ failed.*/\1/p' | head -n 1)
  skipped=$(echo "$out" | sed -n 's/^ *\([0-9]\+\) test cases\? out of [0-9]\+ skipped.*/\1/p' | head -n 1)
  ok=${ok:-0}; bad=${bad:-0}
  [ "$rc" != 0 ] && [ "$bad" = 0 ] && bad=1
  echo "$label: $ok passed, $bad failed, ${skipped:-0} skipped"
  passed=$((passed + ok)); failed=$((failed + bad))
}

run_tests in-process

# --- at a URL: PostgreSQL, then the stack (worker + nginx) ------------------------------
tmp=$(mktemp -d /var/tmp/kiva-testclient.XXXXXX) && chmod 755 "$tmp"
pg=$tmp/pg
mkdir -p "$pg"
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$pg"
  as_pg() { (cd / && exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"); }
else
  as_pg() { "$@"; }
fi
pg_pid="" stack_pid=""
cleanup() {
  if [ -n "$stack_pid" ]; then
    kill -TERM "$stack_pid" 2>/dev/null
    for _ in $(seq 600); do kill -0 "$stack_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$stack_pid" 2>/dev/null
  fi
  if [ -n "$pg_pid" ]; then
    server=$(head -n 1 "$pg/data/postmaster.pid" 2>/dev/null || true)
    kill -INT "${server:-$pg_pid}" 2>/dev/null
    for _ in $(seq 300); do kill -0 "${server:-$pg_pid}" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

url_mode() {
  local pgbin port log=$tmp/stack.log
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  as_pg "$pgbin/initdb" -D "$pg/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log"; say "initdb failed"; return 1; }
  as_pg "$pgbin/postgres" -D "$pg/data" -k "$pg" -p 5432 -c listen_addresses= -c fsync=off \
    >"$tmp/postgres.log" 2>&1 &
  pg_pid=$!
  for _ in $(seq 600); do
    "$pgbin/pg_isready" -q -h "$pg" -p 5432 && break
    kill -0 "$pg_pid" 2>/dev/null || break
    sleep 0.1
  done
  "$pgbin/pg_isready" -q -h "$pg" -p 5432 || { cat "$tmp/postgres.log"; say "PostgreSQL did not start"; return 1; }
  psql -X -q -v ON_ERROR_STOP=1 -h "$pg" -U postgres -d postgres -c "CREATE DATABASE items" &&
  psql -X -q -v ON_ERROR_STOP=1 -h "$pg" -U postgres -d items -v owner=postgres -v runtime=postgres \
    -f framework/sql/create.sql -f "$here/schema.sql" -f "$here/data.sql" ||
    { say "the schema does not load"; return 1; }

  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  STATE=$tmp/state PORT=$port PREFIX=/api KIVA=$build/testclient_items \
    DATABASE="host=$pg port=5432 dbname=items user=postgres" \
    KIVA_QUERIES=$here/queries.sql KIVA_TOKEN_CARRIER=bearer,cookie \
    deploy/dev/stack.sh >"$log" 2>&1 &
  stack_pid=$!
  for _ in $(seq 1200); do
    grep -q "stack: kiva serving" "$log" && break
    kill -0 "$stack_pid" 2>/dev/null || break
    sleep 0.1
  done
  grep -q "stack: kiva serving" "$log" || { tail -n 30 "$log"; say "the stack did not start"; return 1; }
  # In process again, on a server given by KIVA_TEST_DATABASE (nothing started by the test).
  run_tests given-database KIVA_TEST_DATABASE="host=$pg port=5432 user=postgres dbname=postgres"
  local left
  left=$(psql -X -At -h "$pg" -U postgres -d postgres \
    -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'kiva\_test%'")
  if [ "$left" = 0 ]; then
    passed=$((passed + 1)); echo "ok   the template and every test case's copy were dropped"
  else
    failed=$((failed + 1)); echo "FAIL $left kiva_test* databases left behind"
  fi
  run_tests url KIVA_TEST_URL="http://127.0.0.1:$port/api"
  if grep -qE 'AddressSanitizer|runtime error' "$log"; then
    grep -E 'AddressSanitizer|runtime error' "$log" | head -n 5
    failed=$((failed + 1))
  fi
}
url_mode || failed=$((failed + 1))

echo "testclient: $passed passed, $failed failed"
[ "$failed" = 0 ]
