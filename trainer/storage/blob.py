"""Azure Blob Storage artifact store (Azure and Azurite) on ``azure-storage-blob``.

Atomicity comes from Blob semantics: a small object is one Put Blob, a large one is staged as blocks in parallel and
becomes visible only when the block list is committed, together with its metadata. A crash or an outage before the
commit leaves uncommitted blocks that no reader can see (the service discards them after a week). The sha256
travels in the blob's metadata in that same commit, and every read checks it.

Large files are staged here rather than by ``upload_blob``: ``upload_blob`` wants the metadata before the first byte,
which would cost a full extra read of the file to hash it; staging lets the hash run while the blocks upload.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import threading
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobBlock, ExponentialRetry

from trainer.files import atomic_path, sha256_bytes
from trainer.storage.base import (
    SHA256_KEY,
    IntegrityError,
    ObjectInfo,
    ObjectNotFound,
    StorageError,
    clean_key,
    join_key,
)
from trainer.storage.identity import blob_service_client
from trainer.storage.uris import parse_blob_uri

MiB = 1024 * 1024


class BlobStore:
    """Objects are blobs under ``<container>/<path>/`` of the URI's account.

    ``retry_total``/``initial_backoff`` configure the SDK's exponential retry (with jitter) that every request goes
    through; ``max_concurrency`` is the number of parallel block uploads/ranged downloads per object.
    """

    def __init__(
        self,
        root_uri: str,
        *,
        env: Mapping[str, str] | None = None,
        max_concurrency: int = 4,
        block_size: int = 8 * MiB,
        retry_total: int = 5,
        initial_backoff: float = 1.0,
        increment_base: float = 2.0,
        connection_timeout: float = 10,
        read_timeout: float = 120,
    ):
        self.location = parse_blob_uri(root_uri)
        self.root_uri = self.location.url()
        self.max_concurrency = max_concurrency
        self.block_size = block_size
        self._service = blob_service_client(
            self.location.account_url,
            env=env,
            retry_policy=ExponentialRetry(
                initial_backoff=initial_backoff,
                increment_base=increment_base,
                retry_total=retry_total,
                random_jitter_range=min(1, initial_backoff),
            ),
            connection_timeout=connection_timeout,
            read_timeout=read_timeout,
            max_block_size=block_size,
            max_single_put_size=block_size,
            max_chunk_get_size=block_size,
            max_single_get_size=block_size,
        )
        self._container = self._service.get_container_client(self.location.container)

    def close(self) -> None:
        self._service.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _name(self, key: str) -> str:
        return join_key(self.location.path, clean_key(key))

    def uri_for(self, key: str) -> str:
        return self.location.url(clean_key(key))

    def _with_container(self, upload):
        """Run ``upload``; create the container on first use (a fresh account or Azurite has none)."""
        try:
            return upload()
        except ResourceNotFoundError as e:
            if e.error_code != "ContainerNotFound":
                raise
            with contextlib.suppress(ResourceExistsError):
                self._container.create_container()
            return upload()

    def put_bytes(self, data: bytes, key: str) -> ObjectInfo:
        digest = sha256_bytes(data)
        blob = self._container.get_blob_client(self._name(key))
        try:
            self._with_container(
                lambda: blob.upload_blob(
                    data, overwrite=True, metadata={SHA256_KEY: digest}, max_concurrency=self.max_concurrency
                )
            )
        except AzureError as e:
            raise StorageError(_describe("upload to", self.uri_for(key), e)) from None
        return ObjectInfo(self.uri_for(key), digest, len(data))

    def put_file(self, local_path: str | Path, key: str) -> ObjectInfo:
        src = Path(local_path)
        if not src.is_file():
            raise ObjectNotFound(f"put_file: {src} is not a file")
        if src.stat().st_size <= self.block_size:
            return self.put_bytes(src.read_bytes(), key)
        blob = self._container.get_blob_client(self._name(key))
        try:
            digest, size = self._with_container(lambda: self._stage_and_commit(blob, src))
        except AzureError as e:
            raise StorageError(_describe("upload to", self.uri_for(key), e)) from None
        return ObjectInfo(self.uri_for(key), digest, size)

    def _stage_and_commit(self, blob, src: Path) -> tuple[str, int]:
        digest = hashlib.sha256()
        # Unique per attempt: blocks of an interrupted or concurrent upload of the same name never mix with ours.
        attempt = uuid.uuid4().hex
        blocks: list[BlobBlock] = []
        in_flight = threading.BoundedSemaphore(2 * self.max_concurrency)  # bounds memory to a few blocks
        size = 0
        with ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="blob-stage") as pool, open(src, "rb") as f:
            futures = []
            while chunk := f.read(self.block_size):
                block_id = base64.b64encode(f"{attempt}-{len(blocks):08d}".encode()).decode()
                blocks.append(BlobBlock(block_id=block_id))
                in_flight.acquire()
                future = pool.submit(blob.stage_block, block_id, chunk, length=len(chunk))
                future.add_done_callback(lambda _: in_flight.release())
                futures.append(future)
                digest.update(chunk)  # hashlib releases the GIL: hashing overlaps the uploads
                size += len(chunk)
                if any(fu.done() and fu.exception() for fu in futures):
                    break
            for future in futures:
                future.result()  # the first failure (after the SDK's retries) aborts before any commit
        blob.commit_block_list(blocks, metadata={SHA256_KEY: digest.hexdigest()})
        return digest.hexdigest(), size

    def _download(self, key: str):
        tap = _FirstResponseTap()
        try:
            downloader = self._container.get_blob_client(self._name(key)).download_blob(
                max_concurrency=self.max_concurrency, raw_response_hook=tap
            )
        except ResourceNotFoundError:
            raise ObjectNotFound(f"no artifact at {self.uri_for(key)}") from None
        except AzureError as e:
            raise StorageError(_describe("download of", self.uri_for(key), e)) from None
        expected = (downloader.properties.metadata or {}).get(SHA256_KEY)
        if not expected:
            raise IntegrityError(f"{self.uri_for(key)}: no sha256 in the blob's metadata; refusing to use it")
        return downloader, expected, tap.finish()

    def get_file(self, key: str, local_path: str | Path) -> ObjectInfo:
        downloader, expected, head = self._download(key)
        dest = Path(local_path)
        # Downloaded beside the destination and renamed only once verified: no partial or corrupt file is left.
        with atomic_path(dest) as tmp:
            with open(tmp, "wb") as f, _HashingWriter(f, head=head, max_queued=2 * self.max_concurrency) as writer:
                try:
                    downloader.readinto(writer)
                except AzureError as e:
                    raise StorageError(_describe("download of", self.uri_for(key), e)) from None
                actual = writer.hexdigest()
            _verify(self.uri_for(key), actual, expected)
        return ObjectInfo(self.uri_for(key), expected, dest.stat().st_size)

    def read_bytes(self, key: str) -> bytes:
        downloader, expected, head = self._download(key)
        try:
            data = downloader.readall()
        except AzureError as e:
            raise StorageError(_describe("download of", self.uri_for(key), e)) from None
        actual = head.sha.hexdigest() if head and head.size == len(data) else sha256_bytes(data)
        _verify(self.uri_for(key), actual, expected)
        return data

    def info(self, key: str) -> ObjectInfo:
        try:
            props = self._container.get_blob_client(self._name(key)).get_blob_properties()
        except ResourceNotFoundError:
            raise ObjectNotFound(f"no artifact at {self.uri_for(key)}") from None
        except AzureError as e:
            raise StorageError(_describe("properties of", self.uri_for(key), e)) from None
        expected = (props.metadata or {}).get(SHA256_KEY)
        if not expected:
            raise IntegrityError(f"{self.uri_for(key)}: no sha256 in the blob's metadata; refusing to use it")
        return ObjectInfo(self.uri_for(key), expected, props.size)

    def exists(self, key: str) -> bool:
        try:
            return self._container.get_blob_client(self._name(key)).exists()
        except AzureError as e:
            raise StorageError(_describe("lookup of", self.uri_for(key), e)) from None

    def list(self, prefix: str = "") -> list[str]:
        base = self.location.path
        start = join_key(base, clean_key(prefix)) if prefix else base
        try:
            names = list(self._container.list_blob_names(name_starts_with=(start + "/") if start else None))
            if prefix and self.exists(prefix):
                names.append(start)
        except ResourceNotFoundError:
            return []
        except AzureError as e:
            raise StorageError(_describe("listing of", self.location.url(prefix), e)) from None
        cut = len(base) + 1 if base else 0
        return sorted({n[cut:] for n in names})


@dataclass(frozen=True)
class _HashedHead:
    sha: Any  # hashlib sha256 state after ``size`` bytes
    size: int


class _FirstResponseTap:
    """``raw_response_hook`` that hashes the body of a download's first response while it streams in.

    The SDK fetches an object up to ``max_single_get_size`` in one GET and hands it over only once every byte has
    arrived, so hashing afterwards puts the whole sha256 on the critical path. Hashed block by block as the SDK reads
    the socket (256 KiB blocks), it runs while the service is still sending. Ranged GETs in parallel instead would
    cost more than the hash: on Azurite each extra request costs ~12 ms (see docs/benchmarks.md).

    Relies on the SDK building the first chunk from ``stream_download``'s blocks, in order. If that ever changes,
    the tap sees no complete stream, ``finish`` returns None and the writer hashes every byte itself: the check is
    never skipped, it only loses the overlap.
    """

    def __init__(self):
        self._armed = True
        self._sha = None
        self._size = 0
        self._complete = False

    def __call__(self, pipeline_response) -> None:
        # The SDK passes the hook on to the ranged chunk requests too; only the first GET (and its retries) is tapped.
        http_response = pipeline_response.http_response
        if not self._armed or not callable(getattr(http_response, "stream_download", None)):
            return
        stream_download = http_response.stream_download

        def tapped_stream_download(*args, **kwargs):
            self._sha, self._size, self._complete = hashlib.sha256(), 0, False  # a retried GET starts over
            return _TappedStream(stream_download(*args, **kwargs), self)

        http_response.stream_download = tapped_stream_download

    def _block(self, block: bytes) -> None:
        self._sha.update(block)  # releases the GIL: the next block keeps arriving meanwhile
        self._size += len(block)

    def finish(self) -> _HashedHead | None:
        """Stop tapping; the hash of the first response's body if it was read to its end."""
        self._armed = False
        return _HashedHead(self._sha, self._size) if self._complete else None


class _TappedStream:
    """The SDK's response stream, feeding each block to the tap on its way; attributes pass through."""

    def __init__(self, stream, tap: _FirstResponseTap):
        object.__setattr__(self, "_stream", stream)
        object.__setattr__(self, "_tap", tap)

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        try:
            block = next(self._stream)
        except StopIteration:
            self._tap._complete = True
            raise
        self._tap._block(block)
        return block

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def __setattr__(self, name, value):
        setattr(self._stream, name, value)


class _HashingWriter:
    """A seekable file wrapper that hashes what is written, in file order, as the parallel download writes it.

    ``head`` is the first response's body as already hashed by the tap: the first write, at offset 0 and of that
    length, is the SDK handing over that same body, so it is not hashed again (any other first write is). The SDK's
    parallel downloader writes the remaining chunks at their offsets (seek + write, serialized by its lock),
    slightly out of order; chunks ahead of the hashed prefix wait in memory (about ``max_concurrency`` chunks)
    until the gap closes. In-order chunks are hashed on one extra thread, started only for multi-chunk downloads:
    hashing under the SDK's lock held the other download threads back (~10 % on 100 MiB, docs/benchmarks.md); at
    most ``max_queued`` chunks wait for it. This saves a second full read of the file to verify it.
    """

    def __init__(self, f, head: _HashedHead | None = None, max_queued: int = 8):
        self._f = f
        self._sha = hashlib.sha256()
        self._hashed = 0  # file offset up to which bytes are hashed or queued for hashing, in order
        self._pending: dict[int, bytes] = {}
        self._head = head
        self._hasher: ThreadPoolExecutor | None = None
        self._queued = threading.BoundedSemaphore(max_queued)
        self._failure: BaseException | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        if self._hasher is not None:
            self._hasher.shutdown(wait=True, cancel_futures=True)

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def write(self, data) -> int:
        start = self._f.tell()
        written = self._f.write(data)
        head, self._head = self._head, None
        if start == 0 and head is not None and written == head.size:
            self._sha, self._hashed = head.sha, head.size
        elif start == self._hashed:
            self._hash(bytes(data))  # a no-op for the SDK's bytes; a copy of anything mutable
            while self._hashed in self._pending:
                self._hash(self._pending.pop(self._hashed))
        elif start > self._hashed:
            self._pending[start] = bytes(data)
        else:
            raise StorageError("download rewrote bytes already verified; refusing to trust the result")
        return written

    def _hash(self, chunk: bytes) -> None:
        self._hashed += len(chunk)
        if self._hasher is None:
            self._hasher = ThreadPoolExecutor(1, thread_name_prefix="blob-sha256")  # one worker: updates in order
        self._queued.acquire()
        self._hasher.submit(self._sha.update, chunk).add_done_callback(self._hashed_one)

    def _hashed_one(self, future) -> None:
        self._queued.release()
        if not future.cancelled() and future.exception() is not None:
            self._failure = future.exception()

    def flush(self) -> None:
        self._f.flush()

    def hexdigest(self) -> str:
        """The sha256 of everything written, once the hashing thread has caught up."""
        if self._hasher is not None:
            self._hasher.shutdown(wait=True)
        if self._failure is not None:
            raise IntegrityError(f"hashing the download failed ({self._failure!r}); refusing to use it")
        if self._pending:
            raise IntegrityError("download left gaps in the file; refusing to use it")
        return self._sha.hexdigest()


def _verify(uri: str, actual: str, expected: str) -> None:
    if actual != expected:
        raise IntegrityError(f"{uri}: sha256 {actual} does not match the recorded {expected}; refusing to use it")


def _describe(what: str, uri: str, error: AzureError) -> str:
    # The SDK's message can be a multi-line XML dump; its first line says what went wrong. URLs carry no SAS here.
    first = (str(error.message or error).strip().splitlines() or [""])[0][:300]
    return f"{what} {uri} failed after retries: {type(error).__name__}: {first}"
