"""Isaac-Ant-Direct on one GPU: Isaac Lab's own skrl CLI against our trainer, same offline asset, ONE invocation.

  isaaclab  `python -m isaaclab train --rl_library skrl --task Isaac-Ant-Direct --num_envs N --max_iterations U`
            (Isaac Lab's skrl_direct_ppo_cfg.yaml; its curve is read from the TensorBoard events skrl writes)
  ours      `python -m trainer train --config task_configs/ant_gpu.yaml` for the same U PPO updates (same agent
            YAML, `lean` + `cuda_graphs`), then, with `--product`, `trainer evaluate` (the gate) and `trainer export`
            (ONNX + parity) of its best checkpoint

Both print their learning curves (mean episode return and length per logged update) and two rates: over the whole
training (Isaac Lab's own "Training time", ours train_time_s) and in steady state (env-steps between the curve
points after the first 20 % of the updates, over their wall-clock difference: start-up, Warp kernel loads and
graph captures excluded). Each run is its own process; they share only the Warp kernel cache.

  python bench/gpu_ant.py --updates 300 --out ant.json [--product]
  python bench/gpu_ant.py --config task_configs/humanoid_gpu.yaml --updates 600 --out humanoid.json [--product]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TASK = "Isaac-Ant-Direct"
CONFIG = ROOT / "task_configs" / "ant_gpu.yaml"
ROLLOUTS = 16  # Isaac Lab's Ant skrl config (and ours: base: task)
RETURN_TAG, LENGTH_TAG = "Reward / Total reward (mean)", "Episode / Total timesteps (mean)"


def _run(cmd: list, cwd: Path, env: dict | None = None, timeout: int = 1200) -> tuple[str, float, int]:
    t0 = time.monotonic()
    proc = subprocess.run([str(c) for c in cmd], check=False, cwd=cwd, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    if proc.returncode not in (0, 1):
        sys.stderr.write(out[-4000:])
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}")
    return out, time.monotonic() - t0, proc.returncode


def steady_rate(points: list[dict], num_envs: int) -> float | None:
    """env-steps/s between the curve points after the first 20 % of training (wall-clock stamps of the points)."""
    if len(points) < 3:
        return None
    last = points[-1]
    first = next(p for p in points if p["timestep"] >= 0.2 * last["timestep"])
    if last["wall_s"] <= first["wall_s"]:
        return None
    return (last["timestep"] - first["timestep"]) * num_envs / (last["wall_s"] - first["wall_s"])


def isaaclab_cli(num_envs: int, updates: int, work: Path, device: str, frontend: str, seed: int) -> dict:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cwd = work / "isaaclab"
    cwd.mkdir()
    out, wall, _ = _run([sys.executable, "-m", "isaaclab", "train", "--rl_library", "skrl", "--task", TASK,
                         "--num_envs", num_envs, "--max_iterations", updates, "--device", device, "--frontend", frontend,
                         "--seed", seed],
                        cwd)
    match = re.search(r"Training time: ([0-9.]+) seconds", out)
    if not match:
        sys.stderr.write(out[-4000:])
        raise SystemExit("Isaac Lab's CLI printed no 'Training time'")
    seconds = float(match.group(1))
    run = {"env_steps_per_s": updates * ROLLOUTS * num_envs / seconds, "train_s": seconds, "process_wall_s": wall}
    events = sorted(cwd.glob("logs/skrl/**/events.out.tfevents*"))
    try:
        acc = EventAccumulator(str(events[-1].parent), size_guidance={"scalars": 0})
        acc.Reload()
        returns = {e.step: (e.value, e.wall_time) for e in acc.Scalars(RETURN_TAG)}
        lengths = {e.step: e.value for e in acc.Scalars(LENGTH_TAG)}
    except Exception as exc:  # noqa: BLE001 - keep the rate even if the curve cannot be read
        return {**run, "curve": [], "curve_error": f"{type(exc).__name__}: {exc} (events: {events})"}
    t0 = min(w for _, w in returns.values())
    curve = [{"timestep": s, "return": r, "length": lengths.get(s), "wall_s": w - t0}
             for s, (r, w) in sorted(returns.items())]
    return {**run, "steady_env_steps_per_s": steady_rate(curve, num_envs), "curve": curve}


def ours(num_envs: int, updates: int, work: Path, product: bool, device: str, frontend: str, seed: int) -> dict:
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg.update(num_envs=num_envs, timesteps=updates * ROLLOUTS, checkpoint_interval=updates * ROLLOUTS, device=device,
               seed=seed)
    cfg.setdefault("performance", {})["env_frontend"] = frontend
    if device == "cpu":  # a dry run of this script on a machine without a GPU
        cfg["success"]["episodes"], cfg["export"]["latency_batch_sizes"] = num_envs, [1, num_envs]
    path = work / CONFIG.name  # the file name is the task name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    run_dir = work / "run-ours"
    out, wall, _ = _run([sys.executable, "-m", "trainer", "train", "--config", path, "--run-dir", run_dir,
                         "--no-tracking"], ROOT)
    result = json.loads((run_dir / "train_result.json").read_text())
    metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    curve = [{"timestep": m["timestep"], "return": m.get("Reward/Total_reward_mean"),
              "length": m.get("Episode/Total_timesteps_mean"), "wall_s": m["wall_s"]} for m in metrics]
    first = re.search(r"first training step after ([0-9.]+) s", out)
    run = {"env_steps_per_s": result["env_steps_per_s"], "train_s": result["train_time_s"], "process_wall_s": wall,
           "steady_env_steps_per_s": steady_rate(curve, num_envs), "performance": result.get("performance"),
           "start_to_first_step_s": float(first.group(1)) if first else None, "curve": curve}
    if product:
        _, eval_wall, code = _run([sys.executable, "-m", "trainer", "evaluate", "--config", path,
                                          "--run-dir", run_dir, "--out", work / "eval"], ROOT)
        report = json.loads((work / "eval" / "evaluation.json").read_text())
        run["evaluation"] = {k: report.get(k) for k in ("passed", "mean_return", "mean_episode_length",
                                                         "success_rate", "episodes", "eval_s")}
        run["evaluation"]["process_wall_s"] = round(eval_wall, 1)
        exp_out, exp_wall, code = _run([sys.executable, "-m", "trainer", "export", "--config", path,
                                        "--run-dir", run_dir, "--out", work / "export"], ROOT)
        summary = work / "export" / "export.json"
        exported = json.loads(summary.read_text()) if summary.is_file() else {"exit": code, "log": exp_out[-1500:]}
        run["export"] = {k: exported.get(k) for k in ("onnx_sha256", "opset", "parity", "export_s", "exit", "log")
                         if k in exported}
        run["export_process_wall_s"] = round(exp_wall, 1)
    return run


def side_by_side(a: list[dict], b: list[dict], every: int) -> list[list]:
    """[update, ours return, Isaac Lab return, ours length, Isaac Lab length] at ours' points, every `every` updates."""
    by_step = {p["timestep"]: p for p in b}
    rows = []
    for p in a:
        update = p["timestep"] // ROLLOUTS
        if update % every and p is not a[-1]:
            continue
        q = by_step.get(p["timestep"]) or min(b, key=lambda x: abs(x["timestep"] - p["timestep"]), default={})
        rows.append([update, _r(p["return"]), _r(q.get("return")), _r(p["length"]), _r(q.get("length"))])
    return rows


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def main() -> None:
    global CONFIG, TASK, ROLLOUTS  # one task per invocation
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=CONFIG,
                        help="another shipped Isaac Lab locomotion config (its task and rollouts are used for both)")
    parser.add_argument("--num-envs", type=int, default=4096)
    parser.add_argument("--updates", type=int, default=300, help="PPO updates (Isaac Lab: --max_iterations)")
    parser.add_argument("--every", type=int, default=25, help="curve rows every this many updates")
    parser.add_argument("--skip", nargs="*", default=[], choices=["isaaclab", "ours"])
    parser.add_argument("--product", action="store_true", help="also evaluate and export our trained policy")
    parser.add_argument("--seed", type=int, default=42, help="for both (Isaac Lab's Ant YAML and ant_gpu.yaml: 42)")
    parser.add_argument("--device", default="cuda:0", help="cpu: a dry run of this script")
    parser.add_argument("--frontend", default="torch", choices=["torch", "warp"],
                        help="Isaac Lab env runtime for both (`--frontend` of Isaac Lab's CLI, ours: env_frontend)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    CONFIG = args.config.resolve()
    from trainer.config import load_task_config

    task_cfg = load_task_config(CONFIG)
    TASK, ROLLOUTS = task_cfg.task_id, int(task_cfg.resolved()["agent"]["agent"]["rollouts"])
    results: dict = {"task": TASK, "num_envs": args.num_envs, "updates": args.updates, "frontend": args.frontend,
                     "seed": args.seed}
    try:
        import torch

        results["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "ours" not in args.skip:  # first: it fills the shared Warp kernel cache, as a product run would
            results["ours"] = ours(args.num_envs, args.updates, work, args.product, args.device, args.frontend, args.seed)
            print(json.dumps({"ours": {k: v for k, v in results["ours"].items() if k != "curve"}}), flush=True)
            if args.out:  # kept if the Isaac Lab run does not finish within the device call
                args.out.write_text(json.dumps(results, indent=1))
        if "isaaclab" not in args.skip:
            results["isaaclab"] = isaaclab_cli(args.num_envs, args.updates, work, args.device, args.frontend, args.seed)
            print(json.dumps({"isaaclab": {k: v for k, v in results["isaaclab"].items() if k != "curve"}}),
                  flush=True)
    if "ours" in results and "isaaclab" in results:
        o, i = results["ours"], results["isaaclab"]
        results["ratios"] = {
            "ours_vs_isaaclab": round(o["env_steps_per_s"] / i["env_steps_per_s"], 3),
            "ours_vs_isaaclab_steady": (round(o["steady_env_steps_per_s"] / i["steady_env_steps_per_s"], 3)
                                        if o.get("steady_env_steps_per_s") and i.get("steady_env_steps_per_s")
                                        else None),
        }
        results["curves"] = {"columns": ["update", "ours return", "isaaclab return", "ours length",
                                         "isaaclab length"], "rows": side_by_side(o["curve"], i["curve"], args.every)}
        print(json.dumps({"ratios": results["ratios"], "curves": results["curves"]}, indent=1), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
