"""Both remote backends are built from the deployment settings + Terraform outputs only (no hard-coded values)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from robotics_assets.lib.launch import TrainerLauncher
from robotics_assets.lib.launch.k8s import K8sBackend
from robotics_assets.lib.launch.osmo import OsmoBackend
from robotics_assets.lib.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
REGIONS = ROOT / "infra_tf/examples/regions.sample.json"
OUTPUTS = json.loads(REGIONS.read_text())


def _settings(tmp_path, regions: dict) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump({"regions_file": str(REGIONS), "data_dir": str(tmp_path / "data"),
                                    "training": {"gpus": 1}, "regions": regions}))
    return path


def test_osmo_backend_from_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("OSMO_TOKEN", "tok-0123456789abcdef")
    monkeypatch.delenv("ROBOTICS_SECRETS_BACKEND", raising=False)
    path = _settings(tmp_path, {"eastus": {"backend": "osmo", "backend_options": {
        "resources": {"cpu": 16, "memory": "120Gi"}, "restart_budget": 5}}})
    launcher = TrainerLauncher(settings_file=str(path))
    backend = launcher.backend_for("eastus")
    assert isinstance(backend, OsmoBackend)
    o = backend.options
    east = OUTPUTS["eastus"]
    assert (o.pool, o.image) == (east["osmo"]["pool"], east["container_registry"]["trainer_image"])
    assert (o.resources.gpu, o.resources.cpu, o.restart_budget) == (1, 16, 5)
    assert o.pipes == "blob" and o.pipes_options == {
        "account_url": east["storage"]["blob_endpoint"].rstrip("/"), "container": east["storage"]["containers"]["pipes"]}
    assert backend.client.service_url == east["osmo"]["service_url"].rstrip("/")
    assert "tok-0123456789abcdef" not in repr(backend.client)


def test_osmo_needs_it_enabled_and_known_options(tmp_path, monkeypatch):
    monkeypatch.setenv("OSMO_TOKEN", "tok-0123456789abcdef")
    settings = load_settings(_settings(tmp_path, {"westeurope": {"backend": "osmo"}}))
    with pytest.raises(ValueError, match=r"westeurope.osmo.enabled: OSMO is not enabled"):
        OsmoBackend.from_settings(settings, "westeurope")
    settings = load_settings(_settings(tmp_path, {"eastus": {"backend": "osmo", "backend_options": {"pol": "x"}}}))
    with pytest.raises(ValueError, match=r"unknown key\(s\) pol \(allowed: .*restart_budget"):
        OsmoBackend.from_settings(settings, "eastus")


def test_k8s_backend_from_settings(tmp_path):
    path = _settings(tmp_path, {"westeurope": {"backend": "k8s", "backend_options": {
        "cpu": "6", "memory": "48Gi", "image_digest": "sha256:" + "1" * 64}}})
    backend = TrainerLauncher(settings_file=str(path)).backend_for("westeurope")
    assert isinstance(backend, K8sBackend)
    o = backend.options
    west = OUTPUTS["westeurope"]
    pool = next(iter(west["gpu_node_pools"].values()))
    assert o.namespace == west["aks"]["namespace"]
    assert o.identity_client_id == west["aks"]["training_identity_client_id"]
    assert o.node_selector == pool["node_selector"] and o.taints == pool["taints"]
    assert (o.cpu, o.memory) == ("6", "48Gi")
    settings = load_settings(_settings(tmp_path, {"westeurope": {"backend": "k8s",
                                                                 "backend_options": {"namespace": "x"}}}))
    with pytest.raises(ValueError, match=r"unknown key\(s\) namespace"):
        K8sBackend.from_settings(settings, "westeurope")


def test_gpu_bench_settings_hand_a_cuda_task_the_gpu():
    """config/local_gpu.yaml (the embedded default on a GPU workstation) gives a CUDA task's training the GPU, where
    config/local.yaml (the embedded CPU default) trains the same task on CPU."""
    from robotics_assets.lib.launch.base import LaunchRequest, with_task_gpus

    config = (ROOT / "task_configs/ant_gpu.yaml").read_text()

    def launch(settings):
        args = [f"--{k}={v}" for k, v in settings.train_args("eastus").items()]
        return with_task_gpus(LaunchRequest(task="ant_gpu", region="eastus", step="train", config_yaml=config,
                                            args=args, gpus=settings.gpus("eastus"), task_device="cuda", task_gpus=1))

    gpu = load_settings(ROOT / "config/local_gpu.yaml")
    on_gpu = launch(gpu)
    assert on_gpu.gpus == 1 and not any(a.startswith("--device") for a in on_gpu.args)
    on_cpu = launch(load_settings(ROOT / "config/local.yaml"))
    assert on_cpu.gpus == 0 and "--device=cpu" in on_cpu.args
