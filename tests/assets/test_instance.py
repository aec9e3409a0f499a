"""dagster.yaml rendered from the settings, read back by Dagster itself: what the daemon and the UI will apply."""

import dagster as dg

from robotics_assets.lib.instance import write_instance_config
from robotics_assets.lib.settings import load_settings
from tests.assets.conftest import write_settings


def test_rendered_instance_has_run_retries_monitoring_and_no_nux(tmp_path):
    path = write_settings(tmp_path, standin=True,
                          run_retries={"max_retries": 3},
                          run_monitoring={"start_timeout_s": 240, "cancel_timeout_s": 90, "poll_interval_s": 30,
                                          "max_runtime_s": 36000})
    home = write_instance_config(load_settings(path), tmp_path / "home").parent
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.nux_enabled is False  # no community/newsletter dialog on the first page
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 3
        assert instance.run_retries_retry_on_asset_or_op_failure is False  # infrastructure failures only
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_start_timeout_seconds == 240
        assert instance.run_monitoring_cancel_timeout_seconds == 90
        assert instance.run_monitoring_poll_interval_seconds == 30
        assert instance.run_monitoring_max_runtime_seconds == 36000


def test_run_retries_off_and_default_monitoring(tmp_path):
    path = write_settings(tmp_path, standin=True, run_retries={"max_retries": 0})
    home = write_instance_config(load_settings(path), tmp_path / "home").parent
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert not instance.run_retries_enabled
        assert instance.run_monitoring_enabled and instance.run_monitoring_start_timeout_seconds == 300
        assert instance.run_monitoring_max_runtime_seconds == 0  # no limit unless the settings give one
