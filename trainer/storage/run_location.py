"""Where a run lives: a local folder (the embedded default), or a store URI the trainer writes through to.

``--run-dir`` / ``--out`` take a folder, a ``file://`` URI or a Blob URL. A folder or ``file://`` URI is used in
place. With a Blob URL the trainer works in a local scratch folder (the pod's own disk, which dies with it) and every
file it finishes goes to the store through ``WriteThrough``; ``--resume`` first restores the run's manifest, its
newest verified checkpoint, its best checkpoint and its curve from the store. The store is the run's only lasting
home, so a preempted pod's replacement, the evaluation and export pods and the registry step all find it there.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Self
from urllib.parse import unquote, urlsplit

from trainer.redaction import redact_uri
from trainer.storage.base import ObjectNotFound, StorageError
from trainer.storage.uris import is_blob_uri

MANIFEST = "manifest.json"
_STEP_RE = re.compile(r"^agent_(\d+)\.pt$")
# what --resume needs besides the checkpoints (the curve is continued, the configs are rewritten anyway)
_RESUME_FILES = ("metrics.jsonl", "config.resolved.yaml", "agent.yaml")
# what evaluation and export read besides the checkpoint
_READ_FILES = ("agent.yaml", "metrics.jsonl", "config.resolved.yaml")


class RunLocationError(ValueError):
    """The run location cannot be used (bad input): unreachable store, or a run there that the request would clobber."""


def local_folder(text: str | Path) -> Path | None:
    """The folder a plain path or ``file://`` URI names; None for a store URL. Other schemes are refused."""
    text = str(text)
    if is_blob_uri(text):
        return None
    parts = urlsplit(text)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise RunLocationError(f"{redact_uri(text)!r}: a file:// URI names a folder on this machine (file:///path)")
        return Path(unquote(parts.path))
    if parts.scheme and len(parts.scheme) > 1:  # 'C:' is a drive, not a scheme
        raise RunLocationError(
            f"{redact_uri(text)!r}: unsupported scheme {parts.scheme!r}; use a folder, a file:// URI or a Blob URL "
            "(https://<account>.blob.core.windows.net/<container>/<path>)"
        )
    return Path(text)


def _open_remote(uri: str):
    """The store at ``uri``, checked to answer now: bad input (exit 2) before any training when it does not."""
    from trainer.storage.open import open_store

    probe = open_store(uri, retry_total=2, initial_backoff=0.5, connection_timeout=5, read_timeout=20)
    try:
        probe.exists(MANIFEST)
    except StorageError as e:
        raise RunLocationError(
            f"the artifact store at {redact_uri(uri)} is not reachable ({e}); check the URL, the network and the "
            "credentials (docs/azure.md)"
        ) from None
    finally:
        probe.close()
    return open_store(uri)


class RunLocation:
    """A run's URI and the local folder the trainer reads and writes; ``put`` sends finished files on to the store."""

    def __init__(self, uri: str, local_dir: Path, store=None, scratch: Path | None = None) -> None:
        self.uri, self.local_dir, self.store, self._scratch = uri, Path(local_dir), store, scratch
        self._writer = None

    @classmethod
    def local(cls, folder: str | Path) -> RunLocation:
        folder = Path(folder).resolve()
        return cls(str(folder), folder)

    @property
    def remote(self) -> bool:
        return self.store is not None

    def uri_for(self, relative: str) -> str:
        return self.store.uri_for(relative) if self.store else (self.local_dir / relative).resolve().as_uri()

    def shown(self, relative: str) -> str:
        """How a file of the run is named to the user: its local path, or its store URI (never the scratch path)."""
        return self.uri_for(relative) if self.store else str(self.local_dir / relative)

    def put(self, *relative: str) -> None:
        """Send these files (in this order) to the store once written; nothing to do for a local folder."""
        if self.store is None:
            return
        if self._writer is None:
            from trainer.storage.writethrough import WriteThrough

            self._writer = WriteThrough(self.store, self.local_dir)
        self._writer.put(*relative)

    def finish(self) -> None:
        """Block until every file put so far is verified in the store (StorageError otherwise)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def close(self) -> None:
        """Flush what is queued (best effort: a crashed run's last checkpoint is still worth storing), drop scratch."""
        if self._writer is not None:
            self._writer.close(raise_errors=False)
            self._writer = None
        close_store = getattr(self.store, "close", None)  # a BlobStore holds connections; a LocalStore nothing
        if close_store is not None:
            close_store()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- restoring from the store ---------------------------------------------------------------------------------

    def _get(self, relative: str) -> bool:
        try:
            self.store.get_file(relative, self.local_dir / relative)  # sha256-verified, or IntegrityError
        except ObjectNotFound:
            return False
        return True

    def _manifest(self) -> dict | None:
        if not self._get(MANIFEST):
            return None
        try:
            return json.loads((self.local_dir / MANIFEST).read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            raise RunLocationError(f"{self.uri_for(MANIFEST)} is not valid JSON; the stored run is damaged") from None

    def restore_for_training(self, *, resume: bool) -> None:
        manifest = self._manifest()
        if manifest is None:
            return
        if not resume:
            raise RunLocationError(
                f"{self.uri} already holds a training run (manifest.json); pass --resume to continue it or choose a "
                "new --run-dir"
            )
        listed = manifest.get("checkpoints", {})
        steps = [(entry["timestep"], name) for name, entry in listed.items() if _STEP_RE.match(name)]
        wanted = [max(steps)[1]] if steps else []
        if "best_agent.pt" in listed:
            wanted.append("best_agent.pt")
        for name in wanted:
            if not self._get(f"checkpoints/{name}"):
                raise StorageError(f"{self.uri_for(MANIFEST)} lists checkpoints/{name} but the store has no such object")
        for name in _RESUME_FILES:
            self._get(name)

    def restore_for_reading(self, checkpoint: str | None, *, with_checkpoint: bool = True) -> Path | None:
        """Fetch what evaluation/export read: manifest, agent config, curve and one checkpoint (default: best).

        Returns the local path of the named checkpoint (None for the default, which the caller resolves from the
        manifest as for a local run).
        """
        manifest = self._manifest()
        if manifest is None:
            raise ObjectNotFound(f"no training run at {self.uri} (no manifest.json)")
        for name in _READ_FILES:
            self._get(name)
        if not with_checkpoint:
            return None
        listed = manifest.get("checkpoints", {})
        if checkpoint is None:
            steps = [(entry["timestep"], name) for name, entry in listed.items() if _STEP_RE.match(name)]
            if "best_agent.pt" in listed:
                name = "best_agent.pt"
            elif steps:
                name = max(steps)[1]
            else:
                raise ObjectNotFound(f"the run at {self.uri} has no checkpoints")
            self._get(f"checkpoints/{name}")
            return None
        name = Path(checkpoint).name
        if not self._get(f"checkpoints/{name}"):
            raise ObjectNotFound(f"no checkpoint {self.uri_for('checkpoints/' + name)}")
        return self.local_dir / "checkpoints" / name


def open_run_location(text: str | Path) -> RunLocation:
    """A folder or file:// URI in place; a Blob URL as a fresh scratch folder bound to its (reachable) store.

    The scratch folder ends in the run's own name, so anything named after the folder (the MLflow run) is named the
    same on every backend.
    """
    folder = local_folder(text)
    if folder is not None:
        return RunLocation.local(folder)
    store = _open_remote(str(text))  # ArtifactURIError for credentials in the URL, AzureAuthError, RunLocationError
    scratch = Path(tempfile.mkdtemp(prefix="trainer-run-"))
    name = store.root_uri.rstrip("/").rsplit("/", 1)[-1] or "run"
    local_dir = scratch / name
    local_dir.mkdir()
    return RunLocation(store.root_uri, local_dir, store=store, scratch=scratch)


@contextlib.contextmanager
def output_location(text: str | Path):
    """``--out`` of evaluate/export: a folder in place, or a scratch folder whose files are stored by ``publish``."""
    location = open_run_location(text)
    try:
        yield location
    finally:
        location.close()


def publish_outputs(location: RunLocation, summary: str) -> None:
    """Store every file of an output folder, ``summary`` (the file that says the set is complete) last; verified."""
    if not location.remote:
        return
    files = sorted(
        (p.relative_to(location.local_dir).as_posix() for p in location.local_dir.rglob("*")
         if p.is_file() and not p.name.endswith(".tmp")),
        key=lambda rel: (rel == summary, rel),
    )
    location.put(*files)
    location.finish()
