//! `POST .../collections/{id}/search`: Chroma's Search API (cloud-only in
//! Chroma), served by the engine (`collection/hybrid.rs`). Order of checks
//! as Chroma's: parse (422/400), payload validation (400), collection
//! lookup (404), schema checks (400), execution.

use axum::extract::{Path, State};
use axum::Json;
use uuid::Uuid;

use crate::api::blocking;
use crate::embedder::{self, Task};
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
    // Payload validation comes first (Chroma's order), before any model
    // time; every payload's errors are reported together.
    let problems: Vec<String> = body
        .searches
        .iter()
        .enumerate()
        .flat_map(|(i, p)| p.problems(i))
        .collect();
    if !problems.is_empty() {
        return Err(ApiError::invalid(format!(
            "Validation error: {}",
            problems.join("\n")
        )));
    }
    // Text queries (a Chromite extension) are embedded by the model, as
    // `query_texts` are; only the dense vector can be.
    let texts: Vec<(String, String)> = body.searches.iter().flat_map(|p| p.texts()).collect();
    let mut embedded = Vec::new();
    if !texts.is_empty() {
        if let Some((_, key)) = texts.iter().find(|(_, k)| k != "#embedding") {
            return Err(ApiError::invalid(format!(
                "A Knn query on '{key}' given as text cannot be embedded by the server: send the sparse vector"
            )));
        }
        let Some(model) = &state.embedder else {
            return Err(embedder::no_model("Knn queries given as text"));
        };
        embedded =
            embedder::embed(model, texts.into_iter().map(|t| t.0).collect(), Task::Query).await?;
    }
    let mut embedded = embedded.into_iter();
    let payloads = body
        .searches
        .into_iter()
        .map(|p| p.into_engine(&mut embedded))
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
