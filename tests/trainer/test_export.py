"""ONNX export of a trained Cartpole policy: parity with the torch policy, metadata, refusal of bad models, CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.timeout(600), pytest.mark.xdist_group(name="trained_cartpole")]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cartpole(trained_cartpole):
    """(config path, run dir) of the session's trained Cartpole run."""
    return Path(trained_cartpole.config_path), Path(trained_cartpole.run_dir)


@pytest.fixture(scope="module")
def exported(cartpole, tmp_path_factory):
    from trainer.config import load_task_config
    from trainer.export import export

    config, run_dir = cartpole
    out = tmp_path_factory.mktemp("export")
    result = export(load_task_config(config), run_dir, out, latency_iterations=50)
    return out, result


@pytest.fixture(scope="module")
def torch_policy(cartpole):
    """skrl's own deterministic action path for the run's best checkpoint, the reference the model must match."""
    from trainer.config import load_task_config
    from trainer.export import (
        agent_reference,
        checkpoint_dims,
        spec_env,
        task_interface,
    )
    from trainer.trained_run import restore_policy, verified_checkpoint

    config, run_dir = cartpole
    cfg = load_task_config(config)
    path, sha = verified_checkpoint(run_dir, None)
    interface = task_interface(cfg, *checkpoint_dims(path, sha))
    restored = restore_policy(spec_env(interface.observation_space, interface.action_space), cfg, run_dir, path, sha)
    return restored.agent, agent_reference(restored.agent)


def _perturb_policy_weight(src: Path, dst: Path) -> None:
    """Change one weight of the policy's last layer, as a silently broken conversion would."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    init = next(i for i in model.graph.initializer if "policy_layer.weight" in i.name)
    weights = numpy_helper.to_array(init).copy()
    weights.flat[0] += 1e-2
    init.CopyFrom(numpy_helper.from_array(weights, init.name))
    onnx.save(model, str(dst))


def test_export_matches_torch_policy_with_dynamic_batch(exported, torch_policy):
    import onnx
    import onnxruntime as ort
    import torch

    out, result = exported
    model_path = out / "policy.onnx"
    assert model_path.is_file() and json.loads((out / "export.json").read_text())["onnx_sha256"] == result.onnx_sha256
    assert result.parity["observations"] >= 1000
    assert result.parity["passed"] and result.parity["max_abs_diff"] <= 1e-5
    assert onnx.load(str(model_path)).opset_import[0].version >= 17

    # any batch size works, and matches skrl's mean action on observations the export never saw
    _, reference = torch_policy
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    for batch in (1, 7, 2048):
        obs = np.random.default_rng(batch).normal(0, 2, (batch, 4)).astype(np.float32)
        got = session.run(None, {"obs": obs})[0]
        assert got.shape == (batch, 1)
        assert np.abs(got - reference(torch.from_numpy(obs)).numpy()).max() <= 1e-5

    for runtime in ("torch", "onnxruntime"):
        for batch in ("batch_1", "batch_512"):
            p = result.latency[runtime][batch]
            assert 0 < p["p50_ms"] <= p["p95_ms"] <= p["p99_ms"]


def test_metadata_is_enough_to_deploy(exported, torch_policy):
    """Layout, action scale and I/O names come with the model: a deployer needs nothing else."""
    import onnxruntime as ort
    import torch

    out, _ = exported
    session = ort.InferenceSession(str(out / "policy.onnx"), providers=["CPUExecutionProvider"])
    meta = {k: json.loads(v) for k, v in session.get_modelmeta().custom_metadata_map.items()}
    assert meta["robotics.task"] == "isaaclab:Isaac-Cartpole-Direct"
    assert meta["robotics.env_runtime"] == "torch"  # deploy against the Isaac Lab runtime it learned in
    assert meta["robotics.observation_layout"] == ["cart_pos", "pole_angle", "cart_vel", "pole_ang_vel"]
    assert meta["robotics.observation_dim"] == 4 and meta["robotics.action_dim"] == 1
    assert meta["robotics.action_scale"] == 100.0  # Isaac Lab Cartpole: newtons per unit action
    assert meta["robotics.action_clip_low"] is None  # unbounded action space in Isaac Lab direct tasks
    assert len(meta["robotics.checkpoint_sha256"]) == 64

    # build the input from the layout by name, as a deployer would, and apply the scale
    state = {"cart_pos": 0.1, "pole_angle": -0.05, "cart_vel": 0.0, "pole_ang_vel": 0.3}
    obs = np.array([[state[name] for name in meta["robotics.observation_layout"]]], np.float32)
    (actions,) = session.run([meta["robotics.output"]], {meta["robotics.input"]: obs})
    _, reference = torch_policy
    force = actions * meta["robotics.action_scale"]
    assert np.allclose(force, reference(torch.from_numpy(obs)).numpy() * 100.0, atol=1e-3)


def test_corrupted_model_fails_parity_check(exported, torch_policy, tmp_path):
    from trainer.export import check_parity, parity_observations

    out, _ = exported
    agent, reference = torch_policy
    broken = tmp_path / "broken.onnx"
    _perturb_policy_weight(out / "policy.onnx", broken)
    observations = parity_observations(agent, 4, 1000, seed=0)

    assert check_parity(out / "policy.onnx", reference, observations, tolerance=1e-5).passed
    result = check_parity(broken, reference, observations, tolerance=1e-5)
    assert not result.passed and result.max_abs_diff > 1e-5


def test_export_with_broken_graph_fails_and_leaves_nothing(cartpole, tmp_path):
    from trainer.config import load_task_config
    from trainer.export import ExportError, export

    config, run_dir = cartpole
    out = tmp_path / "out"
    with pytest.raises(ExportError, match="parity check failed"):
        export(load_task_config(config), run_dir, out, latency_iterations=5,
               corrupt=lambda path: _perturb_policy_weight(path, path))
    assert list(out.iterdir()) == []  # no model, no summary, no temporary file


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trainer", "export", *args], check=False, capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_cli_exit_codes(cartpole, tmp_path):
    config, run_dir = cartpole

    missing = _run_cli("--config", str(tmp_path / "nope.yaml"), "--run-dir", str(run_dir), "--out", str(tmp_path))
    assert missing.returncode == 2 and "nope.yaml" in missing.stderr and "Traceback" not in missing.stderr

    # a checkpoint that no longer matches its manifest is refused before it is unpickled
    tampered = tmp_path / "run"
    shutil.copytree(run_dir, tampered)
    best = tampered / "checkpoints" / "best_agent.pt"
    best.write_bytes(best.read_bytes()[:-1] + bytes([best.read_bytes()[-1] ^ 0xFF]))
    refused = _run_cli("--config", str(config), "--run-dir", str(tampered), "--out", str(tmp_path / "o1"))
    assert refused.returncode == 2 and "sha256" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "o1" / "policy.onnx").exists()

    ok = _run_cli("--config", str(config), "--run-dir", str(run_dir), "--out", str(tmp_path / "o2"),
                  "--latency-iterations", "5")
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert (tmp_path / "o2" / "policy.onnx").is_file()


def test_pipes_reports_materialization_and_parity_check(cartpole, tmp_path):
    import dagster as dg

    from trainer.files import sha256_file

    config, run_dir = cartpole
    out = tmp_path / "out"
    command = [sys.executable, "-m", "trainer", "export", "--config", str(config), "--run-dir", str(run_dir),
               "--out", str(out), "--latency-iterations", "5"]

    @dg.asset(required_resource_keys={"pipes"}, check_specs=[dg.AssetCheckSpec("onnx_parity", asset="policy_onnx")])
    def policy_onnx(context):
        return context.resources.pipes.run(command=command, context=context, cwd=str(ROOT)).get_results()

    result = dg.materialize([policy_onnx], resources={"pipes": dg.PipesSubprocessClient()})
    (mat,) = result.get_asset_materialization_events()
    meta = {k: v.value for k, v in mat.materialization.metadata.items()}
    assert meta["onnx_sha256"] == sha256_file(out / "policy.onnx")
    assert meta["onnx_uri"] == (out / "policy.onnx").resolve().as_uri()
    assert meta["max_abs_diff"] <= 1e-5
    assert meta["latency_onnxruntime_batch_1_p50_ms"] > 0 and meta["latency_torch_batch_1_p99_ms"] > 0
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "onnx_parity" and check.passed


def test_a_reused_out_never_keeps_a_summary_of_another_model(cartpole, tmp_path, monkeypatch):
    """export.json names one model's sha256: the old one goes before the new model lands (crash in between)."""
    from trainer import export as ex
    from trainer.config import load_task_config

    config, run_dir = cartpole
    (tmp_path / ex.SUMMARY_NAME).write_text('{"onnx_sha256": "of another model"}')

    def crash(*_args, **_kwargs):
        raise OSError("killed before the summary was written")

    monkeypatch.setattr(ex, "_write_summary", crash)
    with pytest.raises(OSError, match="killed"):
        ex.export(load_task_config(config), run_dir, tmp_path, latency_iterations=5)
    assert (tmp_path / "policy.onnx").is_file() and not (tmp_path / ex.SUMMARY_NAME).exists()
