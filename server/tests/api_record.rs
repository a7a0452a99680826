//! Record routes (§5): add (201), base64 embeddings, get order and include,
//! update/upsert merge semantics, delete counts, validation messages.

mod common;

use axum::http::StatusCode;
use common::{TestApp, C};
use serde_json::{json, Value};

async fn seeded(app: &TestApp) -> String {
    let id = app.create_collection(json!({"name": "recs"})).await;
    let r = app
        .op(
            &id,
            "add",
            json!({
                "ids": ["id2", "id1", "id3"],
                "embeddings": [[0.0, 1.0], [1.0, 0.0], [0.1, 0.2]],
                "documents": ["foo bar", "hello world", null],
                "metadatas": [{"k": 2, "s": "b"}, {"k": 1, "s": "a"}, null],
                "uris": ["u2", null, "u3"]
            }),
        )
        .await;
    assert_eq!((r.status, r.json()), (StatusCode::CREATED, json!({})));
    id
}

#[tokio::test]
async fn add_is_201_and_get_defaults_to_documents_and_metadatas() {
    let app = TestApp::new();
    let id = seeded(&app).await;
    let r = app.op(&id, "get", json!({})).await.json();
    assert_eq!(
        r,
        json!({"ids": ["id2", "id1", "id3"], "embeddings": null, "documents": ["foo bar", "hello world", null],
               "uris": null, "metadatas": [{"k": 2, "s": "b"}, {"k": 1, "s": "a"}, null],
               "include": ["documents", "metadatas"]})
    );
    assert_eq!(app.get(&format!("{C}/{id}/count")).await.json(), json!(3));
    assert_eq!(
        app.get(&format!("{C}/{id}/count?read_level=index_only"))
            .await
            .json(),
        json!(3)
    );
    assert_eq!(
        app.get(&format!("{C}/by-id/{id}")).await.json()["dimension"],
        2
    );
}

#[tokio::test]
async fn get_is_in_insertion_order_and_echoes_include() {
    let app = TestApp::new();
    let id = seeded(&app).await;
    let r = app
        .op(&id, "get", json!({"ids": ["id1", "nope", "id2"], "where": null, "where_document": null, "limit": null,
                               "offset": null, "include": ["embeddings", "uris", "uris", "distances"]}))
        .await
        .json();
    assert_eq!(r["ids"], json!(["id2", "id1"]));
    assert_eq!(r["embeddings"], json!([[0.0, 1.0], [1.0, 0.0]]));
    assert_eq!(r["uris"], json!(["u2", null]));
    assert_eq!(r["documents"], Value::Null);
    assert_eq!(r["metadatas"], Value::Null);
    assert_eq!(
        r["include"],
        json!(["embeddings", "uris", "uris", "distances"])
    );
    // limit/offset after filtering
    let r = app
        .op(&id, "get", json!({"limit": 1, "offset": 1, "include": []}))
        .await
        .json();
    assert_eq!(r["ids"], json!(["id1"]));
    assert_eq!(
        app.op(&id, "get", json!({"limit": 0})).await.json()["ids"],
        json!([])
    );
    app.op(&id, "get", json!({"limit": -1}))
        .await
        .assert_error(422, "ChromaError", "limit");
    app.op(&id, "get", json!({"include": ["data"]}))
        .await
        .assert_error(422, "ChromaError", "unknown variant `data`");
}

#[tokio::test]
async fn floats_are_printed_as_f32() {
    let app = TestApp::new();
    let id = app.create_collection(json!({"name": "floats"})).await;
    app.op(
        &id,
        "add",
        json!({"ids": ["a"], "embeddings": [[0.1, 0.2, 1e-3]]}),
    )
    .await;
    let r = app.op(&id, "get", json!({"include": ["embeddings"]})).await;
    assert!(r.text().contains("[[0.1,0.2,0.001]]"), "{}", r.text());
}

#[tokio::test]
async fn base64_embeddings_are_accepted() {
    let app = TestApp::new();
    let id = app.create_collection(json!({"name": "b64"})).await;
    // "AACAPwAAAEA=" is [1.0, 2.0] as little-endian f32
    let r = app
        .op(
            &id,
            "add",
            json!({"ids": ["a"], "embeddings": ["AACAPwAAAEA="]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = app
        .op(
            &id,
            "upsert",
            json!({"ids": ["b"], "embeddings": ["AAAAQAAAgD8="]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let got = app
        .op(&id, "get", json!({"include": ["embeddings"]}))
        .await
        .json();
    assert_eq!(got["embeddings"], json!([[1.0, 2.0], [2.0, 1.0]]));
    app.op(&id, "add", json!({"ids": ["c"], "embeddings": ["AACAPwA"]}))
        .await
        .assert_error(422, "ChromaError", "base64");
}

#[tokio::test]
async fn add_existing_id_is_a_no_op_and_update_missing_id_too() {
    let app = TestApp::new();
    let id = seeded(&app).await;
    let r = app
        .op(
            &id,
            "add",
            json!({"ids": ["id1"], "embeddings": [[9.0, 9.0]], "documents": ["changed"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let got = app
        .op(
            &id,
            "get",
            json!({"ids": ["id1"], "include": ["documents", "embeddings"]}),
        )
        .await
        .json();
    assert_eq!(got["documents"], json!(["hello world"]));
    assert_eq!(got["embeddings"], json!([[1.0, 0.0]]));
    let r = app
        .op(
            &id,
            "update",
            json!({"ids": ["zz"], "metadatas": [{"x": 1}]}),
        )
        .await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!({})));
    assert_eq!(app.get(&format!("{C}/{id}/count")).await.json(), json!(3));
}

#[tokio::test]
async fn update_and_upsert_merge_metadata() {
    let app = TestApp::new();
    let id = app.create_collection(json!({"name": "merge"})).await;
    app.op(&id, "add", json!({"ids": ["r"], "embeddings": [[1.0]], "documents": ["doc"], "metadatas": [{"x": 1, "y": "keep", "z": true}]})).await;
    let r = app.op(&id, "update", json!({"ids": ["r"], "metadatas": [{"x": 2, "z": null}], "embeddings": null, "documents": null})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let got = app
        .op(
            &id,
            "get",
            json!({"include": ["metadatas", "documents", "embeddings"]}),
        )
        .await
        .json();
    assert_eq!(got["metadatas"], json!([{"x": 2, "y": "keep"}]));
    assert_eq!(got["documents"], json!(["doc"]));
    assert_eq!(got["embeddings"], json!([[1.0]]));
    // a per-record null leaves the value; removing every key gives null metadata
    app.op(
        &id,
        "update",
        json!({"ids": ["r"], "metadatas": [{"x": null, "y": null}], "documents": [null]}),
    )
    .await;
    let got = app.op(&id, "get", json!({})).await.json();
    assert_eq!(got["metadatas"], json!([null]));
    assert_eq!(got["documents"], json!(["doc"]));
    // upsert: existing id merges, new id inserts
    let r = app.op(&id, "upsert", json!({"ids": ["r", "s"], "embeddings": [[2.0], [3.0]], "metadatas": [{"a": 1}, {"b": [1, 2]}], "documents": ["new", "s doc"]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let got = app
        .op(
            &id,
            "get",
            json!({"include": ["metadatas", "documents", "embeddings"]}),
        )
        .await
        .json();
    assert_eq!(got["ids"], json!(["r", "s"]));
    assert_eq!(got["metadatas"], json!([{"a": 1}, {"b": [1, 2]}]));
    assert_eq!(got["embeddings"], json!([[2.0], [3.0]]));
    // update with a mix of given and null embeddings
    let r = app
        .op(
            &id,
            "update",
            json!({"ids": ["r", "s"], "embeddings": [[5.0], null], "documents": ["r5", "s5"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let got = app
        .op(&id, "get", json!({"include": ["documents", "embeddings"]}))
        .await
        .json();
    assert_eq!(got["embeddings"], json!([[5.0], [3.0]]));
    assert_eq!(got["documents"], json!(["r5", "s5"]));
}

#[tokio::test]
async fn delete_counts_like_chroma() {
    let app = TestApp::new();
    let id = seeded(&app).await;
    let r = app.op(&id, "delete", json!({"ids": ["id1", "zz"]})).await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::OK, json!({"deleted": 2}))
    );
    assert_eq!(app.get(&format!("{C}/{id}/count")).await.json(), json!(2));
    let r = app
        .op(
            &id,
            "delete",
            json!({"ids": null, "where": {}, "where_document": {}}),
        )
        .await;
    assert_eq!(r.json(), json!({"deleted": 0}));
    let r = app.op(&id, "delete", json!({"where": {"k": 2}})).await;
    assert_eq!(r.json(), json!({"deleted": 1}));
    assert_eq!(
        app.op(&id, "get", json!({})).await.json()["ids"],
        json!(["id3"])
    );
}

#[tokio::test]
async fn filters_and_empty_filters() {
    let app = TestApp::new();
    let id = seeded(&app).await;
    let ids = |v: Value| v["ids"].clone();
    assert_eq!(
        ids(app
            .op(&id, "get", json!({"where": {"k": {"$gte": 1}}}))
            .await
            .json()),
        json!(["id2", "id1"])
    );
    assert_eq!(
        ids(app
            .op(
                &id,
                "get",
                json!({"where_document": {"$contains": "hello"}})
            )
            .await
            .json()),
        json!(["id1"])
    );
    assert_eq!(
        ids(app
            .op(&id, "get", json!({"where": {}, "where_document": {}}))
            .await
            .json()),
        json!(["id2", "id1", "id3"])
    );
    app.op(&id, "get", json!({"where": {"a": 1, "b": 2}}))
        .await
        .assert_error(400, "InvalidArgumentError", "Invalid where clause");
    app.op(&id, "get", json!({"where_document": {"$bogus": "x"}}))
        .await
        .assert_error(400, "InvalidArgumentError", "Invalid where document clause");
}

#[tokio::test]
async fn write_validation_messages() {
    let app = TestApp::new();
    let id = seeded(&app).await;
    app.op(
        &id,
        "add",
        json!({"ids": ["x", "y"], "embeddings": [[1.0, 1.0]]}),
    )
    .await
    .assert_error(
        400,
        "InvalidArgumentError",
        "Inconsistent number of IDs, embeddings, documents, URIs and metadatas",
    );
    app.op(&id, "add", json!({"ids": [""], "embeddings": [[1.0, 1.0]]}))
        .await
        .assert_error(
            400,
            "InvalidArgumentError",
            "Empty ID, ID must have at least one character",
        );
    app.op(&id, "add", json!({"ids": ["x"], "embeddings": [[]]}))
        .await
        .assert_error(
            400,
            "InvalidArgumentError",
            "Validation error: embeddings: Each embedding must have at least 1 dimension",
        );
    app.op(
        &id,
        "add",
        json!({"ids": ["x"], "embeddings": [[1e39, 1.0]]}),
    )
    .await
    .assert_error(
        400,
        "InvalidArgumentError",
        "Embeddings must not contain NaN or Infinity values",
    );
    app.op(
        &id,
        "add",
        json!({"ids": ["x"], "embeddings": [[1.0, 2.0, 3.0]]}),
    )
    .await
    .assert_error(
        400,
        "InvalidArgumentError",
        "Collection expecting embedding with dimension of 2, got 3",
    );
    app.op(
        &id,
        "add",
        json!({"ids": ["x"], "embeddings": [[1.0, 2.0]], "metadatas": [{"n": {"deep": 1}}]}),
    )
    .await
    .assert_error(422, "ChromaError", "Failed to deserialize the JSON body");
    app.op(
        &id,
        "add",
        json!({"ids": ["x"], "documents": ["no vectors"]}),
    )
    .await
    .assert_error(400, "InvalidArgumentError", "--model");
    let r = app
        .op(&id, "add", json!({"ids": [], "embeddings": []}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    app.op("not-a-uuid", "add", json!({"ids": [], "embeddings": []}))
        .await
        .assert_error(400, "InvalidArgumentError", "Invalid collection ID format");
}

#[tokio::test]
async fn dimension_survives_deleting_everything() {
    let app = TestApp::new();
    let id = seeded(&app).await;
    app.op(&id, "delete", json!({"ids": ["id1", "id2", "id3"]}))
        .await;
    app.op(
        &id,
        "add",
        json!({"ids": ["x"], "embeddings": [[1.0, 2.0, 3.0]]}),
    )
    .await
    .assert_error(400, "InvalidArgumentError", "dimension of 2, got 3");
}

#[tokio::test]
async fn records_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let id;
    {
        let db = chromite_engine::Db::open(dir.path()).unwrap();
        let app = TestApp {
            router: chromite_server::app(chromite_server::AppState::new(
                db.clone(),
                Default::default(),
            )),
            dir: tempfile::tempdir().unwrap(),
        };
        id = app.create_collection(json!({"name": "durable"})).await;
        let r = app
            .op(
                &id,
                "add",
                json!({"ids": ["a", "b"], "embeddings": [[1.0], [2.0]]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        db.flush().unwrap();
    }
    let db = chromite_engine::Db::open(dir.path()).unwrap();
    let app = TestApp {
        router: chromite_server::app(chromite_server::AppState::new(db, Default::default())),
        dir: tempfile::tempdir().unwrap(),
    };
    assert_eq!(app.get(&format!("{C}/{id}/count")).await.json(), json!(2));
}
