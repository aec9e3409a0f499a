"""Artifact store: where run directories, models and reports live (local filesystem or Azure Blob Storage).

What goes where is the run directory's layout (docs/architecture.md); a store only keeps objects by key.
"""

from trainer.redaction import redact_uri
from trainer.storage.base import (
    ArtifactStore,
    IntegrityError,
    ObjectInfo,
    ObjectNotFound,
    StorageError,
)
from trainer.storage.fetch import fetch
from trainer.storage.open import open_store
from trainer.storage.uris import ArtifactURIError

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
