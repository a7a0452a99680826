//! The per-segment HNSW index on clustered data (see `chromite_benches`):
//! build throughput, recall@10 and single-thread query throughput for
//! Chroma's three spaces, unfiltered and with filters admitting 50%, 10%
//! and 1% of rows, and graph memory per vector.
//!
//! Run: `cargo bench -p chromite-benches --bench hnsw`
//! Size: `CHROMITE_BENCH_N` rows (default 100000) of `CHROMITE_BENCH_DIM`
//! dimensions (default 384), `CHROMITE_BENCH_QUERIES` queries (default 200),
//! `CHROMITE_BENCH_THREADS` build threads (default 2), `CHROMITE_BENCH_SPACES`
//! (default `l2,cosine,ip`). Default parameters are
//! Chroma's: max_neighbors 16, ef_construction 100, ef_search 100.
//!
//! Recall, build rate and memory are measured once, before criterion runs,
//! and printed as `RESULT` lines; criterion then times the queries.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use std::hint::black_box;
use std::time::Instant;

use chromite_benches::{
    env_usize, filter_rows, gaussian_mixture, ground_truth, process_cpu_seconds, rate, recall,
    Dataset,
};
use chromite_engine::index::{plan, RowSet, SegmentGraph};
use chromite_engine::{HnswConfig, Space};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const K: usize = 10;

struct Setup {
    plain: Dataset,
    spread: Dataset,
    graphs: Vec<(Space, SegmentGraph)>,
    filters: Vec<(&'static str, Vec<u32>)>,
    ef: usize,
}

fn dataset_for(s: &Setup, space: Space) -> &Dataset {
    if space == Space::Ip {
        &s.spread
    } else {
        &s.plain
    }
}

/// `rows` as a bitset over `n` rows (what `RowSet::admits` builds inside).
fn bitset(n: usize, rows: &[u32]) -> Vec<u64> {
    let mut bits = vec![0u64; n.div_ceil(64)];
    for &r in rows {
        bits[r as usize / 64] |= 1 << (r % 64);
    }
    bits
}

/// The 1-minute load average (Linux), to judge how shared the machine was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn setup() -> Setup {
    let n = env_usize("CHROMITE_BENCH_N", 100_000);
    let dim = env_usize("CHROMITE_BENCH_DIM", 384);
    let q = env_usize("CHROMITE_BENCH_QUERIES", 200);
    let threads = env_usize("CHROMITE_BENCH_THREADS", 2);
    let cfg = HnswConfig {
        num_threads: threads,
        ..HnswConfig::default()
    };
    let ef = cfg.ef_search;
    eprintln!(
        "RESULT setup n={n} dim={dim} queries={q} build_threads={threads} M={} ef_construction={} ef_search={ef} kernels={}",
        cfg.max_neighbors,
        cfg.ef_construction,
        chromite_engine::index::distance::kernel_name()
    );
    let plain = gaussian_mixture(n, q, dim, false, 42);
    let spread = gaussian_mixture(n, q, dim, true, 43);
    let filters: Vec<(&'static str, Vec<u32>)> = [("50%", 0.5), ("10%", 0.1), ("1%", 0.01)]
        .into_iter()
        .map(|(name, f)| (name, filter_rows(n, f)))
        .collect();
    let mut s = Setup {
        plain,
        spread,
        graphs: Vec::new(),
        filters,
        ef,
    };
    let spaces = std::env::var("CHROMITE_BENCH_SPACES").unwrap_or_else(|_| "l2,cosine,ip".into());
    for space in [Space::L2, Space::Cosine, Space::Ip] {
        let name = format!("{space:?}").to_lowercase();
        if !spaces.split(',').any(|s| s.trim() == name) {
            continue;
        }
        let ds = dataset_for(&s, space);
        let (t, cpu0) = (Instant::now(), process_cpu_seconds());
        let g = SegmentGraph::build(&ds.vectors, dim, space, &cfg).expect("build");
        let secs = t.elapsed().as_secs_f64();
        let cpu = process_cpu_seconds()
            .zip(cpu0)
            .map(|(b, a)| b - a)
            .unwrap_or(f64::NAN);
        eprintln!(
            "RESULT build space={space:?} n={n} wall_secs={secs:.2} cpu_secs={cpu:.2} vectors_per_wall_sec={:.0} \
             vectors_per_cpu_sec={:.0} graph_bytes_per_vector={:.1} index_bytes_per_vector={:.1} load_avg={}",
            n as f64 / secs,
            n as f64 / cpu,
            g.graph_bytes() as f64 / n as f64,
            g.memory_bytes() as f64 / n as f64,
            load_average()
        );
        let truth = ground_truth(ds, space, K, None, threads);
        let found: Vec<_> = (0..ds.query_count())
            .map(|i| g.query(&ds.vectors, ds.query(i), K, ef, &RowSet::All))
            .collect();
        eprintln!(
            "RESULT recall space={space:?} filter=none recall@{K}={:.4}",
            recall(&found, &truth)
        );
        if env_usize("CHROMITE_BENCH_REFERENCE", 1) == 1 {
            // The reference builder (hnsw_rs) on the same data, same run.
            let (t, cpu0) = (Instant::now(), process_cpu_seconds());
            let r = SegmentGraph::build_reference(&ds.vectors, dim, space, &cfg).expect("build");
            let secs = t.elapsed().as_secs_f64();
            let cpu = process_cpu_seconds()
                .zip(cpu0)
                .map(|(b, a)| b - a)
                .unwrap_or(f64::NAN);
            let found: Vec<_> = (0..ds.query_count())
                .map(|i| r.query(&ds.vectors, ds.query(i), K, ef, &RowSet::All))
                .collect();
            let nq = ds.query_count();
            let (qps, _) = rate(3.0, |i| {
                black_box(r.query(&ds.vectors, ds.query(i % nq), K, ef, &RowSet::All));
            });
            let (qps_ours, _) = rate(3.0, |i| {
                black_box(g.query(&ds.vectors, ds.query(i % nq), K, ef, &RowSet::All));
            });
            eprintln!(
                "RESULT build_reference(hnsw_rs) space={space:?} n={n} wall_secs={secs:.2} cpu_secs={cpu:.2} \
                 vectors_per_wall_sec={:.0} vectors_per_cpu_sec={:.0} recall@{K}={:.4} \
                 graph_bytes_per_vector={:.1} single_thread_qps_wall={qps:.0} (ours, measured beside it: {qps_ours:.0})",
                n as f64 / secs,
                n as f64 / cpu,
                recall(&found, &truth),
                r.graph_bytes() as f64 / n as f64,
            );
        }
        let nq = ds.query_count();
        let (wall, cpu) = rate(3.0, |i| {
            black_box(g.query(&ds.vectors, ds.query(i % nq), K, ef, &RowSet::All));
        });
        eprintln!(
            "RESULT qps space={space:?} filter=none single_thread_qps_wall={wall:.0} qps_per_cpu_sec={:.0}",
            cpu.unwrap_or(f64::NAN)
        );
        for (name, rows) in &s.filters {
            let set = RowSet::Rows(rows.to_vec());
            let truth = ground_truth(ds, space, K, Some(rows), threads);
            let planned: Vec<_> = (0..ds.query_count())
                .map(|i| g.query(&ds.vectors, ds.query(i), K, ef, &set))
                .collect();
            let bits = bitset(n, rows);
            let allowed = |r: u32| bits[r as usize / 64] & (1 << (r % 64)) != 0;
            let graph_only: Vec<_> = (0..ds.query_count())
                .map(|i| g.search(&ds.vectors, ds.query(i), K, ef, Some(&allowed)))
                .collect();
            let (wall, cpu) = rate(2.0, |i| {
                black_box(g.query(&ds.vectors, ds.query(i % nq), K, ef, &set));
            });
            let (gwall, gcpu) = rate(2.0, |i| {
                black_box(g.search(&ds.vectors, ds.query(i % nq), K, ef, Some(&allowed)));
            });
            eprintln!(
                "RESULT recall space={space:?} filter={name} plan={:?} recall@{K}={:.4} graph_path_recall@{K}={:.4} \
                 single_thread_qps_wall={wall:.0} qps_per_cpu_sec={:.0} \
                 graph_path_qps_wall={gwall:.0} graph_path_qps_per_cpu_sec={:.0}",
                plan(space, n, rows.len(), K, ef),
                recall(&planned, &truth),
                recall(&graph_only, &truth),
                cpu.unwrap_or(f64::NAN),
                gcpu.unwrap_or(f64::NAN)
            );
        }
        s.graphs.push((space, g));
    }
    s
}

fn search(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("hnsw_query");
    group.throughput(Throughput::Elements(1));
    for (space, g) in &s.graphs {
        let ds = dataset_for(&s, *space);
        let nq = ds.query_count();
        let mut i = 0;
        group.bench_function(format!("{space:?}/unfiltered"), |b| {
            b.iter(|| {
                i = (i + 1) % nq;
                black_box(g.query(&ds.vectors, ds.query(i), K, s.ef, &RowSet::All))
            })
        });
        for (name, rows) in &s.filters {
            if *space != Space::L2 && *name != "10%" {
                continue;
            }
            let set = RowSet::Rows(rows.to_vec());
            group.bench_function(format!("{space:?}/filter{name}/planned"), |b| {
                b.iter(|| {
                    i = (i + 1) % nq;
                    black_box(g.query(&ds.vectors, ds.query(i), K, s.ef, &set))
                })
            });
            if *space == Space::L2 {
                let bits = bitset(ds.len(), rows);
                let allowed = |r: u32| bits[r as usize / 64] & (1 << (r % 64)) != 0;
                group.bench_function(format!("{space:?}/filter{name}/graph_path"), |b| {
                    b.iter(|| {
                        i = (i + 1) % nq;
                        black_box(g.search(&ds.vectors, ds.query(i), K, s.ef, Some(&allowed)))
                    })
                });
            }
        }
    }
    group.finish();
}

fn build(c: &mut Criterion) {
    let n = env_usize("CHROMITE_BENCH_BUILD_N", 10_000);
    let dim = env_usize("CHROMITE_BENCH_DIM", 384);
    let threads = env_usize("CHROMITE_BENCH_THREADS", 2);
    let cfg = HnswConfig {
        num_threads: threads,
        ..HnswConfig::default()
    };
    let ds = gaussian_mixture(n, 0, dim, false, 44);
    let mut group = c.benchmark_group("hnsw_build");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(format!("L2/{n}x{dim}/{threads}threads"), |b| {
        b.iter(|| SegmentGraph::build(&ds.vectors, dim, Space::L2, &cfg).expect("build"))
    });
    group.bench_function(format!("L2/{n}x{dim}/{threads}threads/hnsw_rs"), |b| {
        b.iter(|| SegmentGraph::build_reference(&ds.vectors, dim, Space::L2, &cfg).expect("build"))
    });
    group.finish();
}

criterion_group!(benches, search, build);
criterion_main!(benches);
