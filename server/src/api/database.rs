//! Databases (§4.2).

use axum::extract::{Path, Query, State};
use axum::Json;

use crate::api::blocking;
use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::collection::ListParams;
use crate::wire::system::Empty;
use crate::wire::tenant::{CreateNamed, Database};
use crate::wire::ApiJson;

fn out(d: chromite_engine::Database) -> Database {
    Database {
        id: d.id.to_string(),
        name: d.name,
        tenant: d.tenant,
    }
}

/// `POST /api/v2/tenants/{tenant}/databases`.
pub async fn create(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    ApiJson(body): ApiJson<CreateNamed>,
) -> ApiResult<Json<Empty>> {
    convert::validate_database_name(&body.name)?;
    let db = state.db.clone();
    blocking(move || {
        db.create_database(&tenant, &body.name)
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(Empty {}))
}

/// `GET /api/v2/tenants/{tenant}/databases?limit=&offset=`, ordered by name.
pub async fn list(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Vec<Database>>> {
    let Query(params) = params?;
    let db = state.db.clone();
    let list = blocking(move || {
        db.list_databases(&tenant, params.limit, params.offset.unwrap_or(0))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(list.into_iter().map(out).collect()))
}

/// `GET /api/v2/tenants/{tenant}/databases/{database}`.
pub async fn get(
    State(state): State<AppState>,
    Path((tenant, database)): Path<(String, String)>,
) -> ApiResult<Json<Database>> {
    let db = state.db.clone();
    let d = blocking(move || db.get_database(&tenant, &database).map_err(ApiError::from)).await?;
    Ok(Json(out(d)))
}

/// `DELETE /api/v2/tenants/{tenant}/databases/{database}` (and its collections).
pub async fn delete(
    State(state): State<AppState>,
    Path((tenant, database)): Path<(String, String)>,
) -> ApiResult<Json<Empty>> {
    let db = state.db.clone();
    blocking(move || {
        db.delete_database(&tenant, &database)
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(Empty {}))
}
