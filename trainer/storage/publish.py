"""Publishing a trainer run directory to an artifact URI and fetching artifacts back."""

from __future__ import annotations

from pathlib import Path

from trainer.storage.base import ObjectInfo, ObjectNotFound, StorageError, sha256_file
from trainer.storage.open import open_store
from trainer.storage.uris import redact_uri

COMMIT_MARKER = "manifest.json"  # uploaded last: a reader that sees it sees every file it names


def publish_run_dir(run_dir: str | Path, artifact_uri: str, store=None) -> dict[str, ObjectInfo]:
    """Upload every file of ``run_dir`` under ``artifact_uri``; returns ``{relative path: ObjectInfo}``.

    Files already stored with the same sha256 are skipped, so publishing after each checkpoint (or retrying after an
    outage) only sends what changed. ``manifest.json`` goes last.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ObjectNotFound(f"publish_run_dir: {run_dir} is not a directory")
    store = store or open_store(artifact_uri)
    files = sorted(
        (p for p in run_dir.rglob("*") if p.is_file() and not p.name.endswith(".tmp")),
        key=lambda p: (p.name == COMMIT_MARKER, p.as_posix()),
    )
    published: dict[str, ObjectInfo] = {}
    for path in files:
        key = path.relative_to(run_dir).as_posix()
        digest = sha256_file(path)
        try:
            existing = store.info(key)
            if existing.sha256 == digest:
                published[key] = existing
                continue
        except (ObjectNotFound, StorageError):
            pass
        published[key] = store.put_file(path, key)
    return published


def fetch(uri: str, local_dir: str | Path) -> Path:
    """Download one object (returns its local path) or every object under a prefix (returns ``local_dir``).

    Everything is verified against its sha256; nothing unverified is left in ``local_dir``.
    """
    local_dir = Path(local_dir)
    store = open_store(uri)
    keys = store.list()
    if keys:
        for key in keys:
            store.get_file(key, local_dir / key)
        return local_dir
    parent, _, name = uri.rstrip("/").rpartition("/")
    try:
        store = open_store(parent)
    except ValueError:
        raise ObjectNotFound(f"no artifact at {redact_uri(uri)}") from None
    dest = local_dir / name
    store.get_file(name, dest)  # ObjectNotFound if there is nothing there either
    return dest
