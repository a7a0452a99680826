#!/usr/bin/env python3
r"""import_bench.py - importing a Chroma persistent directory (issue 14).

Builds once (cached in ~/.cache/chromite-bench/chroma-<N>) a Chroma
persistent directory written by the real `chromadb` package: N records of
384-d vectors, a document and two metadata keys each, added in batches of
1000 (Chroma's default sync_threshold, so most vectors are flushed to its
hnswlib files). Then, one after the other on the same machine:

1. `chromite import SRC --path DEST` (the release binary), records/s;
2. the fastest way a Chroma user has today: a Python loop of
   `get(limit=1000, offset=k)` on the Chroma store (in process, which is
   faster than through a Chroma server) and `add()` into a running
   Chromite server over HTTP, records/s.

Usage: python benches/import_bench.py [N]     (from the repository root,
after `cargo build --release -p chromite-server`)
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import chromadb
import httpx
import numpy as np
from chromadb.api.client import SharedSystemClient

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
DIM = 384
BIN = str(Path(__file__).resolve().parents[1] / "target" / "release" / "chromite")
src = Path.home() / ".cache" / "chromite-bench" / f"chroma-{N}"

if not (src / "chroma.sqlite3").exists():
    t0 = time.time()
    client = chromadb.PersistentClient(path=str(src))
    col = client.create_collection("bench", embedding_function=None)
    rng = np.random.default_rng(5)
    for i in range(0, N, 1000):
        n = min(1000, N - i)
        col.add(
            ids=[f"id{j}" for j in range(i, i + n)],
            embeddings=rng.standard_normal((n, DIM)).astype(np.float32),
            documents=[f"document number {j} of the import benchmark" for j in range(i, i + n)],
            metadatas=[{"j": j, "group": f"g{j % 10}"} for j in range(i, i + n)],
        )
    SharedSystemClient.clear_system_cache()
    print(f"built the Chroma store in {time.time() - t0:.1f} s", file=sys.stderr)
size = sum(f.stat().st_size for f in src.rglob("*") if f.is_file())
print(f"source: {N} records x {DIM}-d, {size / 1e6:.0f} MB on disk")

with tempfile.TemporaryDirectory() as tmp:
    t0 = time.time()
    r = subprocess.run([BIN, "import", str(src), "--path", os.path.join(tmp, "a")], capture_output=True, text=True)
    dt = time.time() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    print(f"chromite import: {dt:.1f} s, {N / dt:,.0f} records/s  ({r.stdout.strip()})")

    port = 8431
    proc = subprocess.Popen([BIN, "run", "--path", os.path.join(tmp, "b"), "--port", str(port), "--host", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        source = chromadb.PersistentClient(path=str(src)).get_collection("bench")
        dest = chromadb.HttpClient(host="127.0.0.1", port=port).create_collection("bench", embedding_function=None)
        t0 = time.time()
        for k in range(0, N, 1000):
            page = source.get(limit=1000, offset=k, include=["embeddings", "documents", "metadatas"])
            dest.add(ids=page["ids"], embeddings=page["embeddings"], documents=page["documents"],
                     metadatas=page["metadatas"])
        dt = time.time() - t0
        assert dest.count() == N
        print(f"python get/add loop into a chromite server: {dt:.1f} s, {N / dt:,.0f} records/s")
    finally:
        proc.terminate()
        proc.wait()
