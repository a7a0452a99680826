//! The metadata filter: parsing, brute-force evaluation over 100k records,
//! and the inverted `MetadataIndex` (build, candidates) on the same records.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use chromite_engine::filter::{MetadataIndex, Row};
use chromite_engine::{Metadata, MetadataValue, Where};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::json;

const ROWS: usize = 100_000;

fn records() -> Vec<Option<Metadata>> {
    let mut rng = StdRng::seed_from_u64(7);
    (0..ROWS)
        .map(|_| {
            let mut m = Metadata::new();
            m.insert(
                "category".into(),
                MetadataValue::Str(format!("c{}", rng.gen_range(0..10))),
            );
            m.insert("n".into(), MetadataValue::Int(rng.gen_range(0..1000)));
            m.insert("score".into(), MetadataValue::Float(rng.gen::<f64>()));
            let tags = (0..3)
                .map(|_| format!("t{}", rng.gen_range(0..50)))
                .collect();
            m.insert("tags".into(), MetadataValue::StrArray(tags));
            Some(m)
        })
        .collect()
}

fn filters() -> Vec<(&'static str, Where)> {
    [
        ("eq_10pct", json!({"category": "c3"})),
        ("range_1pct", json!({"n": {"$lt": 10}})),
        (
            "and_1pct",
            json!({"$and": [{"category": "c3"}, {"score": {"$gte": 0.9}}]}),
        ),
        ("contains_6pct", json!({"tags": {"$contains": "t7"}})),
        ("ne_90pct", json!({"category": {"$ne": "c3"}})),
    ]
    .into_iter()
    .map(|(name, j)| (name, Where::parse(&j).expect("valid filter")))
    .collect()
}

fn bench(c: &mut Criterion) {
    let recs = records();
    let rows = || recs.iter().enumerate().map(|(i, m)| (i as Row, m.as_ref()));
    c.bench_function("filter/index_build_100k", |b| {
        b.iter(|| MetadataIndex::build(rows()))
    });
    let index = MetadataIndex::build(rows());
    let mut group = c.benchmark_group("filter/100k");
    for (name, w) in filters() {
        group.bench_with_input(BenchmarkId::new("brute_force", name), &w, |b, w| {
            b.iter(|| recs.iter().filter(|m| w.matches(m.as_ref(), None)).count())
        });
        group.bench_with_input(BenchmarkId::new("index_candidates", name), &w, |b, w| {
            b.iter(|| index.candidates(black_box(w)))
        });
        group.bench_with_input(BenchmarkId::new("index_estimate", name), &w, |b, w| {
            b.iter(|| index.estimate(black_box(w)))
        });
    }
    group.finish();
    let j = json!({"$and": [{"category": {"$in": ["a", "b"]}}, {"n": {"$gt": 3}}, {"#document": {"$regex": "(?i)fox"}}]});
    c.bench_function("filter/parse_and3", |b| {
        b.iter(|| Where::parse(black_box(&j)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
