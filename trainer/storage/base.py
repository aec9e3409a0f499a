"""The artifact-store contract shared by the local-filesystem and Azure Blob backends."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

SHA256_KEY = "sha256"  # blob metadata key / sidecar suffix carrying each object's digest


class StorageError(RuntimeError):
    """An artifact could not be stored or fetched (after the configured retries)."""


class IntegrityError(StorageError):
    """A stored object does not match the sha256 recorded with it: it is refused, never returned."""


class ObjectNotFound(StorageError, FileNotFoundError):
    pass


@dataclass(frozen=True)
class ObjectInfo:
    uri: str
    sha256: str
    bytes: int

    def as_dict(self) -> dict:
        return {"uri": self.uri, "sha256": self.sha256, "bytes": self.bytes}


class ArtifactStore(Protocol):
    """Objects addressed by '/'-separated keys under one root URI.

    Guarantees of every backend: a reader never sees a partially written object (writes become visible at once),
    every object carries its sha256 and reads verify it (``IntegrityError`` otherwise), and ``uri_for`` returns a
    URI that opens the object with ordinary tools (``file://`` path, or the blob's https URL).
    """

    root_uri: str

    def put_file(self, local_path: str | Path, key: str) -> ObjectInfo: ...
    def put_bytes(self, data: bytes, key: str) -> ObjectInfo: ...
    def get_file(self, key: str, local_path: str | Path) -> ObjectInfo: ...
    def read_bytes(self, key: str) -> bytes: ...
    def info(self, key: str) -> ObjectInfo: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str = "") -> list[str]: ...
    def uri_for(self, key: str) -> str: ...


def clean_key(key: str) -> str:
    """Keys are relative, '/'-separated and may not climb out of the store's root."""
    parts = [p for p in str(key).replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise ValueError(f"artifact key {key!r}: must be a relative path inside the store (no '..', not empty)")
    return "/".join(parts)


def join_key(prefix: str, key: str) -> str:
    return f"{prefix.rstrip('/')}/{key}" if prefix else key
