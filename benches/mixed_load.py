#!/usr/bin/env python3
r"""mixed_load.py - concurrent queries and upserts against one Chroma-compatible server.

Loads N x D vectors (cosine) into the collection `mixed_load`, then runs three
phases of --seconds each, with the server left idle before each one:

  1. query   --query-threads threads POST /query (one query vector, n_results=10)
  2. upsert  --upsert-threads threads POST /upsert (--batch records, ids from the
             ingested window "id-0" .. "id-{N-1}", fresh vectors)
  3. mixed   both sets of threads at once

For each phase it prints query QPS and p50/p99, upsert vectors/s and p99, errors,
the server's CPU seconds and RSS (from /proc of --pid, or of the server it
started), and the load generator's own CPU.  After the phases it prints the
mixed/solo fractions (queries, upserts, their sum, p99s), then a single
`JSON {...}` line; --out FILE writes the same JSON to a file.

How the load is made
  * stdlib http.client, one keep-alive connection per thread, reconnecting after
    any error; a per-request socket timeout (--timeout, 30 s).
  * Every request body is encoded before the clock starts.  Upsert embeddings go
    the way the official Python client sends them when GET /pre-flight-checks
    answers supports_base64_encoding: base64 of little-endian float32
    (--encoding auto|base64|floats).  Query embeddings are JSON float arrays,
    as the Python client sends them.  Query include defaults to the Python
    client's default, metadatas,documents,distances (--include).
  * Query vectors: a pre-generated set of --queries vectors; each thread picks
    uniformly at random (its own seeded RNG).
  * Upsert bodies: --upsert-pool blocks of --batch fresh vectors (drawn from the
    same mixture, never ingested) and --upsert-pool+1 blocks of --batch distinct
    random ids (each with its metadata {"bucket": i % 10}).  Request k pairs id
    block k mod (P+1) with vector block k mod P: the vector pool is reused
    cyclically, but no (ids, vectors) body repeats within P*(P+1) requests.
  * Throughput counts requests that completed before the phase deadline, over
    the phase length; latency percentiles cover every request started before the
    deadline.  Any non-2xx status or exception is an error; the first few error
    bodies are printed.
  * Data: a seeded Gaussian mixture in a 32-d latent space (256 clusters) mapped
    linearly into D dims plus noise, then L2-normalised (the recipe of
    shared/tools/vecdata.py gmm, generated here).
  * Idle before each phase: sleep --settle seconds, then, if the server PID is
    known, poll its CPU use from /proc/PID/stat until a --idle-window second
    window uses less than --idle-cpu cores, for at most --settle-max seconds.

Targets (loopback only)
  --url http://127.0.0.1:8000 [--pid PID]   a server already running
  --server 'CMD {path} {port}'              start CMD on a fresh temp data dir and
                                            a free port, stop it at the end
  e.g.
  python3 benches/mixed_load.py \
      --server '/work/chromite-baseline run --path {path} --port {port} --host 127.0.0.1' \
      --out /tmp/mixed.json
"""
import argparse
import base64
import http.client
import ipaddress
import itertools
import json
import os
import random
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import numpy as np

TENANT, DATABASE = "default_tenant", "default_database"
API = f"/api/v2/tenants/{TENANT}/databases/{DATABASE}"
COLLECTION = "mixed_load"
PHASES = ("query", "upsert", "mixed")
MAX_ERROR_SAMPLES = 5
_CLK = os.sysconf("SC_CLK_TCK")


def log(*a):
    print("[mixed_load]", *a, flush=True)


def loadavg():
    """[load1, load5, load15, cpu PSI some avg10 %]: how contended the machine is."""
    try:
        la = [float(x) for x in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return None
    try:
        la.append(float(open("/proc/pressure/cpu").readline().split()[1].split("=")[1]))
    except (OSError, IndexError, ValueError):
        pass
    return la


# ============================================================ /proc of the server
def _proc_tree(pid, limit=256):
    """pid and its descendants (bounded)."""
    out, stack = [], [pid]
    while stack and len(out) < limit:
        p = stack.pop()
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                try:
                    stack += [int(x) for x in open(f"/proc/{p}/task/{t}/children").read().split()]
                except (OSError, ValueError):
                    pass
        except OSError:
            pass
    return out


def server_stats(pid):
    """CPU seconds (utime+stime) and RSS/peak RSS in MB of pid's process tree; {} without a pid."""
    if not pid:
        return {}
    cpu = 0.0
    rss = hwm = 0
    alive = False
    for p in _proc_tree(pid):
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            cpu += (int(f[11]) + int(f[12])) / _CLK
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm += int(line.split()[1])
            alive = True
        except (OSError, IndexError, ValueError):
            pass
    if not alive:
        return {"alive": False}
    return {"cpu_s": round(cpu, 3), "rss_mb": round(rss / 1024, 1), "peak_rss_mb": round(hwm / 1024, 1)}


def client_cpu():
    """this process's CPU seconds (all threads): user, system."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


# ============================================================ data
def make_data(n, dim, nq, n_fresh, seed, latent=32, clusters=256):
    """Base vectors, query vectors and fresh upsert vectors, all L2-normalised float32."""
    rng = np.random.default_rng(seed)
    L = min(latent, dim)
    centers = rng.standard_normal((clusters, L)).astype(np.float32) * 3.0
    spread = rng.uniform(0.5, 1.5, clusters).astype(np.float32)
    weights = rng.dirichlet(np.full(clusters, 2.0))
    W = rng.standard_normal((L, dim)).astype(np.float32) / np.sqrt(L)
    offset = rng.standard_normal(dim).astype(np.float32) * 0.5  # non-centred, like real embeddings

    def draw(m):
        out = np.empty((m, dim), np.float32)
        for s in range(0, m, 50_000):
            k = min(50_000, m - s)
            c = rng.choice(clusters, size=k, p=weights)
            z = centers[c] + rng.standard_normal((k, L)).astype(np.float32) * spread[c, None]
            out[s:s + k] = z @ W + offset + 0.05 * rng.standard_normal((k, dim)).astype(np.float32)
        out /= np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
        return out

    return draw(n), draw(nq), draw(n_fresh)


def enc_embeddings(X, encoding):
    """JSON fragment (bytes) for an "embeddings" list."""
    if encoding == "base64":
        X = np.ascontiguousarray(X, dtype="<f4")
        return json.dumps([base64.b64encode(row.tobytes()).decode() for row in X],
                          separators=(",", ":")).encode()
    return json.dumps(np.asarray(X, dtype=np.float32).tolist(), separators=(",", ":")).encode()


def enc_ids_metas(rows):
    ids = [f"id-{int(i)}" for i in rows]
    metas = [{"bucket": int(i) % 10} for i in rows]
    return ids, metas


def add_body(rows, X, encoding):
    ids, metas = enc_ids_metas(rows)
    return (b'{"ids":' + json.dumps(ids).encode() + b',"metadatas":' + json.dumps(metas).encode()
            + b',"embeddings":' + enc_embeddings(X, encoding) + b',"documents":null,"uris":null}')


def query_body(q, k, include):
    return json.dumps({"query_embeddings": [np.asarray(q, dtype=np.float32).tolist()], "n_results": k,
                       "where": None, "where_document": None, "include": include, "ids": None}).encode()


# ============================================================ HTTP
def check_loopback(host):
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as e:
        raise SystemExit(f"cannot resolve {host!r}: {e}")
    for info in infos:
        if not ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback:
            raise SystemExit(f"refusing non-loopback address {host!r} ({info[4][0]})")


class Http:
    """One keep-alive http.client connection; reconnects after any failure."""

    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.c = None

    def connect(self):
        self.close()
        self.c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        self.c.connect()
        # no Nagle delay on the tail segment of a large body (wrk does the same)
        self.c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self):
        if self.c is not None:
            try:
                self.c.close()
            except OSError:
                pass
            self.c = None

    def request(self, method, path, body=None):
        """-> (status, body bytes).  Raises on transport errors (after closing the connection)."""
        if self.c is None:
            self.connect()
        hdr = {"content-type": "application/json"} if body is not None else {}
        try:
            self.c.request(method, path, body=body, headers=hdr)
            r = self.c.getresponse()
            data = r.read()
            if r.will_close:
                self.close()
            return r.status, data
        except BaseException:
            self.close()
            raise

    def json(self, method, path, body=None, ok=(200, 201)):
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
        st, data = self.request(method, path, body)
        if st not in ok:
            raise RuntimeError(f"{method} {path} -> {st}: {data[:300]!r}")
        return json.loads(data) if data else None


# ============================================================ server we start
class Server:
    def __init__(self, cmd, keep_data, start_timeout):
        self.cmd_t, self.keep_data, self.start_timeout = cmd, keep_data, start_timeout
        self.dir = tempfile.mkdtemp(prefix="mixed_load_")
        self.path = os.path.join(self.dir, "data")
        os.makedirs(self.path)
        self.logpath = os.path.join(self.dir, "server.log")
        self.proc = None
        self.logf = None

    def start(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        cmd = self.cmd_t.format(path=self.path, port=self.port)
        self.logf = open(self.logpath, "ab")
        log(f"starting: {cmd}")
        env = dict(os.environ, ANONYMIZED_TELEMETRY="False", CHROMA_TELEMETRY="False")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(shlex.split(cmd), stdout=self.logf, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        h = Http("127.0.0.1", self.port, 2.0)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited rc={self.proc.returncode}; log tail:\n{self.log_tail()}")
            try:
                if h.request("GET", "/api/v2/heartbeat")[0] == 200:
                    break
            except (OSError, http.client.HTTPException):
                pass
            if time.perf_counter() - t0 > self.start_timeout:
                raise RuntimeError(f"no heartbeat after {self.start_timeout}s; log tail:\n{self.log_tail()}")
            time.sleep(0.05)
        h.close()
        dt = time.perf_counter() - t0
        log(f"server pid {self.proc.pid} up on port {self.port} after {dt:.2f}s (data {self.path})")
        return dt

    def log_tail(self, n=2000):
        try:
            with open(self.logpath, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout=30.0):
        """SIGTERM, then SIGKILL after `timeout` s; only the process we started.  -> seconds or None."""
        if self.proc is None:
            return None
        t0 = time.perf_counter()
        try:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    log(f"server pid {self.proc.pid} ignored SIGTERM for {timeout}s; SIGKILL")
                    os.kill(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=timeout)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        dt = time.perf_counter() - t0
        rc = self.proc.returncode
        self.proc = None
        if self.logf:
            self.logf.close()
            self.logf = None
        log(f"server stopped in {dt:.2f}s (rc={rc})")
        return round(dt, 3)

    def cleanup(self):
        if self.keep_data:
            log(f"kept data dir and log under {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


# ============================================================ idle wait
def settle(pid, a, label):
    """Sleep --settle s; then (pid known) wait until a --idle-window s window uses < --idle-cpu cores,
    for at most --settle-max s more.  Returns a summary dict."""
    t0 = time.perf_counter()
    c0 = server_stats(pid).get("cpu_s")
    time.sleep(a.settle)
    out = {"settle_s": a.settle}
    if pid and a.idle_cpu > 0 and c0 is not None:
        end = time.perf_counter() + a.settle_max
        cores = None
        while True:
            s0, w0 = server_stats(pid).get("cpu_s"), time.perf_counter()
            time.sleep(a.idle_window)
            s1, w1 = server_stats(pid).get("cpu_s"), time.perf_counter()
            if s0 is None or s1 is None:
                break
            cores = (s1 - s0) / (w1 - w0)
            if cores < a.idle_cpu or time.perf_counter() >= end:
                break
        out["idle_cores_last_window"] = round(cores, 3) if cores is not None else None
        out["idle_reached"] = cores is not None and cores < a.idle_cpu
        c1 = server_stats(pid).get("cpu_s")
        out["server_cpu_s_while_settling"] = round(c1 - c0, 3) if c1 is not None else None
    out["waited_s"] = round(time.perf_counter() - t0, 2)
    log(f"idle before {label}: waited {out['waited_s']} s"
        + (f", server CPU {out.get('server_cpu_s_while_settling')} s meanwhile, last window "
           f"{out.get('idle_cores_last_window')} cores{'' if out.get('idle_reached') else ' (NOT idle: bounded wait ended)'}"
           if "idle_reached" in out else ""))
    return out


# ============================================================ phases
class Stats:
    """Per-kind results shared by the workers of one phase (merged under a lock at thread end)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.lat = []            # seconds, every completed request started before the deadline
        self.ok_in_window = 0    # successful requests completed before the deadline
        self.ok_total = 0
        self.errors = 0
        self.samples = []

    def merge(self, lat, ok_in, ok_all, errs, samples):
        with self.lock:
            self.lat += lat
            self.ok_in_window += ok_in
            self.ok_total += ok_all
            self.errors += errs
            room = MAX_ERROR_SAMPLES - len(self.samples)
            if room > 0:
                self.samples += samples[:room]


def worker(kind, host, port, path, timeout, next_body, stats, barrier, box, stop):
    """Send requests until the deadline (checked before each one); one connection, reconnect on error."""
    conn = Http(host, port, timeout)
    lat, samples = [], []
    ok_in = ok_all = errs = 0
    try:
        try:
            conn.connect()
        except OSError:
            conn.close()  # counted as an error by the first request
        barrier.wait(timeout=timeout + 30)
        deadline = box["deadline"]
        while not stop.is_set():
            if time.perf_counter() >= deadline:
                break
            body = next_body()
            t = time.perf_counter()
            try:
                st, data = conn.request("POST", path, body)
                t1 = time.perf_counter()
                lat.append(t1 - t)
                if 200 <= st < 300:
                    ok_all += 1
                    if t1 <= deadline:
                        ok_in += 1
                    continue
                errs += 1
                if len(samples) < MAX_ERROR_SAMPLES:
                    samples.append(f"{kind}: HTTP {st}: {data[:300]!r}")
            except Exception as e:  # noqa: BLE001 - any failure is an error; keep going
                errs += 1
                if len(samples) < MAX_ERROR_SAMPLES:
                    samples.append(f"{kind}: {type(e).__name__}: {str(e)[:300]}")
            stop.wait(0.01)  # brief back-off after an error, so a dead server is not hammered
    except threading.BrokenBarrierError:
        samples.append(f"{kind}: start barrier broken")
        errs += 1
    finally:
        conn.close()
        stats.merge(lat, ok_in, ok_all, errs, samples)


def pct_ms(lat, p):
    return round(float(np.percentile(lat, p)) * 1000, 3) if lat else None


def summarize(kind, st, seconds, batch):
    r = {"ok_in_window": st.ok_in_window, "ok_total": st.ok_total, "errors": st.errors,
         "p50_ms": pct_ms(st.lat, 50), "p90_ms": pct_ms(st.lat, 90), "p99_ms": pct_ms(st.lat, 99),
         "max_ms": round(max(st.lat) * 1000, 3) if st.lat else None,
         "mean_ms": round(1000 * float(np.mean(st.lat)), 3) if st.lat else None}
    if kind == "query":
        r["qps"] = round(st.ok_in_window / seconds, 2)
    else:
        r["requests_per_s"] = round(st.ok_in_window / seconds, 3)
        r["vectors_per_s"] = round(st.ok_in_window * batch / seconds, 1)
    if st.samples:
        r["error_samples"] = st.samples
    return r


def run_phase(name, a, host, port, pid, coll_id, qbodies, id_blocks, emb_blocks, upsert_counter):
    nq = a.query_threads if name in ("query", "mixed") else 0
    nu = a.upsert_threads if name in ("upsert", "mixed") else 0
    qpath = f"{API}/collections/{coll_id}/query"
    upath = f"{API}/collections/{coll_id}/upsert"
    qstats, ustats = Stats(), Stats()
    barrier = threading.Barrier(nq + nu + 1)
    box = {}
    stop = threading.Event()
    threads = []
    for t in range(nq):
        rnd = random.Random(a.seed * 1000 + t + 1 + 100 * PHASES.index(name))
        nxt = (lambda rnd=rnd: qbodies[rnd.randrange(len(qbodies))])
        threads.append(threading.Thread(target=worker, name=f"q{t}", daemon=True,
                                        args=("query", host, port, qpath, a.timeout, nxt, qstats, barrier, box, stop)))
    pi, pe = len(id_blocks), len(emb_blocks)

    def next_upsert():
        k = next(upsert_counter)  # itertools.count: atomic under the GIL
        return id_blocks[k % pi] + emb_blocks[k % pe]

    for t in range(nu):
        threads.append(threading.Thread(target=worker, name=f"u{t}", daemon=True,
                                        args=("upsert", host, port, upath, a.timeout, next_upsert, ustats, barrier,
                                              box, stop)))
    for th in threads:
        th.start()
    la0 = loadavg()
    s0 = server_stats(pid)
    cu0, cs0 = client_cpu()
    # the deadline is set before this thread's arrival releases the workers
    box["deadline"] = time.perf_counter() + a.seconds
    try:
        barrier.wait(timeout=60)
    except threading.BrokenBarrierError:
        stop.set()
        raise RuntimeError(f"{name}: worker threads failed to start")
    t_start = time.perf_counter()
    rss_max = s0.get("rss_mb")
    alive = True
    hard_end = box["deadline"] + a.timeout + 15
    try:
        while any(th.is_alive() for th in threads):
            now = time.perf_counter()
            if now > hard_end:
                log(f"{name}: workers still busy {a.timeout + 15:.0f}s after the deadline; abandoning them")
                stop.set()
                break
            st = server_stats(pid)
            if st.get("alive") is False:
                if alive:
                    log(f"{name}: server process {pid} is gone")
                alive = False
                stop.set()
            elif st.get("rss_mb") is not None:
                rss_max = max(rss_max or 0, st["rss_mb"])
            for th in threads:
                th.join(timeout=0.5)
                if not th.is_alive():
                    continue
                break
    except KeyboardInterrupt:
        stop.set()
        raise
    wall = time.perf_counter() - t_start
    s1 = server_stats(pid)
    cu1, cs1 = client_cpu()
    r = {"seconds": a.seconds, "wall_s_until_last_reply": round(wall, 3),
         "query_threads": nq, "upsert_threads": nu, "loadavg_start": la0, "loadavg_end": loadavg()}
    if nq:
        r["query"] = summarize("query", qstats, a.seconds, a.batch)
    if nu:
        r["upsert"] = summarize("upsert", ustats, a.seconds, a.batch)
        r["upsert"]["bodies_sent"] = ustats.ok_total + ustats.errors
    if pid:
        r["server_alive"] = s1.get("alive", True)
        if "cpu_s" in s0 and "cpu_s" in s1:
            cpu = s1["cpu_s"] - s0["cpu_s"]
            r["server_cpu_s"] = round(cpu, 3)
            r["server_cpu_cores"] = round(cpu / wall, 3) if wall > 0 else None
            nqok = qstats.ok_total
            nvok = ustats.ok_total * a.batch
            if nq and not nu and nqok:
                r["server_cpu_ms_per_query"] = round(1000 * cpu / nqok, 3)
            if nu and not nq and nvok:
                r["server_cpu_ms_per_1k_vectors"] = round(1e6 * cpu / nvok, 2)
        r["rss_mb"] = s1.get("rss_mb")
        r["rss_max_mb"] = max(x for x in (rss_max, s1.get("rss_mb"), 0) if x is not None)
        r["peak_rss_mb"] = s1.get("peak_rss_mb")
    ccpu = (cu1 - cu0) + (cs1 - cs0)
    r["client_cpu_s"] = round(ccpu, 3)
    r["client_cpu_user_s"] = round(cu1 - cu0, 3)
    r["client_cpu_cores"] = round(ccpu / wall, 3) if wall > 0 else None
    nreq = qstats.ok_total + qstats.errors + ustats.ok_total + ustats.errors
    r["client_cpu_ms_per_request"] = round(1000 * ccpu / nreq, 3) if nreq else None
    log(phase_line(name, r))
    for s in (r.get("query", {}).get("error_samples", []) + r.get("upsert", {}).get("error_samples", [])):
        log(f"  error: {s}")
    return r


def phase_line(name, r):
    parts = [f"{name:<6s}"]
    if "query" in r:
        q = r["query"]
        parts.append(f"query {q['qps']}/s p50 {q['p50_ms']} p99 {q['p99_ms']} ms err {q['errors']}")
    if "upsert" in r:
        u = r["upsert"]
        parts.append(f"upsert {u['vectors_per_s']} vec/s p99 {u['p99_ms']} ms err {u['errors']}")
    parts.append(f"server {r.get('server_cpu_s')} CPU-s RSS {r.get('rss_mb')} MB; "
                 f"client {r['client_cpu_s']} CPU-s ({r['client_cpu_cores']} cores)")
    return " | ".join(parts)


def ratio(x, y):
    return round(x / y, 3) if isinstance(x, (int, float)) and isinstance(y, (int, float)) and y else None


def print_table(res, fr):
    rows = [
        ("query QPS", ("query", "qps")),
        ("query p50 ms", ("query", "p50_ms")),
        ("query p99 ms", ("query", "p99_ms")),
        ("upsert vectors/s", ("upsert", "vectors_per_s")),
        ("upsert req/s", ("upsert", "requests_per_s")),
        ("upsert p50 ms", ("upsert", "p50_ms")),
        ("upsert p99 ms", ("upsert", "p99_ms")),
        ("query errors", ("query", "errors")),
        ("upsert errors", ("upsert", "errors")),
        ("server CPU-s", ("server_cpu_s",)),
        ("server cores", ("server_cpu_cores",)),
        ("server RSS MB (end)", ("rss_mb",)),
        ("server RSS MB (max)", ("rss_max_mb",)),
        ("client CPU-s", ("client_cpu_s",)),
        ("client cores", ("client_cpu_cores",)),
        ("loadavg1 / PSI% start", ("loadavg_start",)),
    ]
    print()
    print(f"{'':<24s}" + "".join(f"{p:>16s}" for p in PHASES))
    for label, path in rows:
        vals = []
        for p in PHASES:
            v = res.get(p, {})
            for k in path:
                v = v.get(k) if isinstance(v, dict) else None
            if isinstance(v, list):
                v = "/".join(str(x) for x in (v[0], v[-1])) if len(v) > 3 else v[0]
            vals.append("-" if v is None else str(v))
        print(f"{label:<24s}" + "".join(f"{v:>16s}" for v in vals))
    print()
    print(f"mixed/solo: queries {fr['queries']}  upserts {fr['upserts']}  sum {fr['sum']}  "
          f"query p99 {fr['query_p99']}  upsert p99 {fr['upsert_p99']}")
    print()


# ============================================================ main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    tg = ap.add_mutually_exclusive_group()
    tg.add_argument("--url", default=None, help="an already running server (default http://127.0.0.1:8000)")
    tg.add_argument("--server", default=None, metavar="CMD",
                    help="start this server command; {path} = fresh temp data dir, {port} = free port")
    ap.add_argument("--pid", type=int, default=None, help="PID of the --url server (server CPU and RSS)")
    ap.add_argument("--keep-data", action="store_true", help="keep --server's temp data dir and log")
    ap.add_argument("--start-timeout", type=float, default=120.0, help="--server: seconds to first heartbeat")
    ap.add_argument("--n", type=int, default=100_000, help="vectors ingested (ids id-0..id-{n-1})")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each phase")
    ap.add_argument("--settle", type=float, default=20.0, help="idle seconds before each phase")
    ap.add_argument("--idle-cpu", type=float, default=0.05,
                    help="after --settle, wait until the server uses < this many cores (0 = don't)")
    ap.add_argument("--idle-window", type=float, default=2.0, help="window of the idle CPU check, seconds")
    ap.add_argument("--settle-max", type=float, default=120.0, help="bound on the extra idle wait, seconds")
    ap.add_argument("--query-threads", type=int, default=8)
    ap.add_argument("--upsert-threads", type=int, default=8)
    ap.add_argument("--batch", type=int, default=100, help="records per upsert request")
    ap.add_argument("--ingest-batch", type=int, default=1000)
    ap.add_argument("--ingest-timeout", type=float, default=1800.0, help="bound on the whole ingest, seconds")
    ap.add_argument("--queries", type=int, default=1000, help="pre-generated query vectors")
    ap.add_argument("--k", type=int, default=10, help="n_results")
    ap.add_argument("--include", default="metadatas,documents,distances",
                    help="query include list (default: the Python client's default)")
    ap.add_argument("--upsert-pool", type=int, default=256,
                    help="blocks of --batch fresh vectors, reused cyclically (ids blocks: this + 1)")
    ap.add_argument("--encoding", choices=["auto", "base64", "floats"], default="auto",
                    help="add/upsert embeddings; auto = base64 if pre-flight supports it (as the Python client)")
    ap.add_argument("--hnsw", default="", help='extra hnsw configuration JSON, e.g. {"ef_search":100}')
    ap.add_argument("--timeout", type=float, default=30.0, help="per-request socket timeout, seconds")
    ap.add_argument("--out", default="", help="also write the JSON summary here")
    a = ap.parse_args()
    for nm in ("n", "dim", "query_threads", "upsert_threads", "batch", "ingest_batch", "queries", "k",
               "upsert_pool"):
        if getattr(a, nm) < (0 if nm.endswith("threads") else 1):
            ap.error(f"--{nm.replace('_', '-')} must be positive")
    if a.batch > a.n:
        ap.error("--batch must not exceed --n (ids are distinct within a batch)")
    if a.seconds <= 0:
        ap.error("--seconds must be > 0")
    hnsw_extra = json.loads(a.hnsw) if a.hnsw else {}
    include = [x for x in a.include.split(",") if x]

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)

    server = None
    summary = {"tool": "mixed_load", "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "n": a.n, "dim": a.dim,
               "seed": a.seed, "seconds": a.seconds, "query_threads": a.query_threads,
               "upsert_threads": a.upsert_threads, "batch": a.batch, "k": a.k, "include": include,
               "queries": a.queries, "upsert_pool_vectors": a.upsert_pool * a.batch, "hnsw": hnsw_extra,
               "nproc": os.cpu_count(), "loadavg_start": loadavg(), "python": sys.version.split()[0]}
    try:
        if not a.server:
            url = urllib.parse.urlsplit(a.url or "http://127.0.0.1:8000")
            if url.scheme != "http" or not url.hostname:
                ap.error("--url must be http://HOST:PORT")
            check_loopback(url.hostname)
        # ---- data first: nothing below is timed until the phases
        t = time.perf_counter()
        X, Q, F = make_data(a.n, a.dim, a.queries, a.upsert_pool * a.batch, a.seed)
        log(f"data: X{X.shape} Q{Q.shape} fresh{F.shape} ({time.perf_counter() - t:.1f}s)")

        if a.server:
            server = Server(a.server, a.keep_data, a.start_timeout)
            summary["startup_s"] = round(server.start(), 3)
            host, port, pid = "127.0.0.1", server.port, server.proc.pid
            summary["target"] = {"server": a.server}
        else:
            host, port, pid = url.hostname, url.port or 80, a.pid
            summary["target"] = {"url": f"http://{host}:{port}", "pid": pid}
        check_loopback(host)
        if pid and not server_stats(pid):
            log(f"warning: no /proc entry for pid {pid}; server CPU/RSS not measured")
        h = Http(host, port, a.timeout)
        h.json("GET", "/api/v2/heartbeat")
        pre = {}
        try:
            pre = h.json("GET", "/api/v2/pre-flight-checks") or {}
        except (RuntimeError, OSError, http.client.HTTPException, ValueError) as e:
            log(f"pre-flight-checks failed ({e}); assuming no base64 support")
        encoding = a.encoding
        if encoding == "auto":
            encoding = "base64" if pre.get("supports_base64_encoding") else "floats"
        mbs = pre.get("max_batch_size")
        if mbs and max(a.batch, a.ingest_batch) > mbs:
            log(f"warning: batch sizes exceed the server's max_batch_size {mbs} (the Python client would refuse)")
        summary.update(encoding=encoding, preflight=pre, idle_server=server_stats(pid))
        log(f"target {host}:{port} pid {pid}; embeddings for add/upsert: {encoding}; pre-flight {pre}")

        # ---- collection and ingest (rate printed, not part of the phases)
        h.request("DELETE", f"{API}/collections/{COLLECTION}")  # 404 when absent is fine
        cfg = {"hnsw": dict(space="cosine", **hnsw_extra)}
        coll = h.json("POST", f"{API}/collections",
                      {"name": COLLECTION, "configuration": cfg, "metadata": None, "get_or_create": False})
        coll_id = coll["id"]
        log(f"collection {COLLECTION} id {coll_id}; ingesting {a.n} x {a.dim} in batches of {a.ingest_batch}")
        s0 = server_stats(pid)
        t0 = time.perf_counter()
        post_s = 0.0
        done = 0
        lat = []
        for s in range(0, a.n, a.ingest_batch):
            if time.perf_counter() - t0 > a.ingest_timeout:
                raise RuntimeError(f"ingest exceeded --ingest-timeout {a.ingest_timeout}s after {done} vectors")
            e = min(a.n, s + a.ingest_batch)
            body = add_body(range(s, e), X[s:e], encoding)
            tp = time.perf_counter()
            h.json("POST", f"{API}/collections/{coll_id}/add", body)
            lat.append(time.perf_counter() - tp)
            post_s += lat[-1]
            done = e
            if (s // a.ingest_batch) % 20 == 19:
                log(f"  ingested {done}/{a.n} ({done / (time.perf_counter() - t0):.0f} vec/s)")
        wall = time.perf_counter() - t0
        cnt = h.json("GET", f"{API}/collections/{coll_id}/count")
        s1 = server_stats(pid)
        ing = {"vectors": done, "wall_s": round(wall, 2), "vectors_per_s": round(done / wall, 1),
               "vectors_per_s_post_only": round(done / post_s, 1) if post_s else None,
               "batch_p50_ms": pct_ms(lat, 50), "batch_p99_ms": pct_ms(lat, 99), "count": cnt,
               "server_cpu_s": round(s1["cpu_s"] - s0["cpu_s"], 2) if "cpu_s" in s0 and "cpu_s" in s1 else None,
               "rss_mb": s1.get("rss_mb")}
        summary["ingest"] = ing
        log(f"ingest: {ing['vectors_per_s']} vec/s wall ({ing['vectors_per_s_post_only']} counting POST time only), "
            f"batch p50 {ing['batch_p50_ms']} p99 {ing['batch_p99_ms']} ms, count={cnt}, "
            f"server CPU {ing['server_cpu_s']} s, RSS {ing['rss_mb']} MB")
        if cnt != a.n:
            log(f"warning: count {cnt} != n {a.n}")

        # ---- pre-encode every phase body
        t = time.perf_counter()
        qbodies = [query_body(Q[i], a.k, include) for i in range(len(Q))]
        rng = np.random.default_rng(a.seed + 7)
        id_blocks = []
        for _ in range(a.upsert_pool + 1):
            rows = rng.choice(a.n, size=a.batch, replace=False)
            ids, metas = enc_ids_metas(rows)
            id_blocks.append(b'{"ids":' + json.dumps(ids).encode() + b',"metadatas":' + json.dumps(metas).encode())
        emb_blocks = [b',"embeddings":' + enc_embeddings(F[i * a.batch:(i + 1) * a.batch], encoding)
                      + b',"documents":null,"uris":null}' for i in range(a.upsert_pool)]
        ub = len(id_blocks[0]) + len(emb_blocks[0])
        log(f"pre-encoded {len(qbodies)} query bodies (~{len(qbodies[0])} B) and {a.upsert_pool} x "
            f"{a.upsert_pool + 1} upsert id/vector blocks (~{ub} B a body) in {time.perf_counter() - t:.1f}s")
        del X
        # untimed sanity check of a query answer
        r = h.json("POST", f"{API}/collections/{coll_id}/query", qbodies[0])
        got = len((r.get("ids") or [[]])[0])
        log(f"sanity query: {got} ids, first distances {(r.get('distances') or [[None]])[0][:3]}")
        if got != min(a.k, a.n):
            log(f"warning: query returned {got} ids, expected {min(a.k, a.n)}")
        h.close()

        # ---- the three phases
        counter = itertools.count()
        res = summary["phases"] = {}
        for name in PHASES:
            st = settle(pid, a, name)
            res[name] = run_phase(name, a, host, port, pid, coll_id, qbodies, id_blocks, emb_blocks, counter)
            res[name]["idle_wait"] = st
            if res[name].get("server_alive") is False:
                raise RuntimeError(f"server died during the {name} phase")
        sent = sum(res[p].get("upsert", {}).get("bodies_sent", 0) for p in PHASES)
        summary["upsert_bodies_sent"] = sent
        summary["upsert_vector_pool_passes"] = round(sent / a.upsert_pool, 2)
        h = Http(host, port, a.timeout)
        try:
            summary["count_after"] = h.json("GET", f"{API}/collections/{coll_id}/count")
            if summary["count_after"] != a.n:
                log(f"warning: count after upserts {summary['count_after']} != n {a.n} (upserts only touch ids "
                    f"that exist)")
        except (RuntimeError, OSError, http.client.HTTPException, ValueError) as e:
            summary["count_after"] = repr(e)[:300]
        h.close()

        q, u, m = res["query"].get("query", {}), res["upsert"].get("upsert", {}), res["mixed"]
        fq = ratio(m.get("query", {}).get("qps"), q.get("qps"))
        fu = ratio(m.get("upsert", {}).get("vectors_per_s"), u.get("vectors_per_s"))
        fr = {"queries": fq, "upserts": fu, "sum": round(fq + fu, 3) if fq is not None and fu is not None else None,
              "query_p99": ratio(m.get("query", {}).get("p99_ms"), q.get("p99_ms")),
              "upsert_p99": ratio(m.get("upsert", {}).get("p99_ms"), u.get("p99_ms"))}
        summary["mixed_over_solo"] = fr
        summary["errors_total"] = sum(res[p].get(k, {}).get("errors", 0) for p in PHASES for k in ("query", "upsert"))
        print_table(res, fr)
    except KeyboardInterrupt as e:
        summary["error"] = f"interrupted: {e}"
        log(summary["error"])
    except Exception as e:  # noqa: BLE001 - report whatever went wrong in the JSON too
        summary["error"] = f"{type(e).__name__}: {str(e)[:2000]}"
        log(f"FAILED: {summary['error']}")
    finally:
        if server is not None:
            summary["final_server"] = server_stats(server.proc.pid) if server.proc else None
            summary["stop_s"] = server.stop()
            if "error" in summary:
                tail = server.log_tail()
                if tail:
                    log("server log tail:\n" + tail)
            server.cleanup()
    summary["loadavg_end"] = loadavg()
    txt = json.dumps(summary, default=str)
    if a.out:
        d = os.path.dirname(os.path.abspath(a.out))
        os.makedirs(d, exist_ok=True)
        with open(a.out, "w") as f:
            json.dump(summary, f, indent=1, default=str)
        log(f"wrote {a.out}")
    print("JSON " + txt, flush=True)
    return 1 if "error" in summary else 0


if __name__ == "__main__":
    sys.exit(main())
