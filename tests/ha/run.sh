#!/bin/bash
# The HA database test (make test's "ha" stage): builds the Patroni cluster of
# deploy/ha/db-cluster.sh in this session's namespaces (prefix kh-, 10.78.1.0/24), runs
# tests/ha/failover.py against it with kiva from BUILD (default build), removes everything.
# One multi-host topology at a time on a machine: the flock waits for another one to end
# (-o: the cluster's daemons do not inherit the lock).
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
export HA_PREFIX=${HA_PREFIX:-kh-} HA_NET=${HA_NET:-10.78.1}
exec flock -o -w 1200 /run/lock/kiva-topology.lock bash -c '
  trap "deploy/ha/db-cluster.sh down" EXIT
  start=$(date +%s)
  deploy/ha/db-cluster.sh up || { echo "ha: 0 passed, 1 failed (the cluster did not come up)"; exit 1; }
  echo "cluster up in $(( $(date +%s) - start )) s"
  timeout 600 python3 tests/ha/failover.py --build "$0"
' "$build"
