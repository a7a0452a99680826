//! The Schema's shape: Chroma 1.5's JSON, field for field
//! (`rust/types/src/collection_schema.rs`), with its input aliases
//! (`key_overrides`, `#string`, `$fts_index`, ...), `deny_unknown_fields`
//! on every index config (an unknown field is a 422 naming its path) and
//! absent options left out of the output.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::Space;

/// The document's key in a schema.
pub const DOCUMENT_KEY: &str = "#document";
/// The embedding's key in a schema.
pub const EMBEDDING_KEY: &str = "#embedding";

/// A collection's schema: per value type defaults, and per key overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// What a key not in `keys` gets, per value type.
    pub defaults: ValueTypes,
    /// Per key overrides (declared by the user or discovered on write).
    #[serde(rename = "keys", alias = "key_overrides")]
    pub keys: BTreeMap<String, ValueTypes>,
    /// Chroma Cloud's customer-managed key; validated, stored, unused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmek: Option<Value>,
}

/// The indexes of each value type.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ValueTypes {
    /// Strings (and string arrays).
    #[serde(
        default,
        rename = "string",
        alias = "#string",
        skip_serializing_if = "Option::is_none"
    )]
    pub string: Option<StringValueType>,
    /// Dense vectors.
    #[serde(
        default,
        rename = "float_list",
        alias = "#float_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub float_list: Option<FloatListValueType>,
    /// Sparse vectors.
    #[serde(
        default,
        rename = "sparse_vector",
        alias = "#sparse_vector",
        skip_serializing_if = "Option::is_none"
    )]
    pub sparse_vector: Option<SparseVectorValueType>,
    /// Integers (and integer arrays).
    #[serde(
        default,
        rename = "int",
        alias = "#int",
        skip_serializing_if = "Option::is_none"
    )]
    pub int: Option<IntValueType>,
    /// Floats (and float arrays).
    #[serde(
        default,
        rename = "float",
        alias = "#float",
        skip_serializing_if = "Option::is_none"
    )]
    pub float: Option<FloatValueType>,
    /// Booleans (and boolean arrays).
    #[serde(
        default,
        rename = "bool",
        alias = "#bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub boolean: Option<BoolValueType>,
}

/// The indexes of strings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StringValueType {
    /// Full-text search (only on `#document`).
    #[serde(
        default,
        rename = "fts_index",
        alias = "$fts_index",
        skip_serializing_if = "Option::is_none"
    )]
    pub fts_index: Option<IndexType<FtsIndexConfig>>,
    /// Equality and membership filters.
    #[serde(
        default,
        rename = "string_inverted_index",
        alias = "$string_inverted_index",
        skip_serializing_if = "Option::is_none"
    )]
    pub string_inverted_index: Option<IndexType<EmptyConfig>>,
}

/// The index of dense vectors.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FloatListValueType {
    /// The vector index (enabled only on `#embedding`).
    #[serde(
        default,
        rename = "vector_index",
        alias = "$vector_index",
        skip_serializing_if = "Option::is_none"
    )]
    pub vector_index: Option<IndexType<VectorIndexConfig>>,
}

/// The index of sparse vectors.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SparseVectorValueType {
    /// A sparse index (enabled per key).
    #[serde(
        default,
        rename = "sparse_vector_index",
        alias = "$sparse_vector_index",
        skip_serializing_if = "Option::is_none"
    )]
    pub sparse_vector_index: Option<IndexType<SparseVectorIndexConfig>>,
}

/// The index of integers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct IntValueType {
    /// Equality and range filters.
    #[serde(
        default,
        rename = "int_inverted_index",
        alias = "$int_inverted_index",
        skip_serializing_if = "Option::is_none"
    )]
    pub int_inverted_index: Option<IndexType<EmptyConfig>>,
}

/// The index of floats.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FloatValueType {
    /// Equality and range filters.
    #[serde(
        default,
        rename = "float_inverted_index",
        alias = "$float_inverted_index",
        skip_serializing_if = "Option::is_none"
    )]
    pub float_inverted_index: Option<IndexType<EmptyConfig>>,
}

/// The index of booleans.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BoolValueType {
    /// Equality filters.
    #[serde(
        default,
        rename = "bool_inverted_index",
        alias = "$bool_inverted_index",
        skip_serializing_if = "Option::is_none"
    )]
    pub bool_inverted_index: Option<IndexType<EmptyConfig>>,
}

/// One index: whether it is on, and its configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexType<C> {
    /// On or off.
    pub enabled: bool,
    /// Its configuration.
    pub config: C,
}

impl<C: Default> IndexType<C> {
    /// An index with the default configuration.
    pub fn new(enabled: bool) -> IndexType<C> {
        IndexType {
            enabled,
            config: C::default(),
        }
    }
}

/// The configuration of the inverted indexes: none (`{}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyConfig {}

/// Full-text search's configuration (Chroma 1.5.9: `{}`; later versions
/// name an algorithm, accepted here and never echoed unless it is not the
/// default, which a 1.5.9 client could not read).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FtsIndexConfig {
    /// `trigram` (the default) or `token_bitmap`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<FtsAlgorithm>,
}

/// Chroma's full-text algorithms (the engine has one substring matcher).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FtsAlgorithm {
    /// Chroma's default.
    Trigram,
    /// Chroma Cloud's alternative.
    TokenBitmap,
}

/// The dense vector index's configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorIndexConfig {
    /// Distance space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<Space>,
    /// The client's embedding function, kept verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_function: Option<Value>,
    /// What the vectors are embedded from (`#document`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_key: Option<String>,
    /// HNSW parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hnsw: Option<HnswIndexConfig>,
    /// SPANN parameters: accepted (unknown fields refused) and dropped, as
    /// on a single-node Chroma.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spann: Option<SpannIndexConfig>,
}

/// HNSW parameters; absent ones take the server's defaults.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HnswIndexConfig {
    /// Build-time beam.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ef_construction: Option<usize>,
    /// Graph degree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_neighbors: Option<usize>,
    /// Search-time beam.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ef_search: Option<usize>,
    /// Build threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_threads: Option<usize>,
    /// Chroma's batch size (kept; at least 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Chroma's sync threshold (kept; at least 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_threshold: Option<usize>,
    /// Chroma's growth factor (kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize_factor: Option<f64>,
}

/// SPANN parameters (Chroma Cloud's index), with Chroma's ranges.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct SpannIndexConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_nprobe: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_rng_factor: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_rng_epsilon: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nreplica_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_rng_factor: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_rng_epsilon: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_threshold: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_samples_kmeans: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_lambda: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reassign_neighbor_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_threshold: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_centers_to_merge_to: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_nprobe: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ef_construction: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ef_search: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_neighbors: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub center_drift_threshold: Option<f32>,
    /// Chroma Cloud sets this itself; a user may only send `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantize: Option<String>,
}

/// A sparse vector index's configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparseVectorIndexConfig {
    /// The client's sparse embedding function, kept verbatim (the client
    /// embeds with it; the server never runs it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_function: Option<Value>,
    /// What the client embeds from: `#document` or a metadata key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_key: Option<String>,
    /// Whether scoring weights terms by BM25's IDF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bm25: Option<bool>,
    /// `wand` (the default, never echoed) or `max_score`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<SparseAlgorithm>,
}

/// Chroma Cloud's sparse algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SparseAlgorithm {
    /// The default.
    Wand,
    /// The alternative.
    MaxScore,
}

/// The value types of metadata, as the schema names them (arrays use
/// their scalar's index). `Debug` gives Chroma's names in its messages
/// (`Str`, `Int`, `Float`, `Bool`, `SparseVector`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ValueType {
    /// `bool`.
    Bool,
    /// `int`.
    Int,
    /// `float`.
    Float,
    /// `string`.
    Str,
    /// `sparse_vector`.
    SparseVector,
}

impl ValueType {
    /// Every value type, in a fixed order (bit `i` of a key's type set is
    /// `ALL[i]`).
    pub const ALL: [ValueType; 5] = [
        ValueType::Bool,
        ValueType::Int,
        ValueType::Float,
        ValueType::Str,
        ValueType::SparseVector,
    ];

    /// Its bit in a type set.
    pub fn bit(self) -> u8 {
        1 << (ValueType::ALL.iter().position(|t| *t == self).unwrap_or(0) as u8)
    }
}

/// Whether an embedding function counts as "the default" (Chroma's
/// `is_embedding_function_default`): absent, `unknown`, or the known
/// function named `default`.
pub fn ef_is_default(ef: Option<&Value>) -> bool {
    let Some(ef) = ef.filter(|v| !v.is_null()) else {
        return true;
    };
    match ef.get("type").and_then(Value::as_str) {
        Some("unknown") => true,
        Some("known") => ef.get("name").and_then(Value::as_str) == Some("default"),
        _ => false,
    }
}
