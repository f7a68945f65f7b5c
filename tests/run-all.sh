#!/bin/bash
# The whole test suite, as `make test` runs it: unit tests, the test client (kiva::testing) in
# process and at a URL, integration tests through nginx against a real PostgreSQL, a sqlmap
# scan of the parameterized routes, the same tests again under ASan+UBSan, the Prometheus
# files checked by promtool, a short fuzzing run of every fuzz target, the HA database's
# failover test, the deployment test, the cluster tests and a short run of make bench's
# scripts. Ends with one summary line; non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
passed=0
failed=0
failures=()

say() { printf '\n=== %s\n' "$*"; }
# count PASSED FAILED NAME: adds a stage's counts to the totals.
count() {
  passed=$((passed + $1)); failed=$((failed + $2))
  [ "$2" -gt 0 ] && failures+=("$3")
  return 0
}

build() {  # build DIR CMAKE_ARGS...
  local dir=$1; shift
  cmake -S . -B "$dir" "$@" >/dev/null && cmake --build "$dir" -j "$jobs" 2>&1 | grep -E 'error|warning|Error' ; return "${PIPESTATUS[0]}"
}

unit() {  # unit DIR LABEL [BINARY]: a Boost.Test binary's count (unit_tests by default)
  local out
  out=$("$1/${3:-unit_tests}" --report_level=short 2>&1)
  local rc=$?
  echo "$out" | tail -n 5
  local total ok bad
  total=$(echo "$out" | sed -n 's/.* \([0-9]\+\) test cases\? out of \([0-9]\+\).*/\2/p' | head -n 1)
  bad=$(echo "$out" | sed -n 's/.* \([0-9]\+\) test cases\? out of [0-9]\+ failed.*/\1/p' | head -n 1)
  total=${total:-0}; bad=${bad:-0}
  [ "$rc" != 0 ] && [ "$bad" = 0 ] && bad=1
  ok=$((total - bad)); [ "$ok" -lt 0 ] && ok=0
  count "$ok" "$bad" "$2"
}

integration() {  # integration DIR LABEL
  local out rc
  out=$(python3 tests/integration/run.py --build "$1" 2>&1)
  rc=$?
  if [ "$rc" = 0 ]; then
    echo "$out" | grep -E '^integration:'
  else  # unittest's own report of each failure (from its first ===== line), then the log markers
    echo "$out" | sed -n '/^======/,$p' | head -n 150
    echo "$out" | grep -E '^ERROR: |AddressSanitizer|runtime error' | head -n 20
  fi
  local ok bad
  ok=$(echo "$out" | sed -n 's/^integration: \([0-9]\+\) passed, \([0-9]\+\) failed.*/\1/p' | tail -n 1)
  bad=$(echo "$out" | sed -n 's/^integration: \([0-9]\+\) passed, \([0-9]\+\) failed.*/\2/p' | tail -n 1)
  ok=${ok:-0}; bad=${bad:-0}
  [ "$rc" != 0 ] && [ "$bad" = 0 ] && bad=1
  count "$ok" "$bad" "$2"
}

testclient() {  # testclient DIR LABEL: tests/testclient/run.sh's count
  local out ok bad
  out=$(tests/testclient/run.sh "$1" 2>&1); echo "$out"
  ok=$(echo "$out" | sed -n 's/^testclient: \([0-9]\+\) passed.*/\1/p' | tail -n 1)
  bad=$(echo "$out" | sed -n 's/^testclient: [0-9]\+ passed, \([0-9]\+\) failed.*/\1/p' | tail -n 1)
  [ -z "$bad" ] && { ok=0; bad=1; }
  count "${ok:-0}" "$bad" "$2"
}

security() {  # security DIR: tests/security/sqlmap.py's verdicts and its count
  local out rc ok bad
  out=$(python3 tests/security/sqlmap.py "$1" 2>&1); rc=$?
  echo "$out" | grep -E '^(ok|FAIL|ERROR|security:)'
  [ "$rc" = 0 ] || echo "$out" | tail -n 60
  ok=$(echo "$out" | sed -n 's/^security: \([0-9]\+\) passed, \([0-9]\+\) failed.*/\1/p' | tail -n 1)
  bad=$(echo "$out" | sed -n 's/^security: \([0-9]\+\) passed, \([0-9]\+\) failed.*/\2/p' | tail -n 1)
  ok=${ok:-0}; bad=${bad:-0}
  [ "$rc" != 0 ] && [ "$bad" = 0 ] && bad=1
  count "$ok" "$bad" security
}

start=$(date +%s)

say "build (RelWithDebInfo)"
if build build -DCMAKE_BUILD_TYPE=RelWithDebInfo; then count 1 0 build; else count 0 1 build; fi
say "the framework's floors (each folder includes only the floors below it)"
floors_out=$(python3 tests/floors/check.py 2>&1); echo "$floors_out"
count "$(echo "$floors_out" | sed -n 's/^floors: \([0-9]\+\) passed.*/\1/p')" \
      "$(echo "$floors_out" | sed -n 's/^floors: [0-9]\+ passed, \([0-9]\+\) failed.*/\1/p')" floors
say "the framework as a package (make install, an application outside the tree on find_package(kiva))"
package_out=$(tests/package/run.sh build 2>&1); echo "$package_out"
count "$(echo "$package_out" | sed -n 's/^package: \([0-9]\+\) passed.*/\1/p')" \
      "$(echo "$package_out" | sed -n 's/^package: [0-9]\+ passed, \([0-9]\+\) failed.*/\1/p')" package
say "kiva-new: a new project on the installed framework, its own make test (below a private directory)"
newproject_out=$(tests/newproject/run.sh build 2>&1); echo "$newproject_out" | grep -E '^(ok|FAIL|  [a-z-]+:|newproject:)'
grep -q '^FAIL' <<<"$newproject_out" && echo "$newproject_out" | tail -n 60
count "$(echo "$newproject_out" | sed -n 's/^newproject: \([0-9]\+\) passed.*/\1/p')" \
      "$(echo "$newproject_out" | sed -n 's/^newproject: [0-9]\+ passed, \([0-9]\+\) failed.*/\1/p')" newproject
say "unit tests"
unit build unit
say "the test client (kiva::testing: in process on a real PostgreSQL, then at a URL through nginx)"
testclient build testclient
say "the course demo's tests with kiva's test client (in process, a database per test case)"
unit build course course_tests
say "integration tests (nginx + PostgreSQL)"
integration build integration

say "SQL injection scan (sqlmap --level 3 --risk 2 on the parameterized routes)"
security build

say "build with ASan+UBSan"
if build build-asan -DCMAKE_BUILD_TYPE=Debug -DKIVA_SANITIZE=ON; then count 1 0 build-asan; else count 0 1 build-asan; fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
say "unit tests under ASan+UBSan"
unit build-asan unit-asan
say "the test client under ASan+UBSan"
testclient build-asan testclient-asan
say "the course demo's test-client tests under ASan+UBSan"
unit build-asan course-asan course_tests
say "integration tests under ASan+UBSan"
integration build-asan integration-asan
unset ASAN_OPTIONS UBSAN_OPTIONS

say "monitoring files (promtool check config, check rules)"
if promtool check config deploy/prometheus/prometheus.yml && promtool check rules deploy/prometheus/kiva-alerts.yml; then
  count 1 0 promtool
else
  count 0 1 promtool
fi

say "fuzz targets (short run)"
if FUZZ_SECONDS=${FUZZ_SECONDS:-10} tests/fuzz/run.sh; then count 1 0 fuzz; else count 0 1 fuzz; fi

# The HA database: a Patroni cluster in network namespaces, kiva against it, two failovers
# under write load (tests/ha/run.sh; about 90 s, waits for another topology's test to end).
say "HA database failover (Patroni + etcd in namespaces, SIGKILL of the primary under load)"
ha_out=$(tests/ha/run.sh build 2>&1)
echo "$ha_out" | grep -E '^(ok|FAIL|round|cluster|worker log|  [0-9]{4}-|ha:)'
ha_ok=$(echo "$ha_out" | sed -n 's/^ha: \([0-9]\+\) passed, \([0-9]\+\) failed.*/\1/p' | tail -n 1)
ha_bad=$(echo "$ha_out" | sed -n 's/^ha: \([0-9]\+\) passed, \([0-9]\+\) failed.*/\2/p' | tail -n 1)
[ -z "$ha_bad" ] && { echo "$ha_out" | tail -n 30; ha_ok=0; ha_bad=1; }
count "${ha_ok:-0}" "$ha_bad" ha

# The deployment test runs from a checkout below a private (0700) directory, as a root user's
# clone in /root is: what runs there as postgres, www-data or the app user must never need to
# enter the checkout. A checkout that is not private already is copied (its working tree: the
# change under test) below one made by mktemp -d.
private_copy() {  # prints the directory to run from
  local here=$PWD dir
  if ! (cd / && runuser -u nobody -- test -x "$here") 2>/dev/null || ! git rev-parse --git-dir >/dev/null 2>&1; then
    echo .; return  # private already (or not a git checkout: run as it is)
  fi
  dir=$(mktemp -d /tmp/kiva-private-XXXXXX) || { echo .; return; }
  if git ls-files -z --cached --others --exclude-standard |
     rsync -a --from0 --files-from=- --ignore-missing-args ./ "$dir/kiva/" && cp -a .git "$dir/kiva/.git"; then
    echo "$dir/kiva"
  else
    rm -rf "$dir"; echo .
  fi
}
if [ -x tests/deploy/run.sh ]; then
  say "deployment test (Apache mod_fcgid and mod_proxy_fcgi, nginx, sshd, make deploy), below a private directory"
  deploy_root=$(private_copy)
  [ "$deploy_root" = . ] || echo "from a private copy: $deploy_root (mode $(stat -c %a "$(dirname "$deploy_root")"))"
  if (cd "$deploy_root" && tests/deploy/run.sh); then count 1 0 deploy; else count 0 1 deploy; fi
  [ "$deploy_root" = . ] || rm -rf "$(dirname "$deploy_root")"
fi

# The scaled-out topology (tests/cluster/run.py): HAProxy, two application hosts, PostgreSQL
# and Redis in network namespaces, deployed by the shipped scripts; faults and a rolling
# deploy under load; then the same topology on the HA database (Patroni + etcd) with the
# primary killed twice under a POST load through the balancer. Bounded (it may wait for
# another topology on the machine first).
cluster_stage() {  # cluster_stage LABEL ARGS...: one run of tests/cluster/run.py
  local label=$1 out rc ok bad; shift
  out=$(timeout -s TERM 1800 python3 -u tests/cluster/run.py "$@" 2>&1); rc=$?
  echo "$out" | grep -E '^\[|^  (ok|FAIL)|^cluster:|^  File|Error' | tail -n 80
  ok=$(echo "$out" | sed -n 's/^cluster: \([0-9]\+\) passed, \([0-9]\+\) failed.*/\1/p' | tail -n 1)
  bad=$(echo "$out" | sed -n 's/^cluster: \([0-9]\+\) passed, \([0-9]\+\) failed.*/\2/p' | tail -n 1)
  ok=${ok:-0}; bad=${bad:-0}
  [ "$rc" != 0 ] && [ "$bad" = 0 ] && bad=1
  count "$ok" "$bad" "$label"
}
if [ -x tests/cluster/run.py ]; then
  say "cluster test (HAProxy + 2 app hosts + PostgreSQL + Redis in network namespaces: faults, rolling deploy)"
  cluster_stage cluster --db single
  say "cluster test on the HA database (Patroni + etcd: the primary killed twice under load through the balancer)"
  cluster_stage cluster-ha --db ha
fi

# make bench's scripts end to end, short (1 s runs, one round, no peers: their figures are no
# measurement): a scenario that no longer starts, or that answers errors, fails here and not in
# the next session that measures. The release worker of the cluster stage's make deploy, if any.
bench_stage() {
  local out rc results
  results=$(mktemp -d /tmp/kiva-bench-short-XXXXXX)
  local kiva=()
  [ -x build-release/kiva ] && kiva=(KIVA="$PWD/build-release/kiva")
  out=$(env "${kiva[@]}" BENCH_SHORT=1 BENCH_PEERS=0 BENCH_RESULTS="$results" \
        timeout -s TERM 900 bench/run.sh 2>&1); rc=$?
  echo "$out" | grep -E '^(bench: (starting|building)|results:|Traceback)|Error|errors [1-9]' | tail -n 20
  [ "$rc" = 0 ] || echo "$out" | tail -n 30
  rm -rf "$results"
  if [ "$rc" = 0 ]; then count 1 0 bench; else count 0 1 bench; fi
}
say "make bench's scripts, short (BENCH_SHORT=1 BENCH_PEERS=0: every section starts and answers without errors)"
bench_stage

elapsed=$(( $(date +%s) - start ))
echo
if [ "$failed" -gt 0 ]; then
  echo "SUMMARY: $passed passed, $failed failed (${failures[*]}) in ${elapsed}s"
  exit 1
fi
echo "SUMMARY: $passed passed, 0 failed in ${elapsed}s"
