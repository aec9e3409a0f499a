"""Blob URIs are the blob's own URL, so anything stored is openable with ordinary Azure tools.

- Azure: ``https://<account>.blob.core.windows.net/<container>/<path>`` (virtual-host style)
- Azurite / custom endpoints: ``http://127.0.0.1:10000/<account>/<container>/<path>`` (path style: the account is
  the first path segment whenever the host is not ``<account>.blob.<suffix>``)
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from trainer.redaction import redact_uri


class ArtifactURIError(ValueError):
    """An artifact URI is malformed or of an unsupported kind (bad input); the message shows it redacted."""


@dataclass(frozen=True)
class BlobLocation:
    account_url: str  # what BlobServiceClient takes
    container: str
    path: str  # '' for the container root

    def url(self, key: str = "") -> str:
        full = "/".join(p for p in (self.path, key) if p)
        return f"{self.account_url}/{self.container}" + (f"/{quote(full)}" if full else "")


def is_blob_uri(uri: str) -> bool:
    return urlsplit(str(uri)).scheme in ("http", "https")


def parse_blob_uri(uri: str) -> BlobLocation:
    parts = urlsplit(uri)
    shown = redact_uri(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ArtifactURIError(
            f"artifact URI {shown!r}: expected https://<account>.blob.core.windows.net/<container>/<path>"
        )
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ArtifactURIError(
            f"artifact URI {shown!r}: remove its credentials (query string, fragment or user info; e.g. a SAS "
            "token): they are not used; authenticate with AZURE_STORAGE_CONNECTION_STRING or ROBOTICS_AZURE_AUTH "
            "(docs/azure.md)"
        )
    segments = [unquote(s) for s in parts.path.split("/") if s]
    host = parts.hostname or ""
    if ".blob." in host:
        base = f"{parts.scheme}://{parts.netloc}"
    else:
        if not segments:
            raise ArtifactURIError(f"artifact URI {shown!r}: path-style URL needs /<account>/<container>/...")
        base = f"{parts.scheme}://{parts.netloc}/{segments.pop(0)}"
    if not segments:
        raise ArtifactURIError(f"artifact URI {shown!r}: no container in the path")
    container = segments.pop(0)
    return BlobLocation(base, container, "/".join(segments))
