"""Local-filesystem artifact store (the embedded default): atomic renames and sha256 sidecar files."""

from __future__ import annotations

import shutil
from pathlib import Path

from trainer.files import atomic_path, atomic_write_bytes, sha256_bytes, sha256_file
from trainer.storage.base import (
    SHA256_KEY,
    IntegrityError,
    ObjectInfo,
    ObjectNotFound,
    clean_key,
)

_SIDECAR = f".{SHA256_KEY}"


class LocalStore:
    """Objects are files under ``root``; each has ``<name>.sha256`` next to it.

    The digest is written before the object is renamed into place, so an object that exists always has its digest;
    objects are written to a temporary file in the same folder and renamed (atomic on POSIX), so readers never see
    a partial file.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.root_uri = self.root.as_uri()

    def _path(self, key: str) -> Path:
        return self.root / clean_key(key)

    def uri_for(self, key: str) -> str:
        return self._path(key).as_uri()

    def put_file(self, local_path: str | Path, key: str) -> ObjectInfo:
        src = Path(local_path)
        if not src.is_file():
            raise ObjectNotFound(f"put_file: {src} is not a file")
        dest = self._path(key)
        if dest.resolve() == src.resolve():  # publishing a run dir into itself: only record the digest
            digest = sha256_file(src)
            atomic_write_bytes(dest.with_name(dest.name + _SIDECAR), digest.encode())
            return ObjectInfo(dest.as_uri(), digest, src.stat().st_size)
        digest = sha256_file(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(dest.with_name(dest.name + _SIDECAR), digest.encode())
        with atomic_path(dest) as tmp, open(src, "rb") as f, open(tmp, "wb") as out:
            shutil.copyfileobj(f, out, 4 * 1024 * 1024)
        return ObjectInfo(dest.as_uri(), digest, dest.stat().st_size)

    def put_bytes(self, data: bytes, key: str) -> ObjectInfo:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        digest = sha256_bytes(data)
        atomic_write_bytes(dest.with_name(dest.name + _SIDECAR), digest.encode())
        atomic_write_bytes(dest, data)
        return ObjectInfo(dest.as_uri(), digest, len(data))

    def _expected(self, key: str) -> tuple[Path, str]:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(f"no artifact at {path.as_uri()}")
        try:
            digest = path.with_name(path.name + _SIDECAR).read_text().strip()
        except FileNotFoundError:
            raise IntegrityError(f"{path.as_uri()}: no recorded sha256 ({path.name}{_SIDECAR}); refusing to use it")
        return path, digest

    def info(self, key: str) -> ObjectInfo:
        path, digest = self._expected(key)
        return ObjectInfo(path.as_uri(), digest, path.stat().st_size)

    def get_file(self, key: str, local_path: str | Path) -> ObjectInfo:
        path, digest = self._expected(key)
        dest = Path(local_path)
        with atomic_path(dest) as tmp:  # renamed into place only once verified
            shutil.copyfile(path, tmp)
            _verify(path.as_uri(), sha256_file(tmp), digest)
        return ObjectInfo(path.as_uri(), digest, dest.stat().st_size)

    def read_bytes(self, key: str) -> bytes:
        path, digest = self._expected(key)
        data = path.read_bytes()
        _verify(path.as_uri(), sha256_bytes(data), digest)
        return data

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        base = self._path(prefix) if prefix else self.root
        if prefix and base.is_file():
            return [clean_key(prefix)]
        if not base.is_dir():
            return []
        keys = []
        for p in base.rglob("*"):
            if p.is_file() and not p.name.endswith(_SIDECAR) and not (p.name.startswith(".") and p.name.endswith(".tmp")):
                keys.append(p.relative_to(self.root).as_posix())
        return sorted(keys)


def _verify(uri: str, actual: str, expected: str) -> None:
    if actual != expected:
        raise IntegrityError(f"{uri}: sha256 {actual} does not match the recorded {expected}; refusing to use it")
