"""The exported model, fetched from its store URI and verified, for the registry step.

`onnx_policy` reports where the export step stored the model: a `file://` URI in the embedded default, the blob's URL
when the region's artifact root is a store. The export ran in its own pod, so the model is read from the store, never
from a path on some pod's disk, and its bytes must match the sha256 the export reported.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import dagster as dg


@contextlib.contextmanager
def fetched_model(uri: str, sha256: str) -> Iterator[str]:
    """A local path holding the model at `uri`, sha256-verified; a temporary copy when it came from a store."""
    from trainer.files import sha256_file
    from trainer.storage import StorageError, open_store, redact_uri
    from trainer.storage.run_location import RunLocationError, local_folder

    shown = redact_uri(uri)
    with tempfile.TemporaryDirectory(prefix="deployed-policy-") as scratch:
        try:
            path = local_folder(uri)
            if path is None:
                parent, _, name = uri.rstrip("/").rpartition("/")
                path = Path(scratch) / name
                with contextlib.closing(open_store(parent)) as store:
                    store.get_file(name, path)  # checked against the blob's own sha256 as it arrives
        except (StorageError, RunLocationError, ValueError) as e:
            raise dg.Failure(f"onnx_uri {shown}: cannot fetch the model: {e}") from None
        if not path.is_file():
            raise dg.Failure(f"onnx_uri {shown}: no such file (the export's output is gone?)")
        actual = sha256_file(path)
        if actual != sha256:
            raise dg.Failure(
                f"onnx_uri {shown}: sha256 {actual[:16]}... does not match the exported {sha256[:16]}...; "
                "refusing to register it (re-run onnx_policy)"
            )
        yield str(path)
