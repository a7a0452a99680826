//! Record semantics of chroma-api.md §5 on a real on-disk store.

mod common;
use chromite_engine::*;
use common::*;

#[test]
fn add_existing_id_is_a_no_op_and_order_is_first_insertion() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let c = new_collection(&db, "col");
    c.add(batch(&["b", "a"], &[&[1.0, 0.0], &[0.0, 1.0]]))
        .unwrap();
    c.add(RecordBatch {
        documents: Some(vec![Some("new".into())]),
        ..batch(&["b"], &[&[9.0, 9.0]])
    })
    .unwrap();
    c.add(batch(&["c"], &[&[2.0, 2.0]])).unwrap();
    let g = get_all(&c);
    assert_eq!(g.ids, ["b", "a", "c"]);
    assert_eq!(g.embeddings.unwrap()[0], vec![1.0, 0.0]);
    assert_eq!(g.documents.unwrap()[0], None);
    // get by ids returns storage order and drops unknown ids
    assert_eq!(get_ids(&c, &["c", "b", "nope"]).ids, ["b", "c"]);
    assert_eq!(c.count().unwrap(), 3);
}

#[test]
fn update_merges_metadata_and_ignores_missing_ids() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let c = new_collection(&db, "col");
    let mut b = batch(&["x"], &[&[1.0]]);
    b.metadatas = Some(vec![Some(upd(&[
        ("x", Some(MetadataValue::Int(1))),
        ("y", Some(MetadataValue::Str("keep".into()))),
        ("z", Some(MetadataValue::Bool(true))),
        ("n", None),
    ]))]);
    b.documents = Some(vec![Some("doc".into())]);
    c.add(b).unwrap();
    c.update(RecordBatch {
        ids: vec!["x".into(), "missing".into()],
        embeddings: None,
        documents: Some(vec![None, Some("d".into())]),
        metadatas: Some(vec![
            Some(upd(&[("x", Some(MetadataValue::Int(2))), ("z", None)])),
            None,
        ]),
        uris: Some(vec![Some("u".into()), None]),
    })
    .unwrap();
    let g = get_all(&c);
    assert_eq!(g.ids, ["x"]);
    assert_eq!(
        g.metadatas.unwrap()[0],
        Some(md(&[
            ("x", MetadataValue::Int(2)),
            ("y", MetadataValue::Str("keep".into()))
        ]))
    );
    assert_eq!(g.documents.unwrap()[0].as_deref(), Some("doc"));
    assert_eq!(g.uris.unwrap()[0].as_deref(), Some("u"));
    // deleting every key gives None
    c.update(RecordBatch {
        ids: vec!["x".into()],
        metadatas: Some(vec![Some(upd(&[("x", None), ("y", None)]))]),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(get_all(&c).metadatas.unwrap()[0], None);
}

#[test]
fn upsert_updates_existing_and_adds_new() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let c = new_collection(&db, "col");
    c.add(batch(&["a"], &[&[1.0, 1.0]])).unwrap();
    let mut b = batch(&["new", "a"], &[&[3.0, 3.0], &[2.0, 2.0]]);
    b.documents = Some(vec![Some("n".into()), None]);
    c.upsert(b).unwrap();
    let g = get_all(&c);
    assert_eq!(g.ids, ["a", "new"]);
    assert_eq!(g.embeddings.unwrap(), vec![vec![2.0, 2.0], vec![3.0, 3.0]]);
    assert_eq!(g.documents.unwrap(), vec![None, Some("n".to_string())]);
}

#[test]
fn delete_counts_and_dimension_survives() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let c = new_collection(&db, "col");
    c.add(batch(
        &["a", "b", "c"],
        &[&[1.0, 0.0], &[0.0, 1.0], &[1.0, 1.0]],
    ))
    .unwrap();
    let ids = |v: &[&str]| Selection {
        ids: Some(v.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    };
    assert_eq!(
        c.delete(DeleteRequest {
            selection: ids(&["a", "b", "zz", "c"]),
            limit: None
        })
        .unwrap(),
        4
    );
    assert_eq!(c.delete(DeleteRequest::default()).unwrap(), 0);
    assert_eq!(c.count().unwrap(), 0);
    assert_eq!(c.info().dimension, Some(2));
    let err = c.add(batch(&["d"], &[&[1.0, 2.0, 3.0]])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        err.to_string(),
        "Collection expecting embedding with dimension of 2, got 3"
    );
    // re-adding a deleted id puts it at the end
    c.add(batch(&["x", "a"], &[&[0.0, 0.0], &[5.0, 5.0]]))
        .unwrap();
    assert_eq!(get_all(&c).ids, ["x", "a"]);
    drop(c);
    drop(db);
    let db = open(dir.path());
    let info = db
        .get_collection_by_name(DEFAULT_TENANT, DEFAULT_DATABASE, "col")
        .unwrap();
    assert_eq!(info.dimension, Some(2));
    let c = db.collection(info.id).unwrap();
    assert_eq!(get_all(&c).ids, ["x", "a"]);
}

#[test]
fn validation_messages() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let c = new_collection(&db, "col");
    let msg = |r: Result<()>| r.unwrap_err().to_string();
    let mut b = batch(&["a", "b"], &[&[1.0]]);
    assert_eq!(
        msg(c.add(b.clone())),
        "Inconsistent number of IDs, embeddings, documents, URIs and metadatas"
    );
    b = batch(&[""], &[&[1.0]]);
    assert_eq!(
        msg(c.add(b)),
        "Empty ID, ID must have at least one character"
    );
    assert_eq!(
        msg(c.add(batch(&["a"], &[&[]]))),
        "Validation error: embeddings: Each embedding must have at least 1 dimension"
    );
    assert_eq!(
        msg(c.add(batch(&["a"], &[&[f32::NAN]]))),
        "Validation error: embeddings: Embeddings must not contain NaN or Infinity values"
    );
    c.add(RecordBatch::default()).unwrap();
    assert_eq!(c.count().unwrap(), 0);
}

#[test]
fn query_distances_ties_and_unknown_ids() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    for (space, expect) in [
        (Space::L2, vec![("a", 1.0), ("b", 2.0), ("c", 13.0)]),
        (
            Space::Cosine,
            vec![("c", 0.010050476), ("a", 0.29289323), ("b", 0.29289323)],
        ),
        (Space::Ip, vec![("c", -6.0), ("b", -1.0), ("a", 0.0)]),
    ] {
        let mut spec = CollectionSpec::default();
        spec.config.hnsw.space = space;
        let name = format!("col-{space:?}");
        let info = db
            .create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, &name, spec, false)
            .unwrap();
        let c = db.collection(info.id).unwrap();
        c.add(batch(
            &["a", "b", "c"],
            &[&[1.0, 0.0], &[0.0, 2.0], &[3.0, 4.0]],
        ))
        .unwrap();
        let r = c
            .query(QueryRequest {
                query_embeddings: vec![vec![1.0, 1.0]],
                n_results: 10,
                include: all(),
                ..Default::default()
            })
            .unwrap();
        let got: Vec<(String, f32)> = r.ids[0]
            .iter()
            .cloned()
            .zip(r.distances.as_ref().unwrap()[0].iter().copied())
            .collect();
        assert_eq!(got.len(), 3);
        for ((gid, gd), (eid, ed)) in got.iter().zip(&expect) {
            assert_eq!(gid, eid, "{space:?}");
            assert!((gd - ed).abs() < 1e-6, "{space:?} {gid} {gd} vs {ed}");
        }
        let err = c
            .query(QueryRequest {
                query_embeddings: vec![vec![1.0, 1.0]],
                n_results: 1,
                selection: Selection {
                    ids: Some(vec!["a".into(), "nope".into()]),
                    ..Default::default()
                },
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert!(err.to_string().contains("Error finding id"));
        let r = c
            .query(QueryRequest {
                query_embeddings: vec![vec![1.0, 1.0], vec![0.0, 2.0]],
                n_results: 0,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(r.ids, vec![Vec::<String>::new(), vec![]]);
        let err = c
            .query(QueryRequest {
                query_embeddings: vec![vec![1.0]],
                n_results: 1,
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Collection expecting embedding with dimension of 2, got 1"
        );
    }
}

#[test]
fn catalog_rules() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let s = CollectionSpec::default;
    let err = db
        .create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "a", s(), false)
        .unwrap_err();
    assert!(err
        .to_string()
        .starts_with("Validation error: name: Expected a name containing 3-512"));
    let a = db
        .create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "abc", s(), false)
        .unwrap();
    let err = db
        .create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "abc", s(), false)
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.to_string()),
        (
            ErrorKind::AlreadyExists,
            "Collection [abc] already exists".into()
        )
    );
    let mut spec = s();
    spec.metadata = Some(md(&[("k", MetadataValue::Int(1))]));
    let again = db
        .create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "abc", spec, true)
        .unwrap();
    assert_eq!(again.id, a.id);
    assert_eq!(again.metadata, None);
    let mut spec = s();
    spec.metadata = Some(Metadata::new());
    assert_eq!(
        db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "empty", spec, false)
            .unwrap_err()
            .to_string(),
        "Validation error: metadata: Metadata cannot be empty"
    );
    assert_eq!(
        db.create_collection(DEFAULT_TENANT, "nodb", "abc", s(), false)
            .unwrap_err()
            .to_string(),
        "Database [nodb] does not exist"
    );
    let mut ids = vec![a.id];
    for n in ["c2x", "c3x", "c4x"] {
        ids.push(
            db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, n, s(), false)
                .unwrap()
                .id,
        );
    }
    ids.sort_by_key(|i| i.to_string());
    let listed: Vec<_> = db
        .list_collections(DEFAULT_TENANT, DEFAULT_DATABASE, None, 0)
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, ids);
    let page: Vec<_> = db
        .list_collections(DEFAULT_TENANT, DEFAULT_DATABASE, Some(2), 1)
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(page, ids[1..3]);
    assert_eq!(
        db.count_collections(DEFAULT_TENANT, DEFAULT_DATABASE)
            .unwrap(),
        4
    );
    // rename onto an existing name
    let err = db
        .modify_collection(a.id, Some("c2x"), None, None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    db.modify_collection(
        a.id,
        Some("renamed"),
        Some(md(&[("c", MetadataValue::Int(3))])),
        None,
    )
    .unwrap();
    let got = db.get_collection_by_id(a.id).unwrap();
    assert_eq!(
        (got.name.as_str(), got.metadata),
        ("renamed", Some(md(&[("c", MetadataValue::Int(3))])))
    );
    assert_eq!(
        db.modify_collection(a.id, None, Some(Metadata::new()), None)
            .unwrap_err()
            .to_string(),
        "Validation error: new_metadata: Metadata cannot be empty"
    );
    // tenants and databases
    assert_eq!(
        db.get_tenant("nope").unwrap_err().to_string(),
        "Tenant [nope] not found"
    );
    db.create_tenant("t-one").unwrap();
    assert_eq!(
        db.create_tenant("t-one").unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    db.create_database("t-one", "zdb").unwrap();
    db.create_database("t-one", "adb").unwrap();
    let names: Vec<_> = db
        .list_databases("t-one", None, 0)
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["adb", "zdb"]);
    let in_db = db
        .create_collection("t-one", "adb", "inner", s(), false)
        .unwrap();
    db.collection(in_db.id)
        .unwrap()
        .add(batch(&["r"], &[&[1.0]]))
        .unwrap();
    let cdir = dir.path().join("collections").join(in_db.id.to_string());
    assert!(cdir.exists());
    db.delete_database("t-one", "adb").unwrap();
    assert!(!cdir.exists());
    assert_eq!(
        db.collection(in_db.id).err().unwrap().to_string(),
        format!("Collection [{}] does not exist.", in_db.id)
    );
    assert_eq!(
        db.delete_database("t-one", "adb").unwrap_err().to_string(),
        "Database [adb] not found"
    );
    assert_eq!(
        db.get_database("t-one", "adb").unwrap_err().to_string(),
        "Database [adb] not found. Are you sure it exists?"
    );
    // delete collection, then reset
    db.delete_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "renamed")
        .unwrap();
    assert_eq!(
        db.delete_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "renamed")
            .unwrap_err()
            .to_string(),
        "Collection [renamed] does not exist"
    );
    db.reset().unwrap();
    assert_eq!(
        db.count_collections(DEFAULT_TENANT, DEFAULT_DATABASE)
            .unwrap(),
        0
    );
    assert!(db.get_tenant("t-one").is_err());
    assert_eq!(
        db.get_database(DEFAULT_TENANT, DEFAULT_DATABASE)
            .unwrap()
            .id,
        uuid::Uuid::nil()
    );
    drop(db);
    let db = open(dir.path());
    assert!(db.get_tenant("t-one").is_err());
    assert_eq!(
        std::fs::read_dir(dir.path().join("collections"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn second_open_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let _db = open(dir.path());
    let err = Db::open(dir.path()).err().unwrap();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
}

#[test]
fn segments_flush_compact_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_small(dir.path(), 4096);
    let c = new_collection(&db, "col");
    for i in 0..200u32 {
        let id = format!("id{i}");
        c.add(batch(&[&id], &[&[i as f32, 1.0]])).unwrap();
    }
    assert!(c.segment_count() >= 1);
    let ids: Vec<String> = (0..200).step_by(2).map(|i| format!("id{i}")).collect();
    c.delete(DeleteRequest {
        selection: Selection {
            ids: Some(ids),
            ..Default::default()
        },
        limit: None,
    })
    .unwrap();
    c.update(RecordBatch {
        ids: vec!["id1".into()],
        documents: Some(vec![Some("one".into())]),
        ..Default::default()
    })
    .unwrap();
    c.flush().unwrap();
    c.compact().unwrap();
    assert_eq!(c.segment_count(), 1);
    let g = get_all(&c);
    assert_eq!(g.ids.len(), 100);
    assert_eq!(g.ids[0], "id1");
    assert_eq!(g.documents.as_ref().unwrap()[0].as_deref(), Some("one"));
    let id = c.info().id;
    drop(c);
    drop(db);
    let db = open(dir.path());
    let c = db.collection(id).unwrap();
    let g2 = get_all(&c);
    assert_eq!(g, g2);
    let r = c
        .query(QueryRequest {
            query_embeddings: vec![vec![51.0, 1.0]],
            n_results: 3,
            include: all(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(r.ids[0], ["id51", "id49", "id53"]);
}

#[test]
fn concurrent_writers_share_the_store_while_flushing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_with(
        dir.path(),
        Options {
            memtable_bytes: 8 << 10,
            ..Options::default()
        },
    )
    .unwrap();
    let c = new_collection(&db, "col");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let c = c.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut last = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let n = c.count().unwrap();
                assert!(n >= last, "count went backwards: {last} -> {n}");
                last = n;
                let g = c
                    .get(GetRequest {
                        limit: Some(5),
                        ..Default::default()
                    })
                    .unwrap();
                assert!(g.ids.len() <= 5);
            }
        })
    };
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let ids: Vec<String> = (0..5).map(|j| format!("t{t}-{i}-{j}")).collect();
                    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                    let e: &[f32] = &[t as f32, i as f32];
                    c.add(batch(&refs, &[e; 5])).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    reader.join().unwrap();
    assert_eq!(c.count().unwrap(), 1000);
    let id = c.info().id;
    drop(c);
    drop(db);
    let db = open(dir.path());
    let c = db.collection(id).unwrap();
    assert_eq!(c.count().unwrap(), 1000);
    // Each writer's records appear in the order it wrote them.
    let g = get_all(&c);
    for t in 0..4 {
        let mine: Vec<&String> = g
            .ids
            .iter()
            .filter(|s| s.starts_with(&format!("t{t}-")))
            .collect();
        let expect: Vec<String> = (0..50)
            .flat_map(|i| (0..5).map(move |j| format!("t{t}-{i}-{j}")))
            .collect();
        assert_eq!(mine, expect.iter().collect::<Vec<_>>());
    }
}
