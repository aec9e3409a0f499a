"""How a process authenticates to Azure Blob Storage: only from explicit settings, never by probing.

Modes (``ROBOTICS_AZURE_AUTH``, or inferred):
- ``connection_string``: ``AZURE_STORAGE_CONNECTION_STRING`` (Azurite, or an account key). The default whenever that
  variable is set. Never imports ``azure.identity``.
- ``workload_identity``: AKS workload identity; the webhook injects ``AZURE_CLIENT_ID``, ``AZURE_TENANT_ID`` and
  ``AZURE_FEDERATED_TOKEN_FILE``. Uses ``WorkloadIdentityCredential`` only.
- ``cli``: a developer laptop after ``az login``. Uses ``AzureCliCredential`` with a bounded timeout.

``DefaultAzureCredential`` is never built: off Azure its managed-identity probe can hang for minutes (NOTES.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

AUTH_ENV = "ROBOTICS_AZURE_AUTH"
CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
AUTH_MODES = ("connection_string", "workload_identity", "cli")
_WORKLOAD_VARS = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE")


class AzureAuthError(ValueError):
    """Azure settings are missing or inconsistent; the message names the setting and the fix (never a value)."""


def auth_mode(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    mode = env.get(AUTH_ENV, "").strip()
    if not mode:
        if env.get(CONNECTION_STRING_ENV):
            return "connection_string"
        raise AzureAuthError(
            f"no Azure credentials configured: set {CONNECTION_STRING_ENV} (Azurite or an account key) or "
            f"{AUTH_ENV} to one of {', '.join(AUTH_MODES)}"
        )
    if mode not in AUTH_MODES:
        raise AzureAuthError(f"{AUTH_ENV}={mode!r} is not a known mode (allowed: {', '.join(AUTH_MODES)})")
    return mode


def token_credential(mode: str, env: Mapping[str, str] | None = None) -> Any:
    """An Entra ID credential for ``workload_identity`` or ``cli``; the only place ``azure.identity`` is imported."""
    env = os.environ if env is None else env
    if mode == "workload_identity":
        missing = [v for v in _WORKLOAD_VARS if not env.get(v)]
        if missing:
            raise AzureAuthError(
                f"{AUTH_ENV}=workload_identity but {', '.join(missing)} not set: label the pod "
                "'azure.workload.identity/use: \"true\"' and give it the service account bound to the identity"
            )
        from azure.identity import WorkloadIdentityCredential

        return WorkloadIdentityCredential(
            tenant_id=env["AZURE_TENANT_ID"],
            client_id=env["AZURE_CLIENT_ID"],
            token_file_path=env["AZURE_FEDERATED_TOKEN_FILE"],
        )
    if mode == "cli":
        from azure.identity import AzureCliCredential

        return AzureCliCredential(process_timeout=15)
    raise AzureAuthError(f"{AUTH_ENV}={mode!r} does not use a token credential (allowed: workload_identity, cli)")


def blob_service_client(account_url: str, env: Mapping[str, str] | None = None, **client_kwargs: Any):
    """A ``BlobServiceClient`` for ``account_url`` authenticated per the mode above.

    With a connection string, its blob endpoint must be ``account_url``: pointing an Azurite connection string at a
    cloud URL (or the reverse) is a configuration error, not something to guess around.
    """
    from azure.storage.blob import BlobServiceClient

    env = os.environ if env is None else env
    mode = auth_mode(env)
    if mode == "connection_string":
        cs = env.get(CONNECTION_STRING_ENV)
        if not cs:
            raise AzureAuthError(f"{AUTH_ENV}=connection_string but {CONNECTION_STRING_ENV} is not set")
        try:
            client = BlobServiceClient.from_connection_string(cs, **client_kwargs)
        except ValueError:
            # The SDK's message may quote the string; ours names only the variable.
            raise AzureAuthError(f"{CONNECTION_STRING_ENV} is not a valid storage connection string") from None
        if client.url.rstrip("/") != account_url.rstrip("/"):
            client.close()
            raise AzureAuthError(
                f"{CONNECTION_STRING_ENV} is for {client.url.rstrip('/')} but the artifact URI is on "
                f"{account_url.rstrip('/')}: use a URI on that endpoint or the matching connection string"
            )
        return client
    return BlobServiceClient(account_url, credential=token_credential(mode, env), **client_kwargs)
