"""Fixtures for the compatibility suite: the REAL `chromite` binary on a
loopback port, driven by the official `chromadb` Python client.

The binary is taken from $CHROMITE_BIN, else $CARGO_TARGET_DIR/debug/chromite,
else <repo>/target/debug/chromite; if none exists it is built with cargo.
"""

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]


def chromite_bin() -> str:
    if os.environ.get("CHROMITE_BIN"):
        return os.environ["CHROMITE_BIN"]
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    if not target.is_absolute():
        target = REPO / target
    path = target / "debug" / "chromite"
    if not path.exists():
        subprocess.run(["cargo", "build", "-p", "chromite-server", "--bin", "chromite"], cwd=REPO, check=True)
    return str(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One running chromite process."""

    def __init__(self, data_dir: str, *extra: str, env: dict | None = None):
        self.port = free_port()
        self.data_dir = data_dir
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(tempfile.gettempdir(), f"chromite-{self.port}.log"), "w+")
        args = [chromite_bin(), "run", "--path", data_dir, "--host", "127.0.0.1", "--port", str(self.port), *extra]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        deadline = time.time() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromite exited with {self.proc.returncode}: {self.logs()}")
            try:
                if httpx.get(self.url + "/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError("chromite did not start: " + self.logs())
            time.sleep(0.05)

    def logs(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> int:
        """SIGTERM (graceful: flushes the store) and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def data_root():
    with tempfile.TemporaryDirectory(prefix="chromite-compat-") as d:
        yield d


@pytest.fixture(scope="session")
def server(data_root):
    s = Server(os.path.join(data_root, "main"), "--allow-reset")
    yield s
    assert s.stop() == 0, s.logs()


@pytest.fixture(scope="session")
def start_server(data_root):
    """Factory for extra servers (auth, restart tests); all stopped at the end."""
    started = []

    def start(name, *extra, env=None):
        s = Server(os.path.join(data_root, name), *extra, env=env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture()
def client(server):
    import chromadb
    from chromadb.config import Settings

    host, port = "127.0.0.1", server.port
    c = chromadb.HttpClient(host=host, port=port, settings=Settings(allow_reset=True, anonymized_telemetry=False))
    c.reset()
    return c


@pytest.fixture()
def http(server, client):
    """A raw HTTP client on the (freshly reset) server, for status-level checks."""
    with httpx.Client(base_url=server.url, timeout=30) as h:
        yield h


C = "/api/v2/tenants/default_tenant/databases/default_database/collections"
