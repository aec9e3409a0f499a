"""`task_configs`: the task-config location (folder by default) and the snapshots the asset writes."""


from pathlib import Path

import dagster as dg

from robotics_assets.lib.settings import current_settings
from robotics_assets.lib.task_sources import TaskConfigSource, open_source


class TaskConfigStore(dg.ConfigurableResource):
    """Reads task configs from `location` (default: the settings' `task_configs`) and keeps snapshots."""

    location: str | None = None
    snapshot_dir: str | None = None  # default: <data_dir>/task_configs

    def source(self) -> TaskConfigSource:
        return open_source(self.location or current_settings().task_configs)

    def snapshot_path(self, name: str, sha256: str) -> Path:
        root = Path(self.snapshot_dir) if self.snapshot_dir else current_settings().data_dir / "task_configs"
        return root / name / f"{sha256[:16]}.yaml"
