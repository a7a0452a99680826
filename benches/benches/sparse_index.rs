//! The sparse index: how much a flush pays to build posting lists, and
//! BM25 top-10 through them, in process.
//!
//! Documents are synthetic sparse vectors shaped like BM25 output on short
//! text: 8 distinct terms from a 30,000-term vocabulary with a skewed
//! (Zipf-like) term distribution, weights 1.0–2.5; 4-d embeddings, so a
//! flush costs little besides records and postings.
//!
//! - `flush_20k/{with,without}_index`: a flush of 20,000 such records
//!   (160,000 postings) with the key's sparse index on and off; the
//!   difference is the posting lists' build and write.
//! - `bm25_top10_100k`: BM25 top-10 over 100,000 records (one compacted
//!   segment), 3-term queries drawn from the same distribution.
//!
//! `cargo bench -p chromite-benches --bench sparse_index`
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use chromite_engine::schema::{
    IndexType, SparseVectorIndexConfig, SparseVectorValueType, ValueTypes,
};
use chromite_engine::search::{Knn, QueryVector, Rank, SearchPayload};
use chromite_engine::*;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const VOCAB: f64 = 30_000.0;
const TERMS: usize = 8;

fn vector(rng: &mut StdRng, terms: usize) -> SparseVector {
    let mut dims: Vec<u32> = Vec::with_capacity(terms);
    while dims.len() < terms {
        let u: f64 = rng.gen();
        let t = (VOCAB * u * u * u) as u32;
        if !dims.contains(&t) {
            dims.push(t);
        }
    }
    dims.sort_unstable();
    let values = dims.iter().map(|_| rng.gen_range(1.0..2.5)).collect();
    SparseVector {
        indices: dims,
        values,
        tokens: None,
    }
}

fn collection(db: &Db, name: &str, indexed: bool) -> Collection {
    let mut schema = Schema::default();
    schema.keys.insert(
        "bm25".into(),
        ValueTypes {
            sparse_vector: Some(SparseVectorValueType {
                sparse_vector_index: Some(IndexType {
                    enabled: indexed,
                    config: SparseVectorIndexConfig {
                        bm25: Some(true),
                        ..Default::default()
                    },
                }),
            }),
            ..Default::default()
        },
    );
    let info = db
        .create_collection(
            DEFAULT_TENANT,
            DEFAULT_DATABASE,
            name,
            CollectionSpec {
                schema: Some(schema),
                ..Default::default()
            },
            false,
        )
        .unwrap();
    db.collection(info.id).unwrap()
}

fn load(c: &Collection, rng: &mut StdRng, n: usize) {
    for start in (0..n).step_by(2000) {
        let ids: Vec<String> = (start..start + 2000).map(|i| format!("d{i}")).collect();
        let metadatas = (0..2000)
            .map(|_| {
                let mut m = MetadataUpdate::new();
                m.insert(
                    "bm25".into(),
                    Some(MetadataValue::SparseVector(vector(rng, TERMS))),
                );
                Some(m)
            })
            .collect();
        c.add(RecordBatch {
            embeddings: Some((0..2000).map(|i| vec![i as f32, 1.0, 0.0, 2.0]).collect()),
            metadatas: Some(metadatas),
            ids,
            ..Default::default()
        })
        .unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let opts = Options {
        memtable_bytes: 1 << 30,
        background: false,
        ..Options::default()
    };
    let mut g = c.benchmark_group("sparse_index");
    g.sample_size(10);
    g.throughput(Throughput::Elements(20_000 * TERMS as u64));
    for indexed in [true, false] {
        let label = if indexed {
            "flush_20k/with_index"
        } else {
            "flush_20k/without_index"
        };
        let mut round = 0;
        g.bench_function(label, |b| {
            b.iter_batched(
                || {
                    round += 1;
                    let dir = tempfile::tempdir().unwrap();
                    let db = Db::open_with(dir.path(), opts.clone()).unwrap();
                    let col = collection(&db, &format!("col{round}"), indexed);
                    load(&col, &mut StdRng::seed_from_u64(round), 20_000);
                    (dir, db, col)
                },
                |(_dir, _db, col)| col.flush().unwrap(),
                BatchSize::PerIteration,
            )
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_with(dir.path(), opts).unwrap();
    let col = collection(&db, "search", true);
    let mut rng = StdRng::seed_from_u64(7);
    load(&col, &mut rng, 100_000);
    col.flush().unwrap();
    col.compact().unwrap();
    let queries: Vec<SparseVector> = (0..256).map(|_| vector(&mut rng, 3)).collect();
    let mut next = 0;
    g.throughput(Throughput::Elements(1));
    g.sample_size(50);
    g.bench_function("bm25_top10_100k", |b| {
        b.iter(|| {
            next = (next + 1) % queries.len();
            let payload = SearchPayload {
                rank: Some(Rank::Knn(Knn {
                    query: QueryVector::Sparse(queries[next].clone()),
                    key: "bm25".into(),
                    limit: 10,
                    default: None,
                    return_rank: false,
                })),
                limit: Some(10),
                ..Default::default()
            };
            col.search(&[payload]).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
