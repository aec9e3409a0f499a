"""The agent allowlist against skrl 2.1.1 itself: its names are skrl's, Isaac Lab's PPO agents pass it, and the
skrl 1.x keys of Isaac Lab's YAMLs are translated once, exactly as skrl would, so no training opens with warnings."""

from __future__ import annotations

import copy
import dataclasses
import logging
from pathlib import Path

import pytest
import yaml

from trainer import agent_schema, tasks
from trainer.agent_config import load_base
from trainer.agent_schema import (
    RUNNER,
    AgentConfigError,
    check_runner_cfg,
    translate_deprecated,
)
from trainer.config import load_task_config

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "task_configs").glob("*.yaml"))


def test_allowlisted_names_are_skrls_own():
    from skrl.agents.torch.base import ExperimentCfg
    from skrl.agents.torch.ppo import PPO_CFG
    from skrl.trainers.torch import SequentialTrainerCfg

    ppo = {f.name for f in dataclasses.fields(PPO_CFG)}
    runner_only = {"class", "rewards_shaper_scale"}  # read by skrl's Runner itself (_process_cfg, _component)
    assert set(RUNNER["agent"]) - runner_only <= ppo
    assert set(RUNNER["agent"]["experiment"]) <= {f.name for f in dataclasses.fields(ExperimentCfg)}
    assert set(RUNNER["trainer"]) - {"class"} <= {f.name for f in dataclasses.fields(SequentialTrainerCfg)}


@pytest.mark.parametrize("task", sorted(tasks.isaaclab_tasks()))
def test_isaac_labs_agents_pass_or_are_refused_by_name(task):
    cfg = {**load_base(tasks.isaaclab_tasks()[task]), "seed": 1}
    if "AMP" in task or "ARL-Robot" in task:  # AMP agents and GRU networks: not something this trainer runs
        with pytest.raises(AgentConfigError, match=r"agent.class: 'AMP' is not valid \(allowed: PPO\)|"
                                                   r"network\[1\]\.(type|num_layers): unknown field"):
            check_runner_cfg(cfg)
    else:
        check_runner_cfg(cfg)


@pytest.fixture
def skrl_warnings(caplog):
    caplog.set_level(logging.WARNING, logger="skrl")
    return caplog


def test_deprecated_keys_are_translated_once_as_skrl_would(skrl_warnings):
    from skrl.utils.runner.torch import Runner

    raw = yaml.safe_load(load_task_config(SHIPPED[0]).task_ref.agent_yaml.read_text())
    skrls = Runner._check_cfg_compatibility(None, copy.deepcopy(raw))
    assert len(skrl_warnings.records) == 5  # what every training printed before (issue 18)
    assert translate_deprecated(copy.deepcopy(raw)) == skrls


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_configs_start_skrl_without_a_warning(path, skrl_warnings):
    from skrl.utils.runner.torch import Runner

    agent = load_task_config(path).agent_cfg()
    assert Runner._check_cfg_compatibility(None, copy.deepcopy(agent)) == agent
    assert [r.getMessage() for r in skrl_warnings.records] == []


def test_override_errors_name_every_field_at_once():
    errors = agent_schema.check({"agent": {"learning_rate": "fast", "rollouts": 0, "lambda": 0.9}},
                                "agent.overrides", overrides=True)
    assert errors == [
        "agent.overrides.agent.learning_rate: 'fast' is not valid (allowed: a finite number > 0)",
        "agent.overrides.agent.rollouts: 0 is not valid (allowed: an integer >= 1)",
        "agent.overrides.agent.lambda: renamed or removed agent key (gae_lambda in skrl 2; allowed: "
        + ", ".join(k for k, v in RUNNER["agent"].items() if getattr(v, "overridable", True)) + ")",
    ]


def test_an_agent_yaml_saved_before_the_translation_still_loads(tmp_path):
    """Runs trained before this change saved Isaac Lab's skrl 1.x names in agent.yaml; evaluate/export read them."""
    from trainer.agent_config import load_run_agent_cfg

    cfg = load_task_config(SHIPPED[0])
    old = yaml.safe_load(cfg.task_ref.agent_yaml.read_text())  # `lambda`, `state_preprocessor`, ...
    old["seed"] = cfg.seed
    saved = tmp_path / "agent.yaml"
    saved.write_text(yaml.safe_dump(old))
    loaded = load_run_agent_cfg(saved)
    assert loaded["agent"]["gae_lambda"] == old["agent"]["lambda"] and "lambda" not in loaded["agent"]
    assert loaded["agent"]["observation_preprocessor"] == old["agent"]["state_preprocessor"]
