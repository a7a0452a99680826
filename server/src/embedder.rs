//! The embedder slot: documents sent without embeddings and `query_texts`
//! are embedded by the model the server was started with (`--model`,
//! a `chromite_embed::TextEmbedder`). Without one, such requests get a 400
//! that says how to start a server that embeds.

use std::sync::Arc;

pub use chromite_embed::{Embedder, Task};

use crate::error::{ApiError, ApiResult};

/// The 400 sent when a request needs a model and none is loaded.
pub fn no_model(what: &str) -> ApiError {
    ApiError::invalid(format!(
        "{what} need an embedding model, and this server has none: send embeddings computed by the client, \
         or start the server with --model DIR_OR_NAME (env CHROMITE_MODEL) to embed documents on the server"
    ))
}

/// Embeds `texts` with `embedder` on a blocking thread, checking the count.
pub async fn embed(
    embedder: &Arc<dyn Embedder>,
    texts: Vec<String>,
    task: Task,
) -> ApiResult<Vec<Vec<f32>>> {
    let embedder = Arc::clone(embedder);
    crate::api::blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vecs = embedder
            .embed(&refs, task)
            .map_err(|e| ApiError::internal(format!("embedding failed: {e}")))?;
        if vecs.len() != refs.len() {
            return Err(ApiError::internal(format!(
                "embedding failed: the model returned {} vectors for {} texts",
                vecs.len(),
                refs.len()
            )));
        }
        Ok(vecs)
    })
    .await
}
