#!/bin/bash
# make bench: builds a release worker and the hand-written responder, then runs bench/bench.py
# (stack, wrk rounds, cold start, table, bench/results/<timestamp>.json). See bench/README.md.
# Environment: BUILD_BENCH (build-bench), BENCH_DURATION (10s), BENCH_CONNECTIONS (16),
# BENCH_WARMUP (1s, 0 skips), BENCH_NOCACHE_DURATION (5s), BENCH_COLD_RUNS (20), BENCH_KEEP=1
# keeps the state directory and its logs, KIVA, RESPONDER and HELLO use prebuilt binaries,
# BENCH_APACHE=0 leaves the Apache scenarios out, BENCH_ONLY=apache runs them alone (make
# bench-apache), BENCH_FCGID_PROCESSES (24) sizes mod_fcgid, BENCH_SHORT=1 a quick end-to-end
# check (1 s runs, one round, short sweeps), BENCH_ROUNDS (2), BENCH_PEERS=0 leaves the peers and
# sweeps out, BENCH_SWEEP_DURATION (5s), NGINX_FASTCGI_KEEPALIVE=N persistent nginx-to-worker
# connections (an experiment: give THREADS above what nginx can pin), BENCH_ONLY=rest the nginx
# section with issues 21/22's rows alone (no Apache, peers, keep_conn), BENCH_ONLY=jobs the jobs
# rows alone (no scenario, cold start or ETag row), BENCH_REST=0 without them,
# BENCH_JOBS_THREADS (4), BENCH_JOBS_LATENCY (100 jobs), BENCH_JOBS_DRAIN_FILL (2s), JOBS_LOOP,
# ETAG_COST and PG_WAKEUP prebuilt binaries.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_BENCH:-$root/build-bench}
jobs=$(nproc)

if [ -z "${KIVA:-}" ]; then
  echo "bench: building the release worker in $build" >&2
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DKIVA_TESTS=OFF >/dev/null
  cmake --build "$build" -j "$jobs" --target kiva kiva-pass2csv >/dev/null
  export KIVA=$build/kiva
fi
if [ -z "${RESPONDER:-}" ]; then
  mkdir -p "$build"
  # shellcheck disable=SC2046  # pkg-config's flags are meant to be split
  g++ -std=c++20 -O2 -Wall -Wextra -Werror -o "$build/kiva-bench-responder" "$root/bench/responder.cpp" \
    $(pkg-config --cflags --libs fcgi libpq) -lpthread
  export RESPONDER=$build/kiva-bench-responder
fi
if [ -z "${HELLO:-}" ]; then
  g++ -std=c++20 -O2 -Wall -Wextra -Werror -o "$build/kiva-bench-hello" "$root/bench/hello.cpp" \
    $(pkg-config --cflags --libs fcgi) -lpthread
  export HELLO=$build/kiva-bench-hello
fi
# Issues 21/22's rows (bench/rest.py): the bare SKIP LOCKED jobs loop, and the ETag digest timed alone.
mkdir -p "$build"
if [ -z "${JOBS_LOOP:-}" ]; then
  # shellcheck disable=SC2046  # pkg-config's flags are meant to be split
  g++ -std=c++20 -O2 -Wall -Wextra -Werror -o "$build/kiva-bench-jobs-loop" "$root/bench/jobs-loop.cpp" \
    $(pkg-config --cflags --libs libpq) -lpthread
  export JOBS_LOOP=$build/kiva-bench-jobs-loop
fi
if [ -z "${ETAG_COST:-}" ]; then
  g++ -std=c++20 -O2 -Wall -Wextra -Werror -I "$root/framework" -o "$build/kiva-bench-etag-cost" \
    "$root/bench/etag-cost.cpp" "$root/framework/kiva/http/etag.cpp" -lcrypto
  export ETAG_COST=$build/kiva-bench-etag-cost
fi
if [ "${BENCH_PEERS:-1}" != 0 ] && [ "${BENCH_ONLY:-}" != apache ] && [ "${BENCH_ONLY:-}" != rest ] \
   && [ "${BENCH_ONLY:-}" != jobs ]; then
  "$root/bench/peers/build.sh" "${PEERS_DIR:-$build/peers}"
  if [ -z "${PG_WAKEUP:-}" ]; then
    # shellcheck disable=SC2046  # pkg-config's flags are meant to be split
    g++ -std=c++20 -O2 -Wall -Wextra -Werror -o "$build/kiva-bench-pg-wakeup" "$root/bench/pg-wakeup.cpp" \
      $(pkg-config --cflags --libs libpq)
    export PG_WAKEUP=$build/kiva-bench-pg-wakeup
  fi
fi
exec python3 "$root/bench/bench.py"
