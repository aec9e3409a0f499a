"""Identity rules: explicit settings only; embedded and Azurite modes never import azure.identity."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.storage.identity import (
    AzureAuthError,
    auth_mode,
    blob_service_client,
    token_credential,
)

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter: the embedded default (local store, definitions loaded, a materialization) and the
# Azurite mode (Blob store round trip, Pipes over Blob, task configs from Blob), then reports what got imported.
_PROBE = r"""
import json, os, sys, tempfile
import dagster as dg
from trainer.storage import fetch, open_store
tmp = tempfile.mkdtemp()
store = open_store(tmp)
store.put_bytes(b"local", "checkpoints/a.pt"); assert store.read_bytes("checkpoints/a.pt") == b"local"
try:
    import robotics_assets.definitions as defs_module
    defs_loaded = True
except ImportError as e:
    defs_loaded = repr(e)
from robotics_assets.lib.secrets import secrets_provider
os.environ["PROBE_SECRET"] = "s3cr3t-value"
assert secrets_provider().get("PROBE_SECRET") == "s3cr3t-value"
embedded = "azure.identity" in sys.modules
if os.environ.get("AZURITE_ENDPOINT"):
    ep = os.environ["AZURITE_ENDPOINT"]
    blob = open_store(ep + "/checkpoints/probe")
    blob.put_bytes(b"remote", "x.bin"); assert blob.read_bytes("x.bin") == b"remote"
    from robotics_assets.lib.azure.pipes import blob_pipes
    injector, reader = blob_pipes(account_url=ep)
    from robotics_assets.lib.azure.task_configs import BlobTaskConfigSource
    BlobTaskConfigSource(ep + "/task-configs")
print(json.dumps({"embedded": embedded, "azurite": "azure.identity" in sys.modules, "defs": defs_loaded}))
"""


def test_embedded_and_azurite_modes_never_import_azure_identity(azurite, tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "ROBOTICS_DATA_DIR": str(tmp_path / "data"),
        "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "AZURITE_ENDPOINT": azurite.blob_endpoint,
    }
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"embedded": False, "azurite": False, "defs": True}, report


def test_modes_come_only_from_explicit_settings():
    with pytest.raises(AzureAuthError, match="no Azure credentials configured") as e:
        auth_mode({})
    assert "ROBOTICS_AZURE_AUTH" in str(e.value) and "AZURE_STORAGE_CONNECTION_STRING" in str(e.value)
    assert auth_mode({"AZURE_STORAGE_CONNECTION_STRING": "x"}) == "connection_string"
    assert auth_mode({"ROBOTICS_AZURE_AUTH": "cli", "AZURE_STORAGE_CONNECTION_STRING": "x"}) == "cli"
    with pytest.raises(AzureAuthError, match="allowed: connection_string, workload_identity, cli"):
        auth_mode({"ROBOTICS_AZURE_AUTH": "default"})  # no DefaultAzureCredential, by design


def test_workload_identity_needs_the_injected_variables(tmp_path):
    with pytest.raises(AzureAuthError, match="AZURE_FEDERATED_TOKEN_FILE not set"):
        token_credential("workload_identity", {"AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t"})
    token = tmp_path / "token"
    token.write_text("eyJfake")
    cred = token_credential(
        "workload_identity",
        {"AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000001", "AZURE_TENANT_ID":
         "00000000-0000-0000-0000-000000000002", "AZURE_FEDERATED_TOKEN_FILE": str(token)},
    )
    from azure.identity import WorkloadIdentityCredential

    assert isinstance(cred, WorkloadIdentityCredential)  # built without any network probe
    from azure.identity import AzureCliCredential

    assert isinstance(token_credential("cli", {}), AzureCliCredential)


def test_token_mode_client_builds_without_contacting_anything(tmp_path):
    token = tmp_path / "token"
    token.write_text("eyJfake")
    env = {"ROBOTICS_AZURE_AUTH": "workload_identity", "AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t",
           "AZURE_FEDERATED_TOKEN_FILE": str(token)}
    client = blob_service_client("https://acct.blob.core.windows.net", env=env)
    assert client.account_name == "acct" and client.credential is not None


def test_bad_connection_string_error_does_not_echo_it():
    with pytest.raises(AzureAuthError, match="not a valid storage connection string") as e:
        blob_service_client("https://a.blob.core.windows.net", env={"AZURE_STORAGE_CONNECTION_STRING": "hunter2hunter2"})
    assert "hunter2" not in str(e.value)
