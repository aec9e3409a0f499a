"""Launchers: one resource (`TrainerLauncher`) over pluggable compute backends (local | k8s | osmo)."""

from robotics_assets.lib.launch.base import (
    Backend,
    BackendFactory,
    LaunchMonitor,
    LaunchRequest,
)
from robotics_assets.lib.launch.resource import (
    TrainerLauncher,
    register_backend,
    registered_backends,
)

__all__ = ["Backend", "BackendFactory", "LaunchMonitor", "LaunchRequest", "TrainerLauncher", "register_backend", "registered_backends"]
