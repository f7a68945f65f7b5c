#!/bin/bash
# The deployment test, as `make test` runs it (tests/run-all.sh calls this file when it is
# executable): see tests/deploy/e2e.py. Run alone: sudo tests/deploy/run.sh
# (KIVA_DEPLOY_KEEP=1 keeps the target for a look; KIVA_DEPLOY_BUILD_DIR=DIR for the release build).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
exec python3 -u tests/deploy/e2e.py "$@"
