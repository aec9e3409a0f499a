"""Trainer side of Pipes over Azure Blob: pick dagster_pipes' Blob loader/writer when Dagster injected Blob params.

Depends only on dagster-pipes and azure-storage-blob. The endpoint comes from the params (``account_url``, set by
``robotics_assets.lib.azure.pipes``); credentials from the pod's environment (``trainer.storage.identity``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dagster_pipes import (
    PipesAzureBlobStorageContextLoader,
    PipesAzureBlobStorageMessageWriter,
    PipesEnvVarParamsLoader,
)


def blob_pipes_io(env: Mapping[str, str] | None = None, interval: float = 2) -> dict[str, Any] | None:
    """``open_dagster_pipes`` keyword arguments for a Blob session, or None when the session is not over Blob.

    Use: ``open_dagster_pipes(**(blob_pipes_io() or {}))``.
    """
    env = os.environ if env is None else env
    params = PipesEnvVarParamsLoader()
    if not params.is_dagster_pipes_process():
        return None
    context_params, messages_params = params.load_context_params(), params.load_messages_params()
    if "bucket" not in messages_params:
        return None
    account_url = messages_params.get("account_url") or context_params.get("account_url")
    if not account_url:
        raise ValueError("Pipes over Blob: the session params carry no account_url (launch through "
                         "robotics_assets.lib.azure.pipes.blob_pipes)")
    from trainer.storage.identity import blob_service_client

    client = blob_service_client(account_url, env=env)
    kwargs: dict[str, Any] = {"message_writer": PipesAzureBlobStorageMessageWriter(client, interval=interval)}
    if "bucket" in context_params:
        kwargs["context_loader"] = PipesAzureBlobStorageContextLoader(client)
    return kwargs
