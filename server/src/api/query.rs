//! `POST .../query` (§5.4): k-NN with filters; `query_texts` (a Chromite
//! extension) are embedded by the server's model.

use axum::extract::{Path, State};
use axum::Json;
use chromite_engine::QueryRequest;

use crate::api::blocking;
use crate::convert;
use crate::embedder::{self, Task};
use crate::error::{ApiError, ApiResult};
use crate::metrics::RecordOp;
use crate::state::AppState;
use crate::wire::include::QUERY_DEFAULT;
use crate::wire::query::{QueryRecords, QueryResponse};
use crate::wire::ApiJson;

/// Chroma's default `n_results`.
pub const DEFAULT_N_RESULTS: u32 = 10;

/// `POST .../query`.
pub async fn query(
    State(state): State<AppState>,
    Path((_t, _d, raw_id)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<QueryRecords>,
) -> ApiResult<Json<QueryResponse>> {
    let id = convert::collection_id(&raw_id)?;
    let query_embeddings: Vec<Vec<f32>> = match (body.query_embeddings, body.query_texts) {
        (Some(e), _) => e.into_iter().map(|e| e.0).collect(),
        (None, Some(texts)) => match &state.embedder {
            Some(model) => embedder::embed(model, texts, Task::Query).await?,
            None => return Err(embedder::no_model("query_texts")),
        },
        (None, None) => return Err(ApiError::unprocessable("missing field `query_embeddings`")),
    };
    convert::validate_embeddings(&query_embeddings)?;
    let include_items = body.include.unwrap_or_else(|| QUERY_DEFAULT.to_vec());
    let include = convert::include(&include_items);
    let selection = convert::selection(body.ids, body.where_, body.where_document)?;
    let nq = query_embeddings.len();
    let req = QueryRequest {
        query_embeddings,
        n_results: body.n_results.unwrap_or(DEFAULT_N_RESULTS) as usize,
        selection,
        include,
    };
    let db = state.db.clone();
    let r = blocking(move || {
        let c = db.collection(id)?;
        if req.query_embeddings.is_empty() {
            return Ok(Default::default());
        }
        c.query(req).map_err(ApiError::from)
    })
    .await?;
    state.metrics.records(RecordOp::Query, nq);
    Ok(Json(QueryResponse {
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
                    .map(|row| {
                        row.into_iter()
                            .map(|m| m.filter(|m| !m.is_empty()))
                            .collect()
                    })
                    .collect(),
            )
        } else {
            None
        },
        distances: if include.distances {
            Some(r.distances.unwrap_or_default())
        } else {
            None
        },
        include: include_items,
    }))
}
