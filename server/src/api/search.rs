//! `POST .../collections/{id}/search`: Chroma's Search API (cloud-only in
//! Chroma), served by the engine (`collection/hybrid.rs`). Order of checks
//! as Chroma's: parse (422/400), payload validation (400), collection
//! lookup (404), schema checks (400), execution.

use axum::extract::{Path, State};
use axum::Json;
use uuid::Uuid;

use crate::api::blocking;
use crate::error::{ApiError, ApiResult};
use crate::metrics::RecordOp;
use crate::state::AppState;
use crate::wire::search::{SearchRequest, SearchResponse};
use crate::wire::ApiJson;

/// `POST .../search`.
pub async fn search(
    State(state): State<AppState>,
    Path((_t, _d, raw_id)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<SearchRequest>,
) -> ApiResult<Json<SearchResponse>> {
    let id = Uuid::parse_str(&raw_id)
        .map_err(|_| ApiError::invalid("Collection ID is not a valid UUIDv4"))?;
    let payloads = body
        .searches
        .into_iter()
        .enumerate()
        .map(|(i, p)| p.into_engine(i))
        .collect::<ApiResult<Vec<_>>>()?;
    let n = payloads.len();
    let db = state.db.clone();
    let hits = blocking(move || {
        let c = db.collection(id)?;
        c.search(&payloads).map_err(ApiError::from)
    })
    .await?;
    state.metrics.records(RecordOp::Query, n);
    Ok(Json(hits.into()))
}
