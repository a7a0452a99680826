//! The memtable: a collection's most recent puts and deletes, in memory, as
//! an append-only multi-version list that readers use without a lock.
//!
//! Every applied op is appended as a new entry (slot) with its sequence
//! number; nothing already appended changes except one atomic, the
//! sequence number of the op that later *supersedes* it. A reader holds a
//! [`MemView`]: the first `len` slots of the memtable as of sequence number
//! `seq` (its version's). Slot `s < len` is visible to it iff the entry was
//! not superseded at or before `seq`, so a writer appending slot `len` and
//! marking an older slot superseded at `seq + 1` never changes what an
//! existing reader sees. One writer at a time appends (the collection's
//! writer lock); any number of readers read.
//!
//! Looking an id up goes through an index of the newest slot per id (a
//! short read lock, never held while searching) and then back along the
//! entry's `prev` chain to the newest slot the view can see.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::journal::Op;
use crate::record::StoredRecord;
use crate::types::{Metadata, MetadataValue};

/// `superseded` of an entry nothing has replaced yet.
const NEWEST: u64 = u64::MAX;

/// One memtable slot: an op, its sequence number and what replaced it.
#[derive(Debug)]
pub(crate) struct MemEntry {
    /// The op (a put holds the whole record, a delete is a tombstone).
    pub(crate) op: Op,
    /// The previous slot holding the same id in this memtable.
    prev: Option<u32>,
    /// A put's embedding norm ([`crate::index::distance::norm`]), so a
    /// cosine scan reads each vector once; 0 for a delete.
    pub(crate) norm: f32,
    /// Sequence number of the op that replaced it ([`NEWEST`] if none).
    superseded: AtomicU64,
}

impl MemEntry {
    /// Whether the entry is still the newest for its id as of `seq`.
    pub(crate) fn current_at(&self, seq: u64) -> bool {
        self.superseded.load(Ordering::Acquire) > seq
    }

    /// Marks the entry replaced by the op numbered `seq`.
    pub(crate) fn supersede(&self, seq: u64) {
        // Only ever lowered from NEWEST once: a replaced entry is not
        // replaced again (lookups skip it).
        let _ = self
            .superseded
            .compare_exchange(NEWEST, seq, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The record, if the op is a put.
    pub(crate) fn record(&self) -> Option<&StoredRecord> {
        match &self.op {
            Op::Put(r) => Some(r),
            Op::Delete(_) => None,
        }
    }
}

/// Append-only list of ops with an id index; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Memtable {
    entries: boxcar::Vec<MemEntry>,
    /// Newest slot per id.
    index: RwLock<HashMap<String, u32>>,
    bytes: AtomicUsize,
}

impl Memtable {
    /// Appends `op` numbered `seq` (callers hold the collection's writer
    /// lock, so appends are in sequence order: slot order is sequence
    /// order), superseding the id's previous slot in this memtable if it
    /// has one.
    pub(crate) fn push(&self, op: Op, seq: u64) {
        let size = op_size(&op);
        let mut index = self.index.write();
        let prev = index.get(op.id()).copied();
        if let Some(p) = prev.and_then(|p| self.entries.get(p as usize)) {
            p.supersede(seq);
        }
        let id = op.id().to_string();
        let norm = match &op {
            Op::Put(r) => crate::index::distance::norm(&r.embedding),
            Op::Delete(_) => 0.0,
        };
        let slot = self.entries.push(MemEntry {
            op,
            prev,
            norm,
            superseded: AtomicU64::new(NEWEST),
        });
        index.insert(id, slot as u32);
        self.bytes.fetch_add(size, Ordering::Relaxed);
    }

    /// Number of slots appended so far.
    pub(crate) fn len(&self) -> usize {
        self.entries.count()
    }

    /// The entry in `slot` (which must be below a view's `len`).
    pub(crate) fn entry(&self, slot: usize) -> Option<&MemEntry> {
        self.entries.get(slot)
    }

    /// The newest slot below `len` holding `id`.
    pub(crate) fn lookup(&self, id: &str, len: usize) -> Option<usize> {
        let mut slot = self.index.read().get(id).copied();
        while let Some(s) = slot {
            if (s as usize) < len {
                return Some(s as usize);
            }
            slot = self.entries.get(s as usize).and_then(|e| e.prev);
        }
        None
    }

    /// Approximate memory use in bytes.
    pub(crate) fn approx_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// A reader's view of a memtable: slots `0..len` as of `seq`.
#[derive(Debug, Clone)]
pub(crate) struct MemView {
    pub(crate) mem: Arc<Memtable>,
    pub(crate) len: usize,
}

impl MemView {
    /// A view of everything in `mem` now.
    pub(crate) fn whole(mem: Arc<Memtable>) -> MemView {
        let len = mem.len();
        MemView { mem, len }
    }

    /// Whether the view holds no slot.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entry in `slot` (below `len`).
    pub(crate) fn entry(&self, slot: usize) -> Option<&MemEntry> {
        (slot < self.len).then(|| self.mem.entry(slot)).flatten()
    }

    /// The id's newest slot in the view, if it is current as of `seq`
    /// (an id whose newest slot was superseded from another source is
    /// not here any more).
    pub(crate) fn find(&self, id: &str, seq: u64) -> Option<usize> {
        let slot = self.mem.lookup(id, self.len)?;
        self.mem
            .entry(slot)
            .filter(|e| e.current_at(seq))
            .map(|_| slot)
    }

    /// The slots holding the current put of their id as of `seq`, ascending.
    pub(crate) fn live_slots(&self, seq: u64) -> impl Iterator<Item = usize> + '_ {
        (0..self.len).filter(move |&s| {
            self.mem
                .entry(s)
                .is_some_and(|e| e.current_at(seq) && e.record().is_some())
        })
    }

    /// The entries current as of `seq` (puts and tombstones), in slot order.
    pub(crate) fn current(&self, seq: u64) -> impl Iterator<Item = &MemEntry> + '_ {
        (0..self.len)
            .filter_map(|s| self.mem.entry(s))
            .filter(move |e| e.current_at(seq))
    }
}

fn op_size(op: &Op) -> usize {
    64 + match op {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn put(id: &str, x: f32) -> Op {
        Op::Put(StoredRecord {
            id: id.into(),
            order: 0,
            embedding: vec![x],
            document: None,
            metadata: None,
            uri: None,
        })
    }

    #[test]
    fn an_older_view_keeps_seeing_what_it_saw() {
        let mem = Arc::new(Memtable::default());
        mem.push(put("a", 1.0), 1);
        mem.push(put("b", 2.0), 2);
        let old = MemView::whole(mem.clone());
        mem.push(put("a", 3.0), 3);
        mem.push(Op::Delete("b".into()), 4);
        let new = MemView::whole(mem.clone());
        // The old view (seq 2) sees a=1, b=2.
        assert_eq!(old.live_slots(2).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(old.find("a", 2), Some(0));
        // The new view (seq 4) sees a=3 and b's tombstone.
        assert_eq!(new.live_slots(4).collect::<Vec<_>>(), vec![2]);
        assert_eq!(new.find("a", 4), Some(2));
        assert_eq!(new.find("b", 4), Some(3));
        assert!(new.entry(3).is_some_and(|e| e.record().is_none()));
        assert_eq!(new.current(4).count(), 2);
    }
}
