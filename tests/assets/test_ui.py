"""A real `dg dev` on 127.0.0.1 on a fresh instance rendered from the settings: no community dialog on the first
page, runs launched through GraphQL, Materialize clicked in Debian Chromium and the evaluation report's metadata
(table and plots) seen rendered; then the task-config sensor started as a user would, and every shipped task config
becomes a partition whose snapshot materializes. Reuses the session's trained checkpoint (no training here)."""

import shutil
import time

import dagster as dg
import pytest

from robotics_assets.lib.instance import write_instance_config
from robotics_assets.lib.settings import load_settings
from tests.assets.conftest import ROOT, latest, mkey, write_settings
from tests.assets.dagster_server import DagsterDev

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.xdist_group(name="real_chain"),
    pytest.mark.timeout(1800),
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed (scripts/setup.sh)"),
]


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory, mlflow_db):
    folder = tmp_path_factory.mktemp("ui")
    # the shipped task configs, as a fresh clone has them; sensors start stopped so nothing trains on its own
    settings_path = write_settings(folder, standin=False, regions=("eastus",), enabled_regions=["eastus"],
                                   mlflow_db=mlflow_db, sensors_running=False, task_configs=str(ROOT / "task_configs"))
    home = folder / "dagster_home"
    write_instance_config(load_settings(settings_path), home)
    server = DagsterDev({"ROBOTICS_SETTINGS": str(settings_path), "DAGSTER_HOME": str(home)}, folder / "dev.log")
    try:
        server.wait_ready()
        yield server, home
    finally:
        server.stop()


def test_graphql_launch_then_materialize_in_the_browser(dagster_dev, real_chain):
    from playwright.sync_api import expect, sync_playwright

    server, home = dagster_dev
    assert server.graphql("{ shouldShowNux }")["shouldShowNux"] is False  # what the UI asks before the dialog
    key = mkey("cartpole", "eastus")
    query = ('{ runsOrError(filter: {tags: [{key: "dagster/partition", value: "cartpole"}]}) '
             '{ ... on Runs { results { runId status } } } }')
    server.add_partition("task", "cartpole")
    assert server.wait_run(server.launch(["task_config"], "cartpole")) == "SUCCESS"

    # the policy trained by the session's chain stands in for a training run here: its checkpoint is reused
    trained = latest(real_chain["instance"], "policy", key)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization(
            asset_key="policy", partition=str(key),
            metadata={k: v for k, v in trained.items() if isinstance(v, (str, int, float, bool))},
        ))
    run_id = server.launch(["evaluation_report", "onnx_policy", "deployed_policy"], str(key),
                           {"dagster/partition/region": "eastus", "dagster/partition/task": "cartpole"})
    assert server.wait_run(run_id) == "SUCCESS", server.log.read_text()[-3000:]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(60_000)
            page.goto(f"{server.url}/assets/task_config?view=lineage&lineageScope=downstream")
            expect(page.get_by_text("policy", exact=True).first).to_be_visible()  # the graph shows lineage
            page.wait_for_timeout(3000)  # the community dialog, if the instance asked for it, opens after load
            expect(page.get_by_role("dialog")).to_have_count(0)  # nux: {enabled: false} in the rendered dagster.yaml
            expect(page.get_by_role("button", name="Skip")).to_have_count(0)
            page.get_by_role("button", name="Materialize…").first.click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_role("button", name="All", exact=True).click()
            dialog.get_by_role("button", name="Launch 1 run").click()

            # stay on the page until the run exists: navigating away at once can cancel the UI's launch request
            deadline = time.time() + 240  # a launch from the UI can go through the daemon: slow on a busy box
            while len(runs := server.graphql(query)["runsOrError"]["results"]) < 2 and time.time() < deadline:
                time.sleep(1)
            assert len(runs) == 2, runs  # the GraphQL launch and the one just clicked
            page.goto(f"{server.url}/runs")
            assert server.wait_run(runs[0]["runId"]) == "SUCCESS"
            page.goto(f"{server.url}/runs/{runs[0]['runId']}")
            expect(page.get_by_text("Success").first).to_be_visible()

            page.goto(f"{server.url}/assets/evaluation_report")
            expect(page.get_by_text("mean_return").first).to_be_visible()
            # Dagster shows markdown over 1,000 characters (our PNG data URIs) behind "[Show Markdown]", in a dialog
            row = page.locator("tr", has_text="learning_curve").first
            row.get_by_text("[Show Markdown]").click()
            plot = page.get_by_role("dialog").locator('img[src^="data:image/png"]')
            expect(plot.first).to_be_visible()
            width = plot.first.evaluate("img => img.naturalWidth")
            assert width > 100, "the learning curve must decode and render as an image"
            page.screenshot(path=str(home / "evaluation_report.png"))
        finally:
            browser.close()


def test_sensor_makes_every_shipped_task_a_partition(dagster_dev):
    """Start the task-config sensor from the API (the UI's toggle): every file under task_configs/ becomes a task
    partition whose validated snapshot materializes, and the UI lists them all."""
    from playwright.sync_api import expect, sync_playwright

    server, home = dagster_dev
    shipped = sorted(p.stem for p in (ROOT / "task_configs").glob("*.yaml"))
    started = server.graphql(
        """mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) { __typename
             ... on Sensor { sensorState { status } } ... on PythonError { message } } }""",
        {"s": {"repositoryLocationName": "robotics_assets", "repositoryName": "__repository__",
               "sensorName": "task_config_sensor"}},
    )["startSensor"]
    assert started["__typename"] == "Sensor" and started["sensorState"]["status"] == "RUNNING", started

    def materialized() -> set[str]:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            return {t for t in shipped if instance.fetch_materializations(dg.AssetRecordsFilter(
                asset_key=dg.AssetKey("task_config"), asset_partitions=[t]), limit=1).records}

    deadline = time.time() + 300
    while materialized() != set(shipped) and time.time() < deadline:
        time.sleep(3)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert sorted(instance.get_dynamic_partitions("task")) == shipped
    assert materialized() == set(shipped), server.log.read_text()[-3000:]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(60_000)
            page.goto(f"{server.url}/assets/task_config?view=partitions")
            for task in shipped:
                expect(page.get_by_text(task, exact=True).first).to_be_visible()
            page.screenshot(path=str(home / "task_partitions.png"))
        finally:
            browser.close()
