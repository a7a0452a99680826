//! The server's default schema (Chroma's `Schema::new_default` for an
//! HNSW server) and the two derivations between a schema and the engine's
//! [`CollectionConfig`]: configuration → schema (Chroma's
//! `TryFrom<&InternalCollectionConfiguration>`) and schema → the HNSW
//! parameters and embedding function the engine runs with.

use std::collections::BTreeMap;

use super::config::{CollectionConfig, HnswConfig};
use super::model::{
    ef_is_default, BoolValueType, FloatListValueType, FloatValueType, HnswIndexConfig, IndexType,
    IntValueType, Schema, SpannIndexConfig, SparseVectorIndexConfig, SparseVectorValueType,
    StringValueType, ValueTypes, VectorIndexConfig, DOCUMENT_KEY, EMBEDDING_KEY,
};

/// Every HNSW parameter at the server's default.
pub(crate) fn default_hnsw() -> HnswIndexConfig {
    hnsw_block(&HnswConfig::default())
}

/// The schema block of engine HNSW parameters.
fn hnsw_block(h: &HnswConfig) -> HnswIndexConfig {
    HnswIndexConfig {
        ef_construction: Some(h.ef_construction),
        max_neighbors: Some(h.max_neighbors),
        ef_search: Some(h.ef_search),
        num_threads: Some(h.num_threads),
        batch_size: Some(h.batch_size),
        sync_threshold: Some(h.sync_threshold),
        resize_factor: Some(h.resize_factor),
    }
}

/// Every SPANN parameter at Chroma's default.
pub(crate) fn default_spann() -> SpannIndexConfig {
    SpannIndexConfig {
        search_nprobe: Some(64),
        search_rng_factor: Some(1.0),
        search_rng_epsilon: Some(10.0),
        nreplica_count: Some(8),
        write_rng_factor: Some(1.0),
        write_rng_epsilon: Some(5.0),
        split_threshold: Some(50),
        num_samples_kmeans: Some(1000),
        initial_lambda: Some(100.0),
        reassign_neighbor_count: Some(64),
        merge_threshold: Some(25),
        num_centers_to_merge_to: Some(8),
        write_nprobe: Some(32),
        ef_construction: Some(200),
        ef_search: Some(200),
        max_neighbors: Some(64),
        center_drift_threshold: None,
        quantize: None,
    }
}

impl Default for Schema {
    /// The schema of a collection created with neither a schema nor a
    /// configuration: inverted indexes on, full-text search on
    /// `#document`, the HNSW vector index on `#embedding`, sparse indexes
    /// off.
    fn default() -> Schema {
        Schema::from_config(&CollectionConfig::default())
    }
}

impl Schema {
    /// The schema of a configuration: the defaults, with the vector index
    /// configured from it on `defaults` (disabled) and on `#embedding`.
    pub fn from_config(cfg: &CollectionConfig) -> Schema {
        let vector = VectorIndexConfig {
            space: Some(cfg.hnsw.space),
            embedding_function: cfg.embedding_function.clone().filter(|v| !v.is_null()),
            source_key: None,
            hnsw: Some(hnsw_block(&cfg.hnsw)),
            spann: None,
        };
        let defaults = ValueTypes {
            string: Some(StringValueType {
                fts_index: Some(IndexType::new(false)),
                string_inverted_index: Some(IndexType::new(true)),
            }),
            float_list: Some(FloatListValueType {
                vector_index: Some(IndexType {
                    enabled: false,
                    config: vector.clone(),
                }),
            }),
            sparse_vector: Some(SparseVectorValueType {
                sparse_vector_index: Some(IndexType {
                    enabled: false,
                    config: SparseVectorIndexConfig {
                        embedding_function: Some(serde_json::json!({"type": "unknown"})),
                        source_key: None,
                        bm25: Some(false),
                        algorithm: None,
                    },
                }),
            }),
            int: Some(IntValueType {
                int_inverted_index: Some(IndexType::new(true)),
            }),
            float: Some(FloatValueType {
                float_inverted_index: Some(IndexType::new(true)),
            }),
            boolean: Some(BoolValueType {
                bool_inverted_index: Some(IndexType::new(true)),
            }),
        };
        let mut keys = BTreeMap::new();
        keys.insert(
            DOCUMENT_KEY.to_string(),
            ValueTypes {
                string: Some(StringValueType {
                    fts_index: Some(IndexType::new(true)),
                    string_inverted_index: Some(IndexType::new(false)),
                }),
                ..ValueTypes::default()
            },
        );
        keys.insert(
            EMBEDDING_KEY.to_string(),
            ValueTypes {
                float_list: Some(FloatListValueType {
                    vector_index: Some(IndexType {
                        enabled: true,
                        config: VectorIndexConfig {
                            source_key: Some(DOCUMENT_KEY.to_string()),
                            ..vector
                        },
                    }),
                }),
                ..ValueTypes::default()
            },
        );
        Schema {
            defaults,
            keys,
            cmek: None,
        }
    }

    /// The vector index configuration queries use: `#embedding`'s, else
    /// the defaults'.
    pub fn vector_index(&self) -> Option<&VectorIndexConfig> {
        fn of(vt: &ValueTypes) -> Option<&VectorIndexConfig> {
            vt.float_list
                .as_ref()?
                .vector_index
                .as_ref()
                .map(|i| &i.config)
        }
        self.keys
            .get(EMBEDDING_KEY)
            .and_then(of)
            .or_else(|| of(&self.defaults))
    }

    /// The configuration the engine runs with: the space, HNSW parameters
    /// and embedding function of the vector index; absent values take the
    /// defaults.
    pub fn config(&self) -> CollectionConfig {
        let mut hnsw = HnswConfig::default();
        let Some(v) = self.vector_index() else {
            return CollectionConfig {
                hnsw,
                embedding_function: None,
            };
        };
        if let Some(space) = v.space {
            hnsw.space = space;
        }
        if let Some(h) = &v.hnsw {
            let set = |to: &mut usize, from: Option<usize>| {
                if let Some(x) = from {
                    *to = x;
                }
            };
            set(&mut hnsw.ef_construction, h.ef_construction);
            set(&mut hnsw.max_neighbors, h.max_neighbors);
            set(&mut hnsw.ef_search, h.ef_search);
            set(&mut hnsw.num_threads, h.num_threads);
            set(&mut hnsw.batch_size, h.batch_size);
            set(&mut hnsw.sync_threshold, h.sync_threshold);
            if let Some(f) = h.resize_factor {
                hnsw.resize_factor = f;
            }
        }
        let ef = v.embedding_function.clone().or_else(|| {
            let d = self.defaults.float_list.as_ref()?.vector_index.as_ref()?;
            d.config.embedding_function.clone()
        });
        CollectionConfig {
            hnsw,
            embedding_function: ef,
        }
    }
}

/// Whether a configuration is "the default" (Chroma's
/// `InternalCollectionConfiguration::is_default`; `num_threads` is
/// ignored, being the machine's).
pub(crate) fn config_is_default(cfg: &CollectionConfig) -> bool {
    let d = HnswConfig::default();
    let h = &cfg.hnsw;
    ef_is_default(cfg.embedding_function.as_ref())
        && h.space == d.space
        && h.ef_construction == d.ef_construction
        && h.ef_search == d.ef_search
        && h.max_neighbors == d.max_neighbors
        && h.batch_size == d.batch_size
        && h.sync_threshold == d.sync_threshold
        && h.resize_factor == d.resize_factor
}
