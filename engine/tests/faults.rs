//! Injected I/O failures (`fs::FaultyFs`): a scripted sequence of writes,
//! deletes, updates, flushes and compactions runs over a file system that
//! fails at the n-th write (cleanly, torn in half, or out of space) or the
//! n-th fsync, and from then on behaves like a device that is gone. The
//! store is then reopened on the real file system. For every n:
//! - nothing acknowledged is lost: every write that returned `Ok` is there;
//! - nothing unacknowledged half-applies: the write that failed is there
//!   entirely or not at all;
//! - a failed WAL write or fsync poisons the collection: the next write is
//!   refused with `Error::Poisoned` instead of claiming success;
//! - the reopened store opens and serves (orphaned files are cleaned up).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chromite_engine::fs::{Fault, FaultyFs, Fs};
use chromite_engine::*;

const OPS: u64 = 24;
const PER: usize = 4;

/// What a record holds in the model: embedding value and document.
type Model = BTreeMap<String, (f32, Option<String>)>;

#[derive(Debug, Clone, Copy)]
enum Op {
    Add(u64),
    Delete(u64),
    Update(u64),
    Flush,
    Compact,
}

fn script() -> Vec<Op> {
    let mut ops = Vec::new();
    for i in 0..OPS {
        ops.push(match i % 7 {
            3 if i >= 2 => Op::Delete(i - 2),
            5 => Op::Update(i - 1),
            _ => Op::Add(i),
        });
        if i % 6 == 5 {
            ops.push(Op::Flush);
        }
        if i % 13 == 12 {
            ops.push(Op::Compact);
        }
    }
    ops
}

fn ids(i: u64) -> Vec<String> {
    (0..PER).map(|j| format!("b{i}-{j}")).collect()
}

/// The model after `op`.
fn apply(model: &Model, op: Op) -> Model {
    let mut m = model.clone();
    match op {
        Op::Add(i) => {
            for id in ids(i) {
                m.entry(id).or_insert((i as f32, None));
            }
        }
        Op::Delete(i) => {
            for id in ids(i) {
                m.remove(&id);
            }
        }
        Op::Update(i) => {
            // The first two records get a new embedding, all a document.
            for (j, id) in ids(i).into_iter().enumerate() {
                if let Some(r) = m.get_mut(&id) {
                    if j < 2 {
                        r.0 = 1000.0 + i as f32;
                    }
                    r.1 = Some(format!("u{i}"));
                }
            }
        }
        Op::Flush | Op::Compact => {}
    }
    m
}

fn run(c: &Collection, op: Op) -> Result<()> {
    match op {
        Op::Add(i) => c.add(RecordBatch {
            ids: ids(i),
            embeddings: Some(vec![vec![i as f32, 1.0]; PER]),
            ..Default::default()
        }),
        Op::Delete(i) => c
            .delete(DeleteRequest {
                selection: Selection {
                    ids: Some(ids(i)),
                    ..Default::default()
                },
                limit: None,
            })
            .map(|_| ()),
        Op::Update(i) => c.update(UpdateBatch {
            ids: ids(i),
            embeddings: Some(
                (0..PER)
                    .map(|j| (j < 2).then(|| vec![1000.0 + i as f32, 1.0]))
                    .collect(),
            ),
            documents: Some(vec![Some(format!("u{i}")); PER]),
            ..Default::default()
        }),
        Op::Flush => c.flush(),
        Op::Compact => c.compact(),
    }
}

fn open_with(dir: &Path, fs: Arc<dyn Fs>) -> Result<Db> {
    Db::open_with(
        dir,
        Options {
            // Writes flush inline past 2 KiB: flushes and merges happen
            // inside the script's writes too.
            memtable_bytes: 2 << 10,
            background: false,
            compaction: compaction::Policy {
                trigger: 3,
                max_merge: 3,
                vacuum_percent: 20,
            },
            fs,
            ..Options::default()
        },
    )
}

fn state(c: &Collection) -> Model {
    let got = c
        .get(GetRequest {
            include: Include {
                embeddings: true,
                documents: true,
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
    got.ids
        .into_iter()
        .zip(got.embeddings.unwrap())
        .zip(got.documents.unwrap())
        .map(|((id, e), d)| (id, (e[0], d)))
        .collect()
}

/// Runs the script over `fault`; returns the file system's counts.
fn check(fault: Fault) -> (u64, u64) {
    let base = std::path::Path::new("/dev/shm");
    let dir = if base.is_dir() {
        tempfile::tempdir_in(base).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let faulty = FaultyFs::new(fault);
    let mut acked = Model::new();
    let mut in_flight = None;
    let mut id = None;
    if let Ok(db) = open_with(dir.path(), faulty.clone()) {
        let created = db.create_collection(
            DEFAULT_TENANT,
            DEFAULT_DATABASE,
            "faults",
            CollectionSpec::default(),
            false,
        );
        if let Ok(info) = created {
            id = Some(info.id);
            // Opening it creates its first WAL generation: that may fail too.
            let ops = if db.collection(info.id).is_ok() {
                script()
            } else {
                Vec::new()
            };
            let c = db.collection(info.id);
            for op in ops {
                let Ok(c) = &c else { break };
                match run(c, op) {
                    Ok(()) => acked = apply(&acked, op),
                    Err(e) => {
                        in_flight = Some(op);
                        if matches!(op, Op::Add(_) | Op::Delete(_) | Op::Update(_)) {
                            // A failed write poisons; the next is refused.
                            let next = run(c, Op::Add(999)).unwrap_err();
                            assert!(
                                matches!(next, Error::Poisoned),
                                "{fault:?}: after {op:?} failed ({e}), a write gave {next}"
                            );
                        }
                        break;
                    }
                }
            }
        }
    }
    let counts = faulty.counts();
    // Power cut: whatever was not fsynced is gone.
    faulty.crash().unwrap();
    let Some(id) = id else {
        // The fault hit creating the store or the collection: it must
        // still open, and the collection is there or not.
        let db = open_with(dir.path(), fs::os()).unwrap();
        let listed = db
            .list_collections(DEFAULT_TENANT, DEFAULT_DATABASE, None, 0)
            .unwrap();
        assert!(listed.len() <= 1, "{fault:?}");
        return counts;
    };
    let db = open_with(dir.path(), fs::os()).unwrap();
    let c = db
        .collection(id)
        .unwrap_or_else(|e| panic!("{fault:?}: reopen failed: {e}"));
    let got = state(&c);
    let with = in_flight.map(|op| apply(&acked, op));
    assert!(
        got == acked || Some(&got) == with.as_ref(),
        "{fault:?}: in flight {in_flight:?}\ngot   {got:?}\nacked {acked:?}"
    );
    counts
}

#[test]
fn injected_failures_lose_nothing_acknowledged_and_half_apply_nothing() {
    // A run without a fault counts the operations to aim at.
    let (writes, syncs) = check(Fault::FailWrite(u64::MAX));
    assert!(writes > 50 && syncs > 20, "{writes} writes, {syncs} fsyncs");
    let stride = |n: u64| (n / 60).max(1);
    let mut runs = 0;
    for n in (1..=writes).step_by(stride(writes) as usize) {
        for fault in [Fault::FailWrite(n), Fault::TearWrite(n), Fault::NoSpace(n)] {
            check(fault);
            runs += 1;
        }
    }
    for n in (1..=syncs).step_by(stride(syncs) as usize) {
        check(Fault::FailSync(n));
        runs += 1;
    }
    assert!(runs > 100);
}
