//! Collections (§4.3, §7): create, get-or-create, list order, count, get by
//! name and id, modify, delete, configuration_json and schema.

mod common;

use axum::http::StatusCode;
use common::{TestApp, C};
use serde_json::json;

#[tokio::test]
async fn create_returns_the_full_collection_object() {
    let app = TestApp::new();
    let r = app
        .post(
            C,
            json!({"name": "col1", "metadata": {"a": 1, "b": "x", "c": true, "d": 1.5}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let c = r.json();
    uuid::Uuid::parse_str(c["id"].as_str().unwrap()).unwrap();
    assert_eq!(c["name"], "col1");
    assert_eq!(
        c["metadata"],
        json!({"a": 1, "b": "x", "c": true, "d": 1.5})
    );
    assert_eq!(c["dimension"], json!(null));
    assert_eq!(
        (c["tenant"].as_str(), c["database"].as_str()),
        (Some("default_tenant"), Some("default_database"))
    );
    assert_eq!(
        (c["log_position"].as_u64(), c["version"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(
        c["configuration_json"],
        json!({"hnsw": {"space": "l2", "ef_construction": 100, "ef_search": 100, "max_neighbors": 16,
                        "resize_factor": 1.2, "sync_threshold": 1000}, "spann": null, "embedding_function": null})
    );
    let vi = &c["schema"]["keys"]["#embedding"]["float_list"]["vector_index"];
    assert_eq!(vi["enabled"], true);
    assert_eq!(vi["config"]["space"], "l2");
    assert_eq!(vi["config"]["source_key"], "#document");
    assert_eq!(vi["config"]["hnsw"]["ef_construction"], 100);
    assert_eq!(
        c["schema"]["keys"]["#document"]["string"]["fts_index"]["enabled"],
        true
    );
    assert_eq!(
        c["schema"]["defaults"]["sparse_vector"]["sparse_vector_index"]["enabled"],
        false
    );
}

#[tokio::test]
async fn duplicate_and_get_or_create() {
    let app = TestApp::new();
    let id = app
        .create_collection(json!({"name": "dup", "metadata": {"v": 1}}))
        .await;
    app.post(C, json!({"name": "dup"})).await.assert_error(
        409,
        "ChromaError",
        "Collection [dup] already exists",
    );
    let r = app
        .post(C, json!({"name": "dup", "metadata": {"v": 2}, "configuration": {"hnsw": {"space": "ip"}}, "get_or_create": true}))
        .await;
    let c = r.json();
    assert_eq!(c["id"], id.as_str());
    assert_eq!(
        c["metadata"],
        json!({"v": 1}),
        "get_or_create ignores new metadata"
    );
    assert_eq!(
        c["configuration_json"]["hnsw"]["space"], "l2",
        "and new configuration"
    );
}

#[tokio::test]
async fn names_and_metadata_are_validated() {
    let app = TestApp::new();
    app.post(C, json!({"name": "ab"})).await.assert_error(
        400,
        "InvalidArgumentError",
        "Validation error: name: Expected a name containing 3-512 characters from [a-zA-Z0-9._-], starting and ending with a character in [a-zA-Z0-9]. Got: ab",
    );
    app.post(C, json!({"name": "a..b"})).await.assert_error(
        400,
        "InvalidArgumentError",
        "two consecutive periods",
    );
    app.post(C, json!({"name": "192.168.1.1"}))
        .await
        .assert_error(400, "InvalidArgumentError", "not a valid ip address");
    app.post(C, json!({"name": "emptymeta", "metadata": {}}))
        .await
        .assert_error(
            400,
            "InvalidArgumentError",
            "Validation error: metadata: Metadata cannot be empty",
        );
    // list, object and null values are refused instead of crashing
    for bad in [
        json!({"l": [1, 2]}),
        json!({"o": {"x": 1}}),
        json!({"n": null}),
    ] {
        app.post(C, json!({"name": "badmeta", "metadata": bad}))
            .await
            .assert_error(422, "ChromaError", "metadata");
    }
    app.post(
        C,
        json!({"name": "badcfg", "configuration": {"hnsw": {"bogus": 1}}}),
    )
    .await
    .assert_error(422, "ChromaError", "bogus");
    app.post(
        C,
        json!({"name": "badspace", "configuration": {"hnsw": {"space": "manhattan"}}}),
    )
    .await
    .assert_error(422, "ChromaError", "manhattan");
    app.post(
        C,
        json!({"name": "both", "configuration": {"hnsw": {}, "spann": {}}}),
    )
    .await
    .assert_error(
        400,
        "InvalidArgumentError",
        "Multiple vector index configurations provided",
    );
    app.post(
        "/api/v2/tenants/default_tenant/databases/nodb/collections",
        json!({"name": "x1x"}),
    )
    .await
    .assert_error(
        400,
        "InvalidArgumentError",
        "Database [nodb] does not exist",
    );
}

#[tokio::test]
async fn configuration_sources_and_precedence() {
    let app = TestApp::new();
    let c = app.post(C, json!({"name": "cfg", "configuration": {"hnsw": {"space": "cosine", "ef_search": 50, "max_neighbors": 32},
        "embedding_function": {"type": "known", "name": "default", "config": {}}}})).await.json();
    let h = &c["configuration_json"]["hnsw"];
    assert_eq!(
        (
            h["space"].as_str(),
            h["ef_search"].as_u64(),
            h["max_neighbors"].as_u64()
        ),
        (Some("cosine"), Some(50), Some(32))
    );
    assert_eq!(
        c["configuration_json"]["embedding_function"],
        json!({"type": "known", "name": "default", "config": {}})
    );
    assert_eq!(
        c["schema"]["keys"]["#embedding"]["float_list"]["vector_index"]["config"]
            ["embedding_function"]["name"],
        "default"
    );
    // legacy metadata wins over configuration and stays in metadata
    let c = app.post(C, json!({"name": "legacy", "metadata": {"hnsw:space": "cosine"}, "configuration": {"hnsw": {"space": "l2"}}})).await.json();
    assert_eq!(c["configuration_json"]["hnsw"]["space"], "cosine");
    assert_eq!(c["metadata"]["hnsw:space"], "cosine");
    // spann is answered with an equivalent hnsw config
    let c = app.post(C, json!({"name": "spanny", "configuration": {"spann": {"space": "ip", "search_nprobe": 64}}})).await.json();
    assert_eq!(c["configuration_json"]["hnsw"]["space"], "ip");
    assert_eq!(c["configuration_json"]["spann"], json!(null));
    // the client's schema sets space and embedding function
    let c = app.post(C, json!({"name": "schemed", "configuration": null, "schema": {"defaults": {}, "keys": {"#embedding": {"float_list": {"vector_index": {"enabled": true,
        "config": {"space": "ip", "source_key": "#document", "embedding_function": {"type": "known", "name": "x", "config": {}}}}}}}}})).await.json();
    assert_eq!(c["configuration_json"]["hnsw"]["space"], "ip");
    assert_eq!(c["configuration_json"]["embedding_function"]["name"], "x");
    // a sparse index is accepted (a single-node Chroma refuses it)
    let c = app.post(C, json!({"name": "sparse", "schema": {"defaults": {}, "keys": {"sv": {"sparse_vector": {"sparse_vector_index": {"enabled": true, "config": {}}}}}}}))
        .await
        .json();
    assert_eq!(
        c["schema"]["keys"]["sv"]["sparse_vector"]["sparse_vector_index"]["enabled"],
        true
    );
}

#[tokio::test]
async fn list_is_ordered_by_uuid_and_pages() {
    let app = TestApp::new();
    for n in ["col1", "col2", "col3", "col4"] {
        app.create_collection(json!({"name": n})).await;
    }
    let all = app.get(C).await.json();
    let ids: Vec<String> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let page = app.get(&format!("{C}?limit=2&offset=1")).await.json();
    let page_ids: Vec<&str> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(page_ids, [ids[1].as_str(), ids[2].as_str()]);
    assert_eq!(
        app.get("/api/v2/tenants/default_tenant/databases/default_database/collections_count")
            .await
            .json(),
        json!(4)
    );
    app.get(&format!("{C}?limit=-1"))
        .await
        .assert_error(400, "InvalidArgumentError", "");
}

#[tokio::test]
async fn get_by_name_by_id_and_not_found() {
    let app = TestApp::new();
    let id = app.create_collection(json!({"name": "findme"})).await;
    assert_eq!(
        app.get(&format!("{C}/findme")).await.json()["id"],
        id.as_str()
    );
    assert_eq!(
        app.get(&format!("{C}/by-id/{id}")).await.json()["name"],
        "findme"
    );
    app.get(&format!("{C}/missing")).await.assert_error(
        404,
        "NotFoundError",
        "Collection [missing] does not exist",
    );
    // a UUID in the name slot is a name
    app.get(&format!("{C}/{id}")).await.assert_error(
        404,
        "NotFoundError",
        &format!("Collection [{id}] does not exist"),
    );
    let other = uuid::Uuid::new_v4();
    app.get(&format!("{C}/by-id/{other}")).await.assert_error(
        404,
        "NotFoundError",
        &format!("Collection [{other}] does not exist"),
    );
    app.get(&format!("{C}/by-id/not-a-uuid"))
        .await
        .assert_error(
            400,
            "InvalidArgumentError",
            "Validation error: collection_id: Invalid collection ID format, expected UUID",
        );
}

#[tokio::test]
async fn modify_renames_replaces_metadata_and_updates_configuration() {
    let app = TestApp::new();
    let id = app
        .create_collection(json!({"name": "before", "metadata": {"a": 1, "b": 2}}))
        .await;
    let r = app
        .put(
            &format!("{C}/{id}"),
            json!({"new_name": "after", "new_metadata": {"c": 3}}),
        )
        .await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!({})));
    let c = app.get(&format!("{C}/after")).await.json();
    assert_eq!(c["id"], id.as_str());
    assert_eq!(c["metadata"], json!({"c": 3}), "new_metadata replaces");
    app.get(&format!("{C}/before"))
        .await
        .assert_error(404, "NotFoundError", "does not exist");

    app.put(&format!("{C}/{id}"), json!({"new_metadata": {}}))
        .await
        .assert_error(
            400,
            "InvalidArgumentError",
            "Validation error: new_metadata: Metadata cannot be empty",
        );
    let r = app.put(&format!("{C}/{id}"), json!({"new_configuration": {"hnsw": {"ef_search": 77}, "spann": null, "embedding_function": null}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        app.get(&format!("{C}/after")).await.json()["configuration_json"]["hnsw"]["ef_search"],
        77
    );
    app.put(
        &format!("{C}/{id}"),
        json!({"new_configuration": {"hnsw": {"space": "ip"}}}),
    )
    .await
    .assert_error(422, "ChromaError", "unknown field `space`");

    // renaming onto an existing name is a 409 (Chroma answers 500 here)
    app.create_collection(json!({"name": "taken"})).await;
    let r = app
        .put(&format!("{C}/{id}"), json!({"new_name": "taken"}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    app.put(
        &format!("{C}/{}", uuid::Uuid::new_v4()),
        json!({"new_name": "zzz"}),
    )
    .await
    .assert_error(404, "NotFoundError", "does not exist");
}

#[tokio::test]
async fn delete_by_name() {
    let app = TestApp::new();
    let id = app.create_collection(json!({"name": "gone"})).await;
    let r = app.delete(&format!("{C}/gone")).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!({})));
    app.delete(&format!("{C}/gone")).await.assert_error(
        404,
        "NotFoundError",
        "Collection [gone] does not exist",
    );
    app.op(&id, "add", json!({"ids": ["a"], "embeddings": [[1.0]]}))
        .await
        .assert_error(
            404,
            "NotFoundError",
            &format!("Collection [{id}] does not exist."),
        );
    app.get(&format!("{C}/{id}/count"))
        .await
        .assert_error(404, "NotFoundError", "does not exist");
}
