//! `get` with a selective `where` over 100k records in segments: the
//! per-segment metadata index answers the filter, so only candidates are
//! read. Also the same filter with a document test, which must re-check.
//!
//! `cargo bench -p chromite-benches --bench filtered_get`
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use chromite_engine::{
    CollectionSpec, Db, GetRequest, Include, MetadataValue, RecordBatch, Selection, Where,
    DEFAULT_DATABASE, DEFAULT_TENANT,
};
use criterion::{criterion_group, criterion_main, Criterion};

const N: usize = 100_000;
const DIM: usize = 32;

fn bench(c: &mut Criterion) {
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
            embeddings: Some((start..start + 5000).map(|i| vec![i as f32; DIM]).collect()),
            documents: Some(
                (start..start + 5000)
                    .map(|i| Some(format!("document number {i}")))
                    .collect(),
            ),
            metadatas: Some(
                (start..start + 5000)
                    .map(|i| {
                        Some(
                            [
                                (
                                    "cat".to_string(),
                                    Some(MetadataValue::Int((i % 1000) as i64)),
                                ),
                                ("n".to_string(), Some(MetadataValue::Int(i as i64))),
                            ]
                            .into_iter()
                            .collect(),
                        )
                    })
                    .collect(),
            ),
            uris: None,
        })
        .unwrap();
    }
    db.flush().unwrap();
    let req = |w: serde_json::Value| GetRequest {
        selection: Selection {
            r#where: Some(Where::parse(&w).unwrap()),
            ..Default::default()
        },
        include: Include {
            documents: true,
            metadatas: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let eq = req(serde_json::json!({"cat": 7}));
    assert_eq!(col.get(eq.clone()).unwrap().ids.len(), N / 1000);
    let range = req(serde_json::json!({"$and": [{"n": {"$gte": 500}}, {"n": {"$lt": 600}}]}));
    assert_eq!(col.get(range.clone()).unwrap().ids.len(), 100);
    let mut g = c.benchmark_group("filtered_get_100k");
    g.bench_function("eq_0.1pct", |b| b.iter(|| col.get(eq.clone()).unwrap()));
    g.bench_function("range_100", |b| b.iter(|| col.get(range.clone()).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
