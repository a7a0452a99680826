//! Record writes and reads (§5): add (201), upsert, update, delete, get, count.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chromite_engine::{DeleteRequest, GetRequest, RecordBatch, UpdateBatch};
use uuid::Uuid;

use crate::api::blocking;
use crate::convert;
use crate::embedder::{self, Task};
use crate::error::{ApiError, ApiResult};
use crate::metrics::RecordOp;
use crate::state::AppState;
use crate::wire::include::GET_DEFAULT;
use crate::wire::record::{
    DeleteRecords, Deleted, GetRecords, GetResponse, UpdateRecords, WriteRecords,
};
use crate::wire::system::{CountParams, Empty};
use crate::wire::ApiJson;

type RecordPath = Path<(String, String, String)>;

/// Embeds the documents of a write that carries none (needs a model).
async fn embed_documents(
    state: &AppState,
    documents: Option<&Vec<Option<String>>>,
) -> ApiResult<Vec<Vec<f32>>> {
    let Some(docs) = documents else {
        return Err(ApiError::invalid(
            "You must provide embeddings or documents (documents are embedded when the server has a model)",
        ));
    };
    let Some(model) = &state.embedder else {
        return Err(embedder::no_model("Documents sent without embeddings"));
    };
    let texts = docs
        .iter()
        .map(|d| {
            d.clone().ok_or_else(|| {
                ApiError::invalid("A record without an embedding needs a document to embed")
            })
        })
        .collect::<ApiResult<Vec<String>>>()?;
    embedder::embed(model, texts, Task::Passage).await
}

/// Maps an add/upsert body onto an engine batch (embedding documents when needed).
async fn write_batch(state: &AppState, body: WriteRecords) -> ApiResult<RecordBatch> {
    let embeddings = match body.embeddings {
        Some(e) => e.into_iter().map(|e| e.0).collect(),
        None => embed_documents(state, body.documents.as_ref()).await?,
    };
    let batch = RecordBatch {
        ids: body.ids,
        embeddings: Some(embeddings),
        documents: body.documents,
        metadatas: body.metadatas,
        uris: body.uris,
    };
    convert::validate_batch(&batch)?;
    Ok(batch)
}

async fn run_write(state: &AppState, id: Uuid, batch: RecordBatch, op: RecordOp) -> ApiResult<()> {
    let n = batch.ids.len();
    let db = state.db.clone();
    blocking(move || {
        let c = db.collection(id)?;
        match op {
            RecordOp::Add => c.add(batch),
            _ => c.upsert(batch),
        }
        .map_err(ApiError::from)
    })
    .await?;
    state.metrics.records(op, n);
    Ok(())
}

/// `POST .../add`: 201 `{}`; an existing id is a silent no-op.
pub async fn add(
    State(state): State<AppState>,
    Path((_t, _d, raw_id)): RecordPath,
    ApiJson(body): ApiJson<WriteRecords>,
) -> ApiResult<(StatusCode, Json<Empty>)> {
    let id = convert::collection_id(&raw_id)?;
    let batch = write_batch(&state, body).await?;
    run_write(&state, id, batch, RecordOp::Add).await?;
    Ok((StatusCode::CREATED, Json(Empty {})))
}

/// `POST .../upsert`.
pub async fn upsert(
    State(state): State<AppState>,
    Path((_t, _d, raw_id)): RecordPath,
    ApiJson(body): ApiJson<WriteRecords>,
) -> ApiResult<Json<Empty>> {
    let id = convert::collection_id(&raw_id)?;
    let batch = write_batch(&state, body).await?;
    run_write(&state, id, batch, RecordOp::Upsert).await?;
    Ok(Json(Empty {}))
}

/// `POST .../update`: a missing id is a silent no-op; `null` entries keep
/// the stored value. Documents without embeddings keep the stored
/// embedding unless the server has a model, which then re-embeds them.
/// The whole request is one atomic engine write.
pub async fn update(
    State(state): State<AppState>,
    Path((_t, _d, raw_id)): RecordPath,
    ApiJson(body): ApiJson<UpdateRecords>,
) -> ApiResult<Json<Empty>> {
    let id = convert::collection_id(&raw_id)?;
    let n = body.ids.len();
    let mut batch = UpdateBatch {
        ids: body.ids,
        embeddings: body
            .embeddings
            .map(|e| e.into_iter().map(|e| e.map(|e| e.0)).collect()),
        documents: body.documents,
        metadatas: body.metadatas,
        uris: body.uris,
    };
    chromite_engine::validate::validate_update(&batch)?;
    // Records without an embedding whose document changes are re-embedded
    // when a model is loaded.
    if let (Some(model), Some(docs)) = (&state.embedder, &batch.documents) {
        let given = |i: usize| {
            batch
                .embeddings
                .as_ref()
                .is_some_and(|e: &Vec<Option<Vec<f32>>>| e[i].is_some())
        };
        let targets: Vec<usize> = (0..n).filter(|&i| docs[i].is_some() && !given(i)).collect();
        if !targets.is_empty() {
            let texts = targets
                .iter()
                .map(|&i| docs[i].clone().unwrap_or_default())
                .collect();
            let vecs = embedder::embed(model, texts, Task::Passage).await?;
            let embeddings = batch.embeddings.get_or_insert_with(|| vec![None; n]);
            for (i, v) in targets.into_iter().zip(vecs) {
                embeddings[i] = Some(v);
            }
        }
    }
    let db = state.db.clone();
    blocking(move || db.collection(id)?.update(batch).map_err(ApiError::from)).await?;
    state.metrics.records(RecordOp::Update, n);
    Ok(Json(Empty {}))
}

/// `POST .../delete`: `{"deleted": n}`.
pub async fn delete(
    State(state): State<AppState>,
    Path((_t, _d, raw_id)): RecordPath,
    ApiJson(body): ApiJson<DeleteRecords>,
) -> ApiResult<Json<Deleted>> {
    let id = convert::collection_id(&raw_id)?;
    let selection = convert::selection(body.ids, body.where_, body.where_document)?;
    let req = DeleteRequest {
        selection,
        limit: body.limit.map(|l| l as usize),
    };
    let db = state.db.clone();
    let deleted = blocking(move || db.collection(id)?.delete(req).map_err(ApiError::from)).await?;
    state.metrics.records(RecordOp::Delete, deleted);
    Ok(Json(Deleted { deleted }))
}

/// `POST .../get`: first-insertion order; every key present.
pub async fn get(
    State(state): State<AppState>,
    Path((_t, _d, raw_id)): RecordPath,
    ApiJson(body): ApiJson<GetRecords>,
) -> ApiResult<Json<GetResponse>> {
    let id = convert::collection_id(&raw_id)?;
    let include_items = body.include.unwrap_or_else(|| GET_DEFAULT.to_vec());
    let include = convert::include(&include_items);
    let selection = convert::selection(body.ids, body.where_, body.where_document)?;
    let req = GetRequest {
        selection,
        limit: body.limit.map(|l| l as usize),
        offset: body.offset.unwrap_or(0) as usize,
        include,
    };
    let db = state.db.clone();
    let r = blocking(move || db.collection(id)?.get(req).map_err(ApiError::from)).await?;
    Ok(Json(GetResponse {
        ids: r.ids,
        embeddings: if include.embeddings {
            Some(r.embeddings.unwrap_or_default())
        } else {
            None
        },
        documents: if include.documents {
            Some(r.documents.unwrap_or_default())
        } else {
            None
        },
        uris: if include.uris {
            Some(r.uris.unwrap_or_default())
        } else {
            None
        },
        metadatas: if include.metadatas {
            Some(
                r.metadatas
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| m.filter(|m| !m.is_empty()))
                    .collect(),
            )
        } else {
            None
        },
        include: include_items,
    }))
}

/// `GET .../count`: a bare integer.
pub async fn count(
    State(state): State<AppState>,
    Path((_t, _d, raw_id)): RecordPath,
    params: Result<Query<CountParams>, QueryRejection>,
) -> ApiResult<Json<usize>> {
    let _ = params?;
    let id = convert::collection_id(&raw_id)?;
    let db = state.db.clone();
    let n = blocking(move || db.collection(id)?.count().map_err(ApiError::from)).await?;
    Ok(Json(n))
}
