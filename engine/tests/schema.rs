//! The collection Schema through the real engine: creation (validation,
//! merge, the config conflict), persistence in the catalog, key discovery
//! durable across reopen (WAL replay) and flush (manifest), enforcement of
//! disabled indexes on get/query/delete, and `modify`.

mod common;
use chromite_engine::schema::{IndexType, StringValueType, ValueType, ValueTypes};
use chromite_engine::*;
use common::*;
use serde_json::json;

fn create(db: &Db, name: &str, schema: Option<Schema>) -> Result<CollectionInfo> {
    db.create_collection(
        DEFAULT_TENANT,
        DEFAULT_DATABASE,
        name,
        CollectionSpec {
            schema,
            ..Default::default()
        },
        false,
    )
}

fn schema_json(v: serde_json::Value) -> Schema {
    serde_json::from_value(v).expect("schema JSON")
}

fn sel_where(w: serde_json::Value) -> Selection {
    Selection {
        r#where: Some(Where::parse(&w).unwrap()),
        ..Default::default()
    }
}

#[test]
fn default_schema_is_chromas() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let info = create(&db, "plain", None).unwrap();
    let s = serde_json::to_value(&info.schema).unwrap();
    let d = &s["defaults"];
    assert_eq!(
        d["string"]["fts_index"],
        json!({"enabled": false, "config": {}})
    );
    assert_eq!(d["string"]["string_inverted_index"]["enabled"], true);
    assert_eq!(d["int"]["int_inverted_index"]["enabled"], true);
    assert_eq!(d["float"]["float_inverted_index"]["enabled"], true);
    assert_eq!(d["bool"]["bool_inverted_index"]["enabled"], true);
    assert_eq!(
        d["sparse_vector"]["sparse_vector_index"],
        json!({"enabled": false, "config": {"embedding_function": {"type": "unknown"}, "bm25": false}})
    );
    let v = &d["float_list"]["vector_index"];
    assert_eq!(v["enabled"], false);
    assert_eq!(v["config"]["space"], "l2");
    assert_eq!(v["config"]["hnsw"]["ef_construction"], 100);
    assert_eq!(v["config"]["hnsw"]["max_neighbors"], 16);
    assert_eq!(v["config"]["hnsw"]["batch_size"], 100);
    assert_eq!(v["config"]["hnsw"]["resize_factor"], 1.2);
    let e = &s["keys"]["#embedding"]["float_list"]["vector_index"];
    assert_eq!(e["enabled"], true);
    assert_eq!(e["config"]["source_key"], "#document");
    assert_eq!(
        s["keys"]["#document"],
        json!({"string": {"fts_index": {"enabled": true, "config": {}}, "string_inverted_index": {"enabled": false, "config": {}}}})
    );
    assert_eq!(s["keys"].as_object().unwrap().len(), 2);
    assert!(s.get("cmek").is_none());
}

#[test]
fn a_users_schema_is_merged_with_the_defaults_and_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let user = schema_json(json!({
        "defaults": {},
        "keys": {
            "#embedding": {"float_list": {"vector_index": {"enabled": true, "config": {"space": "ip", "hnsw": {"ef_search": 33}}}}},
            "#document": {"string": {"fts_index": {"enabled": false, "config": {}}}},
            "raw": {"string": {"string_inverted_index": {"enabled": false, "config": {}}}},
            "bm25": {"sparse_vector": {"sparse_vector_index": {"enabled": true, "config": {
                "embedding_function": {"type": "known", "name": "chroma_bm25", "config": {"k": 1.2}},
                "source_key": "#document", "bm25": true}}}},
            "splade": {"sparse_vector": {"sparse_vector_index": {"enabled": true, "config": {}}}}
        }
    }));
    let id = {
        let db = open(dir.path());
        let info = create(&db, "custom", Some(user)).unwrap();
        let cfg = info.config();
        assert_eq!(cfg.hnsw.space, Space::Ip);
        assert_eq!(cfg.hnsw.ef_search, 33);
        assert_eq!(
            cfg.hnsw.ef_construction, 100,
            "absent fields take the defaults"
        );
        assert!(!info.schema.fts_enabled());
        assert!(!info.schema.index_enabled("raw", ValueType::Str));
        assert!(info.schema.index_enabled("other", ValueType::Str));
        // Two sparse indexes: a single-node Chroma refuses them, Chromite does not.
        assert!(info.schema.index_enabled("bm25", ValueType::SparseVector));
        assert!(info.schema.index_enabled("splade", ValueType::SparseVector));
        info.id
    };
    let db = open(dir.path());
    let info = db.get_collection_by_id(id).unwrap();
    assert_eq!(info.config().hnsw.space, Space::Ip);
    assert!(!info.schema.fts_enabled());
    let bm25 = &info.schema.keys["bm25"];
    let cfg = &bm25
        .sparse_vector
        .as_ref()
        .unwrap()
        .sparse_vector_index
        .as_ref()
        .unwrap()
        .config;
    assert_eq!(cfg.bm25, Some(true));
    assert_eq!(
        cfg.embedding_function.as_ref().unwrap()["name"],
        "chroma_bm25"
    );
}

#[test]
fn validation_messages_are_chromas() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let cases = [
        (
            json!({"defaults": {"float_list": {"vector_index": {"enabled": true, "config": {}}}}, "keys": {}}),
            "Validation error: schema: Vector index cannot be enabled by default. It can only be enabled on #embedding field.",
        ),
        (
            json!({"defaults": {"float_list": {"vector_index": {"enabled": false, "config": {"hnsw": {}, "spann": {}}}}}, "keys": {}}),
            "Validation error: schema: Both spann and hnsw config cannot be present at the same time.",
        ),
        (
            json!({"defaults": {"sparse_vector": {"sparse_vector_index": {"enabled": true, "config": {}}}}, "keys": {}}),
            "Validation error: schema: Sparse vector index cannot be enabled by default. Please enable sparse vector index on specific keys.",
        ),
        (
            json!({"defaults": {"string": {"fts_index": {"enabled": true, "config": {}}}}, "keys": {}}),
            "Validation error: schema: Full text search / regular expression index cannot be enabled by default. It can only be enabled on #document field.",
        ),
        (
            json!({"defaults": {}, "keys": {"#secret": {}}}),
            "Validation error: schema: key cannot begin with '#'. Keys starting with '#' are reserved for system use: #secret",
        ),
        (
            json!({"defaults": {}, "keys": {"#document": {"int": {"int_inverted_index": {"enabled": true, "config": {}}}}}}),
            "Validation error: schema: Document field cannot have any value types other than string: #document",
        ),
        (
            json!({"defaults": {}, "keys": {"#embedding": {"string": {"string_inverted_index": {"enabled": true, "config": {}}}}}}),
            "Validation error: schema: Embedding field cannot have any value types other than float_list: #embedding",
        ),
        (
            json!({"defaults": {}, "keys": {"vec": {"float_list": {"vector_index": {"enabled": true, "config": {}}}}}}),
            "Validation error: schema: Vector index can only be enabled on #embedding field: vec",
        ),
        (
            json!({"defaults": {}, "keys": {"#embedding": {"float_list": {"vector_index": {"enabled": true, "config": {"source_key": "body"}}}}}}),
            "Validation error: schema: Vector index can only source from #document",
        ),
        (
            json!({"defaults": {}, "keys": {"sp": {"sparse_vector": {"sparse_vector_index": {"enabled": true, "config": {"source_key": "body"}}}}}}),
            "Validation error: schema: If source_key is provided then embedding_function must also be provided since there is no default embedding function.",
        ),
        (
            json!({"defaults": {}, "keys": {"sp": {"sparse_vector": {"sparse_vector_index": {"enabled": false, "config": {"source_key": "#meta"}}}}}}),
            "Validation error: schema: source_key cannot begin with '#'. The only valid key starting with '#' is Key.DOCUMENT or '#document'.",
        ),
        (
            json!({"defaults": {}, "keys": {"body": {"string": {"fts_index": {"enabled": true, "config": {}}}}}}),
            "Validation error: schema: Full text search / regular expression index can only be enabled on #document field: body",
        ),
        (
            json!({"defaults": {}, "keys": {"#document": {"string": {"string_inverted_index": {"enabled": true, "config": {}}}}}}),
            "Validation error: schema: String inverted index can not be enabled on #document key: #document",
        ),
        (
            json!({"defaults": {}, "keys": {}, "cmek": {"gcp": "not-a-key"}}),
            "Validation error: schema: CMEK does not match expected pattern",
        ),
        (
            json!({"defaults": {}, "keys": {"#embedding": {"float_list": {"vector_index": {"enabled": true, "config": {"hnsw": {"batch_size": 1}}}}}}}),
            "Failed to reconcile schema: Invalid HNSW configuration: batch_size",
        ),
    ];
    for (i, (schema, message)) in cases.into_iter().enumerate() {
        let err = create(&db, &format!("bad{i:02}"), Some(schema_json(schema))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().starts_with(message), "case {i}: got {err}");
    }
    // A valid CMEK passes.
    create(
        &db,
        "cmek",
        Some(schema_json(json!({"defaults": {}, "keys": {},
            "cmek": {"gcp": "projects/p/locations/l/keyRings/r/cryptoKeys/k"}}))),
    )
    .unwrap();
    assert_eq!(
        db.count_collections(DEFAULT_TENANT, DEFAULT_DATABASE)
            .unwrap(),
        1
    );
}

#[test]
fn a_custom_schema_with_a_custom_configuration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let mut config = CollectionConfig::default();
    config.hnsw.space = Space::Cosine;
    let schema = schema_json(
        json!({"defaults": {}, "keys": {"raw": {"string": {"string_inverted_index": {"enabled": false, "config": {}}}}}}),
    );
    let err = db
        .create_collection(
            DEFAULT_TENANT,
            DEFAULT_DATABASE,
            "both",
            CollectionSpec {
                config: config.clone(),
                schema: Some(schema),
                ..Default::default()
            },
            false,
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Failed to reconcile schema: Cannot set both collection config and schema simultaneously"
    );
    // A default schema (what the Python client sends) with a custom
    // configuration: the configuration decides.
    let info = db
        .create_collection(
            DEFAULT_TENANT,
            DEFAULT_DATABASE,
            "cfg",
            CollectionSpec {
                config,
                schema: Some(Schema::default()),
                ..Default::default()
            },
            false,
        )
        .unwrap();
    assert_eq!(info.config().hnsw.space, Space::Cosine);
}

#[test]
fn keys_are_discovered_durably_across_reopen_and_flush() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let db = open_small(dir.path(), 4 << 10);
        let c = new_collection(&db, "disc");
        let mut b = batch(&["a", "b"], &[&[1.0, 0.0], &[0.0, 1.0]]);
        b.metadatas = Some(vec![
            Some(upd(&[
                ("year", Some(MetadataValue::Int(2021))),
                ("chroma:internal", Some(MetadataValue::Int(1))),
            ])),
            Some(upd(&[
                ("year", Some(MetadataValue::Str("old".into()))),
                ("tags", Some(MetadataValue::StrArray(vec!["x".into()]))),
            ])),
        ]);
        c.add(b).unwrap();
        assert!(c.info().version > 0, "version grows with writes");
        // Enough rows to flush several memtables (the keys then live in
        // the manifest), then one more key that stays in the WAL.
        for i in 0..200 {
            let mut b = batch(&[&format!("r{i}")], &[&[i as f32, 1.0]]);
            b.metadatas = Some(vec![Some(upd(&[(
                "score",
                Some(MetadataValue::Float(0.5)),
            )]))]);
            c.add(b).unwrap();
        }
        let mut b = batch(&["last"], &[&[9.0, 9.0]]);
        b.metadatas = Some(vec![Some(upd(&[(
            "flag",
            Some(MetadataValue::Bool(true)),
        )]))]);
        c.add(b).unwrap();
        c.info().id
    };
    let db = open_small(dir.path(), 4 << 10);
    let s = db.get_collection_by_id(id).unwrap().schema;
    let year = &s.keys["year"];
    assert!(
        year.int.is_some() && year.string.is_some(),
        "both types of a key are kept"
    );
    assert!(
        s.keys["tags"].string.is_some(),
        "an array is discovered as its element type"
    );
    assert!(s.keys["score"].float.is_some());
    assert!(s.keys["flag"].boolean.is_some());
    assert!(
        !s.keys.contains_key("chroma:internal"),
        "chroma: keys are never discovered"
    );
    // A discovered key takes the defaults of its type.
    assert_eq!(s.keys["score"].float, s.defaults.float);
}

#[test]
fn disabled_indexes_refuse_filters_but_keep_the_values() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let mut schema = Schema::default();
    schema.keys.insert(
        "secret".into(),
        ValueTypes {
            string: Some(StringValueType {
                fts_index: None,
                string_inverted_index: Some(IndexType::new(false)),
            }),
            ..Default::default()
        },
    );
    schema
        .keys
        .get_mut(schema::DOCUMENT_KEY)
        .unwrap()
        .string
        .as_mut()
        .unwrap()
        .fts_index = Some(IndexType::new(false));
    let info = create(&db, "locked", Some(schema)).unwrap();
    let c = db.collection(info.id).unwrap();
    let mut b = batch(&["a"], &[&[1.0, 0.0]]);
    b.metadatas = Some(vec![Some(upd(&[
        ("secret", Some(MetadataValue::Str("s".into()))),
        ("open", Some(MetadataValue::Int(1))),
    ]))]);
    b.documents = Some(vec![Some("hello world".into())]);
    c.add(b).unwrap();

    let key_msg =
        "Cannot filter using metadata key 'secret' with type 'Str' because indexing is disabled";
    let fts_msg = "Cannot filter using full-text search because FTS indexing is disabled";
    let get = |sel: Selection| {
        c.get(GetRequest {
            selection: sel,
            ..Default::default()
        })
    };
    assert_eq!(
        get(sel_where(json!({"secret": "s"})))
            .unwrap_err()
            .to_string(),
        key_msg
    );
    assert_eq!(
        get(sel_where(
            json!({"$and": [{"open": 1}, {"secret": {"$in": ["s"]}}]})
        ))
        .unwrap_err()
        .to_string(),
        key_msg
    );
    // The same key with another type is indexed (the defaults).
    assert_eq!(get(sel_where(json!({"secret": 3}))).unwrap().ids.len(), 0);
    assert_eq!(get(sel_where(json!({"open": 1}))).unwrap().ids, vec!["a"]);
    let doc_sel = Selection {
        where_document: Some(WhereDocument::parse(&json!({"$contains": "hello"})).unwrap()),
        ..Default::default()
    };
    assert_eq!(get(doc_sel.clone()).unwrap_err().to_string(), fts_msg);
    let q = c.query(QueryRequest {
        query_embeddings: vec![vec![1.0, 0.0]],
        n_results: 1,
        selection: sel_where(json!({"secret": "s"})),
        ..Default::default()
    });
    assert_eq!(q.unwrap_err().to_string(), key_msg);
    let d = c.delete(DeleteRequest {
        selection: doc_sel,
        limit: None,
    });
    assert_eq!(d.unwrap_err().to_string(), fts_msg);
    // Nothing was lost: values and documents are stored and returned.
    let g = get_all(&c);
    assert_eq!(g.documents.unwrap()[0].as_deref(), Some("hello world"));
    assert_eq!(
        g.metadatas.unwrap()[0].as_ref().unwrap().get("secret"),
        Some(&MetadataValue::Str("s".into()))
    );
}

#[test]
fn modify_updates_the_schema_and_keeps_discovered_keys() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let db = open(dir.path());
        let c = new_collection(&db, "mod");
        let mut b = batch(&["a"], &[&[1.0, 0.0]]);
        b.metadatas = Some(vec![Some(upd(&[("k", Some(MetadataValue::Int(1)))]))]);
        c.add(b).unwrap();
        db.modify_collection(
            c.info().id,
            None,
            None,
            Some(ConfigUpdate {
                ef_search: Some(77),
                ..Default::default()
            }),
        )
        .unwrap();
        let info = c.info();
        assert_eq!(info.config().hnsw.ef_search, 77);
        assert!(info.schema.keys.contains_key("k"));
        let s = serde_json::to_value(&info.schema).unwrap();
        assert_eq!(
            s["defaults"]["float_list"]["vector_index"]["config"]["hnsw"]["ef_search"],
            77
        );
        assert_eq!(
            s["keys"]["#embedding"]["float_list"]["vector_index"]["config"]["hnsw"]["ef_search"],
            77
        );
        info.id
    };
    let db = open(dir.path());
    let info = db.get_collection_by_id(id).unwrap();
    assert_eq!(info.config().hnsw.ef_search, 77);
    assert!(info.schema.keys.contains_key("k"));
    // Deleted and recreated: a fresh default schema.
    db.delete_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "mod")
        .unwrap();
    let again = create(&db, "mod", None).unwrap();
    assert_eq!(again.schema, Schema::default());
    assert_eq!(again.version, 0);
}
