"""Champion/challenger on a real MLflow registry (sqlite), driven through the assets with the stand-in trainer."""

import dagster as dg
import pytest

from robotics_assets.lib.registry import decide_promotion
from tests.assets.conftest import (
    CHAIN,
    add_task,
    latest,
    load_defs,
    materialize,
    mkey,
    task_yaml,
)


def run_chain(defs, instance, project, task, region, monkeypatch, mean_return, raise_on_error=True):
    monkeypatch.setenv("STANDIN_MEAN_RETURN", str(mean_return))
    materialize(defs, instance, ["task_config"], task)
    return materialize(defs, instance, CHAIN, mkey(task, region), raise_on_error=raise_on_error)


def champion(mlflow_db, task, region):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{mlflow_db}")
    return client.get_model_version_by_alias(f"robotics-{task}-policy", f"champion-{region}")


def test_promotes_only_a_better_challenger_per_region(standin_project, instance, monkeypatch, mlflow_db):
    defs = load_defs()
    add_task(instance, standin_project, "promo", task_yaml("promo"))

    run_chain(defs, instance, standin_project, "promo", "eastus", monkeypatch, mean_return=5.0)
    first = latest(instance, "deployed_policy", mkey("promo", "eastus"))
    assert first["promoted"] is True and "no champion yet" in first["reason"]
    assert str(champion(mlflow_db, "promo", "eastus").version) == first["model_version"]

    run_chain(defs, instance, standin_project, "promo", "eastus", monkeypatch, mean_return=4.8)
    worse = latest(instance, "deployed_policy", mkey("promo", "eastus"))
    assert worse["promoted"] is False and "does not beat champion 5" in worse["reason"]
    assert worse["model_version"] != first["model_version"]  # registered all the same
    assert str(champion(mlflow_db, "promo", "eastus").version) == first["model_version"]

    run_chain(defs, instance, standin_project, "promo", "eastus", monkeypatch, mean_return=6.0)
    better = latest(instance, "deployed_policy", mkey("promo", "eastus"))
    assert better["promoted"] is True and better["champion_before_version"] == first["model_version"]
    assert str(champion(mlflow_db, "promo", "eastus").version) == better["model_version"]

    # another region has its own alias: its first passing policy becomes its champion
    run_chain(defs, instance, standin_project, "promo", "westeurope", monkeypatch, mean_return=4.6)
    west = latest(instance, "deployed_policy", mkey("promo", "westeurope"))
    assert west["promoted"] is True and west["registered_model"] == better["registered_model"]
    assert str(champion(mlflow_db, "promo", "eastus").version) == better["model_version"]

    policy = latest(instance, "policy", mkey("promo", "eastus"))
    assert policy["gpu_hours"] == 0 and policy["estimated_cost"] == 0 and policy["cpu_wall_time_s"] == 1.5
    assert policy["backend"] == "local" and policy["checkpoint_uri"].endswith("best_agent.pt")


def test_failed_gate_stops_export_and_deployment(standin_project, instance, monkeypatch):
    defs = load_defs()
    add_task(instance, standin_project, "hard", task_yaml("hard", success={"min_mean_return": 1e9, "episodes": 10}))
    result = run_chain(defs, instance, standin_project, "hard", "eastus", monkeypatch, 5.0, raise_on_error=False)
    assert not result.success
    key = mkey("hard", "eastus")
    gate = [e for e in result.get_asset_check_evaluations() if e.check_name == "evaluation_gate"]
    assert len(gate) == 1 and gate[0].passed is False
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"policy", "evaluation_report"}
    assert instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("onnx_policy"), asset_partitions=[str(key)]), limit=1
    ).records == []


@pytest.mark.parametrize(
    ("gate", "challenger", "champion", "higher", "expected"),
    [
        (False, 9.0, None, True, False),  # gate failed: never, even without a champion
        (True, 5.0, None, True, True),
        (True, 5.0, 5.0, True, False),  # a tie is not an improvement
        (True, 4.0, 5.0, False, True),  # lower is better (e.g. a cost metric)
        (True, None, 5.0, True, False),
    ],
)
def test_decide_promotion(gate, challenger, champion, higher, expected):
    promoted, reason = decide_promotion(
        gate_passed=gate, challenger=challenger, champion=champion, higher_is_better=higher, min_improvement=0.0,
        metric="mean_return",
    )
    assert promoted is expected and reason
