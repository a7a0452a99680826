//! Record requests (add, upsert, update, delete, get) and the get response.

use chromite_engine::{Metadata, MetadataUpdate};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Embedding, IncludeItem};

/// `POST .../add` and `POST .../upsert`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WriteRecords {
    /// Record ids.
    pub ids: Vec<String>,
    /// One embedding per id (numbers or base64). Absent: embed `documents`
    /// with the server's model.
    #[serde(default)]
    pub embeddings: Option<Vec<Embedding>>,
    /// Metadata per record; a `null` value means "no key".
    #[serde(default)]
    pub metadatas: Option<Vec<Option<MetadataUpdate>>>,
    /// Documents per record.
    #[serde(default)]
    pub documents: Option<Vec<Option<String>>>,
    /// URIs per record.
    #[serde(default)]
    pub uris: Option<Vec<Option<String>>>,
}

/// `POST .../update`: like [`WriteRecords`] but embeddings are optional per record.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UpdateRecords {
    /// Record ids.
    pub ids: Vec<String>,
    /// New embeddings; `null` entries leave the stored one.
    #[serde(default)]
    pub embeddings: Option<Vec<Option<Embedding>>>,
    /// Metadata to merge; a `null` value deletes the key.
    #[serde(default)]
    pub metadatas: Option<Vec<Option<MetadataUpdate>>>,
    /// New documents; `null` entries leave the stored one.
    #[serde(default)]
    pub documents: Option<Vec<Option<String>>>,
    /// New URIs.
    #[serde(default)]
    pub uris: Option<Vec<Option<String>>>,
}

/// `POST .../delete`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeleteRecords {
    /// Ids to delete.
    #[serde(default)]
    pub ids: Option<Vec<String>>,
    /// Metadata filter (`{}` means none).
    #[serde(default, rename = "where")]
    pub where_: Option<Value>,
    /// Document filter (`{}` means none).
    #[serde(default)]
    pub where_document: Option<Value>,
    /// Cap on a where-delete.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `POST .../delete` answer.
#[derive(Debug, Clone, Serialize)]
pub struct Deleted {
    /// Chroma's count (see §5.2).
    pub deleted: usize,
}

/// `POST .../get`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GetRecords {
    /// Restrict to these ids.
    #[serde(default)]
    pub ids: Option<Vec<String>>,
    /// Metadata filter.
    #[serde(default, rename = "where")]
    pub where_: Option<Value>,
    /// Document filter.
    #[serde(default)]
    pub where_document: Option<Value>,
    /// At most this many.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Skip this many first.
    #[serde(default)]
    pub offset: Option<u32>,
    /// Fields to return (default documents + metadatas).
    #[serde(default)]
    pub include: Option<Vec<IncludeItem>>,
}

/// `POST .../get` answer: every key present, fields not included `null`.
#[derive(Debug, Clone, Serialize)]
pub struct GetResponse {
    /// Ids in first-insertion order.
    pub ids: Vec<String>,
    /// Embeddings (f32 printed as f32).
    pub embeddings: Option<Vec<Vec<f32>>>,
    /// Documents.
    pub documents: Option<Vec<Option<String>>>,
    /// URIs.
    pub uris: Option<Vec<Option<String>>>,
    /// Metadata.
    pub metadatas: Option<Vec<Option<Metadata>>>,
    /// The request's include list, echoed.
    pub include: Vec<IncludeItem>,
}
