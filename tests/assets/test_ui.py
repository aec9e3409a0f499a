"""A real `dagster dev` on 127.0.0.1: runs launched through GraphQL, then Materialize clicked in Debian Chromium and
the evaluation report's metadata (table and plots) seen rendered. Reuses the session's trained checkpoint."""

import shutil
import time

import dagster as dg
import pytest

from robotics_assets.lib.instance import write_instance_config
from robotics_assets.lib.settings import load_settings
from tests.assets.conftest import HERE, latest, mkey, write_settings
from tests.assets.dagster_server import DagsterDev

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.timeout(1800),
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed (scripts/setup.sh)"),
]


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory, mlflow_db):
    folder = tmp_path_factory.mktemp("ui")
    settings_path = write_settings(folder, standin=False, regions=("eastus",), enabled_regions=["eastus"],
                                   mlflow_db=mlflow_db, sensors_running=False)
    (folder / "task_configs" / "cartpole.yaml").write_text((HERE / "task_configs" / "cartpole.yaml").read_text())
    home = folder / "dagster_home"
    write_instance_config(load_settings(settings_path), home)
    server = DagsterDev({"ROBOTICS_SETTINGS": str(settings_path), "DAGSTER_HOME": str(home)}, folder / "dev.log")
    try:
        server.wait_ready()
        yield server, home
    finally:
        server.stop()


def test_graphql_launch_then_materialize_in_the_browser(dagster_dev, real_chain):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    server, home = dagster_dev
    key = mkey("cartpole", "eastus")
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
            try:  # first visit: the community dialog covers the page
                page.get_by_role("button", name="Skip").click(timeout=15_000)
            except PlaywrightTimeout:
                pass  # already dismissed in this browser profile
            expect(page.get_by_text("policy", exact=True).first).to_be_visible()  # the graph shows lineage
            page.get_by_role("button", name="Materialize…").first.click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_role("button", name="All", exact=True).click()
            dialog.get_by_role("button", name="Launch 1 run").click()

            # stay on the page until the run exists: navigating away at once can cancel the UI's launch request
            query = ('{ runsOrError(filter: {tags: [{key: "dagster/partition", value: "cartpole"}]}) '
                     '{ ... on Runs { results { runId status } } } }')
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
