//! The engine's vocabulary: records, metadata, collection configuration and
//! the requests and results of record operations. These are the types the
//! server maps Chroma's JSON onto (serde derives give Chroma's JSON shape).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::filter::{Where, WhereDocument};

/// A record id, as the user gave it (any non-empty string).
pub type RecordId = String;

pub use crate::metadata::{Metadata, MetadataValue};

/// Metadata sent with a write: `None` deletes the key on update/upsert and
/// means "no key" on add.
pub type MetadataUpdate = BTreeMap<String, Option<MetadataValue>>;

/// The distance space of a collection (Chroma's `hnsw.space`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Space {
    /// Squared Euclidean distance (no square root), Chroma's default.
    #[default]
    L2,
    /// `1 - cos(a, b)`.
    Cosine,
    /// `1 - dot(a, b)`; negative for unnormalised vectors.
    Ip,
}

/// HNSW parameters of a collection; defaults are Chroma's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HnswConfig {
    /// Distance space; fixed at creation.
    pub space: Space,
    /// Candidate list size while building; fixed at creation.
    pub ef_construction: usize,
    /// Candidate list size while searching; modifiable.
    pub ef_search: usize,
    /// Graph degree (`M`).
    pub max_neighbors: usize,
    /// Chroma's index growth factor (kept for compatibility).
    pub resize_factor: f64,
    /// Chroma's sync threshold (kept for compatibility).
    pub sync_threshold: usize,
    /// Threads used to build an index.
    pub num_threads: usize,
    /// Chroma's batch size (kept for compatibility).
    pub batch_size: usize,
}

impl Default for HnswConfig {
    fn default() -> Self {
        HnswConfig {
            space: Space::L2,
            ef_construction: 100,
            ef_search: 100,
            max_neighbors: 16,
            resize_factor: 1.2,
            sync_threshold: 1000,
            num_threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            batch_size: 100,
        }
    }
}

/// A collection's configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CollectionConfig {
    /// Vector index parameters.
    pub hnsw: HnswConfig,
    /// The client's `embedding_function` JSON, stored verbatim.
    pub embedding_function: Option<serde_json::Value>,
}

/// The modifiable part of a configuration (`new_configuration`); `None` keeps
/// the current value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ConfigUpdate {
    /// New `ef_search`.
    pub ef_search: Option<usize>,
    /// New `max_neighbors` (applies to graphs built from now on).
    pub max_neighbors: Option<usize>,
    /// New `num_threads`.
    pub num_threads: Option<usize>,
    /// New `resize_factor`.
    pub resize_factor: Option<f64>,
    /// New `sync_threshold`.
    pub sync_threshold: Option<usize>,
    /// New `batch_size`.
    pub batch_size: Option<usize>,
    /// New `embedding_function` JSON.
    pub embedding_function: Option<serde_json::Value>,
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    /// Its name.
    pub name: String,
}

/// A database inside a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Database {
    /// Its UUID (`default_database` is the nil UUID).
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// The tenant that owns it.
    pub tenant: String,
}

/// What the catalog knows about a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionInfo {
    /// Its UUID.
    pub id: Uuid,
    /// Its name, unique within its database.
    pub name: String,
    /// Owning tenant.
    pub tenant: String,
    /// Owning database.
    pub database: String,
    /// User metadata; `None` when it has none.
    pub metadata: Option<Metadata>,
    /// Configuration.
    pub config: CollectionConfig,
    /// Embedding dimension, fixed by the first write that carries one.
    pub dimension: Option<usize>,
    /// Chroma's `log_position` (0 on a single node).
    pub log_position: u64,
    /// Chroma's `version` (0 on a single node).
    pub version: u64,
}

/// What to create a collection with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CollectionSpec {
    /// User metadata (`Some(empty)` is rejected: Chroma's "Metadata cannot be empty").
    pub metadata: Option<Metadata>,
    /// Configuration (already reconciled with legacy `hnsw:*` metadata keys).
    pub config: CollectionConfig,
}

/// A batch of records for add, upsert or update. All present lists must have
/// the length of `ids`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordBatch {
    /// Record ids (non-empty strings).
    pub ids: Vec<RecordId>,
    /// One embedding per id; required by add and upsert, optional on update.
    pub embeddings: Option<Vec<Vec<f32>>>,
    /// Documents; a `None` entry leaves the stored document unchanged.
    pub documents: Option<Vec<Option<String>>>,
    /// Metadata; a `None` entry leaves the stored metadata unchanged.
    pub metadatas: Option<Vec<Option<MetadataUpdate>>>,
    /// URIs; a `None` entry leaves the stored uri unchanged.
    pub uris: Option<Vec<Option<String>>>,
}

/// An update: as a [`RecordBatch`], except that each record's embedding is
/// optional (`None` keeps the stored one), so an update that gives new
/// embeddings to some records only is still one atomic write.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdateBatch {
    /// Record ids (non-empty strings).
    pub ids: Vec<RecordId>,
    /// Per record, the new embedding or `None` to keep the stored one.
    pub embeddings: Option<Vec<Option<Vec<f32>>>>,
    /// Documents; a `None` entry leaves the stored document unchanged.
    pub documents: Option<Vec<Option<String>>>,
    /// Metadata; a `None` entry leaves the stored metadata unchanged.
    pub metadatas: Option<Vec<Option<MetadataUpdate>>>,
    /// URIs; a `None` entry leaves the stored uri unchanged.
    pub uris: Option<Vec<Option<String>>>,
}

impl From<RecordBatch> for UpdateBatch {
    fn from(b: RecordBatch) -> Self {
        UpdateBatch {
            ids: b.ids,
            embeddings: b.embeddings.map(|v| v.into_iter().map(Some).collect()),
            documents: b.documents,
            metadatas: b.metadatas,
            uris: b.uris,
        }
    }
}

/// Which fields a get or query returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Include {
    /// Return embeddings.
    pub embeddings: bool,
    /// Return documents.
    pub documents: bool,
    /// Return metadata.
    pub metadatas: bool,
    /// Return uris.
    pub uris: bool,
    /// Return distances (query only).
    pub distances: bool,
}

/// Which records a get, delete or query considers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selection {
    /// Restrict to these ids.
    pub ids: Option<Vec<RecordId>>,
    /// Metadata filter.
    pub r#where: Option<Where>,
    /// Document filter.
    pub where_document: Option<WhereDocument>,
}

/// A get request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GetRequest {
    /// Which records.
    pub selection: Selection,
    /// At most this many (after `offset`).
    pub limit: Option<usize>,
    /// Skip this many matches first.
    pub offset: usize,
    /// Fields to return.
    pub include: Include,
}

/// A get result: parallel lists in first-insertion order; a field not
/// included is `None`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GetResult {
    /// Ids.
    pub ids: Vec<RecordId>,
    /// Embeddings.
    pub embeddings: Option<Vec<Vec<f32>>>,
    /// Documents.
    pub documents: Option<Vec<Option<String>>>,
    /// Metadata (`None` for a record with none).
    pub metadatas: Option<Vec<Option<Metadata>>>,
    /// URIs.
    pub uris: Option<Vec<Option<String>>>,
}

/// A k-NN query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryRequest {
    /// One search per query vector.
    pub query_embeddings: Vec<Vec<f32>>,
    /// k.
    pub n_results: usize,
    /// Candidate restriction; an unknown id is an error ("Error finding id").
    pub selection: Selection,
    /// Fields to return.
    pub include: Include,
}

/// A query result: one list per query vector, nearest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResult {
    /// Ids.
    pub ids: Vec<Vec<RecordId>>,
    /// Embeddings.
    pub embeddings: Option<Vec<Vec<Vec<f32>>>>,
    /// Documents.
    pub documents: Option<Vec<Vec<Option<String>>>>,
    /// Metadata.
    pub metadatas: Option<Vec<Vec<Option<Metadata>>>>,
    /// URIs.
    pub uris: Option<Vec<Vec<Option<String>>>>,
    /// Distances in the collection's space, as f32.
    pub distances: Option<Vec<Vec<f32>>>,
}

/// A delete request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeleteRequest {
    /// Which records; an empty selection deletes nothing.
    pub selection: Selection,
    /// Cap on a where-delete.
    pub limit: Option<usize>,
}
