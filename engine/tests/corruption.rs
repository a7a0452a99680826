//! Corruption and torn-write handling: a bad WAL tail is truncated with a
//! warning and earlier records survive; a damaged segment, manifest or
//! catalog is an error that names the file, never a panic.

mod common;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chromite_engine::*;
use common::*;

fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    v.sort();
    v
}

/// Three acknowledged batches of two records in one WAL; returns (dir, collection id).
fn three_batches(root: &Path) -> (PathBuf, uuid::Uuid) {
    let db = open(root);
    let c = new_collection(&db, "col");
    for i in 0..3 {
        let a = format!("r{i}a");
        let b = format!("r{i}b");
        c.add(batch(&[&a, &b], &[&[i as f32, 0.0], &[i as f32, 1.0]]))
            .unwrap();
    }
    let id = c.info().id;
    (root.join("collections").join(id.to_string()), id)
}

fn ids(db: &Db, id: uuid::Uuid) -> Vec<String> {
    get_all(&db.collection(id).unwrap()).ids
}

#[test]
fn truncated_wal_tail_keeps_earlier_batches() {
    let dir = tempfile::tempdir().unwrap();
    let (cdir, id) = three_batches(dir.path());
    let wal = files(&cdir, "wal-").pop().unwrap();
    let len = fs::metadata(&wal).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let db = open(dir.path());
    assert_eq!(ids(&db, id), ["r0a", "r0b", "r1a", "r1b"]);
    // The store keeps working and the truncation is durable.
    db.collection(id)
        .unwrap()
        .add(batch(&["z"], &[&[9.0, 9.0]]))
        .unwrap();
    drop(db);
    let db = open(dir.path());
    assert_eq!(ids(&db, id), ["r0a", "r0b", "r1a", "r1b", "z"]);
}

#[test]
fn garbage_after_the_last_frame_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (cdir, id) = three_batches(dir.path());
    let wal = files(&cdir, "wal-").pop().unwrap();
    OpenOptions::new()
        .append(true)
        .open(&wal)
        .unwrap()
        .write_all(&[0xAB; 37])
        .unwrap();
    let db = open(dir.path());
    assert_eq!(ids(&db, id).len(), 6);
}

#[test]
fn garbled_last_frame_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (cdir, id) = three_batches(dir.path());
    let wal = files(&cdir, "wal-").pop().unwrap();
    let mut bytes = fs::read(&wal).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0xFF;
    fs::write(&wal, bytes).unwrap();
    let db = open(dir.path());
    assert_eq!(ids(&db, id), ["r0a", "r0b", "r1a", "r1b"]);
}

fn flushed(root: &Path) -> (PathBuf, uuid::Uuid) {
    let (cdir, id) = three_batches(root);
    {
        let db = open(root);
        db.collection(id).unwrap().flush().unwrap();
    }
    (cdir, id)
}

fn expect_corrupted(err: Error, file: &Path) {
    match &err {
        Error::Corrupted { path, .. } => assert_eq!(path, file, "{err}"),
        other => panic!("expected Corrupted naming {}, got {other}", file.display()),
    }
    assert!(err.to_string().contains(&file.display().to_string()));
}

fn flip(path: &Path, at: impl Fn(usize) -> usize) {
    let mut bytes = fs::read(path).unwrap();
    let i = at(bytes.len());
    bytes[i] ^= 0x5A;
    fs::write(path, bytes).unwrap();
}

#[test]
fn flipped_byte_in_segment_vectors_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (cdir, id) = flushed(dir.path());
    let seg = files(&cdir, "seg-").pop().unwrap();
    flip(&seg, |_| 64 + 5); // inside the vector column
    let db = open(dir.path());
    let c = db.collection(id).unwrap();
    let err = c
        .get(GetRequest {
            include: all(),
            ..Default::default()
        })
        .unwrap_err();
    expect_corrupted(err, &seg);
    let err = c
        .query(QueryRequest {
            query_embeddings: vec![vec![0.0, 0.0]],
            n_results: 1,
            ..Default::default()
        })
        .unwrap_err();
    expect_corrupted(err, &seg);
}

#[test]
fn flipped_byte_in_segment_records_or_header_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (cdir, id) = flushed(dir.path());
    let seg = files(&cdir, "seg-").pop().unwrap();
    let original = fs::read(&seg).unwrap();
    flip(&seg, |n| n - 2); // records section
    {
        // Opening a collection decodes its segments' records (its version
        // holds them), so the damage is reported there, naming the file,
        // and the rest of the store keeps serving.
        let db = open(dir.path());
        expect_corrupted(db.collection(id).err().unwrap(), &seg);
        assert!(db
            .list_collections(DEFAULT_TENANT, DEFAULT_DATABASE, None, 0)
            .is_ok());
    }
    fs::write(&seg, &original).unwrap();
    flip(&seg, |_| 13); // header (dimension)
    let db = open(dir.path());
    expect_corrupted(db.collection(id).err().unwrap(), &seg);
    // Truncated segment.
    drop(db);
    fs::write(&seg, &original[..original.len() - 1]).unwrap();
    let db = open(dir.path());
    expect_corrupted(db.collection(id).err().unwrap(), &seg);
}

#[test]
fn flipped_byte_in_manifest_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (cdir, id) = flushed(dir.path());
    let manifest = cdir.join("MANIFEST");
    flip(&manifest, |n| n - 1);
    let db = open(dir.path());
    expect_corrupted(db.collection(id).err().unwrap(), &manifest);
}

#[test]
fn flipped_byte_in_catalog_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    three_batches(dir.path());
    let catalog = dir.path().join("CATALOG");
    flip(&catalog, |n| n / 2);
    expect_corrupted(Db::open(dir.path()).err().unwrap(), &catalog);
}

/// A collection with a BM25 sparse index on `s`, three records, flushed
/// (so its segment carries a sparse section); returns (dir, id).
fn flushed_sparse(root: &Path) -> (PathBuf, uuid::Uuid) {
    use chromite_engine::schema::ValueTypes;
    let db = open(root);
    let mut schema = Schema::default();
    schema
        .keys
        .insert("s".into(), ValueTypes::sparse_index(true));
    let info = db
        .create_collection(
            DEFAULT_TENANT,
            DEFAULT_DATABASE,
            "sparse",
            CollectionSpec {
                schema: Some(schema),
                ..Default::default()
            },
            false,
        )
        .unwrap();
    let c = db.collection(info.id).unwrap();
    let mut b = batch(&["a", "b", "c"], &[&[0.0, 0.0], &[1.0, 0.0], &[0.0, 1.0]]);
    b.metadatas = Some(
        [vec![1u32, 4], vec![4, 9], vec![2]]
            .into_iter()
            .map(|indices| {
                let values = indices.iter().map(|&i| i as f32 * 0.5).collect();
                Some(upd(&[(
                    "s",
                    Some(MetadataValue::SparseVector(SparseVector {
                        indices,
                        values,
                        tokens: None,
                    })),
                )]))
            })
            .collect(),
    );
    c.add(b).unwrap();
    c.flush().unwrap();
    new_collection(&db, "bystander")
        .add(batch(&["x"], &[&[1.0, 1.0]]))
        .unwrap();
    (root.join("collections").join(info.id.to_string()), info.id)
}

fn sparse_search(c: &Collection) -> Result<Vec<String>> {
    use chromite_engine::search::{Knn, QueryVector, Rank, SearchPayload};
    let rank = Rank::Knn(Knn {
        query: QueryVector::Sparse(SparseVector {
            indices: vec![4],
            values: vec![1.0],
            tokens: None,
        }),
        key: "s".into(),
        limit: 10,
        default: None,
        return_rank: false,
    });
    let payload = SearchPayload {
        rank: Some(rank),
        ..Default::default()
    };
    Ok(c.search(&[payload])?.remove(0).ids)
}

#[test]
fn damaged_sparse_section_is_reported_and_the_rest_serves() {
    let dir = tempfile::tempdir().unwrap();
    let (cdir, id) = flushed_sparse(dir.path());
    {
        let db = open(dir.path());
        let hits = sparse_search(&db.collection(id).unwrap()).unwrap();
        assert_eq!(hits, ["a", "b"]); // equal products: insertion order
    }
    let seg = files(&cdir, "seg-").pop().unwrap();
    let original = fs::read(&seg).unwrap();
    let sparse_at = original
        .windows(8)
        .position(|w| w == b"CHRMSPX1")
        .expect("the segment has a sparse section");
    // A posting (the file's last byte is a weight), then the directory.
    for at in [original.len() - 1, sparse_at + 30] {
        let mut bytes = original.clone();
        bytes[at] ^= 0x5A;
        fs::write(&seg, &bytes).unwrap();
        let db = open(dir.path());
        let c = db.collection(id).unwrap();
        expect_corrupted(sparse_search(&c).unwrap_err(), &seg);
        // The records and the dense index are intact and keep serving,
        // and so does every other collection.
        assert_eq!(get_all(&c).ids, ["a", "b", "c"]);
        let q = c
            .query(QueryRequest {
                query_embeddings: vec![vec![1.0, 0.0]],
                n_results: 1,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(q.ids, [["b"]]);
        let other = db
            .get_collection_by_name(DEFAULT_TENANT, DEFAULT_DATABASE, "bystander")
            .unwrap();
        assert_eq!(get_all(&db.collection(other.id).unwrap()).ids, ["x"]);
    }
}
