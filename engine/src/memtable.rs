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

use crate::index::distance::{prefetch, QueryDistance};
use crate::index::{
    pair_distance, GrowingGraph, Pairwise, Row, RowSet, EXACT_MAX_ROWS, VISITS_PER_EF,
};
use crate::journal::Op;
use crate::record::StoredRecord;
use crate::sparse::mem::OwnedList;
use crate::sparse::MemPostings;
use crate::types::{Metadata, MetadataValue, Space};

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
#[derive(Default)]
pub(crate) struct Memtable {
    entries: boxcar::Vec<MemEntry>,
    /// Newest slot per id.
    index: RwLock<HashMap<String, u32>>,
    bytes: AtomicUsize,
    /// The HNSW graph over the slots (`index/growing.rs`), when the
    /// collection's configuration gave one.
    graph: Option<MemGraph>,
    /// The posting lists of the puts' sparse vectors (`sparse/mem.rs`).
    sparse: MemPostings,
}

impl std::fmt::Debug for Memtable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memtable")
            .field("slots", &self.entries.count())
            .field("bytes", &self.approx_bytes())
            .field("graph", &self.graph.is_some())
            .finish()
    }
}

/// A memtable's graph and the space its distances are in.
struct MemGraph {
    graph: GrowingGraph,
    space: Space,
}

/// Distances between a memtable's puts, in the order of the space's
/// distance (as the segment builder's): squared L2, `1 − cos`, `−a·b`.
struct Slots<'a> {
    mem: &'a Memtable,
    space: Space,
}

impl Slots<'_> {
    #[inline]
    fn put(&self, slot: u32) -> Option<(&[f32], f32)> {
        let e = self.mem.entries.get(slot as usize)?;
        Some((&e.record()?.embedding, e.norm))
    }
}

impl Pairwise for Slots<'_> {
    #[inline]
    fn between(&self, a: u32, b: u32) -> f32 {
        let (Some((x, nx)), Some((y, ny))) = (self.put(a), self.put(b)) else {
            return f32::INFINITY;
        };
        pair_distance(self.space, x, nx, y, ny)
    }

    #[inline]
    fn prefetch(&self, row: u32) {
        if let Some((v, _)) = self.put(row) {
            prefetch(v);
        }
    }
}

impl Memtable {
    /// An empty memtable whose puts are indexed by an HNSW graph with `m`
    /// neighbours per upper layer and beam width `ef_construction`.
    pub(crate) fn indexed(space: Space, m: usize, ef_construction: usize) -> Memtable {
        Memtable {
            graph: Some(MemGraph {
                graph: GrowingGraph::new(m, ef_construction),
                space,
            }),
            ..Memtable::default()
        }
    }

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
        let is_put = matches!(op, Op::Put(_));
        // One writer appends, so the next slot is the count so far.
        let slot = self.entries.count();
        let sparse_bytes = match &op {
            Op::Put(r) => r
                .metadata
                .as_ref()
                .map_or(0, |m| self.sparse.push(slot as u32, m)),
            Op::Delete(_) => 0,
        };
        let slot = self.entries.push(MemEntry {
            op,
            prev,
            norm,
            superseded: AtomicU64::new(NEWEST),
        });
        if let Some(g) = &self.graph {
            g.graph.push(is_put);
        }
        let size = size + sparse_bytes + self.graph.as_ref().map_or(0, |g| g.graph.row_bytes());
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

    /// Copies of the posting lists of `terms` under the sparse key `key`,
    /// limited to slots below `len`.
    pub(crate) fn sparse_lists(
        &self,
        key: &str,
        terms: &[u32],
        len: usize,
    ) -> Vec<Option<OwnedList>> {
        self.sparse.lists(key, terms, len)
    }

    /// Links the slots below `end` into the graph that no other writer is
    /// linking (a writer calls it after committing its batch).
    pub(crate) fn link_up_to(&self, end: usize) {
        if let Some(g) = &self.graph {
            g.graph.link_up_to(&self.slots(g.space), end);
        }
    }

    /// Links every slot, waiting for those other writers are linking.
    pub(crate) fn link_all(&self) {
        if let Some(g) = &self.graph {
            g.graph.link_all(&self.slots(g.space), self.len());
        }
    }

    fn slots(&self, space: Space) -> Slots<'_> {
        Slots { mem: self, space }
    }

    /// The graph over the slots, with the distances it was built with, for
    /// a flush to hand over to the segment.
    pub(crate) fn graph(&self) -> Option<(&GrowingGraph, impl Pairwise + '_)> {
        self.graph.as_ref().map(|g| (&g.graph, self.slots(g.space)))
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

    /// Candidates among `rows` for the `k` nearest to `query`, by a walk of
    /// the graph (its whole beam, so the caller ranks ties by its own
    /// order), with the distances an exact scan gives; `None` when a scan
    /// is the better choice (a small memtable, few matching slots, no
    /// graph) or the walk found fewer than `k` of `rows`. Slots the graph
    /// has not linked yet are scanned.
    pub(crate) fn graph_top_k(
        &self,
        qd: &QueryDistance<'_>,
        k: usize,
        ef: usize,
        rows: &RowSet,
    ) -> Option<Vec<(Row, f32)>> {
        let g = self.mem.graph.as_ref()?;
        let total = self.len;
        let matching = rows.len(total);
        // The walk does not steer by the filter: it needs most slots to
        // match. A scan here reads f32 vectors (a segment's reads 8-bit
        // codes), so a graph visit costs about two scanned rows, not
        // `GRAPH_VISIT_COST`.
        let walk = VISITS_PER_EF * 2 * ef.max(k);
        if matching * 2 < total || matching <= EXACT_MAX_ROWS.max(walk) {
            return None;
        }
        let slots = self.mem.slots(g.space);
        let dq = |r: u32| match slots.put(r) {
            Some((v, n)) => qd.to_with_norm(v, n),
            None => f32::INFINITY,
        };
        let unlinked = g.graph.unlinked(total);
        let beam = ef
            .max(k)
            .saturating_mul(total)
            .div_ceil(matching.max(1))
            .min(4 * ef.max(k));
        let mut hits: Vec<(Row, f32)> = g
            .graph
            .search(&slots, dq, beam, total)
            .into_iter()
            .filter(|s| rows.contains(s.row) && unlinked.binary_search(&s.row).is_err())
            .map(|s| (s.row, s.dist))
            .collect();
        let from_graph = hits.len();
        hits.extend(
            unlinked
                .iter()
                .filter(|&&r| rows.contains(r))
                .map(|&r| (r, dq(r))),
        );
        // The walk must have found k of the linked rows it may return.
        let linked_matching = matching - (hits.len() - from_graph);
        if from_graph < k.min(linked_matching) {
            return None;
        }
        Some(hits)
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

    /// The entries current as of `seq` (puts and tombstones) with their
    /// slots, in slot order.
    pub(crate) fn current_slots(&self, seq: u64) -> impl Iterator<Item = (usize, &MemEntry)> + '_ {
        (0..self.len)
            .filter_map(|s| Some((s, self.mem.entry(s)?)))
            .filter(move |(_, e)| e.current_at(seq))
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
                    MetadataValue::SparseVector(v) => {
                        v.indices.len() * 8
                            + v.tokens
                                .iter()
                                .flatten()
                                .map(|t| t.len() + 24)
                                .sum::<usize>()
                    }
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
        assert_eq!(new.current_slots(4).count(), 2);
    }
}
