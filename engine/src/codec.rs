//! The one place where bytes are produced and parsed: bincode-2 payloads
//! (WAL batches, manifests, segment record sections), the JSON catalog, and
//! the checksummed envelopes and frames around them. Every decoder here is
//! total: bad bytes give an error string, never a panic (the fuzz targets
//! `wal_record` and `segment_decode` drive these functions).
//!
//! Layouts (all integers little-endian; see also `docs/format.md`):
//!
//! * **Envelope** (catalog, manifest): `magic[8] | version u32 | len u64 |
//!   crc32(payload) u32 | payload[len]` — [`ENVELOPE_HEADER_LEN`] bytes of header.
//! * **WAL frame**: `len u32 | crc32(payload) u32 | payload[len]`, payload a
//!   bincode `WalBatch`; see `journal/`.
//! * **Segment header**: 64 bytes, see `segment/mod.rs`.

use bincode::de::{Decode, Decoder};
use bincode::enc::{Encode, Encoder};
use bincode::error::{DecodeError, EncodeError};

use crate::metadata::{MetadataValue, SparseVector};

/// bincode configuration for encoding: varint integers, little endian.
const CONFIG: bincode::config::Configuration = bincode::config::standard();

/// Decoded memory a payload may claim per encoded byte. Every encoded
/// element takes at least one byte and the largest in-memory element
/// (a `String`/`Vec`/`Option<String>` header) is 24 bytes, so valid data
/// never needs more; a corrupt length prefix cannot ask for more.
const CLAIM_PER_BYTE: usize = 64;

fn decode_with_limit<T: Decode<()>, const N: usize>(bytes: &[u8]) -> Result<(T, usize), String> {
    bincode::decode_from_slice::<T, _>(bytes, CONFIG.with_limit::<N>()).map_err(|e| e.to_string())
}
// ---------------------------------------------------------------------------
// Metadata values: tag byte + value.

const TAG_BOOL: u8 = 0;
const TAG_INT: u8 = 1;
const TAG_FLOAT: u8 = 2;
const TAG_STR: u8 = 3;
const TAG_BOOL_ARRAY: u8 = 4;
const TAG_INT_ARRAY: u8 = 5;
const TAG_FLOAT_ARRAY: u8 = 6;
const TAG_STR_ARRAY: u8 = 7;
/// Since WAL and segment format 2.
const TAG_SPARSE_VECTOR: u8 = 8;

impl Encode for MetadataValue {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        match self {
            MetadataValue::Bool(v) => {
                TAG_BOOL.encode(e)?;
                v.encode(e)
            }
            MetadataValue::Int(v) => {
                TAG_INT.encode(e)?;
                v.encode(e)
            }
            MetadataValue::Float(v) => {
                TAG_FLOAT.encode(e)?;
                v.encode(e)
            }
            MetadataValue::Str(v) => {
                TAG_STR.encode(e)?;
                v.encode(e)
            }
            MetadataValue::BoolArray(v) => {
                TAG_BOOL_ARRAY.encode(e)?;
                v.encode(e)
            }
            MetadataValue::IntArray(v) => {
                TAG_INT_ARRAY.encode(e)?;
                v.encode(e)
            }
            MetadataValue::FloatArray(v) => {
                TAG_FLOAT_ARRAY.encode(e)?;
                v.encode(e)
            }
            MetadataValue::StrArray(v) => {
                TAG_STR_ARRAY.encode(e)?;
                v.encode(e)
            }
            MetadataValue::SparseVector(v) => {
                TAG_SPARSE_VECTOR.encode(e)?;
                v.indices.encode(e)?;
                v.values.encode(e)?;
                v.tokens.encode(e)
            }
        }
    }
}

impl<C> Decode<C> for MetadataValue {
    fn decode<D: Decoder<Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        let tag = u8::decode(d)?;
        Ok(match tag {
            TAG_BOOL => MetadataValue::Bool(Decode::decode(d)?),
            TAG_INT => MetadataValue::Int(Decode::decode(d)?),
            TAG_FLOAT => MetadataValue::Float(Decode::decode(d)?),
            TAG_STR => MetadataValue::Str(Decode::decode(d)?),
            TAG_BOOL_ARRAY => MetadataValue::BoolArray(Decode::decode(d)?),
            TAG_INT_ARRAY => MetadataValue::IntArray(Decode::decode(d)?),
            TAG_FLOAT_ARRAY => MetadataValue::FloatArray(Decode::decode(d)?),
            TAG_STR_ARRAY => MetadataValue::StrArray(Decode::decode(d)?),
            TAG_SPARSE_VECTOR => MetadataValue::SparseVector(SparseVector {
                indices: Decode::decode(d)?,
                values: Decode::decode(d)?,
                tokens: Decode::decode(d)?,
            }),
            other => {
                return Err(DecodeError::OtherString(format!(
                    "unknown metadata value tag {other}"
                )))
            }
        })
    }
}
bincode::impl_borrow_decode!(MetadataValue);

// ---------------------------------------------------------------------------
// Generic bincode payloads.

/// Encodes a payload with the crate's bincode configuration.
pub(crate) fn encode<T: Encode>(value: &T) -> Vec<u8> {
    // Encoding into a Vec only fails for types whose Encode impl fails, and
    // none of ours does.
    bincode::encode_to_vec(value, CONFIG).unwrap_or_default()
}

/// Decodes a payload that must use every byte.
pub(crate) fn decode<T: Decode<()>>(bytes: &[u8]) -> Result<T, String> {
    // The allocation limit is a const generic: pick the smallest tier that
    // covers CLAIM_PER_BYTE times the input.
    let need = bytes.len().saturating_mul(CLAIM_PER_BYTE);
    let (value, used) = if need <= 1 << 20 {
        decode_with_limit::<T, { 1 << 20 }>(bytes)?
    } else if need <= 1 << 24 {
        decode_with_limit::<T, { 1 << 24 }>(bytes)?
    } else if need <= 1 << 28 {
        decode_with_limit::<T, { 1 << 28 }>(bytes)?
    } else if need <= 1 << 32 {
        decode_with_limit::<T, { 1 << 32 }>(bytes)?
    } else {
        decode_with_limit::<T, { 1 << 36 }>(bytes)?
    };
    if used != bytes.len() {
        return Err(format!(
            "{} trailing bytes after the payload",
            bytes.len() - used
        ));
    }
    Ok(value)
}

// ---------------------------------------------------------------------------
// Checksummed envelope (catalog, manifest).

/// Header length of an envelope.
pub(crate) const ENVELOPE_HEADER_LEN: usize = 8 + 4 + 8 + 4;

/// Wraps `payload` in an envelope.
pub(crate) fn envelope(magic: &[u8; 8], version: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ENVELOPE_HEADER_LEN + payload.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Checks an envelope whose format version must be in `versions`; returns
/// the version and the payload.
pub(crate) fn open_envelope<'a>(
    magic: &[u8; 8],
    versions: std::ops::RangeInclusive<u32>,
    bytes: &'a [u8],
) -> Result<(u32, &'a [u8]), String> {
    if bytes.len() < ENVELOPE_HEADER_LEN {
        return Err(format!(
            "file is {} bytes, shorter than its {ENVELOPE_HEADER_LEN}-byte header",
            bytes.len()
        ));
    }
    if &bytes[0..8] != magic {
        return Err("bad magic number".into());
    }
    let got_version = u32_at(bytes, 8);
    if !versions.contains(&got_version) {
        return Err(format!(
            "unsupported format version {got_version} (expected {} to {})",
            versions.start(),
            versions.end()
        ));
    }
    let len = u64_at(bytes, 12);
    let crc = u32_at(bytes, 20);
    let payload = &bytes[ENVELOPE_HEADER_LEN..];
    if payload.len() as u64 != len {
        return Err(format!(
            "payload is {} bytes, header says {len}",
            payload.len()
        ));
    }
    if crc32fast::hash(payload) != crc {
        return Err("checksum mismatch".into());
    }
    Ok((got_version, payload))
}

// ---------------------------------------------------------------------------
// WAL frames.

/// Bytes before a frame's payload: `len u32 | crc u32`.
pub(crate) const FRAME_HEADER_LEN: usize = 8;
/// Largest payload a frame may claim; anything larger is corruption.
pub(crate) const MAX_FRAME_LEN: usize = 1 << 30;

/// Encodes a value (a WAL batch) as one frame.
pub(crate) fn encode_frame<T: Encode>(value: &T) -> Vec<u8> {
    let payload = encode(value);
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// The outcome of reading one frame at the start of `bytes`.
#[derive(Debug)]
pub(crate) enum Frame<T> {
    /// A good frame and the number of bytes it took.
    Batch(T, usize),
    /// No bytes left: a clean end.
    End,
    /// A torn or corrupt frame: everything from here on is discarded.
    Bad(String),
}

/// Reads the frame at the start of `bytes`.
pub(crate) fn decode_frame<T: Decode<()>>(bytes: &[u8]) -> Frame<T> {
    if bytes.is_empty() {
        return Frame::End;
    }
    if bytes.len() < FRAME_HEADER_LEN {
        return Frame::Bad(format!("torn frame header ({} bytes)", bytes.len()));
    }
    let len = u32_at(bytes, 0) as usize;
    let crc = u32_at(bytes, 4);
    if len > MAX_FRAME_LEN {
        return Frame::Bad(format!("frame length {len} is implausible"));
    }
    let Some(payload) = bytes.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + len) else {
        return Frame::Bad(format!(
            "torn frame: {len} payload bytes announced, {} present",
            bytes.len() - FRAME_HEADER_LEN
        ));
    };
    if crc32fast::hash(payload) != crc {
        return Frame::Bad("frame checksum mismatch".into());
    }
    match decode::<T>(payload) {
        Ok(batch) => Frame::Batch(batch, FRAME_HEADER_LEN + len),
        Err(e) => Frame::Bad(format!("frame payload does not decode: {e}")),
    }
}

// ---------------------------------------------------------------------------
// Catalog (JSON: it holds the embedding function's JSON verbatim).

/// Encodes a serde value as JSON.
pub(crate) fn encode_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Decodes JSON.
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------
// Little-endian helpers (callers check bounds first).

/// Reads a u32 at `off`; `bytes` must hold 4 bytes there.
pub(crate) fn u32_at(bytes: &[u8], off: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[off..off + 4]);
    u32::from_le_bytes(b)
}

/// Reads a u64 at `off`; `bytes` must hold 8 bytes there.
pub(crate) fn u64_at(bytes: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[off..off + 8]);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Op, WalBatch};
    use crate::record::StoredRecord;
    use crate::types::Metadata;

    fn batch() -> WalBatch {
        let mut md = Metadata::new();
        md.insert("a".into(), MetadataValue::Int(-3));
        md.insert("b".into(), MetadataValue::FloatArray(vec![1.5, 2.0]));
        md.insert("c".into(), MetadataValue::StrArray(vec!["x".into()]));
        md.insert("d".into(), MetadataValue::Bool(true));
        WalBatch {
            first_seq: 7,
            ops: vec![
                Op::Put(StoredRecord {
                    id: "id1".into(),
                    order: 7,
                    embedding: vec![1.0, -2.5],
                    document: Some("doc".into()),
                    metadata: Some(md),
                    uri: None,
                }),
                Op::Delete("gone".into()),
            ],
        }
    }

    #[test]
    fn frame_round_trip() {
        let b = batch();
        let bytes = encode_frame(&b);
        match decode_frame::<WalBatch>(&bytes) {
            Frame::Batch(got, used) => {
                assert_eq!(got, b);
                assert_eq!(used, bytes.len());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn torn_and_flipped_frames_are_bad() {
        let bytes = encode_frame(&batch());
        for cut in 1..bytes.len() {
            assert!(
                matches!(decode_frame::<WalBatch>(&bytes[..cut]), Frame::Bad(_)),
                "cut at {cut}"
            );
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(
                matches!(decode_frame::<WalBatch>(&b), Frame::Bad(_)),
                "flip at {i}"
            );
        }
    }

    #[test]
    fn envelope_checks() {
        let e = envelope(b"TESTMAG1", 3, b"hello");
        assert_eq!(
            open_envelope(b"TESTMAG1", 3..=3, &e).unwrap(),
            (3, &b"hello"[..])
        );
        assert_eq!(open_envelope(b"TESTMAG1", 1..=3, &e).unwrap().0, 3);
        assert!(open_envelope(b"TESTMAG2", 3..=3, &e).is_err());
        assert!(open_envelope(b"TESTMAG1", 4..=5, &e).is_err());
        let mut bad = e.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(open_envelope(b"TESTMAG1", 3..=3, &bad)
            .unwrap_err()
            .contains("checksum"));
        assert!(open_envelope(b"TESTMAG1", 3..=3, &e[..e.len() - 1]).is_err());
    }
}
