//! A create request's schema and configuration become the collection's
//! schema, as Chroma's `plan_create_collection` does it: validate the
//! user's schema (`validate_schema`, its messages verbatim), refuse a
//! non-default schema together with a non-default configuration, merge
//! `defaults`, `#embedding` and `#document` field by field with the
//! server's defaults (other keys are kept as sent), and derive the schema
//! from the configuration when only the configuration says something.
//!
//! One deliberate difference from a single-node Chroma: enabled sparse
//! vector indexes are accepted, several per collection.

use super::config::{CollectionConfig, Space};
use super::defaults::{config_is_default, default_hnsw, default_spann};
use super::model::{
    ef_is_default, HnswIndexConfig, IndexType, Schema, SpannIndexConfig, SparseVectorIndexConfig,
    StringValueType, ValueTypes, VectorIndexConfig, DOCUMENT_KEY, EMBEDDING_KEY,
};
use crate::error::{Error, Result};

fn invalid(msg: impl std::fmt::Display) -> Error {
    Error::invalid(format!("Validation error: schema: {msg}"))
}

fn reconcile_error(msg: impl std::fmt::Display) -> Error {
    Error::invalid(format!("Failed to reconcile schema: {msg}"))
}

/// The schema a collection is created with.
pub(crate) fn reconcile(user: Option<&Schema>, config: &CollectionConfig) -> Result<Schema> {
    if let Some(s) = user {
        validate(s)?;
        if !is_default(s) && !config_is_default(config) {
            return Err(reconcile_error(
                "Cannot set both collection config and schema simultaneously",
            ));
        }
    }
    let merged = match user {
        Some(s) => merge_with_defaults(s)?,
        None => Schema::default(),
    };
    if !config_is_default(config) {
        return Ok(Schema::from_config(config));
    }
    if user.is_none_or(is_default) {
        // Both default: the default schema, with the configuration's
        // embedding function when it names one.
        let mut s = match user {
            Some(_) => merged,
            None => Schema::default(),
        };
        if let Some(ef) = config.embedding_function.as_ref().filter(|v| !v.is_null()) {
            for vt in [Some(&mut s.defaults), s.keys.get_mut(EMBEDDING_KEY)]
                .into_iter()
                .flatten()
            {
                if let Some(i) = vt.float_list.as_mut().and_then(|f| f.vector_index.as_mut()) {
                    i.config.embedding_function = Some(ef.clone());
                }
            }
        }
        return Ok(s);
    }
    Ok(merged)
}

/// Chroma's `validate_schema`, message for message (and in its order).
pub(crate) fn validate(s: &Schema) -> Result<()> {
    let d = &s.defaults;
    let vector = d.float_list.as_ref().and_then(|f| f.vector_index.as_ref());
    if vector.is_some_and(|i| i.enabled) {
        return Err(invalid("Vector index cannot be enabled by default. It can only be enabled on #embedding field."));
    }
    if vector.is_some_and(|i| i.config.hnsw.is_some() && i.config.spann.is_some()) {
        return Err(invalid(
            "Both spann and hnsw config cannot be present at the same time.",
        ));
    }
    if d.sparse_vector
        .as_ref()
        .and_then(|v| v.sparse_vector_index.as_ref())
        .is_some_and(|i| i.enabled)
    {
        return Err(invalid("Sparse vector index cannot be enabled by default. Please enable sparse vector index on specific keys."));
    }
    if fts(d).is_some_and(|i| i.enabled) {
        return Err(invalid("Full text search / regular expression index cannot be enabled by default. It can only be enabled on #document field."));
    }
    for (key, vt) in &s.keys {
        let key = key.as_str();
        if key.starts_with('#') && key != DOCUMENT_KEY && key != EMBEDDING_KEY {
            return Err(invalid(format!("key cannot begin with '#'. Keys starting with '#' are reserved for system use: {key}")));
        }
        let others_than_string = vt.boolean.is_some()
            || vt.float.is_some()
            || vt.int.is_some()
            || vt.float_list.is_some()
            || vt.sparse_vector.is_some();
        if key == DOCUMENT_KEY && others_than_string {
            return Err(invalid(format!(
                "Document field cannot have any value types other than string: {key}"
            )));
        }
        let others_than_float_list = vt.boolean.is_some()
            || vt.float.is_some()
            || vt.int.is_some()
            || vt.string.is_some()
            || vt.sparse_vector.is_some();
        if key == EMBEDDING_KEY && others_than_float_list {
            return Err(invalid(format!(
                "Embedding field cannot have any value types other than float_list: {key}"
            )));
        }
        if let Some(v) = vt.float_list.as_ref().and_then(|f| f.vector_index.as_ref()) {
            if v.enabled && key != EMBEDDING_KEY {
                return Err(invalid(format!(
                    "Vector index can only be enabled on #embedding field: {key}"
                )));
            }
            if v.config
                .source_key
                .as_ref()
                .is_some_and(|k| k != DOCUMENT_KEY)
            {
                return Err(invalid("Vector index can only source from #document"));
            }
        }
        if let Some(sp) = vt
            .sparse_vector
            .as_ref()
            .and_then(|v| v.sparse_vector_index.as_ref())
        {
            if sp.enabled
                && sp.config.source_key.is_some()
                && sp.config.embedding_function.is_none()
            {
                return Err(invalid("If source_key is provided then embedding_function must also be provided since there is no default embedding function."));
            }
            if sp
                .config
                .source_key
                .as_ref()
                .is_some_and(|k| k.starts_with('#') && k != DOCUMENT_KEY)
            {
                return Err(invalid("source_key cannot begin with '#'. The only valid key starting with '#' is Key.DOCUMENT or '#document'."));
            }
        }
        if fts(vt).is_some_and(|i| i.enabled) && key != DOCUMENT_KEY {
            return Err(invalid(format!("Full text search / regular expression index can only be enabled on #document field: {key}")));
        }
        let string_inverted = vt
            .string
            .as_ref()
            .and_then(|s| s.string_inverted_index.as_ref());
        if string_inverted.is_some_and(|i| i.enabled) && key == DOCUMENT_KEY {
            return Err(invalid(format!(
                "String inverted index can not be enabled on #document key: {key}"
            )));
        }
    }
    if let Some(cmek) = &s.cmek {
        let ok = cmek
            .get("gcp")
            .and_then(|v| v.as_str())
            .is_some_and(cmek_gcp_pattern);
        if !ok {
            return Err(invalid(format!(
                "CMEK does not match expected pattern: {cmek}"
            )));
        }
    }
    Ok(())
}

/// `projects/.+/locations/.+/keyRings/.+/cryptoKeys/.+`.
fn cmek_gcp_pattern(s: &str) -> bool {
    let mut rest = s;
    for (i, part) in ["projects/", "/locations/", "/keyRings/", "/cryptoKeys/"]
        .iter()
        .enumerate()
    {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
            continue;
        }
        match rest.get(1..).and_then(|r| r.find(part)) {
            Some(at) => rest = &rest[1 + at + part.len()..],
            None => return false,
        }
    }
    !rest.is_empty()
}

fn fts(vt: &ValueTypes) -> Option<&IndexType<super::model::FtsIndexConfig>> {
    vt.string.as_ref().and_then(|s| s.fts_index.as_ref())
}

/// Chroma's `Schema::is_default`: only `#embedding` and `#document` keys,
/// each in its default state, defaults with default enablement, a default
/// embedding function and the l2 space, no CMEK.
pub(crate) fn is_default(s: &Schema) -> bool {
    if s.cmek.is_some() || !value_types_default(&s.defaults) {
        return false;
    }
    for (key, vt) in &s.keys {
        let ok = match key.as_str() {
            EMBEDDING_KEY => embedding_default(vt),
            DOCUMENT_KEY => document_default(vt),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

fn space_default(space: Option<Space>) -> bool {
    space.is_none_or(|s| s == Space::L2)
}

fn vector_params_default(c: &VectorIndexConfig) -> bool {
    match (&c.hnsw, &c.spann) {
        (Some(h), None) => hnsw_default(h),
        (None, Some(s)) => spann_default(s),
        (Some(_), Some(_)) => false,
        (None, None) => true,
    }
}

fn hnsw_default(h: &HnswIndexConfig) -> bool {
    let d = default_hnsw();
    let same = |a: Option<usize>, b: Option<usize>| a.is_none() || a == b;
    same(h.ef_construction, d.ef_construction)
        && same(h.max_neighbors, d.max_neighbors)
        && same(h.ef_search, d.ef_search)
        && same(h.batch_size, d.batch_size)
        && same(h.sync_threshold, d.sync_threshold)
        && (h.resize_factor.is_none() || h.resize_factor == d.resize_factor)
}

fn spann_default(s: &SpannIndexConfig) -> bool {
    // Every field set must equal the default (unset ones are defaults).
    let d = default_spann();
    let set = serde_json::to_value(s).unwrap_or_default();
    let dv = serde_json::to_value(&d).unwrap_or_default();
    match set.as_object() {
        Some(fields) => fields.iter().all(|(k, v)| dv.get(k) == Some(v)),
        None => true,
    }
}

fn value_types_default(vt: &ValueTypes) -> bool {
    if let Some(s) = &vt.string {
        if s.string_inverted_index.as_ref().is_some_and(|i| !i.enabled)
            || s.fts_index.as_ref().is_some_and(|i| i.enabled)
        {
            return false;
        }
    }
    if vt
        .float
        .as_ref()
        .and_then(|f| f.float_inverted_index.as_ref())
        .is_some_and(|i| !i.enabled)
        || vt
            .int
            .as_ref()
            .and_then(|f| f.int_inverted_index.as_ref())
            .is_some_and(|i| !i.enabled)
        || vt
            .boolean
            .as_ref()
            .and_then(|f| f.bool_inverted_index.as_ref())
            .is_some_and(|i| !i.enabled)
    {
        return false;
    }
    if let Some(v) = vt.float_list.as_ref().and_then(|f| f.vector_index.as_ref()) {
        if v.enabled
            || !ef_is_default(v.config.embedding_function.as_ref())
            || !space_default(v.config.space)
            || v.config.source_key.is_some()
            || !vector_params_default(&v.config)
        {
            return false;
        }
    }
    if let Some(sp) = vt
        .sparse_vector
        .as_ref()
        .and_then(|v| v.sparse_vector_index.as_ref())
    {
        if sp.enabled
            || !ef_is_default(sp.config.embedding_function.as_ref())
            || sp.config.source_key.is_some()
            || sp.config.bm25 == Some(true)
        {
            return false;
        }
    }
    true
}

fn embedding_default(vt: &ValueTypes) -> bool {
    if vt.string.is_some()
        || vt.float.is_some()
        || vt.int.is_some()
        || vt.boolean.is_some()
        || vt.sparse_vector.is_some()
    {
        return false;
    }
    match vt.float_list.as_ref().and_then(|f| f.vector_index.as_ref()) {
        Some(v) => {
            v.enabled
                && space_default(v.config.space)
                && ef_is_default(v.config.embedding_function.as_ref())
                && v.config.source_key.as_deref() == Some(DOCUMENT_KEY)
                && vector_params_default(&v.config)
        }
        None => true,
    }
}

fn document_default(vt: &ValueTypes) -> bool {
    if vt.float_list.is_some()
        || vt.float.is_some()
        || vt.int.is_some()
        || vt.boolean.is_some()
        || vt.sparse_vector.is_some()
    {
        return false;
    }
    match &vt.string {
        Some(s) => {
            s.fts_index.as_ref().is_none_or(|i| i.enabled)
                && s.string_inverted_index.as_ref().is_none_or(|i| !i.enabled)
        }
        None => true,
    }
}

/// Chroma's `reconcile_with_defaults`: `defaults` and the keys the
/// default schema has are merged field by field (the user's values win),
/// other keys are kept as sent. The vector index is HNSW's (a SPANN
/// block is dropped, as on a single-node Chroma).
pub(crate) fn merge_with_defaults(user: &Schema) -> Result<Schema> {
    let base = Schema::default();
    let defaults = merge_value_types(&base.defaults, &user.defaults)?;
    let mut keys = base.keys;
    for (key, uvt) in &user.keys {
        let merged = match keys.get(key) {
            Some(dvt) => merge_value_types(dvt, uvt)?,
            None => uvt.clone(),
        };
        keys.insert(key.clone(), merged);
    }
    Ok(Schema {
        defaults,
        keys,
        cmek: user.cmek.clone(),
    })
}

fn or<T: Clone>(user: &Option<T>, default: &Option<T>) -> Option<T> {
    user.clone().or_else(|| default.clone())
}

fn merge_value_types(d: &ValueTypes, u: &ValueTypes) -> Result<ValueTypes> {
    let float_list = match (&d.float_list, &u.float_list) {
        (Some(df), Some(uf)) => Some(super::model::FloatListValueType {
            vector_index: match (&df.vector_index, &uf.vector_index) {
                (Some(dv), Some(uv)) => Some(IndexType {
                    enabled: uv.enabled,
                    config: merge_vector(&dv.config, &uv.config)?,
                }),
                (dv, uv) => or(uv, dv),
            },
        }),
        (df, uf) => or(uf, df),
    };
    if let Some(v) = float_list.as_ref().and_then(|f| f.vector_index.as_ref()) {
        check_params(&v.config)?;
    }
    let string = match (&d.string, &u.string) {
        (Some(ds), Some(us)) => Some(StringValueType {
            fts_index: or(&us.fts_index, &ds.fts_index),
            string_inverted_index: or(&us.string_inverted_index, &ds.string_inverted_index),
        }),
        (ds, us) => or(us, ds),
    };
    let sparse_vector = match (&d.sparse_vector, &u.sparse_vector) {
        (Some(ds), Some(us)) => Some(super::model::SparseVectorValueType {
            sparse_vector_index: match (&ds.sparse_vector_index, &us.sparse_vector_index) {
                (Some(di), Some(ui)) => Some(IndexType {
                    enabled: ui.enabled,
                    config: SparseVectorIndexConfig {
                        embedding_function: or(
                            &ui.config.embedding_function,
                            &di.config.embedding_function,
                        ),
                        source_key: or(&ui.config.source_key, &di.config.source_key),
                        bm25: ui.config.bm25.or(di.config.bm25),
                        algorithm: ui.config.algorithm.or(di.config.algorithm),
                    },
                }),
                (di, ui) => or(ui, di),
            },
        }),
        (ds, us) => or(us, ds),
    };
    Ok(ValueTypes {
        string,
        float_list,
        sparse_vector,
        int: or(&u.int, &d.int),
        float: or(&u.float, &d.float),
        boolean: or(&u.boolean, &d.boolean),
    })
}

fn merge_vector(d: &VectorIndexConfig, u: &VectorIndexConfig) -> Result<VectorIndexConfig> {
    // An HNSW server keeps only the HNSW family: a SPANN block is accepted
    // and dropped, as a single-node Chroma does.
    let dh = d.hnsw.clone().unwrap_or_else(default_hnsw);
    let hnsw = match &u.hnsw {
        Some(uh) => merge_fields(&dh, uh),
        None => dh,
    };
    Ok(VectorIndexConfig {
        space: u.space.or(d.space),
        embedding_function: or(&u.embedding_function, &d.embedding_function),
        source_key: or(&u.source_key, &d.source_key),
        hnsw: Some(hnsw),
        spann: None,
    })
}

/// `user`'s fields where it has them, `default`'s otherwise (both are
/// flat structs of options whose JSON leaves absent fields out).
fn merge_fields<T: serde::Serialize + serde::de::DeserializeOwned + Clone>(
    default: &T,
    user: &T,
) -> T {
    let mut d = serde_json::to_value(default).unwrap_or_default();
    if let (Some(dm), Ok(serde_json::Value::Object(um))) =
        (d.as_object_mut(), serde_json::to_value(user))
    {
        dm.extend(um);
    }
    serde_json::from_value(d).unwrap_or_else(|_| user.clone())
}

/// Chroma's ranges for HNSW parameters.
fn check_params(c: &VectorIndexConfig) -> Result<()> {
    if let Some(h) = &c.hnsw {
        for (name, v) in [
            ("batch_size", h.batch_size),
            ("sync_threshold", h.sync_threshold),
        ] {
            if v.is_some_and(|v| v < 2) {
                return Err(reconcile_error(format!(
                    "Invalid HNSW configuration: {name}: Validation error: range [min = 2]"
                )));
            }
        }
    }
    Ok(())
}
