//! Wire ⇄ engine: request validation with Chroma's messages, the mapping
//! of configuration (and legacy `hnsw:*` metadata keys, and a client's
//! schema) onto the engine's `CollectionConfig`, and the Collection object
//! (`configuration_json` derived from the schema).

use chromite_engine::{
    CollectionConfig, CollectionInfo, CollectionSpec, ConfigUpdate, HnswConfig, Include, Metadata,
    MetadataValue, RecordBatch, Schema, Selection, Space, Where, WhereDocument,
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

/// Stored metadata as a write's metadata (every key set), for the data
/// tools that re-add records.
pub fn metadata_update(m: &Metadata) -> chromite_engine::MetadataUpdate {
    m.iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect()
}

// ---------------------------------------------------------------- configuration

pub(crate) fn space_from_str(s: &str) -> ApiResult<Space> {
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
pub(crate) fn apply_legacy_metadata(hnsw: &mut HnswConfig, meta: &Metadata) -> ApiResult<()> {
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

/// What `configuration` left for the legacy `hnsw:*` metadata keys (the
/// rule of Chroma's own tests, `chromadb/test/property/test_schema.py`):
/// none when it set any HNSW value other than the default, or a SPANN
/// space; else every key it did not name (the space always).
struct LegacyKeys {
    allowed: bool,
    configured: Vec<&'static str>,
}

fn apply_configuration(
    hnsw: &mut HnswConfig,
    cfg: &CollectionConfiguration,
) -> ApiResult<LegacyKeys> {
    let mut legacy = LegacyKeys {
        allowed: true,
        configured: Vec::new(),
    };
    match (&cfg.hnsw, &cfg.spann) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "Multiple vector index configurations provided",
            ))
        }
        (Some(h), None) => {
            let d = HnswConfig::default();
            let mut note = |name: &'static str, is_default: bool| {
                legacy.configured.push(name);
                legacy.allowed &= is_default;
            };
            if let Some(s) = h.space {
                hnsw.space = s;
                note("space", s == d.space);
            }
            let sizes = [
                (
                    "ef_construction",
                    h.ef_construction,
                    &mut hnsw.ef_construction,
                    d.ef_construction,
                ),
                ("ef_search", h.ef_search, &mut hnsw.ef_search, d.ef_search),
                (
                    "max_neighbors",
                    h.max_neighbors,
                    &mut hnsw.max_neighbors,
                    d.max_neighbors,
                ),
                (
                    "sync_threshold",
                    h.sync_threshold,
                    &mut hnsw.sync_threshold,
                    d.sync_threshold,
                ),
                (
                    "num_threads",
                    h.num_threads,
                    &mut hnsw.num_threads,
                    d.num_threads,
                ),
                (
                    "batch_size",
                    h.batch_size,
                    &mut hnsw.batch_size,
                    d.batch_size,
                ),
            ];
            for (name, given, to, default) in sizes {
                if let Some(v) = given {
                    *to = v;
                    // num_threads is the machine's; it never counts as a change.
                    note(name, v == default || name == "num_threads");
                }
            }
            if let Some(f) = h.resize_factor {
                hnsw.resize_factor = f;
                note("resize_factor", f == d.resize_factor);
            }
        }
        (None, Some(s)) => {
            // An HNSW server takes only the space of a SPANN configuration.
            if let Some(sp) = s.space {
                hnsw.space = sp;
                legacy.allowed = false;
            }
        }
        (None, None) => {}
    }
    Ok(legacy)
}

/// The engine spec of a create request: the configuration (with the legacy
/// `hnsw:*` metadata keys where it leaves room for them, see
/// [`LegacyKeys`]) and the user's schema, which the engine reconciles (a
/// non-default schema with a non-default configuration is a 400).
pub fn collection_spec(req: &CreateCollection) -> ApiResult<CollectionSpec> {
    let metadata = collection_metadata(req.metadata.clone(), "metadata")?;
    let mut hnsw = HnswConfig::default();
    let mut embedding_function = None;
    let mut legacy = LegacyKeys {
        allowed: true,
        configured: Vec::new(),
    };
    if let Some(cfg) = &req.configuration {
        legacy = apply_configuration(&mut hnsw, cfg)?;
        if let Some(ef) = cfg.embedding_function.as_ref().filter(|v| !v.is_null()) {
            embedding_function = Some(ef.clone());
        }
    }
    if let Some(meta) = metadata.as_ref().filter(|_| legacy.allowed) {
        let mut from_meta = hnsw.clone();
        apply_legacy_metadata(&mut from_meta, meta)?;
        hnsw.space = from_meta.space;
        let take = |name: &str, to: &mut usize, from: usize| {
            if !legacy.configured.contains(&name) {
                *to = from;
            }
        };
        take(
            "ef_construction",
            &mut hnsw.ef_construction,
            from_meta.ef_construction,
        );
        take("ef_search", &mut hnsw.ef_search, from_meta.ef_search);
        take(
            "max_neighbors",
            &mut hnsw.max_neighbors,
            from_meta.max_neighbors,
        );
        take(
            "sync_threshold",
            &mut hnsw.sync_threshold,
            from_meta.sync_threshold,
        );
        take("num_threads", &mut hnsw.num_threads, from_meta.num_threads);
        take("batch_size", &mut hnsw.batch_size, from_meta.batch_size);
        if !legacy.configured.contains(&"resize_factor") {
            hnsw.resize_factor = from_meta.resize_factor;
        }
    }
    Ok(CollectionSpec {
        metadata,
        config: CollectionConfig {
            hnsw,
            embedding_function,
        },
        schema: req.schema.clone(),
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

/// `configuration_json` of a collection, derived from its schema: always
/// an object, with the HNSW parameters and the embedding function.
pub fn configuration_json(schema: &Schema) -> Value {
    let cfg = schema.config();
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

/// The Collection object.
pub fn collection_out(info: CollectionInfo) -> Collection {
    Collection {
        id: info.id.to_string(),
        configuration_json: configuration_json(&info.schema),
        schema: info.schema,
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
    fn legacy_metadata_fills_what_a_default_configuration_leaves() {
        let spec = |v: Value| collection_spec(&serde_json::from_value(v).unwrap()).unwrap();
        // Default values in the configuration: the metadata's space wins,
        // and its other keys fill what the configuration did not name.
        let s = spec(json!({
            "name": "abc",
            "metadata": {"hnsw:space": "cosine", "hnsw:M": 32, "hnsw:search_ef": 7},
            "configuration": {"hnsw": {"space": "l2", "ef_search": 100}}
        }));
        assert_eq!(s.config.hnsw.space, Space::Cosine);
        assert_eq!(s.config.hnsw.max_neighbors, 32);
        assert_eq!(s.config.hnsw.ef_search, 100);
        assert!(s.metadata.unwrap().contains_key("hnsw:space"));
        // A non-default value in the configuration: the metadata is ignored.
        let s = spec(json!({
            "name": "abc",
            "metadata": {"hnsw:space": "cosine", "hnsw:M": 32},
            "configuration": {"hnsw": {"ef_search": 50}}
        }));
        assert_eq!(
            (
                s.config.hnsw.space,
                s.config.hnsw.max_neighbors,
                s.config.hnsw.ef_search
            ),
            (Space::L2, 16, 50)
        );
        // A SPANN space too.
        let s = spec(json!({
            "name": "abc",
            "metadata": {"hnsw:M": 32},
            "configuration": {"spann": {"space": "ip", "ef_search": 50}}
        }));
        assert_eq!(
            (
                s.config.hnsw.space,
                s.config.hnsw.max_neighbors,
                s.config.hnsw.ef_search
            ),
            (Space::Ip, 16, 100)
        );
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
    fn schema_is_passed_on_and_configuration_json_follows_it() {
        let req: CreateCollection = serde_json::from_value(json!({
            "name": "abc",
            "schema": {"defaults": {}, "keys": {"#embedding": {"float_list": {"vector_index": {"enabled": true,
                "config": {"space": "ip", "embedding_function": {"type": "known", "name": "x", "config": {}}}}}}}}
        }))
        .unwrap();
        let spec = collection_spec(&req).unwrap();
        let schema = Schema::for_create(spec.schema.as_ref(), &spec.config).unwrap();
        let cfg = configuration_json(&schema);
        assert_eq!(cfg["hnsw"]["space"], "ip");
        assert_eq!(cfg["embedding_function"]["name"], "x");
        assert_eq!(cfg["spann"], Value::Null);
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
