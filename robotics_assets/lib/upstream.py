"""Find an upstream partition's artifacts from its latest materialization's metadata (run_dir, checkpoint_uri...)."""

from __future__ import annotations

from typing import Any

import dagster as dg


def metadata_value(value: Any) -> Any:
    return value.value if isinstance(value, dg.MetadataValue) else value


def latest_metadata(
    context: dg.AssetExecutionContext, asset: str | dg.AssetKey, partition_key: str | dg.MultiPartitionKey
) -> dict[str, Any]:
    """Plain values of the latest materialization's metadata; a clear Failure if the upstream was never built."""
    key = dg.AssetKey.from_coercible(asset)
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[str(partition_key)]), limit=1
    ).records
    if not records:
        raise dg.Failure(
            description=f"{key.to_user_string()} [{partition_key}] has no materialization yet: "
            f"materialize it first (e.g. select it with its upstream in the UI, or let automation run it)",
            allow_retries=False,
        )
    mat = records[0].asset_materialization
    assert mat is not None
    return {k: metadata_value(v) for k, v in mat.metadata.items()}


def require(metadata: dict[str, Any], asset: str, *keys: str) -> list[Any]:
    missing = [k for k in keys if metadata.get(k) in (None, "")]
    if missing:
        raise dg.Failure(
            description=f"{asset}: latest materialization lacks metadata {', '.join(missing)} "
            "(was it produced by an older trainer? re-materialize it)",
            allow_retries=False,
        )
    return [metadata[k] for k in keys]


def cli_flags(options: dict[str, Any]) -> list[str]:
    """{num_envs: 64, resume: true} -> ["--num-envs", "64", "--resume"]; None/false drop the flag."""
    flags: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif value not in (None, False):
            flags += [flag, str(value)]
    return flags


def checkpoint_name(checkpoint_uri: str) -> str:
    """The trainer resolves a bare checkpoint name inside `--run-dir`/checkpoints, whatever storage holds the run
    (local folder, file: URI or Blob), so downstream steps pass the name rather than a storage-specific URI."""
    return checkpoint_uri.rstrip("/").rsplit("/", 1)[-1]
