#!/usr/bin/env bash
# One-time (idempotent) set-up of everything the project needs on a fresh Debian machine:
# Python 3.12 venv with the pinned stack, Azurite (npm), Chromium and PostgreSQL (apt) for the tests.
# Re-running is cheap: each step is skipped when its result is already present and current.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
STAMP="$VENV/.setup-stamp"
want=$(cat pyproject.toml constraints.txt scripts/setup.sh 2>/dev/null | sha256sum | cut -c1-16)

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# --- Python 3.12 (pyenv on these machines; .python-version selects it) ---
PY=""
for cand in python3.12 "$(command -v pyenv >/dev/null && PYENV_VERSION=3.12 pyenv which python 2>/dev/null)"; do
  if [ -n "$cand" ] && "$cand" -c 'import sys; assert sys.version_info[:2]==(3,12)' 2>/dev/null; then PY=$cand; break; fi
done
[ -n "$PY" ] || { echo "setup: Python 3.12 is required (isaaclab 3.0 supports only 3.12); install it (pyenv install 3.12)" >&2; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with $($PY --version)"
  "$PY" -m venv "$VENV"
fi
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  log "installing Python packages (first time: torch is ~1.9 GB, a few minutes)"
  "$VENV/bin/python" -m pip install -q -U "pip>=25"
  # PIP_CONSTRAINT from the machine (a torch cap) is kept; our lock is added on top.
  "$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[trainer,dev]"
  # isaaclab without its heavy extras (see pyproject [trainer] for the runtime set it needs).
  "$VENV/bin/python" -m pip install -q -c constraints.txt --no-deps "isaaclab==3.0.0"
  # hydra (imported by Isaac Lab) needs the ANTLR 4.9 runtime, Dagster's selection grammar 4.13: the venv gets 4.13
  # and the trainer loads 4.9.3 from a side folder (trainer/isaaclab_compat.py). `pip check` reports this on purpose.
  "$VENV/bin/python" -m pip install -q --no-deps --upgrade --target "$VENV/hydra-antlr" "antlr4-python3-runtime==4.9.3"
  "$VENV/bin/python" -m pip install -q --no-deps "antlr4-python3-runtime==4.13.2"
  echo "$want" > "$STAMP"
else
  log "Python packages up to date"
fi

# --- checkov in its own venv: it ships a module named `hcl2` that clashes with python-hcl2 (see NOTES.md) ---
CHECKOV=checkov==3.3.30
if [ ! -f ".venv-checkov/.ready-$CHECKOV" ]; then
  log "installing $CHECKOV into .venv-checkov"
  rm -rf .venv-checkov
  "$PY" -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install -q --disable-pip-version-check -U "pip>=25"
  .venv-checkov/bin/python -m pip install -q --disable-pip-version-check "$CHECKOV"
  touch ".venv-checkov/.ready-$CHECKOV"
fi

# --- Node: Azurite (Blob emulator) pinned; 3.36+ needs Node 21 ---
if [ ! -f node_modules/azurite/dist/src/blob/main.js ]; then
  if command -v npm >/dev/null; then
    log "installing azurite@3.35.0"
    npm install --no-audit --no-fund --silent --no-save azurite@3.35.0 >/dev/null
  else
    log "npm not found: Azurite-backed tests will be skipped"
  fi
fi

# --- Debian packages used by the tests: Chromium (UI test), PostgreSQL (instance test) ---
if [ "${SETUP_SKIP_APT:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
log "ready: $VENV"
