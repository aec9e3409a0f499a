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


def test_partition_that_existed_before_the_first_tick_trains_once(standin_project, instance):
    """Quick start trained eastus before the daemon ever ticked: the first tick trains westeurope (the whole chain),
    and nothing that already exists."""
    defs = load_defs()
    add_task(instance, standin_project, "early", task_yaml("early"))
    materialize(defs, instance, ["task_config"], "early")
    materialize(defs, instance, ["policy", "evaluation_report", "onnx_policy", "deployed_policy"],
                mkey("early", "eastus"))

    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)  # no cursor: the daemon's first tick
    west = {str(mkey("early", "westeurope"))}
    assert requested(first) == {k.to_user_string(): west for k in CHAIN_KEYS}
    again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert requested(again) == {}, "requested once, not on every tick"


def test_failed_training_is_not_retried_by_automation(standin_project, instance, monkeypatch):
    defs = load_defs()
    add_task(instance, standin_project, "flaky", task_yaml("flaky"))
    materialize(defs, instance, ["task_config"], "flaky")
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    key = mkey("flaky", "eastus")
    assert str(key) in requested(tick)["policy"]

    monkeypatch.setenv("STANDIN_FAIL_TRAIN", "1")
    assert not materialize(defs, instance, ["policy"], key, raise_on_error=False).success
    cursor = tick.cursor
    for _ in range(3):  # later ticks leave the failed partition alone
        later = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        assert str(key) not in requested(later).get("policy", set())
        cursor = later.cursor
    fresh = dg.evaluate_automation_conditions(defs=defs, instance=instance)  # a restarted daemon with no cursor too
    assert str(key) not in requested(fresh).get("policy", set())

    (standin_project / "task_configs" / "flaky.yaml").write_text(task_yaml("flaky", timesteps=64))  # a fix retrains
    materialize(defs, instance, ["task_config"], "flaky")
    fixed = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    assert str(key) in requested(fixed)["policy"]
