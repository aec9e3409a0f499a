"""Every file under task_configs/ passes exactly what the sensor applies, so each shipped task appears in the UI
(issue 18: two of three were skipped for `name` != file name while `trainer validate` accepted them)."""

import shutil

from robotics_assets.lib.task_sources import validate_task_config
from tests.assets.conftest import ROOT, load_defs
from tests.assets.test_sensor import tick
from trainer.config import load_task_config

SHIPPED = sorted((ROOT / "task_configs").glob("*.yaml"))


def test_the_sensor_requests_every_shipped_config(standin_project, instance, capfd):
    for path in SHIPPED:
        shutil.copy(path, standin_project / "task_configs" / path.name)
    capfd.readouterr()
    result = tick(load_defs(), instance)
    assert "skipping invalid task config" not in capfd.readouterr().err
    assert sorted(r.partition_key for r in result.run_requests) == [p.stem for p in SHIPPED]
    assert sorted(instance.get_dynamic_partitions("task")) == [p.stem for p in SHIPPED]


def test_trainer_validate_and_the_dagster_side_agree_on_every_shipped_config():
    for path in SHIPPED:
        valid = validate_task_config(path.stem, path.read_bytes(), location=str(path.parent))
        cfg = load_task_config(path, check_name=True)  # what `python -m trainer validate` runs
        assert valid.name == cfg.name == path.stem and valid.summary["num_envs"] == cfg.num_envs
        assert (valid.summary["device"], valid.summary["gpus"]) == (cfg.device, cfg.gpus)  # task_config metadata


def test_the_task_config_asset_records_what_a_launch_needs(standin_project, instance):
    from tests.assets.conftest import latest, materialize

    shutil.copy(ROOT / "task_configs" / "cartpole_gpu.yaml", standin_project / "task_configs")
    instance.add_dynamic_partitions("task", ["cartpole_gpu"])
    assert materialize(load_defs(), instance, ["task_config"], "cartpole_gpu").success
    meta = latest(instance, "task_config", "cartpole_gpu")
    assert (meta["task"], meta["device"], meta["gpus"], meta["num_envs"]) == (
        "isaaclab:Isaac-Cartpole-Direct", "cuda", 1, 4096)
