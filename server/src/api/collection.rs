//! Collections (§4.3): create / get-or-create, list, count, get by name,
//! get by id, modify, delete.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;

use crate::api::blocking;
use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::collection::{Collection, CreateCollection, ListParams, UpdateCollection};
use crate::wire::system::Empty;
use crate::wire::ApiJson;

/// `POST .../collections`.
pub async fn create(
    State(state): State<AppState>,
    Path((tenant, database)): Path<(String, String)>,
    ApiJson(body): ApiJson<CreateCollection>,
) -> ApiResult<Json<Collection>> {
    convert::validate_collection_name(&body.name)?;
    let spec = convert::collection_spec(&body)?;
    let db = state.db.clone();
    let (name, get_or_create) = (body.name, body.get_or_create);
    let info = blocking(move || {
        db.create_collection(&tenant, &database, &name, spec, get_or_create)
            .map_err(ApiError::from)
    })
    .await?;
    if !get_or_create {
        state.metrics.collection_created();
    }
    Ok(Json(convert::collection_out(info)))
}

/// `GET .../collections?limit=&offset=`, ordered by UUID.
pub async fn list(
    State(state): State<AppState>,
    Path((tenant, database)): Path<(String, String)>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> ApiResult<Json<Vec<Collection>>> {
    let Query(params) = params?;
    let db = state.db.clone();
    let list = blocking(move || {
        db.list_collections(&tenant, &database, params.limit, params.offset.unwrap_or(0))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(
        list.into_iter().map(convert::collection_out).collect(),
    ))
}

/// `GET .../collections_count`: a bare integer.
pub async fn count(
    State(state): State<AppState>,
    Path((tenant, database)): Path<(String, String)>,
) -> ApiResult<Json<usize>> {
    let db = state.db.clone();
    let n = blocking(move || {
        db.count_collections(&tenant, &database)
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(n))
}

/// `GET .../collections/{name}` (by NAME).
pub async fn get_by_name(
    State(state): State<AppState>,
    Path((tenant, database, name)): Path<(String, String, String)>,
) -> ApiResult<Json<Collection>> {
    let db = state.db.clone();
    let info = blocking(move || {
        db.get_collection_by_name(&tenant, &database, &name)
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(convert::collection_out(info)))
}

/// `GET .../collections/by-id/{uuid}`.
pub async fn get_by_id(
    State(state): State<AppState>,
    Path((tenant, database, raw_id)): Path<(String, String, String)>,
) -> ApiResult<Json<Collection>> {
    let id = convert::collection_id(&raw_id)?;
    let db = state.db.clone();
    let info = blocking(move || db.get_collection_by_id(id).map_err(ApiError::from)).await?;
    if info.tenant != tenant || info.database != database {
        return Err(ApiError::not_found(format!(
            "Collection [{id}] does not exist"
        )));
    }
    Ok(Json(convert::collection_out(info)))
}

/// `PUT .../collections/{uuid}`: rename, replace metadata, update configuration.
pub async fn modify(
    State(state): State<AppState>,
    Path((_tenant, _database, raw_id)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<UpdateCollection>,
) -> ApiResult<Json<Empty>> {
    let id = convert::collection_id(&raw_id)?;
    if let Some(name) = &body.new_name {
        convert::validate_collection_name(name)?;
    }
    let metadata = convert::collection_metadata(body.new_metadata, "new_metadata")?;
    let config = body
        .new_configuration
        .map(convert::config_update)
        .transpose()?;
    let new_name = body.new_name;
    let db = state.db.clone();
    blocking(move || {
        db.modify_collection(id, new_name.as_deref(), metadata, config)
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(Empty {}))
}

/// `DELETE .../collections/{name}` (by NAME).
pub async fn delete(
    State(state): State<AppState>,
    Path((tenant, database, name)): Path<(String, String, String)>,
) -> ApiResult<Json<Empty>> {
    let db = state.db.clone();
    blocking(move || {
        db.delete_collection(&tenant, &database, &name)
            .map_err(ApiError::from)
    })
    .await?;
    state.metrics.collection_deleted();
    Ok(Json(Empty {}))
}
