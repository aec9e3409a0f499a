"""The code location loads, stays light, and its graph matches the reviewed snapshot (UPDATE_SNAPSHOTS=1 rewrites)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from tests.assets.conftest import ROOT, load_defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def describe_partitions(pd) -> object:
    if pd is None:
        return None
    if isinstance(pd, dg.MultiPartitionsDefinition):
        return {d.name: describe_partitions(d.partitions_def) for d in pd.partitions_defs}
    if isinstance(pd, dg.DynamicPartitionsDefinition):
        return f"dynamic:{pd.name}"
    if isinstance(pd, dg.StaticPartitionsDefinition):
        return pd.get_partition_keys()
    return type(pd).__name__


def render(cond) -> str:
    """The condition tree in words, so a changed operand shows up in review (labels alone would hide it)."""
    children = [render(c) for c in cond.children]
    return f"{cond.name}({', '.join(children)})" if children else cond.name


def graph_snapshot(defs: dg.Definitions) -> dict:
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        cond = node.automation_condition
        assets[key.to_user_string()] = {
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "partitions": describe_partitions(node.partitions_def),
            "checks": sorted(
                f"{c.name}{' (blocking)' if graph.get(c).blocking else ''}" for c in node.check_keys
            ),
            "automation": None if cond is None else cond.get_label() or type(cond).__name__,
            "automation_tree": None if cond is None else render(cond),
            "group": node.group_name,
            "pools": sorted(node.pools or []),
            "owners": list(node.owners),
            # the hash itself changes with every trainer edit; which assets carry it is what the review sees
            "code_version": node.code_version.split("-")[0] if node.code_version else None,
        }
    return {
        "assets": assets,
        "sensors": {s.name: s.default_status.value for s in sorted(repo.sensor_defs, key=lambda s: s.name)},
        "schedules": {s.name: s.cron_schedule for s in sorted(repo.schedule_defs, key=lambda s: s.name)},
        "resources": sorted(defs.resources),
    }


def test_definitions_load_and_match_snapshot(standin_project):
    snapshot = graph_snapshot(load_defs())
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(snapshot, indent=2, sort_keys=True) + "\n")
    assert snapshot == json.loads(SNAPSHOT.read_text()), (
        "the asset graph changed; review the diff and rerun with UPDATE_SNAPSHOTS=1 to accept it"
    )


@pytest.mark.parametrize("with_urls", [False, True])
def test_loading_definitions_imports_nothing_heavy(with_urls, tmp_path):
    """Loading the code location must not import the training stack, MLflow, or Azure identity (with any settings:
    a settings file with URLs once pulled in the trainer through the credential check)."""
    code = (
        "import sys; from robotics_assets.definitions import defs; defs().get_repository_def(); "
        "heavy = [m for m in ('torch', 'isaaclab', 'skrl', 'mlflow', 'azure.identity', 'azure.ai.ml') "
        "if m in sys.modules]; "
        # of the trainer, only its dependency-free credential patterns (shared with robotics_assets.lib.secrets) and
        # the check names both sides report
        "heavy += [m for m in sys.modules if m.startswith('trainer.') and m not in ('trainer.redaction', 'trainer.check_names')]; print(heavy)"
    )
    env = dict(os.environ)
    env.pop("ROBOTICS_SETTINGS", None)
    if with_urls:  # an MLflow URL in the settings: checked for credentials while the definitions load
        from tests.assets.conftest import write_settings

        env["ROBOTICS_SETTINGS"] = str(write_settings(tmp_path, standin=False, mlflow_db=tmp_path / "mlflow.db"))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=False, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_regions_come_from_settings(tmp_path, monkeypatch):
    from tests.assets.conftest import write_settings

    monkeypatch.setenv("ROBOTICS_SETTINGS", str(write_settings(tmp_path, standin=True, regions=("westeurope",),
                                                               enabled_regions=["westeurope"])))
    policy = load_defs().get_repository_def().asset_graph.get(dg.AssetKey("policy"))
    assert describe_partitions(policy.partitions_def) == {"region": ["westeurope"], "task": "dynamic:task"}


def test_owners_and_code_references_from_settings(tmp_path, monkeypatch):
    from tests.assets.conftest import write_settings

    def policy_node(**extra):
        monkeypatch.setenv("ROBOTICS_SETTINGS", str(write_settings(tmp_path, standin=True, **extra)))
        return load_defs().get_repository_def().asset_graph.get(dg.AssetKey("policy"))

    local = policy_node()
    (ref,) = local.metadata["dagster/code_references"].code_references
    assert ref.file_path == str(ROOT / "robotics_assets" / "defs" / "training" / "assets.py") and ref.line_number

    linked = policy_node(owners=["ml-platform@example.com", "team:robotics"],
                         code_references={"git_url": "https://github.com/example/robotics-assets", "git_branch": "dev"})
    assert list(linked.owners) == ["ml-platform@example.com", "team:robotics"]
    (ref,) = linked.metadata["dagster/code_references"].code_references
    assert ref.url.startswith(
        "https://github.com/example/robotics-assets/tree/dev/robotics_assets/defs/training/assets.py#L")


def test_bad_owner_and_unknown_git_host_name_the_setting(tmp_path):
    import pytest

    from robotics_assets.lib.settings import SettingsError, load_settings
    from tests.assets.conftest import write_settings

    with pytest.raises(SettingsError, match=r"owners: Value error, 'robotics' is neither an email nor team:<name>"):
        load_settings(write_settings(tmp_path, standin=True, owners=["robotics"]))
    with pytest.raises(SettingsError, match=r"code_references.platform: cannot tell github from gitlab .* \(allowed: "
                                            r"github, gitlab\)"):
        load_settings(write_settings(tmp_path, standin=True, code_references={"git_url": "https://git.example.com/r"}))


def test_code_location_name_is_fixed_not_the_folder_name():
    """`dg dev` names the location after [tool.dg.project] code_location_name, else after the clone's folder (a clone
    in `p` printed 66 name-mismatch warnings); workspace.yaml must say the same name."""
    import tomllib

    import yaml

    from tests.assets.dagster_server import LOCATION

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dg"]["project"]
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    assert project["code_location_name"] == LOCATION
    assert [e["python_module"]["location_name"] for e in workspace["load_from"]] == [LOCATION]
