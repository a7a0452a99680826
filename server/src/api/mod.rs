//! The route table (Chroma's paths, `chroma-api.md` §3–§9) and one handler
//! file per resource. `GET`/`DELETE .../collections/{x}` take a NAME; `PUT`
//! and every record route take a UUID.

pub mod admin;
pub mod cloud;
pub mod collection;
pub mod database;
pub mod docs;
pub mod fork;
pub mod query;
pub mod record;
pub mod search;
pub mod system;
pub mod tenant;

use axum::routing::{delete, get, post};
use axum::Router;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Runs blocking engine work off the async workers.
pub async fn blocking<T, F>(f: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> ApiResult<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "engine task failed");
            Err(ApiError::internal(format!("internal error: {e}")))
        }
    }
}

const DB: &str = "/api/v2/tenants/{tenant}/databases/{database}";

fn p(suffix: &str) -> String {
    format!("{DB}{suffix}")
}

/// Every route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/snapshots", post(admin::create).get(admin::list))
        .route("/admin/v1/snapshots/{name}", delete(admin::delete))
        // system (§3)
        .route("/api/v2", get(system::heartbeat))
        .route("/api/v2/heartbeat", get(system::heartbeat))
        .route("/api/v2/version", get(system::version))
        .route("/api/v2/pre-flight-checks", get(system::preflight_checks))
        .route("/api/v2/healthcheck", get(system::healthcheck))
        .route("/api/v2/auth/identity", get(system::identity))
        .route("/api/v2/reset", post(system::reset))
        // tenants and databases (§4.1, §4.2)
        .route("/api/v2/tenants", post(tenant::create))
        .route(
            "/api/v2/tenants/{tenant}",
            get(tenant::get).patch(tenant::update),
        )
        .route(
            "/api/v2/tenants/{tenant}/databases",
            post(database::create).get(database::list),
        )
        .route(DB, get(database::get).delete(database::delete))
        // collections (§4.3)
        .route(
            &p("/collections"),
            post(collection::create).get(collection::list),
        )
        .route(&p("/collections_count"), get(collection::count))
        .route(
            &p("/collections/{collection_id}"),
            get(collection::get_by_name)
                .put(collection::modify)
                .delete(collection::delete),
        )
        .route(
            &p("/collections/by-id/{collection_id}"),
            get(collection::get_by_id),
        )
        // records (§5)
        .route(&p("/collections/{collection_id}/add"), post(record::add))
        .route(
            &p("/collections/{collection_id}/upsert"),
            post(record::upsert),
        )
        .route(
            &p("/collections/{collection_id}/update"),
            post(record::update),
        )
        .route(
            &p("/collections/{collection_id}/delete"),
            post(record::delete),
        )
        .route(&p("/collections/{collection_id}/get"), post(record::get))
        .route(&p("/collections/{collection_id}/count"), get(record::count))
        .route(&p("/collections/{collection_id}/query"), post(query::query))
        // cloud / distributed features a single node does not have (§9)
        .route(&p("/collections/{collection_id}/fork"), post(fork::fork))
        .route(
            &p("/collections/{collection_id}/fork_count"),
            get(fork::fork_count),
        )
        .route(
            &p("/collections/{collection_id}/search"),
            post(search::search),
        )
        .route(
            &p("/collections/{collection_id}/indexing_status"),
            get(cloud::indexing_status),
        )
        .route(
            &p("/collections/{collection_id}/functions/attach"),
            post(cloud::functions),
        )
        .route(
            &p("/collections/{collection_id}/functions/{function_name}"),
            get(cloud::functions),
        )
        .route(
            &p("/collections/{collection_id}/attached_functions/{name}/detach"),
            post(cloud::functions),
        )
        .route("/api/v2/collections/{crn}", get(cloud::get_by_crn))
        // the deprecated v1 API (§10)
        .route("/api/v1", cloud::v1_router())
        .route("/api/v1/{*rest}", cloud::v1_router())
        // docs and metrics
        .route("/openapi.json", get(docs::openapi))
        .route("/docs", get(docs::redirect))
        .route("/docs/", get(docs::page))
        .route("/metrics", get(system::metrics))
}
