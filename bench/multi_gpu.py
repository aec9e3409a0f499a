"""Multi-GPU scaling of training (skrl distributed, trainer/distributed.py) on Isaac-Cartpole-Direct, ONE invocation.

Trains task_configs/cartpole_gpu.yaml with 4096 envs PER GPU on 1 GPU, then on N GPUs of the same machine (`gpus: N`:
the trainer re-runs itself under torchrun, one rank per GPU), each in its own process through the CLI, and prints
total training env-steps/s (all ranks), time to solve (mean episode length >= 95 % of max in metrics.jsonl, from
bench/gpu_throughput.py's `ours()`) and the scaling ratio N-GPU / 1-GPU (the issue's target: >= 1.8 on 2 GPUs).
A short 1-GPU run first fills the Warp kernel cache, so neither measured run compiles kernels.

  PYTHONPATH=/tmp/site_gpu:$PWD python bench/multi_gpu.py --gpus 2 --out results.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_throughput import ours  # the same measurement as the one-GPU benchmark

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "task_configs" / "cartpole_gpu.yaml"
TARGET_RATIO_2_GPUS = 1.8


def machine() -> dict:
    import torch

    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"], check=False,
                         capture_output=True, text=True).stdout.strip().splitlines()
    return {"gpus_visible": torch.cuda.device_count(), "nvidia_smi": smi, "torch": torch.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpus", type=int, default=2, help="N: GPUs of the multi-GPU run (default 2)")
    parser.add_argument("--num-envs", type=int, default=4096, help="environments PER GPU (default 4096)")
    parser.add_argument("--repeats", type=int, default=1, help="measured runs of each size; the best counts")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()

    info = machine()
    if info["gpus_visible"] < args.gpus:
        raise SystemExit(f"--gpus {args.gpus}: this machine shows {info['gpus_visible']} GPU(s)")
    results: dict = {"machine": info, "config": str(CONFIG.relative_to(ROOT)), "num_envs_per_gpu": args.num_envs,
                     "runs": {}}
    env = {"NCCL_NVLS_ENABLE": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        warm = ours(CONFIG, args.num_envs, work, "warmup", {"timesteps": 64, "checkpoint_interval": 32}, env=env)
        results["warmup_start_to_first_step_s"] = warm["start_to_first_step_s"]
        for gpus in (1, args.gpus):
            runs = [ours(CONFIG, args.num_envs, work, f"gpus{gpus}-r{i}", {"gpus": gpus}, env=env)
                    for i in range(args.repeats)]
            best = max(runs, key=lambda r: r["env_steps_per_s"])
            results["runs"][str(gpus)] = {"gpus": gpus, "total_envs": gpus * args.num_envs, **best,
                                          "all_env_steps_per_s": [r["env_steps_per_s"] for r in runs]}
            print(json.dumps({f"{gpus} GPU(s)": results["runs"][str(gpus)]}, indent=1), flush=True)
    one, many = results["runs"]["1"], results["runs"][str(args.gpus)]
    ratio = many["env_steps_per_s"] / one["env_steps_per_s"]
    results["scaling"] = {
        "env_steps_per_s_ratio": round(ratio, 3),
        "per_gpu_efficiency": round(ratio / args.gpus, 3),
        "time_to_solve_speedup": (round(one["time_to_solve_s"] / many["time_to_solve_s"], 3)
                                  if one["time_to_solve_s"] and many["time_to_solve_s"] else None),
        "target_env_steps_per_s_ratio": round(TARGET_RATIO_2_GPUS * args.gpus / 2, 3),
        "met": ratio >= TARGET_RATIO_2_GPUS * args.gpus / 2,
    }
    text = json.dumps(results, indent=1)
    print(text)
    print(f"{args.gpus} GPUs vs 1: {many['env_steps_per_s']:,.0f} vs {one['env_steps_per_s']:,.0f} env-steps/s "
          f"= {ratio:.2f}x (target >= {results['scaling']['target_env_steps_per_s_ratio']}); time to solve "
          f"{many['time_to_solve_s']} s vs {one['time_to_solve_s']} s")
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
