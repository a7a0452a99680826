//! Collection requests (`POST .../collections`, `PUT .../collections/{id}`)
//! and the Collection object every collection route answers with.

use chromite_engine::{Metadata, Schema, Space};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::metadata::CollectionMetadata;

/// `POST .../collections`.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateCollection {
    /// Collection name (validated by `convert`).
    pub name: String,
    /// Optional metadata; `{}` is a 400.
    #[serde(default)]
    pub metadata: Option<CollectionMetadata>,
    /// Optional configuration.
    #[serde(default)]
    pub configuration: Option<CollectionConfiguration>,
    /// Optional schema (1.5.x clients send one when given `schema=`);
    /// unknown fields in its index configs are a 422 naming their path.
    #[serde(default)]
    pub schema: Option<Schema>,
    /// Return the existing collection instead of a 409.
    #[serde(default)]
    pub get_or_create: bool,
}

/// `configuration` of a create request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CollectionConfiguration {
    /// HNSW parameters.
    #[serde(default)]
    pub hnsw: Option<HnswConfiguration>,
    /// SPANN parameters (a single node answers with an equivalent HNSW config).
    #[serde(default)]
    pub spann: Option<SpannConfiguration>,
    /// The client's embedding function description, stored verbatim.
    #[serde(default)]
    pub embedding_function: Option<Value>,
}

/// `configuration.hnsw` (unknown keys are a 422, as in Chroma).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HnswConfiguration {
    /// Distance space.
    #[serde(default)]
    pub space: Option<Space>,
    /// Build-time candidate list size.
    #[serde(default)]
    pub ef_construction: Option<usize>,
    /// Search-time candidate list size.
    #[serde(default)]
    pub ef_search: Option<usize>,
    /// Graph degree.
    #[serde(default)]
    pub max_neighbors: Option<usize>,
    /// Kept for compatibility.
    #[serde(default)]
    pub resize_factor: Option<f64>,
    /// Kept for compatibility.
    #[serde(default)]
    pub sync_threshold: Option<usize>,
    /// Build threads.
    #[serde(default)]
    pub num_threads: Option<usize>,
    /// Kept for compatibility.
    #[serde(default)]
    pub batch_size: Option<usize>,
}

/// `configuration.spann` (unknown keys are a 422).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpannConfiguration {
    /// Distance space (carried over to the HNSW config).
    #[serde(default)]
    pub space: Option<Space>,
    /// Mapped onto HNSW `ef_construction`.
    #[serde(default)]
    pub ef_construction: Option<usize>,
    /// Mapped onto HNSW `ef_search`.
    #[serde(default)]
    pub ef_search: Option<usize>,
    /// Mapped onto HNSW `max_neighbors`.
    #[serde(default)]
    pub max_neighbors: Option<usize>,
    /// Accepted and ignored.
    #[serde(default)]
    pub search_nprobe: Option<u32>,
    /// Accepted and ignored.
    #[serde(default)]
    pub write_nprobe: Option<u32>,
    /// Accepted and ignored.
    #[serde(default)]
    pub reassign_neighbor_count: Option<u32>,
    /// Accepted and ignored.
    #[serde(default)]
    pub split_threshold: Option<u32>,
    /// Accepted and ignored.
    #[serde(default)]
    pub merge_threshold: Option<u32>,
}

/// `PUT .../collections/{id}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UpdateCollection {
    /// New name.
    #[serde(default)]
    pub new_name: Option<String>,
    /// Replacement metadata; `{}` is a 400.
    #[serde(default)]
    pub new_metadata: Option<CollectionMetadata>,
    /// Updatable configuration fields.
    #[serde(default)]
    pub new_configuration: Option<UpdateConfiguration>,
}

/// `new_configuration`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UpdateConfiguration {
    /// HNSW fields that may change.
    #[serde(default)]
    pub hnsw: Option<UpdateHnsw>,
    /// SPANN fields that may change (mapped onto HNSW).
    #[serde(default)]
    pub spann: Option<UpdateSpann>,
    /// New embedding function description.
    #[serde(default)]
    pub embedding_function: Option<Value>,
}

/// `new_configuration.hnsw` (`space`/`ef_construction` are a 422).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateHnsw {
    /// New `ef_search`.
    #[serde(default)]
    pub ef_search: Option<usize>,
    /// New `max_neighbors`.
    #[serde(default)]
    pub max_neighbors: Option<usize>,
    /// New `num_threads`.
    #[serde(default)]
    pub num_threads: Option<usize>,
    /// New `resize_factor`.
    #[serde(default)]
    pub resize_factor: Option<f64>,
    /// New `sync_threshold`.
    #[serde(default)]
    pub sync_threshold: Option<usize>,
    /// New `batch_size`.
    #[serde(default)]
    pub batch_size: Option<usize>,
}

/// `new_configuration.spann`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSpann {
    /// New `ef_search`.
    #[serde(default)]
    pub ef_search: Option<usize>,
    /// Accepted and ignored.
    #[serde(default)]
    pub search_nprobe: Option<u32>,
}

/// `GET .../collections?limit=&offset=` and `GET .../databases?limit=&offset=`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct ListParams {
    /// At most this many.
    pub limit: Option<usize>,
    /// Skip this many first.
    pub offset: Option<usize>,
}

/// The Collection object.
#[derive(Debug, Clone, Serialize)]
pub struct Collection {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Always an object (`{"hnsw": {...}, "spann": null, "embedding_function": ...}`).
    pub configuration_json: Value,
    /// The collection's schema (the source of its configuration).
    pub schema: Schema,
    /// User metadata or null.
    pub metadata: Option<Metadata>,
    /// Fixed by the first embedding added.
    pub dimension: Option<usize>,
    /// Owning tenant.
    pub tenant: String,
    /// Owning database.
    pub database: String,
    /// Always 0 on a single node.
    pub log_position: u64,
    /// Grows with every write (the sequence number of the newest).
    pub version: u64,
}
