//! A Chroma collection's settings as Chromite's create request
//! (`../shared/chroma-format.md` §2.4): the schema of `schema_str` (1.3+),
//! else the HNSW block of `config_json_str` (1.0–1.2), else the legacy
//! `hnsw:*` keys of the VECTOR segment or the collection metadata
//! (0.4–0.6), else Chroma's defaults.

use chromite_engine::{CollectionConfig, CollectionSpec, Schema, Space};
use serde_json::Value;

use super::sqlite::CollectionRow;

/// The create request for `c` and the space its vectors are in.
pub fn spec(c: &CollectionRow) -> Result<(CollectionSpec, Space), String> {
    let metadata = (!c.metadata.is_empty()).then(|| c.metadata.clone());
    if let Some(s) = c.schema_str.as_deref().filter(|s| !s.trim().is_empty()) {
        let schema: Schema =
            serde_json::from_str(s).map_err(|e| format!("schema_str does not parse: {e}"))?;
        let space = schema.config().hnsw.space;
        return Ok((
            CollectionSpec {
                metadata,
                config: CollectionConfig::default(),
                schema: Some(schema),
            },
            space,
        ));
    }
    let mut config = CollectionConfig::default();
    let json: Option<Value> = c
        .config_json
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok());
    let from_json = json
        .as_ref()
        .and_then(|j| j.get("vector_index")?.get("hnsw").cloned());
    if let Some(h) = &from_json {
        let num = |k: &str| h.get(k).and_then(Value::as_u64).map(|n| n as usize);
        if let Some(s) = h.get("space").and_then(Value::as_str) {
            config.hnsw.space = crate::convert::space_from_str(s).map_err(|e| e.message)?;
        }
        if let Some(n) = num("ef_construction") {
            config.hnsw.ef_construction = n;
        }
        if let Some(n) = num("ef_search") {
            config.hnsw.ef_search = n;
        }
        if let Some(n) = num("max_neighbors") {
            config.hnsw.max_neighbors = n;
        }
        if let Some(n) = num("sync_threshold") {
            config.hnsw.sync_threshold = n;
        }
        if let Some(f) = h.get("resize_factor").and_then(Value::as_f64) {
            config.hnsw.resize_factor = f;
        }
        config.embedding_function = json
            .as_ref()
            .and_then(|j| j.get("embedding_function").cloned());
    }
    if from_json.is_none() || config.hnsw == CollectionConfig::default().hnsw {
        // 0.4–0.6: the VECTOR segment's keys, then the collection's.
        for m in [&c.segment_metadata, &c.metadata] {
            crate::convert::apply_legacy_metadata(&mut config.hnsw, m)
                .map_err(|e| format!("legacy hnsw keys: {}", e.message))?;
        }
    }
    let space = config.hnsw.space;
    Ok((
        CollectionSpec {
            metadata,
            config,
            schema: None,
        },
        space,
    ))
}
