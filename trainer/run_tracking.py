"""MLflow for one training run: the params and tags it opens with, and its run id in the manifest.

The manifest, train_result.json and the Pipes metadata are read by many: the tracking URI in them is redacted.
"""

from __future__ import annotations

from typing import Any

from trainer.config import TaskConfig
from trainer.redaction import redact_uri


def record_run_id(manifest: dict[str, Any], tracker: Any, *, timeout: float) -> bool:
    """Put the MLflow run id (and the redacted tracking URI) in `manifest` once the run exists, waiting at most
    `timeout` seconds (a slow store may create it late); True when it is there."""
    run_id = tracker.wait_ready(timeout=timeout)
    manifest["mlflow_run_id"] = run_id
    manifest["mlflow_tracking_uri"] = redact_uri(tracker.tracking_uri) if run_id else None
    return bool(run_id)


def open_tracker(
    cfg: TaskConfig,
    agent_cfg: dict[str, Any],
    manifest: dict[str, Any],
    *,
    run_name: str,
    run_uri: str,
    resumed: bool,
    tracking_uri: str | None,
    experiment: str | None,
) -> Any:
    """A Tracker for this run (a resumed run continues its MLflow run), params logged once, tags every time."""
    from trainer.tracking import Tracker, flatten_params

    world, total_envs = manifest["world_size"], manifest["total_envs"]
    tracker = Tracker(
        tracking_uri=tracking_uri,
        experiment=experiment or cfg.name,
        run_name=run_name,
        run_id=manifest.get("mlflow_run_id") if resumed else None,
    )
    if not resumed:
        tracker.log_params(
            {
                **flatten_params(cfg.model_dump(mode="json", exclude={"agent"}), "task."),
                **flatten_params(agent_cfg, "agent."),
                "distributed.world_size": world,
                "distributed.num_envs_per_rank": cfg.num_envs,
                "distributed.total_envs": total_envs,
            }
        )
    tracker.set_tags(
        {
            "task": cfg.task,
            "task_name": cfg.name,
            "config_sha256": manifest["config_sha256"],
            "device": cfg.device,
            "num_envs": cfg.num_envs,
            "world_size": world,
            "run_dir": run_uri,
            "resumed": resumed,
            **{f"version.{k}": v for k, v in manifest["packages"].items()},
        }
    )
    record_run_id(manifest, tracker, timeout=10)  # never hold training back for long
    return tracker
