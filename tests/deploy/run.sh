#!/bin/bash
# The deployment test, as `make test` runs it (tests/run-all.sh calls this file when it is
# executable): see tests/deploy/e2e.py. Run alone: sudo tests/deploy/run.sh
# (KIVA_DEPLOY_KEEP=1 keeps the target for a look; KIVA_DEPLOY_BUILD_DIR=DIR for the release build).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# The target is machine-wide (the user kiva-e2e, /home/kiva-e2e): two runs at once, from two
# checkouts, would tear down each other's target, so they take turns on one lock, which
# e2e.py takes itself (/run/lock/kiva-deploy-test.lock; /var/lock is the same directory on
# Debian: a flock here as well would wait for itself forever).
exec python3 -u tests/deploy/e2e.py "$@"
