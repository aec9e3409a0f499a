"""Where task configs come from: a `TaskConfigSource` lists `(name, bytes)`; a folder by default.

The sensor and the `task_config` asset see only this interface. Sources are chosen by the location's URL scheme from
one table (as `lib/launch/resource.py` registers backends): the built-in Azure Blob source is named by import path,
so neither module imports the other at load; another source plugs in with `register_task_config_source(scheme,
factory)` without touching the sensor or the asset.
"""

from __future__ import annotations

import hashlib
import importlib
import re
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
        return [(name, _head(path)) for name, path in self._files().items()]

    def read(self, name: str) -> bytes:
        path = self._files().get(name)
        if path is None:
            raise TaskConfigError(f"{self.folder}: no {name}.yaml (task configs present: {', '.join(self._files())})")
        return _head(path)


def _head(path: Path) -> bytes:
    """At most one byte more than a config may have: an oversized file is refused by validation, never read whole."""
    from trainer.safe_yaml import MAX_BYTES

    with path.open("rb") as f:
        return f.read(MAX_BYTES + 1)


SourceFactory = Callable[[str], TaskConfigSource]

# URL scheme -> "module:callable" (imported on first use, so the Azure SDK loads only for a Blob location) or a
# factory; the callable is `(location) -> TaskConfigSource`. A location without a scheme is a folder.
_SOURCES: dict[str, str | SourceFactory] = {
    "file": lambda location: FolderSource(location.removeprefix("file://")),
    "https": "robotics_assets.lib.azure.task_configs:BlobTaskConfigSource",
    "http": "robotics_assets.lib.azure.task_configs:BlobTaskConfigSource",  # Azurite
}


def register_task_config_source(scheme: str, factory: str | SourceFactory) -> None:
    """Serve locations `<scheme>://...` with `factory(location)`; `factory` may be a `"module:callable"` path."""
    _SOURCES[scheme] = factory


def registered_schemes() -> list[str]:
    return sorted(_SOURCES)


def _factory(scheme: str, location: str) -> SourceFactory:
    target = _SOURCES.get(scheme)
    if target is None:
        raise TaskConfigError(
            f"task_configs: {location!r}: no source for scheme {scheme!r} "
            f"(use a folder path, or one of: {', '.join(registered_schemes())})"
        )
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def open_source(location: str) -> TaskConfigSource:
    if "://" not in location:
        return FolderSource(location)
    factory = _factory(location.split("://", 1)[0], location)
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


def validate_task_config(name: str, content: bytes, *, location: str = "") -> ValidTaskConfig:
    """The trainer's own validation (`trainer.config.parse_task_config`, imported lazily: pydantic and YAML only,
    no torch), the same rules `python -m trainer validate` applies, `name` = file name included."""
    where = f"{location.rstrip('/')}/{name}.yaml" if location else f"{name}.yaml"
    if not TASK_NAME.match(name):
        raise TaskConfigError(
            f"{where}: file name: {name!r} is not a valid task name "
            "(use letters, digits, '-' or '_', at most 63 characters, e.g. cartpole.yaml)"
        )
    from trainer.config import (  # lazy: keeps the trainer out of the definitions' import
        ConfigError,
        parse_task_config,
    )

    try:
        cfg = parse_task_config(content, where, file_name=name)
    except ConfigError as e:  # already `file: field: problem (allowed: ...)`
        raise TaskConfigError(str(e)) from None
    return ValidTaskConfig(name=name, sha256=content_hash(content), summary=summarize(cfg))


def summarize(cfg: Any) -> dict[str, Any]:
    """The fields shown in the `task_config` materialization's metadata; `device` and `gpus` are what a launch
    needs, so nothing downstream has to parse the YAML again."""
    return {"name": cfg.name, "task": cfg.task, "seed": cfg.seed, "num_envs": cfg.num_envs,
            "timesteps": cfg.timesteps, "device": cfg.device, "gpus": cfg.gpus,
            "success": cfg.success.model_dump(mode="json")}
