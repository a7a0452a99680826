//! System routes, transport behaviour (404/405/410, bodies, content types),
//! auth, CORS, metrics and docs.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chromite_server::config::Settings;
use common::{TestApp, C};
use serde_json::json;

#[tokio::test]
async fn heartbeat_is_wall_clock_nanoseconds() {
    let app = TestApp::new();
    for path in ["/api/v2/heartbeat", "/api/v2"] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::OK);
        let ns = r.json()["nanosecond heartbeat"].as_u64().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        assert!(now.abs_diff(ns) < 10_000_000_000, "{ns} vs {now}");
    }
}

#[tokio::test]
async fn version_preflight_health_identity() {
    let app = TestApp::new();
    assert_eq!(app.get("/api/v2/version").await.json(), json!("1.0.0"));
    assert_eq!(
        app.get("/api/v2/pre-flight-checks").await.json(),
        json!({"max_batch_size": 5461, "supports_base64_encoding": true})
    );
    assert_eq!(
        app.get("/api/v2/healthcheck").await.json(),
        json!({"is_executor_ready": true, "is_log_client_ready": true})
    );
    assert_eq!(
        app.get("/api/v2/auth/identity").await.json(),
        json!({"user_id": "", "tenant": "default_tenant", "databases": ["default_database"]})
    );
}

#[tokio::test]
async fn reset_is_403_unless_allowed() {
    let app = TestApp::with_settings(Settings::default());
    let r = app.call(Method::POST, "/api/v2/reset", None).await;
    r.assert_error(403, "ChromaError", "Reset is disabled by config");
}

#[tokio::test]
async fn reset_wipes_collections_tenants_and_databases() {
    let app = TestApp::new();
    app.create_collection(json!({"name": "col1"})).await;
    assert_eq!(
        app.post("/api/v2/tenants", json!({"name": "tenant1"}))
            .await
            .status,
        StatusCode::OK
    );
    let r = app.call(Method::POST, "/api/v2/reset", None).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!(true)));
    assert_eq!(app.get(C).await.json(), json!([]));
    assert_eq!(
        app.get("/api/v2/tenants/tenant1").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/v2/tenants/default_tenant/databases/default_database")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_route_404_and_wrong_method_405_have_empty_bodies() {
    let app = TestApp::new();
    let r = app.get("/api/v2/nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.bytes.is_empty());
    let r = app.call(Method::DELETE, "/api/v2/heartbeat", None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.bytes.is_empty());
}

#[tokio::test]
async fn v1_is_gone() {
    let app = TestApp::new();
    let r = app.get("/api/v1/heartbeat").await;
    assert_eq!(r.status, StatusCode::GONE);
    assert_eq!(
        r.json(),
        json!({"error": "Unimplemented", "message": "The v1 API is deprecated. Please use /v2 apis"})
    );
    let r = app.post("/api/v1/collections", json!({})).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn body_errors_are_chroma_shaped() {
    let app = TestApp::new();
    // Not JSON at all: 400 InvalidArgumentError.
    let req = Request::post(C)
        .header("content-type", "application/json")
        .body(Body::from("{nope"))
        .unwrap();
    app.request(req).await.assert_error(
        400,
        "InvalidArgumentError",
        "Failed to parse the request body as JSON",
    );
    // JSON of the wrong shape: 422.
    let r = app.post(C, json!({"name": 5})).await;
    r.assert_error(
        422,
        "ChromaError",
        "Failed to deserialize the JSON body into the target type: name: invalid type",
    );
    // Missing Content-Type is treated as JSON.
    let req = Request::post(C)
        .body(Body::from(json!({"name": "noctype"}).to_string()))
        .unwrap();
    let r = app.request(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["name"], "noctype");
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let app = TestApp::with_settings(Settings {
        max_body_size: 1024,
        ..Settings::default()
    });
    let big = json!({"name": "x".repeat(4096)});
    let r = app.post(C, big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
}

#[tokio::test]
async fn auth_token_is_required_when_configured() {
    let app = TestApp::with_settings(Settings {
        auth_token: Some("s3cret".into()),
        ..Settings::default()
    });
    // liveness routes stay open
    assert_eq!(app.get("/api/v2/heartbeat").await.status, StatusCode::OK);
    app.get(C)
        .await
        .assert_error(401, "AuthError", "Unauthorized");
    let wrong = Request::get(C)
        .header("authorization", "Bearer nope")
        .body(Body::empty())
        .unwrap();
    app.request(wrong)
        .await
        .assert_error(401, "AuthError", "Unauthorized");
    let bearer = Request::get(C)
        .header("authorization", "Bearer s3cret")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.request(bearer).await.status, StatusCode::OK);
    let header = Request::get(C)
        .header("x-chroma-token", "s3cret")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.request(header).await.status, StatusCode::OK);
}

#[tokio::test]
async fn cors_is_permissive_by_default() {
    let app = TestApp::new();
    let req = Request::builder()
        .method(Method::OPTIONS)
        .uri(C)
        .header("origin", "http://example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .body(Body::empty())
        .unwrap();
    let r = app.request(req).await;
    assert!(r.status.is_success(), "{}", r.status);
    assert_eq!(r.headers["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn cors_origin_list_is_honoured() {
    let app = TestApp::with_settings(Settings {
        cors_origins: vec!["http://ok.example".into()],
        ..Settings::default()
    });
    let req = Request::get("/api/v2/heartbeat")
        .header("origin", "http://ok.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app.request(req).await.headers["access-control-allow-origin"],
        "http://ok.example"
    );
    let req = Request::get("/api/v2/heartbeat")
        .header("origin", "http://evil.example")
        .body(Body::empty())
        .unwrap();
    assert!(app
        .request(req)
        .await
        .headers
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn metrics_count_requests_per_route() {
    let app = TestApp::new();
    let id = app.create_collection(json!({"name": "metrics-col"})).await;
    app.op(&id, "add", json!({"ids": ["a"], "embeddings": [[1.0]]}))
        .await;
    app.get("/api/v2/heartbeat").await;
    let r = app.get("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text();
    assert!(
        text.contains("chromite_http_requests_total{method=\"GET\",route=\"/api/v2/heartbeat\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(text.contains("route=\"/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/add\",status=\"201\"} 1"));
    assert!(text.contains("chromite_records_total{op=\"add\"} 1"));
    assert!(text.contains("chromite_collections 1"), "{text}");
    assert!(text.contains("chromite_records 1"), "{text}");
    // Storage gauges of the open collection: one record, still in the
    // memtable (unindexed), no segment yet, nothing broken.
    let label = format!("{{collection=\"{id}\",name=\"metrics-col\"}}");
    for (gauge, value) in [
        ("chromite_collection_segments", "0"),
        ("chromite_collection_unindexed_rows", "1"),
        ("chromite_collection_pending_graph_builds", "0"),
        ("chromite_collection_records", "1"),
    ] {
        assert!(
            text.contains(&format!("{gauge}{label} {value}")),
            "{gauge}: {text}"
        );
    }
    assert!(text.contains(&format!("chromite_collection_disk_bytes{label} ")));
    assert!(text.contains(&format!("chromite_collection_live_bytes{label} ")));
    assert!(
        text.contains("chromite_maintenance_panics_total 0"),
        "{text}"
    );
}

#[tokio::test]
async fn openapi_and_docs() {
    let app = TestApp::new();
    let r = app.get("/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]
        ["/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/query"]
        ["post"]
        .is_object());
    let r = app.get("/docs").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers["location"], "/docs/");
    let r = app.get("/docs/").await;
    assert!(r.text().contains("/openapi.json"));
}

#[tokio::test]
async fn cloud_only_routes_answer_like_local_chroma() {
    let app = TestApp::new();
    let id = app.create_collection(json!({"name": "cloudy"})).await;
    // Fork, fork_count and search are served (tests/api_fork.rs,
    // tests/api_search.rs).
    assert_eq!(
        app.get(&format!("{C}/{id}/fork_count")).await.json(),
        json!({"count": 0})
    );
    let r = app.op(&id, "search", json!({"searches": []})).await;
    assert_eq!(r.status.as_u16(), 200);
    app.get(&format!("{C}/{id}/indexing_status"))
        .await
        .assert_error(500, "InternalError", "Method scout_logs is not implemented");
    let r = app
        .get("/api/v2/collections/default_tenant:default_database:cloudy")
        .await;
    assert_eq!(r.json()["id"], id.as_str());
}
