"""Dagster Pipes over an Azure Blob container (orchestration side), for pods that share no filesystem with Dagster.

The remote side is ``dagster_pipes``' own ``PipesAzureBlobStorageContextLoader``/``...MessageWriter`` (see
``trainer/pipes_blob.py``); these are their counterparts. ``dagster_azure.pipes`` has equivalents, but they cannot be
used with this stack (checked 2026-12-07 with dagster-azure 0.29.27): ``dagster_azure.pipes/__init__`` imports its
Azure ML client, so the package needs ``azure-ai-ml``, whose ``azure-monitor-opentelemetry`` requires an
opentelemetry instrumentation set (``-flask`` 0.66b2) that was never published for the pinned
``opentelemetry-semantic-conventions==0.66b2`` (pip: no matching distribution). So the two small classes live here,
on Dagster's public ``PipesBlobStoreMessageReader`` / ``PipesContextInjector``, with the same blob layout.
Params carry ``account_url`` besides the container and key, so the remote side knows the endpoint and needs only
credentials (a connection string on Azurite, workload identity on AKS).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster import PipesBlobStoreMessageReader

from robotics_assets.lib.azure.identity import blob_service_client


def _ensure_container(client, container: str) -> None:
    from azure.core.exceptions import ResourceExistsError

    with contextlib.suppress(ResourceExistsError):
        client.get_container_client(container).create_container()


class PipesBlobContextInjector(dg.PipesContextInjector):
    """Writes the Pipes context to ``<container>/<prefix>/<session>/context.json``; deletes it when the session ends."""

    def __init__(self, *, client: Any, container: str, prefix: str = "sessions"):
        self.client = client
        self.container = container
        self.prefix = prefix.strip("/")

    @contextlib.contextmanager
    def inject_context(self, context_data: dg.PipesContextData) -> Iterator[dg.PipesParams]:
        key = f"{self.prefix}/{uuid.uuid4().hex}/context.json"
        _ensure_container(self.client, self.container)
        blob = self.client.get_blob_client(self.container, key)
        blob.upload_blob(json.dumps(context_data).encode(), overwrite=True)
        try:
            yield {"bucket": self.container, "key": key, "account_url": self.client.url.rstrip("/")}
        finally:
            with contextlib.suppress(Exception):
                blob.delete_blob()

    def no_messages_debug_text(self) -> str:
        return (
            f"Context was written to Azure Blob container {self.container!r}. The external process must open Pipes "
            "with dagster_pipes.PipesAzureBlobStorageContextLoader (trainer.pipes_blob does)."
        )


class PipesBlobMessageReader(PipesBlobStoreMessageReader):
    """Reads the chunks ``<prefix>/<session>/messages/<n>.json`` written by ``PipesAzureBlobStorageMessageWriter``."""

    def __init__(
        self,
        *,
        client: Any,
        container: str,
        prefix: str = "sessions",
        interval: float = 2,
        include_stdio_in_messages: bool = False,
        cleanup: bool = True,
    ):
        super().__init__(interval=interval)
        self.client = client
        self.container = container
        self.prefix = prefix.strip("/")
        self.include_stdio_in_messages = include_stdio_in_messages
        self.cleanup = cleanup

    @contextlib.contextmanager
    def get_params(self) -> Iterator[dg.PipesParams]:
        key_prefix = f"{self.prefix}/{uuid.uuid4().hex}/messages"
        _ensure_container(self.client, self.container)
        try:
            yield {
                "bucket": self.container,
                "key_prefix": key_prefix,
                "account_url": self.client.url.rstrip("/"),
                "include_stdio_in_messages": self.include_stdio_in_messages,
            }
        finally:
            if self.cleanup:
                container = self.client.get_container_client(self.container)
                with contextlib.suppress(Exception):
                    for name in list(container.list_blob_names(name_starts_with=key_prefix + "/")):
                        container.delete_blob(name)

    def messages_are_readable(self, params: dg.PipesParams) -> bool:
        return True  # the container exists (created in get_params); chunks appear as the process writes them

    def download_messages_chunk(self, index: int, params: dg.PipesParams) -> str | None:
        from azure.core.exceptions import ResourceNotFoundError

        key = f"{params['key_prefix']}/{index}.json"
        try:
            return self.client.get_blob_client(params["bucket"], key).download_blob().readall().decode()
        except ResourceNotFoundError:
            return None

    def no_messages_debug_text(self) -> str:
        return (
            f"Messages were expected in Azure Blob container {self.container!r}. The external process must open "
            "Pipes with dagster_pipes.PipesAzureBlobStorageMessageWriter (trainer.pipes_blob does)."
        )


def blob_pipes(
    *,
    account_url: str,
    container: str = "pipes",
    prefix: str = "sessions",
    interval: float = 2,
    include_stdio_in_messages: bool = False,
) -> tuple[PipesBlobContextInjector, PipesBlobMessageReader]:
    """A fresh (injector, reader) pair on one Blob container; credentials per ``identity`` (never from config)."""
    client = blob_service_client(account_url)
    return (
        PipesBlobContextInjector(client=client, container=container, prefix=prefix),
        PipesBlobMessageReader(
            client=client,
            container=container,
            prefix=prefix,
            interval=interval,
            include_stdio_in_messages=include_stdio_in_messages,
        ),
    )
