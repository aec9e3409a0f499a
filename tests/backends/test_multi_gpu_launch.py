"""Multi-GPU tasks on the backends: a `train` step on CUDA asks for its task config's `gpus`, the k8s pod and the OSMO
workflow request that many GPUs on one node, and a request the region's nodes cannot hold is refused by name."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from types import SimpleNamespace

import kubernetes_validate
import pytest
import yaml

from robotics_assets.lib.launch import TrainerLauncher, resource
from robotics_assets.lib.launch.base import LaunchRequest, with_task_gpus
from robotics_assets.lib.launch.k8s import (
    SUPPORTED_K8S_VERSIONS,
    K8sOptions,
    build_pod_manifest,
    check_pod_semantics,
)
from robotics_assets.lib.launch.osmo import OsmoBackend
from robotics_assets.lib.launch.remote import LaunchIdentity

ROOT = Path(__file__).resolve().parents[2]
REGIONS = json.loads((ROOT / "infra_tf/examples/regions.sample.json").read_text())
IDENTITY = LaunchIdentity(run_id="0f8c2a4e-1111-2222-3333-444455556666", asset="policy",
                          partition="eastus-cartpole", step="train", run_key="abcdef0123456789")
TWO_GPU_TASK = "name: cartpole-2gpu\ntask: isaaclab:Isaac-Cartpole-Direct\nnum_envs: 4096\ndevice: cuda\ngpus: 2\n"


def _request(config_yaml=TWO_GPU_TASK, gpus=1, step="train", args=("--run-dir", "r")) -> LaunchRequest:
    config = yaml.safe_load(config_yaml)  # device and gpus as the task_config materialization records them
    return LaunchRequest(task="cartpole", region="eastus", step=step, config_yaml=config_yaml, args=list(args),
                         gpus=gpus, task_device=config.get("device", "cpu"), task_gpus=config.get("gpus", 1))


def _regions_with_two_gpu_nodes() -> dict:
    regions = copy.deepcopy(REGIONS)
    for pool in regions["eastus"]["gpu_node_pools"].values():
        pool.update(vm_size="Standard_NC48ads_A100_v4", gpus_per_node=2)
    return regions


def test_the_task_config_decides_the_gpus_of_a_cuda_training():
    assert with_task_gpus(_request(gpus=1)).gpus == 2
    assert with_task_gpus(_request(gpus=4)).gpus == 2  # no idle GPUs paid for
    one = "task: isaaclab:Isaac-Cartpole-Direct\ndevice: cuda\n"  # gpus defaults to 1
    assert with_task_gpus(_request(one, gpus=2)).gpus == 1
    # the trainer will run on the CPU (a region's trainer_args) or it is not training: the region's setting stays
    assert with_task_gpus(_request(gpus=1, args=("--run-dir", "r", "--device", "cpu"))).gpus == 1
    assert with_task_gpus(_request(gpus=1, step="evaluate")).gpus == 1
    assert with_task_gpus(_request("task: x\ngpus: 1\n", gpus=0)).gpus == 0
    request = _request(gpus=1)
    assert with_task_gpus(request).run_key == request.run_key  # a retried launch still finds its attempt


def test_a_multi_gpu_task_in_a_region_without_gpus_is_refused():
    with pytest.raises(ValueError, match=r"task cartpole: gpus: 2 \(device: cuda\) needs a GPU region, but region "
                                         r"eastus launches get no GPUs \(regions.eastus.gpus / training.gpus is 0\)"):
        with_task_gpus(_request(gpus=0))


def test_the_launcher_resource_passes_the_task_gpus_to_every_backend(tmp_path, monkeypatch):
    seen: list[LaunchRequest] = []

    class Recorder:
        name = "recorder"

        def launch(self, context, request, *, extras=None):
            seen.append(request)

    monkeypatch.setitem(resource._BACKENDS, "recorder", lambda settings, region: Recorder())
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump({"regions_file": str(ROOT / "infra_tf/examples/regions.sample.json"),
                                    "data_dir": str(tmp_path / "data"), "default_backend": "recorder",
                                    "training": {"gpus": 1}, "regions": {"eastus": {}}}))
    launcher = TrainerLauncher(settings_file=str(path))
    context = SimpleNamespace(log=logging.getLogger("test"))
    launcher.launch(context, _request(gpus=launcher.gpus("eastus")))
    assert [r.gpus for r in seen] == [2]


@pytest.mark.parametrize("version", SUPPORTED_K8S_VERSIONS)
def test_k8s_pod_requests_the_task_gpus_on_one_node(version):
    regions = _regions_with_two_gpu_nodes()
    options = K8sOptions.from_region("eastus", regions["eastus"], {"image_digest": "sha256:" + "1" * 64})
    request = with_task_gpus(_request(gpus=1))
    manifest = build_pod_manifest(options, request, IDENTITY, {}, 1, False)
    kubernetes_validate.validate(manifest, version, strict=True)
    check_pod_semantics(manifest, options, gpus=2)
    (container,) = manifest["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert container["resources"]["requests"]["nvidia.com/gpu"] == "2"
    assert {"name": "dshm", "mountPath": "/dev/shm"} in container["volumeMounts"]  # NCCL's shared memory


def test_k8s_refuses_more_gpus_than_a_node_has():
    options = K8sOptions.from_region("eastus", REGIONS["eastus"], {"image_digest": "sha256:" + "1" * 64})  # the sample's pools: 1 GPU per node
    with pytest.raises(ValueError, match=r"LaunchRequest.gpus: 2 exceeds the node pool's gpus_per_node \(1\): one "
                                         r"pod runs on one node; lower the task config's gpus"):
        build_pod_manifest(options, with_task_gpus(_request(gpus=1)), IDENTITY, {}, 1, False)


def _osmo_backend(tmp_path, monkeypatch, regions: dict) -> OsmoBackend:
    monkeypatch.setenv("OSMO_TOKEN", "tok-0123456789abcdef")
    monkeypatch.delenv("ROBOTICS_SECRETS_BACKEND", raising=False)
    regions_file = tmp_path / "regions.json"
    regions_file.write_text(json.dumps(regions))
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump({"regions_file": str(regions_file), "data_dir": str(tmp_path / "data"),
                                    "training": {"gpus": 1}, "regions": {"eastus": {"backend": "osmo"}}}))
    return TrainerLauncher(settings_file=str(path)).backend_for("eastus")


def test_osmo_workflow_requests_the_task_gpus(tmp_path, monkeypatch):
    backend = _osmo_backend(tmp_path, monkeypatch, _regions_with_two_gpu_nodes())
    assert backend.options.gpus_per_node == 2
    spec = yaml.safe_load(backend.render(with_task_gpus(_request(gpus=1)), IDENTITY, {}, 1, False))
    assert spec["workflow"]["resources"]["trainer"]["gpu"] == 2
    (task,) = spec["workflow"]["tasks"]
    assert task["resource"] == "trainer" and "CUDA_VISIBLE_DEVICES" not in task.get("environment", {})


def test_osmo_refuses_more_gpus_than_the_regions_largest_node(tmp_path, monkeypatch):
    backend = _osmo_backend(tmp_path, monkeypatch, REGIONS)
    assert backend.options.gpus_per_node == 1
    with pytest.raises(ValueError, match=r"LaunchRequest.gpus: 2 exceeds the region's largest GPU node \(1 GPUs"):
        backend.render(with_task_gpus(_request(gpus=1)), IDENTITY, {}, 1, False)
