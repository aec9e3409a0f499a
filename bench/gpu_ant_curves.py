"""Isaac-Ant-Direct learning curves, ours vs Isaac Lab's own CLI, over several seeds, measured the same way.

Why: the training curves the two print are different statistics. skrl's (Isaac Lab's CLI) is the mean of the last
100 finished episodes at each logged step; ours (trainer/lean.py) is the mean over every episode that ended in the
write interval. While the ant goes from standing to walking the two disagree by more than the seeds do. So this
bench trains both (same offline asset, same agent YAML, same update count, checkpoints every `--checkpoint-every`
updates) and then evaluates every checkpoint of every run with ONE evaluator: the same Isaac Lab env (torch
runtime, `--eval-envs` envs, fixed seed), mean actions, the first episode of every env (trainer/evaluate.py's
`run_episodes`, what the evaluation gate uses).

  python bench/gpu_ant_curves.py --seeds 42 43 44 45 --updates 300 --parallel 4 --out ant_curves.json

Runs train `--parallel` at a time on the one GPU, so their env-steps/s are not reported here (bench/gpu_ant.py
measures rates one run at a time). Prints, per checkpoint update, mean ± std over seeds of both and their difference.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TASK = "Isaac-Ant-Direct"
CONFIG = ROOT / "task_configs" / "ant_gpu.yaml"
ROLLOUTS = 16  # Isaac Lab's Ant skrl config (ours: base: task)


def _run(cmd: list, cwd: Path, log: Path, timeout: int) -> int:
    with log.open("w") as out:
        proc = subprocess.run([str(c) for c in cmd], check=False, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                              timeout=timeout, env={**os.environ})
    return proc.returncode


def write_config(work: Path, name: str, *, seed: int, updates: int, every: int, frontend: str, num_envs: int,
                 device: str) -> Path:
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg.update(name=name, num_envs=num_envs, timesteps=updates * ROLLOUTS, checkpoint_interval=every * ROLLOUTS,
               seed=seed, device=device)
    cfg.setdefault("performance", {})["env_frontend"] = frontend
    path = work / f"{name}.yaml"  # the file name is the task name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def train_ours(work: Path, seed: int, args: argparse.Namespace) -> dict:
    (work / f"ours-{seed}").mkdir()
    # every run is the task `ant_gpu` (the file name), so all share its Warp kernel cache in the store
    path = write_config(work / f"ours-{seed}", "ant_gpu", seed=seed, updates=args.updates, every=args.checkpoint_every,
                        frontend=args.frontend, num_envs=args.num_envs, device=args.device)
    run_dir = work / f"run-ours-{seed}"
    code = _run([sys.executable, "-m", "trainer", "train", "--config", path, "--run-dir", run_dir, "--no-tracking"],
                ROOT, work / f"ours-{seed}.log", args.timeout)
    ckpts = sorted(run_dir.glob("checkpoints/agent_*.pt"))
    return {"who": "ours", "seed": seed, "exit": code, "checkpoints": [str(p) for p in ckpts],
            "log": str(work / f"ours-{seed}.log")}


# Isaac Lab's CLI builds skrl's env wrapper before skrl's Runner seeds anything, so the wrapper keeps skrl's default
# key 0 and the first reset re-seeds torch, numpy and Warp with 0 whatever --seed says (train_skrl.py: wrapper, then
# Runner; skrl's IsaacLabWrapper: `self._seed = config.torch.key`): its runs then differ only in their initial
# weights (same initial states, same action noise), and their spread understates the seed-to-seed spread.
# `--isaaclab-seeds independent` seeds skrl first, so the wrapper resets with --seed, as our trainer does.
_SEEDED_CLI = "import sys; from skrl.utils import set_seed; set_seed(int(sys.argv[1])); " \
              "from isaaclab.cli import train; train(sys.argv[2:])"


def train_isaaclab(work: Path, seed: int, args: argparse.Namespace) -> dict:
    cwd = work / f"isaaclab-{seed}"
    cwd.mkdir()
    cli = [sys.executable, "-m", "isaaclab", "train"]
    if args.isaaclab_seeds == "independent":
        cli = [sys.executable, "-c", _SEEDED_CLI, seed]
    code = _run([*cli, "--rl_library", "skrl", "--task", TASK, "--num_envs",
                 args.num_envs, "--max_iterations", args.updates, "--device", args.device, "--frontend", "torch",
                 "--seed", seed], cwd, work / f"isaaclab-{seed}.log", args.timeout)
    ckpts = sorted(cwd.glob("logs/skrl/**/checkpoints/agent_*.pt"))
    return {"who": "isaaclab", "seed": seed, "exit": code, "checkpoints": [str(p) for p in ckpts],
            "log": str(work / f"isaaclab-{seed}.log")}


def evaluate_run(run: dict, eval_config: Path, args: argparse.Namespace) -> dict:
    """One process per run: the evaluator builds its env once and restores each checkpoint into it."""
    out = Path(run["log"]).with_suffix(".eval.json")
    code = _run([sys.executable, __file__, "--evaluate", json.dumps(run), "--eval-config", eval_config,
                 "--eval-envs", args.eval_envs, "--eval-seed", args.eval_seed, "--eval-out", out],
                ROOT, Path(run["log"]).with_suffix(".eval.log"), args.timeout)
    if code or not out.is_file():
        return {**run, "eval_exit": code, "eval_log_tail": Path(run["log"]).with_suffix(".eval.log").read_text()[-2000:]}
    return {**run, "points": json.loads(out.read_text())}


def evaluator(run: dict, eval_config: Path, num_envs: int, seed: int, out: Path) -> None:
    import numpy as np
    import torch

    from trainer.config import load_task_config
    from trainer.envs import make_env
    from trainer.evaluate import run_episodes
    from trainer.files import sha256_file
    from trainer.trained_run import restore_policy

    cfg = load_task_config(eval_config)
    # skrl's own checkpoints (Isaac Lab's CLI) keep numpy scalars next to the tensors; allow exactly those
    core = getattr(np, "_core", None) or np.core  # numpy 2 / 1
    torch.serialization.add_safe_globals([core.multiarray.scalar, np.dtype, np.dtypes.Float64DType])
    points = []
    with make_env(cfg, num_envs=num_envs, seed=seed) as env, tempfile.TemporaryDirectory() as scratch:
        agent_run = Path(scratch)  # no agent.yaml: restore_policy builds the task's own agent (both runs train it)
        max_length = int(env.unwrapped.max_episode_length)
        for ckpt in run["checkpoints"]:
            step = int(Path(ckpt).stem.split("_")[1])
            policy = restore_policy(env, cfg, agent_run, Path(ckpt), sha256_file(Path(ckpt)), seed=seed)
            # the reset too in inference mode: the last checkpoint's episodes left inference tensors in the env
            with torch.inference_mode():
                returns, lengths = run_episodes(env, policy.agent, max_length)
            points.append({"update": step // ROLLOUTS, "return": statistics.fmean(returns),
                           "length": statistics.fmean(lengths)})
            print(json.dumps(points[-1]), flush=True)
    out.write_text(json.dumps(points))


def table(runs: list[dict]) -> list[dict]:
    by = {}
    for run in runs:
        for p in run.get("points", []):
            by.setdefault(p["update"], {}).setdefault(run["who"], []).append(p["return"])
    rows = []
    for update in sorted(by):
        row = {"update": update}
        for who in ("ours", "isaaclab"):
            vals = by[update].get(who, [])
            row[who] = [round(v, 2) for v in vals]
            row[f"{who}_mean"] = round(statistics.fmean(vals), 2) if vals else None
            row[f"{who}_std"] = round(statistics.stdev(vals), 2) if len(vals) > 1 else None
        if row["ours_mean"] is not None and row["isaaclab_mean"] is not None:
            row["diff"] = round(row["ours_mean"] - row["isaaclab_mean"], 2)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44, 45])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--checkpoint-every", type=int, default=30,
                        help="updates between checkpoints (Isaac Lab's CLI: 'auto' = a tenth of the run)")
    parser.add_argument("--num-envs", type=int, default=4096)
    parser.add_argument("--frontend", default="warp", choices=["torch", "warp"], help="ours' env runtime (shipped: warp)")
    parser.add_argument("--parallel", type=int, default=4, help="trainings at a time on the GPU")
    parser.add_argument("--skip", nargs="*", default=[], choices=["isaaclab", "ours"])
    parser.add_argument("--device", default="cuda:0", help="cpu: a dry run of this script")
    parser.add_argument("--isaaclab-seeds", choices=["cli", "independent"], default="cli",
                        help="cli: Isaac Lab's CLI as users run it (its first reset seeds everything with 0); "
                             "independent: its wrapper resets with --seed (see _SEEDED_CLI)")
    parser.add_argument("--eval-envs", type=int, default=1024)
    parser.add_argument("--eval-seed", type=int, default=1000)
    parser.add_argument("--timeout", type=int, default=540)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--evaluate", help=argparse.SUPPRESS)
    parser.add_argument("--eval-config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--eval-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.evaluate:
        evaluator(json.loads(args.evaluate), args.eval_config, args.eval_envs, args.eval_seed, args.eval_out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        eval_config = write_config(work, "ant_eval", seed=args.eval_seed, updates=args.updates,
                                   every=args.checkpoint_every, frontend="torch", num_envs=args.eval_envs,
                                   device=args.device)
        jobs = [(fn, s) for s in args.seeds for who, fn in (("ours", train_ours), ("isaaclab", train_isaaclab))
                if who not in args.skip]
        # the first seed's pair alone: it fills the Warp kernel caches (ours' store, Isaac Lab's default folder)
        # that the other runs then load instead of each compiling the same kernels at once
        first = [job for job in jobs if job[1] == args.seeds[0]]
        runs = []
        for wave in (first, [job for job in jobs if job not in first]):
            with ThreadPoolExecutor(args.parallel) as pool:
                runs += list(pool.map(lambda job: job[0](work, job[1], args), wave))
            if args.out:
                args.out.write_text(json.dumps({"trained": [{k: v for k, v in r.items() if k != "checkpoints"}
                                                            | {"n": len(r["checkpoints"])} for r in runs]}))
        for run in runs:
            print(json.dumps({k: v for k, v in run.items() if k != "checkpoints"} | {"n": len(run["checkpoints"])}),
                  flush=True)
        with ThreadPoolExecutor(args.parallel) as pool:
            runs = list(pool.map(lambda run: evaluate_run(run, eval_config, args), runs))
        for run in runs:
            if "points" not in run:
                print(f"evaluation failed for {run['who']} seed {run['seed']}: {run.get('eval_log_tail')}", flush=True)
        results = {"task": TASK, "updates": args.updates, "num_envs": args.num_envs, "frontend": args.frontend,
                   "isaaclab_seeds": args.isaaclab_seeds,
                   "eval": {"envs": args.eval_envs, "seed": args.eval_seed, "frontend": "torch"},
                   "runs": [{k: v for k, v in r.items() if k not in ("checkpoints", "log")} for r in runs],
                   "table": table(runs)}
        import torch

        results["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
        for row in results["table"]:
            print(json.dumps(row), flush=True)
        if args.out:
            args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
