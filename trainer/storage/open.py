"""Pick the artifact-store backend from a URI."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from trainer.redaction import redact_uri
from trainer.storage.uris import ArtifactURIError, is_blob_uri


def open_store(uri: str | Path, **options):
    """``file:///...`` or a plain path -> LocalStore; ``http(s)://`` blob URL -> BlobStore (see ``uris``)."""
    text = str(uri)
    if is_blob_uri(text):
        from trainer.storage.blob import (
            BlobStore,  # azure-storage-blob only when a blob URI is used
        )

        return BlobStore(text, **options)
    from trainer.storage.local import LocalStore

    parts = urlsplit(text)
    if parts.scheme == "file":
        return LocalStore(unquote(parts.path))
    if parts.scheme and len(parts.scheme) > 1:
        raise ArtifactURIError(
            f"artifact URI {redact_uri(text)!r}: unsupported scheme {parts.scheme!r} (allowed: a folder, file://, "
            "https:// or http:// Blob URL)"
        )
    return LocalStore(text)
