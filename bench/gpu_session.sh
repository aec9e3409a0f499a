#!/usr/bin/env bash
# On the lent GPU machine: assemble the runtime that scripts/gpu_bundle.sh packed, then run one GPU check or bench
# with its results under $OUT. One verb per device call (a call's command is short and runs ≤ 10 min; a warm machine
# keeps /tmp between calls made back to back):
#   stage X            copy the carried chunk .wz/X.d into /tmp/wz (one chunk per call)
#   tests              the CUDA tests (tests/trainer/test_graphs.py, test_lean.py) and every switch of the shipped
#                      GPU configs really on (tests/trainer/test_performance.py, two PPO updates of each)
#   kernels            bench/gpu_kernels.py: tiny kernels eager vs graphed, the PPO mini-batch step variants
#   throughput [ARGS]  bench/gpu_throughput.py: baselines A and B and our trainer in one invocation
#   ant [ARGS]         bench/gpu_ant.py: Isaac-Ant-Direct, Isaac Lab's own CLI vs our trainer (curves, rates)
#   antcurves [ARGS]   bench/gpu_ant_curves.py: both over several seeds, every checkpoint evaluated the same way
#   parity [ARGS]      bench/isaaclab_cli_parity.py: ours vs Isaac Lab's CLI from one seed, checkpoints diffed per update
#   gym [ARGS]         bench/gym_locomotion.py on this machine's CPUs ($GYM_TAG names the result file)
#   env                unpack only (run it once before starting two verbs side by side)
#   profile [ARGS]     bench/gpu_profile.py (default --mode phases --timesteps 320)
#   sweep VARIANT...   bench/gpu_sweep.py, one JSON variant per argument
#   multi N            bench/multi_gpu.py --gpus N
#   chain [TASK]       the product's whole Dagster chain for TASK (default ant_gpu) in region eastus on this GPU:
#                      `python -m robotics_assets quickstart` with config/local_gpu.yaml (train, evaluation
#                      gate, ONNX parity, MLflow registry); needs the orchestrator chunk too (`stage o`)
# Every verb but `stage` first unpacks /tmp/wz into /tmp/site_gpu (once per machine, sha256-checked) and sets
# PYTHONPATH, ROBOTICS_DATA_DIR, the offline asset root and a Warp kernel cache store (TRAINER_KERNEL_CACHE=/tmp/kc,
# seeded from kernel-cache-* files staged with the chunks, copied back to $OUT/kernel-cache-* for the next session:
# `scripts/gpu_bundle.sh DIR` puts those files from DIR into the last chunk).
set -euo pipefail
cd "$(dirname "$0")/.."
verb=${1:?usage: bench/gpu_session.sh stage X | env | tests | kernels | throughput | ant | antcurves | parity | gym | profile | sweep VARIANT... | multi N | chain [TASK]}
shift
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1  # never NVLink multicast here
if [ "$verb" = stage ]; then
  mkdir -p /tmp/wz && cp ".wz/${1:?stage needs a chunk letter}.d/"* /tmp/wz/ && ls -la /tmp/wz
  exit 0
fi

out=${OUT:-/tmp/gpu_out}
mkdir -p "$out"
site=/tmp/site_gpu
# unpack TARBALL SHA256 DEST: a sha256-checked zstd tarball into DEST, byte-compiled, once per machine (DEST/.complete)
unpack() {
  local tarball=$1 expected=$2 dest=$3
  [ -f "$dest/.complete" ] && return 0
  [ "$(sha256sum "$tarball" | cut -d' ' -f1)" = "$expected" ] || return 1
  rm -rf "$dest" && mkdir -p "$dest"
  PYTHONPATH=/tmp/zst python3 - "$tarball" "$dest" <<'EOF'
import sys, tarfile, zstandard
with open(sys.argv[1], "rb") as f, zstandard.ZstdDecompressor(max_window_size=1 << 27).stream_reader(f) as r:
    with tarfile.open(fileobj=r, mode="r|") as tar:
        tar.extractall(sys.argv[2], filter="data")
EOF
  # bytecode now, as pip does when it builds the trainer image: otherwise the first process pays for compiling ~13k
  # modules (12.3 s vs 4.6 s for the trainer's imports on a 2-core CPU) and start-up timings are not the image's.
  # A few files in some packages are templates, not Python: compileall reports them and returns 1; that is expected.
  python3 -m compileall -q -j 0 "$dest" > /dev/null 2>&1 || true
  touch "$dest/.complete"
}
if [ ! -f "$site/.complete" ]; then
  cat $(ls /tmp/wz/? | sort) > /tmp/site.tar.zst
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/zst /tmp/wz/zstandard-*.whl
  unpack /tmp/site.tar.zst "$(cat /tmp/wz/SHA256)" "$site" \
    || { echo "gpu_session: bundle sha256 != $(cat /tmp/wz/SHA256): stage every chunk" >&2; exit 2; }
fi
export PYTHONPATH="$site:$PWD" PYTHONUNBUFFERED=1 ROBOTICS_DATA_DIR=/tmp/rdata
export ISAACSIM_ASSET_ROOT
ISAACSIM_ASSET_ROOT=$(python3 -m trainer assets | tail -n 1)
# The store keeps one cache per task (trainer/kernel_cache.py: <prefix>/<task>/warp/<version>/<key>.tar.gz); a last
# session's files come back flattened as kernel-cache--<task>--<version>--<key>.tar.gz[.sha256]. Files of the older
# flat layout (kernel-cache-<version>-<key>..., one cache for all tasks) seed $KC_SEED_TASKS (default: ant_gpu).
for seed in /tmp/wz/kernel-cache-*; do
  [ -f "$seed" ] || continue
  name=${seed#/tmp/wz/kernel-cache-}
  if [[ $name == -* ]]; then
    rest=${name#-}; task=${rest%%--*}; rest=${rest#*--}; version=${rest%%--*}; file=${rest#*--}
    mkdir -p "/tmp/kc/$task/warp/$version" && cp -n "$seed" "/tmp/kc/$task/warp/$version/$file"
  else
    for task in ${KC_SEED_TASKS:-ant_gpu}; do
      mkdir -p "/tmp/kc/$task/warp/${name%%-*}" && cp -n "$seed" "/tmp/kc/$task/warp/${name%%-*}/${name#*-}"
    done
  fi
done
export TRAINER_KERNEL_CACHE=file:///tmp/kc
nvidia-smi --query-gpu=name,driver_version,pstate,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$out/gpu.txt"

status=0
case "$verb" in
  tests) python3 -m pytest --noconftest -p no:cacheprovider -q tests/trainer/test_graphs.py tests/trainer/test_lean.py \
           "tests/trainer/test_performance.py" -k "not test_every_switch or gpu" 2>&1 | tee "$out/tests.log" \
           || status=$? ;;
  ant) python3 bench/gpu_ant.py --out "$out/ant.json" "$@" || status=$? ;;
  antcurves) python3 bench/gpu_ant_curves.py --out "$out/ant_curves.json" "$@" || status=$? ;;
  parity) python3 bench/isaaclab_cli_parity.py --device cuda:0 --out "$out/parity.json" "$@" || status=$? ;;
  gym) python3 bench/gym_locomotion.py --out "$out/gym_${GYM_TAG:-hopper}.json" "$@" || status=$? ;;
  env) ;;  # unpack and set up only (then verbs can run side by side: a CPU bench next to a GPU one)
  kernels) python3 bench/gpu_kernels.py --out "$out/kernels.json" "$@" || status=$? ;;
  throughput) python3 bench/gpu_throughput.py --num-envs 4096 16384 --skip stock cold --baseline-iterations 50 \
                --raw-steps 300 --out "$out/throughput.json" "$@" || status=$? ;;
  profile) python3 bench/gpu_profile.py --mode phases --timesteps 320 --out "$out/profile.json" "$@" || status=$? ;;
  sweep) variants=(); for v in "$@"; do variants+=(--variant "$v"); done
         python3 bench/gpu_sweep.py --num-envs 4096 "${variants[@]}" | tee "$out/sweep.jsonl" || status=$? ;;
  multi) python3 bench/multi_gpu.py --gpus "${1:?multi needs N}" --out "$out/multi_gpu.json" || status=$? ;;
  chain) orch=/tmp/site_orch
         unpack /tmp/wz/orch.tar.zst "$(cat /tmp/wz/orch.sha256 2>/dev/null)" "$orch" \
           || { echo "gpu_session: stage the orchestrator chunk (stage o)" >&2; exit 2; }
         task=${1:-ant_gpu}
         PYTHONPATH="$PYTHONPATH:$orch" ROBOTICS_SETTINGS=config/local_gpu.yaml \
           python3 -m robotics_assets quickstart --task "$task" --region eastus > "$out/chain.log" 2>&1 || status=$?
         grep -v "dagster - DEBUG" "$out/chain.log" | tail -n 40
         # what the chain wrote: the run's result, the evaluation report and the registry's view of the model
         for name in train_result evaluation export; do  # runs/<task>/<region>/<run>/[evaluation|export/<run>/]
           find "/tmp/rdata/runs/$task" -name "$name.json" -exec cp {} "$out/chain_$name.json" \; -quit
         done ;;
  *) echo "gpu_session: unknown verb $verb" >&2; exit 2 ;;
esac
for object in /tmp/kc/*/warp/*/*; do  # each tarball and its .sha256 sidecar, flattened ($OUT keeps two folders)
  [ -f "$object" ] || continue
  version=$(basename "$(dirname "$object")"); task=$(basename "$(dirname "$(dirname "$(dirname "$object")")")")
  cp "$object" "$out/kernel-cache--$task--$version--$(basename "$object")"
done
exit "$status"
