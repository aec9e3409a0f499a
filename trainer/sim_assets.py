"""Offline USD asset root for Isaac Lab, so Cartpole trains without NVIDIA's asset server.

Isaac Lab resolves robot USDs under `ISAACSIM_ASSET_ROOT` (read once, when `isaaclab.utils.assets` is imported), and
by default that is a remote server this machine cannot reach. The isaaclab wheel ships a flattened Cartpole test
stage; we rebuild `cartpole.usd` (bodies, joints, masses) and a collision ground plane from it with `pxr`, cache the
result under `.data/sim_assets/<wheel-hash>/` and point `ISAACSIM_ASSET_ROOT` there.

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


def _isaaclab_dist() -> importlib.metadata.Distribution:
    try:
        return importlib.metadata.distribution("isaaclab")
    except importlib.metadata.PackageNotFoundError:
        raise AssetError("isaaclab is not installed: run scripts/setup.sh (installs the [trainer] extra)") from None


def golden_stage_path() -> Path:
    path = Path(_isaaclab_dist().locate_file(GOLDEN_STAGE))
    if not path.is_file():
        raise AssetError(f"the installed isaaclab wheel has no golden Cartpole stage at {path}")
    return path


def wheel_hash() -> str:
    """Changes whenever the installed isaaclab wheel does (its RECORD lists every file's hash)."""
    dist = _isaaclab_dist()
    record = dist.read_text("RECORD") or dist.version
    return hashlib.sha256(record.encode()).hexdigest()[:16]


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


def offline_asset_root(*, rebuild: bool = False) -> Path:
    """Build (once per isaaclab wheel) and return the offline asset root."""
    cache = data_dir() / "sim_assets"
    final = cache / wheel_hash()
    if (final / CARTPOLE_USD).is_file() and not rebuild:
        return final
    cache.mkdir(parents=True, exist_ok=True)
    # Build beside the final folder and rename: readers never see a half-written root, even if we are killed.
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=cache))
    try:
        _write_cartpole(golden_stage_path(), tmp / CARTPOLE_USD)
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
