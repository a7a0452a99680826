//! One embedding on the wire: an array of numbers, or (on writes, once
//! pre-flight-checks advertised `supports_base64_encoding`) a base64 string
//! of little-endian f32s (`"AACAPwAAAEA="` = `[1.0, 2.0]`).
//!
//! Numbers are read as f32 (a literal beyond f32's range becomes infinity,
//! which validation then rejects as Chroma does).

use std::fmt;

use base64::Engine as _;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

/// A decoded embedding.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Embedding(pub Vec<f32>);

impl<'de> Deserialize<'de> for Embedding {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EmbeddingVisitor)
    }
}

struct EmbeddingVisitor;

impl<'de> Visitor<'de> for EmbeddingVisitor {
    type Value = Embedding;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of numbers or a base64 string of little-endian f32 values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Embedding, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(v) = seq.next_element::<f32>()? {
            values.push(v);
        }
        Ok(Embedding(values))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Embedding, E> {
        decode_base64(s).map(Embedding).map_err(E::custom)
    }
}

/// The f32 values of little-endian bytes (a trailing partial value is
/// ignored; callers check the length).
pub fn f32s_from_le(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Encodes f32 values as a base64 string of their little-endian bytes.
pub fn encode_base64(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes a base64 string of little-endian f32 values.
pub fn decode_base64(s: &str) -> Result<Vec<f32>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("invalid base64 embedding: {e}"))?;
    if bytes.len() % 4 != 0 {
        return Err(format!(
            "invalid base64 embedding: {} bytes is not a whole number of f32 values",
            bytes.len()
        ));
    }
    Ok(f32s_from_le(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_arrays_decode_to_the_same_values() {
        let a: Embedding = serde_json::from_str("\"AACAPwAAAEA=\"").unwrap();
        let b: Embedding = serde_json::from_str("[1, 2.0]").unwrap();
        assert_eq!(a, Embedding(vec![1.0, 2.0]));
        assert_eq!(a, b);
    }

    #[test]
    fn bad_base64_is_an_error() {
        assert!(serde_json::from_str::<Embedding>("\"AACAPwA\"").is_err());
        assert!(serde_json::from_str::<Embedding>("\"AACA\"").is_err());
        assert!(serde_json::from_str::<Embedding>("{}").is_err());
    }

    #[test]
    fn overflowing_literal_becomes_infinite() {
        let e: Embedding = serde_json::from_str("[1e39]").unwrap();
        assert!(e.0[0].is_infinite());
    }
}
