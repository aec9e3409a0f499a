"""The local backend hands its trainer a minimal environment: what Python, the GPU, MLflow and the artifact store
need, never the rest of the code location's environment (issue 15: a task config is written by others)."""

from __future__ import annotations

import json
import sys

import dagster as dg
import pytest

from robotics_assets.lib.launch.base import LaunchRequest
from robotics_assets.lib.launch.local import LocalBackend, trainer_env_from
from tests.backends.conftest import ROOT

PLANTED = {
    "DAGSTER_PG_PASSWORD": "pg-password-planted-123",
    "OSMO_TOKEN": "osmo-token-planted-456",
    "AWS_SECRET_ACCESS_KEY": "aws-planted-789",
    "GITHUB_TOKEN": "ghp_planted0123456789",
    "ROBOTICS_PLANTED_SECRET": "robotics-planted-000",
    "TORCH_HUB_TOKEN": "prefix-family-but-a-token",  # an allowed prefix does not pass a secret-looking name
    "CUDA_AUTH_KEY": "prefix-family-but-a-key",
}
NEEDED = {
    "MLFLOW_TRACKING_PASSWORD": "mlflow-server-auth",  # the trainer logs to MLflow with the server's own auth
    "AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "OMP_NUM_THREADS": "2",
    "WARP_CACHE_PATH": "/tmp/warp",
    "CUDA_VISIBLE_DEVICES": "0",
    "LC_ALL": "C.UTF-8",
}


def test_only_allowlisted_names_pass():
    host = {"PATH": "/usr/bin", "HOME": "/root", **PLANTED, **NEEDED}
    env = trainer_env_from(host)
    assert env == {"PATH": "/usr/bin", "HOME": "/root", **NEEDED}
    assert trainer_env_from(host, frozenset({"OSMO_TOKEN"}))["OSMO_TOKEN"] == PLANTED["OSMO_TOKEN"]  # explicit only


def test_a_secret_of_the_dagster_host_does_not_reach_the_trainer(tmp_path, monkeypatch):
    for name, value in {**PLANTED, **NEEDED, "STANDIN_KNOB": "passed-on-request", "PYTHONPATH": str(ROOT)}.items():
        monkeypatch.setenv(name, value)
    backend = LocalBackend(env={"ROBOTICS_DATA_DIR": str(tmp_path)}, cwd=str(ROOT), python=sys.executable,
                           module="tests.backends.env_probe", pass_env=["STANDIN_KNOB"])
    seen = tmp_path / "env.json"

    @dg.asset
    def probe(context):
        request = LaunchRequest(task="cartpole", region="local", step="evaluate", config_yaml="name: cartpole\n",
                                args=["--out", str(seen)], gpus=1)  # gpus=0 would blank CUDA_VISIBLE_DEVICES
        return backend.launch(context, request).get_materialize_result()

    assert dg.materialize([probe]).success
    env = json.loads(seen.read_text())
    leaked = {k for k, v in env.items() if v in PLANTED.values()} | (set(PLANTED) & set(env))
    assert leaked == set()
    assert {k: env.get(k) for k in NEEDED} == NEEDED
    assert env["STANDIN_KNOB"] == "passed-on-request" and env["ROBOTICS_DATA_DIR"] == str(tmp_path)
    assert env["PYTHONPATH"] == str(ROOT) and any(k.startswith("DAGSTER_PIPES_") for k in env)


@pytest.mark.parametrize("names", [["BAD NAME"], [3], ["X=1"]])
def test_pass_env_takes_variable_names(names):
    with pytest.raises(ValueError, match="pass_env.*not environment variable names"):
        LocalBackend(pass_env=names)
