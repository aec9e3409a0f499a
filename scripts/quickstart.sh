#!/usr/bin/env bash
# Quick start, step 1 of 2: set everything up, then materialize the whole chain (task config -> trained policy ->
# evaluation report -> ONNX model -> registry) for the sample Cartpole task in one region, on this machine.
# Usage: scripts/quickstart.sh [--task NAME] [--region NAME]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export ROBOTICS_SETTINGS="${ROBOTICS_SETTINGS:-config/local.yaml}"
exec .venv/bin/python -m robotics_assets quickstart "$@"
