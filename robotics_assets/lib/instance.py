"""The Dagster instance of a deployment: DAGSTER_HOME under the data dir, dagster.yaml rendered from the settings.

Concurrency lives here, not in code: runs are limited per region through the `dagster/partition/region` tag that
Dagster puts on every task × region run, and training and evaluation steps share the `training` pool (GPU or CPU
slots). So do run retries (infrastructure failures only) and run monitoring, which the daemon applies.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from robotics_assets.lib.settings import Settings

TRAINING_POOL = "training"


def instance_config(settings: Settings) -> dict:
    c = settings.raw.concurrency
    return {
        "concurrency": {
            "runs": {
                "max_concurrent_runs": c.max_concurrent_runs,
                "tag_concurrency_limits": [
                    {"key": "dagster/partition/region", "value": {"applyLimitPerUniqueValue": True}, "limit": c.per_region},
                ],
            },
            "pools": {"default_limit": c.gpu_runs, "granularity": "op"},
        },
        "telemetry": {"enabled": False},
        "nux": {"enabled": False},  # no community/newsletter dialog on a fresh instance's first page
        **run_health_config(settings),
    }


def run_health_config(settings: Settings) -> dict:
    """Run retries for crashed or evicted run workers (not for failed assets: a failed training or gate is the
    job's own verdict, and the registry step has its own retry policy), and run monitoring for stuck runs."""
    retries, monitoring = settings.raw.run_retries, settings.raw.run_monitoring
    out: dict = {
        "run_retries": {
            "enabled": retries.max_retries > 0,
            "max_retries": retries.max_retries,
            "retry_on_asset_or_op_failure": False,
        },
        "run_monitoring": {
            "enabled": monitoring.enabled,
            "start_timeout_seconds": monitoring.start_timeout_s,
            "cancel_timeout_seconds": monitoring.cancel_timeout_s,
            "poll_interval_seconds": monitoring.poll_interval_s,
            # the default run launcher cannot resume a run; a crashed one is retried by run_retries instead
            "max_resume_run_attempts": 0,
        },
    }
    if monitoring.max_runtime_s:
        out["run_monitoring"]["max_runtime_seconds"] = monitoring.max_runtime_s
    return out


def write_instance_config(settings: Settings, home: Path | None = None) -> Path:
    """Render dagster.yaml into DAGSTER_HOME (idempotent: rewritten only when the settings changed it)."""
    home = home or settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    text = "# Rendered from the deployment settings by robotics_assets.lib.instance; edit the settings instead.\n"
    text += yaml.safe_dump(instance_config(settings), sort_keys=False)
    if not path.exists() or path.read_text() != text:
        from trainer.files import (
            atomic_write_text,  # dependency-free; imported when rendering, not at load
        )

        atomic_write_text(path, text, mode=0o644)
    return path
