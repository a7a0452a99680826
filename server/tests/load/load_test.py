#!/usr/bin/env python3
"""Load test: N concurrent clients mixing writes and queries against a real
chromite for S seconds; fails on any error or any lost acknowledged write
(checked live, after the run, and again after a graceful restart).

Usage:  load_test.py [--seconds 60] [--clients 16] [--dim 64] [--bin PATH]
Starts the chromite binary itself ($CHROMITE_BIN, $CARGO_TARGET_DIR/debug/chromite
or target/debug/chromite) on a free port with a temp data dir. Prints a
summary; exit status 0 only when there were zero errors and nothing was lost.
Kept out of the default test run (it takes a minute); run it by hand or with
CHROMITE_LOAD_SECONDS=60 pytest server/tests/compat/test_load.py.
"""

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compat"))
from conftest import Server  # noqa: E402

C = "/api/v2/tenants/default_tenant/databases/default_database/collections"


def percentile(xs, p):
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def run(seconds: float, clients: int, dim: int, batch: int = 32) -> dict:
    tmp = tempfile.TemporaryDirectory(prefix="chromite-load-")
    data = os.path.join(tmp.name, "data")
    server = Server(data)
    base = server.url
    h = httpx.Client(base_url=base, timeout=60)
    col = h.post(C, json={"name": "load"}).json()["id"]
    R = f"{C}/{col}"

    acked = [[] for _ in range(clients)]  # ids acknowledged by a 201, per client
    errors = []
    lat = {"add": [], "query": [], "get": []}
    lock = threading.Lock()
    deadline = time.time() + seconds

    def worker(w: int):
        rng = random.Random(w)
        seq = 0
        with httpx.Client(base_url=base, timeout=60) as c:
            while time.time() < deadline:
                op = rng.random()
                try:
                    t0 = time.perf_counter()
                    if op < 0.45:
                        ids = [f"w{w}-{seq + i}" for i in range(batch)]
                        seq += batch
                        body = {
                            "ids": ids,
                            "embeddings": [[rng.gauss(0, 1) for _ in range(dim)] for _ in ids],
                            "metadatas": [{"w": w, "i": seq + i} for i in range(batch)],
                            "documents": [f"doc {x}" for x in ids],
                        }
                        r = c.post(f"{R}/add", json=body)
                        kind = "add"
                        if r.status_code == 201:
                            acked[w].extend(ids)
                    elif op < 0.9:
                        body = {"query_embeddings": [[rng.gauss(0, 1) for _ in range(dim)]], "n_results": 10,
                                "include": ["distances", "metadatas"]}
                        if rng.random() < 0.3:
                            body["where"] = {"w": w}
                        r = c.post(f"{R}/query", json=body)
                        kind = "query"
                    else:
                        mine = acked[w][-batch:]
                        r = c.post(f"{R}/get", json={"ids": mine, "include": []})
                        kind = "get"
                        if r.status_code == 200 and sorted(r.json()["ids"]) != sorted(mine):
                            with lock:
                                errors.append(f"client {w}: acknowledged ids missing from get")
                    dt = time.perf_counter() - t0
                    with lock:
                        lat[kind].append(dt)
                        if r.status_code >= 300:
                            errors.append(f"client {w} {kind}: {r.status_code} {r.text[:200]}")
                except Exception as e:  # noqa: BLE001
                    with lock:
                        errors.append(f"client {w}: {type(e).__name__}: {e}")

    t0 = time.time()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - t0

    all_ids = [i for ids in acked for i in ids]

    def missing_ids(client: httpx.Client, rr: str) -> int:
        missing = 0
        for k in range(0, len(all_ids), 2000):
            chunk = all_ids[k:k + 2000]
            got = set(client.post(f"{rr}/get", json={"ids": chunk, "include": []}).json()["ids"])
            missing += sum(1 for i in chunk if i not in got)
        return missing

    count = h.get(f"{R}/count").json()
    lost = missing_ids(h, R)
    h.close()
    exit_code = server.stop()
    # restart on the same directory: every acknowledged write must still be there
    server2 = Server(data)
    with httpx.Client(base_url=server2.url, timeout=60) as h2:
        col2 = h2.get(f"{C}/load").json()["id"]
        count_after = h2.get(f"{C}/{col2}/count").json()
        lost_after = missing_ids(h2, f"{C}/{col2}")
    server2.stop()
    tmp.cleanup()
    ops = sum(len(v) for v in lat.values())
    return {
        "seconds": round(elapsed, 1),
        "clients": clients,
        "dim": dim,
        "ops": ops,
        "ops_per_s": round(ops / elapsed, 1),
        "adds": len(lat["add"]),
        "records_acked": len(all_ids),
        "records_per_s": round(len(all_ids) / elapsed, 1),
        "queries": len(lat["query"]),
        "queries_per_s": round(len(lat["query"]) / elapsed, 1),
        "add_p50_ms": round(percentile(lat["add"], 50) * 1000, 2),
        "add_p99_ms": round(percentile(lat["add"], 99) * 1000, 2),
        "query_p50_ms": round(percentile(lat["query"], 50) * 1000, 2),
        "query_p99_ms": round(percentile(lat["query"], 99) * 1000, 2),
        "errors": len(errors),
        "first_errors": errors[:5],
        "count": count,
        "lost": lost,
        "shutdown_exit_code": exit_code,
        "count_after_restart": count_after,
        "lost_after_restart": lost_after,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--bin")
    a = ap.parse_args()
    if a.bin:
        os.environ["CHROMITE_BIN"] = a.bin
    res = run(a.seconds, a.clients, a.dim)
    for k, v in res.items():
        print(f"{k}: {v}")
    ok = res["errors"] == 0 and res["lost"] == 0 and res["lost_after_restart"] == 0 \
        and res["count"] == res["records_acked"] == res["count_after_restart"] and res["shutdown_exit_code"] == 0
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
