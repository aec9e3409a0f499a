"""Dagster Pipes session for the trainer; a silent no-op when the process was not launched by Dagster.

The trainer depends on `dagster-pipes` only (no `dagster`). Local launches use Pipes' default context loader and
message writer (env vars + a file channel); remote launches (k8s, OSMO) that inject Azure Blob params get the Blob
loader/writer from `trainer.pipes_blob`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any


class PipesSession:
    """Thin facade: the trainer calls these whether or not Dagster is listening."""

    def __init__(self, context: Any | None) -> None:
        self._context = context

    @property
    def active(self) -> bool:
        return self._context is not None

    def log(self, message: str) -> None:
        if self._context is not None:
            self._context.log.info(message)

    def report_materialization(self, metadata: Mapping[str, Any], data_version: str | None = None) -> None:
        if self._context is not None:
            self._context.report_asset_materialization(metadata=_clean(metadata), data_version=data_version)

    def report_check(self, check_name: str, passed: bool, metadata: Mapping[str, Any]) -> None:
        if self._context is not None:
            self._context.report_asset_check(check_name=check_name, passed=passed, metadata=_clean(metadata))

    def report_metric(self, timestep: int, **values: float | None) -> None:
        """One point of the training curve, as a Pipes custom message the orchestrator reads while the run goes on
        (early stopping of sweep trials: robotics_assets/lib/early_stopping.py)."""
        if self._context is not None:
            self._context.report_custom_message({"type": "metric", "timestep": int(timestep), **_clean(values)})


def _clean(metadata: Mapping[str, Any]) -> dict[str, Any]:
    # Pipes infers the metadata type from the Python value; None has no type, so leave such keys out.
    return {k: v for k, v in metadata.items() if v is not None}


@contextlib.contextmanager
def pipes_session() -> Iterator[PipesSession]:
    """Open the Pipes session when Dagster launched us (Blob channel when it injected Blob params), else a no-op."""
    from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes

    if not PipesEnvVarParamsLoader().is_dagster_pipes_process():
        yield PipesSession(None)
        return
    from trainer.pipes_blob import blob_pipes_io

    with open_dagster_pipes(**(blob_pipes_io() or {})) as context:
        yield PipesSession(context)
