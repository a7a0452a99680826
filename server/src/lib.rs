//! # chromite-server
//!
//! A Chroma-compatible HTTP server over [`chromite_engine`]: the official
//! `chromadb` Python and JS clients use it unchanged. The reference for every
//! route, status code and message is Chroma 1.5.9's observed behaviour.
//!
//! It is: the `/api/v2` routes (system, tenants, databases, collections,
//! records, query), Chroma's error JSON, base64 embeddings, optional token
//! auth, CORS, a body limit, `/metrics`, `/openapi.json` and `/docs`.
//!
//! It is not: a storage engine (that is `chromite-engine`) nor the `/api/v1`
//! API (answered with 410 like Chroma 1.x).
//!
//! [`app`] builds the router, so tests drive it without a socket:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use chromite_server::{app, config::Settings, state::AppState};
//! let db = chromite_engine::Db::open("/tmp/chromite-demo")?;
//! let router = app(AppState::new(db, Settings::default()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! axum::serve(listener, router).await?;
//! # Ok(()) }
//! ```

pub mod api;
pub mod auth;
pub mod config;
pub mod convert;
pub mod embedder;
pub mod error;
pub mod export;
pub mod import;
pub mod metrics;
pub mod openapi;
pub mod state;
pub mod trace;
pub mod wire;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method};
use axum::middleware;
use axum::Router;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

pub use state::AppState;

fn cors(origins: &[String]) -> CorsLayer {
    if origins.is_empty() || origins.iter().any(|o| o == "*") {
        return CorsLayer::permissive();
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(list))
        .allow_methods(AllowMethods::list([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::HEAD,
            Method::OPTIONS,
        ]))
        .allow_headers(AllowHeaders::mirror_request())
        // So a browser client can read the trace id of a failed request.
        .expose_headers([axum::http::HeaderName::from_static(trace::TRACE_HEADER)])
}

/// The whole HTTP application over `state`.
pub fn app(state: AppState) -> Router {
    let settings = state.settings.clone();
    api::routes()
        .layer(DefaultBodyLimit::max(settings.max_body_size))
        .layer(middleware::from_fn(auth::default_json_content_type))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(cors(&settings.cors_origins))
        .layer(middleware::from_fn(trace::trace))
        .with_state(state)
}
