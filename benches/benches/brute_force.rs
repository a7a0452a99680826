//! Exact (brute-force) k-NN over 100k × 384 records held in segments: the
//! engine's query path end to end (snapshot, visibility, per-segment top-k,
//! merge), k = 10, one query vector per call.
//!
//! `cargo bench -p chromite-benches --bench brute_force`
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use chromite_benches::gaussian_mixture;
use chromite_engine::{
    CollectionSpec, Db, Include, QueryRequest, RecordBatch, DEFAULT_DATABASE, DEFAULT_TENANT,
};
use criterion::{criterion_group, criterion_main, Criterion};

const N: usize = 100_000;
const DIM: usize = 384;

fn bench(c: &mut Criterion) {
    let data = gaussian_mixture(N, 32, DIM, false, 11);
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
    for start in (0..N).step_by(5000) {
        col.add(RecordBatch {
            ids: (start..start + 5000).map(|i| format!("id{i}")).collect(),
            embeddings: Some(
                (start..start + 5000)
                    .map(|i| data.vectors[i * DIM..(i + 1) * DIM].to_vec())
                    .collect(),
            ),
            ..Default::default()
        })
        .unwrap();
    }
    db.flush().unwrap();
    let mut q = 0usize;
    let mut g = c.benchmark_group("brute_force_100k_384");
    g.sample_size(20);
    g.bench_function("query_k10", |b| {
        b.iter(|| {
            q = (q + 1) % data.query_count();
            col.query(QueryRequest {
                query_embeddings: vec![data.query(q).to_vec()],
                n_results: 10,
                include: Include {
                    distances: true,
                    ..Default::default()
                },
                ..Default::default()
            })
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
