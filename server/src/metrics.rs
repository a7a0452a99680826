//! `/metrics`: Prometheus text exposition of request counts and latencies
//! per route, record and collection counters, and (computed when scraped)
//! the number of collections and records in the default tenant.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// Latency histogram bucket bounds in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Requests {
    /// (method, route, status) -> count.
    counts: BTreeMap<(String, String, u16), u64>,
    /// (method, route) -> latency.
    latency: BTreeMap<(String, String), Histogram>,
}

/// Record-level operations counted by [`Metrics::records`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOp {
    /// `add`.
    Add,
    /// `upsert`.
    Upsert,
    /// `update`.
    Update,
    /// `delete` (Chroma's `deleted` count).
    Delete,
    /// Query vectors searched.
    Query,
}

impl RecordOp {
    fn label(self) -> &'static str {
        match self {
            RecordOp::Add => "add",
            RecordOp::Upsert => "upsert",
            RecordOp::Update => "update",
            RecordOp::Delete => "delete",
            RecordOp::Query => "query",
        }
    }
    const ALL: [RecordOp; 5] = [
        RecordOp::Add,
        RecordOp::Upsert,
        RecordOp::Update,
        RecordOp::Delete,
        RecordOp::Query,
    ];
}

/// The server's metrics registry.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<Requests>,
    records: [AtomicU64; 5],
    collections_created: AtomicU64,
    collections_deleted: AtomicU64,
}

/// Gauges read from the engine when scraped.
#[derive(Debug, Default, Clone)]
pub struct StoreGauges {
    /// Databases in the default tenant.
    pub databases: usize,
    /// Collections in the default tenant.
    pub collections: usize,
    /// Records in the default tenant's collections.
    pub records: usize,
    /// Storage gauges of every open collection: id, name, gauges.
    pub storage: Vec<(
        String,
        String,
        chromite_engine::collection::stats::CollectionStats,
    )>,
    /// Background tasks that panicked (each logged; the worker went on).
    pub maintenance_panics: u64,
}

/// The per-collection storage gauges: name, help, value.
type StorageGauge = (
    &'static str,
    &'static str,
    fn(&chromite_engine::collection::stats::CollectionStats) -> u64,
);

const STORAGE_GAUGES: [StorageGauge; 8] = [
    (
        "chromite_collection_segments",
        "Segment files of an open collection.",
        |s| s.segments as u64,
    ),
    (
        "chromite_collection_unindexed_rows",
        "Live records no graph indexes yet (memtables and segments whose graph is pending).",
        |s| s.unindexed_rows as u64,
    ),
    (
        "chromite_collection_pending_graph_builds",
        "Graph builds and loads queued or running for a collection.",
        |s| s.pending_builds,
    ),
    (
        "chromite_collection_disk_bytes",
        "Bytes of every file in a collection's directory.",
        |s| s.disk_bytes,
    ),
    (
        "chromite_collection_live_bytes",
        "Bytes on disk that hold live data (what a full compaction would keep).",
        |s| s.live_bytes,
    ),
    (
        "chromite_collection_sparse_postings",
        "Postings in the segments' sparse-vector indexes.",
        |s| s.sparse_postings,
    ),
    (
        "chromite_collection_sparse_bytes",
        "Bytes of the segments' sparse-vector indexes.",
        |s| s.sparse_bytes,
    ),
    (
        "chromite_collection_records",
        "Live records of an open collection.",
        |s| s.records as u64,
    ),
];

impl Metrics {
    /// Counts one request.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut r = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *r.counts
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let h = r
            .latency
            .entry((method.to_string(), route.to_string()))
            .or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// Counts `n` records touched by `op`.
    pub fn records(&self, op: RecordOp, n: usize) {
        let i = RecordOp::ALL.iter().position(|o| *o == op).unwrap_or(0);
        self.records[i].fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts a created collection.
    pub fn collection_created(&self) {
        self.collections_created.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a deleted collection.
    pub fn collection_deleted(&self) {
        self.collections_deleted.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, gauges: Option<StoreGauges>) -> String {
        let mut out = String::new();
        let r = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str(
            "# HELP chromite_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE chromite_http_requests_total counter\n");
        for ((m, route, s), n) in &r.counts {
            let _ = writeln!(
                out,
                "chromite_http_requests_total{{method=\"{m}\",route=\"{}\",status=\"{s}\"}} {n}",
                esc(route)
            );
        }
        out.push_str("# HELP chromite_http_request_duration_seconds HTTP request latency by method and route.\n");
        out.push_str("# TYPE chromite_http_request_duration_seconds histogram\n");
        for ((m, route), h) in &r.latency {
            let route = esc(route);
            for (b, c) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    out,
                    "chromite_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{route}\",le=\"{b}\"}} {c}"
                );
            }
            let _ = writeln!(
                out,
                "chromite_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "chromite_http_request_duration_seconds_sum{{method=\"{m}\",route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(out, "chromite_http_request_duration_seconds_count{{method=\"{m}\",route=\"{route}\"}} {}", h.count);
        }
        drop(r);
        out.push_str(
            "# HELP chromite_records_total Records written, deleted or queried, by operation.\n",
        );
        out.push_str("# TYPE chromite_records_total counter\n");
        for (i, op) in RecordOp::ALL.iter().enumerate() {
            let _ = writeln!(
                out,
                "chromite_records_total{{op=\"{}\"}} {}",
                op.label(),
                self.records[i].load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP chromite_collections_created_total Collections created.\n");
        out.push_str("# TYPE chromite_collections_created_total counter\n");
        let _ = writeln!(
            out,
            "chromite_collections_created_total {}",
            self.collections_created.load(Ordering::Relaxed)
        );
        out.push_str("# HELP chromite_collections_deleted_total Collections deleted.\n");
        out.push_str("# TYPE chromite_collections_deleted_total counter\n");
        let _ = writeln!(
            out,
            "chromite_collections_deleted_total {}",
            self.collections_deleted.load(Ordering::Relaxed)
        );
        if let Some(g) = gauges {
            for (name, help, v) in [
                (
                    "chromite_databases",
                    "Databases in the default tenant.",
                    g.databases,
                ),
                (
                    "chromite_collections",
                    "Collections in the default tenant.",
                    g.collections,
                ),
                (
                    "chromite_records",
                    "Records in the default tenant's collections.",
                    g.records,
                ),
            ] {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
            }
            for (name, help, get) in STORAGE_GAUGES {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
                for (id, cname, st) in &g.storage {
                    let _ = writeln!(
                        out,
                        "{name}{{collection=\"{}\",name=\"{}\"}} {}",
                        esc(id),
                        esc(cname),
                        get(st)
                    );
                }
            }
            let _ = writeln!(
                out,
                "# HELP chromite_maintenance_panics_total Background flushes, compactions and graph builds that panicked (logged; the worker carried on).\n# TYPE chromite_maintenance_panics_total counter\nchromite_maintenance_panics_total {}",
                g.maintenance_panics
            );
        }
        out
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Middleware: counts and times every request and logs one debug line.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    state.metrics.observe(&method, &route, status, elapsed);
    tracing::debug!(
        method = %method,
        path = %path,
        status,
        latency_us = elapsed.as_micros() as u64,
        "request"
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_counts_and_buckets() {
        let m = Metrics::default();
        m.observe("GET", "/api/v2/heartbeat", 200, Duration::from_millis(2));
        m.observe("GET", "/api/v2/heartbeat", 200, Duration::from_millis(20));
        m.records(RecordOp::Add, 5);
        let text = m.render(Some(StoreGauges {
            databases: 1,
            collections: 2,
            records: 5,
            ..Default::default()
        }));
        assert!(text.contains("chromite_http_requests_total{method=\"GET\",route=\"/api/v2/heartbeat\",status=\"200\"} 2"));
        assert!(text.contains("le=\"0.0025\"} 1"));
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(text.contains("chromite_records_total{op=\"add\"} 5"));
        assert!(text.contains("chromite_collections 2"));
    }
}
