//! Collection metadata on the wire: scalar values only (str, int, float,
//! bool). A list, object or null value is a 422, which fixes the real
//! server's crash on list values. Record metadata uses the engine's
//! `MetadataValue` (scalars and homogeneous arrays) directly.

use std::collections::BTreeMap;

use chromite_engine::{Metadata, MetadataValue};
use serde::Deserialize;

/// A collection metadata value.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    untagged,
    expecting = "a string, integer, float or boolean (collection metadata values are scalars)"
)]
pub enum ScalarValue {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
}

/// Collection metadata as sent.
pub type CollectionMetadata = BTreeMap<String, ScalarValue>;

/// Maps collection metadata onto the engine's type.
pub fn to_engine(meta: CollectionMetadata) -> Metadata {
    meta.into_iter()
        .map(|(k, v)| {
            let v = match v {
                ScalarValue::Bool(b) => MetadataValue::Bool(b),
                ScalarValue::Int(i) => MetadataValue::Int(i),
                ScalarValue::Float(f) => MetadataValue::Float(f),
                ScalarValue::Str(s) => MetadataValue::Str(s),
            };
            (k, v)
        })
        .collect()
}
