"""The sweep sensor without training: deterministic trial partitions and requests, bad sweep files logged and
skipped, a changed sweep is a new revision, `--tNN` task-config file names are reserved."""

import json

import dagster as dg

from robotics_assets.defs.sweeps.sensors import CONFIG_JOB
from tests.assets.conftest import ROOT, load_defs
from tests.assets.test_sweep_chain import SWEEP, TRIALS, tick


def _project(folder):
    (folder / "task_configs" / "sweeps").mkdir(parents=True, exist_ok=True)
    for rel in ("inverted_pendulum.yaml", f"sweeps/{SWEEP}.yaml"):
        (folder / "task_configs" / rel).write_text((ROOT / "task_configs" / rel).read_text())


def test_sensor_creates_the_same_trial_partitions_and_requests_every_time(standin_project):
    _project(standin_project)
    defs = load_defs()
    seen = []
    for _ in range(2):  # two fresh instances: same partitions, same run keys
        with dg.instance_for_test() as instance:
            result = tick(defs, instance, None)
            seen.append((sorted(instance.get_dynamic_partitions("task")), instance.get_dynamic_partitions("sweep"),
                         [(r.run_key, r.job_name, r.partition_key) for r in result.run_requests]))
            assert tick(defs, instance, result.cursor).run_requests == []  # nothing twice
    assert seen[0] == seen[1]
    tasks, sweeps, requests = seen[0]
    assert tasks == TRIALS and sweeps == [SWEEP]
    assert [(job, key) for _, job, key in requests] == [(CONFIG_JOB, t) for t in TRIALS]
    assert all(run_key.startswith(f"{SWEEP}:") and run_key.endswith(f":config:{key}") for run_key, _, key in requests)


def test_changed_sweep_is_a_new_revision_and_bad_files_are_skipped(standin_project, instance):
    _project(standin_project)
    defs = load_defs()
    first = tick(defs, instance, None)
    sweep_file = standin_project / "task_configs" / "sweeps" / f"{SWEEP}.yaml"
    sweep_file.write_text(sweep_file.read_text().replace("grace_timesteps: 1024", "grace_timesteps: 512"))
    bad = standin_project / "task_configs" / "sweeps" / "broken.yaml"
    bad.write_text("name: broken\nbase: inverted_pendulum\nsearch: {method: grid}\nmetric: {name: loss}\n")
    second = tick(defs, instance, first.cursor)
    keys = {r.run_key.split(":")[1] for r in second.run_requests}
    assert len(keys) == 1 and keys != {r.run_key.split(":")[1] for r in first.run_requests}  # new revision
    assert "broken" not in instance.get_dynamic_partitions("sweep")
    assert "broken" in json.loads(second.cursor)["invalid"]  # skipped, and reported once per content


def test_task_config_files_may_not_use_trial_names(standin_project, instance):
    (standin_project / "task_configs" / "x--t00.yaml").write_text(
        (ROOT / "task_configs" / "inverted_pendulum.yaml").read_text().replace("name: inverted_pendulum",
                                                                               "name: x--t00"))
    defs = load_defs()
    sensor = defs.get_sensor_def("task_config_sensor")
    with dg.build_sensor_context(instance=instance, resources=defs.resources, definitions=defs) as context:
        result = sensor(context)
    assert result.run_requests == [] and "x--t00" in json.loads(result.cursor)["invalid"]


def test_cli_lists_a_sweeps_trials_or_names_the_problem(standin_project, capsys):
    from robotics_assets.cli import main

    _project(standin_project)
    assert main(["sweep", SWEEP]) == 0
    out = capsys.readouterr().out
    assert f"{len(TRIALS)} trials of inverted_pendulum, maximize mean_return, early stopping: median" in out
    assert f"{TRIALS[3]}  westeurope" in out and '{"agent.overrides.agent.learning_rate": 1e-06}' in out
    assert main(["sweep", "nosuch"]) == 2
    assert "no nosuch.yaml" in capsys.readouterr().err
