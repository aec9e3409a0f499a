#!/usr/bin/env bash
# Quick start, step 2 of 2: set everything up, then run the test suite. Exits with pytest's own code
# (5 = no tests collected; .ci/run decides what that means). Extra arguments go to pytest.
#
# The suite runs on pytest-xdist workers, `--dist loadgroup`: TEST_WORKERS of them (default 2 on a machine with 2 or
# more cores, else none: one process). Run alone, the suite mostly waits on trainers, servers and Dagster; two
# workers keep both cores busy. Tests that share an expensive session fixture carry one `xdist_group` and run in
# one worker (tests/conftest.py checks it). Your own -n/--numprocesses, --dist or `-p no:xdist` win.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit $?

parallel=()
own_n=0 own_dist=0 prev=""
for arg in "$@"; do
  case "$arg" in
    -n | -n* | --numprocesses | --numprocesses=*) own_n=1 ;;
    --dist | --dist=*) own_dist=1 ;;
    -pno:xdist) own_n=1 own_dist=1 ;;
  esac
  if [ "$prev" = "-p" ] && [ "$arg" = "no:xdist" ]; then own_n=1 own_dist=1; fi
  prev=$arg
done
if [ "$own_n" -eq 0 ]; then
  cores=$(nproc 2>/dev/null || echo 1)
  parallel+=(-n "${TEST_WORKERS:-$([ "$cores" -ge 2 ] && echo 2 || echo 0)}")
fi
if [ "$own_dist" -eq 0 ]; then
  parallel+=(--dist loadgroup)
fi
.venv/bin/python -m pytest "${parallel[@]}" "$@"
exit $?
