"""Sweep wall time with early stopping vs without: an 8-trial CPU sweep of InvertedPendulum-v5, measured in one run.

    .venv/bin/python bench/sweep_early_stop.py [--order median,none]

The same sweep (learning rate over 8 values, constant rate, the shipped inverted_pendulum.yaml as base) runs twice
through the code location in-process, tick by tick through `sweep_sensor` as the daemon would, with the real trainer
on the local backend, one trial at a time (a one-run queue): once with `early_stopping: {rule: median}`, once with
`rule: none`. Printed: the training wall time of each sweep, the ratio (median / none), which trials were stopped and
whether the best trial is the same. Trial durations include the trainer's start (~4 s of imports per process), which
early stopping cannot save.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LEARNING_RATES = [3e-3, 1e-2, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 1e-6]


def sweep_yaml(rule: str) -> str:
    return f"""name: bench_lr
base: inverted_pendulum
fixed:
  agent.overrides.agent.learning_rate_scheduler: null
search:
  method: grid
  parameters:
    agent.overrides.agent.learning_rate:
      values: {LEARNING_RATES}
metric: {{name: mean_return, direction: maximize}}
early_stopping: {{rule: {rule}, grace_timesteps: 1024, min_completed_trials: 2, check_interval_s: 0.5}}
"""


def run_sweep(rule: str, folder: Path) -> dict:
    import dagster as dg
    import yaml

    from robotics_assets.defs.sweeps.sensors import REPORT_JOB, TRAIN_JOB

    (folder / "task_configs" / "sweeps").mkdir(parents=True)
    (folder / "task_configs" / "inverted_pendulum.yaml").write_text(
        (ROOT / "task_configs" / "inverted_pendulum.yaml").read_text())
    (folder / "task_configs" / "sweeps" / "bench_lr.yaml").write_text(sweep_yaml(rule))
    settings = {"data_dir": str(folder / "data"), "task_configs": str(folder / "task_configs"),
                "regions_file": str(ROOT / "infra_tf" / "examples" / "regions.sample.json"),
                "enabled_regions": ["eastus"], "default_backend": "local",
                "mlflow_tracking_uri": f"sqlite:///{folder / 'mlflow.db'}", "regions": {"eastus": {}},
                "training": {"trainer_args": {"device": "cpu"}}}
    (folder / "settings.yaml").write_text(yaml.safe_dump(settings))
    os.environ["ROBOTICS_SETTINGS"] = str(folder / "settings.yaml")
    from robotics_assets.definitions import defs as build

    defs = build()
    sensor = defs.get_sensor_def("sweep_sensor")
    with dg.instance_for_test() as instance:
        cursor, train_s = None, 0.0
        for _ in range(4):
            with dg.build_sensor_context(instance=instance, cursor=cursor, resources=defs.resources,
                                         definitions=defs) as context:
                result = sensor(context)
            for req in result.dynamic_partitions_requests or []:
                instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
            cursor = result.cursor
            for req in result.run_requests:
                t0 = time.monotonic()
                defs.resolve_job_def(req.job_name).execute_in_process(
                    instance=instance, partition_key=req.partition_key, tags=req.tags, raise_on_error=False)
                if req.job_name == TRAIN_JOB:
                    train_s += time.monotonic() - t0
            if any(r.job_name == REPORT_JOB for r in result.run_requests):
                break
        recs = instance.fetch_materializations(dg.AssetKey("sweep_report"), limit=1).records
        meta = {k: getattr(v, "value", v) for k, v in recs[0].asset_materialization.metadata.items()}
    rows = [r.data for r in meta["trials"].records]
    return {"train_s": train_s, "best": meta.get("best_trial"), "best_value": meta.get("best_metric_value"),
            "stopped": [r["trial"].rsplit("--", 1)[1] for r in rows if r["status"] == "stopped"],
            "status": {r["trial"].rsplit("--", 1)[1]: (r["status"], r["metric"]) for r in rows}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order", default="median,none", help="which sweep runs first")
    args = parser.parse_args()
    results = {}
    for rule in args.order.split(","):
        with tempfile.TemporaryDirectory(prefix=f"sweep-bench-{rule}-") as tmp:
            results[rule] = run_sweep(rule, Path(tmp))
        r = results[rule]
        print(f"{rule:>6}: 8 trials trained in {r['train_s']:.1f} s; stopped {r['stopped'] or 'none'}; "
              f"best {r['best']} ({r['best_value']:.1f}); {r['status']}", flush=True)
    ratio = results["median"]["train_s"] / results["none"]["train_s"]
    print(f"wall-time ratio early stopping / none: {ratio:.2f} "
          f"({results['median']['train_s']:.1f} s vs {results['none']['train_s']:.1f} s); "
          f"same best trial: {results['median']['best'] == results['none']['best']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
