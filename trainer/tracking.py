"""MLflow tracking for training: skrl's tracking data, params, tags, system metrics and artifacts.

Every MLflow call runs on one background thread fed by a queue, so a slow or unreachable tracking server never
stalls the training loop: the loop only enqueues. The first failure is reported once as a warning and further
tracking is dropped; training carries on. Default store: `sqlite:///<data>/mlflow/mlflow.db` (MLflow's `file:`
store refuses to start); any URI via `--tracking-uri` / `MLFLOW_TRACKING_URI`.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from trainer.paths import data_dir
from trainer.redaction import mask_userinfo, redact_credentials

log = logging.getLogger(__name__)


def default_tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{data_dir() / 'mlflow' / 'mlflow.db'}"


def metric_name(tag: str) -> str:
    """skrl tag -> MLflow metric name: "Reward / Total reward (mean)" -> "Reward/Total_reward_mean"."""
    tag = re.sub(r"\s*/\s*", "/", tag.strip())
    tag = re.sub(r"[()]", "", tag)
    return re.sub(r"[^\w/.\- ]", "_", tag).replace(" ", "_")


def aggregate(tracking_data: Mapping[str, list[float]]) -> dict[str, float]:
    """Reduce skrl's per-write buffers exactly as skrl's TensorBoard writer does (min/max/mean by tag suffix)."""
    out: dict[str, float] = {}
    for tag, values in tracking_data.items():
        if not len(values):
            continue
        reduce = np.min if tag.endswith("(min)") else np.max if tag.endswith("(max)") else np.mean
        out[tag] = float(reduce(values))
    return out


def _sanitize_value(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."


def flatten_params(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_params(value, f"{name}."))
        else:
            out[metric_name(name)] = _sanitize_value(value)
    return out


class Tracker:
    """Asynchronous MLflow run. All methods return immediately; `close()` drains the queue (bounded wait)."""

    def __init__(
        self,
        *,
        tracking_uri: str | None,
        experiment: str,
        run_name: str,
        run_id: str | None = None,
        system_metrics: bool = True,
        artifact_location: str | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri or default_tracking_uri()
        self.experiment = experiment
        self.run_id: str | None = run_id
        self.failed: str | None = None
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._ready = threading.Event()
        self._monitor = None
        # Bounded retries: against an outage the default (7 retries, exponential backoff) holds the queue minutes.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")
        self._thread = threading.Thread(target=self._work, name="mlflow-tracker", daemon=True)
        self._thread.start()
        self._submit(lambda: self._start(run_name, system_metrics, artifact_location))

    # --- worker side -------------------------------------------------------------------------------------------
    def _start(self, run_name: str, system_metrics: bool, artifact_location: str | None) -> None:
        from mlflow import MlflowClient

        if self.tracking_uri.startswith("sqlite:///"):
            Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            if artifact_location is None:
                # The sqlite store's default artifact root is ./mlruns of whatever the cwd is: pin it next to the db.
                db_dir = Path(self.tracking_uri.removeprefix("sqlite:///")).parent
                artifact_location = (db_dir / "artifacts" / metric_name(self.experiment)).as_uri()
        self.client = MlflowClient(self.tracking_uri)
        exp = self.client.get_experiment_by_name(self.experiment)
        exp_id = exp.experiment_id if exp else self.client.create_experiment(self.experiment, artifact_location)
        if self.run_id is None:
            self.run_id = self.client.create_run(exp_id, run_name=run_name).info.run_id
        else:
            self.client.update_run(self.run_id, status="RUNNING")
        self._ready.set()
        if system_metrics:
            from mlflow.system_metrics.system_metrics_monitor import (
                SystemMetricsMonitor,
            )

            self._monitor = SystemMetricsMonitor(self.run_id, tracking_uri=self.tracking_uri, resume_logging=True)
            self._monitor.start()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if self.failed:
                continue
            try:
                job()
            except Exception as exc:  # noqa: BLE001 - any tracking failure must not reach training
                first_line = str(exc).splitlines()[0][:300] if str(exc) else ""
                self.failed = redact_credentials(mask_userinfo(f"{type(exc).__name__}: {first_line}"))
                self._ready.set()
                warnings.warn(
                    f"MLflow tracking to {self._safe_uri()} failed ({self.failed}); training continues without "
                    "tracking",
                    RuntimeWarning,
                    stacklevel=1,
                )
                log.warning("MLflow tracking disabled: %s", self.failed)

    def _safe_uri(self) -> str:
        return redact_credentials(mask_userinfo(self.tracking_uri))

    def _submit(self, job: Callable[[], None]) -> None:
        if not self.failed:
            self._queue.put(job)

    # --- training side -----------------------------------------------------------------------------------------
    def wait_ready(self, timeout: float = 30.0) -> str | None:
        """Block until the run exists (or tracking failed); returns the run id or None."""
        self._ready.wait(timeout)
        return None if self.failed else self.run_id

    # Callers only enqueue plain values: building MLflow entities (and importing mlflow, seconds on a busy machine)
    # happens on the worker thread.
    def log_params(self, params: Mapping[str, Any]) -> None:
        items = [(k, _sanitize_value(v)) for k, v in params.items()]

        def job() -> None:
            from mlflow.entities import Param

            for i in range(0, len(items), 100):  # MLflow's log_batch limit for params
                self.client.log_batch(self.run_id, params=[Param(k, v) for k, v in items[i : i + 100]])

        self._submit(job)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        items = [(k, _sanitize_value(v)) for k, v in tags.items()]

        def job() -> None:
            from mlflow.entities import RunTag

            self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in items])

        self._submit(job)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        now = int(time.time() * 1000)
        items = [(metric_name(k), float(v)) for k, v in metrics.items() if np.isfinite(v)]

        def job() -> None:
            from mlflow.entities import Metric

            for i in range(0, len(items), 1000):
                chunk = items[i : i + 1000]
                self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, int(step)) for k, v in chunk])

        self._submit(job)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        self._submit(lambda: self.client.log_artifact(self.run_id, str(path), artifact_path))

    def close(self, status: str = "FINISHED", timeout: float = 120.0) -> bool:
        """Finish the run and drain the queue; returns False when tracking failed or did not finish in time."""

        def finish() -> None:
            if self._monitor is not None:
                self._monitor.finish()
            self.client.set_terminated(self.run_id, status=status)

        self._submit(finish)
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            warnings.warn(f"MLflow tracking did not finish within {timeout:.0f} s; abandoning it", RuntimeWarning)
            return False
        return not self.failed
