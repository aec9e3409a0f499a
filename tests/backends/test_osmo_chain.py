"""The whole OSMO path with the real trainer: Dagster -> OSMO client (JWT auth) -> OSMO stand-in -> `python -m trainer`
(real CPU training in the task's private scratch) -> Pipes over Blob (Azurite) -> Dagster, the run directory published
to Azurite (`--run-dir` a Blob URL). Nothing the task wrote is read from this machine's disk: the test checks the store.
(Resuming a preempted training from the store, and evaluation/export as their own tasks, are the end-to-end test of
the run-directory-in-the-store work.)"""

from __future__ import annotations

import os
import uuid

import dagster as dg
import pytest

from robotics_assets.lib.launch.base import LaunchRequest
from robotics_assets.lib.launch.osmo import OsmoBackend, OsmoOptions
from robotics_assets.lib.osmo import OsmoClient
from robotics_assets.lib.osmo.spec import Resources
from tests.backends.conftest import ROOT
from tests.configs import PENDULUM_YAML
from tests.standins.osmo_server import OsmoStandIn, StandInServer

TOKEN = "chain-token-0123456789"
# InvertedPendulum trains in seconds on an idle CPU; a short budget keeps this test lean.
# the shared pendulum config with a stricter gate, passed by this chain's training
CONFIG = PENDULUM_YAML.replace("success: {min_mean_return: 1.0, episodes: 2}",
                               "success: {min_mean_return: 8.0, episodes: 4}")
assert "min_mean_return: 8.0" in CONFIG


@pytest.fixture
def chain(azurite, tmp_path, monkeypatch):
    from azure.storage.blob import BlobServiceClient

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)  # Dagster's side + the test
    with BlobServiceClient.from_connection_string(azurite.connection_string) as svc:
        for container in ("pipes", "runs"):
            if not svc.get_container_client(container).exists():
                svc.create_container(container)
    standin = OsmoStandIn(token=TOKEN, pools=("gpu-pool",), workdir=str(tmp_path / "osmo"), jwt_lifetime_s=10,
                          base_env={**os.environ, "PYTHONPATH": str(ROOT)},
                          credentials={"azurite": {"connection_string": azurite.connection_string}})
    with StandInServer(standin) as server:
        backend = OsmoBackend(OsmoClient(server.url, token=TOKEN), OsmoOptions(
            pool="gpu-pool", image="crtest.azurecr.io/robotics-trainer:0.1.0", resources=Resources(cpu=2),
            credentials={"azurite": {"AZURE_STORAGE_CONNECTION_STRING": "connection_string"}},
            pipes="blob", pipes_options={"account_url": azurite.blob_endpoint, "container": "pipes", "interval": 1},
            poll_interval_s=0.5))
        yield server, backend, azurite


@pytest.mark.slow
def test_real_training_in_a_task_reports_through_blob_and_publishes_to_the_store(chain):
    from trainer.storage import open_store

    server, backend, azurite = chain
    published = f"{azurite.blob_endpoint}/runs/pendulum/{uuid.uuid4().hex[:8]}"

    @dg.asset
    def policy(context):
        request = LaunchRequest(task="pendulum", region="eastus", step="train", config_yaml=CONFIG,
                                args=["--run-dir", published, "--no-tracking"])  # the run lives in the store
        return backend.launch(context, request).get_materialize_result()

    result = dg.materialize([policy], raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    (wf,) = [server.standin.workflows[n] for n in server.standin.submissions]
    assert wf.status == "COMPLETED" and server.standin.jwts_issued >= 1

    train = {k: v.value for k, v in result.asset_materializations_for_node("policy")[0].metadata.items()}
    assert "AZURE_STORAGE_CONNECTION_STRING: connection_string" in train["osmo_workflow_spec"]  # by reference
    assert azurite.connection_string not in train["osmo_workflow_spec"]
    assert train["checkpoint_uri"].startswith(published)
    store = open_store(published)
    assert store.exists("manifest.json") and store.info(train["checkpoint_uri"][len(published) + 1:]).sha256 == \
        train["checkpoint_sha256"]
    assert train["run_dir"] == published
    assert not any(server.standin.workdir.rglob("manifest.json")), "the task's scratch died with it"
