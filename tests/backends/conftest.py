"""Fixtures for backend tests: a running OSMO stand-in and a client for it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from robotics_assets.lib.osmo import OsmoClient
from tests.standins.osmo_server import OsmoStandIn, StandInServer

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "standin-token-0123456789"  # a test token; asserted never to leak into errors or metadata


@pytest.fixture
def osmo(tmp_path):
    standin = OsmoStandIn(token=TOKEN, pools=("gpu-pool",), workdir=str(tmp_path / "osmo"),
                          base_env={**os.environ, "PYTHONPATH": str(ROOT)},  # the image has the project installed
                          credentials={"blob": {"connection_string": "UseDevelopmentStorage=true", "sas": "x"}})
    with StandInServer(standin) as server:
        yield server


@pytest.fixture
def osmo_client(osmo):
    return OsmoClient(osmo.url, token=TOKEN)
