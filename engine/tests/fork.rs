//! Fork: a copy-on-write snapshot of every acknowledged write, independent
//! afterwards, surviving reopen, with Chroma's lineage counts; a crash
//! before the catalog commit leaves no fork.

mod common;
use chromite_engine::*;
use common::*;

fn ids(c: &Collection) -> Vec<String> {
    get_all(c).ids
}

fn add(c: &Collection, id: &str, e: [f32; 2], key: &str) {
    let mut b = batch(&[id], &[&e]);
    b.metadatas = Some(vec![Some(upd(&[(key, Some(MetadataValue::Int(1)))]))]);
    c.add(b).unwrap();
}

#[test]
fn a_fork_is_an_independent_snapshot_sharing_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (src_id, fork_id) = {
        let db = open_small(dir.path(), 2 << 10);
        let src = new_collection(&db, "source");
        for i in 0..40 {
            add(&src, &format!("r{i:02}"), [i as f32, 1.0], "k");
        }
        // Some rows flushed into segments, some still in the memtable.
        src.flush().unwrap();
        add(&src, "late", [0.5, 0.5], "late_key");
        let fork = db.fork_collection(src.info().id, "forked").unwrap();
        assert_eq!(fork.name, "forked");
        assert_eq!(
            (fork.tenant.as_str(), fork.database.as_str()),
            (DEFAULT_TENANT, DEFAULT_DATABASE)
        );
        assert_eq!(fork.dimension, Some(2));
        assert!(
            fork.schema.keys.contains_key("late_key"),
            "discovered keys come along"
        );
        let f = db.collection(fork.id).unwrap();
        assert_eq!(
            ids(&f),
            ids(&src),
            "every acknowledged write is in the fork"
        );
        // Independent afterwards.
        add(&f, "child", [9.0, 9.0], "child_only");
        src.delete(DeleteRequest {
            selection: Selection {
                ids: Some(vec!["r00".into()]),
                ..Default::default()
            },
            limit: None,
        })
        .unwrap();
        src.compact().unwrap();
        assert_eq!(f.count().unwrap(), 42);
        assert_eq!(src.count().unwrap(), 40);
        assert!(!src.info().schema.keys.contains_key("child_only"));
        // Lineage: every member of a tree counts every fork in it.
        let g = db.fork_collection(fork.id, "grandchild").unwrap();
        for id in [src.info().id, fork.id, g.id] {
            assert_eq!(db.fork_count(id).unwrap(), 2);
        }
        // Chroma's errors.
        let e = db.fork_collection(src.info().id, "forked").unwrap_err();
        assert_eq!(e.to_string(), "Collection [forked] already exists");
        let e = db
            .fork_collection(uuid::Uuid::new_v4(), "nowhere")
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            db.fork_collection(src.info().id, "x").unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        // A deleted member's forks still count.
        db.delete_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "grandchild")
            .unwrap();
        assert_eq!(db.fork_count(src.info().id).unwrap(), 2);
        (src.info().id, fork.id)
    };
    let db = open_small(dir.path(), 2 << 10);
    let f = db.collection(fork_id).unwrap();
    assert_eq!(f.count().unwrap(), 42);
    let hit = f
        .query(QueryRequest {
            query_embeddings: vec![vec![9.0, 9.0]],
            n_results: 1,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(hit.ids, vec![vec!["child".to_string()]]);
    assert_eq!(db.collection(src_id).unwrap().count().unwrap(), 40);
    assert_eq!(db.fork_count(fork_id).unwrap(), 2);
}

#[test]
fn a_fork_shares_segment_files_until_they_are_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_small(dir.path(), 2 << 10);
    let src = new_collection(&db, "shared");
    for i in 0..30 {
        add(&src, &format!("r{i}"), [i as f32, 0.0], "k");
    }
    let fork = db.fork_collection(src.info().id, "shared-fork").unwrap();
    let seg_files = |id: uuid::Uuid| -> Vec<(String, std::path::PathBuf)> {
        let d = dir.path().join("collections").join(id.to_string());
        let mut v: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        v.sort();
        v
    };
    let (a, b) = (seg_files(src.info().id), seg_files(fork.id));
    assert!(!a.is_empty());
    assert_eq!(
        a.iter().map(|x| &x.0).collect::<Vec<_>>(),
        b.iter().map(|x| &x.0).collect::<Vec<_>>()
    );
    use std::os::unix::fs::MetadataExt;
    for ((_, pa), (_, pb)) in a.iter().zip(&b) {
        let (ma, mb) = (
            std::fs::metadata(pa).unwrap(),
            std::fs::metadata(pb).unwrap(),
        );
        assert_eq!(
            (ma.dev(), ma.ino()),
            (mb.dev(), mb.ino()),
            "the same file, not a copy"
        );
    }
}

#[test]
fn a_fork_interrupted_before_its_catalog_commit_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open_small(dir.path(), 2 << 10);
        let src = new_collection(&db, "src");
        add(&src, "a", [1.0, 0.0], "k");
    }
    // What a crash between the fork's files and its catalog entry leaves:
    // a collection directory the catalog does not name.
    let orphan = dir
        .path()
        .join("collections")
        .join(uuid::Uuid::new_v4().to_string());
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join("MANIFEST"), b"partial").unwrap();
    let db = open_small(dir.path(), 2 << 10);
    assert!(!orphan.exists(), "removed on open");
    assert_eq!(
        db.list_collections(DEFAULT_TENANT, DEFAULT_DATABASE, None, 0)
            .unwrap()
            .len(),
        1
    );
}
