"""Orchestration overhead: the same CPU training run directly (`python -m trainer train`) and through Dagster
(materializing `policy` in-process: sensor-free, Pipes subprocess via the local launcher). Prints both wall times and
their ratio (target <= 1.10), measured in this run, in alternating order to share the machine's noise.

    .venv/bin/python bench/orchestration_overhead.py [--config tests/assets/task_configs/cartpole.yaml] [--repeats 1]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=str(ROOT / "tests/assets/task_configs/cartpole.yaml"))
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    name = yaml.safe_load(Path(args.config).read_text())["name"]
    (tmp / "task_configs").mkdir()
    (tmp / "task_configs" / f"{name}.yaml").write_text(Path(args.config).read_text())
    settings = tmp / "settings.yaml"
    settings.write_text(yaml.safe_dump({
        "data_dir": str(tmp / "data"), "task_configs": str(tmp / "task_configs"),
        "enabled_regions": ["eastus"], "training": {"trainer_args": {"device": "cpu"}},
    }))
    os.environ["ROBOTICS_SETTINGS"] = str(settings)
    os.environ.setdefault("WARP_CACHE_PATH", str(ROOT / ".data" / "warp_cache"))
    tracking = f"sqlite:///{tmp / 'data' / 'mlflow' / 'mlflow.db'}"

    import dagster as dg

    from robotics_assets.definitions import defs as load
    from robotics_assets.lib.partitions import REGION_DIM, TASK_DIM

    defs = load()
    direct, dagster = [], []
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("task", [name])
        dg.materialize(list(defs.assets), selection=[dg.AssetKey("task_config")], partition_key=name,
                       instance=instance, resources=defs.resources)
        # warm-up: builds the offline sim assets and fills the Warp kernel cache for both paths
        subprocess.run([sys.executable, "-m", "trainer", "train", "--config", args.config, "--run-dir",
                        str(tmp / "warmup"), "--timesteps", "32", "--no-tracking"], cwd=ROOT, check=True,
                       env={**os.environ, "ROBOTICS_DATA_DIR": str(tmp / "data")}, capture_output=True)
        selection = [dg.AssetKey("policy")]
        key = str(dg.MultiPartitionKey({TASK_DIM: name, REGION_DIM: "eastus"}))
        for i in range(args.repeats):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "trainer", "train", "--config", args.config, "--run-dir",
                            str(tmp / f"direct{i}"), "--device", "cpu", "--tracking-uri", tracking],
                           cwd=ROOT, check=True, env={**os.environ, "ROBOTICS_DATA_DIR": str(tmp / "data")},
                           capture_output=True)
            direct.append(time.perf_counter() - t)
            t = time.perf_counter()
            res = dg.materialize(list(defs.assets), selection=selection, partition_key=key, instance=instance,
                                 resources=defs.resources)
            assert res.success
            dagster.append(time.perf_counter() - t)
    d, g = min(direct), min(dagster)
    print(f"config {args.config} (cpu count {os.cpu_count()}, load avg {os.getloadavg()[0]:.1f})")
    print(f"  trainer directly     {d:8.1f} s   (runs: {', '.join(f'{x:.1f}' for x in direct)})")
    print(f"  through Dagster      {g:8.1f} s   (runs: {', '.join(f'{x:.1f}' for x in dagster)})")
    print(f"  ratio                {g / d:8.3f}     target <= 1.10: {'OK' if g / d <= 1.10 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
