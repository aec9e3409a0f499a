"""Sweep wall time with early stopping vs without: an 8-trial CPU sweep of InvertedPendulum-v5, measured in one run.

    .venv/bin/python bench/sweep_early_stop.py

The same sweep (learning rate over 8 values, constant rate, the shipped inverted_pendulum.yaml as base) runs twice
through the code location in-process, tick by tick through `sweep_sensor` as the daemon would, with the real trainer
on the local backend, one trial at a time (a one-run queue): once with `early_stopping: {rule: median}`, once with
`rule: none`, interleaved trial by trial (alternating which goes first) so both see the same machine load. Printed:
each trial's status, final metric, timesteps reached and wall time under both rules, the sweeps' training wall times,
their ratio (median / none) and whether the best trial is the same. Trial durations include the trainer's start (~4 s of imports per process), which
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
      values: [{', '.join(f'{v:.1e}' for v in LEARNING_RATES)}]  # 1.0e-05: YAML 1.1 reads 1e-05 as text
metric: {{name: mean_return, direction: maximize}}
early_stopping: {{rule: {rule}, grace_timesteps: 1024, min_completed_trials: 2, check_interval_s: 0.5}}
"""


class Sweep:
    """One sweep in its own project folder, settings file and Dagster instance."""

    def __init__(self, rule: str, folder: Path) -> None:
        import dagster as dg
        import yaml

        self.rule, self.folder = rule, folder
        (folder / "task_configs" / "sweeps").mkdir(parents=True)
        (folder / "task_configs" / "inverted_pendulum.yaml").write_text(
            (ROOT / "task_configs" / "inverted_pendulum.yaml").read_text())
        (folder / "task_configs" / "sweeps" / "bench_lr.yaml").write_text(sweep_yaml(rule))
        settings = {"data_dir": str(folder / "data"), "task_configs": str(folder / "task_configs"),
                    "regions_file": str(ROOT / "infra_tf" / "examples" / "regions.sample.json"),
                    "enabled_regions": ["eastus"], "default_backend": "local",
                    "mlflow_tracking_uri": f"sqlite:///{folder / 'mlflow.db'}", "regions": {"eastus": {}},
                    "training": {"trainer_args": {"device": "cpu"}}}
        self.settings = folder / "settings.yaml"
        self.settings.write_text(yaml.safe_dump(settings))
        self.use()
        from robotics_assets.definitions import defs as build

        self.defs = build()
        self.instance = dg.DagsterInstance.ephemeral()
        self.cursor = None
        self.trial_s: dict[str, float] = {}

    def use(self) -> None:
        os.environ["ROBOTICS_SETTINGS"] = str(self.settings)  # resources read the settings at run time

    def tick(self) -> list:
        import dagster as dg

        self.use()
        with dg.build_sensor_context(instance=self.instance, cursor=self.cursor, resources=self.defs.resources,
                                     definitions=self.defs) as context:
            result = self.defs.get_sensor_def("sweep_sensor")(context)
        for req in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
        self.cursor = result.cursor
        return list(result.run_requests)

    def execute(self, req) -> None:
        from robotics_assets.defs.sweeps.sensors import TRAIN_JOB

        self.use()
        t0 = time.monotonic()
        self.defs.resolve_job_def(req.job_name).execute_in_process(
            instance=self.instance, partition_key=req.partition_key, tags=req.tags, raise_on_error=False)
        if req.job_name == TRAIN_JOB:
            self.trial_s[req.partition_key.rsplit("--", 1)[1]] = time.monotonic() - t0

    def report(self) -> dict:
        import dagster as dg

        recs = self.instance.fetch_materializations(dg.AssetKey("sweep_report"), limit=1).records
        meta = {k: getattr(v, "value", v) for k, v in recs[0].asset_materialization.metadata.items()}
        rows = [r.data for r in meta["trials"].records]
        return {"train_s": sum(self.trial_s.values()), "best": meta.get("best_trial"),
                "best_value": meta.get("best_metric_value"),
                "rows": {r["trial"].rsplit("--", 1)[1]: (r["status"], r["metric"], r["timesteps"]) for r in rows}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    from robotics_assets.defs.sweeps.sensors import REPORT_JOB

    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        sweeps = [Sweep(rule, Path(tmp) / rule) for rule in ("median", "none")]
        for _ in range(4):  # configs, trainings, report
            pending = [s.tick() for s in sweeps]
            for k in range(max(len(p) for p in pending)):
                # trial k of both sweeps back to back, alternating which goes first: both see the same load
                for i in (range(2) if k % 2 == 0 else range(1, -1, -1)):
                    if k < len(pending[i]):
                        sweeps[i].execute(pending[i][k])
            if all(any(r.job_name == REPORT_JOB for r in p) for p in pending):
                break
        results = {s.rule: s.report() | {"trial_s": s.trial_s} for s in sweeps}
        for s in sweeps:
            s.instance.dispose()
    print(f"{'trial':<6}{'rule median':>36}{'rule none':>36}")
    for t in sorted(results["none"]["rows"]):
        cells = []
        for rule in ("median", "none"):
            status, metric, steps = results[rule]["rows"][t]
            cells.append(f"{status:>10} {metric:8.1f} @{steps:>5} {results[rule]['trial_s'][t]:6.1f} s")
        print(f"{t:<6}{cells[0]:>36}{cells[1]:>36}")
    med, none = results["median"], results["none"]
    print(f"training wall time: early stopping {med['train_s']:.1f} s, none {none['train_s']:.1f} s; "
          f"ratio {med['train_s'] / none['train_s']:.2f}; best {med['best']} ({med['best_value']:.1f}) vs "
          f"{none['best']} ({none['best_value']:.1f}): same best trial: {med['best'] == none['best']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
