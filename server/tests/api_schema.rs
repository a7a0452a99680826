//! The collection Schema over HTTP: accepted with Chroma's aliases and
//! 422s, validated with its 400s, returned on every Collection object,
//! enforced on get/query/delete, keys discovered on write; `version` grows
//! with writes; every response carries `chroma-trace-id`.

mod common;
use axum::body::Body;
use axum::http::Request;
use common::*;
use serde_json::json;

fn bm25_schema() -> serde_json::Value {
    // What the Python client 1.5.9 sends (captured, ../shared §6.2).
    json!({
      "defaults": {
        "string": {"fts_index": {"enabled": false, "config": {}}, "string_inverted_index": {"enabled": true, "config": {}}},
        "float_list": {"vector_index": {"enabled": false, "config": {"embedding_function": {"name": "default", "type": "known", "config": {}}, "space": "l2"}}},
        "sparse_vector": {"sparse_vector_index": {"enabled": false, "config": {"embedding_function": {"type": "unknown"}}}},
        "int": {"int_inverted_index": {"enabled": true, "config": {}}},
        "float": {"float_inverted_index": {"enabled": true, "config": {}}},
        "bool": {"bool_inverted_index": {"enabled": true, "config": {}}}},
      "keys": {
        "#document": {"string": {"fts_index": {"enabled": false, "config": {}}, "string_inverted_index": {"enabled": false, "config": {}}}},
        "#embedding": {"float_list": {"vector_index": {"enabled": true, "config": {"embedding_function": {"name": "default", "type": "known", "config": {}}, "source_key": "#document", "space": "l2"}}}},
        "bm25": {"sparse_vector": {"sparse_vector_index": {"enabled": true, "config": {
          "embedding_function": {"name": "chroma_bm25", "type": "known", "config": {"k": 1.2, "b": 0.75, "avg_doc_length": 256.0, "token_max_length": 40, "include_tokens": false}},
          "source_key": "#document", "bm25": true}}}},
        "year": {"int": {"int_inverted_index": {"enabled": true, "config": {}}}},
        "raw_blob": {"string": {"string_inverted_index": {"enabled": false, "config": {}}}}}
    })
}

#[tokio::test]
async fn a_schema_is_stored_merged_and_returned_everywhere() {
    let app = TestApp::new();
    let c = app
        .post(C, json!({"name": "bm25docs", "metadata": null, "configuration": null, "get_or_create": false, "schema": bm25_schema()}))
        .await
        .json();
    let s = &c["schema"];
    assert_eq!(
        s["keys"]["#document"]["string"]["fts_index"]["enabled"],
        false
    );
    assert_eq!(
        s["keys"]["raw_blob"]["string"]["string_inverted_index"]["enabled"],
        false
    );
    assert_eq!(
        s["keys"]["bm25"]["sparse_vector"]["sparse_vector_index"]["config"]["embedding_function"]
            ["name"],
        "chroma_bm25"
    );
    // Merged with the server's defaults field by field: HNSW parameters filled in.
    let hnsw = &s["keys"]["#embedding"]["float_list"]["vector_index"]["config"]["hnsw"];
    assert_eq!(
        (
            hnsw["ef_construction"].as_u64(),
            hnsw["max_neighbors"].as_u64()
        ),
        (Some(100), Some(16))
    );
    assert_eq!(
        c["configuration_json"]["embedding_function"]["name"],
        "default"
    );
    // By name, in the list, and from get_or_create (which ignores a new schema).
    let by_name = app.get(&format!("{C}/bm25docs")).await.json();
    let list = app.get(C).await.json();
    let again = app
        .post(C, json!({"name": "bm25docs", "get_or_create": true, "schema": {"defaults": {}, "keys": {}}}))
        .await
        .json();
    for other in [&by_name["schema"], &list[0]["schema"], &again["schema"]] {
        assert_eq!(other, s);
    }
}

#[tokio::test]
async fn schema_input_errors() {
    let app = TestApp::new();
    app.post(C, json!({"name": "bad-u1", "schema": {"defaults": {}, "keys": {"t": {"string": {"string_inverted_index": {"enabled": true, "config": {"foo": 1}}}}}}}))
        .await
        .assert_error(422, "ChromaError", "schema.keys.t.string.string_inverted_index.config.foo: unknown field `foo`, there are no fields");
    app.post(C, json!({"name": "bad-u2", "schema": {"defaults": {}, "keys": {"#embedding": {"float_list": {"vector_index": {"enabled": true, "config": {"hnsw": {"m": 3}}}}}}}}))
        .await
        .assert_error(422, "ChromaError", "unknown field `m`");
    app.post(C, json!({"name": "bad-u3", "schema": {"defaults": {}, "keys": {"#x": {}}}}))
        .await
        .assert_error(400, "InvalidArgumentError", "Validation error: schema: key cannot begin with '#'. Keys starting with '#' are reserved for system use: #x");
    app.post(C, json!({"name": "bad-u4", "configuration": {"hnsw": {"space": "cosine"}}, "schema": bm25_schema()}))
        .await
        .assert_error(400, "InvalidArgumentError", "Failed to reconcile schema: Cannot set both collection config and schema simultaneously");
    // Aliases are accepted on input and answered with the canonical names.
    let c = app
        .post(C, json!({"name": "aliases", "schema": {"defaults": {}, "key_overrides": {"k": {"#string": {"$string_inverted_index": {"enabled": false, "config": {}}}}}}}))
        .await
        .json();
    assert_eq!(
        c["schema"]["keys"]["k"]["string"]["string_inverted_index"]["enabled"],
        false
    );
    // The HNSW configuration takes every parameter Chroma's does.
    let c = app
        .post(C, json!({"name": "threads", "configuration": {"hnsw": {"num_threads": 4, "batch_size": 50, "sync_threshold": 500, "resize_factor": 1.5}}}))
        .await
        .json();
    let h = &c["schema"]["keys"]["#embedding"]["float_list"]["vector_index"]["config"]["hnsw"];
    assert_eq!(
        (
            h["num_threads"].as_u64(),
            h["batch_size"].as_u64(),
            h["sync_threshold"].as_u64()
        ),
        (Some(4), Some(50), Some(500))
    );
    assert_eq!(c["configuration_json"]["hnsw"]["resize_factor"], 1.5);
}

#[tokio::test]
async fn disabled_indexes_are_enforced_and_keys_discovered() {
    let app = TestApp::new();
    let id = app
        .create_collection(json!({"name": "enf", "schema": bm25_schema()}))
        .await;
    let add = app
        .op(&id, "add", json!({"ids": ["a", "b"], "embeddings": [[1.0, 0.0], [0.0, 1.0]],
            "documents": ["alpha doc", "beta doc"],
            "metadatas": [{"raw_blob": "x", "year": 2020, "fresh": 1.5}, {"raw_blob": "y", "year": 2021}]}))
        .await;
    assert_eq!(add.status.as_u16(), 201, "{}", add.text());
    for (op, body) in [
        ("get", json!({"where": {"raw_blob": "x"}})),
        (
            "query",
            json!({"query_embeddings": [[1.0, 0.0]], "n_results": 1, "where": {"raw_blob": "x"}}),
        ),
        ("delete", json!({"where": {"raw_blob": "x"}})),
    ] {
        app.op(&id, op, body)
            .await
            .assert_error(400, "InvalidArgumentError", "Cannot filter using metadata key 'raw_blob' with type 'Str' because indexing is disabled");
    }
    for (op, body) in [
        ("get", json!({"where_document": {"$contains": "alpha"}})),
        (
            "query",
            json!({"query_embeddings": [[1.0, 0.0]], "n_results": 1, "where_document": {"$contains": "alpha"}}),
        ),
        ("delete", json!({"where_document": {"$contains": "alpha"}})),
        (
            "get",
            json!({"where": {"#document": {"$contains": "alpha"}}}),
        ),
    ] {
        app.op(&id, op, body).await.assert_error(
            400,
            "InvalidArgumentError",
            "Cannot filter using full-text search because FTS indexing is disabled",
        );
    }
    // Nothing was deleted, values are returned, indexed keys still filter.
    let g = app
        .op(
            &id,
            "get",
            json!({"where": {"year": 2021}, "include": ["metadatas", "documents"]}),
        )
        .await
        .json();
    assert_eq!(g["ids"], json!(["b"]));
    assert_eq!(g["metadatas"][0]["raw_blob"], "y");
    assert_eq!(app.get(&format!("{C}/{id}/count")).await.json(), 2);
    // The new key was discovered with its type's defaults.
    let c = app.get(&format!("{C}/enf")).await.json();
    assert_eq!(
        c["schema"]["keys"]["fresh"],
        json!({"float": {"float_inverted_index": {"enabled": true, "config": {}}}})
    );
    assert_eq!(
        c["schema"]["keys"]["year"]["int"]["int_inverted_index"]["enabled"],
        true
    );
}

#[tokio::test]
async fn version_grows_with_writes_and_modify_updates_the_schema() {
    let app = TestApp::new();
    let c = app.post(C, json!({"name": "ver"})).await.json();
    assert_eq!(c["version"], 0);
    let id = c["id"].as_str().unwrap().to_string();
    app.op(&id, "add", json!({"ids": ["a"], "embeddings": [[1.0]]}))
        .await;
    let v1 = app.get(&format!("{C}/ver")).await.json()["version"]
        .as_u64()
        .unwrap();
    app.op(&id, "upsert", json!({"ids": ["a"], "embeddings": [[2.0]]}))
        .await;
    let v2 = app.get(&format!("{C}/ver")).await.json()["version"]
        .as_u64()
        .unwrap();
    assert!(0 < v1 && v1 < v2, "{v1} {v2}");
    let r = app
        .put(
            &format!("{C}/{id}"),
            json!({"new_configuration": {"hnsw": {"ef_search": 42}}}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    let c = app.get(&format!("{C}/ver")).await.json();
    for at in [&c["schema"]["defaults"], &c["schema"]["keys"]["#embedding"]] {
        assert_eq!(
            at["float_list"]["vector_index"]["config"]["hnsw"]["ef_search"],
            42
        );
    }
    assert_eq!(c["configuration_json"]["hnsw"]["ef_search"], 42);
}

#[tokio::test]
async fn every_response_carries_a_trace_id() {
    let app = TestApp::new();
    let ok = app.get("/api/v2/heartbeat").await;
    let id = ok.headers["chroma-trace-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    let err = app.get(&format!("{C}/nope")).await;
    assert_eq!(err.status.as_u16(), 404);
    let other = err.headers["chroma-trace-id"].to_str().unwrap();
    assert_ne!(other, id, "a new id per request");
    let traced = app
        .request(
            Request::get("/api/v2/heartbeat")
                .header(
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        traced.headers["chroma-trace-id"],
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
}

#[tokio::test]
async fn sparse_vectors_are_metadata_values() {
    let app = TestApp::new();
    let id = app.create_collection(json!({"name": "sparse"})).await;
    // The Python client's body (captured, ../shared §6.1), and the JS one (no tokens).
    let r = app
        .op(&id, "upsert", json!({"ids": ["s1", "s2"], "embeddings": [[0.0, 0.1, 0.2], [0.2, 0.1, 0.0]],
            "metadatas": [{"sparse_embedding": {"#type": "sparse_vector", "indices": [3, 9], "values": [0.25, 0.75], "tokens": ["foo", "bar"]}, "n": 1},
                          {"sparse_embedding": {"indices": [1], "values": [2.0]}}],
            "documents": null, "uris": null}))
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    let g = app
        .op(&id, "get", json!({"include": ["metadatas"]}))
        .await
        .json();
    assert_eq!(
        g["metadatas"],
        json!([{"n": 1, "sparse_embedding": {"#type": "sparse_vector", "indices": [3, 9], "values": [0.25, 0.75], "tokens": ["foo", "bar"]}},
               {"sparse_embedding": {"#type": "sparse_vector", "indices": [1], "values": [2.0], "tokens": null}}])
    );
    let q = app
        .op(&id, "query", json!({"query_embeddings": [[0.0, 0.1, 0.2]], "n_results": 1, "include": ["metadatas"]}))
        .await
        .json();
    assert_eq!(
        q["metadatas"][0][0]["sparse_embedding"]["indices"],
        json!([3, 9])
    );
    let c = app.get(&format!("{C}/sparse")).await.json();
    assert_eq!(
        c["schema"]["keys"]["sparse_embedding"]["sparse_vector"]["sparse_vector_index"]["enabled"],
        false
    );
    // Chroma's rules, with its message for record metadata.
    for (i, bad) in [
        json!({"indices": [9, 3], "values": [1.0, 2.0]}),
        json!({"indices": [3, 3], "values": [1.0, 2.0]}),
        json!({"indices": [3], "values": [1.0, 2.0]}),
        json!({"indices": [3, 4], "values": [1.0, 2.0], "tokens": ["a"]}),
    ]
    .into_iter()
    .enumerate()
    {
        let metadatas = json!([{"ok": 1}, {"sp": bad}]);
        app.op(&id, "add", json!({"ids": [format!("x{i}"), format!("y{i}")], "embeddings": [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], "metadatas": metadatas}))
            .await
            .assert_error(400, "InvalidArgumentError", "Validation error: metadatas: Invalid metadata at index 1");
    }
    for key in ["#reserved", "$op"] {
        app.op(
            &id,
            "upsert",
            json!({"ids": ["z"], "embeddings": [[1.0, 2.0, 3.0]], "metadatas": [{key: 1}]}),
        )
        .await
        .assert_error(
            400,
            "InvalidArgumentError",
            "Validation error: metadatas: Invalid metadata at index 0",
        );
    }
    app.op(&id, "add", json!({"ids": ["z"], "embeddings": [[1.0, 2.0, 3.0]], "metadatas": [{"sp": {"#type": "dense", "indices": [1], "values": [1.0]}}]}))
        .await
        .assert_error(422, "ChromaError", "");
    // Nothing of the refused writes was stored; a sparse vector is no filter operand.
    assert_eq!(app.get(&format!("{C}/{id}/count")).await.json(), 2);
    app.op(
        &id,
        "get",
        json!({"where": {"sparse_embedding": {"indices": [3, 9], "values": [0.25, 0.75]}}}),
    )
    .await
    .assert_error(400, "InvalidArgumentError", "");
}
