"""Gymnasium MuJoCo locomotion on CPU through the product's trainer, against a published PPO reference.

Each seed runs `python -m trainer train` on the task config (one CPU thread per run: OMP/MKL at 1, as CleanRL's
single-process runs), then `python -m trainer evaluate` (the evaluation gate: mean actions, seeded episodes).
Printed per seed: the training return at every tenth of the run (mean over the episodes that ended in the logged
interval), the final training return (mean of the last 5 % of the logged intervals, comparable to the reference's
"average episodic return" at the end of training) and the gate's deterministic return; then the mean over seeds
and its ratio to the reference.

Reference (CleanRL's ppo_continuous_action.py, gymnasium MuJoCo v4, 1M env-steps, 3 seeds; docs.cleanrl.dev,
rl-algorithms/ppo, "MuJoCo v4" table, openrlbenchmark tag pr-424): Hopper-v4 2382.86 ± 271.74, HalfCheetah-v4
1442.64 ± 46.03. Gymnasium's v5 tasks keep v4's dynamics and rewards (gymnasium 1.x MuJoCo docs, version history).

  python bench/gym_locomotion.py --config task_configs/hopper.yaml --seeds 42 43 44 --out hopper.json
  python bench/gym_locomotion.py --config task_configs/hopper.yaml --task gymnasium:HalfCheetah-v5 --seeds 42
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = {  # task id -> (mean, std, source)
    "Hopper-v5": (2382.86, 271.74, "CleanRL ppo_continuous_action, Hopper-v4, 1M steps, 3 seeds"),
    "HalfCheetah-v5": (1442.64, 46.03, "CleanRL ppo_continuous_action, HalfCheetah-v4, 1M steps, 3 seeds"),
}
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def one_seed(config: Path, seed: int, work: Path, timeout: int) -> dict:
    data = yaml.safe_load(config.read_text())
    data["seed"] = seed
    run_cfg = work / f"seed{seed}" / config.name  # the file name is the task name
    run_cfg.parent.mkdir()
    run_cfg.write_text(yaml.safe_dump(data, sort_keys=False))
    run_dir, eval_dir = run_cfg.parent / "run", run_cfg.parent / "eval"
    env = {**os.environ, **ONE_THREAD}
    t0 = time.monotonic()
    train = subprocess.run([sys.executable, "-m", "trainer", "train", "--config", str(run_cfg), "--run-dir",
                            str(run_dir), "--no-tracking"], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=timeout, check=False)
    wall = time.monotonic() - t0
    if train.returncode:
        return {"seed": seed, "error": (train.stdout + train.stderr)[-3000:]}
    result = json.loads((run_dir / "train_result.json").read_text())
    metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    points = [(m["timestep"] * data["num_envs"], m.get("Reward/Total_reward_mean")) for m in metrics]
    points = [(s, r) for s, r in points if r is not None]
    tail = points[-max(1, len(points) // 20):]
    evaluate = subprocess.run([sys.executable, "-m", "trainer", "evaluate", "--config", str(run_cfg), "--run-dir",
                               str(run_dir), "--out", str(eval_dir)], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=timeout, check=False)
    report = json.loads((eval_dir / "evaluation.json").read_text()) if (eval_dir / "evaluation.json").is_file() else {}
    tenth = max(1, len(points) // 10)
    return {
        "seed": seed,
        "env_steps": points[-1][0] if points else 0,
        "env_steps_per_s": result.get("env_steps_per_s"),
        "process_wall_s": round(wall, 1),
        "curve": [[s, round(r, 1)] for s, r in points[tenth - 1::tenth]],
        "final_train_return": round(statistics.fmean(r for _, r in tail), 1),
        "gate": {k: report.get(k) for k in ("passed", "mean_return", "mean_episode_length", "episodes")},
        "evaluate_exit": evaluate.returncode,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "task_configs" / "hopper.yaml")
    parser.add_argument("--task", help="another gymnasium task on the same settings, e.g. gymnasium:HalfCheetah-v5")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--parallel", type=int, default=0, help="seeds at a time (default: all)")
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    config = args.config.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.task:  # same settings, another task: a config of its own name
            data = yaml.safe_load(config.read_text())
            name = args.task.split(":")[1].split("-")[0].lower()
            data.update(task=args.task, name=name, description=f"{args.task} on {config.name}'s settings")
            config = work / f"{name}.yaml"
            config.write_text(yaml.safe_dump(data, sort_keys=False))
        task_id = yaml.safe_load(config.read_text())["task"].split(":")[1]
        with ThreadPoolExecutor(args.parallel or len(args.seeds)) as pool:
            runs = list(pool.map(lambda s: one_seed(config, s, work, args.timeout), args.seeds))
    ok = [r for r in runs if "final_train_return" in r]
    results = {"task": task_id, "config": str(args.config), "runs": runs, "cpu": os.cpu_count()}
    if ok:
        mean = statistics.fmean(r["final_train_return"] for r in ok)
        gate = [r["gate"]["mean_return"] for r in ok if r["gate"].get("mean_return") is not None]
        results["final_train_return_mean"] = round(mean, 1)
        results["gate_return_mean"] = round(statistics.fmean(gate), 1) if gate else None
        if task_id in REFERENCE:
            ref, std, source = REFERENCE[task_id]
            results["reference"] = {"mean": ref, "std": std, "source": source}
            results["ratio_to_reference"] = round(mean / ref, 3)
    for run in runs:
        print(json.dumps(run), flush=True)
    print(json.dumps({k: v for k, v in results.items() if k != "runs"}), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
