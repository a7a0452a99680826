//! The Search API against a brute-force oracle: random records (dense
//! vectors, sparse vectors under two keys, one with BM25), random rank
//! trees over dense and sparse Knn leaves with random limits, defaults and
//! `return_rank`, random filters and pages, then random upserts and
//! deletes (so posting lists hold overridden rows and BM25's counts must
//! leave them out), on a store that flushes and compacts between them. Ids and scores are compared score by score
//! with an oracle that computes every leaf by brute force and the algebra
//! of `../shared/chroma-search-api.md` §2.3 on its own.

mod common;
use std::collections::HashMap;

use chromite_engine::schema::ValueTypes;
use chromite_engine::search::{Key, Knn, QueryVector, Rank, SearchPayload};
use chromite_engine::*;
use common::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Rec {
    emb: [f32; 2],
    a: Option<SparseVector>,
    b: Option<SparseVector>,
    n: i64,
}

fn sparse() -> impl Strategy<Value = Option<SparseVector>> {
    proptest::option::of(proptest::collection::btree_map(0u32..8, -2i8..4, 1..4)).prop_map(|m| {
        m.map(|m| SparseVector {
            indices: m.keys().copied().collect(),
            values: m.values().map(|v| *v as f32 * 0.5).collect(),
            tokens: None,
        })
    })
}

fn rec() -> impl Strategy<Value = Rec> {
    ((-4i8..4, -4i8..4), sparse(), sparse(), 0i64..3).prop_map(|((x, y), a, b, n)| Rec {
        emb: [x as f32, y as f32],
        a,
        b,
        n,
    })
}

fn leaf() -> impl Strategy<Value = Rank> {
    let query = prop_oneof![
        (-4i8..4, -4i8..4)
            .prop_map(|(x, y)| (QueryVector::Dense(vec![x as f32, y as f32]), "#embedding")),
        (sparse(), any::<bool>()).prop_map(|(s, bm25)| {
            let s = s.unwrap_or(SparseVector {
                indices: vec![1],
                values: vec![1.0],
                tokens: None,
            });
            (QueryVector::Sparse(s), if bm25 { "b" } else { "a" })
        }),
    ];
    (
        query,
        1usize..8,
        proptest::option::of(-2i8..3),
        any::<bool>(),
    )
        .prop_map(|((q, key), limit, default, rr)| {
            Rank::Knn(Knn {
                query: q,
                key: key.into(),
                limit,
                default: default.map(|d| d as f32),
                return_rank: rr,
            })
        })
}

fn rank() -> impl Strategy<Value = Rank> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Rank::Sum),
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Rank::Mul),
            proptest::collection::vec(inner.clone(), 1..3).prop_map(Rank::Max),
            proptest::collection::vec(inner.clone(), 1..3).prop_map(Rank::Min),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Rank::Sub(Box::new(a), Box::new(b))),
            (inner.clone(), -3i8..3)
                .prop_map(|(a, v)| Rank::Div(Box::new(a), Box::new(Rank::Val(v as f32)))),
            inner.clone().prop_map(|a| Rank::Abs(Box::new(a))),
            (-2i8..3).prop_map(|v| Rank::Val(v as f32)),
        ]
    })
}

/// The oracle's domain: support and default.
type Dom = (HashMap<usize, f32>, Option<f32>);

fn merge(l: Dom, r: Dom, op: fn(f32, f32) -> f32) -> Dom {
    let mut out = HashMap::new();
    match (l.1, r.1) {
        (Some(a), Some(b)) => {
            for k in l.0.keys().chain(r.0.keys()) {
                let x = l.0.get(k).copied().unwrap_or(a);
                let y = r.0.get(k).copied().unwrap_or(b);
                out.insert(*k, op(x, y));
            }
            (out, Some(op(a, b)))
        }
        (Some(a), None) => {
            for (k, y) in &r.0 {
                out.insert(*k, op(l.0.get(k).copied().unwrap_or(a), *y));
            }
            (out, None)
        }
        (None, Some(b)) => {
            for (k, x) in &l.0 {
                out.insert(*k, op(*x, r.0.get(k).copied().unwrap_or(b)));
            }
            (out, None)
        }
        (None, None) => {
            for (k, x) in &l.0 {
                if let Some(y) = r.0.get(k) {
                    out.insert(*k, op(*x, *y));
                }
            }
            (out, None)
        }
    }
}

struct Oracle<'a> {
    /// Every record by insertion position; `None` once deleted.
    recs: &'a [Option<Rec>],
    /// Each record's insertion order (a record deleted and added again
    /// comes after every other).
    order: &'a [usize],
    allowed: Vec<usize>,
}

impl Oracle<'_> {
    fn leaf(&self, k: &Knn) -> Dom {
        let mut hits: Vec<(usize, f32)> = match &k.query {
            QueryVector::Dense(q) => self
                .allowed
                .iter()
                .map(|&i| {
                    let e = self.recs[i].as_ref().unwrap().emb;
                    (
                        i,
                        (e[0] - q[0]) * (e[0] - q[0]) + (e[1] - q[1]) * (e[1] - q[1]),
                    )
                })
                .collect(),
            QueryVector::Sparse(q) => {
                let of = |r: &Rec| {
                    if k.key == "b" {
                        r.b.clone()
                    } else {
                        r.a.clone()
                    }
                };
                let mut q = q.clone();
                if k.key == "b" {
                    let n = self.recs.iter().flatten().count() as f32;
                    for (w, t) in q.values.iter_mut().zip(&q.indices) {
                        let nt = self
                            .recs
                            .iter()
                            .flatten()
                            .filter(|r| of(r).is_some_and(|d| d.indices.contains(t)))
                            .count() as f32;
                        *w *= (1.0 + (n - nt + 0.5) / (nt + 0.5)).ln();
                    }
                }
                self.allowed
                    .iter()
                    .filter_map(|&i| {
                        let d = of(self.recs[i].as_ref()?)?;
                        let mut dot = 0f32;
                        let mut shared = false;
                        for (t, w) in q.indices.iter().zip(&q.values) {
                            if let Ok(p) = d.indices.binary_search(t) {
                                dot += w * d.values[p];
                                shared = true;
                            }
                        }
                        shared.then_some((i, 1.0 - dot))
                    })
                    .collect()
            }
        };
        hits.sort_by(|a, b| {
            a.1.total_cmp(&b.1)
                .then(self.order[a.0].cmp(&self.order[b.0]))
        });
        hits.truncate(k.limit);
        let support = hits
            .into_iter()
            .enumerate()
            .map(|(pos, (i, d))| (i, if k.return_rank { pos as f32 } else { d }))
            .collect();
        (support, k.default)
    }

    fn eval(&self, r: &Rank) -> Dom {
        let fold = |items: &[Rank], start: f32, op: fn(f32, f32) -> f32| {
            items.iter().fold((HashMap::new(), Some(start)), |acc, r| {
                merge(acc, self.eval(r), op)
            })
        };
        let map = |d: Dom, f: fn(f32) -> f32| {
            (
                d.0.into_iter().map(|(k, v)| (k, f(v))).collect(),
                d.1.map(f),
            )
        };
        match r {
            Rank::Knn(k) => self.leaf(k),
            Rank::Val(v) => (HashMap::new(), Some(*v)),
            Rank::Sum(v) => fold(v, 0.0, |a, b| a + b),
            Rank::Mul(v) => fold(v, 1.0, |a, b| a * b),
            Rank::Max(v) => fold(v, f32::MIN, f32::max),
            Rank::Min(v) => fold(v, f32::MAX, f32::min),
            Rank::Sub(a, b) => merge(self.eval(a), self.eval(b), |x, y| x - y),
            Rank::Div(a, b) => merge(self.eval(a), self.eval(b), |x, y| x / y),
            Rank::Abs(a) => map(self.eval(a), f32::abs),
            Rank::Exp(a) => map(self.eval(a), f32::exp),
            Rank::Log(a) => map(self.eval(a), f32::ln),
        }
    }
}

/// The metadata of a record; for an upsert (which merges metadata as
/// Chroma's does), with its absent sparse keys removed.
fn meta_of(r: &Rec, upsert: bool) -> MetadataUpdate {
    let mut m = vec![("n", Some(MetadataValue::Int(r.n)))];
    for (key, v) in [("a", &r.a), ("b", &r.b)] {
        match v {
            Some(v) => m.push((key, Some(MetadataValue::SparseVector(v.clone())))),
            None if upsert => m.push((key, None)),
            None => {}
        }
    }
    upd(&m)
}

/// `maintain`: 0 nothing; 1 a flush every 7 adds and one amid the edits;
/// 2 a flush and a compaction after the edits; 3 a flush before the edits,
/// which then override segment rows from the memtable.
fn run(
    recs: Vec<Rec>,
    edits: Vec<(usize, Option<Rec>)>,
    searches: Vec<(Rank, Option<i64>, usize, Option<usize>)>,
    maintain: u8,
) {
    let dir = tempfile::tempdir().unwrap();
    let db = open_small(dir.path(), 1 << 10);
    let mut schema = Schema::default();
    schema
        .keys
        .insert("a".into(), ValueTypes::sparse_index(false));
    schema
        .keys
        .insert("b".into(), ValueTypes::sparse_index(true));
    let info = db
        .create_collection(
            DEFAULT_TENANT,
            DEFAULT_DATABASE,
            "oracle",
            CollectionSpec {
                schema: Some(schema),
                ..Default::default()
            },
            false,
        )
        .unwrap();
    let c = db.collection(info.id).unwrap();
    for (i, r) in recs.iter().enumerate() {
        let mut b = batch(&[&format!("r{i:03}")], &[&r.emb]);
        b.metadatas = Some(vec![Some(meta_of(r, false))]);
        c.add(b).unwrap();
        if maintain == 1 && i % 7 == 6 {
            c.flush().unwrap();
        }
    }
    if maintain == 3 {
        c.flush().unwrap();
    }
    let mut order: Vec<usize> = (0..recs.len()).collect();
    let mut next_order = recs.len();
    let mut live: Vec<Option<Rec>> = recs.into_iter().map(Some).collect();
    let half = edits.len() / 2;
    for (j, (i, r)) in edits.into_iter().enumerate() {
        let i = i % live.len();
        let id = format!("r{i:03}");
        match &r {
            Some(r) => {
                let mut b = batch(&[&id], &[&r.emb]);
                b.metadatas = Some(vec![Some(meta_of(r, true))]);
                c.upsert(b).unwrap();
            }
            None => {
                c.delete(DeleteRequest {
                    selection: Selection {
                        ids: Some(vec![id]),
                        ..Default::default()
                    },
                    limit: None,
                })
                .unwrap();
            }
        }
        if live[i].is_none() && r.is_some() {
            order[i] = next_order;
            next_order += 1;
        }
        live[i] = r;
        if maintain == 1 && j == half {
            c.flush().unwrap();
        }
    }
    let recs = live;
    if maintain == 2 {
        c.flush().unwrap();
        c.compact().unwrap();
    }
    for (rank, n, offset, limit) in searches {
        let filter = n.map(|n| Where::parse(&serde_json::json!({"n": {"$ne": n}})).unwrap());
        let payload = SearchPayload {
            filter,
            rank: Some(rank.clone()),
            offset,
            limit,
            select: vec![Key::Score],
            ..Default::default()
        };
        let got = c.search(&[payload]).unwrap().remove(0);
        let oracle = Oracle {
            recs: &recs,
            order: &order,
            allowed: (0..recs.len())
                .filter(|&i| recs[i].as_ref().is_some_and(|r| n.is_none_or(|n| r.n != n)))
                .collect(),
        };
        let mut want: Vec<(usize, f32)> = oracle.eval(&rank).0.into_iter().collect();
        want.sort_by(|a, b| a.1.total_cmp(&b.1).then(order[a.0].cmp(&order[b.0])));
        let want: Vec<(String, Option<f32>)> = want
            .into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .map(|(i, s)| (format!("r{i:03}"), s.is_finite().then_some(s)))
            .collect();
        let got: Vec<(String, Option<f32>)> =
            got.ids.into_iter().zip(got.scores.unwrap()).collect();
        assert_eq!(got, want, "rank {rank:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn search_matches_the_oracle(
        recs in proptest::collection::vec(rec(), 1..30),
        edits in proptest::collection::vec((0usize..30, proptest::option::of(rec())), 0..10),
        searches in proptest::collection::vec((rank(), proptest::option::of(0i64..3), 0usize..3, proptest::option::of(1usize..10)), 1..5),
        maintain in 0u8..4,
    ) {
        run(recs, edits, searches, maintain);
    }
}
