//! `POST .../collections/{id}/fork` and `GET .../fork_count`: Chroma
//! Cloud's fork (`../shared/chroma-search-api.md` §7), served by the
//! engine's copy-on-write fork.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::blocking;
use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::collection::Collection;
use crate::wire::ApiJson;

/// The fork request (unknown fields ignored).
#[derive(Debug, Deserialize)]
pub struct ForkRequest {
    /// The fork's name, in the source's database.
    pub new_name: String,
}

/// `fork_count`'s answer.
#[derive(Debug, Serialize)]
pub struct ForkCount {
    /// Forks made in the source's fork tree.
    pub count: u64,
}

fn uuid(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ApiError::invalid("Collection ID is not a valid UUIDv4"))
}

/// `POST .../fork`.
pub async fn fork(
    State(state): State<AppState>,
    Path((_t, _d, raw_id)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<ForkRequest>,
) -> ApiResult<Json<Collection>> {
    let id = uuid(&raw_id)?;
    let db = state.db.clone();
    let info = blocking(move || {
        db.fork_collection(id, &body.new_name)
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(convert::collection_out(info)))
}

/// `GET .../fork_count`.
pub async fn fork_count(
    State(state): State<AppState>,
    Path((_t, _d, raw_id)): Path<(String, String, String)>,
) -> ApiResult<Json<ForkCount>> {
    let id = uuid(&raw_id)?;
    let db = state.db.clone();
    let count = blocking(move || db.fork_count(id).map_err(ApiError::from)).await?;
    Ok(Json(ForkCount { count }))
}
