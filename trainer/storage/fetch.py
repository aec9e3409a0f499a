"""Fetching stored artifacts back: one object, or every object under a prefix (writing a run: run_location.py)."""

from __future__ import annotations

from pathlib import Path

from trainer.redaction import redact_uri
from trainer.storage.base import ObjectNotFound
from trainer.storage.open import open_store


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
