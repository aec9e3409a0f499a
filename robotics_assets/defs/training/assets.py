"""`policy`: a trained policy + checkpoints per task × region, trained by the region's backend."""


import time
from pathlib import Path
from typing import Any

import dagster as dg

from robotics_assets.defs.training.trials import (
    STATUS_COMPLETED,
    STATUS_STOPPED,
    monitor_for,
    stopped_run_metadata,
    trial_metadata,
)
from robotics_assets.lib.early_stopping import TrialMonitor
from robotics_assets.lib.instance import TRAINING_POOL
from robotics_assets.lib.launch import LaunchRequest, TrainerLauncher
from robotics_assets.lib.metadata import with_uris
from robotics_assets.lib.partitions import task_region
from robotics_assets.lib.registry import MLflowRegistry
from robotics_assets.lib.trainer_steps import plain, single_materialization
from robotics_assets.lib.upstream import (
    cli_flags,
    latest_metadata,
    require,
)


def cost_metadata(meta: dict[str, Any], price_per_hour: float) -> dict[str, Any]:
    """GPU-hours × the region's price. CPU runs cost 0 GPU-hours; their CPU wall time is still reported."""
    wall_s = float(meta.get("wall_time_s") or 0.0)
    gpus = int(meta.get("gpu_count") or 0)
    gpu_hours = gpus * wall_s / 3600.0
    out: dict[str, Any] = {
        "gpu_hours": round(gpu_hours, 6),
        "gpu_price_per_hour": price_per_hour,
        "estimated_cost": round(gpu_hours * price_per_hour, 4),
    }
    if gpus == 0:
        out["cpu_wall_time_s"] = round(wall_s, 2)
    return out


def build_policy_asset(partitions_def: dg.MultiPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="policy",
        partitions_def=partitions_def,
        # task_config is partitioned by task and region_infrastructure by region: each maps to its dimension of
        # task × region (inferred by Dagster, lib/partitions.py)
        deps=["task_config", "region_infrastructure"],
        group_name="training",
        kinds={"pytorch", "skrl"},
        pool=TRAINING_POOL,
        description="PPO policy and checkpoints trained from the task config in this region. Metadata: MLflow run, "
        "checkpoint URIs, env-steps/s, wall time, estimated cost.",
    )
    def policy(
        context: dg.AssetExecutionContext, launcher: TrainerLauncher, mlflow: MLflowRegistry
    ) -> dg.MaterializeResult:
        task, region = task_region(context)
        settings = launcher.settings
        config = latest_metadata(context, "task_config", task)
        # device and gpus as the task_config asset parsed them: the YAML is not parsed again here
        snapshot, config_sha, device, gpus = require(config, "task_config", "snapshot_path", "sha256", "device",
                                                     "gpus")
        # a retried run (re-execution) keeps its root run's folder, so a remote backend's --resume finds the checkpoints
        run_dir = f"{launcher.artifact_root(region)}/{task}/{region}/{context.run.root_run_id or context.run.run_id}"
        request = LaunchRequest(
            task=task,
            region=region,
            step="train",
            config_yaml=Path(snapshot).read_text(),
            args=[
                "--run-dir", run_dir,
                "--resume",  # a fresh folder starts from scratch; a retried run continues from its last checkpoint
                "--tracking-uri", mlflow.uri(),
                # a sweep's trials log to their base task's experiment, side by side with its other runs
                "--experiment", mlflow.experiment_name(str(config.get("sweep_base") or task)),
                *cli_flags(settings.train_args(region)),
            ],
            gpus=launcher.gpus(region),
            task_device=str(device),
            task_gpus=int(gpus),
        )
        monitor = monitor_for(context, config)  # a sweep trial: early-stopped against the sweep's completed trials
        started = time.monotonic()
        invocation = launcher.launch(context, request, monitor=monitor)
        if monitor is not None and monitor.stopped and not any(
                isinstance(r, dg.MaterializeResult) for r in invocation.get_results(implicit_materializations=False)):
            return stopped_trial(context, launcher, request, run_dir, config, monitor, time.monotonic() - started)
        results = invocation.get_results()
        mat = single_materialization(results, "train")
        meta = plain(mat.metadata)
        require(meta, "trainer train", "run_dir", "checkpoint_uri")
        extra: dict[str, Any] = cost_metadata(meta, settings.gpu_price_per_hour(region))
        if monitor is not None:
            extra.update(trial_metadata(config, monitor, STATUS_COMPLETED, meta))
        extra["backend"] = settings.backend_name(region)
        extra["task_config_snapshot"] = dg.MetadataValue.path(str(snapshot))
        extra["task_config_sha256"] = config_sha
        if meta.get("mlflow_run_id"):
            try:
                extra["mlflow_run_url"] = dg.MetadataValue.url(mlflow.run_url(str(meta["mlflow_run_id"])))
            except Exception as e:  # noqa: BLE001 - a tracking outage must not fail a finished training
                context.log.warning(f"could not build the MLflow run link: {type(e).__name__}: {e}")
        return dg.MaterializeResult(metadata={**with_uris(dict(mat.metadata or {})), **extra},
                                    data_version=mat.data_version)

    return policy


def stopped_trial(context: dg.AssetExecutionContext, launcher: TrainerLauncher, request: LaunchRequest,
                  run_dir: str, config: dict[str, Any], monitor: TrialMonitor, wall_s: float) -> dg.MaterializeResult:
    """An early-stopped sweep trial is materialized, not failed: status `stopped`, its last stored checkpoint and
    its cost so far (GPU-hours from the orchestrator's wall time of the launch)."""
    _, region = task_region(context)
    settings = launcher.settings
    stored = stopped_run_metadata(run_dir)
    gpus = request.gpus if str(config.get("device", "cpu")).startswith("cuda") else 0
    return dg.MaterializeResult(metadata={
        **with_uris(stored),
        **trial_metadata(config, monitor, STATUS_STOPPED, {}),
        **cost_metadata({"wall_time_s": wall_s, "gpu_count": gpus}, settings.gpu_price_per_hour(region)),
        "wall_time_s": round(wall_s, 3),
        "backend": settings.backend_name(region),
        "task_config_snapshot": dg.MetadataValue.path(str(config["snapshot_path"])),
        "task_config_sha256": config["sha256"],
    })
