//! Query (§5.4, §7.1): distances per space, ordering, n_results, filters,
//! include, empty queries and unknown ids.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{json, Value};

async fn space_collection(app: &TestApp, space: &str) -> String {
    let id = app
        .create_collection(
            json!({"name": format!("sp-{space}"), "configuration": {"hnsw": {"space": space}}}),
        )
        .await;
    let r = app
        .op(&id, "add", json!({"ids": ["a", "b", "c"], "embeddings": [[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]],
                              "documents": ["doc a", "doc b", "doc c"], "metadatas": [{"n": 1}, {"n": 2}, {"n": 3}]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    id
}

fn close(got: &Value, want: &[f64]) {
    let got: Vec<f64> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
    }
}

#[tokio::test]
async fn distances_match_chroma_for_each_space() {
    let app = TestApp::new();
    let q = json!({"query_embeddings": [[1.0, 1.0]], "n_results": 3, "include": ["distances"]});
    let id = space_collection(&app, "l2").await;
    let r = app.op(&id, "query", q.clone()).await.json();
    assert_eq!(r["ids"], json!([["a", "b", "c"]]));
    close(&r["distances"][0], &[1.0, 2.0, 13.0]);
    let id = space_collection(&app, "cosine").await;
    let r = app.op(&id, "query", q.clone()).await.json();
    assert_eq!(r["ids"][0][0], "c");
    close(&r["distances"][0], &[0.010050476, 0.29289323, 0.29289323]);
    let id = space_collection(&app, "ip").await;
    let r = app.op(&id, "query", q).await.json();
    assert_eq!(r["ids"], json!([["c", "b", "a"]]));
    close(&r["distances"][0], &[-6.0, -1.0, 0.0]);
}

#[tokio::test]
async fn default_include_and_shape() {
    let app = TestApp::new();
    let id = space_collection(&app, "l2").await;
    let r = app
        .op(
            &id,
            "query",
            json!({"query_embeddings": [[1.0, 0.0], [0.0, 2.0]], "n_results": 1}),
        )
        .await
        .json();
    assert_eq!(
        r,
        json!({"ids": [["a"], ["b"]], "embeddings": null, "documents": [["doc a"], ["doc b"]], "uris": null,
               "metadatas": [[{"n": 1}], [{"n": 2}]], "distances": [[0.0], [0.0]],
               "include": ["documents", "metadatas", "distances"]})
    );
}

#[tokio::test]
async fn n_results_default_zero_and_overflow() {
    let app = TestApp::new();
    let id = space_collection(&app, "l2").await;
    let r = app
        .op(&id, "query", json!({"query_embeddings": [[0.0, 0.0]]}))
        .await
        .json();
    assert_eq!(
        r["ids"][0].as_array().unwrap().len(),
        3,
        "default 10 returns all 3"
    );
    let r = app
        .op(
            &id,
            "query",
            json!({"query_embeddings": [[0.0, 0.0]], "n_results": 0}),
        )
        .await
        .json();
    assert_eq!(r["ids"], json!([[]]));
    let r = app
        .op(
            &id,
            "query",
            json!({"query_embeddings": [], "n_results": 2}),
        )
        .await
        .json();
    assert_eq!(r["ids"], json!([]));
    assert_eq!(r["distances"], json!([]));
}

#[tokio::test]
async fn filters_and_ids_restrict_candidates() {
    let app = TestApp::new();
    let id = space_collection(&app, "l2").await;
    let r = app
        .op(
            &id,
            "query",
            json!({"query_embeddings": [[1.0, 0.0]], "where": {"n": {"$gt": 1}}, "include": []}),
        )
        .await
        .json();
    assert_eq!(r["ids"], json!([["b", "c"]]));
    let r = app.op(&id, "query", json!({"query_embeddings": [[1.0, 0.0]], "where_document": {"$contains": " c"}, "include": []})).await.json();
    assert_eq!(r["ids"], json!([["c"]]));
    let r = app
        .op(
            &id,
            "query",
            json!({"query_embeddings": [[1.0, 0.0]], "ids": ["c", "b"], "include": []}),
        )
        .await
        .json();
    assert_eq!(r["ids"], json!([["b", "c"]]));
    app.op(
        &id,
        "query",
        json!({"query_embeddings": [[1.0, 0.0]], "ids": ["nope"]}),
    )
    .await
    .assert_error(500, "InternalError", "Error finding id");
}

#[tokio::test]
async fn query_errors() {
    let app = TestApp::new();
    let id = space_collection(&app, "l2").await;
    app.op(&id, "query", json!({"query_embeddings": [[1.0, 0.0, 0.0]]}))
        .await
        .assert_error(
            400,
            "InvalidArgumentError",
            "Collection expecting embedding with dimension of 2, got 3",
        );
    app.op(&id, "query", json!({"n_results": 1}))
        .await
        .assert_error(422, "ChromaError", "query_embeddings");
    app.op(&id, "query", json!({"query_texts": ["hello"]}))
        .await
        .assert_error(400, "InvalidArgumentError", "--model");
    app.op(
        &id,
        "query",
        json!({"query_embeddings": [[1.0, 0.0]], "n_results": -1}),
    )
    .await
    .assert_error(422, "ChromaError", "n_results");
}

#[tokio::test]
async fn query_returns_embeddings_and_uris_when_asked() {
    let app = TestApp::new();
    let id = space_collection(&app, "l2").await;
    let r = app.op(&id, "query", json!({"query_embeddings": [[3.0, 4.0]], "n_results": 1, "include": ["embeddings", "uris", "metadatas"]})).await.json();
    assert_eq!(r["embeddings"], json!([[[3.0, 4.0]]]));
    assert_eq!(r["uris"], json!([[null]]));
    assert_eq!(r["distances"], Value::Null);
    assert_eq!(r["documents"], Value::Null);
}
