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
