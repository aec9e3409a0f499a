"""The hostile corpus (tests/trainer/hostile_task_configs) dropped into the task-config location: the sensor
requests nothing and names each file, the `task_config` asset refuses one without writing a snapshot, and no payload
ever runs on the Dagster host."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from tests.assets.conftest import load_defs, materialize
from tests.assets.test_sensor import tick

CORPUS = Path(__file__).resolve().parents[1] / "trainer" / "hostile_task_configs"


@pytest.fixture
def canary(tmp_path, monkeypatch):
    path = tmp_path / "canary"
    monkeypatch.setenv("HOSTILE_CANARY", str(path))
    yield path
    assert not path.exists(), "a payload from a task config ran"


def test_the_sensor_requests_nothing_from_the_hostile_corpus(standin_project, instance, canary, capfd):
    folder = standin_project / "task_configs"
    for path in CORPUS.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    capfd.readouterr()
    result = tick(load_defs(), instance)
    log = capfd.readouterr().err
    assert result.run_requests == [] and instance.get_dynamic_partitions("task") == []
    for path in CORPUS.glob("*.yaml"):
        assert f"{folder}/{path.name}: " in log, path.name


def test_the_task_config_asset_refuses_a_hostile_config_and_writes_nothing(standin_project, instance, canary):
    name = "exec_network_input"
    shutil.copy(CORPUS / f"{name}.yaml", standin_project / "task_configs" / f"{name}.yaml")
    instance.add_dynamic_partitions("task", [name])
    result = materialize(load_defs(), instance, ["task_config"], name, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "agent.overrides.models.policy.network: not overridable" in failure.event_specific_data.error.message
    assert not (standin_project / "data" / "task_configs" / name).exists()
    assert not instance.fetch_materializations(dg.AssetKey("task_config"), limit=1).records


def test_the_sensor_cursor_forgets_configs_that_are_gone(standin_project, instance, canary):
    """The cursor (content hash per config) stays bounded by the configs present, however many came and went."""
    import json

    folder = standin_project / "task_configs"
    for path in sorted(CORPUS.glob("*.yaml"))[:5]:
        shutil.copy(path, folder / path.name)
    first = tick(load_defs(), instance)
    assert len(json.loads(first.cursor)["invalid"]) == 5
    for path in folder.glob("*.yaml"):
        path.unlink()
    second = tick(load_defs(), instance, first.cursor)
    assert json.loads(second.cursor) == {"invalid": {}, "seen": {}}


@pytest.mark.parametrize("name", ["exec_network_input", "alias_bomb", "type_learning_rate", "name_mismatch"])
def test_quickstart_refuses_a_hostile_config_before_touching_the_instance(tmp_path, monkeypatch, canary, capsys,
                                                                          name):
    from robotics_assets.cli import main
    from tests.assets.conftest import write_settings

    monkeypatch.delenv("ROBOTICS_DATA_DIR", raising=False)
    monkeypatch.setenv("ROBOTICS_SETTINGS", str(write_settings(tmp_path, standin=True)))
    shutil.copy(CORPUS / f"{name}.yaml", tmp_path / "task_configs" / f"{name}.yaml")
    assert main(["quickstart", "--task", name]) == 2
    expected = (CORPUS / f"{name}.yaml").read_text().splitlines()[0].removeprefix("# refused: ")
    err = capsys.readouterr().err
    assert f"quickstart: {tmp_path / 'task_configs' / name}.yaml: " in err and expected in err, err
    assert not (tmp_path / "data" / "dagster_home").exists()  # no partition was added for it
