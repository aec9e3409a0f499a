"""`sweep_sensor`: sweep files -> trial partitions -> trial trainings -> the sweep report -> the winner's promotion.

Each tick reads the sweep files and, per sweep revision (content hash of the sweep file and its base config), asks
the instance what is done and requests the next step, each exactly once per revision (the cursor keeps what was
requested; run keys say the same to the daemon):
1. new trial partitions (`<sweep>--tNN`) and the sweep's partition; `task_config` of every trial (its resolved
   config, visible and versioned like any task's);
2. `policy` of each trial whose config is current, in the trial's region (round-robin over the sweep's regions).
   These are queued runs like a backfill's: the per-region run limit and the `training` pool apply;
3. `sweep_report` once every trial of the revision is completed, stopped early or failed;
4. evaluation (blocking gate), export and deployment of the report's best trial, which registers under the base
   task, so champion/challenger promotion judges it like any other policy.
Automation leaves trial partitions alone (lib/automation.SweepTrial). A failed trial is not retried until the sweep
changes. An invalid sweep file is logged once per content and skipped.
"""

from __future__ import annotations

import json
from typing import Any

import dagster as dg

from robotics_assets.defs.tasks.resources import TaskConfigStore
from robotics_assets.lib.partitions import (
    REGION_DIM,
    TASK_DIM,
    sweep_partitions,
    task_partitions,
)
from robotics_assets.lib.sweep_files import Sweep, SweepError
from robotics_assets.lib.task_sources import content_hash
from robotics_assets.lib.upstream import metadata_value

CONFIG_JOB = "sweep_trial_configs"
TRAIN_JOB = "sweep_trials"
REPORT_JOB = "sweep_reports"
WINNER_JOB = "sweep_winner"
REQUEST_TAG = "robotics/sweep_request"
FAILED = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def sweep_jobs() -> list[dg.UnresolvedAssetJobDefinition]:
    return [
        # selections by key, not by string: a string is parsed by Dagster's ANTLR grammar, which imports antlr4
        # 4.13 into the process (Isaac Lab's hydra needs 4.9 where the trainer runs in-process, as in tests)
        dg.define_asset_job(CONFIG_JOB, selection=dg.AssetSelection.assets("task_config"),
                            description="A sweep trial's task config."),
        dg.define_asset_job(TRAIN_JOB, selection=dg.AssetSelection.assets("policy"),
                            description="A sweep trial's training."),
        dg.define_asset_job(REPORT_JOB, selection=dg.AssetSelection.assets("sweep_report"),
                            description="A sweep's report."),
        dg.define_asset_job(WINNER_JOB,
                            selection=dg.AssetSelection.assets("evaluation_report", "onnx_policy", "deployed_policy"),
                            description="A sweep's best trial: evaluation gate, export, promotion."),
    ]


def _latest(instance: dg.DagsterInstance, asset: str, partition: str) -> dict[str, Any]:
    recs = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]), limit=1).records
    if not recs or recs[0].asset_materialization is None:
        return {}
    return {k: metadata_value(v) for k, v in recs[0].asset_materialization.metadata.items()}


def _failed(instance: dg.DagsterInstance, request_key: str) -> bool:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={REQUEST_TAG: request_key}), limit=1)
    return bool(runs) and runs[0].status in FAILED


def trial_key(trial: str, region: str) -> str:
    return str(dg.MultiPartitionKey({TASK_DIM: trial, REGION_DIM: region}))


def plan(instance: dg.DagsterInstance, sweep: Sweep, requested: list[str]) -> list[dg.RunRequest]:
    """The next requests for this sweep revision (appends their keys to `requested`)."""
    out: list[dg.RunRequest] = []
    sha16 = sweep.sha256[:16]

    def request(step: str, job: str, partition: str) -> str:
        key = f"{sweep.name}:{sha16}:{step}"
        if key not in requested:
            requested.append(key)
            out.append(dg.RunRequest(run_key=key, job_name=job, partition_key=partition,
                                     tags={REQUEST_TAG: key, "robotics/sweep": sweep.name,
                                           "robotics/sweep_sha256": sha16}))
        return key

    finished = 0
    for trial in sweep.trials:
        config = _latest(instance, "task_config", trial.name)
        if config.get("sha256") != trial.config_sha256 or config.get("sweep_sha256") != sweep.sha256:
            request(f"config:{trial.name}", CONFIG_JOB, trial.name)
            continue
        partition = trial_key(trial.name, trial.region)
        if _latest(instance, "policy", partition).get("sweep_sha256") == sweep.sha256:
            finished += 1
            continue
        if _failed(instance, request(f"train:{trial.name}", TRAIN_JOB, partition)):
            finished += 1  # not retried until the sweep changes; the report lists it as missing
    if finished < len(sweep.trials):
        return out
    report = _latest(instance, "sweep_report", sweep.name)
    if report.get("sweep_sha256") != sweep.sha256:
        request("report", REPORT_JOB, sweep.name)
    elif report.get("best_partition"):
        request(f"winner:{report['best_trial']}", WINNER_JOB, str(report["best_partition"]))
    return out


def build_sweep_sensor(jobs: list, minimum_interval_seconds: int = 30, running: bool = True) -> dg.SensorDefinition:
    @dg.sensor(
        name="sweep_sensor",
        jobs=jobs,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED,
        description="Watches <task_configs>/sweeps/: trial partitions, their configs and trainings in the sweep's "
        "regions, the sweep report, then the best trial's evaluation, export and promotion.",
    )
    def sweep_sensor(context: dg.SensorEvaluationContext, task_configs: TaskConfigStore):
        cursor: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
        state: dict[str, dict[str, Any]] = cursor.get("sweeps", {})
        invalid: dict[str, str] = cursor.get("invalid", {})
        files = task_configs.sweep_files()
        present = {name for name, _ in files}
        known_tasks = set(context.instance.get_dynamic_partitions(task_partitions.name))
        known_sweeps = set(context.instance.get_dynamic_partitions(sweep_partitions.name))
        new_tasks: list[str] = []
        new_sweeps: list[str] = []
        requests: list[dg.RunRequest] = []
        for name, content in files:
            try:
                sweep = task_configs.sweep(name, content)
            except SweepError as e:
                if invalid.get(name) != content_hash(content):
                    context.log.warning(f"skipping invalid sweep file: {e}")
                    invalid[name] = content_hash(content)
                continue
            invalid.pop(name, None)
            revision = state.get(name)
            if revision is None or revision["sha"] != sweep.sha256:
                revision = state[name] = {"sha": sweep.sha256, "requested": []}
                context.log.info(f"sweep {name} ({sweep.sha256[:16]}): {len(sweep.trials)} trials of "
                                 f"{sweep.spec.base} in {', '.join(sorted({t.region for t in sweep.trials}))}")
            new_tasks += [t.name for t in sweep.trials if t.name not in known_tasks]
            if name not in known_sweeps:
                new_sweeps.append(name)
            requests += plan(context.instance, sweep, revision["requested"])
        partitions = []
        if new_tasks:
            partitions.append(task_partitions.build_add_request(new_tasks))
        if new_sweeps:
            partitions.append(sweep_partitions.build_add_request(new_sweeps))
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=partitions,
            cursor=json.dumps({"sweeps": {k: v for k, v in state.items() if k in present},
                               "invalid": {k: v for k, v in invalid.items() if k in present}}, sort_keys=True),
        )

    return sweep_sensor
