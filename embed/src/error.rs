//! Errors of the embedder, split like TEI's backends: problems while *loading* a model
//! (missing or malformed files — the message names the file) versus problems while
//! *running* it, plus requests that can never succeed for the loaded model.

/// Every error this crate returns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model could not be found or loaded: missing directory or file, malformed JSON,
    /// missing or mis-shaped tensor, unsupported architecture. The message names the file.
    #[error("cannot load embedding model: {0}")]
    Load(String),
    /// Tokenization or the forward pass failed for a request.
    #[error("embedding inference failed: {0}")]
    Inference(String),
    /// The request asks for something the loaded model does not offer (an output dimension
    /// outside its Matryoshka list, a task on a model without task adapters). Maps to a 400.
    #[error("invalid embedding request: {0}")]
    InvalidRequest(String),
}

impl Error {
    /// A [`Error::Load`] error about `path`.
    pub(crate) fn load(path: &std::path::Path, detail: impl std::fmt::Display) -> Self {
        Error::Load(format!("{}: {detail}", path.display()))
    }
}

/// Adds "while doing X" context to candle / tokenizer errors, choosing the variant.
pub(crate) trait ResultExt<T> {
    /// Context for a failure during inference.
    fn infer(self, what: &str) -> Result<T, Error>;
    /// Context for a failure while loading `path`.
    fn load_ctx(self, path: &std::path::Path, what: &str) -> Result<T, Error>;
}

impl<T, E: std::fmt::Display> ResultExt<T> for Result<T, E> {
    fn infer(self, what: &str) -> Result<T, Error> {
        self.map_err(|e| Error::Inference(format!("{what}: {e}")))
    }
    fn load_ctx(self, path: &std::path::Path, what: &str) -> Result<T, Error> {
        self.map_err(|e| Error::Load(format!("{}: {what}: {e}", path.display())))
    }
}
