"""Two small assets for the PostgreSQL-instance test."""

import dagster as dg


@dg.asset
def task_config_snapshot() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"configs": 1})


@dg.asset(deps=[task_config_snapshot])
def policy_stub(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    context.log.info("materialized against PostgreSQL")
    return dg.MaterializeResult(metadata={"storage": "postgres"})


defs = dg.Definitions(assets=[task_config_snapshot, policy_stub])
