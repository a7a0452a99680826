"""`chromite import` of a Chroma persistent directory written by the REAL
`chromadb` package (the version in the venv, 1.5.x): every tenant, database
and collection comes over, and the official client reads the same records
from Chromite as it read from Chroma (ids in order, documents, uris, typed
metadata, embeddings bit for bit, settings). The source tree is hashed
before and after: the import changes nothing in it."""

import base64
import hashlib
import os
import subprocess

import chromadb
import numpy as np
import pytest
from chromadb.api.client import SharedSystemClient
from pathlib import Path

from conftest import Server, chromite_bin

INCLUDE = ["embeddings", "documents", "metadatas", "uris"]


def tree_hash(root: str) -> str:
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            p = os.path.join(dirpath, f)
            h.update(os.path.relpath(p, root).encode())
            with open(p, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


def make_store(path: str) -> None:
    """Collections covering §6 of chroma-format.md: flushed and queued
    records, updates/deletes after a flush, a delete and re-add, every
    space, every metadata type, an empty collection, a dropped collection's
    orphan folder, a second tenant and database."""
    rng = np.random.default_rng(3)
    client = chromadb.PersistentClient(path=path)
    c = client.create_collection(
        "l2_flushed",
        configuration={"hnsw": {"sync_threshold": 50}},
        metadata={"owner": "me", "n": 3, "ratio": 0.5, "on": True},
        embedding_function=None,
    )
    n = 120
    c.add(
        ids=[f"r{i:03}" for i in range(n)],
        embeddings=rng.standard_normal((n, 8)).astype(np.float32).tolist(),
        documents=[f"doc {i}" if i % 7 else "" for i in range(n)],
        metadatas=[
            {"i": i, "f": i / 2, "whole": 26.0, "b": i % 2 == 0, "s": f"s{i}", "big": 2**62,
             "ia": [i, -i, 1099511627802], "sa": ["a", f"x{i}"], "fa": [0.5, 1.0], "ba": [True, False]}
            if i % 5 else None
            for i in range(n)
        ],
        uris=[f"u://{i}" if i % 3 == 0 else None for i in range(n)],
    )
    c.update(ids=["r001"], metadatas=[{"s": None, "new": "added"}])
    c.update(ids=["r002"], embeddings=[[1.0] * 8])
    c.upsert(ids=["r003", "new1"], embeddings=[[2.0] * 8, [3.0] * 8], documents=["up3", "new doc"])
    c.delete(ids=["r004", "r005"])
    c.delete(where={"i": 11})
    c.add(ids=["r004"], embeddings=[[4.0] * 8])
    cq = client.create_collection("cos_queue", metadata={"hnsw:space": "cosine"}, embedding_function=None)
    cq.add(ids=[f"c{i}" for i in range(30)], embeddings=rng.standard_normal((30, 16)).astype(np.float32).tolist())
    cf = client.create_collection(
        "cos_flushed", configuration={"hnsw": {"space": "cosine", "sync_threshold": 20}}, embedding_function=None
    )
    cf.add(ids=[f"k{i}" for i in range(60)], embeddings=rng.standard_normal((60, 16)).astype(np.float32).tolist())
    cf.delete(ids=[f"k{i}" for i in range(0, 60, 4)])
    cf.add(ids=["k0"], embeddings=[[1.0] * 16])
    ip = client.create_collection(
        "ip_cfg",
        configuration={"hnsw": {"space": "ip", "sync_threshold": 10, "max_neighbors": 8, "ef_search": 33}},
        embedding_function=None,
    )
    ip.add(ids=[f"p{i}" for i in range(25)], embeddings=rng.standard_normal((25, 4)).astype(np.float32).tolist())
    client.create_collection("empty_coll", embedding_function=None)
    d = client.create_collection("dropped", configuration={"hnsw": {"sync_threshold": 10}}, embedding_function=None)
    d.add(ids=[f"d{i}" for i in range(12)], embeddings=rng.standard_normal((12, 4)).astype(np.float32).tolist())
    client.delete_collection("dropped")
    admin = chromadb.AdminClient(chromadb.Settings(is_persistent=True, persist_directory=path))
    admin.create_tenant("tenant2")
    admin.create_database("db2", tenant="tenant2")
    t2 = chromadb.PersistentClient(path=path, tenant="tenant2", database="db2")
    t2c = t2.create_collection("empty_coll", embedding_function=None)
    t2c.add(ids=["z1", "z2"], embeddings=[[1.0, 2.0], [3.0, 4.0]], documents=["one", "two"])


SCOPES = [("default_tenant", "default_database"), ("tenant2", "db2")]


def snapshot(client_of) -> dict:
    out = {}
    for tenant, database in SCOPES:
        client = client_of(tenant, database)
        for col in client.list_collections():
            got = col.get(include=INCLUDE)
            hnsw = (col.configuration or {}).get("hnsw") or {}
            out[(tenant, database, col.name)] = {
                "metadata": col.metadata,
                "space": hnsw.get("space"),
                "max_neighbors": hnsw.get("max_neighbors"),
                "ef_search": hnsw.get("ef_search"),
                "ids": got["ids"],
                "documents": got["documents"],
                "uris": got["uris"],
                # Chroma answers {} for a record with a uri and no metadata.
                "metadatas": [m or None for m in got["metadatas"]],
                "embeddings": np.asarray(got["embeddings"], dtype=np.float32).tobytes(),
            }
    return out


@pytest.fixture()
def chroma_store(tmp_path):
    src = str(tmp_path / "chroma")
    make_store(src)
    want = snapshot(lambda t, d: chromadb.PersistentClient(path=src, tenant=t, database=d))
    SharedSystemClient.clear_system_cache()
    return src, want


def test_import_brings_every_collection_over_bit_for_bit(chroma_store, tmp_path):
    src, want = chroma_store
    assert ("default_tenant", "default_database", "dropped") not in want
    assert len(want[("default_tenant", "default_database", "l2_flushed")]["ids"]) == 119
    before = tree_hash(src)
    dest = str(tmp_path / "chromite")
    r = subprocess.run([chromite_bin(), "import", src, "--path", dest], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "imported 6 collections" in r.stdout, r.stdout
    assert tree_hash(src) == before, "the import changed the Chroma directory"

    server = Server(dest)
    try:
        host, port = "127.0.0.1", server.port
        got = snapshot(lambda t, d: chromadb.HttpClient(host=host, port=port, tenant=t, database=d))
    finally:
        server.stop()
    assert sorted(got) == sorted(want)
    for key in want:
        for field in want[key]:
            assert got[key][field] == want[key][field], f"{key} {field}"

    # A second import refuses to overwrite, and says which collections.
    r = subprocess.run([chromite_bin(), "import", src, "--path", dest], capture_output=True, text=True)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "NOT imported: default_tenant/default_database/l2_flushed" in r.stdout
    r = subprocess.run([chromite_bin(), "import", src, "--path", dest, "--overwrite"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

    # Export to JSON lines and import them into a fresh store: identical.
    jsonl = tmp_path / "export.jsonl"
    with open(jsonl, "w") as out:
        r = subprocess.run([chromite_bin(), "export", "--path", dest], stdout=out, stderr=subprocess.PIPE, text=True)
    assert r.returncode == 0, r.stderr
    assert "exported 6 collections, 222 records" in r.stderr, r.stderr
    first = jsonl.read_text().splitlines()[0]
    assert first == '{"kind":"header","format":1}'
    dest2 = str(tmp_path / "from-jsonl")
    r = subprocess.run([chromite_bin(), "import", str(jsonl), "--path", dest2], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    server = Server(dest2)
    try:
        again = snapshot(lambda t, d: chromadb.HttpClient(host="127.0.0.1", port=server.port, tenant=t, database=d))
    finally:
        server.stop()
    assert again == want
    # Only the named collections.
    r = subprocess.run([chromite_bin(), "export", "--path", dest, "--collection", "ip_cfg"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 1 + 1 + 25


def test_import_names_a_damaged_file_and_imports_the_rest(chroma_store, tmp_path):
    src, want = chroma_store
    # Truncate the flushed index of one collection.
    import sqlite3

    db = sqlite3.connect(f"file:{src}/chroma.sqlite3?mode=ro", uri=True)
    seg = db.execute(
        "SELECT s.id FROM segments s JOIN collections c ON s.collection = c.id "
        "WHERE c.name = 'cos_flushed' AND s.scope = 'VECTOR'"
    ).fetchone()[0]
    db.close()
    data = os.path.join(src, seg, "data_level0.bin")
    with open(data, "r+b") as f:
        f.truncate(100)
    dest = str(tmp_path / "chromite")
    r = subprocess.run([chromite_bin(), "import", src, "--path", dest], capture_output=True, text=True)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "NOT imported: default_tenant/default_database/cos_flushed" in r.stdout
    assert data in r.stdout, r.stdout
    assert "imported 5 collections" in r.stdout

    # An id map that does not decode, and a missing header: each named.
    db = sqlite3.connect(f"file:{src}/chroma.sqlite3?mode=ro", uri=True)
    segs = dict(db.execute(
        "SELECT c.name, s.id FROM segments s JOIN collections c ON s.collection = c.id WHERE s.scope = 'VECTOR'"
    ).fetchall())
    db.close()
    pickle = os.path.join(src, segs["ip_cfg"], "index_metadata.pickle")
    with open(pickle, "wb") as f:
        f.write(b"\x80\x03not a pickle")
    header = os.path.join(src, segs["l2_flushed"], "header.bin")
    os.remove(header)
    dest = str(tmp_path / "chromite-2")
    r = subprocess.run([chromite_bin(), "import", src, "--path", dest], capture_output=True, text=True)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"NOT imported: default_tenant/default_database/ip_cfg: {pickle}: the id map does not decode" in r.stdout, r.stdout
    assert f"NOT imported: default_tenant/default_database/l2_flushed: {header}: " in r.stdout, r.stdout
    assert "imported 3 collections" in r.stdout

    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "chroma.sqlite3").write_bytes(b"not a database at all" * 100)
    r = subprocess.run([chromite_bin(), "import", str(garbage), "--path", dest], capture_output=True, text=True)
    assert r.returncode == 1
    assert "chroma.sqlite3" in r.stderr, r.stderr


def chroma_files(root: str) -> dict:
    """Every file under `root` with its hash."""
    out = {}
    for dirpath, _, filenames in os.walk(root):
        for f in filenames:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def test_run_on_a_chroma_directory_imports_it_once_in_place(chroma_store):
    src, want = chroma_store
    before = chroma_files(src)
    server = Server(src)
    try:
        got = snapshot(lambda t, d: chromadb.HttpClient(host="127.0.0.1", port=server.port, tenant=t, database=d))
        # A write after the import must survive the next start (no re-import).
        c = chromadb.HttpClient(host="127.0.0.1", port=server.port).get_collection("ip_cfg")
        c.add(ids=["after"], embeddings=[[9.0, 9.0, 9.0, 9.0]])
        logs = server.logs()
    finally:
        server.stop()
    assert got == want
    assert "imported the Chroma persistent directory" in logs
    after = chroma_files(src)
    assert {k: after[k] for k in before} == before, "Chroma's files changed"

    server = Server(src)
    try:
        c = chromadb.HttpClient(host="127.0.0.1", port=server.port).get_collection("ip_cfg")
        assert c.count() == 26
        assert "imported the Chroma persistent directory" not in server.logs()
    finally:
        server.stop()


def test_kill_9_during_import_never_leaves_a_half_written_collection(tmp_path):
    """SIGKILL the import at several moments: a server started on the
    store afterwards shows only complete collections, and running the same
    import again finishes the job (resuming past what was done)."""
    import signal
    import time

    src = str(tmp_path / "chroma")
    client = chromadb.PersistentClient(path=src)
    rng = np.random.default_rng(11)
    sizes = {"first": 3000, "big": 30000, "last": 2000}
    for name, n in sizes.items():
        c = client.create_collection(name, embedding_function=None)
        for i in range(0, n, 5000):
            k = min(5000, n - i)
            c.add(ids=[f"{name}-{j}" for j in range(i, i + k)], embeddings=rng.standard_normal((k, 32)).astype(np.float32))
    SharedSystemClient.clear_system_cache()

    t0 = time.time()
    r = subprocess.run([chromite_bin(), "import", src, "--path", str(tmp_path / "timing")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    whole = time.time() - t0
    killed = 0
    for frac in [0.2, 0.5, 0.8]:
        delay = whole * frac
        dest = str(tmp_path / f"dest-{frac}")
        proc = subprocess.Popen([chromite_bin(), "import", src, "--path", dest], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        if proc.wait() != -signal.SIGKILL:
            continue  # it finished first: nothing to check at this moment
        killed += 1
        finished = not os.path.exists(os.path.join(dest, "CHROMITE_IMPORT_JOURNAL"))
        server = Server(dest)
        try:
            http = chromadb.HttpClient(host="127.0.0.1", port=server.port)
            for col in http.list_collections():
                assert col.count() == sizes[col.name], f"{col.name} is half-written after a kill at {delay}s"
        finally:
            server.stop()
        if not finished:
            # The same import run again resumes and finishes.
            r = subprocess.run([chromite_bin(), "import", src, "--path", dest], capture_output=True, text=True)
            assert r.returncode == 0, r.stdout + r.stderr
            assert "NOT imported" not in r.stdout
        server = Server(dest)
        try:
            http = chromadb.HttpClient(host="127.0.0.1", port=server.port)
            assert {c.name: c.count() for c in http.list_collections()} == sizes
        finally:
            server.stop()
    assert killed >= 2, f"only {killed} kills landed before the import finished ({whole:.2f}s)"


LEGACY = Path(__file__).resolve().parents[3] / "data" / "legacy"


def ulps(a: bytes, b: bytes) -> int:
    x = np.frombuffer(a, dtype="<f4").view(np.int32).astype(np.int64)
    y = np.frombuffer(b, dtype="<f4").view(np.int32).astype(np.int64)
    return int(np.max(np.abs(x - y))) if len(x) else 0


@pytest.mark.parametrize("version", ["0.4.24", "0.5.23", "1.0.21"])
def test_import_of_stores_written_by_older_chromadb(version, tmp_path):
    """Stores written by older chromadb releases (data/legacy, made by
    make_fixture.py under each version) import with the content that
    version's own get() returned. Cosine records still in the queue are
    the exception allowed: 0.4/0.5 served some of them raw from a
    brute-force buffer, while the import stores what Chroma 1.x serves
    for them (hnswlib's round trip, at most 2 ulp away)."""
    import json
    import shutil

    src = tmp_path / "store"
    shutil.copytree(LEGACY / version / "store", src)
    before = tree_hash(str(src))
    expected = json.loads((LEGACY / version / "expected.json").read_text())
    assert expected["chromadb"] == version
    dest = str(tmp_path / "chromite")
    r = subprocess.run([chromite_bin(), "import", str(src), "--path", dest], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert tree_hash(str(src)) == before
    r = subprocess.run([chromite_bin(), "export", "--path", dest], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = {}
    current = None
    for line in r.stdout.splitlines():
        obj = json.loads(line)
        if obj["kind"] == "collection":
            current = f'{obj["tenant"]}/{obj["database"]}/{obj["name"]}'
            got[current] = {"metadata": obj["metadata"], "records": {}, "space": None}
            vi = obj["schema"]["keys"]["#embedding"]["float_list"]["vector_index"]["config"]
            got[current]["space"] = vi.get("space")
        elif obj["kind"] == "record":
            got[current]["records"][obj["id"]] = obj
    assert sorted(got) == sorted(expected["collections"])
    for name, want in expected["collections"].items():
        g = got[name]
        assert g["metadata"] == want["metadata"], name
        space = (want["metadata"] or {}).get("hnsw:space", "l2")
        assert g["space"] == space, name
        assert sorted(g["records"]) == want["ids"], name
        for i, rid in enumerate(want["ids"]):
            rec = g["records"][rid]
            assert rec["document"] == want["documents"][i], (name, rid)
            assert rec["uri"] == want["uris"][i], (name, rid)
            assert rec["metadata"] == want["metadatas"][i], (name, rid)
            mine = base64.b64decode(rec["embedding"])
            theirs = bytes.fromhex("".join(want["embeddings"][i]))
            if space == "cosine" and version < "1":
                assert ulps(mine, theirs) <= 2, (name, rid)
            else:
                assert mine == theirs, (name, rid)


def test_import_from_a_live_chroma_server(tmp_path):
    """`chromite import http://…` from a running `chroma run` (the real
    server of the chromadb package): tenants, databases, collections with
    their settings, records bit for bit."""
    import time

    import httpx

    from conftest import free_port

    port = free_port()
    log = open(tmp_path / "chroma.log", "w")
    chroma = subprocess.Popen(
        [str(Path(os.sys.executable).parent / "chroma"), "run", "--path", str(tmp_path / "live"), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"http://localhost:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.time() < deadline, "chroma run did not start"
            time.sleep(0.2)
        rng = np.random.default_rng(8)
        client = chromadb.HttpClient(host="localhost", port=port)
        a = client.create_collection("cos_live", metadata={"hnsw:space": "cosine", "team": "x"}, embedding_function=None)
        a.add(
            ids=[f"a{i}" for i in range(1500)],
            embeddings=rng.standard_normal((1500, 12)).astype(np.float32),
            documents=[f"text {i}" for i in range(1500)],
            metadatas=[{"i": i, "f": 0.25 * i, "whole": 3.0, "b": i % 3 == 0, "tags": ["x", f"t{i % 4}"]} for i in range(1500)],
            uris=[f"s3://b/{i}" for i in range(1500)],
        )
        a.delete(ids=["a7", "a8"])
        b = client.create_collection("ip_live", configuration={"hnsw": {"space": "ip", "ef_search": 20}}, embedding_function=None)
        b.add(ids=["p1", "p2"], embeddings=[[1.0, 0.5], [0.25, -2.0]])
        client.create_collection("empty_live", embedding_function=None)
        admin = chromadb.AdminClient(chromadb.Settings(chroma_api_impl="chromadb.api.fastapi.FastAPI",
                                                       chroma_server_host="localhost", chroma_server_http_port=port))
        admin.create_tenant("tenant2")
        admin.create_database("db2", tenant="tenant2")
        t2 = chromadb.HttpClient(host="localhost", port=port, tenant="tenant2", database="db2")
        t2.create_collection("other", embedding_function=None).add(ids=["z"], embeddings=[[1.0, 2.0, 3.0]], documents=["zz"])

        want = snapshot(lambda t, d: chromadb.HttpClient(host="localhost", port=port, tenant=t, database=d))
        dest = str(tmp_path / "chromite")
        r = subprocess.run(
            [chromite_bin(), "import", f"http://localhost:{port}", "--path", dest, "--tenant", "tenant2"],
            capture_output=True, text=True,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        assert "imported 4 collections, 1501 records" in r.stdout, r.stdout
    finally:
        chroma.terminate()
        chroma.wait()
        log.close()
    server = Server(dest)
    try:
        got = snapshot(lambda t, d: chromadb.HttpClient(host="127.0.0.1", port=server.port, tenant=t, database=d))
    finally:
        server.stop()
    assert sorted(got) == sorted(want)
    for key in want:
        for field in want[key]:
            assert got[key][field] == want[key][field], f"{key} {field}"
