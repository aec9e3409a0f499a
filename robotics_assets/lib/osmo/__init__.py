"""NVIDIA OSMO: a REST client (no official Python client exists) and the workflow spec renderer."""

from robotics_assets.lib.osmo.client import OsmoClient, OsmoError, token_from_env
from robotics_assets.lib.osmo.spec import WorkflowSpec, label_value, render_workflow
from robotics_assets.lib.osmo.status import DISRUPTION_STATES, WorkflowStatus

__all__ = [
    "DISRUPTION_STATES",
    "OsmoClient",
    "OsmoError",
    "WorkflowSpec",
    "WorkflowStatus",
    "label_value",
    "render_workflow",
    "token_from_env",
]
