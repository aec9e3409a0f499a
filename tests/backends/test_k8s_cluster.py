"""Opt-in: the k8s backend against a REAL cluster (`pytest -m k8s`, with KUBECONFIG set).

Uses the region named by ROBOTICS_K8S_REGION in ROBOTICS_REGIONS_FILE (`terraform output -json regions`), the
trainer image from that region's registry pinned by ROBOTICS_TRAINER_IMAGE_DIGEST (or ROBOTICS_TRAINER_IMAGE as
repo@sha256:...) and ROBOTICS_K8S_GPUS GPUs (default 0, which still schedules on the GPU pool). Trains the tiny
pendulum config through Pipes over pod logs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from robotics_assets.lib.launch.base import LaunchRequest
from robotics_assets.lib.launch.k8s import K8sBackend, K8sOptions
from tests.configs import PENDULUM_YAML

pytestmark = [pytest.mark.k8s,
              pytest.mark.skipif(not os.environ.get("KUBECONFIG"), reason="needs a real cluster (set KUBECONFIG)")]

ROOT = Path(__file__).resolve().parents[2]
CONFIG = PENDULUM_YAML


def test_train_on_a_real_cluster():
    regions_file = Path(os.environ.get("ROBOTICS_REGIONS_FILE", ROOT / "infra_tf/examples/regions.sample.json"))
    region = os.environ.get("ROBOTICS_K8S_REGION", "eastus")
    outputs = json.loads(regions_file.read_text())
    outputs = outputs.get("value", outputs)[region]
    options = {"startup_timeout_s": 1800, "poll_interval_s": 5}
    if os.environ.get("ROBOTICS_TRAINER_IMAGE"):
        options["image"] = os.environ["ROBOTICS_TRAINER_IMAGE"]  # pinned: repo@sha256:...
    if os.environ.get("ROBOTICS_TRAINER_IMAGE_DIGEST"):
        options["image_digest"] = os.environ["ROBOTICS_TRAINER_IMAGE_DIGEST"]
    backend = K8sBackend(K8sOptions.from_region(region, outputs, options))

    @dg.asset
    def policy(context):
        request = LaunchRequest(task="pendulum", region=region, step="train", config_yaml=CONFIG,
                                args=["--run-dir", "/tmp/runs/pendulum", "--no-tracking"],
                                gpus=int(os.environ.get("ROBOTICS_K8S_GPUS", "0")))
        return backend.launch(context, request).get_materialize_result()

    result = dg.materialize([policy])
    meta = result.asset_materializations_for_node("policy")[0].metadata
    assert meta["k8s_pod"].value and meta["timesteps"].value == 512
