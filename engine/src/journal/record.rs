//! The resolved write operations the WAL logs.
//!
//! Writes are resolved against the current version before they are logged:
//! an `update` becomes a `Put` of the whole merged record, an `add` of an
//! existing id logs nothing. Replaying the log is therefore a plain
//! sequence of puts and deletes, independent of what was on disk before.

use bincode::{Decode, Encode};

use crate::record::StoredRecord;

/// A resolved write operation.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub enum Op {
    /// Insert or replace the record with this id.
    Put(StoredRecord),
    /// Delete the record with this id.
    Delete(String),
}

impl Op {
    /// The record id the op is about.
    pub fn id(&self) -> &str {
        match self {
            Op::Put(r) => &r.id,
            Op::Delete(id) => id,
        }
    }
}

/// One WAL entry: the ops of one write call, numbered `first_seq..`.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct WalBatch {
    /// Sequence number of `ops[0]`; op `i` has `first_seq + i`.
    pub first_seq: u64,
    /// The ops, applied in order.
    pub ops: Vec<Op>,
}
