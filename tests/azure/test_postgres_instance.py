"""A Dagster instance on a real PostgreSQL (dagster-postgres), configured the way deployments are."""

from __future__ import annotations

import dagster as dg

from tests.azure.programs import pg_assets

# The deployment template (docs/azure.md): connection parts in dagster.yaml, the password only by env var reference.
DAGSTER_YAML = """\
storage:
  postgres:
    postgres_db:
      username: {user}
      password:
        env: DAGSTER_PG_PASSWORD
      hostname: 127.0.0.1
      port: {port}
      db_name: {db}
      scheme: postgresql+psycopg2  # SQLAlchemy 2.1 defaults to psycopg 3, not installed
run_coordinator:
  module: dagster.core.run_coordinator
  class: DefaultRunCoordinator
telemetry:
  enabled: false
"""


def test_materialization_is_recorded_in_postgres(postgres, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML.format(user=postgres.user, port=postgres.port, db=postgres.database))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", postgres.password)
    # In-process: `dagster asset materialize --select` is broken in this environment (hydra-core pins
    # antlr4-python3-runtime 4.9, Dagster's selection parser needs 4.13); the instance path is the same.
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        result = dg.materialize(pg_assets.defs.assets, instance=instance)
        assert result.success
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].status == dg.DagsterRunStatus.SUCCESS
        event = instance.get_latest_materialization_event(dg.AssetKey("policy_stub"))
        assert event.asset_materialization.metadata["storage"].value == "postgres"
        logs = [e.user_message for e in instance.all_logs(runs[0].run_id)]
        assert any("materialized against PostgreSQL" in m for m in logs)
        assert postgres.password not in repr(instance.get_ref())  # the stored instance config keeps the env ref
    assert list(home.glob("**/*.db")) == []  # nothing fell back to sqlite

    import sqlalchemy as sa

    with sa.create_engine(postgres.url).connect() as conn:  # the rows really are in PostgreSQL
        assert conn.execute(sa.text("select count(*) from runs")).scalar() == 1
        assert conn.execute(sa.text("select count(*) from event_logs")).scalar() > 5
