//! Optional token auth and the default JSON Content-Type.
//!
//! With `--auth-token`, every route except the liveness ones (heartbeat,
//! version, healthcheck, docs) needs `Authorization: Bearer TOKEN` or
//! `X-Chroma-Token: TOKEN`; otherwise 401 with Chroma's error JSON.

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, Code};
use crate::state::AppState;

/// Paths that answer without a token.
const OPEN_PATHS: &[&str] = &[
    "/api/v2",
    "/api/v2/heartbeat",
    "/api/v2/version",
    "/api/v2/healthcheck",
    "/docs",
    "/docs/",
    "/openapi.json",
];

/// Compares without an early exit on the first differing byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn presented(req: &Request) -> Option<&str> {
    if let Some(v) = req
        .headers()
        .get("x-chroma-token")
        .and_then(|v| v.to_str().ok())
    {
        return Some(v.trim());
    }
    let v = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Middleware: rejects requests without the configured token.
pub async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(expected) = &state.settings.auth_token {
        if !OPEN_PATHS.contains(&req.uri().path()) {
            let ok = presented(&req).is_some_and(|t| same(t.as_bytes(), expected.as_bytes()));
            if !ok {
                return ApiError::new(Code::Unauthenticated, "Unauthorized").into_response();
            }
        }
    }
    next.run(req).await
}

/// Middleware: a request without a Content-Type (or an empty one) is treated as JSON (as Chroma does).
pub async fn default_json_content_type(mut req: Request, next: Next) -> Response {
    let missing = match req.headers().get(CONTENT_TYPE) {
        None => true,
        Some(v) => v.as_bytes().iter().all(u8::is_ascii_whitespace),
    };
    if missing {
        req.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    next.run(req).await
}
