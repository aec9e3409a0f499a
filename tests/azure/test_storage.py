"""Artifact store on the local filesystem and on Azure Blob Storage (a real Azurite)."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.services import Azurite
from trainer.storage import (
    ArtifactURIError,
    IntegrityError,
    ObjectNotFound,
    StorageError,
    fetch,
    open_store,
    redact_uri,
)
from trainer.storage.identity import AzureAuthError

pytestmark = pytest.mark.xdist_group(name="azure_storage")  # its module fixture


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A real skrl-style checkpoint: a torch.save dict of module and optimizer state dicts."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    def mlp():
        return torch.nn.Sequential(
            torch.nn.Linear(4, 128), torch.nn.ELU(), torch.nn.Linear(128, 128), torch.nn.ELU(), torch.nn.Linear(128, 1)
        )

    policy, value = mlp(), mlp()
    opt = torch.optim.Adam([*policy.parameters(), *value.parameters()])
    loss = policy(torch.randn(8, 4)).sum() + value(torch.randn(8, 4)).sum()
    loss.backward()
    opt.step()  # populates the optimizer state, as a real checkpoint has
    path = tmp_path_factory.mktemp("ckpt") / "agent_1600.pt"
    torch.save({"policy": policy.state_dict(), "value": value.state_dict(), "optimizer": opt.state_dict()}, path)
    return path


def _same_checkpoint(a: Path, b: Path) -> bool:
    import torch

    da, db = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    return all(torch.equal(da["policy"][k], db["policy"][k]) for k in da["policy"]) and da.keys() == db.keys()


@pytest.fixture
def blob_env(azurite, monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    monkeypatch.delenv("ROBOTICS_AZURE_AUTH", raising=False)
    return azurite


def _root(azurite, container="checkpoints") -> str:
    return f"{azurite.blob_endpoint}/{container}/cartpole/eastus/{uuid.uuid4().hex[:8]}"


def _raw_container(azurite, container):
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(container)


# --- local filesystem -------------------------------------------------------------------------------------------


def test_local_round_trip_and_file_uri(tmp_path, checkpoint):
    store = open_store(tmp_path / "store")
    info = store.put_file(checkpoint, "checkpoints/agent_1600.pt")
    assert info.uri.startswith("file:///") and Path(info.uri.removeprefix("file://")).is_file()
    assert info.bytes == checkpoint.stat().st_size
    out = tmp_path / "out" / "agent.pt"
    assert store.get_file("checkpoints/agent_1600.pt", out).sha256 == info.sha256
    assert _same_checkpoint(checkpoint, out)
    assert store.list() == ["checkpoints/agent_1600.pt"]  # no sidecars or temp files listed
    assert open_store(store.root_uri).exists("checkpoints/agent_1600.pt")  # file:// URI reopens the store


def test_local_corruption_and_missing_digest_refused(tmp_path, checkpoint):
    store = open_store(tmp_path / "store")
    info = store.put_file(checkpoint, "a.pt")
    path = Path(info.uri.removeprefix("file://"))
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    out = tmp_path / "out.pt"
    with pytest.raises(IntegrityError, match="does not match"):
        store.get_file("a.pt", out)
    assert not out.exists() and list(tmp_path.glob("*.tmp")) == [] and list(tmp_path.glob(".*.tmp")) == []
    path.with_name("a.pt.sha256").unlink()
    with pytest.raises(IntegrityError, match="no recorded sha256"):
        store.read_bytes("a.pt")


def test_uris_with_credentials_are_refused_without_echoing_them():
    for uri, shown in (
        ("https://acct.blob.core.windows.net/checkpoints/run?sv=2024&sig=TOPSECRET",
         "https://acct.blob.core.windows.net/checkpoints/run"),
        ("https://user:TOPSECRET@acct.blob.core.windows.net/checkpoints/run",
         "https://acct.blob.core.windows.net/checkpoints/run"),
        ("ftp://user:TOPSECRET@host/run", "ftp://host/run"),
    ):
        with pytest.raises(ArtifactURIError) as e:  # a ValueError: bad input, exit 2 in the trainer CLI
            open_store(uri)
        assert str(e.value).startswith(f"artifact URI {shown!r}: ") and "TOPSECRET" not in str(e.value)
    # what the trainer writes into manifests and metadata for an MLflow server behind basic auth
    assert redact_uri("https://user:TOPSECRET@mlflow.example.com:5000/?token=x#f") == "https://mlflow.example.com:5000/"
    assert redact_uri("sqlite:////data/mlflow/mlflow.db") == "sqlite:////data/mlflow/mlflow.db"
    assert redact_uri("azureml://eastus.api.azureml.ms/mlflow/v1.0/subscriptions/s") == (
        "azureml://eastus.api.azureml.ms/mlflow/v1.0/subscriptions/s")


def test_keys_cannot_escape_the_root(tmp_path):
    store = open_store(tmp_path)
    with pytest.raises(ValueError, match="no '..'"):
        store.put_bytes(b"x", "../evil")


# --- Azure Blob (Azurite) ---------------------------------------------------------------------------------------


def test_blob_round_trip_real_checkpoint_and_openable_uri(blob_env, tmp_path, checkpoint):
    from azure.storage.blob import BlobClient

    root = _root(blob_env)
    with open_store(root, block_size=64 * 1024) as store:  # small blocks: the checkpoint goes up as several blocks
        info = store.put_file(checkpoint, "checkpoints/agent_1600.pt")
        assert info.uri == f"{root}/checkpoints/agent_1600.pt"
        out = tmp_path / "agent.pt"
        store.get_file("checkpoints/agent_1600.pt", out)
        assert _same_checkpoint(checkpoint, out)
        assert store.list() == ["checkpoints/agent_1600.pt"]
        assert store.exists("checkpoints/agent_1600.pt") and not store.exists("nope.pt")
    # The URI is the blob's real URL: a plain SDK client opens it with the account key.
    raw = BlobClient.from_blob_url(info.uri, credential={"account_name": "devstoreaccount1", "account_key": _key()})
    assert raw.download_blob().readall() == checkpoint.read_bytes()
    props = raw.get_blob_properties()
    assert props.metadata["sha256"] == info.sha256
    committed, _ = raw.get_block_list("committed")
    assert len(committed) > 1  # parallel block upload, committed as one list


def _key():
    from tests.services import AZURITE_KEY

    return AZURITE_KEY


def test_blob_corruption_refused(blob_env, tmp_path, checkpoint):
    root = _root(blob_env)
    store = open_store(root, block_size=64 * 1024)  # the download is several parallel ranged reads
    info = store.put_file(checkpoint, "agent.pt")
    container = _raw_container(blob_env, "checkpoints")
    name = info.uri.split("/checkpoints/", 1)[1]
    tampered = bytearray(checkpoint.read_bytes())
    tampered[-10] ^= 0x01
    container.upload_blob(name, bytes(tampered), overwrite=True, metadata={"sha256": info.sha256})
    out = tmp_path / "agent.pt"
    with pytest.raises(IntegrityError, match="does not match"):
        store.get_file("agent.pt", out)
    with pytest.raises(IntegrityError):
        store.read_bytes("agent.pt")
    assert not out.exists() and not any(tmp_path.iterdir())
    container.upload_blob(name, checkpoint.read_bytes(), overwrite=True)  # no digest recorded at all
    with pytest.raises(IntegrityError, match="no sha256"):
        store.get_file("agent.pt", out)
    with pytest.raises(ObjectNotFound):
        store.get_file("missing.pt", out)


CHUNK = 64 * 1024  # block/chunk size of the stores below: objects around it take 1 or several GETs


def _tamper(azurite, store, key: str, data: bytes, offset: int) -> None:
    """Overwrite the blob with one flipped byte, keeping the recorded sha256 of the original."""
    name = store.uri_for(key).split("/checkpoints/", 1)[1]
    bad = bytearray(data)
    bad[offset] ^= 0x01
    _raw_container(azurite, "checkpoints").upload_blob(
        name, bytes(bad), overwrite=True, metadata={"sha256": store.info(key).sha256}
    )


@pytest.mark.parametrize("size", [0, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5])
def test_blob_download_verifies_single_and_multi_request_objects(blob_env, tmp_path, size):
    """The first GET is hashed as it streams, later ranged chunks as they are written: both halves are checked."""
    store = open_store(_root(blob_env), block_size=CHUNK)
    data = os.urandom(size)
    store.put_bytes(data, "obj.bin")
    out = tmp_path / "obj.bin"
    assert store.get_file("obj.bin", out).bytes == size and out.read_bytes() == data
    assert store.read_bytes("obj.bin") == data
    if size == 0:
        return
    # A flipped byte in the first response, and one in the last ranged chunk (the same GET for one-request sizes).
    for offset in sorted({0, size // 2, size - 1}):
        _tamper(blob_env, store, "obj.bin", data, offset)
        with pytest.raises(IntegrityError, match="does not match"):
            store.get_file("obj.bin", tmp_path / "bad.bin")
        with pytest.raises(IntegrityError, match="does not match"):
            store.read_bytes("obj.bin")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obj.bin"]  # nothing unverified renamed into place


def test_blob_first_response_is_hashed_while_it_streams(blob_env, tmp_path, monkeypatch):
    """Guards the overlap (docs/benchmarks.md): the tap must see the whole first GET, or the hash is back on the
    critical path."""
    from trainer.storage import blob

    heads = []
    finish = blob._FirstResponseTap.finish
    monkeypatch.setattr(blob._FirstResponseTap, "finish", lambda self: heads.append(finish(self)) or heads[-1])
    store = open_store(_root(blob_env), block_size=CHUNK)
    for size in (CHUNK, 3 * CHUNK + 5):
        store.put_bytes(os.urandom(size), f"{size}.bin")
        store.get_file(f"{size}.bin", tmp_path / f"{size}.bin")
    assert [h.size for h in heads] == [CHUNK, CHUNK]  # single GET: all of it; several: the first chunk


def test_blob_download_without_tap_still_verifies_every_byte(blob_env, tmp_path, monkeypatch):
    """If the SDK ever stops streaming through the tap, the writer hashes everything itself; nothing goes unchecked."""
    from trainer.storage import blob

    monkeypatch.setattr(blob._FirstResponseTap, "__call__", lambda self, response: None)
    store = open_store(_root(blob_env), block_size=CHUNK)
    data = os.urandom(2 * CHUNK + 3)
    store.put_bytes(data, "obj.bin")
    assert store.get_file("obj.bin", tmp_path / "ok.bin").bytes == len(data) and store.read_bytes("obj.bin") == data
    _tamper(blob_env, store, "obj.bin", data, 7)
    with pytest.raises(IntegrityError, match="does not match"):
        store.get_file("obj.bin", tmp_path / "bad.bin")
    assert not (tmp_path / "bad.bin").exists()


def test_hashing_writer_rehashes_a_first_write_the_head_does_not_describe(tmp_path):
    import hashlib

    from trainer.storage.blob import _HashedHead, _HashingWriter

    with open(tmp_path / "f", "wb") as f:
        writer = _HashingWriter(f, head=_HashedHead(hashlib.sha256(b"other"), 5))
        writer.write(b"hello world")
    assert writer.hexdigest() == hashlib.sha256(b"hello world").hexdigest()


def test_fetch_a_prefix_and_one_object(blob_env, tmp_path, checkpoint):
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "best_agent.pt").write_bytes(checkpoint.read_bytes())
    (run_dir / "metrics.jsonl").write_text('{"timestep": 1}\n')
    (run_dir / "manifest.json").write_text(json.dumps({"task": "cartpole"}))
    root = _root(blob_env)
    store = open_store(root)
    published = {key: store.put_file(run_dir / key, key)
                 for key in ("checkpoints/best_agent.pt", "metrics.jsonl", "manifest.json")}
    got = fetch(root, tmp_path / "fetched")
    assert (got / "metrics.jsonl").read_text() == (run_dir / "metrics.jsonl").read_text()
    single = fetch(published["checkpoints/best_agent.pt"].uri, tmp_path / "one")
    assert single.name == "best_agent.pt" and _same_checkpoint(checkpoint, single)
    with pytest.raises(ObjectNotFound):
        fetch(f"{root}/nothing-here", tmp_path / "none")


def test_connection_string_for_another_endpoint_is_refused(blob_env):
    with pytest.raises(AzureAuthError, match="AZURE_STORAGE_CONNECTION_STRING is for") as e:
        open_store("https://prodaccount.blob.core.windows.net/checkpoints/x")
    assert "Eby8" not in str(e.value)  # the account key never appears in the error


# --- outages ----------------------------------------------------------------------------------------------------


@pytest.fixture
def own_azurite(tmp_path, monkeypatch):
    """A private Azurite this test may kill and restart (same port and data folder)."""
    server = Azurite(tmp_path / "azurite")
    try:
        server.start()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", server.connection_string)
    yield server
    server.stop()


def test_killed_azurite_during_upload_leaves_nothing_valid_and_retry_succeeds(own_azurite, tmp_path):
    big = tmp_path / "model.bin"
    big.write_bytes(os.urandom(24 * 1024 * 1024))
    old = b"previous version"
    root = f"{own_azurite.blob_endpoint}/models/cartpole/eastus/run1"
    opts = {"block_size": 1024 * 1024, "max_concurrency": 2, "retry_total": 1, "initial_backoff": 0.1,
            "increment_base": 0.1}
    store = open_store(root, **opts)
    store.put_bytes(old, "overwritten.bin")
    # Azurite (not Azure) keeps its index in memory and saves it every few seconds; a clean restart makes the
    # previous version durable before the crash below.
    own_azurite.stop()
    own_azurite.start()
    errors: dict[str, BaseException] = {}

    def upload(key):
        try:
            store.put_file(big, key)
        except BaseException as e:  # noqa: BLE001 - collected for the assertion below
            errors[key] = e

    threads = [threading.Thread(target=upload, args=(k,)) for k in ("new.bin", "overwritten.bin")]
    for t in threads:
        t.start()
    # Kill once blocks are being staged, i.e. mid-upload.
    from azure.core.exceptions import ResourceNotFoundError

    staged = _raw_container(own_azurite, "models").get_blob_client("cartpole/eastus/run1/new.bin")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if len(staged.get_block_list("uncommitted")[1]) >= 3:
                break
        except ResourceNotFoundError:
            pass
        time.sleep(0.02)
    own_azurite.kill()
    for t in threads:
        t.join(60)
    assert set(errors) == {"new.bin", "overwritten.bin"}
    assert all(isinstance(e, StorageError) and "failed after retries" in str(e) for e in errors.values())

    own_azurite.start()
    store = open_store(root, **opts)
    assert not store.exists("new.bin")
    with pytest.raises(ObjectNotFound):
        store.get_file("new.bin", tmp_path / "x.bin")
    assert store.read_bytes("overwritten.bin") == old  # readers still see the complete previous version
    assert store.list() == ["overwritten.bin"]

    store.put_file(big, "new.bin")  # the retry after the restart goes through
    store.get_file("new.bin", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == big.read_bytes()


def test_transient_outage_is_retried_with_backoff(own_azurite, tmp_path):
    root = f"{own_azurite.blob_endpoint}/reports/cartpole"
    store = open_store(root, retry_total=8, initial_backoff=0.5, increment_base=1.5)
    store.put_bytes(b"warm-up", "w.txt")
    own_azurite.kill()
    restarter = threading.Timer(1.5, own_azurite.start)
    restarter.start()
    t0 = time.monotonic()
    info = store.put_bytes(b"report body", "report.md")  # fails while Azurite is down, then succeeds
    restarter.join()
    assert time.monotonic() - t0 >= 1.0
    assert store.read_bytes("report.md") == b"report body" and info.sha256 == store.info("report.md").sha256
