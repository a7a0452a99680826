//! Record writes and reads (§5): add (201), upsert, update, delete, get, count.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chromite_engine::{DeleteRequest, GetRequest, RecordBatch};
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
            RecordOp::Upsert => c.upsert(batch),
            _ => c.update(batch),
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
pub async fn update(
    State(state): State<AppState>,
    Path((_t, _d, raw_id)): RecordPath,
    ApiJson(body): ApiJson<UpdateRecords>,
) -> ApiResult<Json<Empty>> {
    let id = convert::collection_id(&raw_id)?;
    let n = body.ids.len();
    // Split per-record embeddings: all given, none given, or a mix (two updates).
    let (with, without): (Vec<usize>, Vec<usize>) = match &body.embeddings {
        Some(e) if e.len() != n => {
            return Err(ApiError::invalid(
                "Inconsistent number of IDs, embeddings, documents, URIs and metadatas",
            ))
        }
        Some(e) => (0..n).partition(|&i| e[i].is_some()),
        None => (Vec::new(), (0..n).collect()),
    };
    let embeddings: Option<Vec<Vec<f32>>> = match body.embeddings {
        Some(e) if !with.is_empty() => Some(e.into_iter().flatten().map(|e| e.0).collect()),
        _ => None,
    };
    let mut full = RecordBatch {
        ids: body.ids,
        embeddings: None,
        documents: body.documents,
        metadatas: body.metadatas,
        uris: body.uris,
    };
    convert::validate_batch(&full)?;
    if let Some(e) = &embeddings {
        convert::validate_embeddings(e)?;
    }
    // Records without embeddings whose document changes are re-embedded when a model is loaded.
    let mut extra: Vec<(usize, Vec<f32>)> = Vec::new();
    if let (Some(model), Some(docs)) = (&state.embedder, &full.documents) {
        let targets: Vec<usize> = without
            .iter()
            .copied()
            .filter(|&i| docs[i].is_some())
            .collect();
        if !targets.is_empty() {
            let texts = targets
                .iter()
                .map(|&i| docs[i].clone().unwrap_or_default())
                .collect();
            let vecs = embedder::embed(model, texts, Task::Passage).await?;
            extra = targets.into_iter().zip(vecs).collect();
        }
    }
    let mut vec_of: Vec<Option<Vec<f32>>> = vec![None; n];
    if let Some(e) = embeddings {
        for (i, v) in with.iter().copied().zip(e) {
            vec_of[i] = Some(v);
        }
    }
    for (i, v) in extra {
        vec_of[i] = Some(v);
    }
    let have: Vec<usize> = (0..n).filter(|&i| vec_of[i].is_some()).collect();
    if have.len() == n && n > 0 {
        full.embeddings = Some(vec_of.into_iter().flatten().collect());
        run_write(&state, id, full, RecordOp::Update).await?;
    } else if have.is_empty() {
        run_write(&state, id, full, RecordOp::Update).await?;
    } else {
        let (a, b) = split_batch(full, vec_of);
        run_write(&state, id, a, RecordOp::Update).await?;
        run_write(&state, id, b, RecordOp::Update).await?;
    }
    Ok(Json(Empty {}))
}

/// Splits an update into the records with a new embedding and those without.
fn split_batch(batch: RecordBatch, vecs: Vec<Option<Vec<f32>>>) -> (RecordBatch, RecordBatch) {
    let n = batch.ids.len();
    let mut with = RecordBatch {
        embeddings: Some(Vec::new()),
        ..Default::default()
    };
    let mut without = RecordBatch::default();
    let pick = |v: &Option<Vec<Option<String>>>, i: usize| v.as_ref().map(|v| v[i].clone());
    for (i, v) in vecs.into_iter().enumerate().take(n) {
        let target = if v.is_some() { &mut with } else { &mut without };
        target.ids.push(batch.ids[i].clone());
        if let (Some(v), Some(e)) = (v, target.embeddings.as_mut()) {
            e.push(v);
        }
        if let Some(d) = pick(&batch.documents, i) {
            target.documents.get_or_insert_with(Vec::new).push(d);
        }
        if let Some(u) = pick(&batch.uris, i) {
            target.uris.get_or_insert_with(Vec::new).push(u);
        }
        if let Some(m) = batch.metadatas.as_ref().map(|m| m[i].clone()) {
            target.metadatas.get_or_insert_with(Vec::new).push(m);
        }
    }
    (with, without)
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
