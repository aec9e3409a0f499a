"""CPU benchmark of the training path (Isaac Lab Cartpole, kit-less Newton, skrl PPO).

Measures, in one run, each in a fresh process:
- raw env stepping (zero actions) vs training env-steps/s at 512 / 1024 / 2048 envs, and their ratio;
- time to solve Cartpole at 512 envs with task_configs/cartpole.yaml, for several seeds: training seconds until the
  mean episode length of finished training episodes first reaches 95 % of the 300-step maximum (target <= 15 s;
  research baseline 18.6 s, measured on another machine);
- the research baseline's recipe on THIS machine, same seed: Isaac Lab's own agent settings
  (`skrl_direct_ppo_cfg.yaml`, no overrides) and Isaac Lab's eager CPU physics (`performance.cpu_graph: false`), so
  the ratio ours / baseline compares like with like whatever the CPU.

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


BASELINE = {"agent": {"base": "task", "overrides": {}}, "performance": {"cpu_graph": False}}


def _worker_train(num_envs: int, timesteps: int, seed: int | None = None, baseline: bool = False) -> dict:
    from trainer.config import TaskConfig, load_task_config
    from trainer.train import train

    cfg = load_task_config(CONFIG).with_overrides(num_envs=num_envs, timesteps=timesteps or None)  # 0: config's
    data = cfg.model_dump(mode="json")
    if seed is not None:
        data["seed"] = seed
    if baseline:
        data.update(BASELINE)
        data["timesteps"] = max(data["timesteps"], 1600)  # Isaac Lab's settings need more to solve
    cfg = TaskConfig.model_validate(data)
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


def _run_worker(kind: str, num_envs: int, amount: int, seed: int | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--num-envs", str(num_envs), "--amount", str(amount)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
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
    parser.add_argument("--no-solve", action="store_true", help="skip the time-to-solve runs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 1], help="seeds of the time-to-solve runs")
    parser.add_argument("--no-baseline", action="store_true", help="skip the research-baseline recipe run")
    parser.add_argument("--worker", choices=["raw", "train", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--num-envs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--amount", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.worker == "raw":
            result = _worker_raw(args.num_envs, args.amount)
        else:
            result = _worker_train(args.num_envs, args.amount, args.seed, baseline=args.worker == "baseline")
        print(json.dumps(result), flush=True)
        return

    load = os.getloadavg()[0]
    rows = []
    for n in args.envs:
        raw = _run_worker("raw", n, args.raw_steps)
        trained = _run_worker("train", n, args.train_steps)
        rows.append({"num_envs": n, **raw, **trained,
                     "train_over_raw": trained["train_env_steps_per_s"] / raw["raw_env_steps_per_s"]})
    solves = [] if args.no_solve else [{"seed": seed, **_run_worker("train", 512, 0, seed)} for seed in args.seeds]
    baseline = None if args.no_solve or args.no_baseline else _run_worker("baseline", 512, 0, args.seeds[0])

    import torch

    print(f"\nCPU: {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, load average at start {load:.1f}")
    print("\n| envs | raw env-steps/s | training env-steps/s | training / raw |")
    print("|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['num_envs']} | {r['raw_env_steps_per_s']:,.0f} | {r['train_env_steps_per_s']:,.0f} | "
              f"{r['train_over_raw']:.2f} |")
    def verdict(run: dict) -> str:
        solved = run["solved_after_s"]
        if solved is None:
            return f"not solved in {run['train_time_s']:.1f} s"
        return f"{solved:.1f} s at {run['solved_at_env_steps']:,} env-steps ({run['train_env_steps_per_s']:,.0f} env-steps/s)"

    if solves:
        print(f"\ntime to solve, 512 envs (episode length >= {SOLVED_FRACTION:.0%} of {MAX_EPISODE_LENGTH}), "
              "task_configs/cartpole.yaml:")
        for run in solves:
            print(f"  seed {run['seed']}: {verdict(run)}")
        times = [r["solved_after_s"] for r in solves if r["solved_after_s"] is not None]
        if times:
            worst = max(times)
            print(f"  worst {worst:.1f} s: {worst / 15:.2f} x the 15 s target; all seeds solved: {len(times) == len(solves)}")
    if baseline:
        print(f"research baseline recipe (Isaac Lab settings + eager CPU physics), seed {args.seeds[0]}: "
              f"{verdict(baseline)}")
        ours = solves[0]["solved_after_s"]
        if ours and baseline["solved_after_s"]:
            ratio = ours / baseline["solved_after_s"]
            print(f"  ours / baseline (same machine, same seed): {ratio:.2f} (the target 15 s / 18.6 s = 0.81); "
                  f"scaled to the baseline's 18.6 s machine: {18.6 * ratio:.1f} s")
    print(json.dumps({"rows": rows, "solves": solves, "baseline": baseline, "load_average": load}))


if __name__ == "__main__":
    main()
