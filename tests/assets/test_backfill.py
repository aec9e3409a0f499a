"""A two-region backfill submitted from the CLI to a real `dg dev` (GraphQL `launchPartitionBackfill`) and run
by its daemon (stand-in trainer: fast)."""

import os
import subprocess
import sys
import time

import dagster as dg
import pytest

from robotics_assets.lib.instance import write_instance_config
from robotics_assets.lib.settings import load_settings
from tests.assets.conftest import ROOT, mkey, task_yaml, write_settings
from tests.assets.dagster_server import DagsterDev

pytestmark = pytest.mark.timeout(900)


@pytest.mark.slow
def test_two_region_backfill_from_cli_runs_every_region(tmp_path, mlflow_db):
    settings_path = write_settings(tmp_path, standin=True, mlflow_db=mlflow_db, sensors_running=False)
    (tmp_path / "task_configs" / "bf.yaml").write_text(task_yaml("bf"))
    home = tmp_path / "data" / "dagster_home"
    write_instance_config(load_settings(settings_path), home)
    env = {**os.environ, "ROBOTICS_SETTINGS": str(settings_path), "DAGSTER_HOME": str(home)}

    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("task", ["bf"])
    # `dg dev` starts (~15 s) while quickstart materializes task_config (the backfill's assets read its snapshot)
    server = DagsterDev({"ROBOTICS_SETTINGS": str(settings_path), "DAGSTER_HOME": str(home)}, tmp_path / "dev.log")
    try:
        subprocess.run([sys.executable, "-m", "robotics_assets", "quickstart", "--task", "bf", "--region", "eastus"],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        server.wait_ready()
        cli = [sys.executable, "-m", "robotics_assets", "backfill", "--url", server.url]
        unknown = subprocess.run([*cli, "--task", "nosuch"], check=False, cwd=ROOT, env=env, capture_output=True, text=True)
        assert unknown.returncode == 2 and "task nosuch has no partition yet" in unknown.stderr
        out = subprocess.run([*cli, "--task", "bf", "--regions", "eastus,westeurope", "--assets",
                              "policy,evaluation_report"], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        backfill_id = out.stdout.split()[1].rstrip(":")
        deadline = time.time() + 600
        while time.time() < deadline:  # the backfill as the UI sees it
            status = server.graphql("query($id: String!) { partitionBackfillOrError(backfillId: $id) { "
                                    "... on PartitionBackfill { status } } }",
                                    {"id": backfill_id})["partitionBackfillOrError"]["status"]
            if status in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"):
                break
            time.sleep(3)
        assert status in ("COMPLETED", "COMPLETED_SUCCESS"), status
        runs = server.graphql('query($id: String!) { runsOrError(filter: {tags: [{key: "dagster/backfill", '
                              'value: $id}]}) { ... on Runs { results { tags { key value } } } } }',
                              {"id": backfill_id})["runsOrError"]["results"]
        regions = sorted(t["value"] for r in runs for t in r["tags"] if t["key"] == "dagster/partition/region")
        assert regions == ["eastus", "westeurope"]  # one run per region, tagged for the per-region limit
        with dg.DagsterInstance.from_config(str(home)) as instance:
            for region in ("eastus", "westeurope"):
                recs = instance.fetch_materializations(dg.AssetRecordsFilter(
                    asset_key=dg.AssetKey("evaluation_report"), asset_partitions=[str(mkey("bf", region))]), limit=1)
                assert recs.records, region
    finally:
        server.stop()
    # the location is named by pyproject's code_location_name, not after the clone's folder (a clone in `p` printed
    # 66 "does not match the name" warnings)
    assert "does not match the name" not in server.log.read_text()


def test_backfill_without_a_webserver_says_how_to_start_one(tmp_path, capsys, monkeypatch):
    from robotics_assets.cli import main
    from tests.assets.dagster_server import free_port

    monkeypatch.setenv("ROBOTICS_SETTINGS", str(write_settings(tmp_path, standin=True)))
    assert main(["backfill", "--task", "bf", "--url", f"http://127.0.0.1:{free_port()}"]) == 1
    assert "no Dagster webserver at http://127.0.0.1:" in capsys.readouterr().err
