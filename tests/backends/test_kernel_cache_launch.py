"""Launchers hand the region's Warp kernel cache URI to the trainer (TRAINER_KERNEL_CACHE): on by default for remote
backends whose artifact store is a URL, off for the embedded local backend."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from robotics_assets.lib.launch import TrainerLauncher
from robotics_assets.lib.launch.base import LaunchRequest
from robotics_assets.lib.launch.k8s import build_pod_manifest
from robotics_assets.lib.launch.local import LocalBackend
from robotics_assets.lib.launch.remote import LaunchIdentity
from robotics_assets.lib.settings import SettingsError, load_settings
from trainer.kernel_cache import KERNEL_CACHE_ENV

ROOT = Path(__file__).resolve().parents[2]
REGIONS = ROOT / "infra_tf/examples/regions.sample.json"
STORE = "https://strobotics.blob.core.windows.net/checkpoints/runs"
IDENTITY = LaunchIdentity(run_id="run-1", asset="policy", partition="eastus-cartpole", step="train", run_key="k" * 16)
REQUEST = LaunchRequest(task="cartpole", region="eastus", step="train", config_yaml="task: x\n", gpus=1)


def _settings(tmp_path, eastus: dict):
    if eastus.get("backend") == "k8s":  # pods run images pinned by digest
        eastus = {**eastus, "backend_options": {"image_digest": "sha256:" + "1" * 64, **eastus.get("backend_options", {})}}
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump({"regions_file": str(REGIONS), "data_dir": str(tmp_path / "data"),
                                    "training": {"gpus": 1}, "regions": {"eastus": eastus}}))
    return path


def test_k8s_pod_gets_the_default_cache_under_the_artifact_store(tmp_path):
    path = _settings(tmp_path, {"backend": "k8s", "artifact_root": STORE})
    backend = TrainerLauncher(settings_file=str(path)).backend_for("eastus")
    manifest = build_pod_manifest(backend.options, REQUEST, IDENTITY, {}, 1, False)
    env = {e["name"]: e.get("value") for e in manifest["spec"]["containers"][0]["env"]}
    assert env[KERNEL_CACHE_ENV] == f"{STORE}/kernel-cache"


def test_osmo_workflow_gets_the_configured_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OSMO_TOKEN", "tok-0123456789abcdef")
    monkeypatch.delenv("ROBOTICS_SECRETS_BACKEND", raising=False)
    explicit = "https://strobotics.blob.core.windows.net/cache/warp-kernels"
    path = _settings(tmp_path, {"backend": "osmo", "artifact_root": STORE, "kernel_cache": explicit})
    backend = TrainerLauncher(settings_file=str(path)).backend_for("eastus")
    spec = yaml.safe_load(backend.render(REQUEST, IDENTITY, {}, 1, False))
    (task,) = spec["workflow"]["tasks"]
    assert task["environment"][KERNEL_CACHE_ENV] == explicit


def test_backend_options_env_wins(tmp_path):
    path = _settings(tmp_path, {"backend": "k8s", "artifact_root": STORE,
                                "backend_options": {"env": {KERNEL_CACHE_ENV: "https://a.blob.core.windows.net/c/p"}}})
    backend = TrainerLauncher(settings_file=str(path)).backend_for("eastus")
    assert backend.options.env[KERNEL_CACHE_ENV] == "https://a.blob.core.windows.net/c/p"


@pytest.mark.parametrize("eastus", [
    {"backend": "k8s"},  # artifact root is a folder on the Dagster machine: meaningless to a pod
    {"backend": "k8s", "artifact_root": STORE, "kernel_cache": "off"},
    {"backend": "local", "artifact_root": STORE},  # the embedded default keeps its own .data/warp_cache
])
def test_off_without_a_reachable_store_or_when_disabled(tmp_path, eastus):
    settings = load_settings(_settings(tmp_path, eastus))
    assert settings.kernel_cache_uri("eastus") is None
    backend = TrainerLauncher(settings_file=str(_settings(tmp_path, eastus))).backend_for("eastus")
    env = backend._client.env if isinstance(backend, LocalBackend) else backend.options.env
    assert KERNEL_CACHE_ENV not in env


def test_local_backend_passes_an_explicit_setting(tmp_path):
    store = (tmp_path / "store").as_uri()
    backend = TrainerLauncher(settings_file=str(_settings(tmp_path, {"backend": "local", "kernel_cache": store}))
                              ).backend_for("eastus")
    assert backend._client.env[KERNEL_CACHE_ENV] == store


def test_credentials_in_the_uri_are_refused(tmp_path):
    settings = load_settings(_settings(tmp_path, {"backend": "k8s",
                                                  "kernel_cache": f"{STORE}/kc?sv=2024&sig=abc"}))
    with pytest.raises(SettingsError, match=r"regions.eastus.kernel_cache: no credentials in the URI") as err:
        settings.kernel_cache_uri("eastus")
    assert "sig=abc" not in str(err.value)


def test_shipped_local_settings_keep_the_cache_off():
    """The embedded default never touches a store for its kernels."""
    settings = load_settings(ROOT / "config" / "local.yaml")
    assert settings.regions and all(settings.kernel_cache_uri(r) is None for r in settings.regions)
