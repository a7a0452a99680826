//! The engine's vocabulary: records, metadata, collection configuration and
//! the requests and results of record operations. These are the types the
//! server maps Chroma's JSON onto (serde derives give Chroma's JSON shape).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::filter::{Where, WhereDocument};
pub use crate::schema::config::{CollectionConfig, ConfigUpdate, HnswConfig, Space};
use crate::schema::Schema;

/// A record id, as the user gave it (any non-empty string).
pub type RecordId = String;

pub use crate::metadata::{Metadata, MetadataValue, SparseVector};

/// Metadata sent with a write: `None` deletes the key on update/upsert and
/// means "no key" on add.
pub type MetadataUpdate = BTreeMap<String, Option<MetadataValue>>;

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
    /// The schema: the source of truth for the configuration
    /// ([`CollectionInfo::config`]), with the keys its records brought.
    pub schema: Schema,
    /// Embedding dimension, fixed by the first write that carries one.
    pub dimension: Option<usize>,
    /// Chroma's `log_position` (0 on a single node).
    pub log_position: u64,
    /// Chroma's `version`: how many write batches the collection has
    /// taken since the store opened it (Chroma's tests wait for it to grow).
    pub version: u64,
}

impl CollectionInfo {
    /// The configuration the engine runs with, derived from the schema.
    pub fn config(&self) -> CollectionConfig {
        self.schema.config()
    }
}

/// What to create a collection with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CollectionSpec {
    /// User metadata (`Some(empty)` is rejected: Chroma's "Metadata cannot be empty").
    pub metadata: Option<Metadata>,
    /// Configuration (already reconciled with legacy `hnsw:*` metadata keys).
    pub config: CollectionConfig,
    /// The user's schema, if any (validated and merged with the defaults
    /// on create; a non-default one with a non-default `config` is a 400).
    pub schema: Option<Schema>,
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
