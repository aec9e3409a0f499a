"""Write-through of a run's files to the artifact store: a background uploader with a bounded queue.

The trainer writes into a local scratch folder as it always does and hands each finished file to ``WriteThrough.put``.
``put`` snapshots the file at once (a copy, or a hard link for large files, which this project always replaces by an
atomic rename and never rewrites in place), so what is uploaded is what was listed when ``put`` was called, even if
the file changes later. One worker uploads in submission order and checks each object's sha256 in the store after
the upload; the caller submits a checkpoint before the manifest that lists it, so the stored manifest never names
bytes that are not verified in the store. After a failure (retries with backoff exhausted) nothing later is uploaded,
``put`` raises, and ``close`` raises: a run never reports success with files missing from the store.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import tempfile
import threading
import time
from pathlib import Path

from trainer.files import sha256_file
from trainer.storage.base import ObjectInfo, StorageError

_LINK_FROM_BYTES = 64 * 1024 * 1024  # smaller files are copied (metrics.jsonl is appended in place)


class WriteThrough:
    """Uploads files of ``local_dir`` to the same relative keys of ``store``, in order, verified."""

    def __init__(self, store, local_dir: Path, *, max_pending: int = 32, attempts: int = 4, backoff_s: float = 1.0,
                 max_backoff_s: float = 15.0, sleep=time.sleep) -> None:
        self.store, self.local_dir = store, Path(local_dir)
        self.attempts, self.backoff_s, self.max_backoff_s, self._sleep = attempts, backoff_s, max_backoff_s, sleep
        # bounded: a store far slower than training eventually holds training back instead of filling the disk
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self._staging = Path(tempfile.mkdtemp(prefix=".writethrough-", dir=self.local_dir.parent))
        self._error: StorageError | None = None
        self._closed = False
        self.uploaded: dict[str, ObjectInfo] = {}
        self.upload_s = 0.0  # time the worker spent uploading and verifying (off the training thread)
        self._thread = threading.Thread(target=self._run, name="run-writethrough", daemon=True)
        self._thread.start()

    def put(self, *relative: str) -> None:
        """Queue these files (relative to ``local_dir``) for upload, in this order; missing files are skipped."""
        if self._error is not None:
            raise self._error
        if self._closed:
            raise RuntimeError("WriteThrough.put after close")
        for rel in relative:
            src = self.local_dir / rel
            if not src.is_file():
                continue
            fd, name = tempfile.mkstemp(dir=self._staging)
            os.close(fd)
            snap = Path(name)
            if src.stat().st_size >= _LINK_FROM_BYTES:
                snap.unlink()
                os.link(src, snap)
            else:
                shutil.copyfile(src, snap)
            self._queue.put((rel, snap))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            rel, snap = item
            try:
                if self._error is None:
                    started = time.monotonic()
                    self.uploaded[rel] = self._upload(rel, snap)
                    self.upload_s += time.monotonic() - started
            except StorageError as e:
                self._error = e
            except Exception as e:  # noqa: BLE001 - any failure of the worker must surface in put/close
                self._error = StorageError(f"uploading {rel} failed: {type(e).__name__}: {e}")
            finally:
                snap.unlink(missing_ok=True)

    def _upload(self, rel: str, snap: Path) -> ObjectInfo:
        digest, size = sha256_file(snap), snap.stat().st_size
        last: Exception | None = None
        for attempt in range(self.attempts):
            if attempt:
                self._sleep(min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s))
            try:
                self.store.put_file(snap, rel)
                stored = self.store.info(rel)  # what the store now holds, not what we meant to send
                if stored.sha256 == digest and stored.bytes == size:
                    return stored
                last = StorageError(f"{stored.uri}: stored sha256 {stored.sha256[:16]}... != sent {digest[:16]}...")
            except StorageError as e:
                last = e
        raise StorageError(
            f"could not store {rel} in {self.store.root_uri} after {self.attempts} attempts: {last}; the run's "
            "files are not all in the store"
        )

    def close(self, *, raise_errors: bool = True) -> dict[str, ObjectInfo]:
        """Wait until everything queued is uploaded and verified; raise the first failure (if asked)."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()
            with contextlib.suppress(OSError):
                shutil.rmtree(self._staging)
        if raise_errors and self._error is not None:
            raise self._error
        return self.uploaded
