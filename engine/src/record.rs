//! A record as the engine stores it: in the memtable, in a WAL `Put`
//! (`journal/record.rs`) and in a segment's records section.

use bincode::{Decode, Encode};

use crate::types::Metadata;

/// One record as stored: everything Chroma returns plus its insertion order.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct StoredRecord {
    /// The user's id.
    pub id: String,
    /// First-insertion order key (the sequence number of the op that first
    /// inserted the id; kept by updates). `get` returns records sorted by it.
    pub order: u64,
    /// The embedding.
    pub embedding: Vec<f32>,
    /// The document.
    pub document: Option<String>,
    /// Metadata; never `Some(empty)`.
    pub metadata: Option<Metadata>,
    /// The uri.
    pub uri: Option<String>,
}
