"""GPU training throughput on Isaac-Cartpole-Direct, measured in ONE invocation on one GPU machine.

Runs, each in its own process so nothing is shared but the Warp kernel cache:
  raw        baseline B: raw environment stepping with zero actions (the simulator's ceiling), per Isaac Lab env
             runtime (`--frontends`: the stable 'torch' env and the 'warp' twin); ours is compared with the one it
             trains on (task_configs/cartpole_gpu.yaml `performance.env_frontend`) and with each
  isaaclab   baseline A: Isaac Lab 3.0's own `python -m isaaclab train --rl_library skrl` (default runtime; also
             with `--frontend warp` when listed in `--frontends`)
  stock      our trainer with skrl's stock PPO loop (`performance.lean: false`)
  nographs   our trainer as shipped but `performance.cuda_graphs: false` (what the CLI ran before the switch was
             wired into trainer/train.py)
  ours       our trainer as shipped for GPUs (task_configs/cartpole_gpu.yaml)
and prints env-steps/s, time to solve (mean episode length >= 95 % of max, from metrics.jsonl) and the ratios the
GPU-throughput issue sets targets for. Also times a cold and a warm start (Warp kernel cache empty vs filled) to the
first training step.

  python bench/gpu_throughput.py --num-envs 4096 16384 --out results.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TASK = "Isaac-Cartpole-Direct"
MAX_EPISODE_LENGTH = 300


def _run(cmd: list[str], env: dict | None = None, timeout: int = 900) -> tuple[str, float]:
    t0 = time.monotonic()
    proc = subprocess.run(cmd, check=False, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}")
    return proc.stdout + proc.stderr, wall


def raw_stepping(num_envs: int, steps: int, frontend: str) -> float:
    """Baseline B, in this process: env-steps/s of zero-action stepping after warm-up."""
    import torch

    from trainer.config import load_task_config
    from trainer.envs import make_env

    cfg = load_task_config(ROOT / "task_configs" / "cartpole_gpu.yaml")
    cfg.performance.env_frontend = frontend
    with make_env(cfg, num_envs=num_envs) as env:
        env.reset()
        actions = torch.zeros((num_envs, env.action_space.shape[0]), device=env.device)
        for _ in range(20):
            env.step(actions)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(steps):
            env.step(actions)
        torch.cuda.synchronize()
        return steps * num_envs / (time.perf_counter() - t0)


def baseline_a(num_envs: int, iterations: int, frontend: str = "torch") -> dict:
    """Isaac Lab's own skrl training CLI; its 'Training time' covers runner.run() (plus wrapper/agent build)."""
    out, wall = _run([sys.executable, "-m", "isaaclab", "train", "--rl_library", "skrl", "--task", TASK,
                      "--num_envs", str(num_envs), "--max_iterations", str(iterations), "--frontend", frontend])
    match = re.search(r"Training time: ([0-9.]+) seconds", out)
    if not match:
        raise SystemExit("baseline A printed no 'Training time'")
    seconds = float(match.group(1))
    steps = iterations * 32 * num_envs  # Isaac Lab's cartpole skrl config: 32 rollouts per iteration
    return {"env_steps_per_s": steps / seconds, "train_s": seconds, "process_wall_s": wall}


def ours(config: Path, num_envs: int, workdir: Path, label: str, overrides: dict | None = None,
         env: dict | None = None) -> dict:
    cfg = yaml.safe_load(config.read_text())
    cfg["num_envs"] = num_envs
    for key, value in (overrides or {}).items():
        cfg[key] = value
    cfg_path = workdir / f"{label}-{num_envs}.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    run_dir = workdir / f"run-{label}-{num_envs}"
    t0 = time.monotonic()
    out, wall = _run([sys.executable, "-m", "trainer", "train", "--config", str(cfg_path), "--run-dir",
                      str(run_dir), "--no-tracking"], env=env)
    result = json.loads((run_dir / "train_result.json").read_text())
    curve = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    solved = next((p for p in curve
                   if (p.get("Episode/Total_timesteps_mean") or 0) >= 0.95 * MAX_EPISODE_LENGTH), None)
    first = re.search(r"first training step after ([0-9.]+) s", out)
    return {
        "env_steps_per_s": result["env_steps_per_s"],
        "train_s": result["train_time_s"],
        "process_wall_s": round(wall, 1),
        "time_to_solve_s": solved["wall_s"] if solved else None,
        "env_steps_to_solve": solved["env_steps"] if solved else None,
        "final_mean_episode_length": result.get("final_mean_episode_length"),
        "performance": result.get("performance"),
        "start_to_first_step_s": float(first.group(1)) if first else None,
        "since_launch_s": round(time.monotonic() - t0, 1),
        # per metrics point: [env-steps, wall s, PPO update ms, mean episode length]; shows whether an iteration's
        # cost changes as the policy learns (the sweep's 16x4x2 row trained slower than 16x8x4, docs/benchmarks.md)
        "timeline": [[p.get("env_steps"), p.get("wall_s"), _round(p.get("Stats/Algorithm_update_time_ms")),
                      _round(p.get("Episode/Total_timesteps_mean"))] for p in curve],
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-envs", type=int, nargs="+", default=[4096, 16384])
    parser.add_argument("--baseline-iterations", type=int, default=100)
    parser.add_argument("--raw-steps", type=int, default=500)
    parser.add_argument("--skip", nargs="*", default=[], choices=["raw", "isaaclab", "stock", "nographs", "cold"])
    parser.add_argument("--kernel-cache", metavar="URI",
                        help="first, start once restoring the Warp kernel cache from this store prefix into the "
                             "(empty) default cache, and time it to the first training step")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--frontends", nargs="+", default=["torch", "warp"], choices=["torch", "warp"],
                        help="Isaac Lab env runtimes to measure raw stepping with at 4096 envs (other sizes: the "
                             "shipped config's runtime only)")
    parser.add_argument("--baseline-frontends", nargs="+", default=["torch"], choices=["torch", "warp"],
                        help="runtimes to run the Isaac Lab CLI with (baseline A proper is the default 'torch')")
    parser.add_argument("--_raw", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--_frontend", default="torch", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._raw:
        print(json.dumps({"raw": raw_stepping(args._raw, args.raw_steps, args._frontend)}))
        return

    import torch

    info = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
            "driver": subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                     check=False, capture_output=True, text=True).stdout.strip()}
    results: dict = {"machine": info, "runs": {}}
    config = ROOT / "task_configs" / "cartpole_gpu.yaml"
    shipped_frontend = yaml.safe_load(config.read_text()).get("performance", {}).get("env_frontend", "torch")
    results["shipped_env_frontend"] = shipped_frontend
    from trainer.kernel_cache import cache_files, configure

    # one Warp cache for every process, Isaac Lab's CLI included: the trainer's per-device folder
    local_cache = configure("cuda")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.kernel_cache:
            short = {"timesteps": 64, "checkpoint_interval": 32}
            empty = not cache_files(local_cache)
            results["restored_start"] = {"local_cache_was_empty": empty, **ours(
                config, 4096, work, "restored", short, env={"TRAINER_KERNEL_CACHE": args.kernel_cache})}
            print(json.dumps({"restored_start": results["restored_start"]}), flush=True)
        if "cold" not in args.skip:  # a cold Warp cache, then the same start warm
            cold_cache = work / "warp-cold"
            short = {"timesteps": 64, "checkpoint_interval": 32}
            results["cold_start"] = ours(config, 4096, work, "cold", short, env={"WARP_CACHE_PATH": str(cold_cache)})
            results["warm_start"] = ours(config, 4096, work, "warm", short, env={"WARP_CACHE_PATH": str(cold_cache)})
            shutil.rmtree(cold_cache, ignore_errors=True)
        for n in args.num_envs:
            run: dict = {}
            if "raw" not in args.skip:
                run["raw_by_frontend"] = {}
                for frontend in sorted(set(args.frontends if n == 4096 else []) | {shipped_frontend}):
                    out, _ = _run([sys.executable, __file__, "--_raw", str(n), "--raw-steps", str(args.raw_steps),
                                   "--_frontend", frontend])
                    line = next(x for x in out.splitlines() if x.startswith('{"raw"'))  # the simulator logs around
                    run["raw_by_frontend"][frontend] = json.loads(line)["raw"]
                run["raw_env_steps_per_s"] = run["raw_by_frontend"][shipped_frontend]  # what ours trains on
            if "isaaclab" not in args.skip and n == 4096:
                if "torch" in args.baseline_frontends:  # the baseline: Isaac Lab's default runtime
                    run["baseline_a"] = baseline_a(n, args.baseline_iterations)
                for frontend in args.baseline_frontends:
                    if frontend != "torch":
                        run[f"baseline_a_{frontend}"] = baseline_a(n, args.baseline_iterations, frontend)
            if "stock" not in args.skip:
                run["stock"] = ours(config, n, work, "stock", {"performance": {"lean": False}})
            if "nographs" not in args.skip:
                shipped = yaml.safe_load(config.read_text()).get("performance", {})
                run["nographs"] = ours(config, n, work, "nographs", {"performance": {**shipped, "cuda_graphs": False}})
            run["ours"] = ours(config, n, work, "ours")
            o = run["ours"]["env_steps_per_s"]
            ratios = {}
            if "raw_env_steps_per_s" in run:
                ratios["ours_vs_raw"] = o / run["raw_env_steps_per_s"]
                for frontend, raw in run["raw_by_frontend"].items():
                    ratios[f"ours_vs_raw_{frontend}"] = o / raw
            if "baseline_a" in run:
                ratios["ours_vs_baseline_a"] = o / run["baseline_a"]["env_steps_per_s"]
            for key in [k for k in run if k.startswith("baseline_a_")]:
                ratios[f"ours_vs_{key}"] = o / run[key]["env_steps_per_s"]
            if "nographs" in run:
                ratios["ours_vs_nographs"] = o / run["nographs"]["env_steps_per_s"]
            if "stock" in run:
                ratios["ours_vs_stock"] = o / run["stock"]["env_steps_per_s"]
            run["ratios"] = {k: round(v, 3) for k, v in ratios.items()}
            results["runs"][str(n)] = run
            print(json.dumps({n: run}, indent=1), flush=True)
    text = json.dumps(results, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
