//! Which segment rows newer sources override ("shadow"). An id written
//! again, or deleted, in a newer segment or memtable hides its rows in
//! older segments. A query must skip those rows; finding them by hashing
//! every id into every newer source costs O(records × segments) per query,
//! so this cache keeps one bit per segment row instead:
//!
//! - the rows a newer *segment* overrides are computed once per segment
//!   list (a flush or compaction changes it);
//! - the rows a *memtable* overrides are found as the memtable grows, each
//!   memtable entry looked up once (memtables only ever gain slots; an id
//!   keeps its slot when overwritten);
//! - the combined masks are reused until either changes.
//!
//! The cache lives in the collection's state, behind its own mutex, and is
//! only read or extended by holders of the state lock, so it always
//! describes the sources the holder sees.

use std::collections::HashSet;
use std::sync::{Arc, Weak};

use crate::memtable::Memtable;
use crate::segment::reader::{Loaded, Loc};
use crate::segment::Segment;

/// One bit per segment row (here: set when a newer source overrides the
/// row; the graph search also uses it for a filter's rows), with a count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RowMask {
    words: Vec<u64>,
    ones: usize,
}

impl RowMask {
    /// A mask of `rows` clear bits.
    pub(crate) fn new(rows: usize) -> RowMask {
        RowMask {
            words: vec![0; rows.div_ceil(64)],
            ones: 0,
        }
    }

    /// Whether `row`'s bit is set.
    pub(crate) fn get(&self, row: usize) -> bool {
        self.words
            .get(row / 64)
            .is_some_and(|w| w & (1 << (row % 64)) != 0)
    }

    /// Sets `row`'s bit (a row past the end is ignored).
    pub(crate) fn set(&mut self, row: usize) {
        if let Some(w) = self.words.get_mut(row / 64) {
            let bit = 1 << (row % 64);
            if *w & bit == 0 {
                *w |= bit;
                self.ones += 1;
            }
        }
    }

    /// How many bits are set.
    pub(crate) fn ones(&self) -> usize {
        self.ones
    }
}

/// Segment rows found overridden by one memtable's entries.
struct MemHits {
    generation: u64,
    /// Entries looked up so far (slots `0..seen`).
    seen: usize,
    /// `(segment position, oldest first; row)`.
    hits: Vec<(usize, u32)>,
}

/// The cache of one collection; see the module docs.
#[derive(Default)]
pub(crate) struct ShadowCache {
    /// The segment list the cache describes (identity only), oldest first.
    segments: Vec<Weak<Segment>>,
    /// Per segment: rows overridden by newer segments.
    base: Vec<Arc<RowMask>>,
    mems: Vec<MemHits>,
    /// `base` plus every memtable hit, for one state of the memtables.
    combined: Option<Combined>,
}

/// Masks with every memtable hit applied, and the `(generation, seen)` of
/// each memtable they include.
struct Combined {
    mems: Vec<(u64, usize)>,
    masks: Vec<Arc<RowMask>>,
}

impl ShadowCache {
    /// One mask per segment (oldest first, as in `segments`, whose decoded
    /// records are `loaded`) for the sources `segments` and `mems`.
    pub(crate) fn masks(
        &mut self,
        segments: &[Arc<Segment>],
        loaded: &[&Loaded],
        mems: &[&Memtable],
    ) -> Vec<Arc<RowMask>> {
        // How many of the cached segments are still the oldest ones.
        let kept = self
            .segments
            .iter()
            .zip(segments)
            .take_while(|(w, s)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(s)))
            .count();
        if kept != self.segments.len() || kept != segments.len() {
            if kept == self.segments.len() && !self.base.is_empty() {
                // A flush appended newer segments: only their keys are new.
                self.base.extend(
                    loaded[kept..]
                        .iter()
                        .map(|l| Arc::new(RowMask::new(l.recs.ids.len()))),
                );
                override_older(&mut self.base, loaded, kept);
            } else {
                self.base = segment_masks(loaded);
            }
            self.segments = segments.iter().map(Arc::downgrade).collect();
            self.mems.clear();
            self.combined = None;
        }
        self.mems
            .retain(|h| mems.iter().any(|m| m.generation() == h.generation));
        for m in mems {
            let pos = match self
                .mems
                .iter()
                .position(|h| h.generation == m.generation())
            {
                Some(p) => p,
                None => {
                    self.mems.push(MemHits {
                        generation: m.generation(),
                        seen: 0,
                        hits: Vec::new(),
                    });
                    self.mems.len() - 1
                }
            };
            let h = &mut self.mems[pos];
            for e in &m.entries()[h.seen..] {
                let id = e.op.id();
                for (i, l) in loaded.iter().enumerate() {
                    if let Some(Loc::Row(r)) = l.index.get(id) {
                        h.hits.push((i, *r));
                    }
                }
            }
            h.seen = m.entries().len();
        }
        let key: Vec<(u64, usize)> = self.mems.iter().map(|h| (h.generation, h.seen)).collect();
        if let Some(c) = self.combined.as_ref().filter(|c| c.mems == key) {
            return c.masks.clone();
        }
        let mut masks = self.base.clone();
        for h in &self.mems {
            for &(i, r) in &h.hits {
                Arc::make_mut(&mut masks[i]).set(r as usize);
            }
        }
        self.combined = Some(Combined {
            mems: key,
            masks: masks.clone(),
        });
        masks
    }
}

/// Marks, in the masks of segments `..from`, the rows that the keys (ids
/// and tombstones) of segments `from..` override.
fn override_older(base: &mut [Arc<RowMask>], loaded: &[&Loaded], from: usize) {
    for (j, newer) in loaded.iter().enumerate().skip(from) {
        for key in newer.recs.ids.iter().chain(&newer.recs.tombstones) {
            for (i, older) in loaded[..j].iter().enumerate() {
                if let Some(Loc::Row(r)) = older.index.get(key.as_str()) {
                    Arc::make_mut(&mut base[i]).set(*r as usize);
                }
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

#[cfg(test)]
mod tests {
    use super::RowMask;

    #[test]
    fn row_mask_sets_and_counts_each_row_once() {
        let mut m = RowMask::new(130);
        assert!(!m.get(0) && !m.get(129) && !m.get(500));
        m.set(0);
        m.set(129);
        m.set(129);
        m.set(500); // out of range: ignored
        assert!(m.get(0) && m.get(129) && !m.get(64));
        assert_eq!(m.ones(), 2);
    }
}
