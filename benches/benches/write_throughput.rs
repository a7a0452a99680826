//! Acknowledged write throughput: `add` of 1000 records × 384-d per call,
//! each call fsynced before it returns (the engine's only mode), with the
//! background flusher turning memtables into segments as it goes.
//!
//! `cargo bench -p chromite-benches --bench write_throughput`
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use chromite_benches::gaussian_mixture;
use chromite_engine::{CollectionSpec, Db, RecordBatch, DEFAULT_DATABASE, DEFAULT_TENANT};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const BATCH: usize = 1000;
const DIM: usize = 384;

fn bench(c: &mut Criterion) {
    let data = gaussian_mixture(BATCH * 8, 0, DIM, false, 7);
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).unwrap();
    let info = db
        .create_collection(
            DEFAULT_TENANT,
            DEFAULT_DATABASE,
            "bench",
            CollectionSpec::default(),
            false,
        )
        .unwrap();
    let col = db.collection(info.id).unwrap();
    let mut next = 0usize;
    let mut g = c.benchmark_group("write_throughput");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(30);
    g.bench_function("add_1000x384_fsync", |b| {
        b.iter_batched(
            || {
                let start = next;
                next += BATCH;
                RecordBatch {
                    ids: (start..start + BATCH).map(|i| format!("id{i}")).collect(),
                    embeddings: Some(
                        (0..BATCH)
                            .map(|i| {
                                let r = (start + i) % (BATCH * 8);
                                data.vectors[r * DIM..(r + 1) * DIM].to_vec()
                            })
                            .collect(),
                    ),
                    documents: Some(
                        (start..start + BATCH)
                            .map(|i| Some(format!("document {i}")))
                            .collect(),
                    ),
                    ..Default::default()
                }
            },
            |batch| col.add(batch).unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
