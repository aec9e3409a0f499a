"""Offline USD asset root rebuilt from the golden Cartpole stage in the installed isaaclab wheel."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trainer import sim_assets


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ROBOTICS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ROBOTICS_ASSET_ROOT", raising=False)
    monkeypatch.delenv("ISAACSIM_ASSET_ROOT", raising=False)
    return tmp_path


def test_builds_cartpole_and_ground_plane_usable_by_usd(data_dir):
    from pxr import Usd, UsdPhysics

    root = sim_assets.offline_asset_root()
    assert root == data_dir / "sim_assets" / sim_assets.wheel_hash()
    stage = Usd.Stage.Open(str(root / sim_assets.CARTPOLE_USD))
    robot = stage.GetDefaultPrim()
    assert robot.GetPath().pathString == "/Robot"
    joints = [p.GetName() for p in stage.Traverse() if p.IsA(UsdPhysics.Joint)]
    assert {"slider_to_cart", "cart_to_pole"} <= set(joints)
    assert not robot.GetAttribute("xformOp:translate").IsValid()  # the spawner places each copy
    ground = Usd.Stage.Open(str(root / sim_assets.GROUND_PLANE))
    assert ground.GetPrimAtPath("/GroundPlane/CollisionPlane").HasAPI(UsdPhysics.CollisionAPI)
    assert [p.name for p in (data_dir / "sim_assets").iterdir()] == [root.name]  # no build leftovers


def test_cached_per_wheel_and_rebuilt_when_the_wheel_changes(data_dir, monkeypatch):
    first = sim_assets.offline_asset_root()
    usd = first / sim_assets.CARTPOLE_USD
    stamp = usd.stat().st_mtime_ns
    assert sim_assets.offline_asset_root() == first and usd.stat().st_mtime_ns == stamp
    monkeypatch.setattr(sim_assets, "wheel_hash", lambda: "0123456789abcdef")
    second = sim_assets.offline_asset_root()
    assert second.name == "0123456789abcdef" and (second / sim_assets.CARTPOLE_USD).is_file()
    assert (second / sim_assets.CARTPOLE_USD).read_bytes() == usd.read_bytes()


def test_a_failed_build_leaves_nothing_behind(data_dir, monkeypatch):
    def broken(golden, out):
        out.parent.mkdir(parents=True)
        out.write_text("half")
        raise sim_assets.AssetError("boom")

    monkeypatch.setattr(sim_assets, "_write_cartpole", broken)
    with pytest.raises(sim_assets.AssetError, match="boom"):
        sim_assets.offline_asset_root()
    assert list((data_dir / "sim_assets").iterdir()) == []


def test_asset_root_setting(data_dir, monkeypatch, tmp_path):
    assert sim_assets.configure_asset_root() == str(sim_assets.offline_asset_root())
    assert os.environ["ISAACSIM_ASSET_ROOT"] == str(sim_assets.offline_asset_root())
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("ROBOTICS_ASSET_ROOT", str(mirror))
    assert sim_assets.configure_asset_root() == str(mirror) == os.environ["ISAACSIM_ASSET_ROOT"]
    url = "https://account.blob.core.windows.net/assets/Assets/Isaac/5.1"
    assert sim_assets.configure_asset_root(url) == url
    monkeypatch.delenv("ISAACSIM_ASSET_ROOT")
    assert sim_assets.configure_asset_root("default") is None and "ISAACSIM_ASSET_ROOT" not in os.environ
    with pytest.raises(sim_assets.AssetError, match="is not a folder"):
        sim_assets.configure_asset_root(str(tmp_path / "missing"))


def test_assets_cli_prints_the_root(data_dir):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "trainer", "assets"], cwd=root, capture_output=True, text=True,
                          check=True, env={**os.environ, "ROBOTICS_DATA_DIR": str(data_dir)})
    assert proc.stdout.strip() == str(data_dir / "sim_assets" / sim_assets.wheel_hash())


def test_offline_ant_has_isaac_labs_ant_physics(data_dir):
    """Masses and joint limits as in the MuJoCo ant Isaac Lab's Ant task was tuned on (nv_ant.xml, density 5)."""
    import newton
    import numpy as np

    root = sim_assets.offline_asset_root()
    ours, reference = newton.ModelBuilder(), newton.ModelBuilder()
    ours.add_usd(str(root / sim_assets.ANT_USD))
    reference.add_mjcf(str(sim_assets.ant_source_path().with_name("nv_ant.xml")))
    assert ours.body_count == reference.body_count == 9
    np.testing.assert_allclose(ours.body_mass, reference.body_mass, rtol=1e-3)  # 0.91 kg in all, torso 0.48
    assert sum(ours.body_mass) > 0.9
    # hips +-40 deg, ankles 30..100 deg (signs per leg), in the same joint order
    np.testing.assert_allclose(ours.joint_limit_lower, reference.joint_limit_lower, rtol=1e-5)
    np.testing.assert_allclose(ours.joint_limit_upper, reference.joint_limit_upper, rtol=1e-5)
    joints = [name.rsplit("/", 1)[-1] for name in ours.joint_label[1:]]
    assert joints == ["front_left_leg", "front_left_foot", "front_right_leg", "front_right_foot", "left_back_leg",
                      "left_back_foot", "right_back_leg", "right_back_foot"]  # the names Isaac Lab's Ant task uses


def _humanoid_gear_expressions() -> list[str]:
    """JOINT_GEARS of Isaac Lab's Humanoid task, read from its source (importing isaaclab_tasks costs seconds)."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec("isaaclab_tasks")
    source = Path(next(iter(spec.submodule_search_locations))) / "core/locomotion/humanoid/humanoid_common.py"
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "JOINT_GEARS":
            return [key.value for key in node.value.keys]
    raise AssertionError(f"no JOINT_GEARS in {source}")


def test_offline_humanoid_has_the_joints_isaac_labs_humanoid_task_drives(data_dir):
    """21 actuated DOFs named as Isaac Sim's humanoid names them (what HUMANOID_CFG and the task's gears select),
    and the MuJoCo humanoid's 40.8 kg (nv_humanoid.xml: newton's import merges head and hands into their links)."""
    import re

    import newton

    root = sim_assets.offline_asset_root()
    ours, reference = newton.ModelBuilder(), newton.ModelBuilder()
    ours.add_usd(str(root / sim_assets.HUMANOID_USD))
    reference.add_mjcf(str(sim_assets.newton_asset_path(sim_assets.HUMANOID_SOURCE).with_name("nv_humanoid.xml")))
    assert abs(sum(ours.body_mass) - sum(reference.body_mass)) < 1e-3 and 40 < sum(ours.body_mass) < 42
    # DOF names as isaaclab_newton builds them (assets/articulation/articulation.py: `name:axis` for a multi-DOF joint)
    names = []
    for key, (linear, angular) in zip(ours.joint_label, ours.joint_dof_dim, strict=True):
        dofs = linear + angular
        if dofs and dofs < 6:  # not the floating base
            base = key.rsplit("/", 1)[-1]
            names += [base] if dofs == 1 else [f"{base}:{i}" for i in range(dofs)]
    assert len(names) == 21  # the task's action space
    expressions = _humanoid_gear_expressions()
    for name in names:  # every DOF gets a gear, from exactly one expression
        assert sum(bool(re.fullmatch(e, name)) for e in expressions) == 1, name
    for expression in expressions:  # and every expression drives something
        assert any(re.fullmatch(expression, name) for name in names), expression


# MuJoCo-Warp settings of Isaac Lab's Humanoid task (isaaclab_tasks core/locomotion/humanoid/humanoid_common.py,
# HumanoidPhysicsCfg.newton_mjwarp, plus MJWarpSolverCfg's defaults): 1/120 s physics steps of 2 substeps.
HUMANOID_SOLVER = {"njmax": 80, "nconmax": 25, "cone": "pyramidal", "integrator": "implicitfast", "impratio": 1.0,
                   "iterations": 100, "ls_iterations": 50, "solver": "newton"}


def _fall_with_zero_torques(usd: Path, steps: int) -> tuple[list[float], list[float]]:
    """Torso height and lowest body origin after each 1/120 s step of the USD humanoid dropped with zero torques from
    the task's start height (1.34 m) onto a ground plane, with the task's MuJoCo-Warp settings, on CPU."""
    import newton
    import warp as wp

    builder = newton.ModelBuilder()
    newton.solvers.SolverMuJoCo.register_custom_attributes(builder)
    builder.add_ground_plane()
    builder.add_usd(str(usd), xform=wp.transform((0.0, 0.0, 1.34), wp.quat_identity()))
    model = builder.finalize(device="cpu")
    solver = newton.solvers.SolverMuJoCo(model, **HUMANOID_SOLVER)
    state, next_state, control = model.state(), model.state(), model.control()
    newton.eval_fk(model, model.joint_q, model.joint_qd, state)
    torso, lowest = [], []
    for _ in range(steps):
        for _ in range(2):
            state.clear_forces()
            solver.step(state, next_state, control, None, 1.0 / 240.0)
            state, next_state = next_state, state
        z = state.body_q.numpy()[:, 2]
        torso.append(float(z[0]))
        lowest.append(float(z.min()))
    return torso, lowest


@pytest.mark.filterwarnings("ignore:.*nconmax is changed.*:UserWarning")  # MuJoCo-Warp rounds it up
def test_offline_humanoid_lands_on_the_ground(data_dir):
    """With no torques the humanoid lands on its feet and stays above the ground plane. newton's humanoid.usda puts
    each collider in its own collision group; newton 1.6 imports that as "collide with nothing else", and the robot
    fell through the ground (free fall: torso 0.79 m after these 40 steps, lowest body -0.47 m), ending every episode of
    Isaac-Humanoid-Direct at its 0.8 m termination height after 20 policy steps whatever the policy did."""
    from pxr import Usd, UsdPhysics

    usd = sim_assets.offline_asset_root() / sim_assets.HUMANOID_USD
    stage = Usd.Stage.Open(str(usd))
    assert sum(p.HasAPI(UsdPhysics.CollisionAPI) for p in stage.Traverse()) == 19  # every capsule and sphere kept
    torso, lowest = _fall_with_zero_torques(usd, 40)
    assert min(lowest) > -0.005  # feet (0.027 m capsules) on the plane, nothing below it
    assert torso[-1] > 1.2 and abs(torso[-1] - torso[-10]) < 0.05  # standing on its legs, not falling
