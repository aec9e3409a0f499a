#!/usr/bin/env bash
# Quick start, step 2 of 2: set everything up, then run the test suite. Exits with pytest's own code
# (5 = no tests collected; .ci/run decides what that means). Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit $?
.venv/bin/python -m pytest "$@"
exit $?
