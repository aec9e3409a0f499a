"""Blob URIs are the blob's own URL, so anything stored is openable with ordinary Azure tools.

- Azure: ``https://<account>.blob.core.windows.net/<container>/<path>`` (virtual-host style)
- Azurite / custom endpoints: ``http://127.0.0.1:10000/<account>/<container>/<path>`` (path style: the account is
  the first path segment whenever the host is not ``<account>.blob.<suffix>``)
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit


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
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"artifact URI {uri!r}: expected https://<account>.blob.core.windows.net/<container>/<path>")
    segments = [unquote(s) for s in parts.path.split("/") if s]
    host = parts.hostname or ""
    if ".blob." in host:
        base = f"{parts.scheme}://{parts.netloc}"
    else:
        if not segments:
            raise ValueError(f"artifact URI {uri!r}: path-style URL needs /<account>/<container>/...")
        base = f"{parts.scheme}://{parts.netloc}/{segments.pop(0)}"
    if not segments:
        raise ValueError(f"artifact URI {uri!r}: no container in the path")
    container = segments.pop(0)
    return BlobLocation(base, container, "/".join(segments))
