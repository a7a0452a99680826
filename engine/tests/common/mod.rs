//! Helpers shared by the integration tests (included with `mod common;`).
#![allow(dead_code, missing_docs)]

use chromite_engine::*;

pub fn open(dir: &std::path::Path) -> Db {
    Db::open(dir).expect("open")
}

pub fn open_small(dir: &std::path::Path, memtable_bytes: usize) -> Db {
    Db::open_with(
        dir,
        Options {
            memtable_bytes,
            background: false,
            ..Options::default()
        },
    )
    .expect("open")
}

pub fn new_collection(db: &Db, name: &str) -> Collection {
    let info = db
        .create_collection(
            DEFAULT_TENANT,
            DEFAULT_DATABASE,
            name,
            CollectionSpec::default(),
            false,
        )
        .unwrap();
    db.collection(info.id).unwrap()
}

pub fn md(pairs: &[(&str, MetadataValue)]) -> Metadata {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

pub fn upd(pairs: &[(&str, Option<MetadataValue>)]) -> MetadataUpdate {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

pub fn batch(ids: &[&str], embs: &[&[f32]]) -> RecordBatch {
    RecordBatch {
        ids: ids.iter().map(|s| s.to_string()).collect(),
        embeddings: Some(embs.iter().map(|e| e.to_vec()).collect()),
        ..Default::default()
    }
}

pub fn all() -> Include {
    Include {
        embeddings: true,
        documents: true,
        metadatas: true,
        uris: true,
        distances: true,
    }
}

pub fn get_all(c: &Collection) -> GetResult {
    c.get(GetRequest {
        include: all(),
        ..Default::default()
    })
    .unwrap()
}

pub fn get_ids(c: &Collection, ids: &[&str]) -> GetResult {
    c.get(GetRequest {
        selection: Selection {
            ids: Some(ids.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        },
        include: all(),
        ..Default::default()
    })
    .unwrap()
}

/// Runs the ignored test `child` of this test binary (a crash test's
/// writer) with `env`, reading the `ack N` lines it prints; SIGKILLs it
/// `delay` after its first ack and returns the last acknowledged `N`.
pub fn kill_after_first_ack(
    child: &str,
    env: &[(&str, String)],
    delay: std::time::Duration,
) -> u64 {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().unwrap();
    let mut proc = Command::new(&exe)
        .args([
            child,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = proc.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
            if let Some(n) = line.strip_prefix("ack ") {
                let _ = tx.send(n.parse().unwrap());
            }
        }
    });
    let mut last = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("child made no progress");
    std::thread::sleep(delay);
    proc.kill().unwrap();
    proc.wait().unwrap();
    reader.join().unwrap();
    while let Ok(n) = rx.try_recv() {
        last = n;
    }
    last
}
