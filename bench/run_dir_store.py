"""CPU Cartpole training with `--run-dir` on Azurite vs a local folder, measured in one run (issue 16).

Each repeat trains task_configs/cartpole.yaml twice in fresh processes, once into a local folder and once into a Blob
URL on Azurite (write-through from a scratch folder), in alternating order; the ratio is store / local of the median
wall time of the whole `python -m trainer train` process (target <= 1.05) and of the training loop alone. Then the
time to resume from the store: a store run is resumed and the restore (manifest, newest and best checkpoints, curve,
all sha256-verified) is timed in-process, plus the wall time of the resumed process up to its first training step.

    .venv/bin/python bench/run_dir_store.py                  # 3 repeats, 1280 timesteps at 512 envs (the shipped config)
    .venv/bin/python bench/run_dir_store.py --repeats 1 --timesteps 256   # quick look
Prints a markdown table (paste into docs/benchmarks.md) and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from any cwd

from tests.services import Azurite

CONFIG = ROOT / "task_configs" / "cartpole.yaml"


def _train(run_dir: str, timesteps: int, env: dict, *extra: str) -> dict:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "trainer", "train", "--config", str(CONFIG), "--run-dir", run_dir, "--no-tracking",
         "--timesteps", str(timesteps), *extra],
        env=env, cwd=ROOT, capture_output=True, text=True, check=False,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"train failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    train_s = float(re.search(r"in ([0-9.]+) s \(", proc.stdout).group(1))
    first = re.search(r"first training step after ([0-9.]+) s", proc.stdout)
    return {"wall_s": wall, "train_s": train_s, "first_step_s": float(first.group(1)) if first else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timesteps", type=int, default=1280, help="per run (its half must be a multiple of the checkpoint interval)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-run-dir-") as tmp_name:
        tmp = Path(tmp_name)
        azurite = Azurite(tmp / "azurite").start()
        try:
            env = {**os.environ, "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
                   "PYTHONPATH": str(ROOT)}
            root = f"{azurite.blob_endpoint}/runs/cartpole/bench"
            _train(str(tmp / "warmup"), 64, env)  # Warp kernels compiled and cached before anything is timed
            rows: dict[str, list[dict]] = {"local": [], "store": []}
            for i in range(args.repeats):
                order = ("local", "store") if i % 2 == 0 else ("store", "local")
                for side in order:
                    target = str(tmp / f"local-{i}") if side == "local" else f"{root}/{uuid.uuid4().hex[:8]}"
                    rows[side].append(_train(target, args.timesteps, env))
                    print(json.dumps({"side": side, "repeat": i, **rows[side][-1]}), flush=True)  # partial results

            # resume from the store: a half-trained run, restored in-process (timed) and by a resumed process
            half = f"{root}/resume-{uuid.uuid4().hex[:8]}"
            _train(half, args.timesteps // 2, env)
            os.environ["AZURE_STORAGE_CONNECTION_STRING"] = azurite.connection_string
            from trainer.storage.run_location import open_run_location

            t0 = time.perf_counter()
            with open_run_location(half) as location:
                location.restore_for_training(resume=True)
                restore_s = time.perf_counter() - t0
                restored_bytes = sum(p.stat().st_size for p in location.local_dir.rglob("*") if p.is_file())
            resumed = _train(half, args.timesteps, env, "--resume")
        finally:
            azurite.stop()

    med = {side: {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "train_s")}
           for side, runs in rows.items()}
    result = {
        "repeats": args.repeats,
        "timesteps": args.timesteps,
        "local_wall_s": round(med["local"]["wall_s"], 2),
        "store_wall_s": round(med["store"]["wall_s"], 2),
        "wall_ratio": round(med["store"]["wall_s"] / med["local"]["wall_s"], 3),
        "local_train_s": round(med["local"]["train_s"], 2),
        "store_train_s": round(med["store"]["train_s"], 2),
        "train_ratio": round(med["store"]["train_s"] / med["local"]["train_s"], 3),
        "restore_s": round(restore_s, 3),
        "restored_bytes": restored_bytes,
        "resumed_first_step_s": resumed["first_step_s"],
        "resumed_wall_s": round(resumed["wall_s"], 2),
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print("| measure | local folder | Azurite `--run-dir` | ratio |")
    print("|---|---|---|---|")
    print(f"| process wall time (median of {args.repeats}) | {result['local_wall_s']} s | {result['store_wall_s']} s "
          f"| **{result['wall_ratio']}** |")
    print(f"| training loop | {result['local_train_s']} s | {result['store_train_s']} s | {result['train_ratio']} |")
    print(f"| resume: restore from the store (manifest, checkpoints, curve; verified) | | {result['restore_s']} s "
          f"({restored_bytes / 1024:.0f} KiB) | |")
    print(f"| resume: resumed process to its first training step | | {result['resumed_first_step_s']} s | |")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
