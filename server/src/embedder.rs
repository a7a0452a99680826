//! The embedder slot: documents sent without embeddings and `query_texts`
//! are embedded by the model the server was started with (`--model`).
//! Without one, such requests get a 400 that says how to start a server
//! that embeds.

use std::sync::Arc;

use crate::error::{ApiError, ApiResult};

/// Which side of a retrieval pair a text is (some models prefix them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedTask {
    /// A search query.
    Query,
    /// A stored document.
    Passage,
}

/// A text embedding model usable by the server.
pub trait TextEmbedder: Send + Sync {
    /// The model's name, for logs.
    fn model_id(&self) -> String;
    /// The vector length.
    fn dim(&self) -> usize;
    /// Embeds texts.
    fn embed(&self, texts: &[&str], task: EmbedTask) -> Result<Vec<Vec<f32>>, String>;
}

/// The 400 sent when a request needs a model and none is loaded.
pub fn no_model(what: &str) -> ApiError {
    ApiError::invalid(format!(
        "{what} need an embedding model, and this server has none: send embeddings computed by the client, \
         or start the server with --model DIR_OR_NAME (env CHROMITE_MODEL) to embed documents on the server"
    ))
}

/// Embeds `texts` with `embedder` on a blocking thread.
pub async fn embed(embedder: &Arc<dyn TextEmbedder>, texts: Vec<String>, task: EmbedTask) -> ApiResult<Vec<Vec<f32>>> {
    let embedder = Arc::clone(embedder);
    crate::api::blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        embedder.embed(&refs, task).map_err(|e| ApiError::internal(format!("embedding failed: {e}")))
    })
    .await
}
