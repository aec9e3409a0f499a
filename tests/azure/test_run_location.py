"""The run directory as a store location (issue 16): `--run-dir` / `--out` as a Blob URL on Azurite.

The trainer works in a scratch folder and writes every file through to the store; resume, evaluation and export read
the run back from the store alone; the manifest never lists bytes the store does not hold; a store outage is a clear
failure, never a success."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import pytest

from tests.configs import PENDULUM_YAML
from trainer.cli import EXIT_BAD_INPUT, EXIT_OK, main
from trainer.storage import StorageError, open_store
from trainer.storage.local import LocalStore
from trainer.storage.writethrough import WriteThrough

ROOT = Path(__file__).resolve().parents[2]
# InvertedPendulum trains in seconds on CPU: the store path is what is under test here, not the learning
CONFIG = PENDULUM_YAML


@pytest.fixture
def blob_env(azurite, monkeypatch, tmp_path):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    monkeypatch.delenv("ROBOTICS_AZURE_AUTH", raising=False)
    monkeypatch.chdir(tmp_path)  # where a URL mistaken for a folder would land
    monkeypatch.setenv("TMPDIR", str(tmp_path / "scratch"))  # the trainer's scratch: must be empty afterwards
    (tmp_path / "scratch").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    return azurite


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "pendulum.yaml"
    path.write_text(CONFIG)
    return path


def _run_uri(azurite) -> str:
    return f"{azurite.blob_endpoint}/runs/pendulum/eastus/{uuid.uuid4().hex[:8]}"


def _manifest(uri: str) -> dict:
    return json.loads(open_store(uri).read_bytes("manifest.json"))


def test_train_writes_through_to_the_store_and_resumes_from_it(blob_env, config, tmp_path, capsys):
    uri = _run_uri(blob_env)
    assert main(["train", "--config", str(config), "--run-dir", uri, "--no-tracking", "--timesteps", "256"]) == EXIT_OK
    store = open_store(uri)
    keys = set(store.list())
    assert {"manifest.json", "metrics.jsonl", "config.resolved.yaml", "agent.yaml", "train_result.json",
            "checkpoints/agent_256.pt"} <= keys
    manifest = _manifest(uri)
    for name, entry in manifest["checkpoints"].items():  # every listed checkpoint is in the store, same bytes
        assert store.info(f"checkpoints/{name}").sha256 == entry["sha256"]
    result = json.loads(store.read_bytes("train_result.json"))
    assert result["run_dir"] == uri and result["checkpoint_uri"].startswith(uri + "/checkpoints/")
    # nothing on this machine's disk: no folder named after the URL, the scratch folder removed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pendulum.yaml", "scratch"]
    assert not list((tmp_path / "scratch").glob("trainer-run-*"))

    capsys.readouterr()
    assert main(["train", "--config", str(config), "--run-dir", uri, "--no-tracking", "--resume"]) == EXIT_OK
    resumed = json.loads(store.read_bytes("train_result.json"))
    assert resumed["start_timestep"] == 256 and resumed["resumed_from"] == f"{uri}/checkpoints/agent_256.pt"
    assert _manifest(uri)["timesteps_done"] == 512
    steps = [json.loads(line)["timestep"] for line in store.read_bytes("metrics.jsonl").decode().splitlines()]
    assert steps == sorted(steps) and len(steps) == len(set(steps)), "one continuous curve across both processes"
    assert f"resuming {uri} from agent_256.pt" in capsys.readouterr().out

    # the same URL without --resume would clobber the stored run: refused, naming the URL
    assert main(["train", "--config", str(config), "--run-dir", uri, "--no-tracking"]) == EXIT_BAD_INPUT
    assert f"{uri} already holds a training run" in capsys.readouterr().err

    # evaluation and export read the run from the store and store their outputs there
    out = f"{uri}/evaluation/e1"
    assert main(["evaluate", "--config", str(config), "--run-dir", uri, "--out", out]) == 0
    evaluation = json.loads(open_store(out).read_bytes("evaluation.json"))
    assert evaluation["checkpoint_sha256"] == _manifest(uri)["checkpoints"]["best_agent.pt"]["sha256"]
    assert {"report.md", "learning_curve.png", "return_histogram.png"} <= set(open_store(out).list())
    export_out = f"{uri}/export/x1"
    assert main(["export", "--config", str(config), "--run-dir", uri, "--checkpoint", "best_agent.pt",
                 "--out", export_out, "--latency-iterations", "2"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["onnx"] == f"{export_out}/policy.onnx"
    summary = json.loads(open_store(export_out).read_bytes("export.json"))
    assert open_store(export_out).info("policy.onnx").sha256 == summary["onnx_sha256"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pendulum.yaml", "scratch"]
    assert not list((tmp_path / "scratch").glob("trainer-run-*"))


def test_a_stored_checkpoint_that_does_not_match_is_refused(blob_env, config, capsys):
    uri = _run_uri(blob_env)
    assert main(["train", "--config", str(config), "--run-dir", uri, "--no-tracking", "--timesteps", "256"]) == EXIT_OK
    store = open_store(uri)
    store.put_bytes(b"not the checkpoint the manifest lists", "checkpoints/agent_256.pt")  # consistent blob, wrong bytes
    capsys.readouterr()
    assert main(["train", "--config", str(config), "--run-dir", uri, "--no-tracking", "--resume"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "agent_256.pt does not match its manifest" in err and "refusing to load it" in err
    assert main(["evaluate", "--config", str(config), "--run-dir", uri, "--checkpoint", "agent_256.pt",
                 "--out", f"{uri}/evaluation/bad"]) == EXIT_BAD_INPUT
    assert "does not match its manifest" in capsys.readouterr().err
    assert not open_store(f"{uri}/evaluation/bad").list()


def test_unreachable_store_exits_2_naming_the_url_before_training(monkeypatch, config, tmp_path, capsys):
    from tests.services import AZURITE_KEY, free_port

    port = free_port()  # nothing listens there
    endpoint = f"http://127.0.0.1:{port}/devstoreaccount1"
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                       f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint};")
    monkeypatch.chdir(tmp_path)
    uri = f"{endpoint}/runs/pendulum/eastus/r1"
    assert main(["train", "--config", str(config), "--run-dir", uri, "--no-tracking"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"the artifact store at {uri} is not reachable" in err and AZURITE_KEY not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pendulum.yaml"]


class _FlakyStore(LocalStore):
    """A LocalStore whose uploads fail for keys matching `failing` (an outage), and that can hold uploads back."""

    def __init__(self, root, failing: str = "", gate: threading.Event | None = None):
        super().__init__(root)
        self.failing, self.gate, self.calls = failing, gate, []

    def put_file(self, local_path, key):
        self.calls.append(key)
        if self.gate is not None:
            self.gate.wait(10)
        if self.failing and self.failing in key:
            raise StorageError(f"upload to {self.uri_for(key)} failed after retries: ServiceRequestError: outage")
        return super().put_file(local_path, key)


def _files(folder: Path, **files: str) -> None:
    for name, text in files.items():
        path = folder / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_outage_stops_before_the_manifest_and_fails_clearly(tmp_path):
    run = tmp_path / "scratch" / "run"
    _files(run, checkpoints__agent_64_pt="weights", manifest_json='{"checkpoints": {"agent_64.pt": {}}}')
    store = _FlakyStore(tmp_path / "store", failing="checkpoints/")
    sleeps: list[float] = []
    writer = WriteThrough(store, run, attempts=3, backoff_s=0.5, sleep=sleeps.append)
    writer.put("checkpoints/agent_64_pt", "manifest_json")
    with pytest.raises(StorageError, match=r"could not store checkpoints/agent_64_pt .* after 3 attempts.*outage"):
        writer.close()
    assert sleeps == [0.5, 1.0], "retried with exponential backoff"
    assert store.calls == ["checkpoints/agent_64_pt"] * 3, "the manifest is never sent after a failed checkpoint"
    assert not store.exists("manifest_json")
    with pytest.raises(StorageError):
        writer.put("manifest_json")  # training stops at its next checkpoint, it does not carry on unstored


def test_uploads_run_in_the_background_and_snapshot_what_was_put(tmp_path):
    run = tmp_path / "scratch" / "run"
    _files(run, manifest_json="v1")
    gate = threading.Event()
    store = _FlakyStore(tmp_path / "store", gate=gate)
    writer = WriteThrough(store, run)
    writer.put("manifest_json")  # returns at once although the upload is held back
    (run / "manifest_json").write_text("v2 lists a checkpoint not yet stored")
    gate.set()
    uploaded = writer.close()
    assert store.read_bytes("manifest_json") == b"v1", "the store holds what was listed when put() was called"
    assert uploaded["manifest_json"].sha256 == store.info("manifest_json").sha256


def test_deployed_policy_fetches_the_model_from_its_store_uri_and_checks_its_sha256(blob_env):
    import hashlib

    import dagster as dg

    from robotics_assets.defs.deployment.model_file import fetched_model

    model = b"onnx bytes"
    digest = hashlib.sha256(model).hexdigest()
    out = f"{_run_uri(blob_env)}/export/x1"
    open_store(out).put_bytes(model, "policy.onnx")
    with fetched_model(f"{out}/policy.onnx", digest) as path:
        assert Path(path).read_bytes() == model
    assert not Path(path).exists(), "the downloaded copy is temporary"
    with pytest.raises(dg.Failure, match="does not match the exported"), fetched_model(f"{out}/policy.onnx", "0" * 64):
        pass
    with pytest.raises(dg.Failure, match="cannot fetch the model"), fetched_model(f"{out}/missing.onnx", digest):
        pass
