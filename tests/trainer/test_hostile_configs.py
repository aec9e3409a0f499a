"""A task config is data, never code (issue 15): every file of the held-in hostile corpus is refused with a clear
`FILE: field: problem (allowed: ...)` by `python -m trainer validate` AND by what the Dagster sensor, the
`task_config` asset and `quickstart --task` apply, and nothing it carries ever runs (the canary file never appears).

Corpus: tests/trainer/hostile_task_configs/*.yaml, each starting with `# refused: <the error it must get>`; they
put an eval/exec payload into every key skrl 2.1.1 evaluates or pastes into code, traverse `agent.base`, bomb the
YAML parser, repeat keys, and carry NaN, infinities and wrong types. The 100 MB config is generated here.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml

from robotics_assets.lib.task_sources import (
    FolderSource,
    TaskConfigError,
    validate_task_config,
)
from trainer import capacity
from trainer.agent import build_runner
from trainer.agent_config import AgentConfigError, load_run_agent_cfg
from trainer.cli import EXIT_BAD_INPUT, main
from trainer.config import ConfigError, load_task_config, parse_task_config

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).parent / "hostile_task_configs"
CARTPOLE = ROOT / "task_configs" / "cartpole.yaml"
PAYLOAD = "__import__('os').system('touch ' + __import__('os').environ['HOSTILE_CANARY'])"
CASES = sorted(CORPUS.glob("*.yaml"))


@pytest.fixture
def canary(tmp_path, monkeypatch):
    path = tmp_path / "canary"
    monkeypatch.setenv("HOSTILE_CANARY", str(path))
    yield path
    assert not path.exists(), "a payload from a task config ran"


def _expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# refused: "), path
    return first.removeprefix("# refused: ")


def test_the_corpus_covers_every_key_skrl_evaluates():
    names = {p.stem for p in CASES}
    evaluated = {"learning_rate_scheduler", "observation_preprocessor", "state_preprocessor", "value_preprocessor",
                 "amp_observation_preprocessor", "exploration_noise", "smooth_regularization_noise",
                 "exploration_scheduler"}  # skrl/utils/runner/torch/runner.py: _process_cfg
    pasted = {"network_input", "network_name", "network_layer", "output", "model_class", "shared_clip_actions",
              "shared_reduction", "shared_min_log_std", "role_name"}  # skrl/utils/model_instantiators/torch/*.py
    assert {f"eval_{k}" for k in evaluated} <= names and {f"exec_{k}" for k in pasted} <= names
    assert {"base_absolute", "base_home", "base_traversal", "alias_bomb", "duplicate_task", "nan_success",
            "type_learning_rate", "too_many_envs"} <= names


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_trainer_validate_refuses_each_hostile_config(path, canary, capsys):
    assert main(["validate", str(path)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: ") and "Traceback" not in err, err
    assert _expected(path) in err, err


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_the_dagster_side_refuses_each_hostile_config_with_the_same_error(path, canary):
    """The sensor, the task_config asset and quickstart --task all call validate_task_config."""
    with pytest.raises(TaskConfigError) as info:
        validate_task_config(path.stem, path.read_bytes(), location=str(CORPUS))
    assert str(info.value).startswith(f"{CORPUS}/{path.stem}.yaml: ") and _expected(path) in str(info.value)


def test_the_alias_bomb_costs_nothing(canary):
    bomb = (CORPUS / "alias_bomb.yaml").read_bytes()
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="anchors and aliases"):
        parse_task_config(bomb, "bomb.yaml")
    assert time.perf_counter() - started < 0.5  # expanded, it would be 9**9 strings (seconds to minutes)


def test_a_100_mb_config_is_refused_without_being_read(tmp_path, canary, capsys):
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:  # a valid head, then 100 MB (sparse: nothing written to the disk)
        f.write(CARTPOLE.read_bytes().replace(b"name: cartpole\n", b"name: big\n"))
        f.seek(100 * 1024 * 1024)
        f.write(b"\n")
    tracemalloc.start()
    try:
        assert main(["validate", str(big)]) == EXIT_BAD_INPUT
        with pytest.raises(TaskConfigError, match=r"big\.yaml: <file>: 262,145 bytes is too large"):
            validate_task_config("big", FolderSource(tmp_path).read("big"), location=str(tmp_path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, peak  # at most the cap was read, never the file
    err = capsys.readouterr().err
    assert f"error: {big}: <file>: 104,857,601 bytes is too large for a config (allowed: <= 262,144 bytes)" in err


# --- a run directory's agent.yaml: evaluate and export read it back from a store others can write -------------

def _good_agent_cfg() -> dict:
    return load_task_config(CARTPOLE).agent_cfg()


def _tampered(kind: str) -> dict:
    cfg = _good_agent_cfg()
    if kind == "network_input":
        cfg["models"]["policy"]["network"][0]["input"] = f"{PAYLOAD} and OBSERVATIONS"
    elif kind == "network_name":
        cfg["models"]["value"]["network"][0]["name"] = f"x = {PAYLOAD}; y"
    elif kind == "layer_argument":
        cfg["models"]["policy"]["network"][0]["layers"] = [{"conv2d": {"out_channels": PAYLOAD}}]
    elif kind == "output":
        cfg["models"]["policy"]["output"] = f"{PAYLOAD} or ACTIONS"
    elif kind == "exploration_noise":
        cfg["agent"]["exploration_noise"] = PAYLOAD
    elif kind == "exploration_scheduler":
        cfg["agent"]["exploration_scheduler"] = PAYLOAD
    elif kind == "preprocessor":
        cfg["agent"]["value_preprocessor"] = PAYLOAD
    elif kind == "shared_class":
        cfg["models"]["separate"] = False
        cfg["models"]["policy"]["class"] = f"GaussianMixin, Model):\n    {PAYLOAD}\nclass X(GaussianMixin"
    elif kind == "role":
        cfg["models"][f"x'\n{PAYLOAD}\n#"] = copy.deepcopy(cfg["models"]["value"])
    return cfg


TAMPERED = {
    "network_input": "models.policy.network[0].input: ",
    "network_name": "models.value.network[0].name: ",
    "layer_argument": "models.policy.network[0].layers: ",
    "output": "models.policy.output: ",
    "exploration_noise": "agent.exploration_noise: unknown agent key",
    "exploration_scheduler": "agent.exploration_scheduler: unknown agent key",
    "preprocessor": "agent.value_preprocessor: ",
    "shared_class": "models.policy.class: ",
    "role": "unknown agent key",
}


@pytest.mark.parametrize("kind", TAMPERED)
def test_a_tampered_run_agent_yaml_is_refused(tmp_path, canary, kind):
    saved = tmp_path / "agent.yaml"
    saved.write_text(yaml.safe_dump(_tampered(kind)))
    with pytest.raises(AgentConfigError) as info:
        load_run_agent_cfg(saved)
    assert str(info.value).startswith(f"{saved}: ") and TAMPERED[kind] in str(info.value)
    with pytest.raises(AgentConfigError, match="runner config: "):  # and the last gate, before skrl is imported
        build_runner(None, _tampered(kind), None)


def test_the_saved_agent_yaml_of_a_real_config_loads_back(tmp_path):
    saved = tmp_path / "agent.yaml"
    saved.write_text(yaml.safe_dump(_good_agent_cfg(), sort_keys=False))  # what train.py writes
    assert load_run_agent_cfg(saved) == _good_agent_cfg()
    saved.write_text("models: &m {}\nagent: *m\n")
    with pytest.raises(AgentConfigError, match=f"{saved}: <yaml>: line 1, column 9: YAML anchors"):
        load_run_agent_cfg(saved)


@pytest.mark.parametrize("command", ["evaluate", "export"])
def test_evaluate_and_export_refuse_a_tampered_agent_yaml_before_any_work(tmp_path, canary, capsys, command):
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    data = b"never unpickled"
    (run_dir / "checkpoints" / "best_agent.pt").write_bytes(data)
    (run_dir / "manifest.json").write_text(json.dumps({"task": "isaaclab:Isaac-Cartpole-Direct", "checkpoints": {
        "best_agent.pt": {"sha256": hashlib.sha256(data).hexdigest(), "timestep": 32, "bytes": len(data)}}}))
    (run_dir / "agent.yaml").write_text(yaml.safe_dump(_tampered("network_input")))
    out = tmp_path / "out"
    assert main([command, "--config", str(CARTPOLE), "--run-dir", str(run_dir), "--out", str(out)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"{run_dir / 'agent.yaml'}: models.policy.network[0].input: " in err and "Traceback" not in err, err
    assert not out.exists() or not any(out.iterdir())


def test_the_payloads_are_real_skrl_would_run_them(tmp_path, canary):
    """The control: without the allowlist skrl 2.1.1 evaluates the corpus's payload (so the tests above can fail)."""
    from skrl.utils.runner.torch import Runner

    Runner._process_cfg(None, {"value_preprocessor": PAYLOAD})
    assert canary.exists()
    canary.unlink()  # the fixture's check is for the refused configs


# --- the device a run names ------------------------------------------------------------------------------------

def test_a_device_this_machine_lacks_is_refused_before_anything_is_built(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "--config", str(CARTPOLE), "--run-dir", str(run_dir), "--no-tracking",
                 "--device", "cuda:99"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "error: device: 'cuda:99' does not exist on this machine (visible: cpu" in err, err
    assert not run_dir.exists()


def test_num_envs_beyond_this_machines_memory_is_refused_at_training_start(tmp_path, capsys):
    run_dir = tmp_path / "run"
    envs = capacity.host_memory() // capacity.bytes_per_env("isaaclab", 16) + 1  # valid anywhere, too big here
    assert main(["train", "--config", str(CARTPOLE), "--run-dir", str(run_dir), "--no-tracking",
                 "--num-envs", str(envs)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"error: num_envs: {envs:,} envs need at least" in err and "more than this machine's memory holds" in err
    assert not run_dir.exists()
