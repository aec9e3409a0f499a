"""Offline USD asset root for Isaac Lab, so Cartpole, Ant and Humanoid train without NVIDIA's asset server.

Isaac Lab resolves robot USDs under `ISAACSIM_ASSET_ROOT` (read once, when `isaaclab.utils.assets` is imported), and
by default that is a remote server this machine cannot reach. From what the installed wheels ship we build, with
`pxr`, and cache under `.data/sim_assets/<wheels-hash>/` (then point `ISAACSIM_ASSET_ROOT` there):
- `cartpole.usd` (bodies, joints, masses), rebuilt from the flattened Cartpole test stage of the isaaclab wheel;
- the Ant of `Isaac-Ant-Direct`, from the newton wheel's `examples/assets/ant.usda`: the same MuJoCo ant (joint names,
  body layout, joint limits) as Isaac Lab's, but authored with `physics:density = 1`, which makes every body 5x
  lighter than the ant Isaac Lab's task was tuned on (MuJoCo's and Isaac Gym's `nv_ant.xml`, density 5: 0.91 kg in
  all; newton ships that file too). We set density 5, so the masses match (tests/trainer/test_sim_assets.py checks
  them, and the joint limits, against newton's import of `nv_ant.xml`). Gear ratios (15) and the termination height
  (0.31 m) are the task's, not the asset's;
- the Humanoid of `Isaac-Humanoid-Direct`, from the newton wheel's `examples/assets/humanoid.usda`: Isaac Sim's
  import of MuJoCo's `nv_humanoid.xml` (newton ships that too; same 40.8 kg, same joints and limits), whose revolute
  joints keep their MJCF names (`abdomen_x`, `right_knee`, `right_elbow`). Isaac Sim's own humanoid names every
  joint after the link it moves (`pelvis`, `right_shin`, `right_lower_arm`), and Isaac Lab's HUMANOID_CFG actuators
  and its task's joint gears select joints by those names, so we rename the three kinds of joint the same way;
- a collision ground plane.

Asset root setting (`--asset-root` / `ROBOTICS_ASSET_ROOT`):
  `local` (default)  the offline root built here
  `default`          NVIDIA's remote root (Isaac Lab's own default; needs network)
  a folder or URL    used as is (e.g. a Blob mirror of the NVIDIA root for air-gapped clusters)
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import tempfile
from pathlib import Path

from trainer.paths import data_dir

ENV_VAR = "ROBOTICS_ASSET_ROOT"
GOLDEN_STAGE = "isaaclab/source/isaaclab_tasks/test/golden_stages/cartpole/newton-isaacsim_rtx_renderer-rgb.usda"
CARTPOLE_USD = "Isaac/IsaacLab/Robots/Classic/Cartpole/cartpole.usd"
GROUND_PLANE = "Isaac/IsaacLab/Environments/Grid/default_ground_plane_checker_v1/default_ground_plane.usda"
ANT_SOURCE = "newton/examples/assets/ant.usda"
ANT_USD = "Isaac/Robots/IsaacSim/Ant/ant_instanceable.usd"
ANT_DENSITY = 5.0  # kg/m^3 of every ant body, as in MuJoCo's ant and Isaac Gym's nv_ant.xml
HUMANOID_SOURCE = "newton/examples/assets/humanoid.usda"
HUMANOID_USD = "Isaac/Robots/IsaacSim/Humanoid/humanoid_instanceable.usd"
BUILT = (CARTPOLE_USD, ANT_USD, HUMANOID_USD, GROUND_PLANE)
_LAYOUT = "4"  # bump when what is built changes, so cached roots are rebuilt

_GROUND_PLANE_USDA = """#usda 1.0
(
    defaultPrim = "GroundPlane"
    metersPerUnit = 1
    upAxis = "Z"
)
def Xform "GroundPlane"
{
    def Plane "CollisionPlane" (
        prepend apiSchemas = ["PhysicsCollisionAPI"]
    )
    {
        uniform token axis = "Z"
        double length = 100
        double width = 100
    }
}
"""


class AssetError(RuntimeError):
    """The offline asset root cannot be built (e.g. isaaclab is not installed)."""


def _dist(name: str = "isaaclab") -> importlib.metadata.Distribution:
    try:
        return importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        raise AssetError(f"{name} is not installed: run scripts/setup.sh (installs the [trainer] extra)") from None


def golden_stage_path() -> Path:
    path = Path(_dist().locate_file(GOLDEN_STAGE))
    if not path.is_file():
        raise AssetError(f"the installed isaaclab wheel has no golden Cartpole stage at {path}")
    return path


def newton_asset_path(name: str) -> Path:
    path = Path(_dist("newton").locate_file(name))
    if not path.is_file():
        raise AssetError(f"the installed newton wheel has no {name} (at {path})")
    return path


def ant_source_path() -> Path:
    return newton_asset_path(ANT_SOURCE)


def wheel_hash() -> str:
    """Changes whenever the installed isaaclab or newton wheel does (a RECORD lists every file's hash)."""
    digest = hashlib.sha256(_LAYOUT.encode())
    for name in ("isaaclab", "newton"):
        dist = _dist(name)
        digest.update((dist.read_text("RECORD") or dist.version).encode())
    return digest.hexdigest()[:16]


def _write_cartpole(golden: Path, out: Path) -> None:
    from pxr import Sdf, Usd

    src = Sdf.Layer.FindOrOpen(str(golden))
    dst = Sdf.Layer.CreateAnonymous(".usda")
    dst.ImportFromString(
        '#usda 1.0\n(\n defaultPrim = "Robot"\n metersPerUnit = 1\n kilogramsPerUnit = 1\n upAxis = "Z"\n)\n'
    )
    # The robot instances flattened prototypes; copy them along (as classes) so its references resolve.
    for prim in src.rootPrims:
        if prim.name.startswith("Flattened_Prototype_"):
            Sdf.CopySpec(src, prim.path, dst, prim.path)
            dst.GetPrimAtPath(prim.path).specifier = Sdf.SpecifierClass
    Sdf.CopySpec(src, "/World/envs/env_0/Robot", dst, "/Robot")
    robot = dst.GetPrimAtPath("/Robot")
    robot.specifier = Sdf.SpecifierDef
    # The spawner places each copy itself; a baked env_0 transform would offset every robot.
    for name in ("xformOp:orient", "xformOp:scale", "xformOp:translate", "xformOpOrder"):
        if name in robot.attributes:
            robot.RemoveProperty(robot.attributes[name])
    text = dst.ExportToString()
    if "/World/envs" in text:
        raise AssetError("cartpole.usd still points into the golden stage (/World/envs): relationship remap failed")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    stage = Usd.Stage.Open(str(out))
    if not stage or not stage.GetPrimAtPath("/Robot").IsValid():
        raise AssetError(f"rebuilt {out} has no /Robot prim")


def _write_ant(source: Path, out: Path) -> None:
    """The `/ant` articulation of newton's ant.usda alone (no light, no physics scene), bodies at density 5."""
    from pxr import Sdf, Usd, UsdPhysics

    src = Sdf.Layer.FindOrOpen(str(source))
    dst = Sdf.Layer.CreateAnonymous(".usda")
    dst.ImportFromString('#usda 1.0\n(\n defaultPrim = "ant"\n metersPerUnit = 1\n kilogramsPerUnit = 1\n upAxis = "Z"\n)\n')
    Sdf.CopySpec(src, "/ant", dst, "/ant")
    stage = Usd.Stage.Open(dst)
    bodies = [p for p in stage.Traverse() if p.HasAPI(UsdPhysics.RigidBodyAPI)]
    if len(bodies) != 9:
        raise AssetError(f"{source}: expected the ant's 9 rigid bodies, found {len(bodies)}")
    for body in bodies:
        UsdPhysics.MassAPI.Apply(body).CreateDensityAttr().Set(ANT_DENSITY)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dst.ExportToString(), encoding="utf-8")


def _write_humanoid(source: Path, out: Path) -> None:
    """The `/nv_humanoid` articulation of newton's humanoid.usda, each moving joint named after its child link."""
    from pxr import Sdf, Usd, UsdPhysics

    src = Sdf.Layer.FindOrOpen(str(source))
    dst = Sdf.Layer.CreateAnonymous(".usda")
    dst.ImportFromString(
        '#usda 1.0\n(\n defaultPrim = "nv_humanoid"\n metersPerUnit = 1\n kilogramsPerUnit = 1\n upAxis = "Z"\n)\n'
    )
    Sdf.CopySpec(src, "/nv_humanoid", dst, "/nv_humanoid")
    stage = Usd.Stage.Open(dst)
    renames = {}
    for prim in stage.Traverse():
        if prim.IsA(UsdPhysics.Joint) and not prim.IsA(UsdPhysics.FixedJoint):
            targets = UsdPhysics.Joint(prim).GetBody1Rel().GetTargets()
            if len(targets) == 1 and targets[0].name != prim.GetName():
                renames[prim.GetPath()] = targets[0].name
    if len(renames) != 5:  # abdomen_x, both knees, both elbows
        raise AssetError(f"{source}: expected 5 joints named unlike their link, found {sorted(map(str, renames))}")
    for path, name in renames.items():
        dst.GetPrimAtPath(path).name = name
    _drop_inert_collision_groups(stage, dst, source)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dst.ExportToString(), encoding="utf-8")


def _drop_inert_collision_groups(stage, layer, source: Path) -> None:
    """Remove the humanoid's collision groups, which filter nothing under OpenUSD but everything under newton 1.6.

    Isaac Sim's MJCF importer put each of the 19 colliders in its own `PhysicsCollisionGroup` that filters only
    `CollisionGroup_NonParticipants`, a group with no collider in it: by OpenUSD's rules (groups collide unless a
    pair is filtered) every capsule collides with the ground and with the other links, as in `nv_humanoid.xml`
    (contype = conaffinity = 1). newton 1.6's USD importer instead gives each group its own positive
    `collision_group` and ignores `physics:filteredGroups`; positive groups collide only with themselves, so no
    capsule touched the ground and the humanoid fell through it (newton-physics/newton#4145, fixed upstream by
    #4152). Without the groups every collider is in newton's default group 1, the ground plane's too.
    """
    from pxr import UsdPhysics

    colliders = [p.GetPath() for p in stage.Traverse() if p.HasAPI(UsdPhysics.CollisionAPI)]
    groups = {p.GetPath(): UsdPhysics.CollisionGroup(p) for p in stage.Traverse() if p.IsA(UsdPhysics.CollisionGroup)}

    def has_colliders(path) -> bool:
        query = groups[path].GetCollidersCollectionAPI().ComputeMembershipQuery()
        return any(query.IsPathIncluded(c) for c in colliders)

    for path, group in groups.items():
        filtered = [t for t in group.GetFilteredGroupsRel().GetTargets() if t in groups and has_colliders(t)]
        if group.GetInvertFilteredGroupsAttr().Get() or (filtered and has_colliders(path)):
            raise AssetError(f"{source}: collision group {path} filters colliders ({list(map(str, filtered))}); "
                             "dropping it would change which pairs collide")
    for path in groups:
        del layer.GetPrimAtPath(path.GetParentPath()).nameChildren[path.name]


def offline_asset_root(*, rebuild: bool = False) -> Path:
    """Build (once per isaaclab wheel) and return the offline asset root."""
    cache = data_dir() / "sim_assets"
    final = cache / wheel_hash()
    if all((final / name).is_file() for name in BUILT) and not rebuild:
        return final
    cache.mkdir(parents=True, exist_ok=True)
    # Build beside the final folder and rename: readers never see a half-written root, even if we are killed.
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=cache))
    try:
        _write_cartpole(golden_stage_path(), tmp / CARTPOLE_USD)
        _write_ant(ant_source_path(), tmp / ANT_USD)
        _write_humanoid(newton_asset_path(HUMANOID_SOURCE), tmp / HUMANOID_USD)
        (tmp / GROUND_PLANE).parent.mkdir(parents=True, exist_ok=True)
        (tmp / GROUND_PLANE).write_text(_GROUND_PLANE_USDA, encoding="utf-8")
        if final.exists():
            if not rebuild:  # another process finished first; its copy is identical
                return final
            shutil.rmtree(final)
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / CARTPOLE_USD).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def configure_asset_root(setting: str | None = None) -> str | None:
    """Point Isaac Lab at the chosen asset root; call before isaaclab is imported. Returns the root in use."""
    setting = setting or os.environ.get(ENV_VAR) or "local"
    if setting == "default":
        return os.environ.get("ISAACSIM_ASSET_ROOT")  # Isaac Lab's own resolution (remote)
    root = str(offline_asset_root()) if setting == "local" else setting
    if "://" not in root and not Path(root).is_dir():
        raise AssetError(f"asset root {root!r} is not a folder (allowed: local, default, a folder or a URL)")
    os.environ["ISAACSIM_ASSET_ROOT"] = root
    return root
