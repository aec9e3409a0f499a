"""`task_configs`: the task-config location (folder by default) and the snapshots the asset writes."""


from pathlib import Path

import dagster as dg

from robotics_assets.lib.settings import current_settings
from robotics_assets.lib.sweep_files import SWEEPS_FOLDER, Sweep, SweepError, load_sweep
from robotics_assets.lib.task_sources import (
    TaskConfigError,
    TaskConfigSource,
    open_source,
)


class TaskConfigStore(dg.ConfigurableResource):
    """Reads task configs from `location` (default: the settings' `task_configs`) and keeps snapshots."""

    location: str | None = None
    snapshot_dir: str | None = None  # default: <data_dir>/task_configs

    def source(self) -> TaskConfigSource:
        return open_source(self.location or current_settings().task_configs)

    def sweep_files(self) -> list[tuple[str, bytes]]:
        """The sweep files (`<location>/sweeps/<name>.yaml`); none when that folder does not exist."""
        try:
            return self._sweep_source().list_configs()
        except TaskConfigError:
            return []

    def sweep(self, name: str, content: bytes | None = None) -> Sweep:
        """A sweep file expanded into its trials (SweepError naming file, field and fix)."""
        source, sweeps = self.source(), self._sweep_source()
        if content is None:
            try:
                content = sweeps.read(name)
            except TaskConfigError as e:
                raise SweepError(str(e)) from None
        return load_sweep(name, content, source.read, location=sweeps.location,
                          regions=current_settings().regions)

    def _sweep_source(self) -> TaskConfigSource:
        return open_source(f"{(self.location or current_settings().task_configs).rstrip('/')}/{SWEEPS_FOLDER}")

    def snapshot_path(self, name: str, sha256: str) -> Path:
        root = Path(self.snapshot_dir) if self.snapshot_dir else current_settings().data_dir / "task_configs"
        return root / name / f"{sha256[:16]}.yaml"
