//! `/openapi.json` and a `/docs` page.

use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Redirect};

use crate::openapi;

/// `GET /openapi.json`.
pub async fn openapi() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], openapi::document())
}

/// `GET /docs`: 303 to `/docs/` (as Chroma).
pub async fn redirect() -> Redirect {
    Redirect::to("/docs/")
}

/// `GET /docs/`: a small page listing the API; the full schema is `/openapi.json`.
pub async fn page() -> Html<String> {
    Html(openapi::html())
}
