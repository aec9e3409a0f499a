"""Where task configs come from: a `TaskConfigSource` lists `(name, bytes)`; a folder by default.

The sensor and the `task_config` asset see only this interface, so an Azure Blob container source plugs in by
registering a URL scheme (`register_task_config_source("az", factory)`) without touching either.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

# Dynamic partition keys: no separators Dagster uses in multi-partition keys and ranges ("|", ",", "...", "[]").
TASK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
CONFIG_SUFFIXES = (".yaml", ".yml")


class TaskConfigError(ValueError):
    """A task config that cannot be used; the message names the file, the field and the fix."""


@runtime_checkable
class TaskConfigSource(Protocol):
    location: str

    def list_configs(self) -> list[tuple[str, bytes]]:
        """Every config currently present, as (task name, file content), sorted by name."""
        ...

    def read(self, name: str) -> bytes:
        """The current content of one config; raises TaskConfigError if it is gone."""
        ...


class FolderSource:
    """One `<task>.yaml` per task in a folder (not recursive)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.location = str(self.folder)

    def _files(self) -> dict[str, Path]:
        if not self.folder.is_dir():
            raise TaskConfigError(
                f"{self.folder}: task-config folder not found (create it or set task_configs in the settings file)"
            )
        return {p.stem: p for p in sorted(self.folder.iterdir()) if p.suffix in CONFIG_SUFFIXES and p.is_file()}

    def list_configs(self) -> list[tuple[str, bytes]]:
        return [(name, path.read_bytes()) for name, path in self._files().items()]

    def read(self, name: str) -> bytes:
        path = self._files().get(name)
        if path is None:
            raise TaskConfigError(f"{self.folder}: no {name}.yaml (task configs present: {', '.join(self._files())})")
        return path.read_bytes()


SourceFactory = Callable[[str], TaskConfigSource]
_SOURCES: dict[str, SourceFactory] = {}


def register_task_config_source(scheme: str, factory: SourceFactory) -> None:
    """Serve locations `<scheme>://...` with `factory(location)`."""
    _SOURCES[scheme] = factory


def open_source(location: str) -> TaskConfigSource:
    if "://" not in location:
        return FolderSource(location)
    scheme = location.split("://", 1)[0]
    if scheme == "file":
        return FolderSource(location.removeprefix("file://"))
    if scheme in ("http", "https") and scheme not in _SOURCES:  # Azure Blob (docs/azure.md); azure SDK loads lazily
        from robotics_assets.lib.azure.task_configs import register

        register()
    factory = _SOURCES.get(scheme)
    if factory is None:
        raise TaskConfigError(
            f"task_configs: {location!r}: no source for scheme {scheme!r} "
            f"(use a folder path{', or one of: ' + ', '.join(_SOURCES) if _SOURCES else ''})"
        )
    try:
        return factory(location)
    except TaskConfigError:
        raise
    except ValueError as e:  # a malformed URL, missing credentials: the messages name the setting, never a secret
        raise TaskConfigError(f"task_configs: {e}") from None


def content_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@dataclass(frozen=True)
class ValidTaskConfig:
    name: str
    sha256: str
    summary: dict[str, Any]


def validate_task_config(name: str, content: bytes, *, location: str = "", quick: bool = False) -> ValidTaskConfig:
    """Validate with the trainer's own schema (imported lazily: it is pydantic only, no torch).

    `quick` checks the YAML against the schema without resolving the agent config (which re-reads the task's Isaac
    Lab agent YAML: ~30 ms a file); the sensor uses it so one tick can discover a thousand configs, and the
    `task_config` asset then runs the full validation before anything trains.
    """
    where = f"{location.rstrip('/')}/{name}.yaml" if location else f"{name}.yaml"
    if not TASK_NAME.match(name):
        raise TaskConfigError(
            f"{where}: file name: {name!r} is not a valid task name "
            "(use letters, digits, '-' or '_', at most 63 characters, e.g. cartpole.yaml)"
        )
    if quick:
        cfg = _quick_validate(where, content)
    else:
        from trainer.config import (
            load_task_config,  # lazy: keeps the trainer out of the definitions' import path
        )

        with tempfile.TemporaryDirectory(prefix="task-config-") as tmp:
            path = Path(tmp) / f"{name}.yaml"
            path.write_bytes(content)
            try:
                cfg = load_task_config(path)
            except Exception as e:  # noqa: BLE001 - the trainer's errors are already `file: field: problem (allowed: ...)`
                raise TaskConfigError(str(e).replace(str(path), where)) from None
    declared = getattr(cfg, "name", name)
    if declared != name:  # the partition key is the file name; two names for one task would confuse lineage
        raise TaskConfigError(f"{where}: name: {declared!r} must match the file name (rename the file or the field)")
    return ValidTaskConfig(name=name, sha256=content_hash(content), summary=summarize(cfg))


def _quick_validate(where: str, content: bytes) -> Any:
    import yaml
    from pydantic import ValidationError

    from trainer import config as trainer_config

    try:
        data = yaml.load(content, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        raise TaskConfigError(f"{where}: <yaml>: invalid YAML: {getattr(e, 'problem', None) or e}") from None
    if not isinstance(data, dict):
        raise TaskConfigError(f"{where}: <root>: expected a mapping of fields, got {type(data).__name__}")
    try:
        return trainer_config.TaskConfig.model_validate(data)
    except ValidationError as e:
        lines = getattr(trainer_config, "_pydantic_lines", lambda err: [str(err)])(e)
        raise TaskConfigError("\n".join(f"{where}: {line}" for line in lines)) from None


def summarize(cfg: Any) -> dict[str, Any]:
    """The few fields worth showing in Dagster metadata, whatever the schema version."""
    data = cfg.model_dump(mode="json") if hasattr(cfg, "model_dump") else dict(cfg)
    keep = ("name", "task_id", "family", "seed", "num_envs", "timesteps", "success", "success_criteria")
    summary = {k: data[k] for k in keep if k in data}
    for section in ("env", "training", "train"):
        if isinstance(data.get(section), dict):
            summary.update({k: v for k, v in data[section].items() if k in keep and k not in summary})
    return summary
