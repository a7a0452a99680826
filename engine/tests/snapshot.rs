//! Online snapshots: taken while a writer keeps writing into two
//! collections (with background flushes and compactions), each snapshot
//! holds exactly a prefix of the acknowledged batches, the same instant
//! for both collections, every batch acknowledged before it started and
//! none acknowledged after it returned; restoring one gives an
//! independent store with the same content.

mod common;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chromite_engine::*;
use common::*;

const PER_BATCH: u64 = 20;

fn background(dir: &std::path::Path) -> Db {
    Db::open_with(
        dir,
        Options {
            memtable_bytes: 16 << 10,
            ..Options::default()
        },
    )
    .unwrap()
}

/// The batches (by number) a collection holds; panics unless whole.
fn batches(c: &Collection) -> Vec<u64> {
    let ids = get_all(c).ids;
    let mut per: std::collections::BTreeMap<u64, u64> = Default::default();
    for id in &ids {
        let b: u64 = id[1..].split('-').next().unwrap().parse().unwrap();
        *per.entry(b).or_default() += 1;
    }
    assert!(
        per.values().all(|&n| n == PER_BATCH),
        "a batch is split: {per:?}"
    );
    per.into_keys().collect()
}

#[test]
fn snapshots_under_write_load_are_consistent_points_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let snaps = tempfile::tempdir().unwrap();
    let db = background(dir.path());
    let a = new_collection(&db, "alpha");
    let b = new_collection(&db, "beta");
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (a, b, acked, stop) = (a.clone(), b.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                for c in [&a, &b] {
                    let ids: Vec<String> = (0..PER_BATCH).map(|j| format!("b{i}-{j}")).collect();
                    c.add(RecordBatch {
                        embeddings: Some(
                            (0..PER_BATCH)
                                .map(|j| vec![i as f32, j as f32, 1.0])
                                .collect(),
                        ),
                        ids,
                        ..Default::default()
                    })
                    .unwrap();
                }
                i += 1;
                acked.store(i, Ordering::SeqCst);
            }
        })
    };
    let mut taken = Vec::new();
    for k in 0..6 {
        std::thread::sleep(std::time::Duration::from_millis(40));
        let before = acked.load(Ordering::SeqCst);
        let path = snaps.path().join(format!("s{k}"));
        let stats = db.snapshot(&path).unwrap();
        let after = acked.load(Ordering::SeqCst);
        assert_eq!(stats.collections, 2);
        taken.push((path, before, after));
    }
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    let mut sizes = Vec::new();
    for (path, before, after) in &taken {
        let snap = background(path);
        let sa = snap
            .get_collection_by_name(DEFAULT_TENANT, DEFAULT_DATABASE, "alpha")
            .unwrap();
        let sb = snap
            .get_collection_by_name(DEFAULT_TENANT, DEFAULT_DATABASE, "beta")
            .unwrap();
        let (ba, bb) = (
            batches(&snap.collection(sa.id).unwrap()),
            batches(&snap.collection(sb.id).unwrap()),
        );
        // A prefix of the batches in each.
        assert_eq!(ba, (0..ba.len() as u64).collect::<Vec<_>>());
        assert_eq!(bb, (0..bb.len() as u64).collect::<Vec<_>>());
        // One instant for both: beta's batch i is written after alpha's.
        assert!(
            ba.len() == bb.len() || ba.len() == bb.len() + 1,
            "{} vs {}",
            ba.len(),
            bb.len()
        );
        assert!(
            bb.len() as u64 >= *before,
            "lost batches acknowledged before the snapshot"
        );
        assert!(
            ba.len() as u64 <= after + 1,
            "holds batches acknowledged after it"
        );
        sizes.push(ba.len());
    }
    assert!(sizes.windows(2).all(|w| w[0] <= w[1]));
    assert!(
        sizes.last().unwrap() > sizes.first().unwrap(),
        "the writer made no progress: {sizes:?}"
    );

    // Restore the last one: an independent store with the same content.
    let (last, ..) = taken.last().unwrap();
    let restored = tempfile::tempdir().unwrap();
    let target = restored.path().join("store");
    let stats = snapshot::restore(last, &target).unwrap();
    assert_eq!(stats.collections, 2);
    let want = {
        let snap = background(last);
        let sa = snap
            .get_collection_by_name(DEFAULT_TENANT, DEFAULT_DATABASE, "alpha")
            .unwrap();
        get_all(&snap.collection(sa.id).unwrap())
    };
    let r = background(&target);
    let ra = r
        .get_collection_by_name(DEFAULT_TENANT, DEFAULT_DATABASE, "alpha")
        .unwrap();
    let rc = r.collection(ra.id).unwrap();
    assert_eq!(get_all(&rc), want);
    rc.add(batch(&["only-in-restored"], &[&[0.0, 0.0, 0.0]]))
        .unwrap();
    rc.flush().unwrap();
    rc.compact().unwrap();
    drop(rc);
    drop(r);
    let snap = background(last);
    let sa = snap
        .get_collection_by_name(DEFAULT_TENANT, DEFAULT_DATABASE, "alpha")
        .unwrap();
    assert_eq!(
        get_all(&snap.collection(sa.id).unwrap()),
        want,
        "the restore changed the snapshot"
    );
    // A snapshot name is never reused, and restoring over data is refused.
    assert!(db.snapshot(last).is_err());
    assert!(snapshot::restore(last, &target).is_err());
}
