//! A collection's Schema (Chroma 1.3+): which metadata keys and value
//! types are indexed, whether full-text search is on for documents, the
//! vector index (space, HNSW or SPANN parameters, embedding function) and
//! the sparse vector indexes. It is the source of truth for a collection's
//! configuration: [`Schema::config`] derives the parameters the engine runs
//! with, and the server derives `configuration_json` from it.
//!
//! - `model.rs`: the JSON shape (serde, aliases, unknown fields refused);
//! - `defaults.rs`: the server's default schema, configuration ⇄ schema;
//! - `reconcile.rs`: a create request's validation, conflict rule and merge.
//!
//! Here: what the schema changes at run time — filters on an index that is
//! off are refused ([`Schema::check_where`]), new metadata keys are
//! discovered on write ([`Schema::discover`]), and `modify` updates the
//! vector index ([`Schema::update`]).
//!
//! Where it lives: the catalog stores each collection's schema as created
//! or modified; the collection's manifest stores the keys and value types
//! its records brought (`schema_keys`), and a WAL replay rediscovers the
//! newer ones, so a discovered key is as durable as the write that brought
//! it.
//!
//! SPANN: as on a single-node Chroma (and as the `chromadb` package's own
//! tests expect of one), a schema's SPANN block is accepted and dropped;
//! the vector index is HNSW with the server's defaults for what the user
//! did not set.

pub mod config;
mod defaults;
mod model;
mod reconcile;

pub use model::{
    ef_is_default, BoolValueType, EmptyConfig, FloatListValueType, FloatValueType, FtsAlgorithm,
    FtsIndexConfig, HnswIndexConfig, IndexType, IntValueType, Schema, SpannIndexConfig,
    SparseAlgorithm, SparseVectorIndexConfig, SparseVectorValueType, StringValueType, ValueType,
    ValueTypes, VectorIndexConfig, DOCUMENT_KEY, EMBEDDING_KEY,
};
pub(crate) use reconcile::reconcile;

use crate::error::{Error, Result};
use crate::filter::{Comparison, Number, Scalar, Where, WhereDocument};
use crate::metadata::MetadataValue;
use config::ConfigUpdate;

/// Metadata keys with this prefix are Chroma's own and never discovered.
const CHROMA_PREFIX: &str = "chroma:";

impl ValueType {
    /// The value type of a metadata value (arrays: their element's).
    pub fn of(v: &MetadataValue) -> ValueType {
        match v {
            MetadataValue::Bool(_) | MetadataValue::BoolArray(_) => ValueType::Bool,
            MetadataValue::Int(_) | MetadataValue::IntArray(_) => ValueType::Int,
            MetadataValue::Float(_) | MetadataValue::FloatArray(_) => ValueType::Float,
            MetadataValue::Str(_) | MetadataValue::StrArray(_) => ValueType::Str,
            MetadataValue::SparseVector(_) => ValueType::SparseVector,
        }
    }

    fn of_scalar(s: &Scalar) -> ValueType {
        match s {
            Scalar::Bool(_) => ValueType::Bool,
            Scalar::Int(_) => ValueType::Int,
            Scalar::Float(_) => ValueType::Float,
            Scalar::Str(_) => ValueType::Str,
        }
    }

    fn of_number(n: &Number) -> ValueType {
        match n {
            Number::Int(_) => ValueType::Int,
            Number::Float(_) => ValueType::Float,
        }
    }
}

impl ValueTypes {
    /// A key's entry with an enabled sparse-vector index, its scores
    /// weighted by BM25's IDF when `bm25` (what the client's
    /// `Schema().create_index(SparseVectorIndexConfig(bm25=...), key=K)`
    /// sends).
    pub fn sparse_index(bm25: bool) -> ValueTypes {
        ValueTypes {
            sparse_vector: Some(SparseVectorValueType {
                sparse_vector_index: Some(IndexType {
                    enabled: true,
                    config: SparseVectorIndexConfig {
                        bm25: Some(bm25),
                        ..Default::default()
                    },
                }),
            }),
            ..Default::default()
        }
    }

    /// Whether the index of type `t` is on here; `None` when this entry
    /// says nothing about `t`.
    fn enabled(&self, t: ValueType) -> Option<bool> {
        match t {
            ValueType::Bool => self
                .boolean
                .as_ref()?
                .bool_inverted_index
                .as_ref()
                .map(|i| i.enabled),
            ValueType::Int => self
                .int
                .as_ref()?
                .int_inverted_index
                .as_ref()
                .map(|i| i.enabled),
            ValueType::Float => self
                .float
                .as_ref()?
                .float_inverted_index
                .as_ref()
                .map(|i| i.enabled),
            ValueType::Str => self
                .string
                .as_ref()?
                .string_inverted_index
                .as_ref()
                .map(|i| i.enabled),
            ValueType::SparseVector => self
                .sparse_vector
                .as_ref()?
                .sparse_vector_index
                .as_ref()
                .map(|i| i.enabled),
        }
    }

    /// Whether this entry has one for value type `t`.
    pub fn has(&self, t: ValueType) -> bool {
        match t {
            ValueType::Bool => self.boolean.is_some(),
            ValueType::Int => self.int.is_some(),
            ValueType::Float => self.float.is_some(),
            ValueType::Str => self.string.is_some(),
            ValueType::SparseVector => self.sparse_vector.is_some(),
        }
    }

    /// Copies `from`'s entry for `t` into this one.
    fn take(&mut self, t: ValueType, from: &ValueTypes) {
        match t {
            ValueType::Bool => self.boolean = from.boolean.clone(),
            ValueType::Int => self.int = from.int.clone(),
            ValueType::Float => self.float = from.float.clone(),
            ValueType::Str => self.string = from.string.clone(),
            ValueType::SparseVector => self.sparse_vector = from.sparse_vector.clone(),
        }
    }
}

impl Schema {
    /// A create request's schema: `user` validated and merged with the
    /// defaults, or derived from `config` (see `reconcile.rs`).
    pub fn for_create(user: Option<&Schema>, config: &config::CollectionConfig) -> Result<Schema> {
        reconcile(user, config)
    }

    /// Whether the inverted index of `t` on `key` is on (the key's entry,
    /// else the defaults'; on when neither says).
    pub fn index_enabled(&self, key: &str, t: ValueType) -> bool {
        self.keys
            .get(key)
            .and_then(|vt| vt.enabled(t))
            .or_else(|| self.defaults.enabled(t))
            .unwrap_or(true)
    }

    /// The keys whose sparse-vector index is on: the ones a segment writes
    /// posting lists for.
    pub(crate) fn sparse_index_keys(&self) -> Vec<String> {
        self.keys
            .keys()
            .filter(|k| {
                self.keys[*k].sparse_vector.is_some()
                    && self.index_enabled(k, ValueType::SparseVector)
            })
            .cloned()
            .collect()
    }

    /// Whether sparse scores on `key` weight the query by BM25's IDF (the
    /// key's sparse index's `bm25`, else the defaults'; never by itself).
    pub fn bm25(&self, key: &str) -> bool {
        let of = |vt: &ValueTypes| {
            vt.sparse_vector
                .as_ref()?
                .sparse_vector_index
                .as_ref()?
                .config
                .bm25
        };
        self.keys
            .get(key)
            .and_then(of)
            .or_else(|| of(&self.defaults))
            .unwrap_or(false)
    }

    /// Whether full-text search is on (`#document`'s, else the defaults').
    pub fn fts_enabled(&self) -> bool {
        let of = |vt: &ValueTypes| vt.string.as_ref()?.fts_index.as_ref().map(|i| i.enabled);
        self.keys
            .get(DOCUMENT_KEY)
            .and_then(of)
            .or_else(|| of(&self.defaults))
            .unwrap_or(true)
    }

    /// Refuses a `where` that filters on an index that is off, with
    /// Chroma's messages.
    pub fn check_where(&self, w: &Where) -> Result<()> {
        match w {
            Where::And(c) | Where::Or(c) => c.iter().try_for_each(|w| self.check_where(w)),
            Where::Document(_) => self.check_document(),
            Where::Id(_) => Ok(()),
            Where::Field { key, op } => {
                let t = match op {
                    Comparison::Eq(s)
                    | Comparison::Ne(s)
                    | Comparison::Contains(s)
                    | Comparison::NotContains(s) => ValueType::of_scalar(s),
                    Comparison::Gt(n)
                    | Comparison::Gte(n)
                    | Comparison::Lt(n)
                    | Comparison::Lte(n) => ValueType::of_number(n),
                    Comparison::In(l) | Comparison::Nin(l) => match l.first() {
                        Some(s) => ValueType::of_scalar(s),
                        None => return Ok(()),
                    },
                };
                if self.index_enabled(key, t) {
                    Ok(())
                } else {
                    Err(Error::invalid(format!(
                        "Cannot filter using metadata key '{key}' with type '{t:?}' because indexing is disabled"
                    )))
                }
            }
        }
    }

    /// Refuses a `where_document` while full-text search is off.
    pub fn check_where_document(&self, _w: &WhereDocument) -> Result<()> {
        self.check_document()
    }

    fn check_document(&self) -> Result<()> {
        if self.fts_enabled() {
            Ok(())
        } else {
            Err(Error::invalid(
                "Cannot filter using full-text search because FTS indexing is disabled",
            ))
        }
    }

    /// Whether discovering `t` under `key` would change nothing: the key
    /// has an entry for `t`, or is one of Chroma's own (`chroma:`).
    pub fn covers(&self, key: &str, t: ValueType) -> bool {
        key.starts_with(CHROMA_PREFIX) || self.keys.get(key).is_some_and(|vt| vt.has(t))
    }

    /// Adds `key` with the defaults of `t` unless it has an entry for `t`
    /// (Chroma's `ensure_key_from_metadata`); whether it changed.
    pub fn discover(&mut self, key: &str, t: ValueType) -> bool {
        if self.covers(key, t) {
            return false;
        }
        let defaults = self.defaults.clone();
        self.keys
            .entry(key.to_string())
            .or_default()
            .take(t, &defaults);
        true
    }

    /// The keys and value types the schema has entries for, as bit sets
    /// (`ValueType::bit`), `#`-keys left out: what a manifest stores.
    pub(crate) fn key_types(&self) -> Vec<(String, u8)> {
        self.keys
            .iter()
            .filter(|(k, _)| !k.starts_with('#'))
            .map(|(k, vt)| {
                let bits = ValueType::ALL
                    .iter()
                    .filter(|t| vt.has(**t))
                    .fold(0u8, |b, t| b | t.bit());
                (k.clone(), bits)
            })
            .collect()
    }

    /// Discovers every key and type of a manifest's `key_types`.
    pub(crate) fn discover_all(&mut self, keys: &[(String, u8)]) {
        for (k, bits) in keys {
            for t in ValueType::ALL {
                if bits & t.bit() != 0 {
                    self.discover(k, t);
                }
            }
        }
    }

    /// Applies a `modify(configuration=...)` to the vector index of both
    /// `defaults` and `#embedding` (Chroma's `Schema::update`).
    pub fn update(&mut self, u: &ConfigUpdate) {
        let targets = [Some(&mut self.defaults), self.keys.get_mut(EMBEDDING_KEY)];
        for vt in targets.into_iter().flatten() {
            let Some(v) = vt.float_list.as_mut().and_then(|f| f.vector_index.as_mut()) else {
                continue;
            };
            let c = &mut v.config;
            if let Some(ef) = &u.embedding_function {
                c.embedding_function = Some(ef.clone());
            }
            let h = c.hnsw.get_or_insert_with(HnswIndexConfig::default);
            let set = |to: &mut Option<usize>, from: Option<usize>| {
                if from.is_some() {
                    *to = from;
                }
            };
            set(&mut h.ef_search, u.ef_search);
            set(&mut h.max_neighbors, u.max_neighbors);
            set(&mut h.num_threads, u.num_threads);
            set(&mut h.sync_threshold, u.sync_threshold);
            set(&mut h.batch_size, u.batch_size);
            if u.resize_factor.is_some() {
                h.resize_factor = u.resize_factor;
            }
        }
    }
}
