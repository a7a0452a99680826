//! `POST .../query` request and response.

use chromite_engine::Metadata;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Embedding, IncludeItem};

/// `POST .../query`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QueryRecords {
    /// Restrict candidates to these ids (an unknown id is an error).
    #[serde(default)]
    pub ids: Option<Vec<String>>,
    /// One search per embedding.
    #[serde(default)]
    pub query_embeddings: Option<Vec<Embedding>>,
    /// Chromite extension: texts embedded by the server's model.
    #[serde(default)]
    pub query_texts: Option<Vec<String>>,
    /// k (default 10).
    #[serde(default)]
    pub n_results: Option<u32>,
    /// Metadata filter.
    #[serde(default, rename = "where")]
    pub where_: Option<Value>,
    /// Document filter.
    #[serde(default)]
    pub where_document: Option<Value>,
    /// Fields to return (default documents + metadatas + distances).
    #[serde(default)]
    pub include: Option<Vec<IncludeItem>>,
}

/// `POST .../query` answer: one list per query embedding.
#[derive(Debug, Clone, Serialize)]
pub struct QueryResponse {
    /// Ids, nearest first.
    pub ids: Vec<Vec<String>>,
    /// Embeddings.
    pub embeddings: Option<Vec<Vec<Vec<f32>>>>,
    /// Documents.
    pub documents: Option<Vec<Vec<Option<String>>>>,
    /// URIs.
    pub uris: Option<Vec<Vec<Option<String>>>>,
    /// Metadata.
    pub metadatas: Option<Vec<Vec<Option<Metadata>>>>,
    /// Distances (f32).
    pub distances: Option<Vec<Vec<f32>>>,
    /// The request's include list, echoed.
    pub include: Vec<IncludeItem>,
}
