"""Bad settings, regions files and CLI arguments: a clear `file: field: problem (fix)` and exit 2, no traceback;
URLs with credentials are refused before they can reach trainer arguments, logs or metadata."""

import json

import pytest
import yaml

from robotics_assets.cli import main
from robotics_assets.lib.launch import TrainerLauncher
from robotics_assets.lib.launch.remote import check_plain_env
from robotics_assets.lib.settings import SettingsError, load_settings
from robotics_assets.lib.task_sources import TaskConfigError, open_source
from tests.assets.conftest import write_settings

SECRET = "hunter2-s3cret"


@pytest.fixture
def settings_env(tmp_path, monkeypatch):
    """Point ROBOTICS_SETTINGS at a settings file written with `extra` overrides; returns the writer."""
    monkeypatch.delenv("ROBOTICS_DATA_DIR", raising=False)

    def use(region_settings=None, **extra):
        path = write_settings(tmp_path, standin=False, **extra)
        if region_settings is not None:  # write_settings' `regions` names regions; this sets their settings
            data = yaml.safe_load(path.read_text())
            path.write_text(yaml.safe_dump({**data, "regions": region_settings}))
        monkeypatch.setenv("ROBOTICS_SETTINGS", str(path))
        return path

    return use


def test_bad_regions_file_is_a_settings_error_not_a_traceback(tmp_path, settings_env, capsys):
    regions = tmp_path / "regions.json"
    regions.write_text(json.dumps({"eastus": {"location": "eastus"}}))
    path = settings_env(regions_file=str(regions))
    assert main(["instance"]) == 2
    err = capsys.readouterr().err
    assert f"{regions}: eastus.resource_group: Field required" in err
    assert f"regions_file in {path}" in err

    settings_env(regions_file=str(tmp_path))  # a folder, not a file
    assert main(["instance"]) == 2
    assert "regions_file: cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(("field", "extra"), [
    ("mlflow_tracking_uri", {"mlflow_tracking_uri": f"postgresql://mlflow:{SECRET}@db.example.com/mlflow"}),
    ("mlflow_tracking_uri", {"mlflow_tracking_uri": f"https://user:{SECRET}@mlflow.example.com"}),
    ("task_configs", {"task_configs": f"https://acct.blob.core.windows.net/task-configs?sv=2024&sig={SECRET}"}),
    ("regions.eastus.artifact_root",
     {"region_settings": {"eastus": {"artifact_root": f"https://acct.blob.core.windows.net/runs?se=2030&sig={SECRET}"}}}),
])
def test_credentials_in_settings_urls_are_refused_without_echoing_them(settings_env, field, extra):
    path = settings_env(**extra)
    with pytest.raises(SettingsError) as e:
        load_settings(path)
    assert f"{path}: {field}: the URL carries credentials" in str(e.value)
    assert SECRET not in str(e.value)


def test_plain_urls_are_accepted(settings_env):
    settings = load_settings(settings_env(mlflow_tracking_uri="postgresql://mlflow@db.example.com/mlflow?sslmode=require",
                                          region_settings={"eastus": {"artifact_root": "https://acct.blob.core.windows.net/runs"}}))
    assert settings.artifact_root("eastus") == "https://acct.blob.core.windows.net/runs"


def test_quickstart_refuses_an_unknown_task_before_touching_the_instance(tmp_path, settings_env, capsys):
    settings_env()
    assert main(["quickstart", "--task", "no_such_task"]) == 2
    assert f"{tmp_path / 'task_configs'}: no no_such_task.yaml" in capsys.readouterr().err
    assert not (tmp_path / "data" / "dagster_home").exists()  # no partition was added for it


def test_backfill_names_unknown_assets(tmp_path, settings_env, capsys):
    settings_env()
    assert main(["backfill", "--task", "cartpole", "--assets", "policy,polcy"]) == 2
    assert "--assets: polcy (allowed: policy, evaluation_report, onnx_policy, deployed_policy)" in capsys.readouterr().err
    assert not (tmp_path / "data" / "dagster_home").exists()


def test_unloadable_backend_factory_names_the_setting(settings_env):
    path = settings_env(backends={"mine": "no_such_package.backend:make"}, region_settings={"eastus": {"backend": "mine"}})
    with pytest.raises(SettingsError, match=r"backends\.mine: cannot load 'no_such_package.backend:make' \(No module"):
        TrainerLauncher(settings_file=str(path)).backend_for("eastus")


def test_plain_env_refuses_a_credential_value_under_an_innocent_name():
    with pytest.raises(ValueError, match="'MLFLOW_TRACKING_URI' looks like a secret") as e:
        check_plain_env({"MLFLOW_TRACKING_URI": f"postgresql://u:{SECRET}@db/mlflow"}, "backend_options.env")
    assert SECRET not in str(e.value)
    check_plain_env({"MLFLOW_TRACKING_URI": "http://mlflow:5000", "DAGSTER_PIPES_CONTEXT": "x"}, "backend_options.env")


def test_blob_task_config_location_needs_no_manual_registration(monkeypatch):
    """docs/azure.md: an https:// `task_configs` is a Blob container; without credentials the error says which."""
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("ROBOTICS_AZURE_AUTH", raising=False)
    with pytest.raises(TaskConfigError, match="task_configs: no Azure credentials configured: set AZURE_STORAGE"):
        open_source("https://acct.blob.core.windows.net/task-configs")
