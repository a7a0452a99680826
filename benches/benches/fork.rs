//! Forking a large collection and snapshotting the store holding it:
//! `Db::fork_collection` and `Db::snapshot` on 1,000,000 records (8-d, one
//! compacted segment with its HNSW graph, and a further 20,000 records in
//! the WAL so a snapshot copies a live WAL too), and the disk each adds —
//! bytes of its files not shared with the store (hard links share the
//! segments and graphs), printed once before the timing.
//!
//! `cargo bench -p chromite-benches --bench fork`
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use chromite_engine::*;
use criterion::{criterion_group, criterion_main, Criterion};

const N: usize = 1_000_000;
const DIM: usize = 8;

/// Bytes of the files under `dir` that no other path links to.
fn unshared_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file() && m.nlink() == 1)
        .map(|m| m.len())
        .sum()
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_with(
        dir.path(),
        Options {
            memtable_bytes: 256 << 20,
            ..Options::default()
        },
    )
    .unwrap();
    let info = db
        .create_collection(
            DEFAULT_TENANT,
            DEFAULT_DATABASE,
            "source",
            CollectionSpec::default(),
            false,
        )
        .unwrap();
    let col = db.collection(info.id).unwrap();
    let t = Instant::now();
    for start in (0..N).step_by(10_000) {
        col.add(RecordBatch {
            ids: (start..start + 10_000).map(|i| format!("r{i}")).collect(),
            embeddings: Some(
                (start..start + 10_000)
                    .map(|i| (0..DIM).map(|d| ((i * 31 + d * 7) % 1000) as f32).collect())
                    .collect(),
            ),
            ..Default::default()
        })
        .unwrap();
    }
    col.flush().unwrap();
    col.compact().unwrap();
    while col.stats().pending_builds > 0 || col.stats().unindexed_rows > 0 {
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "source: {} records in {} segment(s), ready in {:.1} s",
        col.count().unwrap(),
        col.stats().segments,
        t.elapsed().as_secs_f64()
    );
    let catalog = dir.path().join("CATALOG");
    let collections = dir.path().join("collections");
    let before = file_len(&catalog);
    let probe = db.fork_collection(info.id, "probe-fork").unwrap();
    eprintln!(
        "one fork adds {} bytes of its own files and {} bytes of catalog",
        unshared_bytes(&collections.join(probe.id.to_string())),
        file_len(&catalog).saturating_sub(before)
    );
    // Writes not yet flushed: a snapshot copies their WAL.
    for start in (N..N + 20_000).step_by(10_000) {
        col.add(RecordBatch {
            ids: (start..start + 10_000).map(|i| format!("r{i}")).collect(),
            embeddings: Some((0..10_000).map(|i| vec![i as f32; DIM]).collect()),
            ..Default::default()
        })
        .unwrap();
    }
    let snaps = tempfile::tempdir_in(dir.path()).unwrap();
    let probe = snaps.path().join("probe");
    let t = Instant::now();
    let s = db.snapshot(&probe).unwrap();
    eprintln!(
        "one snapshot: {:.1} ms, {} collections, {} files linked ({} bytes shared), {} bytes copied (the new disk)",
        t.elapsed().as_secs_f64() * 1e3,
        s.collections,
        s.linked_files,
        s.linked_bytes,
        s.copied_bytes
    );
    let mut n = 0;
    let mut g = c.benchmark_group("fork");
    g.sample_size(20);
    // First, while the store holds the source and one fork (each fork
    // bench iteration adds a collection, and a snapshot fsyncs a few
    // small files per collection).
    let mut k = 0;
    g.bench_function("snapshot_store_1m_records", |b| {
        b.iter(|| {
            k += 1;
            db.snapshot(&snaps.path().join(format!("s{k:05}"))).unwrap()
        })
    });
    g.bench_function("fork_1m_records", |b| {
        b.iter(|| {
            n += 1;
            db.fork_collection(info.id, &format!("fork-{n:05}"))
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
