"""Does our trainer compute what Isaac Lab's own CLI computes? Train both from the same seed and diff the checkpoints.

Why: on the GPU ours trailed Isaac Lab's CLI over the first 90 Ant updates (docs/benchmarks.md). Both build skrl's PPO
from the task's agent YAML; this bench trains the same task with both (`python -m trainer train` with the given
config's agent and switches, and `python -m isaaclab train --rl_library skrl`) for a few updates and compares the
policy and both preprocessors after every update. Isaac Lab's CLI runs twice: as users run it, and with skrl seeded
before its env wrapper is built (as `bench/gpu_ant_curves.py --isaaclab-seeds independent`), because as shipped its first reset re-seeds every
generator with 0 whatever `--seed` says. Ours with `lean` (eager on CPU) against the seeded CLI is bit-identical on CPU
(docs/benchmarks.md); on a GPU, `--cuda-graphs on` shows what CUDA graphs and fused Adam change.

  python bench/isaaclab_cli_parity.py --updates 5 --num-envs 64 --device cpu
  python bench/isaaclab_cli_parity.py --updates 5 --num-envs 4096 --device cuda:0 --cuda-graphs off
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("policy", "observation_preprocessor", "value_preprocessor")
# argv: seed, device, then the CLI's own arguments. Isaac Lab's hydra needs ANTLR 4.9 where Dagster's 4.13 is installed
# (trainer/isaaclab_compat.py); the seeded form seeds skrl before the CLI builds its env wrapper (as _SEEDED_CLI of
# bench/gpu_ant_curves.py does)
_CLI = ("import sys; from trainer.sim_assets import configure_asset_root; configure_asset_root(); "  # ours' asset root
        "from trainer.isaaclab_compat import prepare_isaaclab_import; prepare_isaaclab_import(sys.argv[2]); "
        "{seed}from isaaclab.cli import train; train(sys.argv[3:])")
_SEED = "from skrl.utils import set_seed; set_seed(int(sys.argv[1])); "


def _run(cmd: list, cwd: Path, log: Path, timeout: int) -> None:
    with log.open("w") as out:
        code = subprocess.run([str(c) for c in cmd], cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT),
                                   os.environ.get("PYTHONPATH"))))}, check=False).returncode
    if code:
        raise SystemExit(f"{cmd[:4]} exited {code}; log: {log}\n{log.read_text()[-3000:]}")


def train_ours(work: Path, args: argparse.Namespace) -> Path:
    cfg = yaml.safe_load(args.config.read_text())
    rollouts = args.rollouts
    cfg.update(name="parity", task=f"isaaclab:{args.task}", num_envs=args.num_envs, timesteps=args.updates * rollouts,
               checkpoint_interval=rollouts, seed=args.seed, device=args.device)
    cfg.pop("gpus", None)
    cfg["performance"] = {"lean": True, "cuda_graphs": args.cuda_graphs == "on", "env_frontend": "torch"}
    path = work / "parity.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    run_dir = work / "ours"
    _run([sys.executable, "-m", "trainer", "train", "--config", path, "--run-dir", run_dir, "--no-tracking"], ROOT,
         work / "ours.log", args.timeout)
    return run_dir / "checkpoints"


def train_isaaclab(work: Path, args: argparse.Namespace, seeded: bool) -> Path:
    name = "isaaclab_seeded" if seeded else "isaaclab"
    cwd = work / name
    cwd.mkdir()
    cli_args = ["--rl_library", "skrl", "--task", args.task, "--num_envs", args.num_envs, "--max_iterations",
                args.updates, "--device", args.device, "--frontend", "torch", "--seed", args.seed]
    _run([sys.executable, "-c", _CLI.format(seed=_SEED if seeded else ""), args.seed, args.device, *cli_args], cwd,
         work / f"{name}.log", args.timeout)
    return next(cwd.glob("logs/skrl/**/checkpoints"))


def compare(ours: Path, theirs: Path, updates: int, rollouts: int) -> list[dict]:
    import numpy as np
    import torch

    core = getattr(np, "_core", None) or np.core  # skrl's own checkpoints keep numpy scalars
    torch.serialization.add_safe_globals([core.multiarray.scalar, np.dtype, np.dtypes.Float64DType])
    rows = []
    for update in range(1, updates + 1):
        name = f"agent_{update * rollouts}.pt"
        if not (theirs / name).is_file():  # Isaac Lab's CLI checkpoints every tenth of the run ('auto')
            continue
        a = torch.load(ours / name, weights_only=True, map_location="cpu")
        b = torch.load(theirs / name, weights_only=True, map_location="cpu")
        row = {"update": update}
        for module in MODULES:
            row[module] = max(float((a[module][k].double() - b[module][k].double()).abs().max()) for k in a[module])
        rows.append(row)
    if not rows:
        raise SystemExit(f"no update has a checkpoint in both runs ({theirs}): use --updates 5, 10 or a multiple of 10")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="Isaac-Ant-Direct")
    parser.add_argument("--config", type=Path, default=ROOT / "task_configs" / "ant_gpu.yaml",
                        help="ours' agent settings come from here (its performance switches are replaced)")
    parser.add_argument("--rollouts", type=int, default=16, help="the task agent's rollouts (Ant: 16)")
    parser.add_argument("--updates", type=int, default=5,
                        help="5: Isaac Lab's CLI checkpoints every half update, so every update is compared")
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cuda-graphs", choices=["on", "off"], default="off", help="ours on a CUDA device")
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ours = train_ours(work, args)
        result = {"task": args.task, "updates": args.updates, "num_envs": args.num_envs, "seed": args.seed,
                  "device": args.device, "cuda_graphs": args.cuda_graphs, "max_abs_diff": {}}
        for seeded in (True, False):
            theirs = train_isaaclab(work, args, seeded)
            key = "isaaclab_cli_seeded" if seeded else "isaaclab_cli_as_shipped"
            result["max_abs_diff"][key] = compare(ours, theirs, args.updates, args.rollouts)
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
