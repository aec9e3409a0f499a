"""The trainer's code version: a hash of the trainer package's sources, so a code change marks what it made stale.

Read from the files (never imported: the trainer pulls in torch, Isaac Lab and skrl) when definitions load. Remote
backends run the trainer image built from the same checkout; the hash names the code the Dagster deployment ships.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

SOURCE_SUFFIXES = (".py", ".yaml", ".yml")


def package_dir(name: str = "trainer") -> Path | None:
    """The package's folder, found without importing it (None when it is not installed here)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def source_hash(root: Path) -> str:
    """sha256 over every source file's relative path and bytes (sorted: independent of the file system's order)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in SOURCE_SUFFIXES and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def trainer_code_version() -> str | None:
    root = package_dir("trainer")
    return f"trainer-{source_hash(root)[:16]}" if root else None
