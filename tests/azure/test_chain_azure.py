"""The whole Cartpole chain in "local Azure" mode: the region's artifact root is a Blob container on Azurite (the
trainer writes its run through to it), tracking and the model registry on a real MLflow server whose artifacts live in
Azurite; then a planted-secret scan of everything produced."""

import dagster as dg
import mlflow
import pytest

from tests.assets.conftest import (
    CHAIN,
    HERE,
    latest,
    load_defs,
    materialize,
    mkey,
    write_settings,
)
from tests.azure.secret_scan import find_secret
from tests.services import AZURITE_KEY
from trainer.storage import fetch, open_store

pytestmark = [pytest.mark.timeout(1500), pytest.mark.slow]

PLANTED = "planted-chain-secret-4e8d2a"


def _container(azurite, name):
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(name)


def test_cartpole_chain_on_azurite_and_mlflow_server(azurite, mlflow_server, tmp_path, monkeypatch, capfd):
    artifact_root = f"{azurite.blob_endpoint}/checkpoints"
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    # the code location and its run workers inherit it; the local trainer's environment is allowlisted (launch/local.py)
    monkeypatch.setenv("ROBOTICS_PLANTED_SECRET", PLANTED)
    monkeypatch.setenv("MLFLOW_UI_URL", mlflow_server.url)  # the server is also the UI that run links point at
    monkeypatch.setenv("WARP_CACHE_PATH", str(HERE.parents[1] / ".data" / "warp_cache"))
    settings = write_settings(
        tmp_path, standin=False, regions=("eastus",), enabled_regions=["eastus"],
    )
    text = settings.read_text().replace("eastus: {}", f"eastus: {{artifact_root: '{artifact_root}'}}")
    text = text.replace("mlflow_tracking_uri: null", f"mlflow_tracking_uri: {mlflow_server.url}")
    settings.write_text(text)
    monkeypatch.setenv("ROBOTICS_SETTINGS", str(settings))
    (tmp_path / "task_configs" / "cartpole.yaml").write_text((HERE / "task_configs" / "cartpole.yaml").read_text())

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("task", ["cartpole"])
        defs = load_defs()
        materialize(defs, instance, ["task_config"], "cartpole")
        key = mkey("cartpole", "eastus")
        assert materialize(defs, instance, ["policy"], key).success

        policy = latest(instance, "policy", key)
        # The checkpoint URI in Dagster's metadata is a blob in Azurite, and it verifies against its sha256.
        run_dir = policy["run_dir"]
        assert run_dir.startswith(artifact_root + "/cartpole/eastus/")
        assert policy["checkpoint_uri"].startswith(run_dir + "/checkpoints/")
        got = fetch(policy["checkpoint_uri"], tmp_path / "fetched")
        assert open_store(run_dir).info(f"checkpoints/{got.name}").sha256 == policy["checkpoint_sha256"]
        assert policy["mlflow_run_url"].startswith(f"{mlflow_server.url}/#/experiments/")
        client = mlflow.MlflowClient(mlflow_server.url)
        assert client.get_run(policy["mlflow_run_id"]).info.status == "FINISHED"
        stored = list(_container(azurite, "mlflow").list_blob_names())
        assert any(policy["mlflow_run_id"] in name for name in stored)  # MLflow artifacts are in Azurite

        result = materialize(defs, instance, CHAIN[1:], key, raise_on_error=False)
        assert result.success
        assert latest(instance, "onnx_policy", key)["onnx_uri"].startswith(run_dir + "/export/")
        assert latest(instance, "deployed_policy", key)["promoted"] is True

        out, err = capfd.readouterr()
        for secret in (PLANTED, AZURITE_KEY):
            hits = find_secret(
                secret, folders=[tmp_path], texts=[out, err], instance=instance, mlflow_client=client,
                mlflow_run_ids=[policy["mlflow_run_id"]],
                blob_containers=[_container(azurite, "checkpoints"), _container(azurite, "mlflow")],
            )
            assert hits == [], hits
