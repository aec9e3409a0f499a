"""Run manifest and checkpoint integrity: every checkpoint is written atomically and recorded with its sha256.

The manifest (`manifest.json`) is the run directory's source of truth: a checkpoint file that is not listed (e.g. a
half-written one from a SIGKILL) is ignored, and one whose bytes no longer match its recorded sha256 is refused.

The manifest sits in the same writable store as the checkpoints, so it proves integrity, not origin. Two more
guards make a checkpoint data, never code: every load is ``torch.load(weights_only=True)`` (tensors, numbers,
strings, lists, tuples, dicts: a pickle that names any other callable is refused before it runs), and a caller that
knows the sha256 from elsewhere (the orchestrator's Dagster metadata: ``--checkpoint-sha256``) has it checked on
the very bytes that are unpickled. What we save is kept loadable that way (``plain``).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from trainer.files import atomic_write_bytes, atomic_write_text, sha256_file

MANIFEST = "manifest.json"
CHECKPOINT_DIR = "checkpoints"
BEST = "best_agent.pt"
_STEP_RE = re.compile(r"^agent_(\d+)\.pt$")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unlisted or does not match its manifest."""


def plain(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays turned into Python numbers and tensors, so weights-only loads accept it.

    skrl keeps its best reward as ``np.float64`` (``np.mean`` of the tracked rewards), which the weights-only
    unpickler refuses; everything else skrl and TrainingState save is already tensors, numbers, lists and dicts.
    """
    import numpy as np
    import torch

    if isinstance(obj, dict):  # OrderedDict (a state_dict) stays one: weights-only loads accept it
        return type(obj)({k: plain(v) for k, v in obj.items()})
    if isinstance(obj, list | tuple):
        return type(obj)(plain(v) for v in obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj)
    return obj


def atomic_torch_save(obj: Any, path: Path) -> None:
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(plain(obj), buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load(path: Path, sha256: str, *, map_location: Any = "cpu") -> dict[str, Any]:
    """The checkpoint's dict, read once, checked against ``sha256`` and unpickled with ``weights_only=True``.

    Hashing the same bytes that are unpickled leaves no window for a swap between check and load. A checkpoint that
    needs anything beyond tensors and plain containers raises CheckpointError without running any of it.
    """
    import io

    import torch

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"checkpoint {path} cannot be read: {exc.strerror}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise CheckpointError(
            f"checkpoint {path} changed since it was verified: sha256 {actual[:16]}... != {sha256[:16]}...; "
            "refusing to load it"
        )
    try:
        state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - UnpicklingError, or torch's RuntimeError around it
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        # torch's message is a page of advice; the line that names what the pickle asked for is the useful one
        why = next((line for line in lines if "unsupported" in line.lower() and "GLOBAL" in line),
                   lines[0] if lines else type(exc).__name__)
        raise CheckpointError(
            f"checkpoint {path} is not a weights-only checkpoint (tensors, numbers, lists and dicts); refusing to "
            f"unpickle it: {why[:300]}"
        ) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a dict of modules")
    return state


def load_agent(agent: Any, path: Path, sha256: str) -> None:
    """skrl's ``Agent.load`` (skrl 2.1.1 ``agents/torch/base.py``) with a weights-only, sha256-checked read.

    skrl's own loader unpickles with ``weights_only=False``, so it is never called.
    """
    state = load(path, sha256, map_location=agent.device)
    unknown = sorted(set(state) - set(agent.checkpoint_modules))
    if unknown:
        print(f"[trainer] warning: {Path(path).name}: skipping modules this agent does not have: {unknown}",
              flush=True)
    for name, data in state.items():
        module = agent.checkpoint_modules.get(name)
        if module is None:
            continue
        module.load_state_dict(data)
        if hasattr(module, "eval"):
            module.eval()


WEIGHT_MODULES = ("policy", "value", "observation_preprocessor", "state_preprocessor", "value_preprocessor")


def load_weights(agent: Any, path: Path, sha256: str) -> None:
    """Only the networks and normalizers of a checkpoint (a warm start): counters, optimizer and best-so-far stay."""
    state = load(path, sha256, map_location=agent.device)
    if "policy" not in state:
        raise CheckpointError(f"{path} is not a skrl agent checkpoint (no 'policy' entry)")
    for name in WEIGHT_MODULES:
        module = agent.checkpoint_modules.get(name)
        if module is not None and name in state:
            module.load_state_dict(state[name])


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


def check_sha256(path: Path, expected: str, source: str) -> str:
    """Refuse a checkpoint whose bytes do not hash to ``expected`` (a sha256 recorded outside the run directory)."""
    expected = expected.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise CheckpointError(f"{source}: {expected[:80]!r} is not a sha256 (64 hex digits)")
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    actual = sha256_file(path)
    if actual != expected:
        raise CheckpointError(
            f"checkpoint {path} does not match {source}: sha256 {actual[:16]}... != {expected[:16]}... (the file "
            "changed after that sha256 was recorded; refusing to load it)"
        )
    return actual


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
