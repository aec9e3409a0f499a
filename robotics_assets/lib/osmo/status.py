"""OSMO workflow states (names as in NVIDIA/OSMO `src/utils/job/workflow.py::WorkflowStatus`)."""

from __future__ import annotations

import enum


class WorkflowStatus(str, enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    WAITING = "WAITING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    FAILED_SUBMISSION = "FAILED_SUBMISSION"
    FAILED_SERVER_ERROR = "FAILED_SERVER_ERROR"
    FAILED_EXEC_TIMEOUT = "FAILED_EXEC_TIMEOUT"
    FAILED_QUEUE_TIMEOUT = "FAILED_QUEUE_TIMEOUT"
    FAILED_CANCELED = "FAILED_CANCELED"
    FAILED_BACKEND_ERROR = "FAILED_BACKEND_ERROR"
    FAILED_IMAGE_PULL = "FAILED_IMAGE_PULL"
    FAILED_EVICTED = "FAILED_EVICTED"
    FAILED_START_ERROR = "FAILED_START_ERROR"
    FAILED_START_TIMEOUT = "FAILED_START_TIMEOUT"
    FAILED_PREEMPTED = "FAILED_PREEMPTED"

    @property
    def alive(self) -> bool:
        return self in ALIVE_STATES

    @property
    def failed(self) -> bool:
        return self.value.startswith("FAILED")

    @property
    def disruption(self) -> bool:
        """Lost to the infrastructure, not to our code: worth a restart that resumes from the last checkpoint."""
        return self in DISRUPTION_STATES


ALIVE_STATES = frozenset({WorkflowStatus.PENDING, WorkflowStatus.RUNNING, WorkflowStatus.WAITING})
DISRUPTION_STATES = frozenset(
    {WorkflowStatus.FAILED_BACKEND_ERROR, WorkflowStatus.FAILED_EVICTED, WorkflowStatus.FAILED_PREEMPTED}
)

# Task exit codes OSMO itself sets for infrastructure losses (NVIDIA/OSMO docs/user_guide/workflows/exit_codes.rst,
# `task.ExitCode`): 3001 backend error, 3004 evicted, 3006 preempted. With our `exitActions` mapping every code to
# FAIL, such a task ends FAILED but keeps its code, which is how the launcher still recognises the disruption.
DISRUPTION_EXIT_CODES = frozenset({3001, 3004, 3006})
# Container start failures the backend reports as FAILED_BACKEND_ERROR (after waiting ~10 min) but that no restart
# cures: a missing secret key, a bad mount (NVIDIA/OSMO src/operator/backend_listener.py, calculate_pod_status).
CONFIG_ERROR_REASONS = ("CreateContainerConfigError", "CreateContainerError", "InvalidImageName")
