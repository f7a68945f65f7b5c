#!/bin/bash
# The framework as a package: `make install PREFIX=<tmp>`, then an application outside the
# tree (tests/package/app) configured with only that prefix, built, and its worker's
# start-up checks run (routes, queries file against the compiled ones, a framework query
# name refused); then the test client's own tests built on the package's kiva::testing.
# Prints "package: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
tmp=$(mktemp -d /tmp/kiva-package-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() {  # check NAME COMMAND...
  local name=$1; shift
  if out=$("$@" 2>&1); then passed=$((passed + 1)); echo "ok   $name"
  else failed=$((failed + 1)); echo "FAIL $name"; echo "$out" | tail -n 20; fi
}
check "make install PREFIX=$tmp/prefix" make --no-print-directory install BUILD="$build" PREFIX="$tmp/prefix"
check "the install holds the library, the generated framework queries, the tools and the package" \
  test -f "$tmp/prefix/lib/libkiva.a" -a -f "$tmp/prefix/include/kiva/security/queries.hpp" \
       -a -x "$tmp/prefix/bin/kiva-querygen" -a -f "$tmp/prefix/lib/cmake/kiva/kivaConfig.cmake" \
       -a -f "$tmp/prefix/share/kiva/sql/migrations/0001-auth-state.sql"
cp -r tests/package/app "$tmp/app"
check "an application outside the tree configures with find_package(kiva)" \
  cmake -S "$tmp/app" -B "$tmp/app/build" -DCMAKE_PREFIX_PATH="$tmp/prefix"
check "and builds (its queries typed against the framework's schema and its own)" \
  cmake --build "$tmp/app/build" -j "$(nproc)"
# No users in this application: tokens only (a password scheme needs a password lookup).
export KIVA_AUTH=token
items() { KIVA_DATABASE="dbname=none" KIVA_TEST_MODE=true KIVA_QUERIES="$tmp/app/sql/queries.sql" "$tmp/app/build/items" "$@"; }
check "its worker starts: the framework's queries, then its own, as compiled" items --check
routes=$(items --routes 2>&1)
check "its routes are declared (GET and POST /items)" grep -q 'POST    /items' <<<"$routes"
printf '\n-- name: token_state^\nSELECT 1 AS one;\n' >>"$tmp/app/sql/queries.sql"
check "a query named like one of the framework's fails the build, naming both places" \
  bash -c "cmake --build '$tmp/app/build' 2>&1 | grep -q 'query token_state is already defined at $tmp/prefix/share/kiva/sql/queries.sql'"
# The test client (kiva::testing), installed with the framework: an application's tests built
# on the package alone run its routes in process (its SQL found where it was installed).
check "the install holds kiva::testing (library and headers)" \
  test -f "$tmp/prefix/lib/libkiva-testing.a" -a -f "$tmp/prefix/include/kiva/testing/fixture.hpp"
check "an application's tests build on kiva::testing from the package" \
  bash -c "cmake -S tests/testclient/outside -B '$tmp/testclient' -DCMAKE_PREFIX_PATH='$tmp/prefix' &&
           cmake --build '$tmp/testclient' -j '$(nproc)'"
check "and pass in process (App::handle on a throwaway PostgreSQL)" \
  timeout 300 "$tmp/testclient/items_tests" --report_level=short
echo "package: $passed passed, $failed failed"
[ "$failed" = 0 ]
