//! Model-based test: random sequences of writes, reads, flushes,
//! compactions and reopens against a real on-disk store, checked after
//! every step against a plain in-memory oracle (including exact k-NN, the
//! sparse-vector metadata values and the schema's discovered keys).

mod common;
use std::collections::HashMap;

use chromite_engine::*;
use common::*;
use proptest::prelude::*;

/// An update: (id, new embedding, metadata change: None keep, Some(None) delete "k", Some(Some(v)) set).
type UpdateOp = (u8, Option<(i8, i8)>, Option<Option<i8>>);

#[derive(Debug, Clone)]
enum Step {
    Add(Vec<(u8, i8, i8, Option<i8>)>),
    Upsert(Vec<(u8, i8, i8, Option<i8>)>),
    Update(Vec<UpdateOp>),
    Delete(Vec<u8>),
    DeleteWhereGte(i8),
    GetWhereLt(i8, usize, Option<usize>),
    Query(i8, i8, usize),
    Flush,
    Compact,
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    let rec = (0u8..16, -5i8..5, -5i8..5, proptest::option::of(-3i8..3));
    prop_oneof![
        4 => proptest::collection::vec(rec.clone(), 0..6).prop_map(Step::Add),
        2 => proptest::collection::vec(rec, 0..6).prop_map(Step::Upsert),
        2 => proptest::collection::vec(
            (0u8..16, proptest::option::of((-5i8..5, -5i8..5)), proptest::option::of(proptest::option::of(-3i8..3))),
            0..5
        )
        .prop_map(Step::Update),
        2 => proptest::collection::vec(0u8..16, 0..4).prop_map(Step::Delete),
        1 => (-3i8..3).prop_map(Step::DeleteWhereGte),
        2 => (-3i8..4, 0usize..4, proptest::option::of(0usize..6)).prop_map(|(v, o, l)| Step::GetWhereLt(v, o, l)),
        3 => (-6i8..6, -6i8..6, 0usize..8).prop_map(|(x, y, k)| Step::Query(x, y, k)),
        1 => Just(Step::Flush),
        1 => Just(Step::Compact),
        1 => Just(Step::Reopen),
    ]
}

#[derive(Debug, Clone, PartialEq)]
struct Rec {
    order: u64,
    emb: Vec<f32>,
    doc: Option<String>,
    meta: Option<Metadata>,
}

#[derive(Default)]
struct Oracle {
    recs: HashMap<String, Rec>,
    next: u64,
    /// Every metadata key ever written, with its value types.
    keys: std::collections::BTreeMap<String, std::collections::BTreeSet<schema::ValueType>>,
}

impl Oracle {
    fn sorted(&self) -> Vec<(&String, &Rec)> {
        let mut v: Vec<_> = self.recs.iter().collect();
        v.sort_by_key(|(_, r)| r.order);
        v
    }
    fn saw(&mut self, m: &Metadata) {
        for (k, v) in m.iter() {
            self.keys
                .entry(k.clone())
                .or_default()
                .insert(schema::ValueType::of(v));
        }
    }
    fn put_new(&mut self, id: String, emb: Vec<f32>, meta: Option<i8>) {
        self.next += 1;
        let doc = Some(format!("doc of {id}"));
        self.recs.insert(
            id,
            Rec {
                order: self.next,
                emb,
                doc,
                meta: meta.map(kmeta),
            },
        );
    }
}

/// A record's metadata: `k` (int), `sp` (a sparse vector, with tokens for
/// even values) and `sign` (string).
fn kmeta(v: i8) -> Metadata {
    let n = v.unsigned_abs() as u32;
    let sp = SparseVector {
        indices: vec![n, n + 3],
        values: vec![v as f32, 0.5],
        tokens: (v % 2 == 0).then(|| vec![format!("t{n}"), "x".into()]),
    };
    md(&[
        ("k", MetadataValue::Int(v as i64)),
        ("sp", MetadataValue::SparseVector(sp)),
        (
            "sign",
            MetadataValue::Str(if v < 0 { "neg" } else { "pos" }.into()),
        ),
    ])
}

fn kupd(v: i8) -> MetadataUpdate {
    kmeta(v).into_iter().map(|(k, v)| (k, Some(v))).collect()
}

fn kval(m: &Metadata) -> i64 {
    match m.get("k") {
        Some(MetadataValue::Int(v)) => *v,
        other => panic!("unexpected k {other:?}"),
    }
}

fn id(i: u8) -> String {
    format!("id{i}")
}

fn write_batch(recs: &[(u8, i8, i8, Option<i8>)]) -> RecordBatch {
    RecordBatch {
        ids: recs.iter().map(|r| id(r.0)).collect(),
        embeddings: Some(recs.iter().map(|r| vec![r.1 as f32, r.2 as f32]).collect()),
        documents: Some(
            recs.iter()
                .map(|r| Some(format!("doc of {}", id(r.0))))
                .collect(),
        ),
        metadatas: Some(recs.iter().map(|r| r.3.map(kupd)).collect()),
        uris: None,
    }
}

fn where_json(j: serde_json::Value) -> Option<Where> {
    Some(Where::parse(&j).unwrap())
}

fn check_all(c: &Collection, o: &Oracle) {
    let g = get_all(c);
    let want = o.sorted();
    assert_eq!(
        g.ids,
        want.iter().map(|(id, _)| (*id).clone()).collect::<Vec<_>>()
    );
    assert_eq!(
        g.embeddings.unwrap(),
        want.iter().map(|(_, r)| r.emb.clone()).collect::<Vec<_>>()
    );
    assert_eq!(
        g.documents.unwrap(),
        want.iter().map(|(_, r)| r.doc.clone()).collect::<Vec<_>>()
    );
    assert_eq!(
        g.metadatas.unwrap(),
        want.iter().map(|(_, r)| r.meta.clone()).collect::<Vec<_>>()
    );
    assert_eq!(c.count().unwrap(), o.recs.len());
    let schema = c.info().schema;
    let discovered: std::collections::BTreeMap<_, std::collections::BTreeSet<_>> = schema
        .keys
        .iter()
        .filter(|(k, _)| !k.starts_with('#'))
        .map(|(k, vt)| {
            let types = schema::ValueType::ALL
                .into_iter()
                .filter(|t| vt.has(*t))
                .collect();
            (k.clone(), types)
        })
        .collect();
    assert_eq!(
        discovered, o.keys,
        "the schema's keys are those ever written"
    );
}

fn run(steps: Vec<Step>) {
    let dir = tempfile::tempdir().unwrap();
    let opts = || Options {
        memtable_bytes: 1024,
        background: false,
        compaction: compaction::Policy {
            trigger: 3,
            max_merge: 2,
            ..compaction::Policy::default()
        },
        idle_flush: None,
        ..Options::default()
    };
    let mut db = Db::open_with(dir.path(), opts()).unwrap();
    let cid = new_collection(&db, "model").info().id;
    let mut c = db.collection(cid).unwrap();
    let mut o = Oracle::default();
    for s in steps {
        match s {
            Step::Add(recs) => {
                c.add(write_batch(&recs)).unwrap();
                for r in recs {
                    // An id already there (or earlier in the batch) is a no-op.
                    if !o.recs.contains_key(&id(r.0)) {
                        if let Some(v) = r.3 {
                            o.saw(&kmeta(v));
                        }
                        o.put_new(id(r.0), vec![r.1 as f32, r.2 as f32], r.3);
                    }
                }
            }
            Step::Upsert(recs) => {
                c.upsert(write_batch(&recs)).unwrap();
                recs.iter()
                    .filter_map(|r| r.3)
                    .for_each(|v| o.saw(&kmeta(v)));
                for r in recs {
                    let emb = vec![r.1 as f32, r.2 as f32];
                    match o.recs.get_mut(&id(r.0)) {
                        Some(rec) => {
                            rec.emb = emb;
                            rec.doc = Some(format!("doc of {}", id(r.0)));
                            if let Some(v) = r.3 {
                                rec.meta = Some(kmeta(v));
                            }
                        }
                        None => o.put_new(id(r.0), emb, r.3),
                    }
                }
            }
            Step::Update(changes) => {
                c.update(RecordBatch {
                    ids: changes.iter().map(|x| id(x.0)).collect(),
                    embeddings: None,
                    documents: None,
                    metadatas: Some(
                        changes
                            .iter()
                            .map(|x| {
                                x.2.map(|m| match m {
                                    Some(v) => kupd(v),
                                    None => upd(&[("k", None), ("sp", None), ("sign", None)]),
                                })
                            })
                            .collect(),
                    ),
                    uris: None,
                })
                .unwrap();
                // Embedding changes go in a second update (embeddings are all-or-nothing per batch).
                let with_emb: Vec<_> = changes
                    .iter()
                    .filter_map(|x| x.1.map(|e| (x.0, e)))
                    .collect();
                if !with_emb.is_empty() {
                    c.update(RecordBatch {
                        ids: with_emb.iter().map(|x| id(x.0)).collect(),
                        embeddings: Some(
                            with_emb
                                .iter()
                                .map(|x| vec![x.1 .0 as f32, x.1 .1 as f32])
                                .collect(),
                        ),
                        ..Default::default()
                    })
                    .unwrap();
                }
                for x in &changes {
                    // An update of a missing id writes nothing: no key is discovered.
                    if let (Some(Some(v)), true) = (x.2, o.recs.contains_key(&id(x.0))) {
                        o.saw(&kmeta(v));
                    }
                    if let Some(rec) = o.recs.get_mut(&id(x.0)) {
                        match x.2 {
                            None => {}
                            Some(None) => rec.meta = None,
                            Some(Some(v)) => rec.meta = Some(kmeta(v)),
                        }
                    }
                }
                for x in with_emb {
                    if let Some(rec) = o.recs.get_mut(&id(x.0)) {
                        rec.emb = vec![x.1 .0 as f32, x.1 .1 as f32];
                    }
                }
            }
            Step::Delete(ids) => {
                let n = c
                    .delete(DeleteRequest {
                        selection: Selection {
                            ids: Some(ids.iter().map(|&i| id(i)).collect()),
                            ..Default::default()
                        },
                        limit: None,
                    })
                    .unwrap();
                assert_eq!(n, ids.len());
                for i in ids {
                    o.recs.remove(&id(i));
                }
            }
            Step::DeleteWhereGte(v) => {
                let n = c
                    .delete(DeleteRequest {
                        selection: Selection {
                            r#where: where_json(serde_json::json!({"k": {"$gte": v}})),
                            ..Default::default()
                        },
                        limit: None,
                    })
                    .unwrap();
                let victims: Vec<String> = o
                    .recs
                    .iter()
                    .filter(|(_, r)| r.meta.as_ref().is_some_and(|m| kval(m) >= v as i64))
                    .map(|(id, _)| id.clone())
                    .collect();
                assert_eq!(n, victims.len());
                for id in victims {
                    o.recs.remove(&id);
                }
            }
            Step::GetWhereLt(v, offset, limit) => {
                let g = c
                    .get(GetRequest {
                        selection: Selection {
                            r#where: where_json(serde_json::json!({"k": {"$lt": v}})),
                            ..Default::default()
                        },
                        offset,
                        limit,
                        include: all(),
                    })
                    .unwrap();
                let want: Vec<String> = o
                    .sorted()
                    .into_iter()
                    .filter(|(_, r)| r.meta.as_ref().is_some_and(|m| kval(m) < v as i64))
                    .map(|(id, _)| id.clone())
                    .skip(offset)
                    .take(limit.unwrap_or(usize::MAX))
                    .collect();
                assert_eq!(g.ids, want);
            }
            Step::Query(x, y, k) => {
                if o.recs.is_empty() && c.info().dimension.is_none() {
                    continue;
                }
                let q = vec![x as f32, y as f32];
                let r = c
                    .query(QueryRequest {
                        query_embeddings: vec![q.clone()],
                        n_results: k,
                        include: all(),
                        ..Default::default()
                    })
                    .unwrap();
                let mut want: Vec<(f32, u64, String)> = o
                    .recs
                    .iter()
                    .map(|(id, r)| {
                        let d = (r.emb[0] - q[0]).powi(2) + (r.emb[1] - q[1]).powi(2);
                        (d, r.order, id.clone())
                    })
                    .collect();
                want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                want.truncate(k);
                assert_eq!(
                    r.ids[0],
                    want.iter().map(|w| w.2.clone()).collect::<Vec<_>>()
                );
                assert_eq!(
                    r.distances.unwrap()[0],
                    want.iter().map(|w| w.0).collect::<Vec<_>>()
                );
            }
            Step::Flush => c.flush().unwrap(),
            Step::Compact => c.compact().unwrap(),
            Step::Reopen => {
                drop(c);
                drop(db);
                db = Db::open_with(dir.path(), opts()).unwrap();
                c = db.collection(cid).unwrap();
            }
        }
        check_all(&c, &o);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn engine_matches_oracle(steps in proptest::collection::vec(step(), 1..40)) {
        run(steps);
    }
}
