//! A collection's [`Version`]: everything a reader needs, owned and
//! immutable once published — the memtables (as views: see
//! `memtable.rs`), the segments with their decoded records and the mask of
//! rows newer sources override, the dimension and the live configuration.
//!
//! The collection publishes one `Arc<Version>` at a time with an atomic
//! swap (`core.rs`). A reader clones the `Arc` and searches it without any
//! lock, however long it takes; a writer (holding the collection's writer
//! lock) builds the next version from the current one and swaps it in.
//! Building one is cheap: memtables are shared append-only lists, segments
//! and masks are `Arc`s, and only the masks a write changes are copied.
//!
//! Sources are numbered newest first: `0` the active memtable, then the
//! frozen memtables (newest first), then the segments (newest first). A
//! [`Loc`] is a `(source, row)` pair; a memtable's rows are its slots.
//! An id is visible in the newest source that holds it; every older copy
//! is *superseded*: a memtable entry records the sequence number that
//! replaced it, a segment row has its bit set in the version's mask.

use std::collections::HashSet;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::index::{Row, RowMask, RowSet};
use crate::journal::{Op, WalBatch};
use crate::memtable::{MemView, Memtable};
use crate::schema::{Schema, ValueType};
use crate::segment::reader::{Loaded, Loc as SegLoc};
use crate::segment::Segment;
use crate::types::{CollectionConfig, Metadata, Selection};

/// A `(source, row)` pair; see the module docs.
pub(crate) type Loc = (usize, Row);

/// A segment as a version sees it.
#[derive(Clone)]
pub(crate) struct SegView {
    pub(crate) seg: Arc<Segment>,
    /// Its decoded records section and id index.
    pub(crate) recs: Arc<Loaded>,
    /// Rows a newer source overrides (a newer version or a delete).
    pub(crate) mask: Arc<RowMask>,
}

impl SegView {
    /// A segment whose records decode, with no row overridden yet.
    pub(crate) fn new(seg: Arc<Segment>) -> Result<SegView> {
        let recs = seg.loaded()?.clone();
        let mask = Arc::new(RowMask::new(recs.recs.ids.len()));
        Ok(SegView { seg, recs, mask })
    }
}

/// A frozen memtable waiting to become a segment.
#[derive(Clone)]
pub(crate) struct Frozen {
    pub(crate) view: MemView,
    /// The WAL generation started when it froze: once it is a segment,
    /// the manifest's `wal_start` becomes this.
    pub(crate) next_wal: u64,
    /// The sequence number it froze at (the newest op it holds).
    pub(crate) last_seq: u64,
}

/// One source of records.
pub(crate) enum Source<'a> {
    /// A memtable view; rows are slots.
    Mem(&'a MemView),
    /// A segment; rows are segment rows.
    Seg(&'a SegView),
}

/// See the module docs.
#[derive(Clone)]
pub(crate) struct Version {
    /// The newest sequence number the version includes.
    pub(crate) seq: u64,
    pub(crate) active: MemView,
    /// Oldest first.
    pub(crate) frozen: Vec<Frozen>,
    /// Oldest first.
    pub(crate) segments: Vec<SegView>,
    /// Fixed by the first record written.
    pub(crate) dimension: Option<usize>,
    /// The collection's schema, with every key its records brought
    /// (`modify_collection` publishes a version with the new one).
    pub(crate) schema: Arc<Schema>,
    /// The configuration derived from `schema` (kept beside it, as the
    /// query and build paths read it often).
    pub(crate) config: Arc<CollectionConfig>,
}

impl Version {
    /// Number of sources.
    pub(crate) fn source_count(&self) -> usize {
        1 + self.frozen.len() + self.segments.len()
    }

    /// Source `i` (newest first).
    pub(crate) fn source(&self, i: usize) -> Source<'_> {
        let f = self.frozen.len();
        if i == 0 {
            Source::Mem(&self.active)
        } else if i <= f {
            Source::Mem(&self.frozen[f - i].view)
        } else {
            let s = self.segments.len();
            Source::Seg(&self.segments[s - 1 - (i - 1 - f)])
        }
    }

    // -- writing --------------------------------------------------------

    /// Applies a logged batch: appends its ops to the active memtable and
    /// returns the version that includes them. The one apply shared by
    /// writes and WAL replay; callers hold the writer lock.
    pub(crate) fn apply(&self, batch: WalBatch) -> Version {
        let mut next = self.clone();
        let first = batch.first_seq;
        for (i, op) in batch.ops.into_iter().enumerate() {
            let seq = first + i as u64;
            if let Op::Put(r) = &op {
                if next.dimension.is_none() {
                    next.dimension = Some(r.embedding.len());
                }
                if let Some(m) = &r.metadata {
                    next.discover(m);
                }
            }
            next.supersede_older(op.id(), seq);
            next.active.mem.push(op, seq);
            next.seq = next.seq.max(seq);
        }
        next.active.len = next.active.mem.len();
        next
    }

    /// Refuses a selection that filters on an index the schema turns off.
    pub(crate) fn check_filters(&self, sel: &Selection) -> Result<()> {
        if let Some(w) = &sel.r#where {
            self.schema.check_where(w)?;
        }
        if let Some(w) = &sel.where_document {
            self.schema.check_where_document(w)?;
        }
        Ok(())
    }

    /// Adds the keys (and value types) of `m` the schema has no entry for
    /// yet; the schema is copied only when one is new.
    fn discover(&mut self, m: &Metadata) {
        if m.iter()
            .all(|(k, v)| self.schema.covers(k, ValueType::of(v)))
        {
            return;
        }
        let s = Arc::make_mut(&mut self.schema);
        for (k, v) in m.iter() {
            s.discover(k, ValueType::of(v));
        }
    }

    /// Marks the copy of `id` in the sources older than the active
    /// memtable superseded at `seq`, unless the active memtable already
    /// holds the id (then that was done when it first got it, and the
    /// memtable supersedes its own slot).
    fn supersede_older(&mut self, id: &str, seq: u64) {
        if self.active.mem.lookup(id, usize::MAX).is_some() {
            return;
        }
        for f in self.frozen.iter().rev() {
            if let Some(slot) = f.view.mem.lookup(id, f.view.len) {
                if let Some(e) = f.view.mem.entry(slot) {
                    e.supersede(seq);
                }
                return;
            }
        }
        for s in self.segments.iter_mut().rev() {
            match s.recs.index.get(id) {
                Some(SegLoc::Row(r)) => {
                    Arc::make_mut(&mut s.mask).set(*r as usize);
                    return;
                }
                Some(SegLoc::Tomb) => return,
                None => {}
            }
        }
    }

    /// An empty memtable for a collection configured as `config`; with
    /// `graph`, its puts are indexed by a graph with the collection's HNSW
    /// parameters.
    pub(crate) fn memtable_for(config: &CollectionConfig, graph: bool) -> Memtable {
        if !graph {
            return Memtable::default();
        }
        let h = &config.hnsw;
        Memtable::indexed(h.space, crate::index::degree(h), h.ef_construction)
    }

    /// Freezes the active memtable (the WAL now continues in generation
    /// `next_wal`) and starts an empty one, with a graph if the frozen one
    /// has one ([`crate::Options::memtable_graph`] holds for the store's
    /// life).
    pub(crate) fn freeze(&self, next_wal: u64) -> Version {
        let mut next = self.clone();
        next.frozen.push(Frozen {
            view: MemView::whole(self.active.mem.clone()),
            next_wal,
            last_seq: self.seq,
        });
        next.active = MemView::whole(Arc::new(Version::memtable_for(
            &self.config,
            self.active.mem.graph().is_some(),
        )));
        next
    }

    /// Replaces the oldest frozen memtable by the segment written from it
    /// (if it held anything), masking the rows written since by newer ops.
    pub(crate) fn flushed(&self, seg: Option<SegView>) -> Version {
        let mut next = self.clone();
        if next.frozen.is_empty() {
            return next;
        }
        let frozen = next.frozen.remove(0);
        if let Some(mut s) = seg {
            let mut mask = RowMask::new(s.recs.recs.ids.len());
            for (row, id) in s.recs.recs.ids.iter().enumerate() {
                let replaced = frozen
                    .view
                    .mem
                    .lookup(id, frozen.view.len)
                    .and_then(|slot| frozen.view.mem.entry(slot))
                    .is_some_and(|e| !e.current_at(self.seq));
                if replaced {
                    mask.set(row);
                }
            }
            s.mask = Arc::new(mask);
            next.segments.push(s);
        }
        next
    }

    /// Replaces the segments at `range` by `merged` (if the merge kept
    /// anything). `origin[row]` is where each merged row came from: the
    /// position in `range` and the row there; the merged row is overridden
    /// exactly when its origin row is now.
    pub(crate) fn compacted(
        &self,
        range: std::ops::Range<usize>,
        merged: Option<SegView>,
        origin: &[(usize, u32)],
    ) -> Version {
        let mut next = self.clone();
        let old = &self.segments[range.clone()];
        let merged = merged.map(|mut s| {
            let mut mask = RowMask::new(s.recs.recs.ids.len());
            for (row, &(i, r)) in origin.iter().enumerate() {
                if old.get(i).is_some_and(|o| o.mask.get(r as usize)) {
                    mask.set(row);
                }
            }
            s.mask = Arc::new(mask);
            s
        });
        next.segments.splice(range, merged);
        next
    }

    // -- reading --------------------------------------------------------

    /// `Some(Some(row))` live, `Some(None)` tombstone, `None` absent.
    fn lookup(&self, src: usize, id: &str) -> Option<Option<Row>> {
        match self.source(src) {
            Source::Mem(m) => m
                .find(id, self.seq)
                .map(|slot| m.entry(slot).and_then(|e| e.record()).map(|_| slot as Row)),
            Source::Seg(s) => s.recs.index.get(id).map(|loc| match loc {
                SegLoc::Row(r) => Some(*r),
                SegLoc::Tomb => None,
            }),
        }
    }

    /// The live location of `id`, if it has one.
    pub(crate) fn resolve(&self, id: &str) -> Option<Loc> {
        for src in 0..self.source_count() {
            if let Some(hit) = self.lookup(src, id) {
                return hit.map(|row| (src, row));
            }
        }
        None
    }

    /// How many rows source `src` has (visible or not).
    pub(crate) fn source_len(&self, src: usize) -> usize {
        match self.source(src) {
            Source::Mem(m) => m.len,
            Source::Seg(s) => s.recs.recs.ids.len(),
        }
    }

    /// The visible live rows of one source: a segment's rows its mask
    /// leaves, a memtable's live slots.
    pub(crate) fn visible(&self, src: usize) -> RowSet {
        match self.source(src) {
            Source::Mem(m) => RowSet::Rows(m.live_slots(self.seq).map(|s| s as Row).collect()),
            Source::Seg(s) if s.mask.ones() == 0 => RowSet::All,
            Source::Seg(s) => RowSet::Except(s.mask.clone()),
        }
    }

    /// Whether the record at `loc` passes the selection's filters.
    pub(crate) fn matches(&self, sel: &Selection, loc: Loc) -> bool {
        let doc = self.document(loc);
        if let Some(w) = &sel.r#where {
            if !w.matches_record(Some(self.id(loc)), self.metadata(loc), doc) {
                return false;
            }
        }
        if let Some(wd) = &sel.where_document {
            if !wd.matches(doc) {
                return false;
            }
        }
        true
    }

    /// Visible live records passing the filters of `sel` (its `ids` are
    /// not looked at), per source. A segment answers a `where` from its
    /// metadata index first, so a selective filter checks only candidates;
    /// an unfiltered segment stays "every row its mask leaves", not a list.
    pub(crate) fn filtered(&self, sel: &Selection) -> Result<Vec<RowSet>> {
        let filtered = sel.r#where.is_some() || sel.where_document.is_some();
        let mut out = Vec::with_capacity(self.source_count());
        for src in 0..self.source_count() {
            let visible = self.visible(src);
            if !filtered {
                out.push(visible);
                continue;
            }
            let total = self.source_len(src);
            let (candidates, exact) = match (self.source(src), &sel.r#where) {
                (Source::Seg(s), Some(w)) => {
                    let c = s.seg.meta_index()?.candidates(w);
                    (c.rows.intersect(&visible, total), c.exact)
                }
                _ => (visible, false),
            };
            let rows = if exact && sel.where_document.is_none() {
                candidates
            } else {
                RowSet::Rows(
                    candidates
                        .iter(total)
                        .filter(|&r| self.matches(sel, (src, r)))
                        .collect(),
                )
            };
            out.push(rows);
        }
        Ok(out)
    }

    /// The rows of the given ids that are live (each once), per source.
    pub(crate) fn rows_of_ids(&self, ids: &[String]) -> Vec<Loc> {
        let mut seen = HashSet::new();
        ids.iter()
            .filter_map(|id| self.resolve(id))
            .filter(|l| seen.insert(*l))
            .collect()
    }

    /// Number of visible live records.
    pub(crate) fn count(&self) -> usize {
        (0..self.source_count())
            .map(|src| match self.source(src) {
                Source::Seg(s) => s.recs.recs.ids.len() - s.mask.ones(),
                Source::Mem(m) => m.live_slots(self.seq).count(),
            })
            .sum()
    }

    /// The record's id.
    pub(crate) fn id(&self, (src, row): Loc) -> &str {
        match self.source(src) {
            Source::Mem(m) => m.entry(row as usize).map_or("", |e| e.op.id()),
            Source::Seg(s) => &s.recs.recs.ids[row as usize],
        }
    }

    /// The record's first-insertion order key.
    pub(crate) fn order(&self, (src, row): Loc) -> u64 {
        match self.source(src) {
            Source::Mem(m) => m
                .entry(row as usize)
                .and_then(|e| e.record())
                .map_or(0, |r| r.order),
            Source::Seg(s) => s.recs.recs.orders[row as usize],
        }
    }

    /// The record's document.
    pub(crate) fn document(&self, (src, row): Loc) -> Option<&str> {
        match self.source(src) {
            Source::Mem(m) => m
                .entry(row as usize)
                .and_then(|e| e.record())
                .and_then(|r| r.document.as_deref()),
            Source::Seg(s) => s.recs.recs.documents[row as usize].as_deref(),
        }
    }

    /// The record's metadata.
    pub(crate) fn metadata(&self, (src, row): Loc) -> Option<&Metadata> {
        match self.source(src) {
            Source::Mem(m) => m
                .entry(row as usize)
                .and_then(|e| e.record())
                .and_then(|r| r.metadata.as_ref()),
            Source::Seg(s) => s.recs.recs.metadatas[row as usize].as_ref(),
        }
    }

    /// The record's uri.
    pub(crate) fn uri(&self, (src, row): Loc) -> Option<&str> {
        match self.source(src) {
            Source::Mem(m) => m
                .entry(row as usize)
                .and_then(|e| e.record())
                .and_then(|r| r.uri.as_deref()),
            Source::Seg(s) => s.recs.recs.uris[row as usize].as_deref(),
        }
    }

    /// The record's embedding (a segment's vector column is checked on first use).
    pub(crate) fn embedding(&self, (src, row): Loc) -> Result<&[f32]> {
        match self.source(src) {
            Source::Mem(m) => Ok(m
                .entry(row as usize)
                .and_then(|e| e.record())
                .map_or(&[][..], |r| r.embedding.as_slice())),
            Source::Seg(s) => {
                let (d, row) = (s.seg.dim(), row as usize);
                s.seg
                    .vectors()?
                    .get(row * d..(row + 1) * d)
                    .ok_or_else(|| Error::Internal(format!("row {row} past the segment's end")))
            }
        }
    }
}

/// Per segment (oldest first), the rows a newer segment holds again or
/// deletes: one pass from the newest segment down, with the ids seen so far.
pub(crate) fn segment_masks(loaded: &[&Loaded]) -> Vec<Arc<RowMask>> {
    let mut newer: HashSet<&str> = HashSet::new();
    let mut out = Vec::with_capacity(loaded.len());
    for (i, l) in loaded.iter().enumerate().rev() {
        let mut mask = RowMask::new(l.recs.ids.len());
        if !newer.is_empty() {
            for (row, id) in l.recs.ids.iter().enumerate() {
                if newer.contains(id.as_str()) {
                    mask.set(row);
                }
            }
        }
        if i > 0 {
            newer.extend(l.recs.ids.iter().map(String::as_str));
            newer.extend(l.recs.tombstones.iter().map(String::as_str));
        }
        out.push(Arc::new(mask));
    }
    out.reverse();
    out
}
