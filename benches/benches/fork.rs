//! Forking a large collection: `Db::fork_collection` on 1,000,000 records
//! (8-d, one compacted segment with its HNSW graph), and the disk a fork
//! adds — bytes of the fork's files not shared with the source (hard
//! links share the segment and graph), plus the catalog's growth — which
//! is printed once before the timing.
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
    let mut n = 0;
    let mut g = c.benchmark_group("fork");
    g.sample_size(20);
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
