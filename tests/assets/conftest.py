"""Fixtures for the code location: settings in a temp folder, an instance, and chain materialization helpers."""

import os
import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml

from robotics_assets.lib.partitions import REGION_DIM, TASK_DIM

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
SAMPLE_REGIONS = ROOT / "infra_tf" / "examples" / "regions.sample.json"
CHAIN = ["policy", "evaluation_report", "onnx_policy", "deployed_policy"]
# the local backend passes only allowlisted variables: the stand-in's knob is named explicitly
STANDIN = {"module": "tests.assets.standin_trainer", "pass_env": ["STANDIN_MEAN_RETURN", "STANDIN_FAIL_TRAIN"]}


def write_settings(folder: Path, *, standin: bool, regions=("eastus", "westeurope"), mlflow_db=None, **extra) -> Path:
    """A settings file whose data and task configs live under `folder` (MLflow too, unless `mlflow_db` is given)."""
    (folder / "task_configs").mkdir(parents=True, exist_ok=True)
    settings = {
        "data_dir": str(folder / "data"),
        "task_configs": str(folder / "task_configs"),
        "regions_file": str(SAMPLE_REGIONS),
        "default_backend": "local",
        "mlflow_tracking_uri": f"sqlite:///{mlflow_db}" if mlflow_db else None,
        "regions": {r: ({"backend_options": STANDIN} if standin else {}) for r in regions},
        "training": {"trainer_args": {"device": "cpu"}},
        **extra,
    }
    path = folder / "settings.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def task_yaml(name: str, **changes) -> str:
    """The shipped Cartpole config renamed (and changed) for a test."""
    cfg = yaml.safe_load((ROOT / "task_configs" / "cartpole.yaml").read_text())
    cfg.update(name=name, **changes)
    return yaml.safe_dump(cfg, sort_keys=False)


@pytest.fixture(scope="session", autouse=True)
def shared_warp_cache():
    """Reuse the project's Warp kernel cache: compiling the kernels again costs ~30 s per test session."""
    path = ROOT / ".data" / "warp_cache"
    path.mkdir(parents=True, exist_ok=True)
    old = os.environ.get("WARP_CACHE_PATH")
    os.environ["WARP_CACHE_PATH"] = str(path)
    yield path
    if old is None:
        os.environ.pop("WARP_CACHE_PATH", None)
    else:
        os.environ["WARP_CACHE_PATH"] = old


@pytest.fixture(scope="session")
def mlflow_db(tmp_path_factory):
    """One MLflow sqlite store per session: creating one runs its schema migrations (~30 s on a busy 2-core box).
    Tests sharing it use distinct task names, so registered models and aliases never collide."""
    return tmp_path_factory.mktemp("mlflow") / "mlflow.db"


@pytest.fixture
def standin_project(tmp_path, monkeypatch, mlflow_db):
    """Two regions whose local backend runs the stand-in trainer; ROBOTICS_SETTINGS points at them."""
    path = write_settings(tmp_path, standin=True, mlflow_db=mlflow_db)
    monkeypatch.setenv("ROBOTICS_SETTINGS", str(path))
    monkeypatch.delenv("ROBOTICS_DATA_DIR", raising=False)
    return tmp_path


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def load_defs() -> dg.Definitions:
    from robotics_assets.definitions import defs

    return defs()


def mkey(task: str, region: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({TASK_DIM: task, REGION_DIM: region})


def materialize(defs: dg.Definitions, instance, keys, partition_key, raise_on_error=True, tags=None):
    """Materialize `keys` (one partitions definition) in-process, with the code location's own resources."""
    return dg.materialize(
        list(defs.assets),
        selection=[dg.AssetKey(k) for k in keys],
        partition_key=str(partition_key),
        instance=instance,
        resources=defs.resources,
        raise_on_error=raise_on_error,
        tags=tags,
    )


def add_task(instance, folder: Path, name: str, content: str) -> None:
    (folder / "task_configs" / f"{name}.yaml").write_text(content)
    instance.add_dynamic_partitions("task", [name])


def latest(instance, asset: str, partition) -> dict:
    rec = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[str(partition)]), limit=1
    ).records
    assert rec, f"{asset} [{partition}] was not materialized"
    return {k: getattr(v, "value", v) for k, v in rec[0].asset_materialization.metadata.items()}


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, dirs_exist_ok=True)


@pytest.fixture(scope="session")
def real_chain(tmp_path_factory, mlflow_db):
    """REAL trainer: train, evaluate, export and register Cartpole in one region once per session; the chain and UI
    tests read (and reuse the checkpoint of) what it produced."""
    folder = tmp_path_factory.mktemp("chain")
    mp = pytest.MonkeyPatch()
    mp.setenv("ROBOTICS_SETTINGS", str(write_settings(folder, standin=False, regions=("eastus",),
                                                      enabled_regions=["eastus"], mlflow_db=mlflow_db)))
    (folder / "task_configs" / "cartpole.yaml").write_text((HERE / "task_configs" / "cartpole.yaml").read_text())
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("task", ["cartpole"])
        defs = load_defs()
        materialize(defs, instance, ["task_config"], "cartpole")
        result = materialize(defs, instance, CHAIN, mkey("cartpole", "eastus"), raise_on_error=False)
        yield {"defs": defs, "instance": instance, "result": result, "folder": folder}
    mp.undo()
