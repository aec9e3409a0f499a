"""Task-config schema: shipped configs load; every kind of bad input gets `FILE: field: problem (allowed: ...)`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from trainer.agent_schema import translate_deprecated
from trainer.config import ConfigError, load_task_config

ROOT = Path(__file__).resolve().parents[2]
CARTPOLE = ROOT / "task_configs" / "cartpole.yaml"


def _write(tmp_path: Path, data, name: str = "task.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def _cartpole(**changes):
    data = yaml.safe_load(CARTPOLE.read_text())
    data.update(changes)
    return data


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_task_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    return message


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "task_configs").glob("*.yaml")))
def test_shipped_configs_load(name):
    cfg = load_task_config(ROOT / "task_configs" / name, check_name=True)
    assert cfg.task_ref.agent_yaml.is_file()
    agent = cfg.resolved()["agent"]
    assert agent["trainer"]["timesteps"] == cfg.timesteps and agent["seed"] == cfg.seed
    assert agent["agent"]["experiment"]["checkpoint_interval"] == cfg.checkpoint_interval


def test_cartpole_defaults_come_from_isaac_labs_own_agent_yaml():
    cfg = load_task_config(CARTPOLE)
    assert cfg.task_ref.agent_yaml.name == "skrl_direct_ppo_cfg.yaml"
    base = translate_deprecated(yaml.safe_load(cfg.task_ref.agent_yaml.read_text()))  # skrl 1.x names -> 2
    agent = cfg.resolved()["agent"]
    assert agent["models"] == base["models"]
    # the CPU config overrides only the update cadence (docs/benchmarks.md); the rest is Isaac Lab's
    assert cfg.agent.overrides == {"agent": {"rollouts": 16, "mini_batches": 4}}
    assert agent["agent"]["rollouts"] == 16 and agent["agent"]["mini_batches"] == 4
    assert {k: v for k, v in agent["agent"].items() if k not in ("rollouts", "mini_batches", "experiment")} == {
        k: v for k, v in base["agent"].items() if k not in ("rollouts", "mini_batches", "experiment")}
    assert cfg.num_envs == 512 and cfg.device == "cpu"
    assert cfg.success.min_mean_episode_length == 285 and cfg.success.min_mean_return == 4.5


def test_overrides_merge_deeply_and_change_the_hash(tmp_path):
    plain = load_task_config(CARTPOLE)
    path = _write(tmp_path, _cartpole(agent={"overrides": {"agent": {"learning_rate": 1e-3, "experiment": {
        "write_interval": 64}}}}))
    cfg = load_task_config(path)
    agent = cfg.resolved()["agent"]["agent"]
    assert agent["learning_rate"] == 1e-3 and agent["experiment"]["write_interval"] == 64
    assert agent["rollouts"] == 32  # untouched siblings stay
    assert cfg.config_sha256() != plain.config_sha256()
    assert plain.config_sha256() == load_task_config(CARTPOLE).config_sha256()  # stable
    assert plain.with_overrides(num_envs=64).config_sha256() != plain.config_sha256()


def test_missing_file(tmp_path):
    message = _error(tmp_path / "nope.yaml")
    assert "<file>: no such file" in message


def test_yaml_syntax_error_names_the_line(tmp_path):
    message = _error(_write(tmp_path, "name: cartpole\ntask: [unclosed\nnum_envs: 4\n"))
    assert "<yaml>: line" in message and "invalid YAML" in message


def test_unknown_task_lists_the_known_ones(tmp_path):
    message = _error(_write(tmp_path, _cartpole(task="isaaclab:Isaac-Cartpole-Directt")))
    assert "task: unknown task 'isaaclab:Isaac-Cartpole-Directt'" in message
    assert "allowed: " in message and "isaaclab:Isaac-Cartpole-Direct," in message
    assert "gymnasium:InvertedPendulum-v5" in message


def test_task_without_family(tmp_path):
    message = _error(_write(tmp_path, _cartpole(task="Isaac-Cartpole-Direct")))
    assert "task: expected family:id with family one of isaaclab, gymnasium" in message


@pytest.mark.parametrize("value", [0, -512])
def test_non_positive_envs(tmp_path, value):
    message = _error(_write(tmp_path, _cartpole(num_envs=value)))
    assert f"num_envs: Input should be greater than 0, got {value}" in message


def test_wrong_types(tmp_path):
    message = _error(_write(tmp_path, _cartpole(num_envs="many", seed=[1], device="tpu")))
    lines = message.splitlines()
    assert any("num_envs: Input should be a valid integer" in line and "'many'" in line for line in lines)
    assert any(line.endswith("seed: Input should be a valid integer, got [1]") for line in lines)
    assert any("device: String should match pattern" in line for line in lines)
    assert all(line.startswith(f"{tmp_path / 'task.yaml'}: ") for line in lines)


def test_unknown_field_lists_allowed(tmp_path):
    message = _error(_write(tmp_path, _cartpole(num_env=4)))
    assert "num_env: unknown field (allowed: name, description, task, num_envs," in message
    message = _error(_write(tmp_path, _cartpole(success={"min_mean_len": 3})))
    assert "success.min_mean_len: unknown field (allowed: min_mean_episode_length," in message


def test_missing_required_field(tmp_path):
    data = _cartpole()
    del data["num_envs"]
    assert "num_envs: required field is missing" in _error(_write(tmp_path, data))


def test_unknown_agent_key_names_the_path_and_nearest_keys(tmp_path):
    message = _error(_write(tmp_path, _cartpole(agent={"overrides": {"agent": {"learning_rat": 1e-3}}})))
    assert "agent.overrides.agent.learning_rat: unknown agent key (did you mean learning_rate" in message
    assert "allowed: rollouts, learning_epochs," in message and "class," not in message
    message = _error(_write(tmp_path, _cartpole(agent={"overrides": {"modelz": {}}})))
    assert "agent.overrides.modelz: unknown agent key (did you mean models?" in message


def test_agent_keys_that_skrl_would_eval_are_restricted(tmp_path):
    bad = {"overrides": {"agent": {"value_preprocessor": "__import__('os').system('true')"}}}
    message = _error(_write(tmp_path, _cartpole(agent=bad)))
    assert "agent.overrides.agent.value_preprocessor: \"__import__('os').system('true')\" is not valid" in message
    assert "allowed: RunningStandardScaler, null" in message


def test_checkpoint_interval_must_fall_on_update_boundaries(tmp_path):
    message = _error(_write(tmp_path, _cartpole(checkpoint_interval=100)))
    assert "checkpoint_interval: 100 is not a multiple of agent.rollouts (16)" in message


def test_agent_base_is_task_or_a_packaged_name_never_a_path(tmp_path):
    cfg = load_task_config(_write(tmp_path, _cartpole(
        agent={"base": "gymnasium_ppo_cfg", "overrides": {"agent": {"rollouts": 16}}})))
    assert cfg.agent_base_path() == ROOT / "trainer" / "agents" / "gymnasium_ppo_cfg.yaml"
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(yaml.safe_load(cfg.agent_base_path().read_text())))
    for base in ("mine.yaml", str(tmp_path / "mine.yaml"), "~/mine.yaml", "../task_configs/cartpole.yaml"):
        message = _error(_write(tmp_path, _cartpole(agent={"base": base})))
        assert ("agent.base: must be task or the name of an agent YAML packaged with the trainer, never a path "
                f"(allowed: task, gymnasium_ppo_cfg), got {base!r}") in message


def test_export_opset_must_be_at_least_17(tmp_path):
    message = _error(_write(tmp_path, _cartpole(export={"opset": 13})))
    assert "export.opset: Input should be greater than or equal to 17, got 13" in message


def test_validate_cli_exit_codes(tmp_path):
    bad = _write(tmp_path, _cartpole(num_envs=-1))
    run = [sys.executable, "-m", "trainer", "validate"]
    ok = subprocess.run([*run, str(CARTPOLE)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "ok: " in ok.stdout
    proc = subprocess.run([*run, str(CARTPOLE), str(bad)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert f"error: {bad}: num_envs: Input should be greater than 0, got -1" in proc.stderr
    assert "Traceback" not in proc.stderr
    # validation stays cheap: no torch / Isaac Lab / skrl import (the Dagster sensor validates files too)
    probe = (
        "import sys, trainer.config as c; c.load_task_config(sys.argv[1]).config_sha256(); "
        "print(sorted(m for m in sys.modules if m in ('torch', 'isaaclab', 'skrl')))"
    )
    heavy = subprocess.run([sys.executable, "-c", probe, str(CARTPOLE)], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.strip()
    assert heavy == "[]"


def test_with_overrides_validates_like_a_file():
    cfg = load_task_config(CARTPOLE)
    assert cfg.with_overrides(num_envs=64, timesteps=None).num_envs == 64
    with pytest.raises(ConfigError, match="num_envs: Input should be greater than 0"):
        cfg.with_overrides(num_envs=0)


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ({"overrides": {"agent": None}}, "agent.overrides.agent: expected a mapping of keys, got None"),
        ({"overrides": {"trainer": None}}, "agent.overrides.trainer: expected a mapping of keys, got None"),
        ({"overrides": {"models": {"policy": None}}}, "agent.overrides.models.policy: expected a mapping of keys"),
        ({"overrides": {"agent": {"learning_rate_scheduler": ["KLAdaptiveLR"]}}},
         "agent.overrides.agent.learning_rate_scheduler: ['KLAdaptiveLR'] is not valid (allowed: KLAdaptiveLR, null)"),
        ({"overrides": {"agent": {"experiment": 5}}}, "agent.overrides.agent.experiment: expected a mapping of keys"),
    ],
)
def test_agent_sections_of_the_wrong_shape_are_config_errors(tmp_path, agent, expected):
    assert expected in _error(_write(tmp_path, _cartpole(agent=agent)))


def test_a_null_experiment_section_gets_the_trainers_settings(tmp_path):
    cfg = load_task_config(_write(tmp_path, _cartpole(agent={"overrides": {"agent": {"experiment": None}}})))
    assert cfg.resolved()["agent"]["agent"]["experiment"]["checkpoint_interval"] == cfg.checkpoint_interval
