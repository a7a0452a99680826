//! Routes a single-node Chroma answers with an error (§9), the
//! cloud-resource-name lookup, and the deprecated `/api/v1` (§10).

use axum::extract::{Path, State};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Json;

use crate::api::blocking;
use crate::error::{ApiError, ApiResult, Code};
use crate::state::AppState;
use crate::wire::collection::Collection;

/// `GET .../indexing_status`: 500 like a local Chroma.
pub async fn indexing_status() -> ApiError {
    ApiError::internal("Method scout_logs is not implemented")
}

/// Attached functions (a distributed work-queue feature): 501.
pub async fn functions() -> ApiError {
    ApiError::unimplemented("Attached functions are unsupported for local chroma")
}

/// `GET /api/v2/collections/{crn}`: a `tenant:database:collection` resource name.
pub async fn get_by_crn(
    State(state): State<AppState>,
    Path(crn): Path<String>,
) -> ApiResult<Json<Collection>> {
    let parts: Vec<&str> = crn.split(':').collect();
    let [tenant, database, name] = parts.as_slice() else {
        return Err(ApiError::invalid(format!(
            "Invalid collection resource name: {crn}. Expected tenant:database:collection"
        )));
    };
    let (tenant, database, name) = (tenant.to_string(), database.to_string(), name.to_string());
    let db = state.db.clone();
    let info = blocking(move || {
        db.get_collection_by_name(&tenant, &database, &name)
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(crate::convert::collection_out(info)))
}

async fn v1_gone() -> ApiError {
    ApiError::new(Code::Gone, "The v1 API is deprecated. Please use /v2 apis")
}

/// `/api/v1/*`: 410 for every method but POST (405), as Chroma 1.x answers.
pub fn v1_router() -> MethodRouter<AppState> {
    let methods = MethodFilter::GET
        .or(MethodFilter::PUT)
        .or(MethodFilter::PATCH)
        .or(MethodFilter::DELETE)
        .or(MethodFilter::HEAD)
        .or(MethodFilter::OPTIONS);
    on(methods, v1_gone)
}
