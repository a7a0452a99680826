//! Server-side embedding with a real model (all-MiniLM-L6-v2 from
//! $CHROMITE_TEST_MINILM, which `.ci/run` sets): documents without
//! embeddings and `query_texts`.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use chromite_server::config::Settings;
use chromite_server::{app, AppState};
use common::{TestApp, C};
use serde_json::json;

fn model_app() -> Option<TestApp> {
    let Ok(dir) = std::env::var("CHROMITE_TEST_MINILM") else {
        eprintln!("CHROMITE_TEST_MINILM is not set; skipping the server-side embedding test");
        return None;
    };
    let model = chromite_embed::TextEmbedder::load(&dir).expect("load all-MiniLM-L6-v2");
    let tmp = tempfile::tempdir().unwrap();
    let db = chromite_engine::Db::open(tmp.path()).unwrap();
    let state = AppState::new(db, Settings::default()).with_embedder(Arc::new(model));
    Some(TestApp {
        router: app(state),
        dir: tmp,
    })
}

/// A cosine collection `name` holding three documents (cat, car, soup),
/// added as text for the model to embed; its id.
async fn three_documents(app: &TestApp, name: &str) -> String {
    let id = app
        .create_collection(json!({"name": name, "configuration": {"hnsw": {"space": "cosine"}}}))
        .await;
    let r = app
        .op(
            &id,
            "add",
            json!({"ids": ["cat", "car", "soup"], "documents": [
            "A small cat sleeps on the warm windowsill.",
            "The sports car accelerated down the highway.",
            "Tomato soup is best served hot with bread."]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    id
}

#[tokio::test]
async fn documents_and_query_texts_are_embedded_by_the_model() {
    let Some(app) = model_app() else { return };
    let id = three_documents(&app, "embedded").await;
    assert_eq!(
        app.get(&format!("{C}/by-id/{id}")).await.json()["dimension"],
        384
    );
    let got = app
        .op(
            &id,
            "get",
            json!({"ids": ["cat"], "include": ["embeddings"]}),
        )
        .await
        .json();
    let v: Vec<f64> = got["embeddings"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "unit length, got {norm}");

    let q = app
        .op(
            &id,
            "query",
            json!({"query_texts": ["kitten napping", "fast automobile"], "n_results": 1}),
        )
        .await
        .json();
    assert_eq!(q["ids"], json!([["cat"], ["car"]]), "{q}");

    // updating a document without an embedding re-embeds it
    let r = app
        .op(
            &id,
            "update",
            json!({"ids": ["soup"], "documents": ["A kitten chases a ball of yarn."]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let q = app
        .op(
            &id,
            "query",
            json!({"query_texts": ["kitten playing with yarn"], "n_results": 1, "include": []}),
        )
        .await
        .json();
    assert_eq!(q["ids"], json!([["soup"]]), "{q}");
}

#[tokio::test]
async fn a_text_knn_query_is_embedded_by_the_model() {
    let Some(app) = model_app() else { return };
    let id = three_documents(&app, "searched").await;
    let text = "a kitten napping in the sun";
    let q = app
        .op(
            &id,
            "query",
            json!({"query_texts": [text], "n_results": 3, "include": ["distances"]}),
        )
        .await
        .json();
    let s = app
        .op(&id, "search", json!({"searches": [{"rank": {"$knn": {"query": text, "limit": 3}}, "select": {"keys": ["#score"]}}]}))
        .await
        .json();
    assert_eq!(
        s["ids"][0], q["ids"][0],
        "the same embedding as query_texts"
    );
    assert_eq!(s["ids"][0][0], "cat");
    assert_eq!(s["scores"][0], q["distances"][0]);
    app.op(
        &id,
        "search",
        json!({"searches": [{"rank": {"$knn": {"query": text, "key": "bm25"}}}]}),
    )
    .await
    .assert_error(
        400,
        "InvalidArgumentError",
        "cannot be embedded by the server",
    );
}

#[tokio::test]
async fn a_text_knn_query_without_a_model_is_a_400() {
    let app = TestApp::new();
    let id = app.create_collection(json!({"name": "no-model"})).await;
    app.op(
        &id,
        "search",
        json!({"searches": [{"rank": {"$knn": {"query": "hello"}}}]}),
    )
    .await
    .assert_error(
        400,
        "InvalidArgumentError",
        "Knn queries given as text need an embedding model",
    );
}
