"""Metadata as the UI shows it best: URIs as links or paths, the evaluation criteria as a table."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlparse

import dagster as dg

from robotics_assets.lib.upstream import metadata_value

URI_KEYS = ("run_dir", "checkpoint_uri", "report_path", "onnx_uri")

CRITERIA_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("metric", "string"),
        dg.TableColumn("op", "string"),
        dg.TableColumn("threshold", "float"),
        dg.TableColumn("value", "float"),
        dg.TableColumn("met", "bool"),
    ]
)


def uri_value(uri: str) -> dg.MetadataValue:
    """A local path (or file: URI) as a path, anything with another scheme (https, Blob) as a link."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file") or len(parsed.scheme) == 1:  # "C:\\..." parses as scheme "c"
        return dg.MetadataValue.path(unquote(parsed.path) if parsed.scheme == "file" else uri)
    return dg.MetadataValue.url(uri)


def with_uris(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: uri_value(str(metadata_value(v))) if k in URI_KEYS and metadata_value(v) else v
            for k, v in metadata.items()}


def criteria_table(check_metadata: dict[str, Any]) -> dg.TableMetadataValue:
    """The trainer reports each criterion as `threshold_<metric>` next to the measured `<metric>` (success criteria
    are minimums: docs/architecture.md); one row per criterion reads better than flat numbers."""
    rows = []
    for key, threshold in sorted(check_metadata.items()):
        if not key.startswith("threshold_"):
            continue
        metric = key.removeprefix("threshold_")
        threshold, value = metadata_value(threshold), metadata_value(check_metadata.get(metric))
        met = value is not None and threshold is not None and float(value) >= float(threshold)
        rows.append(dg.TableRecord({"metric": metric, "op": ">=", "threshold": float(threshold),
                                    "value": None if value is None else float(value), "met": met}))
    return dg.MetadataValue.table(rows, schema=CRITERIA_SCHEMA)


def gate_with_table(check: dg.AssetCheckResult) -> dg.AssetCheckResult:
    """The gate's check result with its `threshold_*` numbers folded into a `criteria` table."""
    meta = dict(check.metadata or {})
    table = criteria_table(meta)
    kept = {k: v for k, v in meta.items() if not k.startswith("threshold_")}
    return dg.AssetCheckResult(
        passed=check.passed, asset_key=check.asset_key, check_name=check.check_name, severity=check.severity,
        description=check.description, metadata={**kept, "criteria": table},
    )


def with_metadata(mat: dg.MaterializeResult, metadata: dict[str, Any]) -> dg.MaterializeResult:
    return dg.MaterializeResult(asset_key=mat.asset_key, metadata=metadata, data_version=mat.data_version,
                                tags=mat.tags)
