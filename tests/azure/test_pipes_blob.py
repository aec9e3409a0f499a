"""Pipes over an Azure Blob container (Azurite): context in, messages out, nothing left behind."""

import hashlib
import sys
from pathlib import Path

import dagster as dg
import pytest

from robotics_assets.lib.azure.pipes import blob_pipes

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = Path(__file__).with_name("programs") / "blob_pipes_program.py"


@pytest.fixture
def blob_env(azurite, monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    monkeypatch.delenv("ROBOTICS_AZURE_AUTH", raising=False)
    return azurite


def _container(azurite, name="pipes"):
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(name)


def _materialize(asset_fn, resources, partition=None, instance=None):
    return dg.materialize(
        [asset_fn], resources=resources, partition_key=partition, raise_on_error=True, instance=instance
    )


def test_context_and_messages_travel_through_blob(blob_env, tmp_path):
    parts = dg.StaticPartitionsDefinition(["cartpole"])

    @dg.asset(partitions_def=parts)
    def remote_step(context: dg.AssetExecutionContext, pipes: dg.PipesSubprocessClient):
        return pipes.run(
            command=[sys.executable, str(PROGRAM)], context=context, extras={"probe": "from-dagster"},
            env={"AZURE_STORAGE_CONNECTION_STRING": blob_env.connection_string, "PYTHONPATH": str(ROOT)},
        ).get_materialize_result()

    injector, reader = blob_pipes(account_url=blob_env.blob_endpoint, container="pipes", interval=0.5)
    # The child gets only the connection string and Pipes' own variables: no shared files with this process.
    client = dg.PipesSubprocessClient(context_injector=injector, message_reader=reader, cwd=str(tmp_path))
    instance = dg.DagsterInstance.ephemeral()
    result = _materialize(remote_step, {"pipes": client}, partition="cartpole", instance=instance)
    mat = result.asset_materializations_for_node("remote_step")[0]
    assert mat.metadata["answer"].value == 42
    assert mat.metadata["extra_seen"].value == "from-dagster"
    logs = [r.user_message for r in instance.all_logs(result.run_id)]
    assert any("remote side got partition cartpole" in m for m in logs)  # a Pipes log line, sent through Blob
    assert list(_container(blob_env).list_blob_names()) == []  # context and message chunks cleaned up


def test_trainer_side_is_not_selected_without_blob_params(monkeypatch):
    from trainer.pipes_blob import blob_pipes_io

    monkeypatch.delenv("DAGSTER_PIPES_CONTEXT", raising=False)
    monkeypatch.delenv("DAGSTER_PIPES_MESSAGES", raising=False)
    assert blob_pipes_io() is None  # outside Dagster the trainer keeps the default (no-op) session


PLANTED = "planted-secret-7f3a9c1e5b"  # in the trainer's environment; must not surface anywhere
TINY_CONFIG = """\
name: pendulum
task: gymnasium:InvertedPendulum-v5
num_envs: 4
timesteps: 256
seed: 3
device: cpu
checkpoint_interval: 256
success: {min_mean_return: 1.0, episodes: 2}
"""


@pytest.mark.slow
def test_real_trainer_over_blob_pipes_with_artifacts_in_blob_and_mlflow_server(
    blob_env, mlflow_server, tmp_path, capfd
):
    """`python -m trainer train` on a tiny config, launched through Pipes whose only channel is Blob; the run dir is
    published to Azurite and tracking goes to a real MLflow server whose artifacts are in Azurite too. Then a planted
    secret (and the storage account key) is searched for in everything the run produced."""
    import mlflow

    from tests.azure.secret_scan import find_secret
    from tests.services import AZURITE_KEY
    from trainer.storage import fetch

    config = tmp_path / "pendulum.yaml"
    config.write_text(TINY_CONFIG)
    artifact_uri = f"{blob_env.blob_endpoint}/checkpoints/pendulum/local/run-1"

    @dg.asset
    def policy(context: dg.AssetExecutionContext, pipes: dg.PipesSubprocessClient):
        return pipes.run(
            command=[sys.executable, "-m", "trainer", "train", "--config", str(config), "--run-dir", artifact_uri,
                     "--tracking-uri", mlflow_server.url, "--experiment", "azure-path"],
            context=context,
            env={"AZURE_STORAGE_CONNECTION_STRING": blob_env.connection_string, "PYTHONPATH": str(ROOT),
                 "ROBOTICS_PLANTED_SECRET": PLANTED},
        ).get_materialize_result()

    injector, reader = blob_pipes(account_url=blob_env.blob_endpoint, container="pipes", interval=1)
    client = dg.PipesSubprocessClient(context_injector=injector, message_reader=reader, cwd=str(tmp_path))
    instance = dg.DagsterInstance.ephemeral()
    result = _materialize(policy, {"pipes": client}, instance=instance)
    meta = {k: v.value for k, v in result.asset_materializations_for_node("policy")[0].metadata.items()}

    # Artifacts: the reported checkpoint URI is a real blob whose content matches the reported sha256.
    assert meta["checkpoint_uri"].startswith(artifact_uri + "/checkpoints/")
    local = fetch(meta["checkpoint_uri"], tmp_path / "fetched")
    assert hashlib.sha256(local.read_bytes()).hexdigest() == meta["checkpoint_sha256"]
    fetch(artifact_uri, tmp_path / "whole")
    assert (tmp_path / "whole" / "manifest.json").is_file()

    # Tracking: the run lives on the server, its artifacts in Azurite's `mlflow` container.
    run = mlflow.MlflowClient(mlflow_server.url).get_run(meta["mlflow_run_id"])
    assert run.info.status == "FINISHED" and run.info.artifact_uri.startswith("mlflow-artifacts:")
    assert meta["mlflow_tracking_uri"] == mlflow_server.url
    stored = list(_container(blob_env, "mlflow").list_blob_names(name_starts_with="artifacts/"))
    assert any(meta["mlflow_run_id"] in name and name.endswith("manifest.json") for name in stored)
    assert list(_container(blob_env, "pipes").list_blob_names()) == []

    out, err = capfd.readouterr()
    assert "[trainer] done" in out + err  # the child's console output is part of what gets scanned
    for secret in (PLANTED, AZURITE_KEY):
        hits = find_secret(
            secret, folders=[tmp_path], texts=[out, err], instance=instance,
            mlflow_client=mlflow.MlflowClient(mlflow_server.url), mlflow_run_ids=[meta["mlflow_run_id"]],
            blob_containers=[_container(blob_env, "checkpoints"), _container(blob_env, "mlflow")],
        )
        assert hits == [], hits
