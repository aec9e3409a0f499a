"""Find a planted secret anywhere a run leaves traces: files, Dagster's event log, MLflow, Blob containers, text."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote


def _forms(secret: str) -> list[bytes]:
    """The secret as written, URL-quoted and base64'd: the shapes a leak usually takes."""
    raw = secret.encode()
    return [raw, quote(secret, safe="").encode(), base64.b64encode(raw)]


def find_secret(
    secret: str,
    *,
    folders: Iterable[Path] = (),
    texts: Iterable[str] = (),
    instance=None,
    mlflow_client=None,
    mlflow_run_ids: Iterable[str] = (),
    blob_containers: Iterable = (),
) -> list[str]:
    """Every place ``secret`` shows up, as 'where: context' strings (empty list = clean)."""
    forms = _forms(secret)
    hits: list[str] = []

    def check(where: str, data: bytes) -> None:
        for form in forms:
            i = data.find(form)
            if i >= 0:
                hits.append(f"{where}: ...{data[max(0, i - 40):i].decode(errors='replace')}<SECRET>...")
                return

    for folder in folders:
        for path in Path(folder).rglob("*"):
            if path.is_file():
                check(str(path), path.read_bytes())
    for n, text in enumerate(texts):
        check(f"text #{n}", text.encode())
    if instance is not None:
        for record in instance.get_run_records():
            run = record.dagster_run
            check(f"run {run.run_id} config/tags", (repr(run.run_config) + repr(run.tags)).encode())
            for entry in instance.all_logs(run.run_id):
                check(f"run {run.run_id} event {entry.dagster_event_type}", repr(entry).encode())
    if mlflow_client is not None:
        for run_id in mlflow_run_ids:
            run = mlflow_client.get_run(run_id)
            check(f"mlflow run {run_id} params", repr(run.data.params).encode())
            check(f"mlflow run {run_id} tags", repr(run.data.tags).encode())
    for container in blob_containers:
        for name in container.list_blob_names():
            check(f"blob {container.container_name}/{name}", container.download_blob(name).readall())
    return hits
