//! The admin routes (`/admin/v1/snapshots`): online snapshots of the whole
//! store, only on a server with a token, and only with it.

mod common;
use axum::body::Body;
use axum::http::{Method, Request};
use chromite_server::config::Settings;
use common::*;
use serde_json::{json, Value};

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    let body = match body {
        Some(v) => {
            b = b.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    app.request(b.body(body).unwrap()).await
}

#[tokio::test]
async fn admin_routes_need_a_server_token() {
    let app = TestApp::new();
    let r = call(
        &app,
        Method::POST,
        "/admin/v1/snapshots",
        None,
        Some(json!({})),
    )
    .await;
    r.assert_error(
        403,
        "ChromaError",
        "admin routes need the server to run with --auth-token",
    );
    let r = call(&app, Method::GET, "/admin/v1/snapshots", None, None).await;
    assert_eq!(r.status.as_u16(), 403);
}

#[tokio::test]
async fn snapshots_are_taken_listed_opened_and_deleted() {
    let app = TestApp::with_settings(Settings {
        auth_token: Some("secret".into()),
        ..Settings::default()
    });
    let t = Some("secret");
    let r = call(
        &app,
        Method::POST,
        "/admin/v1/snapshots",
        None,
        Some(json!({"name": "s1"})),
    )
    .await;
    assert_eq!(r.status.as_u16(), 401, "{}", r.text());
    let r = call(&app, Method::POST, C, t, Some(json!({"name": "snapme"}))).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let r = call(
        &app,
        Method::POST,
        &format!("{C}/{id}/add"),
        t,
        Some(json!({"ids": ["a", "b"], "embeddings": [[1.0, 0.0], [0.0, 1.0]], "documents": ["x", "y"]})),
    )
    .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text());

    let r = call(
        &app,
        Method::POST,
        "/admin/v1/snapshots",
        t,
        Some(json!({"name": "s1"})),
    )
    .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    let s = r.json();
    assert_eq!(s["name"], "s1");
    assert_eq!(s["collections"], 1);
    let path = std::path::PathBuf::from(s["path"].as_str().unwrap());
    assert_eq!(path, app.dir.path().join("snapshots").join("s1"));
    // Writes after the snapshot are not in it.
    let r = call(
        &app,
        Method::POST,
        &format!("{C}/{id}/add"),
        t,
        Some(json!({"ids": ["c"], "embeddings": [[1.0, 1.0]]})),
    )
    .await;
    assert_eq!(r.status.as_u16(), 201);
    {
        let snap = chromite_engine::Db::open(&path).unwrap();
        let info = snap
            .get_collection_by_name(
                chromite_engine::DEFAULT_TENANT,
                chromite_engine::DEFAULT_DATABASE,
                "snapme",
            )
            .unwrap();
        assert_eq!(snap.collection(info.id).unwrap().count().unwrap(), 2);
    }
    let r = call(
        &app,
        Method::POST,
        "/admin/v1/snapshots",
        t,
        Some(json!({"name": "s1"})),
    )
    .await;
    assert_eq!(r.status.as_u16(), 409, "{}", r.text());
    let r = call(
        &app,
        Method::POST,
        "/admin/v1/snapshots",
        t,
        Some(json!({"name": "../escape"})),
    )
    .await;
    r.assert_error(400, "InvalidArgumentError", "Invalid snapshot name");
    let r = call(&app, Method::POST, "/admin/v1/snapshots", t, None).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    let r = call(&app, Method::GET, "/admin/v1/snapshots", t, None).await;
    let names: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"s1".to_string()));
    let r = call(&app, Method::DELETE, "/admin/v1/snapshots/s1", t, None).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    let r = call(&app, Method::DELETE, "/admin/v1/snapshots/s1", t, None).await;
    r.assert_error(404, "NotFoundError", "Snapshot [s1] does not exist");
    assert!(!path.exists());
}
