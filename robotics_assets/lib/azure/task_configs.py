"""Task configs from an Azure Blob container: ``https://<account>.blob.core.windows.net/task-configs[/prefix]``.

Served for ``http(s)://`` locations (``http`` is Azurite's) by ``robotics_assets.lib.task_sources``' scheme table.
Configs are the ``*.yaml``/``*.yml`` blobs directly under the prefix; contents are cached by ETag so a sensor tick
re-downloads only what changed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import PurePosixPath

from robotics_assets.lib.task_sources import CONFIG_SUFFIXES, TaskConfigError
from trainer.storage.uris import parse_blob_uri

_CACHE_ENTRIES = 512  # configs are a few KB and capped at trainer.safe_yaml.MAX_BYTES: a bounded cache
_cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()  # (blob url, etag) -> content, least recent first
_cache_lock = threading.Lock()


class BlobTaskConfigSource:
    def __init__(self, location: str, client=None):
        self.location = location.rstrip("/")
        self._where = parse_blob_uri(self.location)
        if client is None:
            from robotics_assets.lib.azure.identity import blob_service_client

            client = blob_service_client(self._where.account_url)
        self._container = client.get_container_client(self._where.container)

    def _prefix(self) -> str:
        return f"{self._where.path}/" if self._where.path else ""

    def _blobs(self) -> dict[str, tuple[str, str, int]]:
        """{task name: (blob name, etag, size)} of the configs directly under the prefix."""
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        prefix = self._prefix()
        try:
            items = list(self._container.walk_blobs(name_starts_with=prefix or None, delimiter="/"))
        except ResourceNotFoundError:
            raise TaskConfigError(
                f"{self.location}: task-config container not found (create it or fix task_configs in the settings)"
            ) from None
        except AzureError as e:
            raise TaskConfigError(f"{self.location}: cannot list task configs: {type(e).__name__}") from None
        found = {}
        for item in items:
            name = item.name[len(prefix):]
            path = PurePosixPath(name)
            if "/" not in name and path.suffix in CONFIG_SUFFIXES and hasattr(item, "etag"):
                found[path.stem] = (item.name, item.etag, item.size)
        return dict(sorted(found.items()))

    def _content(self, blob_name: str, etag: str, size: int) -> bytes:
        from trainer.safe_yaml import MAX_BYTES

        key = (f"{self.location}/{blob_name}", etag)
        with _cache_lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
        # an oversized blob: its first MAX_BYTES + 1 bytes are enough for validation to refuse it
        span = {"offset": 0, "length": MAX_BYTES + 1} if size and size > MAX_BYTES else {}
        blob = self._container.get_blob_client(blob_name)
        data = blob.download_blob(etag=etag, match_condition=_if_match(), **span).readall()
        with _cache_lock:
            _cache[key] = data
            while len(_cache) > _CACHE_ENTRIES:
                _cache.popitem(last=False)
        return data

    def list_configs(self) -> list[tuple[str, bytes]]:
        return [(name, self._content(*blob)) for name, blob in self._blobs().items()]

    def read(self, name: str) -> bytes:
        blobs = self._blobs()
        if name not in blobs:
            raise TaskConfigError(f"{self.location}: no {name}.yaml (task configs present: {', '.join(blobs)})")
        return self._content(*blobs[name])


def _if_match():
    from azure.core import MatchConditions

    return MatchConditions.IfNotModified

