//! Open time of a store holding 1M × 128 vectors in segments: `Db::open`
//! plus opening the collection (manifest, segment headers, WAL replay).
//! Opening maps segment files and reads their 64-byte headers only, so it
//! should stay flat as the store grows.
//!
//! The store is built once (about 0.5 GB) under `CHROMITE_BENCH_STORE`
//! (default: a directory in the system temp dir) and reused by later runs;
//! `CHROMITE_OPEN_N` changes the record count.
//!
//! `cargo bench -p chromite-benches --bench open_time`
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use std::path::PathBuf;

use chromite_benches::env_usize;
use chromite_engine::{CollectionSpec, Db, RecordBatch, DEFAULT_DATABASE, DEFAULT_TENANT};
use criterion::{criterion_group, criterion_main, Criterion};

const DIM: usize = 128;

fn build(dir: &PathBuf, n: usize) {
    let db = Db::open(dir).unwrap();
    let info = db
        .create_collection(
            DEFAULT_TENANT,
            DEFAULT_DATABASE,
            "big",
            CollectionSpec::default(),
            true,
        )
        .unwrap();
    let col = db.collection(info.id).unwrap();
    if col.count().unwrap() >= n {
        return;
    }
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for start in (0..n).step_by(5000) {
        let end = (start + 5000).min(n);
        col.add(RecordBatch {
            ids: (start..end).map(|i| format!("id{i}")).collect(),
            embeddings: Some(
                (start..end)
                    .map(|_| {
                        (0..DIM)
                            .map(|_| {
                                x ^= x << 13;
                                x ^= x >> 7;
                                x ^= x << 17;
                                (x >> 40) as f32 / (1u64 << 24) as f32
                            })
                            .collect()
                    })
                    .collect(),
            ),
            ..Default::default()
        })
        .unwrap();
    }
    db.flush().unwrap();
}

fn bench(c: &mut Criterion) {
    let n = env_usize("CHROMITE_OPEN_N", 1_000_000);
    let dir = std::env::var("CHROMITE_BENCH_STORE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join(format!("chromite-open-bench-{n}")));
    build(&dir, n);
    let mut g = c.benchmark_group("open_time");
    g.sample_size(20);
    g.bench_function(format!("open_{n}x{DIM}"), |b| {
        b.iter(|| {
            let db = Db::open(&dir).unwrap();
            let info = db
                .get_collection_by_name(DEFAULT_TENANT, DEFAULT_DATABASE, "big")
                .unwrap();
            let col = db.collection(info.id).unwrap();
            assert_eq!(col.info().dimension, Some(DIM));
            drop(col);
            drop(db);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
