"""The Dagster instance of a deployment: DAGSTER_HOME under the data dir, dagster.yaml rendered from the settings.

Concurrency lives here, not in code: runs are limited per region through the `dagster/partition/region` tag that
Dagster puts on every task × region run, and training steps share the `training` pool (GPU or CPU slots).
"""

from __future__ import annotations

import os
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
    }


def write_instance_config(settings: Settings, home: Path | None = None) -> Path:
    """Render dagster.yaml into DAGSTER_HOME (idempotent: rewritten only when the settings changed it)."""
    home = home or settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    text = "# Rendered from the deployment settings by robotics_assets.lib.instance; edit the settings instead.\n"
    text += yaml.safe_dump(instance_config(settings), sort_keys=False)
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return path
