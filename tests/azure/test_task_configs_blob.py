"""Task configs from an Azure Blob container, through the sensor's TaskConfigSource interface."""

from __future__ import annotations

from pathlib import Path

import pytest

from robotics_assets.lib.azure.task_configs import BlobTaskConfigSource
from robotics_assets.lib.task_sources import (
    TaskConfigError,
    open_source,
    validate_task_config,
)

CARTPOLE = Path(__file__).resolve().parents[2] / "task_configs" / "cartpole.yaml"


@pytest.fixture
def container(azurite, monkeypatch):
    from azure.storage.blob import BlobServiceClient

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    svc = BlobServiceClient.from_connection_string(azurite.connection_string)
    client = svc.get_container_client("task-configs")
    if not client.exists():
        client.create_container()
    for name in client.list_blob_names():
        client.delete_blob(name)
    return client


def test_blob_container_serves_task_configs(azurite, container):
    container.upload_blob("team-a/cartpole.yaml", CARTPOLE.read_bytes())
    container.upload_blob("team-a/notes.txt", b"not a config")
    container.upload_blob("team-a/archive/old.yaml", b"name: old")  # not directly under the prefix
    source = open_source(f"{azurite.blob_endpoint}/task-configs/team-a")
    assert isinstance(source, BlobTaskConfigSource)
    configs = source.list_configs()
    assert [name for name, _ in configs] == ["cartpole"]
    assert configs[0][1] == CARTPOLE.read_bytes()
    assert validate_task_config("cartpole", configs[0][1], location=source.location).name == "cartpole"

    changed = CARTPOLE.read_bytes() + b"\n# edited\n"
    container.upload_blob("team-a/cartpole.yaml", changed, overwrite=True)
    assert source.read("cartpole") == changed  # a new ETag is fetched, the cached old content is not served
    with pytest.raises(TaskConfigError, match="no ant.yaml"):
        source.read("ant")


def test_missing_container_is_a_clear_error(azurite, monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    with pytest.raises(TaskConfigError, match="task-config container not found"):
        BlobTaskConfigSource(f"{azurite.blob_endpoint}/no-such-container").list_configs()


def test_an_oversized_blob_is_refused_after_downloading_only_the_cap(azurite, container, monkeypatch):
    from robotics_assets.lib.azure import task_configs
    from trainer.safe_yaml import MAX_BYTES

    container.upload_blob("big.yaml", CARTPOLE.read_bytes().replace(b"name: cartpole", b"name: big") +
                          b"#" * (4 * MAX_BYTES))
    container.upload_blob("cartpole.yaml", CARTPOLE.read_bytes())
    source = open_source(f"{azurite.blob_endpoint}/task-configs")
    content = dict(source.list_configs())
    assert len(content["big"]) == MAX_BYTES + 1 and content["cartpole"] == CARTPOLE.read_bytes()
    with pytest.raises(TaskConfigError, match=r"/big\.yaml: <file>: 262,145 bytes is too large for a config"):
        validate_task_config("big", content["big"], location=source.location)
    monkeypatch.setattr(task_configs, "_CACHE_ENTRIES", 1)  # the content cache stays within its bound
    monkeypatch.setattr(task_configs, "_cache", type(task_configs._cache)())
    source.list_configs()
    assert len(task_configs._cache) == 1
