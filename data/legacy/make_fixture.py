#!/usr/bin/env python3
"""Writes a small Chroma persistent directory with the chromadb version that
is importable in this interpreter, and the expected content captured through
that version's own get(), for Chromite's import tests.

    python make_fixture.py OUT_DIR

OUT_DIR/store/ is the persistent directory; OUT_DIR/expected.json maps
"tenant/database/name" to {"metadata", "ids", "documents", "uris",
"metadatas", "embeddings" (f32 hex per vector, bit-exact)}. Ids are sorted
in expected.json because 0.4.x get() returned text order; the importer keeps
Chroma's internal order, and the test compares by id.

Covers, at dimension 8 (small enough to commit): l2 flushed to the HNSW files
then updated, upserted and deleted; cosine with records flushed and queued;
ip; every metadata type the version supports (arrays from 1.5 only); an empty
collection; a dropped collection's orphan folder.
"""
import json
import os
import struct
import sys

import chromadb
import numpy as np

OUT = sys.argv[1]
STORE = os.path.join(OUT, "store")
os.makedirs(OUT, exist_ok=True)
VERSION = tuple(int(x) for x in chromadb.__version__.split(".")[:2])


def hexes(v):
    return [struct.pack("<f", float(x)).hex() for x in v]


def small(metadata):
    # 0.4/0.5 keep records in a brute-force buffer of batch_size first.
    return {**metadata, "hnsw:sync_threshold": 20, "hnsw:batch_size": 10}


client = chromadb.PersistentClient(path=STORE)
rng = np.random.default_rng(42)
l2 = client.create_collection("l2_coll", metadata=small({"owner": "me", "n": 3, "ratio": 0.5}), embedding_function=None)
n = 60
l2.add(
    ids=[f"r{i:03}" for i in range(n)],
    embeddings=rng.standard_normal((n, 8)).astype(np.float32).tolist(),
    documents=[f"doc {i}" for i in range(n)],
    metadatas=[{"i": i, "f": i / 2, "whole": 26.0, "b": i % 2 == 0, "s": f"s{i}"} for i in range(n)],
)
l2.update(ids=["r001"], metadatas=[{"new": "added"}])
l2.update(ids=["r002"], embeddings=[[1.0] * 8])
l2.upsert(ids=["r003", "new1"], embeddings=[[2.0] * 8, [3.0] * 8], documents=["up3", "new doc"])
l2.delete(ids=["r004", "r005"])
if VERSION >= (0, 5):
    # 0.4.x drops an add of an id whose delete is still queued ("Add of
    # existing embedding ID"), leaving it in sqlite but not in the vectors.
    l2.add(ids=["r004"], embeddings=[[4.0] * 8], documents=["re-added"])
cos = client.create_collection("cos_coll", metadata=small({"hnsw:space": "cosine"}), embedding_function=None)
cos.add(ids=[f"c{i:02}" for i in range(45)], embeddings=rng.standard_normal((45, 8)).astype(np.float32).tolist())
cos.delete(ids=["c00", "c01"])
cos.upsert(ids=["c02"], embeddings=rng.standard_normal((1, 8)).astype(np.float32).tolist())
ip = client.create_collection("ip_coll", metadata=small({"hnsw:space": "ip"}), embedding_function=None)
ip.add(ids=[f"p{i:02}" for i in range(25)], embeddings=rng.standard_normal((25, 8)).astype(np.float32).tolist(),
       uris=[f"u://{i}" for i in range(25)])
client.create_collection("empty_coll", embedding_function=None)
d = client.create_collection("dropped", metadata=small({}), embedding_function=None)
d.add(ids=[f"d{i}" for i in range(25)], embeddings=rng.standard_normal((25, 8)).astype(np.float32).tolist())
client.delete_collection("dropped")

expected = {}
for col in client.list_collections():
    if isinstance(col, str):  # 0.6+ list_collections returns names
        col = client.get_collection(col)
    got = col.get(include=["embeddings", "documents", "uris", "metadatas"])
    rows = sorted(zip(got["ids"], got["embeddings"], got["documents"], got["uris"] or [None] * len(got["ids"]), got["metadatas"]))
    expected[f"default_tenant/default_database/{col.name}"] = {
        "metadata": col.metadata,
        "ids": [r[0] for r in rows],
        "embeddings": [hexes(r[1]) for r in rows],
        "documents": [r[2] for r in rows],
        "uris": [r[3] for r in rows],
        "metadatas": [r[4] or None for r in rows],
    }
with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump({"chromadb": chromadb.__version__, "collections": expected}, f, indent=1, sort_keys=True)
print("wrote", OUT, "with chromadb", chromadb.__version__)
