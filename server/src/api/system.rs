//! Heartbeat, version, pre-flight checks, healthcheck, identity, reset, metrics.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::Json;
use chromite_engine::{DEFAULT_DATABASE, DEFAULT_TENANT};

use crate::api::blocking;
use crate::error::{ApiError, ApiResult, Code};
use crate::metrics::StoreGauges;
use crate::state::AppState;
use crate::wire::system::{Healthcheck, Heartbeat, Identity, PreflightChecks};

/// The version string the real Chroma server reports.
pub const VERSION: &str = "1.0.0";
/// Chroma's batch limit (SQLite's 32766 variables / 6).
pub const MAX_BATCH_SIZE: usize = 5461;

/// `GET /api/v2/heartbeat`: wall-clock nanoseconds.
pub async fn heartbeat() -> Json<Heartbeat> {
    let ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Json(Heartbeat {
        nanosecond_heartbeat: ns,
    })
}

/// `GET /api/v2/version`.
pub async fn version() -> Json<&'static str> {
    Json(VERSION)
}

/// `GET /api/v2/pre-flight-checks`.
pub async fn preflight_checks() -> Json<PreflightChecks> {
    Json(PreflightChecks {
        max_batch_size: MAX_BATCH_SIZE,
        supports_base64_encoding: true,
    })
}

/// `GET /api/v2/healthcheck`.
pub async fn healthcheck() -> Json<Healthcheck> {
    Json(Healthcheck {
        is_executor_ready: true,
        is_log_client_ready: true,
    })
}

/// `GET /api/v2/auth/identity`.
pub async fn identity() -> Json<Identity> {
    Json(Identity {
        user_id: String::new(),
        tenant: DEFAULT_TENANT.to_string(),
        databases: vec![DEFAULT_DATABASE.to_string()],
    })
}

/// `POST /api/v2/reset`: 403 unless `--allow-reset`.
pub async fn reset(State(state): State<AppState>) -> ApiResult<Json<bool>> {
    if !state.settings.allow_reset {
        return Err(ApiError::new(
            Code::PermissionDenied,
            "Reset is disabled by config",
        ));
    }
    let db = state.db.clone();
    blocking(move || db.reset().map_err(ApiError::from)).await?;
    tracing::info!("store reset");
    Ok(Json(true))
}

fn store_gauges(db: &chromite_engine::Db) -> chromite_engine::Result<StoreGauges> {
    let mut g = StoreGauges::default();
    for d in db.list_databases(DEFAULT_TENANT, None, 0)? {
        g.databases += 1;
        for c in db.list_collections(DEFAULT_TENANT, &d.name, None, 0)? {
            g.collections += 1;
            g.records += db.collection(c.id)?.count()?;
        }
    }
    for (id, st) in db.stats() {
        let name = db
            .get_collection_by_id(id)
            .map(|c| c.name)
            .unwrap_or_default();
        g.storage.push((id.to_string(), name, st));
    }
    g.maintenance_panics = db.maintenance_panics();
    Ok(g)
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.db.clone();
    let gauges = blocking(move || Ok(store_gauges(&db).ok()))
        .await
        .ok()
        .flatten();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.render(gauges),
    )
}
