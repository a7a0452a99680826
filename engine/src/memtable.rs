//! The memtable: the most recent puts and deletes of one collection, newest
//! version per id, plus a size estimate that triggers a flush.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::record::{Op, StoredRecord};
use crate::types::{Metadata, MetadataValue};

/// One memtable slot: the latest op for an id and its sequence number.
#[derive(Debug, Clone)]
pub(crate) struct MemEntry {
    /// The latest op (a put holds the whole record, a delete is a tombstone).
    pub(crate) op: Op,
}

/// Latest op per id; slots are stable (an id keeps its slot when overwritten).
#[derive(Debug)]
pub(crate) struct Memtable {
    entries: Vec<MemEntry>,
    index: HashMap<String, usize>,
    bytes: usize,
    /// Unique per memtable in this process (identifies it in caches).
    generation: u64,
}

impl Default for Memtable {
    fn default() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Memtable {
            entries: Vec::new(),
            index: HashMap::new(),
            bytes: 0,
            generation: NEXT.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl Memtable {
    /// This memtable's process-unique number.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Applies one op.
    pub(crate) fn apply(&mut self, op: Op) {
        let size = op_size(&op);
        match self.index.get(op.id()) {
            Some(&slot) => {
                let old = std::mem::replace(&mut self.entries[slot], MemEntry { op });
                self.bytes = self.bytes + size - op_size(&old.op).min(self.bytes);
            }
            None => {
                self.index.insert(op.id().to_string(), self.entries.len());
                self.entries.push(MemEntry { op });
                self.bytes += size + 64;
            }
        }
    }

    /// The slot holding `id`, if any.
    pub(crate) fn slot(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// All slots.
    pub(crate) fn entries(&self) -> &[MemEntry] {
        &self.entries
    }

    /// Whether nothing was written.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Approximate memory use in bytes.
    pub(crate) fn approx_bytes(&self) -> usize {
        self.bytes
    }

    /// The live record in `slot`, if it is not a tombstone.
    pub(crate) fn record(&self, slot: usize) -> Option<&StoredRecord> {
        match &self.entries[slot].op {
            Op::Put(r) => Some(r),
            Op::Delete(_) => None,
        }
    }
}

fn op_size(op: &Op) -> usize {
    match op {
        Op::Delete(id) => id.len() + 16,
        Op::Put(r) => {
            r.id.len()
                + r.embedding.len() * 4
                + r.document.as_ref().map_or(0, |d| d.len())
                + r.uri.as_ref().map_or(0, |u| u.len())
                + r.metadata.as_ref().map_or(0, metadata_size)
                + 96
        }
    }
}

fn metadata_size(m: &Metadata) -> usize {
    m.iter()
        .map(|(k, v)| {
            k.len()
                + 48
                + match v {
                    MetadataValue::Str(s) => s.len(),
                    MetadataValue::StrArray(a) => a.iter().map(|s| s.len() + 24).sum(),
                    MetadataValue::BoolArray(a) => a.len(),
                    MetadataValue::IntArray(a) => a.len() * 8,
                    MetadataValue::FloatArray(a) => a.len() * 8,
                    _ => 0,
                }
        })
        .sum()
}
