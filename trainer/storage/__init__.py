"""Artifact store: where checkpoints, models and reports live (local filesystem or Azure Blob Storage).

Layout under a store root (the region's containers on Azure, ``.data/`` locally):
``checkpoints/<task>/<region>/<run_id>/...``, ``models/<task>/<region>/<run_id>/...``, ``reports/<task>/<region>/...``.
"""

from trainer.storage.base import (
    ArtifactStore,
    IntegrityError,
    ObjectInfo,
    ObjectNotFound,
    StorageError,
)
from trainer.storage.fetch import fetch
from trainer.storage.open import open_store
from trainer.storage.uris import ArtifactURIError, redact_uri

__all__ = [
    "ArtifactStore",
    "ArtifactURIError",
    "IntegrityError",
    "ObjectInfo",
    "ObjectNotFound",
    "StorageError",
    "fetch",
    "open_store",
    "redact_uri",
]
