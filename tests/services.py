"""Real backing services for tests: Azurite (Blob), an MLflow tracking server, PostgreSQL.

Each service runs as its own process group on a free port with its data in a temporary folder, and is stopped by
process group so nothing outlives the test session. Loaded as a pytest plugin (``pytest_plugins = ["tests.services"]``
in tests/conftest.py), it provides the session-scoped fixtures ``azurite``, ``mlflow_server`` and ``postgres``; a
service whose program is missing here makes the fixture skip with the reason, never fail silently.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AZURITE_MAIN = ROOT / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
# Azurite's well-known development account (public, documented by Microsoft; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(check, what: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{_tail(log)}")
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {timeout:.0f}s:\n{_tail(log)}")


def _tail(log: Path, n: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-n:]
    except OSError:
        return ""


def _port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


def _stop_group(proc: subprocess.Popen | None, timeout: float = 10) -> None:
    """Terminate the whole process group (servers fork workers), then kill whatever is left."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


class Azurite:
    """Azurite's Blob service on a free port; data persisted under ``location`` so it survives ``kill``/``start``."""

    def __init__(self, location: Path, port: int | None = None):
        self.location = Path(location)
        self.port = port or free_port()
        self.log = self.location / "azurite.log"
        self.proc: subprocess.Popen | None = None

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def env(self) -> dict[str, str]:
        """Environment a process needs to reach this Azurite (also what MLflow's wasbs:// store reads)."""
        return {"AZURE_STORAGE_CONNECTION_STRING": self.connection_string}

    def start(self, timeout: float = 30) -> Azurite:
        if not AZURITE_MAIN.exists():
            raise FileNotFoundError(f"{AZURITE_MAIN} missing: run scripts/setup.sh (npm install azurite@3.35.0)")
        node = shutil.which("node")
        if node is None:
            raise FileNotFoundError("node not found on PATH (Azurite needs Node 20)")
        self.location.mkdir(parents=True, exist_ok=True)
        cmd = [
            node, str(AZURITE_MAIN), "--blobHost", "127.0.0.1", "--blobPort", str(self.port),
            "--location", str(self.location / "data"), "--skipApiVersionCheck", "--loose",
            "--disableTelemetry", "--silent",
        ]  # fmt: skip
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_for(lambda: _port_open(self.port), "Azurite", self.proc, self.log, timeout)
        return self

    def kill(self) -> None:
        """SIGKILL, as a crash or a lost node would: no graceful shutdown."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def stop(self) -> None:
        _stop_group(self.proc)


class MlflowServer:
    """``mlflow server`` with a sqlite backend; artifacts in ``artifacts_destination`` (a folder or wasbs:// URL)."""

    def __init__(self, workdir: Path, artifacts_destination: str | None = None, env: dict[str, str] | None = None):
        self.workdir = Path(workdir)
        self.port = free_port()
        self.artifacts_destination = artifacts_destination or str(self.workdir / "artifacts")
        self.extra_env = env or {}
        self.log = self.workdir / "mlflow.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> MlflowServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        mlflow = Path(sys.executable).with_name("mlflow")
        cmd = [
            str(mlflow), "server", "--backend-store-uri", f"sqlite:///{self.workdir / 'mlflow.db'}",
            "--artifacts-destination", self.artifacts_destination, "--serve-artifacts",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
        ]  # fmt: skip
        # Without this MLflow 3 starts a job runner (~10 processes, ~2.8 GB): see NOTES.md.
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **self.extra_env}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir, start_new_session=True
            )

        def healthy() -> bool:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as r:
                return r.status == 200

        _wait_for(healthy, "mlflow server", self.proc, self.log, timeout)
        return self

    def stop(self) -> None:
        _stop_group(self.proc)


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


class Postgres:
    """A throw-away PostgreSQL cluster (initdb + pg_ctl). initdb refuses root, so as root it runs as ``postgres``."""

    def __init__(self, workdir: Path):
        self.bindir = _postgres_bin()
        self.workdir = Path(workdir)
        self.datadir = self.workdir / "data"
        self.port = free_port()
        self.user = "dagster"
        self.password = "pg-test-only"
        self.database = "dagster"
        self.log = self.workdir / "postgres.log"
        self.proc: subprocess.Popen | None = None
        self._as_user: list[str] = []

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run([*self._as_user, *args], check=True, capture_output=True, text=True, **kw)

    def start(self, timeout: float = 30) -> Postgres:
        if self.bindir is None:
            raise FileNotFoundError("PostgreSQL not installed (/usr/lib/postgresql/*/bin/initdb): run scripts/setup.sh")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            import pwd

            pw = pwd.getpwnam("postgres")
            os.chown(self.workdir, pw.pw_uid, pw.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        pwfile = self.workdir / "pwfile"
        pwfile.write_text(self.password)
        if self._as_user:
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", self.user, "--pwfile", str(pwfile),
            "-A", "scram-sha-256", "--no-sync", "-E", "UTF8", "--locale", "C",
        )  # fmt: skip
        pwfile.unlink()
        cmd = [
            *self._as_user, str(self.bindir / "postgres"), "-D", str(self.datadir), "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.workdir}",
            "-c", "fsync=off", "-c", "shared_buffers=16MB", "-c", "max_connections=40",
        ]  # fmt: skip
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_for(lambda: self._ready(), "PostgreSQL", self.proc, self.log, timeout)
        self._run(
            str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, self.database,
            env={**os.environ, "PGPASSWORD": self.password},
        )
        return self

    def _ready(self) -> bool:
        r = subprocess.run(
            [str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True, check=False
        )
        return r.returncode == 0

    def stop(self) -> None:
        # postgres shuts down fast on SIGINT; runuser forwards the signal to its child.
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        _stop_group(self.proc)


def _start_or_skip(service):
    try:
        return service.start()
    except FileNotFoundError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    """A running Azurite (``.connection_string``, ``.blob_endpoint``, ``.env()``), shared by the session."""
    server = _start_or_skip(Azurite(tmp_path_factory.mktemp("azurite")))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory, azurite):
    """A real MLflow tracking server (``.url``) whose artifacts live in Azurite (``wasbs://mlflow@devstoreaccount1``)."""
    from azure.storage.blob import BlobServiceClient

    with BlobServiceClient.from_connection_string(azurite.connection_string) as svc, contextlib.suppress(Exception):
        svc.create_container("mlflow")
    server = MlflowServer(
        tmp_path_factory.mktemp("mlflow"),
        artifacts_destination=f"wasbs://mlflow@{AZURITE_ACCOUNT}.blob.core.windows.net/artifacts",
        env=azurite.env(),
    )
    yield server.start()
    server.stop()


@pytest.fixture(scope="session")
def postgres():
    """A running PostgreSQL (``.url`` is a ``postgresql+psycopg2://`` SQLAlchemy URL)."""
    # Outside /tmp's sticky-bit pitfalls: a private folder the postgres user can own.
    workdir = Path(tempfile.mkdtemp(prefix="pg-"))
    workdir.chmod(0o755)
    server = Postgres(workdir / "pg")
    try:
        yield _start_or_skip(server)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
