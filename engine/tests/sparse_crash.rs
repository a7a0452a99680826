//! The sparse index under SIGKILL: a child process (this test binary
//! re-executed) writes batches of records with sparse vectors under a BM25
//! index, deleting and upserting earlier ones, on a store with a tiny
//! memtable so flushes and compactions rebuild posting lists all the time;
//! the parent kills it at random moments, reopens the store and checks
//! that every acknowledged record is there and that BM25 searches through
//! the posting lists give exactly what the records themselves give
//! (document frequencies counted from the live records, every score
//! compared bit for bit).

mod common;
use std::collections::HashSet;
use std::time::Duration;

use chromite_engine::schema::ValueTypes;
use chromite_engine::search::{Key, Knn, QueryVector, Rank, SearchPayload};
use chromite_engine::*;
use common::{all, kill_after_first_ack, upd};

const DIR_ENV: &str = "CHROMITE_SPARSE_CRASH_DIR";
const START_ENV: &str = "CHROMITE_SPARSE_CRASH_START";
const PER_BATCH: u64 = 6;

fn open(dir: &std::path::Path) -> Db {
    Db::open_with(
        dir,
        Options {
            memtable_bytes: 8 << 10,
            background: true,
            ..Options::default()
        },
    )
    .unwrap()
}

fn collection(db: &Db) -> Collection {
    let mut schema = Schema::default();
    schema
        .keys
        .insert("s".into(), ValueTypes::sparse_index(true));
    let info = db
        .create_collection(
            DEFAULT_TENANT,
            DEFAULT_DATABASE,
            "bm25",
            CollectionSpec {
                schema: Some(schema),
                ..Default::default()
            },
            true,
        )
        .unwrap();
    db.collection(info.id).unwrap()
}

/// A deterministic sparse vector for `(i, j, salt)` over 24 dimensions.
fn vector(i: u64, j: u64, salt: u64) -> SparseVector {
    let mut dims: Vec<u32> = (0..3)
        .map(|k| ((i * 7 + j * 5 + k * 11 + salt * 3) % 24) as u32)
        .collect();
    dims.sort_unstable();
    dims.dedup();
    let values = dims
        .iter()
        .map(|&d| 1.0 + ((d as u64 + i + salt) % 4) as f32 * 0.5)
        .collect();
    SparseVector {
        indices: dims,
        values,
        tokens: None,
    }
}

fn put(c: &Collection, ids: Vec<String>, vectors: Vec<SparseVector>, upsert: bool) {
    let n = ids.len();
    let batch = RecordBatch {
        embeddings: Some((0..n).map(|k| vec![k as f32, 1.0]).collect()),
        metadatas: Some(
            vectors
                .into_iter()
                .map(|v| Some(upd(&[("s", Some(MetadataValue::SparseVector(v)))])))
                .collect(),
        ),
        ids,
        ..Default::default()
    };
    if upsert {
        c.upsert(batch).unwrap();
    } else {
        c.add(batch).unwrap();
    }
}

#[test]
#[ignore = "child process of the sparse crash test"]
fn sparse_crash_child() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        return;
    };
    let start: u64 = std::env::var(START_ENV).unwrap().parse().unwrap();
    let db = open(std::path::Path::new(&dir));
    let c = collection(&db);
    for i in start.. {
        if i >= 2 {
            c.delete(DeleteRequest {
                selection: Selection {
                    ids: Some(vec![format!("b{}-0", i - 2)]),
                    ..Default::default()
                },
                limit: None,
            })
            .unwrap();
            put(
                &c,
                vec![format!("b{}-1", i - 1)],
                vec![vector(i, 1, 9)],
                true,
            );
        }
        put(
            &c,
            (0..PER_BATCH).map(|j| format!("b{i}-{j}")).collect(),
            (0..PER_BATCH).map(|j| vector(i, j, 0)).collect(),
            false,
        );
        println!("ack {i}");
    }
}

/// BM25 top-k computed from the records `get` returns.
fn from_records(c: &Collection, q: &SparseVector, k: usize) -> Vec<(String, u32)> {
    let got = c
        .get(GetRequest {
            include: all(),
            ..Default::default()
        })
        .unwrap();
    let docs: Vec<(String, SparseVector)> = got
        .ids
        .iter()
        .zip(got.metadatas.unwrap())
        .filter_map(|(id, m)| match m?.get("s")? {
            MetadataValue::SparseVector(v) => Some((id.clone(), v.clone())),
            _ => None,
        })
        .collect();
    let n = got.ids.len() as f32;
    let weights: Vec<f32> = q
        .indices
        .iter()
        .zip(&q.values)
        .map(|(t, w)| {
            let nt = docs.iter().filter(|(_, d)| d.indices.contains(t)).count() as f32;
            w * (1.0 + (n - nt + 0.5) / (nt + 0.5)).ln()
        })
        .collect();
    // `get` lists records in insertion order: a stable sort keeps it for ties.
    let mut scored: Vec<(String, f32)> = docs
        .into_iter()
        .filter_map(|(id, d)| {
            let mut dot = 0f32;
            let mut shared = false;
            for (t, w) in q.indices.iter().zip(&weights) {
                if let Ok(p) = d.indices.binary_search(t) {
                    dot += w * d.values[p];
                    shared = true;
                }
            }
            shared.then_some((id, 1.0 - dot))
        })
        .collect();
    scored.sort_by(|a, b| a.1.total_cmp(&b.1));
    scored.truncate(k);
    scored
        .into_iter()
        .map(|(id, s)| (id, s.to_bits()))
        .collect()
}

fn verify(dir: &std::path::Path, acked: &[u64]) {
    let db = open(dir);
    let c = collection(&db);
    let present: HashSet<String> = c
        .get(GetRequest::default())
        .unwrap()
        .ids
        .into_iter()
        .collect();
    for i in acked {
        for j in 2..PER_BATCH {
            let id = format!("b{i}-{j}");
            assert!(present.contains(&id), "acknowledged {id} is missing");
        }
    }
    for salt in 0..6 {
        let q = vector(salt * 5 + 1, salt, 2);
        let want = from_records(&c, &q, 15);
        let payload = SearchPayload {
            rank: Some(Rank::Knn(Knn {
                query: QueryVector::Sparse(q),
                key: "s".into(),
                limit: 15,
                default: None,
                return_rank: false,
            })),
            select: vec![Key::Score],
            ..Default::default()
        };
        let hits = c.search(&[payload]).unwrap().remove(0);
        let got: Vec<(String, u32)> = hits
            .ids
            .into_iter()
            .zip(hits.scores.unwrap())
            .map(|(id, s)| (id, s.unwrap().to_bits()))
            .collect();
        assert_eq!(got, want, "the posting lists disagree with the records");
    }
}

#[test]
fn sigkill_while_writing_keeps_the_sparse_index_exact() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = 0u64;
    let mut acked: Vec<u64> = Vec::new();
    for _ in 0..6 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let last = kill_after_first_ack(
            "sparse_crash_child",
            &[
                (DIR_ENV, dir.path().display().to_string()),
                (START_ENV, next.to_string()),
            ],
            Duration::from_micros(20_000 + seed % 60_000),
        );
        acked.extend(next..=last);
        verify(dir.path(), &acked);
        // The batch in flight may have landed: continue after it.
        next = last + 2;
    }
    assert!(
        acked.len() >= 12,
        "only {} batches acknowledged",
        acked.len()
    );
    eprintln!("6 kills, {} batches acknowledged", acked.len());
}
