"""The whole OSMO path, for real: Dagster -> OSMO client -> OSMO stand-in -> `python -m trainer` (real CPU training)
-> Pipes over Blob (Azurite) -> Dagster. The training workflow is preempted once after its first checkpoint; the
restarted workflow resumes that checkpoint, and the evaluation of the final policy passes the task's gate."""

from __future__ import annotations

import json
import os

import dagster as dg
import pytest

from robotics_assets.lib.launch.base import LaunchRequest
from robotics_assets.lib.launch.osmo import OsmoBackend, OsmoOptions
from robotics_assets.lib.osmo import OsmoClient
from robotics_assets.lib.osmo.spec import Resources
from tests.backends.conftest import ROOT
from tests.standins.osmo_server import OsmoStandIn, StandInServer

TOKEN = "chain-token-0123456789"
# InvertedPendulum solves in seconds on an idle CPU; a short budget and a modest gate keep this test lean.
CONFIG = """\
name: pendulum
task: gymnasium:InvertedPendulum-v5
num_envs: 4
timesteps: 1024
seed: 3
device: cpu
checkpoint_interval: 256
success: {min_mean_return: 8.0, episodes: 4}
"""


@pytest.fixture
def chain(azurite, tmp_path):
    from azure.storage.blob import BlobServiceClient

    with BlobServiceClient.from_connection_string(azurite.connection_string) as svc:
        if not svc.get_container_client("pipes").exists():
            svc.create_container("pipes")
    base_env = {k: v for k, v in os.environ.items() if k not in ("AZURE_STORAGE_CONNECTION_STRING",)}
    standin = OsmoStandIn(token=TOKEN, pools=("gpu-pool",), workdir=str(tmp_path / "osmo"),
                          base_env={**base_env, "PYTHONPATH": str(ROOT), "ROBOTICS_DATA_DIR": str(tmp_path / "data")},
                          credentials={"azurite": {"connection_string": azurite.connection_string}})
    with StandInServer(standin) as server:
        backend = OsmoBackend(OsmoClient(server.url, token=TOKEN), OsmoOptions(
            pool="gpu-pool", image="crtest.azurecr.io/robotics-trainer:0.1.0", resources=Resources(cpu=2),
            credentials={"azurite": {"AZURE_STORAGE_CONNECTION_STRING": "connection_string"}},
            pipes="blob", pipes_options={"account_url": azurite.blob_endpoint, "container": "pipes", "interval": 1},
            poll_interval_s=0.5))
        yield server, backend


def test_preempted_training_resumes_and_the_policy_passes_the_gate(chain, tmp_path, monkeypatch):
    server, backend = chain
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", server.standin.credentials["azurite"]["connection_string"])
    run_dir, out_dir = tmp_path / "run", tmp_path / "eval"

    def checkpoint_recorded() -> bool:  # strike once the manifest lists a resumable checkpoint
        try:
            listed = json.loads((run_dir / "manifest.json").read_text()).get("checkpoints", {})
        except (OSError, ValueError):
            return False
        return any(name.startswith("agent_") for name in listed)

    server.standin.inject_disruption("FAILED_PREEMPTED", labels={"robotics-step": "train"}, when=checkpoint_recorded)

    @dg.asset
    def policy(context):
        request = LaunchRequest(task="pendulum", region="eastus", step="train", config_yaml=CONFIG,
                                args=["--run-dir", str(run_dir), "--no-tracking"])
        return backend.launch(context, request).get_materialize_result()

    @dg.asset(deps=[policy], check_specs=[dg.AssetCheckSpec("evaluation_gate", asset="evaluation")])
    def evaluation(context):
        request = LaunchRequest(task="pendulum", region="eastus", step="evaluate", config_yaml=CONFIG,
                                args=["--run-dir", str(run_dir), "--out", str(out_dir)])
        yield from backend.launch(context, request).get_results()

    result = dg.materialize([policy, evaluation], raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]

    workflows = [server.standin.workflows[n] for n in server.standin.submissions]
    assert [w.status for w in workflows] == ["FAILED_PREEMPTED", "COMPLETED", "COMPLETED"]
    assert "--resume" in workflows[1].spec_text

    train = {k: v.value for k, v in result.asset_materializations_for_node("policy")[0].metadata.items()}
    assert [a["status"] for a in train["osmo_attempts"]] == ["FAILED_PREEMPTED", "COMPLETED"]
    assert "AZURE_STORAGE_CONNECTION_STRING: connection_string" in train["osmo_workflow_spec"]  # by reference
    assert server.standin.credentials["azurite"]["connection_string"] not in train["osmo_workflow_spec"]
    resumed = json.loads((run_dir / "train_result.json").read_text())
    assert resumed["resumed_from"] and resumed["start_timestep"] > 0, "the restart continued, not started over"
    assert json.loads((run_dir / "manifest.json").read_text())["timesteps_done"] == 1024

    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "evaluation_gate" and check.passed
