//! Background maintenance starts by itself: a store left fragmented (many
//! small segments, most of their rows overwritten, as crashes or a write
//! pattern that never crossed the compaction threshold leave it) is
//! compacted after it is opened, without any request, and its storage
//! gauges show it.

mod common;
use std::time::{Duration, Instant};

use chromite_engine::*;
use common::*;

#[test]
fn a_fragmented_store_is_compacted_after_opening_without_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..200).map(|i| format!("id{i}")).collect();
    let id = {
        // No background work and a policy that never merges: every flush
        // leaves one more segment, and each round overwrites every id.
        let db = Db::open_with(
            dir.path(),
            Options {
                background: false,
                compaction: compaction::Policy {
                    trigger: usize::MAX,
                    max_merge: 8,
                    vacuum_percent: 0,
                },
                ..Options::default()
            },
        )
        .unwrap();
        let c = new_collection(&db, "fragmented");
        for round in 0..12 {
            c.upsert(RecordBatch {
                ids: ids.clone(),
                embeddings: Some(vec![vec![round as f32; 16]; ids.len()]),
                ..Default::default()
            })
            .unwrap();
            c.flush().unwrap();
        }
        let s = c.stats();
        assert_eq!(s.segments, 12);
        assert!(
            s.disk_bytes > 5 * s.live_bytes,
            "not fragmented: {} on disk, {} live",
            s.disk_bytes,
            s.live_bytes
        );
        c.info().id
    };
    let db = Db::open_with(
        dir.path(),
        Options {
            idle_flush: Some(IdleFlush {
                after: Duration::from_millis(100),
                min_bytes: 1,
            }),
            ..Options::default()
        },
    )
    .unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let stats = db.stats();
        if let Some((_, s)) = stats.iter().find(|(c, _)| *c == id) {
            if s.segments <= 2 && s.disk_bytes * 2 <= s.live_bytes * 3 {
                assert_eq!(s.records, 200);
                break;
            }
        }
        assert!(
            Instant::now() < until,
            "not compacted in a minute: {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The data is intact: every id holds its last round's vector.
    let c = db.collection(id).unwrap();
    let got = c
        .get(GetRequest {
            include: all(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(got.ids.len(), 200);
    assert!(got.embeddings.unwrap().iter().all(|e| e[0] == 11.0));
    assert_eq!(db.maintenance_panics(), 0);
}

#[test]
fn writes_wait_for_compaction_instead_of_piling_up_segments() {
    let dir = tempfile::tempdir().unwrap();
    let stall = WriteStall {
        max_segments: 5,
        ..WriteStall::default()
    };
    let db = Db::open_with(
        dir.path(),
        Options {
            // Every few writes flush, far faster than merges finish.
            memtable_bytes: 4 << 10,
            compaction: compaction::Policy {
                trigger: 3,
                max_merge: 3,
                vacuum_percent: 20,
            },
            write_stall: Some(stall.clone()),
            ..Options::default()
        },
    )
    .unwrap();
    let c = new_collection(&db, "stall");
    let mut most = 0;
    for i in 0..300u32 {
        c.upsert(RecordBatch {
            ids: (0..20)
                .map(|j| format!("id{}", (i * 20 + j) % 1000))
                .collect(),
            embeddings: Some(vec![vec![i as f32; 32]; 20]),
            ..Default::default()
        })
        .unwrap();
        most = most.max(c.segment_count());
    }
    // A flush may land between a writer's check and its write.
    assert!(
        most <= stall.max_segments + 1,
        "{most} segments with a stall at {}",
        stall.max_segments
    );
    assert_eq!(c.count().unwrap(), 1000);
}
