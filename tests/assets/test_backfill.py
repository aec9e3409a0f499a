"""A two-region backfill submitted from the CLI and run by a real Dagster daemon (stand-in trainer: fast)."""

import os
import signal
import subprocess
import sys
import time

import dagster as dg
import pytest

from robotics_assets.lib.instance import write_instance_config
from robotics_assets.lib.settings import load_settings
from tests.assets.conftest import ROOT, mkey, task_yaml, write_settings

pytestmark = pytest.mark.timeout(900)


def test_two_region_backfill_from_cli_runs_every_region(tmp_path, mlflow_db):
    settings_path = write_settings(tmp_path, standin=True, mlflow_db=mlflow_db, sensors_running=False)
    (tmp_path / "task_configs" / "bf.yaml").write_text(task_yaml("bf"))
    home = tmp_path / "data" / "dagster_home"
    write_instance_config(load_settings(settings_path), home)
    env = {**os.environ, "ROBOTICS_SETTINGS": str(settings_path), "DAGSTER_HOME": str(home)}

    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("task", ["bf"])
    # task_config first (the backfill's assets read its snapshot), then the chain in both regions
    subprocess.run([sys.executable, "-m", "robotics_assets", "quickstart", "--task", "bf", "--region", "eastus"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-m", "robotics_assets", "backfill", "--task", "bf",
                          "--regions", "eastus,westeurope", "--assets", "policy,evaluation_report"],
                         cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    backfill_id = out.stdout.split()[1].rstrip(":")

    daemon = subprocess.Popen([str(ROOT / ".venv/bin/dagster-daemon"), "run", "-w", "workspace.yaml"], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509 - see dagster_server.py
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            deadline = time.time() + 600
            while time.time() < deadline:
                backfill = instance.get_backfill(backfill_id)
                if backfill.status.value in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"):
                    break
                time.sleep(3)
            assert backfill.status.value in ("COMPLETED", "COMPLETED_SUCCESS"), backfill.status
            runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
            regions = sorted(r.tags.get("dagster/partition/region") for r in runs)
            assert regions == ["eastus", "westeurope"]  # one run per region, tagged for the per-region limit
            for region in ("eastus", "westeurope"):
                recs = instance.fetch_materializations(dg.AssetRecordsFilter(
                    asset_key=dg.AssetKey("evaluation_report"), asset_partitions=[str(mkey("bf", region))]), limit=1)
                assert recs.records, region
    finally:
        os.killpg(daemon.pid, signal.SIGINT)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
