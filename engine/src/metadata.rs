//! [`Metadata`]: a record's (or collection's) metadata, a small map from
//! key to [`MetadataValue`] kept as one vector sorted by key.
//!
//! Records usually carry a handful of keys, and every decoded segment row
//! holds its metadata in memory. A `BTreeMap` allocates a fixed 11-slot
//! node (about 640 bytes at these key and value sizes) even for one key; the
//! sorted vector costs 56 bytes a key, which is most of a store's resident
//! heap. Lookups are binary searches; iteration is in key order, like the
//! `BTreeMap` it replaces, and so are the JSON and bincode encodings (a map:
//! length, then key/value pairs), so the on-disk format is unchanged.

use bincode::de::{BorrowDecoder, Decoder};
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{BorrowDecode, Decode, Encode};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A metadata value: Chroma's scalar types and non-empty homogeneous arrays.
///
/// In JSON an integer literal is an [`MetadataValue::Int`] and a literal with a
/// fraction or exponent a [`MetadataValue::Float`]; filters compare the two
/// numerically, but `bool` is never equal to a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MetadataValue {
    /// `true` / `false`.
    Bool(bool),
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// A string.
    Str(String),
    /// An array of booleans.
    BoolArray(Vec<bool>),
    /// An array of integers.
    IntArray(Vec<i64>),
    /// An array of floats.
    FloatArray(Vec<f64>),
    /// An array of strings.
    StrArray(Vec<String>),
    /// A sparse vector (Chroma 1.3+): JSON
    /// `{"#type": "sparse_vector", "indices", "values", "tokens"}`.
    SparseVector(SparseVector),
}

/// A sparse vector: strictly ascending `u32` indices, one `f32` value per
/// index, optionally one token (label) per index. Valid ones pass
/// [`SparseVector::check`]; the write path refuses the others.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SparseVector {
    /// Dimension indices, strictly ascending.
    pub indices: Vec<u32>,
    /// One value per index.
    pub values: Vec<f32>,
    /// One label per index, when the embedding function gives them.
    pub tokens: Option<Vec<String>>,
}

impl SparseVector {
    /// Chroma's rules: as many values (and tokens) as indices, indices
    /// strictly ascending; otherwise Chroma's reason (the one a search
    /// query reports; record metadata hides it behind `Invalid metadata`).
    pub fn check(&self) -> Result<(), &'static str> {
        if self.indices.len() != self.values.len()
            || self
                .tokens
                .as_ref()
                .is_some_and(|t| t.len() != self.indices.len())
        {
            return Err("Sparse vector indices, values, and tokens (when present) must have the same length");
        }
        if self.indices.windows(2).any(|w| w[0] >= w[1]) {
            return Err(
                "Sparse vector indices must be sorted in strictly ascending order (no duplicates)",
            );
        }
        Ok(())
    }
}

/// The JSON of a sparse vector as clients send it (`#type` optional).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SparseVectorJson {
    #[serde(rename = "#type", default)]
    kind: Option<String>,
    indices: Vec<u32>,
    values: Vec<f32>,
    #[serde(default)]
    tokens: Option<Vec<String>>,
}

impl Serialize for SparseVector {
    /// Always with `#type` and `tokens` (null when absent), as Chroma answers.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("#type", "sparse_vector")?;
        m.serialize_entry("indices", &self.indices)?;
        m.serialize_entry("values", &self.values)?;
        m.serialize_entry("tokens", &self.tokens)?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for SparseVector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SparseVector, D::Error> {
        let j = SparseVectorJson::deserialize(d)?;
        if j.kind.as_deref().is_some_and(|k| k != "sparse_vector") {
            return Err(serde::de::Error::custom(
                "a metadata object must be a sparse vector (#type sparse_vector)",
            ));
        }
        Ok(SparseVector {
            indices: j.indices,
            values: j.values,
            tokens: j.tokens,
        })
    }
}

/// A record's or collection's metadata, keys sorted and unique.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata(Vec<(String, MetadataValue)>);

impl Metadata {
    /// An empty map.
    pub fn new() -> Metadata {
        Metadata(Vec::new())
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&MetadataValue> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key`, returning its previous value.
    pub fn insert(&mut self, key: String, value: MetadataValue) -> Option<MetadataValue> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<MetadataValue> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    /// Key/value pairs in key order.
    pub fn iter(&self) -> Iter<'_> {
        self.0.iter().map(pair_ref)
    }

    /// Keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    /// Values in key order.
    pub fn values(&self) -> impl Iterator<Item = &MetadataValue> {
        self.0.iter().map(|(_, v)| v)
    }
}

/// Iterator over `(&key, &value)` in key order.
pub type Iter<'a> = std::iter::Map<
    std::slice::Iter<'a, (String, MetadataValue)>,
    fn(&'a (String, MetadataValue)) -> (&'a String, &'a MetadataValue),
>;

fn pair_ref((k, v): &(String, MetadataValue)) -> (&String, &MetadataValue) {
    (k, v)
}

impl FromIterator<(String, MetadataValue)> for Metadata {
    /// Later pairs win over earlier ones with the same key, as in a map.
    fn from_iter<I: IntoIterator<Item = (String, MetadataValue)>>(iter: I) -> Metadata {
        let mut m = Metadata::new();
        m.extend(iter);
        m
    }
}

impl Extend<(String, MetadataValue)> for Metadata {
    fn extend<I: IntoIterator<Item = (String, MetadataValue)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl IntoIterator for Metadata {
    type Item = (String, MetadataValue);
    type IntoIter = std::vec::IntoIter<(String, MetadataValue)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Metadata {
    type Item = (&'a String, &'a MetadataValue);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Metadata, D::Error> {
        let map = std::collections::BTreeMap::<String, MetadataValue>::deserialize(d)?;
        Ok(Metadata(map.into_iter().collect()))
    }
}

impl Encode for Metadata {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        (self.0.len() as u64).encode(e)?;
        for (k, v) in &self.0 {
            k.encode(e)?;
            v.encode(e)?;
        }
        Ok(())
    }
}

impl<Context> Decode<Context> for Metadata {
    fn decode<D: Decoder<Context = Context>>(d: &mut D) -> Result<Metadata, DecodeError> {
        let len = u64::decode(d)?;
        let len = usize::try_from(len).map_err(|_| DecodeError::OutsideUsizeRange(len))?;
        d.claim_container_read::<(String, MetadataValue)>(len)?;
        let mut m = Metadata(Vec::with_capacity(len));
        for _ in 0..len {
            d.unclaim_bytes_read(std::mem::size_of::<(String, MetadataValue)>());
            let k = String::decode(d)?;
            let v = MetadataValue::decode(d)?;
            m.insert(k, v);
        }
        Ok(m)
    }
}

impl<'de, Context> BorrowDecode<'de, Context> for Metadata {
    fn borrow_decode<D: BorrowDecoder<'de, Context = Context>>(
        d: &mut D,
    ) -> Result<Metadata, DecodeError> {
        Decode::decode(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn sample() -> Vec<(String, MetadataValue)> {
        vec![
            ("b".into(), MetadataValue::Int(1)),
            ("a".into(), MetadataValue::Str("x".into())),
            ("c".into(), MetadataValue::FloatArray(vec![1.5])),
            ("a".into(), MetadataValue::Bool(true)),
        ]
    }

    #[test]
    fn behaves_like_a_btreemap() {
        let m: Metadata = sample().into_iter().collect();
        let b: BTreeMap<String, MetadataValue> = sample().into_iter().collect();
        assert_eq!(m.len(), b.len());
        assert!(m.iter().eq(b.iter()));
        assert_eq!(m.get("a"), Some(&MetadataValue::Bool(true)));
        assert_eq!(m.get("zz"), None);
        let mut m = m;
        assert_eq!(m.remove("b"), Some(MetadataValue::Int(1)));
        assert_eq!(
            m.insert("a".into(), MetadataValue::Int(2)),
            Some(MetadataValue::Bool(true))
        );
        assert!(m.keys().eq(["a", "c"].iter()));
    }

    #[test]
    fn encodings_are_those_of_a_btreemap() {
        let m: Metadata = sample().into_iter().collect();
        let b: BTreeMap<String, MetadataValue> = sample().into_iter().collect();
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        let back: Metadata = serde_json::from_str(r#"{"z": 1, "a": "q"}"#).unwrap();
        assert!(back.keys().eq(["a", "z"].iter()));
        assert_eq!(crate::codec::encode(&m), crate::codec::encode(&b));
        let decoded: Metadata = crate::codec::decode(&crate::codec::encode(&b)).unwrap();
        assert_eq!(decoded, m);
    }
}
