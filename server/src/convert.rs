//! Wire ⇄ engine: request validation with Chroma's messages, the mapping
//! of configuration (and legacy `hnsw:*` metadata keys, and a client's
//! schema) onto the engine's `CollectionConfig`, and the Collection object
//! (`configuration_json` + a `schema` derived from the configuration).

use chromite_engine::{
    CollectionConfig, CollectionInfo, CollectionSpec, ConfigUpdate, HnswConfig, Include, Metadata,
    MetadataValue, RecordBatch, Selection, Space, Where, WhereDocument,
};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::wire::collection::{
    Collection, CollectionConfiguration, CreateCollection, UpdateConfiguration,
};
use crate::wire::metadata::{self, CollectionMetadata};
use crate::wire::IncludeItem;

// ---------------------------------------------------------------- names

/// Chroma's collection name rule (the engine's, which owns it).
pub fn validate_collection_name(name: &str) -> ApiResult<()> {
    Ok(chromite_engine::names::check_collection(name)?)
}

/// Chroma's database name rule (the engine's).
pub fn validate_database_name(name: &str) -> ApiResult<()> {
    Ok(chromite_engine::names::check_database(name)?)
}

/// Chroma's tenant name rule (the engine's).
pub fn validate_tenant_name(name: &str) -> ApiResult<()> {
    Ok(chromite_engine::names::check_tenant(name)?)
}

/// A collection UUID from a path segment.
pub fn collection_id(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| {
        ApiError::invalid(
            "Validation error: collection_id: Invalid collection ID format, expected UUID",
        )
    })
}

// ---------------------------------------------------------------- metadata

/// Collection metadata for create/modify: `{}` is a 400 naming `field`.
pub fn collection_metadata(
    meta: Option<CollectionMetadata>,
    field: &str,
) -> ApiResult<Option<Metadata>> {
    match meta {
        None => Ok(None),
        Some(m) if m.is_empty() => Err(ApiError::invalid(format!(
            "Validation error: {field}: Metadata cannot be empty"
        ))),
        Some(m) => Ok(Some(metadata::to_engine(m))),
    }
}

// ---------------------------------------------------------------- configuration

fn space_from_str(s: &str) -> ApiResult<Space> {
    match s {
        "l2" => Ok(Space::L2),
        "cosine" => Ok(Space::Cosine),
        "ip" => Ok(Space::Ip),
        other => Err(ApiError::invalid(format!(
            "Invalid space: {other}. Expected one of l2, cosine, ip"
        ))),
    }
}

fn space_name(s: Space) -> &'static str {
    match s {
        Space::L2 => "l2",
        Space::Cosine => "cosine",
        Space::Ip => "ip",
    }
}

fn meta_usize(v: &MetadataValue, key: &str) -> ApiResult<usize> {
    match v {
        MetadataValue::Int(i) if *i >= 0 => Ok(*i as usize),
        _ => Err(ApiError::invalid(format!(
            "Invalid value for metadata key {key}: expected a non-negative integer"
        ))),
    }
}

/// Applies the legacy `hnsw:*` metadata keys (they win over configuration).
fn apply_legacy_metadata(hnsw: &mut HnswConfig, meta: &Metadata) -> ApiResult<()> {
    for (key, v) in meta {
        match key.as_str() {
            "hnsw:space" => match v {
                MetadataValue::Str(s) => hnsw.space = space_from_str(s)?,
                _ => {
                    return Err(ApiError::invalid(
                        "Invalid value for metadata key hnsw:space: expected a string",
                    ))
                }
            },
            "hnsw:construction_ef" => hnsw.ef_construction = meta_usize(v, key)?,
            "hnsw:search_ef" => hnsw.ef_search = meta_usize(v, key)?,
            "hnsw:M" => hnsw.max_neighbors = meta_usize(v, key)?,
            "hnsw:num_threads" => hnsw.num_threads = meta_usize(v, key)?,
            "hnsw:batch_size" => hnsw.batch_size = meta_usize(v, key)?,
            "hnsw:sync_threshold" => hnsw.sync_threshold = meta_usize(v, key)?,
            "hnsw:resize_factor" => match v {
                MetadataValue::Float(f) => hnsw.resize_factor = *f,
                MetadataValue::Int(i) => hnsw.resize_factor = *i as f64,
                _ => {
                    return Err(ApiError::invalid(
                        "Invalid value for metadata key hnsw:resize_factor: expected a number",
                    ))
                }
            },
            _ => {}
        }
    }
    Ok(())
}

fn get_path<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, k| cur.get(k))
}

/// Reads the vector-index part of a client's schema into `hnsw`; returns the
/// schema's embedding function. Sparse-vector indexes are refused like a
/// local Chroma does.
fn apply_schema(hnsw: &mut HnswConfig, schema: &Value) -> ApiResult<Option<Value>> {
    if !schema.is_object() {
        return Err(ApiError::invalid(
            "Failed to reconcile schema: Invalid schema input: schema must be an object",
        ));
    }
    let sparse_enabled = |vt: &Value| {
        get_path(vt, &["sparse_vector", "sparse_vector_index", "enabled"]).and_then(Value::as_bool)
            == Some(true)
    };
    let mut value_types: Vec<&Value> = schema.get("defaults").into_iter().collect();
    if let Some(keys) = schema.get("keys").and_then(Value::as_object) {
        value_types.extend(keys.values());
    }
    if value_types.iter().any(|vt| sparse_enabled(vt)) {
        return Err(ApiError::invalid(
            "Failed to reconcile schema: Invalid schema input: Sparse vector indexing is not enabled in local",
        ));
    }
    let config = get_path(
        schema,
        &["keys", "#embedding", "float_list", "vector_index", "config"],
    )
    .or_else(|| {
        get_path(
            schema,
            &["defaults", "float_list", "vector_index", "config"],
        )
    });
    let Some(config) = config else {
        return Ok(None);
    };
    if let Some(space) = config.get("space").and_then(Value::as_str) {
        hnsw.space = space_from_str(space)?;
    }
    let index = config.get("hnsw").or_else(|| config.get("spann"));
    if let Some(index) = index {
        let num = |k: &str| index.get(k).and_then(Value::as_u64).map(|n| n as usize);
        if let Some(n) = num("ef_construction") {
            hnsw.ef_construction = n;
        }
        if let Some(n) = num("ef_search") {
            hnsw.ef_search = n;
        }
        if let Some(n) = num("max_neighbors") {
            hnsw.max_neighbors = n;
        }
        if let Some(n) = num("num_threads") {
            hnsw.num_threads = n;
        }
        if let Some(n) = num("batch_size") {
            hnsw.batch_size = n;
        }
        if let Some(n) = num("sync_threshold") {
            hnsw.sync_threshold = n;
        }
        if let Some(f) = index.get("resize_factor").and_then(Value::as_f64) {
            hnsw.resize_factor = f;
        }
    }
    Ok(config
        .get("embedding_function")
        .filter(|v| !v.is_null())
        .cloned())
}

fn apply_configuration(hnsw: &mut HnswConfig, cfg: &CollectionConfiguration) -> ApiResult<()> {
    match (&cfg.hnsw, &cfg.spann) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "Multiple vector index configurations provided",
        )),
        (Some(h), None) => {
            if let Some(s) = h.space {
                hnsw.space = s;
            }
            if let Some(n) = h.ef_construction {
                hnsw.ef_construction = n;
            }
            if let Some(n) = h.ef_search {
                hnsw.ef_search = n;
            }
            if let Some(n) = h.max_neighbors {
                hnsw.max_neighbors = n;
            }
            if let Some(f) = h.resize_factor {
                hnsw.resize_factor = f;
            }
            if let Some(n) = h.sync_threshold {
                hnsw.sync_threshold = n;
            }
            Ok(())
        }
        (None, Some(s)) => {
            if let Some(sp) = s.space {
                hnsw.space = sp;
            }
            if let Some(n) = s.ef_construction {
                hnsw.ef_construction = n;
            }
            if let Some(n) = s.ef_search {
                hnsw.ef_search = n;
            }
            if let Some(n) = s.max_neighbors {
                hnsw.max_neighbors = n;
            }
            Ok(())
        }
        (None, None) => Ok(()),
    }
}

/// The engine spec of a create request. Precedence (as observed on Chroma):
/// legacy `hnsw:*` metadata keys > `configuration` > `schema` > defaults.
pub fn collection_spec(req: &CreateCollection) -> ApiResult<CollectionSpec> {
    let metadata = collection_metadata(req.metadata.clone(), "metadata")?;
    let mut hnsw = HnswConfig::default();
    let mut embedding_function = None;
    if let Some(schema) = req.schema.as_ref().filter(|s| !s.is_null()) {
        embedding_function = apply_schema(&mut hnsw, schema)?;
    }
    if let Some(cfg) = &req.configuration {
        apply_configuration(&mut hnsw, cfg)?;
        if let Some(ef) = cfg.embedding_function.as_ref().filter(|v| !v.is_null()) {
            embedding_function = Some(ef.clone());
        }
    }
    if let Some(meta) = &metadata {
        apply_legacy_metadata(&mut hnsw, meta)?;
    }
    Ok(CollectionSpec {
        metadata,
        config: CollectionConfig {
            hnsw,
            embedding_function,
        },
    })
}

/// The engine update of a `new_configuration`.
pub fn config_update(cfg: UpdateConfiguration) -> ApiResult<ConfigUpdate> {
    let mut up = ConfigUpdate {
        embedding_function: cfg.embedding_function.filter(|v| !v.is_null()),
        ..Default::default()
    };
    match (cfg.hnsw, cfg.spann) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "Multiple vector index configurations provided",
            ))
        }
        (Some(h), None) => {
            up.ef_search = h.ef_search;
            up.max_neighbors = h.max_neighbors;
            up.num_threads = h.num_threads;
            up.resize_factor = h.resize_factor;
            up.sync_threshold = h.sync_threshold;
            up.batch_size = h.batch_size;
        }
        (None, Some(s)) => up.ef_search = s.ef_search,
        (None, None) => {}
    }
    Ok(up)
}

/// `configuration_json` of a collection: always an object.
pub fn configuration_json(cfg: &CollectionConfig) -> Value {
    let h = &cfg.hnsw;
    json!({
        "hnsw": {
            "space": space_name(h.space),
            "ef_construction": h.ef_construction,
            "ef_search": h.ef_search,
            "max_neighbors": h.max_neighbors,
            "resize_factor": h.resize_factor,
            "sync_threshold": h.sync_threshold,
        },
        "spann": null,
        "embedding_function": cfg.embedding_function.clone().unwrap_or(Value::Null),
    })
}

fn index(enabled: bool) -> Value {
    json!({"enabled": enabled, "config": {}})
}

/// The `schema` Chroma 1.5 derives from a configuration (§7.3).
pub fn schema_json(cfg: &CollectionConfig) -> Value {
    let h = &cfg.hnsw;
    let hnsw = json!({
        "ef_construction": h.ef_construction,
        "max_neighbors": h.max_neighbors,
        "ef_search": h.ef_search,
        "num_threads": h.num_threads,
        "batch_size": h.batch_size,
        "sync_threshold": h.sync_threshold,
        "resize_factor": h.resize_factor,
    });
    let mut default_vec = Map::new();
    default_vec.insert("space".into(), json!(space_name(h.space)));
    let mut key_vec = default_vec.clone();
    if let Some(ef) = &cfg.embedding_function {
        default_vec.insert("embedding_function".into(), ef.clone());
        key_vec.insert("embedding_function".into(), ef.clone());
    }
    default_vec.insert("hnsw".into(), hnsw.clone());
    key_vec.insert("source_key".into(), json!("#document"));
    key_vec.insert("hnsw".into(), hnsw);
    json!({
        "defaults": {
            "string": {"fts_index": index(false), "string_inverted_index": index(true)},
            "float_list": {"vector_index": {"enabled": false, "config": default_vec}},
            "sparse_vector": {"sparse_vector_index": {"enabled": false, "config": {"embedding_function": {"type": "unknown"}, "bm25": false}}},
            "int": {"int_inverted_index": index(true)},
            "float": {"float_inverted_index": index(true)},
            "bool": {"bool_inverted_index": index(true)},
        },
        "keys": {
            "#document": {"string": {"fts_index": index(true), "string_inverted_index": index(false)}},
            "#embedding": {"float_list": {"vector_index": {"enabled": true, "config": key_vec}}},
        },
    })
}

/// The Collection object.
pub fn collection_out(info: CollectionInfo) -> Collection {
    Collection {
        id: info.id.to_string(),
        configuration_json: configuration_json(&info.config),
        schema: schema_json(&info.config),
        name: info.name,
        metadata: info.metadata.filter(|m| !m.is_empty()),
        dimension: info.dimension,
        tenant: info.tenant,
        database: info.database,
        log_position: info.log_position,
        version: info.version,
    }
}

// ---------------------------------------------------------------- records

/// The engine's include flags for an include list.
pub fn include(items: &[IncludeItem]) -> Include {
    let has = |i: IncludeItem| items.contains(&i);
    Include {
        embeddings: has(IncludeItem::Embeddings),
        documents: has(IncludeItem::Documents),
        metadatas: has(IncludeItem::Metadatas),
        uris: has(IncludeItem::Uris),
        distances: has(IncludeItem::Distances),
    }
}

fn is_empty_object(v: &Value) -> bool {
    v.as_object().is_some_and(Map::is_empty)
}

/// A selection; `where: {}` and `where_document: {}` (sent by old clients)
/// mean "no filter".
pub fn selection(
    ids: Option<Vec<String>>,
    where_: Option<Value>,
    where_document: Option<Value>,
) -> ApiResult<Selection> {
    let r#where = match where_.filter(|v| !v.is_null() && !is_empty_object(v)) {
        Some(v) => Some(Where::parse(&v)?),
        None => None,
    };
    let where_document = match where_document.filter(|v| !v.is_null() && !is_empty_object(v)) {
        Some(v) => Some(WhereDocument::parse(&v)?),
        None => None,
    };
    Ok(Selection {
        ids,
        r#where,
        where_document,
    })
}

/// Validates embeddings: at least one dimension, finite values (the
/// engine's rule, checked here before any model time is spent).
pub fn validate_embeddings<'a>(
    embeddings: impl IntoIterator<Item = &'a Vec<f32>>,
) -> ApiResult<()> {
    Ok(chromite_engine::validate::validate_embeddings(embeddings)?)
}

/// Validates an add/upsert batch as Chroma does (the engine's rule).
pub fn validate_batch(batch: &RecordBatch) -> ApiResult<()> {
    Ok(chromite_engine::validate::validate_records(batch)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_chroma_rules() {
        assert!(validate_collection_name("abc").is_ok());
        assert!(validate_collection_name("a.b-c_d").is_ok());
        let e = validate_collection_name("ab").unwrap_err();
        assert_eq!(
            e.message,
            "Validation error: name: Expected a name containing 3-512 characters from [a-zA-Z0-9._-], starting and ending with a character in [a-zA-Z0-9]. Got: ab"
        );
        assert!(validate_collection_name("-abc").is_err());
        assert!(validate_collection_name("abc-").is_err());
        assert!(validate_collection_name("a b c").is_err());
        assert!(validate_collection_name(&"a".repeat(513)).is_err());
        assert!(validate_collection_name("a..b")
            .unwrap_err()
            .message
            .contains("two consecutive periods"));
        assert!(validate_collection_name("10.0.0.1")
            .unwrap_err()
            .message
            .contains("ip address"));
        assert!(validate_database_name("x")
            .unwrap_err()
            .message
            .starts_with("Expected a name"));
        assert_eq!(
            validate_tenant_name("t1").unwrap_err().message,
            r#"Validation error: name: Validation error: length [{"min": Number(3), "value": String("t1")}]"#
        );
    }

    #[test]
    fn legacy_metadata_wins_over_configuration() {
        let req: CreateCollection = serde_json::from_value(json!({
            "name": "abc",
            "metadata": {"hnsw:space": "cosine", "hnsw:M": 32},
            "configuration": {"hnsw": {"space": "l2", "ef_search": 50}}
        }))
        .unwrap();
        let spec = collection_spec(&req).unwrap();
        assert_eq!(spec.config.hnsw.space, Space::Cosine);
        assert_eq!(spec.config.hnsw.max_neighbors, 32);
        assert_eq!(spec.config.hnsw.ef_search, 50);
        assert!(spec.metadata.unwrap().contains_key("hnsw:space"));
    }

    #[test]
    fn hnsw_and_spann_together_is_a_400() {
        let req: CreateCollection = serde_json::from_value(json!({
            "name": "abc", "configuration": {"hnsw": {}, "spann": {}}
        }))
        .unwrap();
        assert_eq!(
            collection_spec(&req).unwrap_err().message,
            "Multiple vector index configurations provided"
        );
    }

    #[test]
    fn schema_space_and_sparse_index() {
        let req: CreateCollection = serde_json::from_value(json!({
            "name": "abc",
            "schema": {"keys": {"#embedding": {"float_list": {"vector_index": {"enabled": true,
                "config": {"space": "ip", "embedding_function": {"type": "known", "name": "x", "config": {}}}}}}}}
        }))
        .unwrap();
        let spec = collection_spec(&req).unwrap();
        assert_eq!(spec.config.hnsw.space, Space::Ip);
        assert!(spec.config.embedding_function.is_some());
        let req: CreateCollection = serde_json::from_value(json!({
            "name": "abc",
            "schema": {"keys": {"sp": {"sparse_vector": {"sparse_vector_index": {"enabled": true, "config": {}}}}}}
        }))
        .unwrap();
        assert!(collection_spec(&req)
            .unwrap_err()
            .message
            .contains("Sparse vector indexing is not enabled in local"));
    }

    #[test]
    fn empty_metadata_is_refused() {
        let e = collection_metadata(Some(Default::default()), "new_metadata").unwrap_err();
        assert_eq!(
            e.message,
            "Validation error: new_metadata: Metadata cannot be empty"
        );
    }

    #[test]
    fn ragged_batches_and_bad_embeddings() {
        let mut b = RecordBatch {
            ids: vec!["a".into()],
            embeddings: Some(vec![vec![1.0], vec![2.0]]),
            ..Default::default()
        };
        assert!(validate_batch(&b)
            .unwrap_err()
            .message
            .starts_with("Inconsistent number"));
        b.embeddings = Some(vec![vec![]]);
        assert!(validate_batch(&b)
            .unwrap_err()
            .message
            .contains("at least 1 dimension"));
        b.embeddings = Some(vec![vec![f32::NAN]]);
        assert!(validate_batch(&b).unwrap_err().message.contains("NaN"));
        b.embeddings = Some(vec![vec![1.0]]);
        b.ids = vec![String::new()];
        assert!(validate_batch(&b)
            .unwrap_err()
            .message
            .starts_with("Empty ID"));
    }
}
