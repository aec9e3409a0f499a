"""`TrainerLauncher`: the one resource assets call; it picks each region's backend from the settings.

Backends are registered by name. Built-in names map to import paths so `k8s` and `osmo` (and their heavy
dependencies) load only when a region uses them; other backends call `register_backend` from their own module
and are named in the settings (`regions.<name>.backend`). Assets never change when a backend is added.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from robotics_assets.lib.launch.base import (
    Backend,
    BackendFactory,
    LaunchMonitor,
    LaunchRequest,
    with_task_gpus,
)
from robotics_assets.lib.settings import (
    Settings,
    SettingsError,
    current_settings,
    load_settings,
)

# name -> "module:callable" (lazy) or a factory; the callable is `(settings, region) -> Backend`.
_BACKENDS: dict[str, str | BackendFactory] = {
    "local": "robotics_assets.lib.launch.local:LocalBackend.from_settings",
    "k8s": "robotics_assets.lib.launch.k8s:K8sBackend.from_settings",
    "osmo": "robotics_assets.lib.launch.osmo:OsmoBackend.from_settings",
}


def register_backend(name: str, factory: str | BackendFactory) -> None:
    """Make `name` usable as a region's `backend` in the settings."""
    _BACKENDS[name] = factory


def registered_backends() -> list[str]:
    return sorted(_BACKENDS)


def _resolve_factory(name: str, settings: Settings) -> BackendFactory:
    target = settings.raw.backends.get(name) or _BACKENDS.get(name)
    if target is None:
        allowed = ", ".join(sorted({*_BACKENDS, *settings.raw.backends}))
        raise SettingsError(
            f"{settings.path}: backend {name!r} is not registered (allowed: {allowed}; "
            "or add it under `backends:` as name: 'module:factory')"
        )
    if not isinstance(target, str):
        return target
    module_name, sep, attr = target.partition(":")
    if not sep:
        raise SettingsError(f"{settings.path}: backends.{name}: {target!r} must look like 'package.module:factory'")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        where = f"backends.{name}" if name in settings.raw.backends else f"backend {name!r}"
        raise SettingsError(f"{settings.path}: {where}: cannot load {target!r} ({e})") from None
    return obj


class TrainerLauncher(dg.ConfigurableResource):
    """Launch trainer steps for a region on that region's configured backend (local | k8s | osmo | ...)."""

    settings_file: str | None = None  # default: ROBOTICS_SETTINGS, else config/local.yaml

    _backends: dict[str, Backend] = PrivateAttr(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return load_settings(self.settings_file) if self.settings_file else current_settings()

    def backend_for(self, region: str) -> Backend:
        if region not in self._backends:
            settings = self.settings
            factory = _resolve_factory(settings.backend_name(region), settings)
            self._backends[region] = factory(settings, region)
        return self._backends[region]

    def artifact_root(self, region: str) -> str:
        return self.settings.artifact_root(region)

    def gpus(self, region: str) -> int:
        """GPUs a launch in `region` gets (a `train` step on CUDA then takes its task config's `gpus`)."""
        return self.settings.gpus(region)

    def launch(
        self,
        context: dg.AssetExecutionContext,
        request: LaunchRequest,
        *,
        extras: Mapping[str, Any] | None = None,
        monitor: LaunchMonitor | None = None,
    ) -> dg.PipesClientCompletedInvocation:
        request = with_task_gpus(request)  # a multi-GPU task asks for its GPUs on every backend
        backend = self.backend_for(request.region)
        context.log.info(
            f"[launcher] {request.step} {request.task} in {request.region} on backend {backend.name!r} "
            f"(gpus={request.gpus}, run_key={request.run_key})"
        )
        if monitor is None:  # a backend registered from elsewhere need not know monitors until it is asked to
            return backend.launch(context, request, extras=extras)
        return backend.launch(context, request, extras=extras, monitor=monitor)
