//! Tenants (§4.1).

use axum::extract::{Path, State};
use axum::Json;

use crate::api::blocking;
use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::system::Empty;
use crate::wire::tenant::{CreateNamed, Tenant, UpdateTenant};
use crate::wire::ApiJson;

/// `POST /api/v2/tenants`.
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateNamed>,
) -> ApiResult<Json<Empty>> {
    convert::validate_tenant_name(&body.name)?;
    let db = state.db.clone();
    blocking(move || db.create_tenant(&body.name).map_err(ApiError::from)).await?;
    Ok(Json(Empty {}))
}

/// `GET /api/v2/tenants/{tenant}`.
pub async fn get(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Tenant>> {
    let db = state.db.clone();
    let t = blocking(move || db.get_tenant(&tenant).map_err(ApiError::from)).await?;
    Ok(Json(Tenant {
        name: t.name,
        resource_name: None,
    }))
}

/// `PATCH /api/v2/tenants/{tenant}`: a cloud feature; accepted for an
/// existing tenant and ignored.
pub async fn update(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    ApiJson(_body): ApiJson<UpdateTenant>,
) -> ApiResult<Json<Empty>> {
    let db = state.db.clone();
    blocking(move || db.get_tenant(&tenant).map_err(ApiError::from)).await?;
    Ok(Json(Empty {}))
}
