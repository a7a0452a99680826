//! Readers and writers on one collection at once: each reader works on the
//! version current when it started (an owned, atomically published
//! snapshot), so it never sees half a write, even while flushes and
//! compactions swap segments underneath it.

mod common;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chromite_engine::*;
use common::*;

const GROUPS: usize = 8;
const PER_GROUP: usize = 50;

fn group_ids(g: usize) -> Vec<String> {
    (0..PER_GROUP).map(|i| format!("g{g}-{i}")).collect()
}

/// Upserts every record of group `g` with the value `v` (as embedding and
/// metadata): one write, so a reader sees all of it or none of it.
fn write_group(c: &Collection, g: usize, v: f32) {
    c.upsert(RecordBatch {
        ids: group_ids(g),
        embeddings: Some(vec![vec![v, g as f32, 1.0]; PER_GROUP]),
        metadatas: Some(vec![
            Some(upd(&[(
                "v",
                Some(MetadataValue::Float(v as f64))
            )]));
            PER_GROUP
        ]),
        ..Default::default()
    })
    .unwrap();
}

#[test]
fn readers_never_see_half_a_write_while_segments_are_swapped() {
    let dir = tempfile::tempdir().unwrap();
    // A tiny memtable: flushes and compactions run all the time.
    let db = Db::open_with(
        dir.path(),
        Options {
            memtable_bytes: 8 << 10,
            compaction: compaction::Policy {
                trigger: 3,
                max_merge: 3,
                vacuum_percent: 20,
            },
            ..Options::default()
        },
    )
    .unwrap();
    let c = new_collection(&db, "swaps");
    for g in 0..GROUPS {
        write_group(&c, g, 0.0);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (c, stop) = (c.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    write_group(&c, (n as usize * 3 + w) % GROUPS, n as f32);
                    if n.is_multiple_of(7) {
                        // A delete and re-add in separate writes: the
                        // count may dip between them, never the values.
                        let id = format!("g{}-0", n as usize % GROUPS);
                        c.delete(DeleteRequest {
                            selection: Selection {
                                ids: Some(vec![id]),
                                ..Default::default()
                            },
                            limit: None,
                        })
                        .unwrap();
                        write_group(&c, n as usize % GROUPS, n as f32 + 0.5);
                    }
                }
                n
            })
        })
        .collect();
    let until = Instant::now() + Duration::from_secs(4);
    let mut reads = 0;
    while Instant::now() < until {
        let got = c
            .get(GetRequest {
                include: all(),
                ..Default::default()
            })
            .unwrap();
        let embs = got.embeddings.unwrap();
        let metas = got.metadatas.unwrap();
        assert!(got.ids.len() >= GROUPS * PER_GROUP - 2 && got.ids.len() <= GROUPS * PER_GROUP);
        for g in 0..GROUPS {
            // Every record of a group carries the value of one write.
            let prefix = format!("g{g}-");
            let values: Vec<f32> = got
                .ids
                .iter()
                .zip(&embs)
                .filter(|(id, _)| id.starts_with(&prefix))
                .map(|(_, e)| e[0])
                .collect();
            assert!(
                values.windows(2).all(|w| w[0] == w[1]),
                "group {g} mixes writes: {values:?}"
            );
        }
        for ((id, e), m) in got.ids.iter().zip(&embs).zip(&metas) {
            let v = m.as_ref().and_then(|m| m.get("v")).cloned();
            assert_eq!(v, Some(MetadataValue::Float(e[0] as f64)), "{id}");
        }
        // Queries run on one version too: distances agree with the
        // embeddings they return.
        let q = c
            .query(QueryRequest {
                query_embeddings: vec![vec![0.0, 0.0, 1.0]],
                n_results: 5,
                include: Include {
                    embeddings: true,
                    distances: true,
                    ..Default::default()
                },
                ..Default::default()
            })
            .unwrap();
        let (qe, qd) = (q.embeddings.unwrap(), q.distances.unwrap());
        for (e, d) in qe[0].iter().zip(&qd[0]) {
            let want = e[0] * e[0] + e[1] * e[1];
            assert!((d - want).abs() <= 1e-3 * want.max(1.0), "{d} vs {want}");
        }
        reads += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let written: u32 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(
        reads > 10 && written > 50,
        "{reads} reads, {written} writes"
    );
    assert!(c.segment_count() >= 1, "no flush happened");
    assert_eq!(c.count().unwrap(), GROUPS * PER_GROUP);
}

#[test]
fn an_update_giving_some_records_new_embeddings_is_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let c = new_collection(&db, "upd");
    c.add(batch(
        &["a", "b", "c"],
        &[&[1.0, 0.0], &[2.0, 0.0], &[3.0, 0.0]],
    ))
    .unwrap();
    c.update(UpdateBatch {
        ids: vec!["a".into(), "b".into(), "missing".into()],
        embeddings: Some(vec![Some(vec![9.0, 9.0]), None, Some(vec![5.0, 5.0])]),
        documents: Some(vec![Some("A".into()), Some("B".into()), Some("M".into())]),
        ..Default::default()
    })
    .unwrap();
    let got = c
        .get(GetRequest {
            include: all(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(got.ids, vec!["a", "b", "c"]);
    assert_eq!(
        got.embeddings.unwrap(),
        vec![vec![9.0, 9.0], vec![2.0, 0.0], vec![3.0, 0.0]]
    );
    assert_eq!(
        got.documents.unwrap(),
        vec![Some("A".into()), Some("B".into()), None]
    );
    // A bad embedding anywhere refuses the whole update.
    let err = c
        .update(UpdateBatch {
            ids: vec!["a".into(), "b".into()],
            embeddings: Some(vec![None, Some(vec![1.0, 2.0, 3.0])]),
            documents: Some(vec![Some("changed".into()), None]),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Collection expecting embedding with dimension of 2, got 3"
    );
    let a = c
        .get(GetRequest {
            selection: Selection {
                ids: Some(vec!["a".into()]),
                ..Default::default()
            },
            include: all(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(a.documents.unwrap(), vec![Some("A".into())]);
}

#[test]
fn the_dimension_lives_in_the_manifest_not_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let db = open(dir.path());
        let c = new_collection(&db, "dim");
        c.add(batch(&["a"], &[&[1.0, 2.0, 3.0]])).unwrap();
        assert_eq!(c.info().dimension, Some(3));
        c.info().id
    };
    let catalog = std::fs::read(dir.path().join("CATALOG")).unwrap();
    assert!(!String::from_utf8_lossy(&catalog).contains("\"dimension\":3"));
    // Reported before the collection is opened again (from the manifest).
    let db = open(dir.path());
    assert_eq!(db.get_collection_by_id(id).unwrap().dimension, Some(3));
}
