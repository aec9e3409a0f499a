"""What the `policy` asset does differently for a sweep trial: watch its streamed metric, stop it early, record its
curve and status. A task config is a trial when its `task_config` materialization carries `sweep` metadata
(robotics_assets/lib/sweep_files.py); for any other task nothing here runs."""

from __future__ import annotations

from typing import Any

import dagster as dg

from robotics_assets.lib.early_stopping import Curve, TrialMonitor
from robotics_assets.lib.upstream import metadata_value

STATUS_COMPLETED = "completed"
STATUS_STOPPED = "stopped"


def trial_partitions(context: dg.AssetExecutionContext, trials: list[str]) -> list[str]:
    """Every task × region partition key of these trials (a trial may have been trained in any region)."""
    partitions_def = context.assets_def.partitions_def
    assert isinstance(partitions_def, dg.MultiPartitionsDefinition)
    regions = next(d.partitions_def for d in partitions_def.partitions_defs if d.name == "region").get_partition_keys()
    return [str(dg.MultiPartitionKey({"task": t, "region": r})) for t in trials for r in regions]


def sweep_trial_records(instance: dg.DagsterInstance, partitions: list[str]) -> dict[str, dict[str, Any]]:
    """The latest `policy` materialization's metadata of each partition that has one."""
    out: dict[str, dict[str, Any]] = {}
    for key in partitions:
        recs = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("policy"), asset_partitions=[key]), limit=1).records
        if recs and recs[0].asset_materialization is not None:
            out[key] = {k: metadata_value(v) for k, v in recs[0].asset_materialization.metadata.items()}
    return out


def curve_of(meta: dict[str, Any]) -> Curve:
    return {int(t): float(v) for t, v in (meta.get("metric_curve") or [])}


def monitor_for(context: dg.AssetExecutionContext, config: dict[str, Any]) -> TrialMonitor | None:
    """A monitor for a trial's training, comparing it with the completed trials of the same sweep revision."""
    if not config.get("sweep"):
        return None
    me = context.partition_key
    sha = config["sweep_sha256"]
    others = [p for p in trial_partitions(context, list(config.get("sweep_trials") or [])) if p != str(me)]

    def completed() -> list[Curve]:
        records = sweep_trial_records(context.instance, others)
        return [curve_of(m) for m in records.values()
                if m.get("sweep_sha256") == sha and m.get("trial_status") == STATUS_COMPLETED]

    return TrialMonitor(metric=config["sweep_metric"], direction=config["sweep_direction"],
                        rule=config.get("sweep_early_stopping") or {}, completed=completed, log=context.log.info)


def final_value(curve: Curve, meta: dict[str, Any], metric: str) -> float | None:
    if curve:
        return curve[max(curve)]
    value = meta.get(f"final_{metric}")
    return None if value is None else float(value)


def trial_metadata(config: dict[str, Any], monitor: TrialMonitor, status: str,
                   trainer_meta: dict[str, Any]) -> dict[str, Any]:
    metric = config["sweep_metric"]
    curve = dict(sorted(monitor.curve.items()))
    value = final_value(curve, trainer_meta, metric)
    return {
        "sweep": config["sweep"],
        "sweep_sha256": config["sweep_sha256"],
        "sweep_base": config["sweep_base"],
        "trial_status": status,
        "trial_params": dg.MetadataValue.json(config.get("trial_params") or {}),
        "metric_name": metric,
        **({"metric_value": value} if value is not None else {}),
        "metric_curve": dg.MetadataValue.json([[t, v] for t, v in curve.items()]),
        **({"stopped_reason": monitor.stopped} if status == STATUS_STOPPED else {}),
    }


def stopped_run_metadata(run_dir: str) -> dict[str, Any]:
    """A stopped trial keeps the checkpoints it stored: the latest one (and its sha256) from the run's manifest,
    read from the run's store (local folder or Blob), as the trainer recorded it."""
    import json
    import tempfile
    from pathlib import Path

    from trainer import checkpoints
    from trainer.storage.run_location import local_folder

    folder = local_folder(run_dir)
    if folder is not None:
        manifest = checkpoints.read_manifest(folder)
        uri_for = lambda rel: str(folder / rel)
    else:
        from trainer.storage.open import open_store

        store = open_store(run_dir)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    store.get_file(checkpoints.MANIFEST, Path(tmp) / checkpoints.MANIFEST)
                    manifest = json.loads((Path(tmp) / checkpoints.MANIFEST).read_text())
                except Exception:  # noqa: BLE001 - no manifest yet: stopped before its first checkpoint
                    manifest = None
            uri_for = store.uri_for
        finally:
            getattr(store, "close", lambda: None)()
    entries = [(e["timestep"], name, e) for name, e in ((manifest or {}).get("checkpoints") or {}).items()
               if name.startswith("agent_")]
    out: dict[str, Any] = {"run_dir": run_dir, "timesteps_done": int((manifest or {}).get("timesteps_done") or 0)}
    if entries:
        step, name, entry = max(entries)
        out.update(checkpoint_uri=uri_for(f"{checkpoints.CHECKPOINT_DIR}/{name}"), checkpoint_sha256=entry["sha256"],
                   checkpoint_timestep=int(step))
    for key in ("mlflow_run_id", "device", "num_envs"):
        if (manifest or {}).get(key) is not None:
            out[key] = manifest[key]
    return out
