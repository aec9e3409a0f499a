"""CPU benchmark of the training path (Isaac Lab Cartpole, kit-less Newton, skrl PPO).

Measures, in one run, each in a fresh process:
- raw env stepping (zero actions) vs training env-steps/s at 512 / 1024 / 2048 envs, and their ratio;
- time to solve Cartpole at 512 envs with task_configs/cartpole.yaml: training seconds until the mean episode
  length of finished training episodes first reaches 95 % of the 300-step maximum (target <= 15 s; research
  baseline 18.6 s).

    .venv/bin/python bench/cpu_train.py                 # full run (a few minutes on 2 idle cores)
    .venv/bin/python bench/cpu_train.py --envs 512 --train-steps 64   # quick look
Prints a markdown table (paste into docs/benchmarks.md) and a JSON line.
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
sys.path.insert(0, str(ROOT))  # run as a script from any cwd, installed or not
CONFIG = ROOT / "task_configs" / "cartpole.yaml"
SOLVED_FRACTION = 0.95
MAX_EPISODE_LENGTH = 300


def _worker_raw(num_envs: int, steps: int) -> dict:
    import torch

    from trainer.config import load_task_config
    from trainer.envs import make_env

    cfg = load_task_config(CONFIG)
    with make_env(cfg, num_envs=num_envs) as env:
        env.reset()
        actions = torch.zeros((num_envs, env.action_space.shape[0]), device=env.device)
        for _ in range(10):  # first steps compile/warm caches
            env.step(actions)
        t0 = time.perf_counter()
        for _ in range(steps):
            env.step(actions)
        dt = time.perf_counter() - t0
    return {"raw_env_steps_per_s": steps * num_envs / dt}


def _worker_train(num_envs: int, timesteps: int) -> dict:
    from trainer.config import load_task_config
    from trainer.train import train

    cfg = load_task_config(CONFIG).with_overrides(num_envs=num_envs, timesteps=timesteps or None)  # 0: config's
    with tempfile.TemporaryDirectory() as tmp:
        result = train(cfg, Path(tmp) / "run", tracking=False, console=None)
        metrics = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    solved = next(
        (m for m in metrics if (m.get("Episode/Total_timesteps_mean") or 0) >= SOLVED_FRACTION * MAX_EPISODE_LENGTH),
        None,
    )
    return {
        "train_env_steps_per_s": result.env_steps_per_s,
        "train_time_s": result.train_time_s,
        "solved_after_s": solved["wall_s"] if solved else None,
        "solved_at_env_steps": solved["env_steps"] if solved else None,
        "final_mean_episode_length": result.final_mean_episode_length,
    }


def _run_worker(kind: str, num_envs: int, amount: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--num-envs", str(num_envs), "--amount", str(amount)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} worker ({num_envs} envs) failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_s"] = time.perf_counter() - t0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--raw-steps", type=int, default=200, help="env.step calls timed for raw stepping")
    parser.add_argument("--train-steps", type=int, default=160, help="timesteps trained for throughput")
    parser.add_argument("--no-solve", action="store_true", help="skip the time-to-solve run")
    parser.add_argument("--worker", choices=["raw", "train"], help=argparse.SUPPRESS)
    parser.add_argument("--num-envs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--amount", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = (_worker_raw if args.worker == "raw" else _worker_train)(args.num_envs, args.amount)
        print(json.dumps(result), flush=True)
        return

    load = os.getloadavg()[0]
    rows = []
    for n in args.envs:
        raw = _run_worker("raw", n, args.raw_steps)
        trained = _run_worker("train", n, args.train_steps)
        rows.append({"num_envs": n, **raw, **trained,
                     "train_over_raw": trained["train_env_steps_per_s"] / raw["raw_env_steps_per_s"]})
    solve = None if args.no_solve else _run_worker("train", 512, 0)

    import torch

    print(f"\nCPU: {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, load average at start {load:.1f}")
    print("\n| envs | raw env-steps/s | training env-steps/s | training / raw |")
    print("|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['num_envs']} | {r['raw_env_steps_per_s']:,.0f} | {r['train_env_steps_per_s']:,.0f} | "
              f"{r['train_over_raw']:.2f} |")
    if solve:
        solved = solve["solved_after_s"]
        verdict = "not solved" if solved is None else f"{solved:.1f} s ({solved / 15:.2f} x the 15 s target, " \
                  f"{solved / 18.6:.2f} x the 18.6 s baseline) at {solve['solved_at_env_steps']:,} env-steps"
        print(f"\ntime to solve (512 envs, episode length >= {SOLVED_FRACTION:.0%} of {MAX_EPISODE_LENGTH}): {verdict}; "
              f"whole training {solve['train_time_s']:.1f} s, process {solve['process_s']:.1f} s")
    print(json.dumps({"rows": rows, "solve": solve, "load_average": load}))


if __name__ == "__main__":
    main()
