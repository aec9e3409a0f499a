"""Scale: 1,000 task configs x 8 regions. Prints definitions load time, one sensor tick discovering 1,000 new configs,
and submitting a 100-partition backfill, each against its target, measured in this run.

    .venv/bin/python bench/scale.py [--configs 1000] [--regions 8]
"""

import argparse
import json
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
    ap.add_argument("--configs", type=int, default=1000)
    ap.add_argument("--regions", type=int, default=8)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    sample = json.loads((ROOT / "infra_tf/examples/regions.sample.json").read_text())
    template = next(iter(sample.values()))
    regions = {f"region{i:02d}": {**template, "location": f"region{i:02d}"} for i in range(args.regions)}
    (tmp / "regions.json").write_text(json.dumps(regions))
    configs = tmp / "task_configs"
    configs.mkdir()
    base = yaml.safe_load((ROOT / "task_configs/cartpole.yaml").read_text())
    for i in range(args.configs):
        (configs / f"task{i:04d}.yaml").write_text(yaml.safe_dump({**base, "name": f"task{i:04d}", "seed": i}))
    settings = tmp / "settings.yaml"
    settings.write_text(yaml.safe_dump({"data_dir": str(tmp / "data"), "task_configs": str(configs),
                                        "regions_file": str(tmp / "regions.json")}))
    os.environ["ROBOTICS_SETTINGS"] = str(settings)
    os.environ["DAGSTER_HOME"] = str(tmp / "home")
    (tmp / "home").mkdir()

    # 1) definitions load, in a fresh interpreter (what a code server does): imports + building the graph
    code = ("import time; t=time.perf_counter(); from robotics_assets.definitions import defs; "
            "t1=time.perf_counter(); d=defs(); d.get_repository_def(); t2=time.perf_counter(); "
            "print(t1-t, t2-t1)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    import_s, load_s = map(float, out.stdout.split()[-2:])

    import dagster as dg

    from robotics_assets.cli import submit_backfill
    from robotics_assets.definitions import defs as load

    defs = load()
    with dg.instance_for_test(temp_dir=str(tmp / "home")) as instance:
        # 2) one sensor tick over N new configs
        sensor = defs.get_repository_def().get_sensor_def("task_config_sensor")
        t = time.perf_counter()
        with dg.build_sensor_context(instance=instance, resources=defs.resources) as ctx:
            result = sensor(ctx)
        tick_s = time.perf_counter() - t
        assert len(result.run_requests) == args.configs, len(result.run_requests)
        for req in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))

        # 3) submit a 100-partition backfill (task x region keys) of the chain
        n_tasks = -(-100 // args.regions)
        t = time.perf_counter()
        backfill_id = submit_backfill(instance, defs, [f"task{i:04d}" for i in range(n_tasks)], list(regions),
                                      ["policy", "evaluation_report", "onnx_policy", "deployed_policy"], limit=100)
        backfill_s = time.perf_counter() - t
        submitted = len(instance.get_backfill(backfill_id).asset_backfill_data.target_subset
                        .get_partitions_subset(dg.AssetKey("policy")).get_partition_keys())

    rows = [
        ("definitions load (build graph, after imports)", load_s, 2.0),
        ("definitions load incl. imports (fresh process)", import_s + load_s, None),
        (f"sensor tick discovering {args.configs} configs", tick_s, 5.0),
        (f"submit {submitted}-partition backfill", backfill_s, 60.0),
    ]
    print(f"{args.configs} task configs x {args.regions} regions (cpu count {os.cpu_count()}, "
          f"load avg {os.getloadavg()[0]:.1f})")
    for name, value, target in rows:
        verdict = "" if target is None else f"target <= {target:g} s: ratio {value / target:.2f} {'OK' if value <= target else 'MISSED'}"
        print(f"  {name:52s} {value:8.2f} s   {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
