//! The records section of a segment: every column but the vectors.

use bincode::{Decode, Encode};

use crate::types::Metadata;

/// Decoded records section. Row `i` of every column is the record at row
/// `i` of the vector column; rows are sorted by order key.
#[derive(Debug, Clone, Default, PartialEq, Encode, Decode)]
pub(crate) struct SegmentRecords {
    pub(crate) ids: Vec<String>,
    pub(crate) orders: Vec<u64>,
    pub(crate) documents: Vec<Option<String>>,
    pub(crate) metadatas: Vec<Option<Metadata>>,
    pub(crate) uris: Vec<Option<String>>,
    /// Ids deleted by the writes this segment holds; they hide older segments.
    pub(crate) tombstones: Vec<String>,
}

/// The borrowed twin of [`SegmentRecords`], for writing (same encoding).
#[derive(Encode)]
pub(crate) struct SegmentRecordsRef<'a> {
    pub(crate) ids: Vec<&'a str>,
    pub(crate) orders: Vec<u64>,
    pub(crate) documents: Vec<Option<&'a str>>,
    pub(crate) metadatas: Vec<Option<&'a Metadata>>,
    pub(crate) uris: Vec<Option<&'a str>>,
    pub(crate) tombstones: Vec<&'a str>,
}

impl SegmentRecords {
    /// Decodes and checks column lengths against `rows`.
    pub(crate) fn decode(bytes: &[u8], rows: u64) -> Result<SegmentRecords, String> {
        let r: SegmentRecords = crate::codec::decode(bytes)?;
        let n = rows as usize;
        if r.ids.len() != n
            || r.orders.len() != n
            || r.documents.len() != n
            || r.metadatas.len() != n
            || r.uris.len() != n
        {
            return Err(format!(
                "records section columns do not all have {rows} rows"
            ));
        }
        if r.metadatas
            .iter()
            .any(|m| m.as_ref().is_some_and(|m| m.is_empty()))
        {
            return Err("records section holds an empty metadata map".into());
        }
        Ok(r)
    }
}
