//! The parameters the engine runs a collection with, derived from its
//! schema (`defaults.rs`): the distance space, the HNSW parameters and the
//! client's embedding function; and the modifiable part of them.

use serde::{Deserialize, Serialize};

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
