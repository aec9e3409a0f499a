"""The whole chain in-process with the REAL trainer: task config -> policy -> report -> ONNX -> registry."""

from pathlib import Path

import dagster as dg
import pytest
import yaml

from tests.assets.conftest import latest, materialize, mkey
from trainer.storage.run_location import local_folder

pytestmark = [pytest.mark.timeout(1500), pytest.mark.xdist_group(name="real_chain")]


def test_chain_materializes_with_lineage_and_metadata(real_chain):
    chain = real_chain
    instance, key = chain["instance"], mkey("cartpole", "eastus")
    assert chain["result"].success
    policy = latest(instance, "policy", key)
    assert Path(local_folder(policy["checkpoint_uri"])).is_file() and policy["env_steps_per_s"] > 0
    assert policy["device"] == "cpu" and policy["gpu_hours"] == 0 and policy["estimated_cost"] == 0
    assert policy["cpu_wall_time_s"] > 0 and policy["mlflow_run_id"]
    assert policy["mlflow_run_url"].startswith("http://127.0.0.1:5000/#/experiments/")
    report = latest(instance, "evaluation_report", key)
    assert report["passed"] is True and Path(local_folder(report["report_path"])).is_file()
    assert any("data:image/png;base64," in str(v) for v in report.values()), "plots are embedded as images"
    onnx = latest(instance, "onnx_policy", key)
    assert Path(local_folder(onnx["onnx_uri"])).is_file() and onnx["max_abs_diff"] < 1e-4
    checks = {e.check_name: e.passed for e in chain["result"].get_asset_check_evaluations()}
    assert checks == {"evaluation_gate": True, "onnx_parity": True}
    deployed = latest(instance, "deployed_policy", key)
    assert deployed["promoted"] is True and deployed["alias"] == "champion-eastus"


def test_impossible_gate_stops_export_and_deployment(real_chain):
    """Re-evaluate the trained checkpoint under an impossible criterion (no retraining: reuse the checkpoint)."""
    instance, defs, folder = real_chain["instance"], real_chain["defs"], real_chain["folder"]
    trained = latest(instance, "policy", mkey("cartpole", "eastus"))
    hard = yaml.safe_load(Path(trained["task_config_snapshot"]).read_text())
    hard["success"]["min_mean_episode_length"] = 100000
    hard_path = folder / "hard_config.yaml"
    hard_path.write_text(yaml.safe_dump(hard, sort_keys=False))
    instance.add_dynamic_partitions("task", ["cartpole-hard"])
    key = mkey("cartpole-hard", "eastus")
    instance.report_runless_asset_event(dg.AssetMaterialization(
        asset_key="policy", partition=str(key),
        metadata={**{k: v for k, v in trained.items() if isinstance(v, (str, int, float, bool))},
                  "task_config_snapshot": str(hard_path)},
    ))
    result = materialize(defs, instance, ["evaluation_report", "onnx_policy", "deployed_policy"], key,
                         raise_on_error=False)
    assert not result.success
    assert [(e.check_name, e.passed) for e in result.get_asset_check_evaluations()] == [("evaluation_gate", False)]
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert done == {"evaluation_report"}
