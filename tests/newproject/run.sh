#!/bin/bash
# kiva-new, as a new user runs it: `make install PREFIX=<tmp>`, then `kiva-new shop DIR` below
# a private (0700) directory, and the new project's own `make test` (build on the installed
# package only, every route through nginx against PostgreSQL); then docs/tutorial.md applied
# to another new project, which must pass its make test too. Also: what kiva-new refuses,
# writing nothing. Prints "newproject: N passed, M failed". Bounded: each make test 15 minutes at most.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
tmp=$(mktemp -d /tmp/kiva-newproject-XXXXXX)  # 0700, like a clone in /root
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "$2" | tail -n 40; }
check() {  # check NAME COMMAND...
  local name=$1 out; shift
  if out=$("$@" 2>&1); then ok "$name"; else fail "$name" "$out"; fi
}
# project_test LABEL DIR WHAT: the project's make test (bounded), its summary, counted once.
project_test() {
  local label=$1 dir=$2 what=$3 out rc
  out=$(cd "$dir" && timeout -s TERM 900 make test 2>&1); rc=$?
  echo "$out" | grep -E '^(FAIL|tests:)' | sed "s/^/  $label: /"
  if [ "$rc" = 0 ] && grep -q '^tests: [1-9][0-9]* passed, 0 failed' <<<"$out"; then
    ok "$what: $(grep '^tests:' <<<"$out")"
  else
    fail "$what (exit $rc)" "$out"
  fi
}
refused() {  # refused NAME PATTERN COMMAND...: exits 2, says PATTERN
  local name=$1 pattern=$2 out rc; shift 2
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" = 2 ] && grep -q -- "$pattern" <<<"$out"; then ok "$name"; else fail "$name" "exit $rc: $out"; fi
}

check "make install PREFIX=$tmp/prefix" make --no-print-directory install BUILD="$build" PREFIX="$tmp/prefix"
new=$tmp/prefix/bin/kiva-new
refused "kiva-new refuses a name that is not an identifier" "not a valid project name" "$new" 'my-shop' "$tmp/bad1"
refused "kiva-new refuses a reserved name" "reserved" "$new" kiva "$tmp/bad2"
mkdir -p "$tmp/full" && touch "$tmp/full/keep"
refused "kiva-new refuses a non-empty directory" "not an empty directory" "$new" shop "$tmp/full"
check "and writes nothing when it refuses" test ! -e "$tmp/bad1" -a ! -e "$tmp/bad2" -a "$(ls -A "$tmp/full")" = keep
check "kiva-new shop makes the project" "$new" shop "$tmp/work/shop"
check "with its Makefile, README, .ci/run and the framework version it was made with" \
  test -f "$tmp/work/shop/Makefile" -a -f "$tmp/work/shop/README.md" -a -x "$tmp/work/shop/.ci/run" \
       -a "$(cat "$tmp/work/shop/kiva.version")" = "$(cat "$tmp/prefix/share/kiva/VERSION")"
project_test shop "$tmp/work/shop" "the new project's make test passes"
# make run serves the new resource through nginx (on free ports; SIGTERM stops it all).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$tmp/work/shop" && exec make --no-print-directory run PORT="$port" PGPORT="$pgport" >"$tmp/run.log" 2>&1) &
run_pid=$!
items=""
for _ in $(seq 300); do
  items=$(curl -s -m 5 "http://127.0.0.1:$port/api/items" 2>/dev/null) && [ -n "$items" ] && break
  kill -0 "$run_pid" 2>/dev/null || break
  sleep 0.2
done
kill -TERM "$run_pid" 2>/dev/null; wait "$run_pid" 2>/dev/null
if grep -q '"name":"first item"' <<<"$items"; then ok "its make run serves GET /api/items through nginx"
else fail "its make run serves GET /api/items through nginx" "$items $(tail -n 20 "$tmp/run.log")"; fi


# make deploy with the framework's scripts: a dry run (a real deploy is the deployment test's)
# stages the project's binary as bin/kiva and the framework's migrations before its own.
cp "$tmp/prefix/share/kiva/deploy/deploy.conf.example" "$tmp/work/shop/deploy.local.conf"
deploy_out=$(cd "$tmp/work/shop" && timeout 300 make --no-print-directory deploy DRY_RUN=1 ALLOW_DIRTY=1 2>&1)
if grep -q "objcopy .*$tmp/work/shop/build-release/shop .*/stage/bin/kiva" <<<"$deploy_out" &&
   grep -q -- "-f .incoming/sql/kiva/migrations/migrate.psql -f .incoming/sql/migrations/migrate.psql" <<<"$deploy_out"; then
  ok "its make deploy (DRY_RUN=1) ships its binary and the framework's migrations, then its own"
else
  fail "its make deploy (DRY_RUN=1)" "$deploy_out"
fi

# The tutorial (docs/tutorial.md), exactly as printed, on a second new project.
check "kiva-new shop for the tutorial" "$new" shop "$tmp/work/tutorial"
check "docs/tutorial.md's files written into it" python3 tests/newproject/tutorial.py docs/tutorial.md "$tmp/work/tutorial"
project_test tutorial "$tmp/work/tutorial" "the tutorial's project passes its make test"

# The same from the Debian package: make package (lintian: no error), installed with apt (its
# dependencies are the build's), kiva-new from /usr/bin, the project's make test; removed after.
deb_out=$(make --no-print-directory package BUILD="$build" 2>&1); rc=$?
deb=$(tail -n 1 <<<"$deb_out")
if [ "$rc" = 0 ] && [ -f "$deb" ]; then ok "make package: $(basename "$deb"), lintian finds no error"; else fail "make package (exit $rc)" "$deb_out"; fi
if [ -f "$deb" ] && out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$(readlink -f "$deb")" 2>&1); then
  ok "the .deb installs"
  check "kiva-new from the package makes the project" /usr/bin/kiva-new shop "$tmp/work/from-deb"
  check "on the package's framework (KIVA_PREFIX /usr)" grep -q '^KIVA_PREFIX ?= /usr$' "$tmp/work/from-deb/Makefile"
  project_test from-deb "$tmp/work/from-deb" "the project on the installed .deb passes its make test"
  dpkg -r kiva >/dev/null 2>&1 || true
  check "and the package removes cleanly" test ! -e /usr/bin/kiva-new -a ! -e /usr/lib/cmake/kiva/kivaConfig.cmake
else
  [ -f "$deb" ] && fail "the .deb installs" "$out"
fi
echo "newproject: $passed passed, $failed failed"
[ "$failed" = 0 ]
