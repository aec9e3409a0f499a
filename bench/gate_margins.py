"""Does a test training pass its evaluation gate on any CPU? Train + evaluate one config under each of torch's CPU
kernel sets and several seeds, and print each evaluation's margin over the gate.

Why: CPU training is bit-deterministic on one machine but not across instruction sets (AVX-512 vs AVX2 vs the
portable kernels give different float sums), so a short training that passes its gate here can fail it on a CI
machine of another CPU. torch's `ATEN_CPU_CAPABILITY` (and MKL's `MKL_ENABLE_INSTRUCTIONS`) select the kernel set a
process uses, which lets one machine emulate the others for torch's part of the arithmetic.

    .venv/bin/python bench/gate_margins.py                                   # tests' Cartpole config, 3 x 3
    .venv/bin/python bench/gate_margins.py --config task_configs/cartpole.yaml --seeds 42
    .venv/bin/python bench/gate_margins.py --random                          # the gate must refuse a random policy

Prints one markdown row per (kernel set, seed) and a summary line with the smallest margin (paste into
docs/benchmarks.md). The kernel sets this CPU cannot run are skipped (torch falls back and says so).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "tests" / "assets" / "task_configs" / "cartpole.yaml"
# torch kernel set -> the matching MKL instruction cap (MKL's names)
CAPABILITIES = {"default": "SSE4_2", "avx2": "AVX2", "avx512": "AVX512"}


def _trainer(args: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "trainer", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"trainer {args[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def _criteria(config: Path) -> dict[str, float]:
    import yaml

    success = yaml.safe_load(config.read_text()).get("success") or {}
    return {k.removeprefix("min_"): float(v) for k, v in success.items() if k.startswith("min_")}


def run_one(config: Path, capability: str, seed: int, work: Path, random_policy: bool) -> dict:
    env = {**os.environ, "ATEN_CPU_CAPABILITY": capability, "MKL_ENABLE_INSTRUCTIONS": CAPABILITIES[capability],
           "ROBOTICS_DATA_DIR": str(ROOT / ".data")}
    run_dir, out = work / f"{capability}-{seed}", work / f"{capability}-{seed}-eval"
    t0 = time.perf_counter()
    # an (almost) untrained policy: one rollout and one PPO update (16 steps per env), the smallest run that
    # writes a checkpoint
    timesteps = ["--timesteps", "16"] if random_policy else []
    _trainer(["train", "--config", str(config), "--run-dir", str(run_dir), "--seed", str(seed), "--no-tracking",
              *timesteps], env)
    train_s = time.perf_counter() - t0
    _trainer(["evaluate", "--config", str(config), "--run-dir", str(run_dir), "--out", str(out)], env)
    result = json.loads((out / "evaluation.json").read_text())
    return {"capability": capability, "seed": seed, "train_s": round(train_s, 1),
            "mean_episode_length": result["mean_episode_length"], "mean_return": result["mean_return"],
            "passed": result["passed"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--capabilities", default=",".join(CAPABILITIES), help="comma-separated: default,avx2,avx512")
    parser.add_argument("--seeds", default="42,1,7", help="comma-separated seeds")
    parser.add_argument("--random", action="store_true", help="evaluate a policy after one PPO update (must fail the gate)")
    args = parser.parse_args()
    criteria = _criteria(args.config)
    rows = []
    print(f"config: {args.config.relative_to(ROOT) if args.config.is_relative_to(ROOT) else args.config}; "
          f"gate: {criteria}")
    print("| kernel set | seed | train s | mean episode length | mean return | margin (worst criterion) | passed |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="gate-margins-") as tmp:
        for capability in args.capabilities.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                row = run_one(args.config, capability, seed, Path(tmp), args.random)
                # margin: how far above its threshold the worst criterion lands, as a fraction of the threshold
                margins = {k: (row[k] - v) / abs(v) for k, v in criteria.items() if k in row}
                row["margin"] = round(min(margins.values()), 3) if margins else None
                rows.append(row)
                print(f"| {capability} | {seed} | {row['train_s']} | {row['mean_episode_length']:.1f} | "
                      f"{row['mean_return']:.3f} | {row['margin']:+.0%} | {row['passed']} |", flush=True)
    worst = min(rows, key=lambda r: r["margin"])
    print(json.dumps({"config": str(args.config), "random": args.random, "runs": len(rows),
                      "all_passed": all(r["passed"] for r in rows), "smallest_margin": worst["margin"],
                      "worst": {k: worst[k] for k in ("capability", "seed")}}))


if __name__ == "__main__":
    main()
