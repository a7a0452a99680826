"""Runs tests that ship inside the `chromadb` package (1.5.x) against the
real `chromite` binary, the way Chroma's own CI runs them against an
external server (../shared/chroma-search-api.md §10):

- the schema and configuration tests as against a single-node server
  (`CHROMA_INTEGRATION_TEST_ONLY=1`);
- the Search API and fork tests as against Chroma Cloud
  (`CHROMA_CLUSTER_TEST_ONLY=1`), since a single-node Chroma has neither.

Usage: python server/tests/chroma_suite/run.py [pytest args...]
(`CHROMA_SUITE_FILES="test/api/test_collection.py ..."` runs other files of
the package instead of the schema and configuration ones.)

The binary is $CHROMITE_BIN, else target/debug/chromite (built if missing).
Chroma's default embedding function runs over the real all-MiniLM-L6-v2
weights without the network (`minilm_plugin.py`).

Deselected, each a documented difference from a single-node Chroma:
- test_sparse_vector_not_allowed_locally: Chromite accepts sparse vector
  indexes (the point of the Schema and Search issues).
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

FILES = [
    "test/api/test_schema_e2e.py",
    "test/api/test_schema.py",
    "test/property/test_schema.py",
    "test/configurations/test_collection_configuration.py",
]

# Cloud features Chromite serves locally, run in Chroma's cluster mode.
CLUSTER_FILES = [
    "test/api/test_search_api.py",
    "test/api/test_fork_count_api.py",
    "test/property/test_fork.py",
]

DESELECT = [
    "test_sparse_vector_not_allowed_locally",
]


def chromite_bin() -> str:
    if os.environ.get("CHROMITE_BIN"):
        return os.environ["CHROMITE_BIN"]
    path = REPO / "target" / "debug" / "chromite"
    if not path.exists():
        subprocess.run(["cargo", "build", "-p", "chromite-server", "--bin", "chromite"], cwd=REPO, check=True)
    return str(path)


def main() -> int:
    import chromadb

    pkg = Path(chromadb.__file__).parent
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tempfile.mkdtemp(prefix="chromite-chroma-suite-")
    log = open(os.path.join(data, "server.log"), "w")
    server = subprocess.Popen(
        [chromite_bin(), "run", "--path", os.path.join(data, "db"), "--host", "127.0.0.1", "--port", str(port), "--allow-reset"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.time() > deadline:
                print(open(os.path.join(data, "server.log")).read())
                return 1
            time.sleep(0.1)
        env = {
            **os.environ,
            "CHROMA_INTEGRATION_TEST_ONLY": "1",
            "CHROMA_SERVER_HOST": "127.0.0.1",
            "CHROMA_SERVER_HTTP_PORT": str(port),
            "PYTHONPATH": str(HERE),
        }
        cluster_env = {
            **os.environ,
            "CHROMA_CLUSTER_TEST_ONLY": "1",
            "CHROMA_SERVER_HOST": f"127.0.0.1:{port}",
            "PYTHONPATH": str(HERE),
        }
        extra = sys.argv[1:]
        keyword = " and ".join(f"not {t}" for t in DESELECT)
        if "-k" in extra:
            i = extra.index("-k")
            keyword = f"({extra[i + 1]}) and {keyword}"
            extra = extra[:i] + extra[i + 2 :]
        args = [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "minilm_plugin",
            f"--confcutdir={pkg}", "--import-mode=importlib", "-q", "-k", keyword,
            *[str(pkg / f) for f in os.environ.get("CHROMA_SUITE_FILES", " ".join(FILES)).split()],
            *extra,
        ]
        rc = subprocess.run(args, env=env, cwd=data).returncode
        if rc != 0 or "CHROMA_SUITE_FILES" in os.environ:
            return rc
        cluster = [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "minilm_plugin",
            f"--confcutdir={pkg}", "--import-mode=importlib", "-q",
            *[str(pkg / f) for f in CLUSTER_FILES],
            *extra,
        ]
        return subprocess.run(cluster, env=cluster_env, cwd=data).returncode
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
