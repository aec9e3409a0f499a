"""A real `dg dev` (webserver + daemon, as the README starts them) on 127.0.0.1 for UI/GraphQL tests, stopped by
process group."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from tests.assets.conftest import ROOT

LOCATION = "robotics_assets"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DagsterDev:
    def __init__(self, env: dict[str, str], log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._log_file = open(log, "w")  # noqa: SIM115 - open for the server's whole life, closed in stop()
        # Dagster maps SIGTERM onto its SIGINT handler; restore SIGINT (a background parent may ignore it) and run
        # in a new session so the whole group (webserver, daemon, code server, run workers) can be stopped at once.
        # `dg dev`, as the README says (the activated venv is the project's, like after `source .venv/bin/activate`)
        venv = ROOT / ".venv"
        self.proc = subprocess.Popen(
            [str(venv / "bin" / "dg"), "dev", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env={**os.environ, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", **env},
            stdout=self._log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - no threads touch it
        )

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dg dev exited {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/server_info", timeout=2).ok and self.location_loaded():
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        raise TimeoutError(f"dg dev not ready after {timeout} s: {self.log.read_text()[-3000:]}")

    def location_loaded(self) -> bool:
        data = self.graphql("{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                            "locationOrLoadError { __typename ... on PythonError { message } } } } } }")
        entries = data["workspaceOrError"]["locationEntries"]
        for e in entries:
            if e["locationOrLoadError"] and e["locationOrLoadError"]["__typename"] == "PythonError":
                raise RuntimeError(f"code location failed to load: {e['locationOrLoadError']['message']}")
        return any(e["name"] == LOCATION and e["loadStatus"] == "LOADED" for e in entries)

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        r = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
        r.raise_for_status()
        body = r.json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        return body["data"]

    def add_partition(self, name: str, key: str) -> None:
        data = self.graphql(
            """mutation($sel: RepositorySelector!, $name: String!, $key: String!) {
                 addDynamicPartition(repositorySelector: $sel, partitionsDefName: $name, partitionKey: $key) {
                   __typename ... on PythonError { message } } }""",
            {"sel": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__"}, "name": name, "key": key},
        )
        assert data["addDynamicPartition"]["__typename"] in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"), data

    def launch(self, assets: list[str], partition: str, extra_tags: dict[str, str] | None = None) -> str:
        tags = [{"key": "dagster/partition", "value": partition}]
        tags += [{"key": k, "value": v} for k, v in (extra_tags or {}).items()]
        data = self.graphql(
            """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
                 ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
                 ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } } } }""",
            {"p": {"selector": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__",
                                "jobName": "__ASSET_JOB", "assetSelection": [{"path": [a]} for a in assets]},
                   "executionMetadata": {"tags": tags}}},
        )
        result = data["launchRun"]
        assert result["__typename"] == "LaunchRunSuccess", result
        return result["run"]["runId"]

    def wait_run(self, run_id: str, timeout: float = 1200) -> str:
        deadline = time.time() + timeout
        while time.time() < deadline:
            status = self.graphql("query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                                  {"id": run_id})["runOrError"]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                return status
            time.sleep(2)
        raise TimeoutError(f"run {run_id} still running after {timeout} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        try:  # children that outlived the leader (run workers, trainer process groups of their own)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._log_file.close()
