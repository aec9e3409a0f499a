"""Run manifest and checkpoint integrity: every checkpoint is written atomically and recorded with its sha256.

The manifest (`manifest.json`) is the run directory's source of truth: a checkpoint file that is not listed (e.g. a
half-written one from a SIGKILL) is ignored, and one whose bytes no longer match its recorded sha256 is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
CHECKPOINT_DIR = "checkpoints"
BEST = "best_agent.pt"
_STEP_RE = re.compile(r"^agent_(\d+)\.pt$")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unlisted or does not match its manifest."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, rename: readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_torch_save(obj: Any, path: Path) -> None:
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: manifest is not valid JSON ({exc}); the run directory is damaged") from None


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    atomic_write_text(Path(run_dir) / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def record_checkpoint(run_dir: Path, manifest: dict[str, Any], path: Path, timestep: int) -> dict[str, Any]:
    """Hash a freshly written checkpoint and persist the manifest entry (the manifest is rewritten atomically)."""
    entry = {"sha256": sha256_file(path), "timestep": int(timestep), "bytes": path.stat().st_size}
    manifest.setdefault("checkpoints", {})[path.name] = entry
    write_manifest(run_dir, manifest)
    return entry


def checkpoint_path(run_dir: Path, name: str) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / name


def verify(path: Path, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check a checkpoint against its run's manifest; returns its entry or raises CheckpointError.

    `manifest` defaults to the one in the checkpoint's run directory (`<run_dir>/checkpoints/<name>`).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if manifest is None:
        manifest = read_manifest(path.parent.parent)
        if manifest is None:
            raise CheckpointError(f"checkpoint {path} has no manifest.json in its run directory; cannot verify it")
    entry = manifest.get("checkpoints", {}).get(path.name)
    if entry is None:
        raise CheckpointError(
            f"checkpoint {path} is not listed in the run manifest (an interrupted write?); "
            f"listed: {', '.join(sorted(manifest.get('checkpoints', {}))) or 'none'}"
        )
    actual = sha256_file(path)
    if actual != entry["sha256"]:
        raise CheckpointError(
            f"checkpoint {path} does not match its manifest: sha256 {actual[:16]}... != recorded "
            f"{entry['sha256'][:16]}... (the file was modified or corrupted; refusing to load it)"
        )
    return entry


def latest(run_dir: Path, manifest: dict[str, Any] | None = None) -> tuple[Path, dict[str, Any]] | None:
    """The newest listed `agent_<step>.pt`, verified; None when the run has no checkpoint yet."""
    manifest = manifest if manifest is not None else read_manifest(run_dir)
    if not manifest:
        return None
    steps = [
        (entry["timestep"], name)
        for name, entry in manifest.get("checkpoints", {}).items()
        if _STEP_RE.match(name)
    ]
    if not steps:
        return None
    _, name = max(steps)
    path = checkpoint_path(run_dir, name)
    return path, verify(path, manifest)


def best(run_dir: Path, manifest: dict[str, Any] | None = None) -> tuple[Path, dict[str, Any]]:
    """`best_agent.pt`, verified (falls back to the latest checkpoint when no best was recorded)."""
    manifest = manifest if manifest is not None else read_manifest(run_dir)
    path = checkpoint_path(run_dir, BEST)
    if manifest and BEST in manifest.get("checkpoints", {}):
        return path, verify(path, manifest)
    found = latest(run_dir, manifest)
    if found is None:
        raise CheckpointError(f"run directory {run_dir} has no checkpoints")
    return found
