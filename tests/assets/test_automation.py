"""Declarative automation, evaluated with Dagster's own helper: what runs after a new, unchanged or changed config."""

import dagster as dg

from tests.assets.conftest import add_task, load_defs, materialize, mkey, task_yaml

CHAIN_KEYS = {dg.AssetKey(k) for k in ("policy", "evaluation_report", "onnx_policy", "deployed_policy")}


def requested(result) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in result.results:
        if r.true_subset.size:
            out[r.key.to_user_string()] = {str(k) for k in r.true_subset.expensively_compute_partition_keys()}
    return out


def test_train_once_per_new_task_region_then_on_config_change(standin_project, instance, monkeypatch):
    defs = load_defs()
    add_task(instance, standin_project, "auto", task_yaml("auto"))
    both = {str(mkey("auto", "eastus")), str(mkey("auto", "westeurope"))}

    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert requested(first) == {}  # the task config itself is not materialized yet

    materialize(defs, instance, ["task_config"], "auto")
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    # the whole chain in one tick, for every region; the blocking gate guards export inside the run
    assert requested(tick) == {k.to_user_string(): both for k in CHAIN_KEYS}

    quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert requested(quiet) == {}

    materialize(defs, instance, ["task_config"], "auto")  # same content, same data version
    same = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor)
    assert requested(same) == {}, "re-materializing an unchanged config must not retrain"

    (standin_project / "task_configs" / "auto.yaml").write_text(task_yaml("auto", timesteps=64))
    materialize(defs, instance, ["task_config"], "auto")
    changed = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=same.cursor)
    assert requested(changed)["policy"] == both


def test_failed_gate_is_not_exported_by_a_later_tick(standin_project, instance, monkeypatch):
    defs = load_defs()
    add_task(instance, standin_project, "gated", task_yaml("gated", success={"min_mean_return": 100.0}))
    materialize(defs, instance, ["task_config"], "gated")
    key = mkey("gated", "eastus")
    result = materialize(defs, instance, ["policy", "evaluation_report"], key, raise_on_error=False)
    assert [e.passed for e in result.get_asset_check_evaluations()] == [False]

    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert str(key) not in requested(tick).get("onnx_policy", set())
    assert str(key) not in requested(tick).get("deployed_policy", set())
