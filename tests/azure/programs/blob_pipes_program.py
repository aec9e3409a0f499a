"""A minimal external program for the Pipes-over-Blob transport test: opens Pipes the way the trainer does."""

from dagster_pipes import open_dagster_pipes

from trainer.pipes_blob import blob_pipes_io

with open_dagster_pipes(**(blob_pipes_io(interval=0.5) or {})) as pipes:
    pipes.log.info(f"remote side got partition {pipes.partition_key} and extras {sorted(pipes.extras)}")
    pipes.report_asset_materialization(metadata={"answer": 42, "extra_seen": pipes.get_extra("probe")})
