"""End to end (issue 16): two regions, one on Kubernetes (stand-in API server) and one on OSMO (stand-in service), whose
artifact root is a Blob container on Azurite. The real trainer trains the test Cartpole in each; a disruption
(pod eviction / FAILED_PREEMPTED) strikes once the first checkpoint is in the store, and the trainer checkpoints the
update it is in on the SIGTERM; the replacement resumes from that checkpoint in the store; evaluation and export run
as their own pods / tasks; deployed_policy registers the model in MLflow.

The test observes only what a real deployment offers: Azurite, the Dagster instance and the MLflow server. No pod or
task shares a folder with it: every path that crosses from one step to the next is a store URL.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import time
from pathlib import Path

import dagster as dg
import mlflow
import pytest
import yaml

from robotics_assets.lib.launch.k8s import K8sBackend
from tests.assets.conftest import CHAIN, latest, load_defs, materialize, mkey
from tests.backends.k8s_standin import FakeCoreV1Api
from tests.standins.osmo_server import OsmoStandIn, StandInServer
from trainer.storage import open_store

pytestmark = [pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-osmo-token-0123456789"
SECRET_NAME, SECRET_KEY = "robotics-storage", "connection-string"
K8S_REGION, OSMO_REGION = "eastus", "westeurope"
_API: FakeCoreV1Api | None = None  # the k8s stand-in the region's backend talks to (set by the fixture)


def k8s_standin_backend(settings, region: str) -> K8sBackend:
    """The shipped k8s backend, configured from the settings as in production, talking to the stand-in API."""
    return K8sBackend(K8sBackend.from_settings(settings, region).options, core_api=_API)


def _pod_env() -> dict[str, str]:
    """What the trainer image provides: the project on PYTHONPATH, none of the test's settings or credentials.

    The two regions' pods run at the same time on this machine, one core each (`cpu: 1`): one intra-op thread per
    trainer, as an image sized for one-core pods sets it (two 2-thread trainers on 2 cores spin against each other).
    """
    dropped = ("AZURE_STORAGE_CONNECTION_STRING", "ROBOTICS_SETTINGS", "ROBOTICS_DATA_DIR", "MLFLOW_TRACKING_URI",
               "DAGSTER_HOME", "OSMO_TOKEN")
    return {**{k: v for k, v in os.environ.items() if k not in dropped}, "PYTHONPATH": str(ROOT),
            "OMP_NUM_THREADS": "1"}


class _FirstCheckpointStored:
    """True once the store's manifest of a run of `task`/`region` lists a resumable checkpoint (polled gently)."""

    def __init__(self, root: str, task: str, region: str):
        self.store, self.prefix, self._next, self._seen = open_store(root), f"{task}/{region}", 0.0, False

    def __call__(self) -> bool:
        if self._seen or time.monotonic() < self._next:
            return self._seen
        self._next = time.monotonic() + 0.2
        for key in self.store.list(self.prefix):
            if key.endswith("/manifest.json") and key.count("/") == 3:
                listed = json.loads(self.store.read_bytes(key)).get("checkpoints", {})
                self._seen = self._seen or any(name.startswith("agent_") for name in listed)
        return self._seen


@pytest.fixture
def two_regions(azurite, mlflow_server, tmp_path, monkeypatch):
    global _API
    from azure.storage.blob import BlobServiceClient

    with BlobServiceClient.from_connection_string(azurite.connection_string) as svc:
        for container in ("pipes", "runs"):
            if not svc.get_container_client(container).exists():
                svc.create_container(container)
    root = f"{azurite.blob_endpoint}/runs"

    # Kubernetes' default grace period (30 s) between SIGTERM and SIGKILL: the trainer checkpoints within it
    _API = FakeCoreV1Api(tmp_path / "k8s", _pod_env(), {SECRET_NAME: {SECRET_KEY: azurite.connection_string}},
                         max_grace_s=30)
    standin = OsmoStandIn(token=TOKEN, pools=("gpu-pool",), workdir=str(tmp_path / "osmo"), base_env=_pod_env(),
                          credentials={"azurite": {"connection_string": azurite.connection_string}}, grace_s=30)
    with StandInServer(standin) as server:
        regions = json.loads((ROOT / "infra_tf/examples/regions.sample.json").read_text())
        for outputs in regions.values():  # the regions' storage account is Azurite
            outputs["storage"]["blob_endpoint"] = azurite.blob_endpoint + "/"
        # the OSMO region's control plane is the stand-in (the sample's enabled OSMO block, re-pointed)
        regions[OSMO_REGION]["osmo"] = {**regions[K8S_REGION]["osmo"], "pool": "gpu-pool", "service_url": server.url}
        (tmp_path / "regions.json").write_text(json.dumps(regions))
        (tmp_path / "task_configs").mkdir()
        (tmp_path / "task_configs" / "cartpole.yaml").write_text(
            (ROOT / "tests/assets/task_configs/cartpole.yaml").read_text())
        poll = {"poll_interval_s": 0.5, "pipes": "blob", "pipes_options": {"interval": 1}}
        settings = {
            "data_dir": str(tmp_path / "dagster-data"),
            "task_configs": str(tmp_path / "task_configs"),
            "regions_file": str(tmp_path / "regions.json"),
            "mlflow_tracking_uri": mlflow_server.url,
            "enabled_regions": [K8S_REGION, OSMO_REGION],
            "backends": {"k8s": f"{__name__}:k8s_standin_backend"},
            "regions": {
                K8S_REGION: {"backend": "k8s", "artifact_root": root, "backend_options": {
                    **poll, "cpu": "1", "memory": "4Gi", "image_digest": "sha256:" + "0" * 64,
                    "secret_env": {"AZURE_STORAGE_CONNECTION_STRING": {"name": SECRET_NAME, "key": SECRET_KEY}}}},
                OSMO_REGION: {"backend": "osmo", "artifact_root": root, "backend_options": {
                    **poll, "resources": {"cpu": 1},
                    "credentials": {"azurite": {"AZURE_STORAGE_CONNECTION_STRING": "connection_string"}}}},
            },
            "training": {"gpus": 0, "trainer_args": {"device": "cpu"}},
        }
        (tmp_path / "settings.yaml").write_text(yaml.safe_dump(settings))
        monkeypatch.setenv("ROBOTICS_SETTINGS", str(tmp_path / "settings.yaml"))
        monkeypatch.setenv("OSMO_TOKEN", TOKEN)
        # the Dagster side reads Pipes messages and the exported model from the store, like its own deployment
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
        monkeypatch.setenv("MLFLOW_UI_URL", mlflow_server.url)
        yield {"root": root, "api": _API, "osmo": standin, "mlflow": mlflow_server.url}
    _API.shutdown()
    _API = None


@contextlib.contextmanager
def _concurrent_runs_instance(folder: Path):
    """A temporary sqlite instance on which two in-process runs can execute in two threads at once.

    `instance_for_test` cannot: its settings make every run start call `logging.config.dictConfig` (Dagster's
    `get_yaml_python_handlers`, dagster/_core/instance/methods/event_methods.py), which closes every logging handler
    under the logging module lock while the other run's thread holds its Dagster handler's lock and waits for that
    module lock (a deadlock: the hang of threaded materializations); and its compute log manager redirects the
    process's stdout/stderr file descriptors per step, which two threads would swap under each other. Without
    settings and with the no-op compute log manager, each run writes only its events to the instance."""
    folder.mkdir(parents=True, exist_ok=True)
    instance = dg.DagsterInstance.local_temp(str(folder), overrides={"compute_logs": {
        "module": "dagster._core.storage.noop_compute_log_manager", "class": "NoOpComputeLogManager"}})
    try:
        yield instance
    finally:
        instance.dispose()


def _stored_train_result(root: str, run_dir: str) -> tuple[dict, list[int]]:
    run = open_store(run_dir)
    assert run_dir.startswith(root + "/")
    steps = [json.loads(line)["timestep"] for line in run.read_bytes("metrics.jsonl").decode().splitlines()]
    return json.loads(run.read_bytes("train_result.json")), steps


@pytest.mark.slow
def test_two_regions_k8s_and_osmo_resume_from_the_store_and_register(two_regions, tmp_path):
    root, api, osmo = two_regions["root"], two_regions["api"], two_regions["osmo"]
    api.disruptions.append((_FirstCheckpointStored(root, "cartpole", K8S_REGION), "Evicted"))
    osmo.inject_disruption("FAILED_PREEMPTED", labels={"robotics-step": "train"},
                           when=_FirstCheckpointStored(root, "cartpole", OSMO_REGION))
    cfg = yaml.safe_load((ROOT / "tests/assets/task_configs/cartpole.yaml").read_text())
    interval, target = cfg["checkpoint_interval"], cfg["timesteps"]
    rollouts = cfg["agent"]["overrides"]["agent"]["rollouts"]

    with _concurrent_runs_instance(tmp_path / "dagster") as instance:
        instance.add_dynamic_partitions("task", ["cartpole"])
        defs = load_defs()
        assert materialize(defs, instance, ["task_config"], "cartpole").success
        # the backfill's two partitions, one run each, at the same time as a backfill runs them
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            runs = {region: pool.submit(materialize, defs, instance, CHAIN, mkey("cartpole", region),
                                        raise_on_error=False) for region in (K8S_REGION, OSMO_REGION)}
            logs = {}
            for region, run in runs.items():
                result = run.result(timeout=1200)
                assert result.success, (region, [e.message for e in result.all_events if e.is_failure])
                logs[region] = [entry.user_message for entry in instance.all_logs(result.run_id)]

        client = mlflow.MlflowClient(two_regions["mlflow"])
        for region in (K8S_REGION, OSMO_REGION):
            key = mkey("cartpole", region)
            policy = latest(instance, "policy", key)
            # the run lives in the store: the checkpoint the metadata names is there with the reported sha256
            run_dir = policy["run_dir"]
            assert policy["checkpoint_uri"].startswith(run_dir + "/checkpoints/")
            name = policy["checkpoint_uri"].rsplit("/", 1)[1]
            assert open_store(run_dir).info(f"checkpoints/{name}").sha256 == policy["checkpoint_sha256"]
            result, steps = _stored_train_result(root, run_dir)
            # resumed from the store after the disruption, one continuous curve
            assert result["resumed_from"] and result["resumed_from"].startswith(run_dir + "/checkpoints/agent_")
            start = result["start_timestep"]
            assert interval <= start < target and start % rollouts == 0, result
            # the next attempt resumed from the newest checkpoint in the store, the one at `start`
            assert result["resumed_from"] == f"{run_dir}/checkpoints/agent_{start}.pt", result
            stopped = [line for line in logs[region] if "SIGTERM: stopped after the PPO update of step" in line]
            if region == OSMO_REGION:
                # a preempted task's pod is deleted gracefully (30 s here): the trainer checkpointed the update it
                # was in on SIGTERM, said so, and the next attempt resumed from exactly that checkpoint
                assert stopped, f"{region}: no SIGTERM checkpoint was reported"
            if stopped:
                assert f"step {start}; checkpoint {run_dir}/checkpoints/agent_{start}.pt written" in stopped[0], stopped
            # else (k8s): the kubelet's node-pressure eviction grants 2 s. On a busy machine the SIGKILL may come
            # before the trainer checkpoints the update it is in (it resumes from its last interval checkpoint,
            # `start % interval == 0`), or after the checkpoint is stored but before its log line leaves through
            # Pipes (it resumes from that update's checkpoint, seen at start 336 with interval 320): either way from
            # the newest checkpoint the store lists, asserted above.
            assert steps == sorted(set(steps)) and steps[-1] == target
            assert json.loads(open_store(run_dir).read_bytes("manifest.json"))["timesteps_done"] == target

            report = latest(instance, "evaluation_report", key)
            assert report["passed"] is True and report["report_path"].startswith(run_dir + "/evaluation/")
            assert open_store(report["report_path"].rsplit("/", 1)[0]).exists("evaluation.json")
            onnx = latest(instance, "onnx_policy", key)
            assert onnx["onnx_uri"].startswith(run_dir + "/export/")
            assert open_store(onnx["onnx_uri"].rsplit("/", 1)[0]).info("policy.onnx").sha256 == onnx["onnx_sha256"]
            deployed = latest(instance, "deployed_policy", key)
            version = client.get_model_version(deployed["registered_model"], deployed["model_version"])
            assert version.tags["onnx_sha256"] == onnx["onnx_sha256"] and version.tags["region"] == region
            assert client.get_run(policy["mlflow_run_id"]).info.status == "FINISHED"

    # Kubernetes: the evicted training pod, its replacement with --resume, then evaluation and export pods
    pods = [p["metadata"]["labels"].get("robotics-step") for p in api.created]
    assert pods == ["train", "train", "evaluate", "export"], pods
    # OSMO: the preempted training workflow, its restart, then evaluation and export as their own workflows
    workflows = [osmo.workflows[n] for n in osmo.submissions]
    assert [w.status for w in workflows] == ["FAILED", "COMPLETED", "COMPLETED", "COMPLETED"]
    assert workflows[0].exit_code == 3006, "preempted (OSMO's exit code of FAILED_PREEMPTED)"
    assert [w.labels.get("robotics-step") for w in workflows] == ["train", "train", "evaluate", "export"]
