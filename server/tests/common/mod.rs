//! Shared helpers for the handler tests: a real engine in a temp dir behind
//! the real router, driven with `tower::ServiceExt::oneshot` (no socket).

#![allow(dead_code)]

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use chromite_server::config::Settings;
use chromite_server::{app, AppState};
use http_body_util::BodyExt;
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt;

pub const C: &str = "/api/v2/tenants/default_tenant/databases/default_database/collections";

pub struct TestApp {
    pub router: Router,
    pub dir: TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.bytes))
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
    /// Asserts a Chroma error body.
    pub fn assert_error(&self, status: u16, error: &str, message_contains: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "status; body: {}",
            self.text()
        );
        let v = self.json();
        assert_eq!(v["error"], error, "error name; body: {v}");
        let msg = v["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains(message_contains),
            "message {msg:?} should contain {message_contains:?}"
        );
    }
}

impl TestApp {
    pub fn new() -> Self {
        Self::with_settings(Settings {
            allow_reset: true,
            ..Settings::default()
        })
    }

    pub fn with_settings(settings: Settings) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = chromite_engine::Db::open(dir.path()).expect("open engine");
        TestApp {
            router: app(AppState::new(db, settings)),
            dir,
        }
    }

    pub async fn request(&self, req: Request<Body>) -> Reply {
        let resp = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("router is infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        Reply {
            status,
            headers,
            bytes,
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut b = Request::builder().method(method).uri(path);
        let body = match body {
            Some(v) => {
                b = b.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.request(b.body(body).unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a collection and returns its id.
    pub async fn create_collection(&self, body: Value) -> String {
        let r = self.post(C, body).await;
        assert_eq!(r.status, StatusCode::OK, "create: {}", r.text());
        r.json()["id"].as_str().unwrap().to_string()
    }

    /// `POST C/{id}/{op}`.
    pub async fn op(&self, id: &str, op: &str, body: Value) -> Reply {
        self.post(&format!("{C}/{id}/{op}"), body).await
    }
}
