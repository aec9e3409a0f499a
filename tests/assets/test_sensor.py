"""The task-config sensor: partitions and runs for new or changed configs, nothing twice, invalid ones logged."""

import json

import dagster as dg

from tests.assets.conftest import load_defs, task_yaml


def tick(defs, instance, cursor=None):
    sensor = defs.get_repository_def().get_sensor_def("task_config_sensor")
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=defs.resources) as context:
        result = sensor(context)
    for request in getattr(result, "dynamic_partitions_requests", None) or []:  # what the daemon does with the result
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def test_new_same_changed_invalid_removed(standin_project, instance, capfd):
    configs = standin_project / "task_configs"
    defs = load_defs()
    (configs / "cartpole.yaml").write_text(task_yaml("cartpole"))
    (configs / "pole2.yaml").write_text(task_yaml("pole2"))

    first = tick(defs, instance)
    assert sorted(r.partition_key for r in first.run_requests) == ["cartpole", "pole2"]
    assert all(r.asset_selection == [dg.AssetKey("task_config")] for r in first.run_requests)
    assert sorted(instance.get_dynamic_partitions("task")) == ["cartpole", "pole2"]
    keys = {r.run_key for r in first.run_requests}

    again = tick(defs, instance, first.cursor)
    assert again.run_requests == [] and not again.dynamic_partitions_requests

    (configs / "pole2.yaml").write_text(task_yaml("pole2", timesteps=64))
    (configs / "broken.yaml").write_text(task_yaml("broken", num_envs=-1))
    capfd.readouterr()
    changed = tick(defs, instance, again.cursor)
    log = capfd.readouterr().err  # the sensor's log (Dagster's logger writes to stderr)
    assert [r.partition_key for r in changed.run_requests] == ["pole2"]
    assert changed.run_requests[0].run_key not in keys  # a new content hash, so a new run key
    assert not changed.dynamic_partitions_requests  # pole2 already had its partition
    assert "broken" not in instance.get_dynamic_partitions("task")
    assert "skipping invalid task config" in log and "broken.yaml: num_envs" in log
    assert json.loads(changed.cursor)["invalid"] == {"broken": json.loads(changed.cursor)["invalid"]["broken"]}

    quiet = tick(defs, instance, changed.cursor)
    assert quiet.run_requests == [] and "broken" not in capfd.readouterr().err  # an unchanged invalid file is logged once

    (configs / "broken.yaml").write_text(task_yaml("broken"))  # fixed
    (configs / "cartpole.yaml").unlink()  # removed: history and partition stay
    fixed = tick(defs, instance, quiet.cursor)
    assert [r.partition_key for r in fixed.run_requests] == ["broken"]
    assert sorted(instance.get_dynamic_partitions("task")) == ["broken", "cartpole", "pole2"]


def test_name_mismatch_and_bad_file_name_are_rejected(standin_project, instance, capfd):
    configs = standin_project / "task_configs"
    (configs / "cartpole.yaml").write_text(task_yaml("other"))
    (configs / "bad|name.yaml").write_text(task_yaml("cartpole"))
    result = tick(load_defs(), instance)
    log = capfd.readouterr().err
    assert result.run_requests == []
    assert "name: 'other' must match the file name" in log
    assert "not a valid task name" in log


def test_missing_folder_skips_with_reason(standin_project, instance):
    (standin_project / "task_configs").rmdir()
    result = tick(load_defs(), instance)
    assert isinstance(result, dg.SkipReason) and "task-config folder not found" in result.skip_message
