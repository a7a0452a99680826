//! A read view over a collection's sources (active memtable, frozen
//! memtables, segments), newest first, with "newest version wins"
//! resolution: an id is visible in source `i` only if no newer source holds
//! it (as a record or a tombstone).

use std::sync::{Arc, OnceLock};

use crate::error::Result;
use crate::filter::Candidates;
use crate::memtable::Memtable;
use crate::segment::reader::{Loaded, Loc};
use crate::segment::Segment;
use crate::shadow::RowMask;
use crate::state::State;
use crate::types::Metadata;
use crate::types::Selection;

/// One source of records.
pub(crate) enum Source<'a> {
    /// A memtable; rows are memtable slots.
    Mem(&'a Memtable),
    /// A segment; rows are segment rows.
    Seg(&'a Segment, &'a Loaded),
}

/// A (source, row) pair.
pub(crate) type Loc2 = (usize, usize);

/// The rows of one source a query may consider.
pub(crate) enum SourceRows {
    /// Every row of a segment that no newer source overrides.
    Live,
    /// Exactly these rows, ascending.
    Rows(Vec<usize>),
}

/// Sources of one state, newest first.
pub(crate) struct Snapshot<'a> {
    pub(crate) sources: Vec<Source<'a>>,
    state: &'a State,
    /// See [`Snapshot::masks`]; computed on first use (writes never need it).
    masks: OnceLock<Vec<Option<Arc<RowMask>>>>,
}

impl<'a> Snapshot<'a> {
    /// Builds the view (decoding segment record sections on first use).
    pub(crate) fn new(st: &'a State) -> Result<Snapshot<'a>> {
        let mut sources = Vec::with_capacity(1 + st.frozen.len() + st.segments.len());
        sources.push(Source::Mem(&st.active));
        for f in st.frozen.iter().rev() {
            sources.push(Source::Mem(&f.mem));
        }
        for s in st.segments.iter().rev() {
            sources.push(Source::Seg(s, s.loaded()?));
        }
        Ok(Snapshot {
            sources,
            state: st,
            masks: OnceLock::new(),
        })
    }

    /// `Some(Some(row))` live, `Some(None)` tombstone, `None` absent.
    fn lookup(&self, src: usize, id: &str) -> Option<Option<usize>> {
        match &self.sources[src] {
            Source::Mem(m) => m.slot(id).map(|slot| m.record(slot).map(|_| slot)),
            Source::Seg(_, l) => l.index.get(id).map(|loc| match loc {
                Loc::Row(r) => Some(*r as usize),
                Loc::Tomb => None,
            }),
        }
    }

    /// The live location of `id`, if it has one.
    pub(crate) fn resolve(&self, id: &str) -> Option<Loc2> {
        for src in 0..self.sources.len() {
            if let Some(hit) = self.lookup(src, id) {
                return hit.map(|row| (src, row));
            }
        }
        None
    }

    fn shadowed(&self, src: usize, id: &str) -> bool {
        (0..src).any(|newer| self.lookup(newer, id).is_some())
    }

    /// Per source, the rows of a segment that newer sources override
    /// (`None` for memtables), from the collection's [`ShadowCache`].
    fn masks(&self) -> &[Option<Arc<RowMask>>] {
        self.masks.get_or_init(|| {
            let st = self.state;
            let first_seg = 1 + st.frozen.len();
            let loaded: Vec<&Loaded> = self.sources[first_seg..]
                .iter()
                .rev()
                .filter_map(|s| match s {
                    Source::Seg(_, l) => Some(*l),
                    Source::Mem(_) => None,
                })
                .collect();
            let mut mems: Vec<&Memtable> = vec![&st.active];
            mems.extend(st.frozen.iter().map(|f| &*f.mem));
            let per_segment = st.shadow.lock().masks(&st.segments, &loaded, &mems);
            let mut out = vec![None; first_seg];
            out.extend(per_segment.into_iter().rev().map(Some));
            out
        })
    }

    /// Whether row `r` of segment source `src` is overridden by a newer source.
    fn seg_shadowed(&self, src: usize, r: usize) -> bool {
        self.masks()[src].as_ref().is_some_and(|m| m.get(r))
    }

    /// Visible live rows of one source, ascending.
    fn live_rows(&self, src: usize) -> Vec<usize> {
        match &self.sources[src] {
            Source::Mem(m) => (0..m.entries().len())
                .filter(|&slot| m.record(slot).is_some())
                .filter(|&slot| src == 0 || !self.shadowed(src, m.entries()[slot].op.id()))
                .collect(),
            Source::Seg(_, l) => (0..l.recs.ids.len())
                .filter(|&r| !self.seg_shadowed(src, r))
                .collect(),
        }
    }

    /// Every visible live record, per source (rows ascending).
    pub(crate) fn live(&self) -> Vec<Vec<usize>> {
        (0..self.sources.len())
            .map(|src| self.live_rows(src))
            .collect()
    }

    /// The rows of a segment source that are overridden, as a mask with its
    /// count (`None` for a memtable).
    pub(crate) fn shadow_mask(&self, src: usize) -> Option<&RowMask> {
        self.masks()[src].as_deref()
    }

    /// Whether the record at `loc` passes the selection's filters.
    pub(crate) fn matches(&self, sel: &Selection, loc: Loc2) -> bool {
        let doc = self.document(loc);
        if let Some(w) = &sel.r#where {
            if !w.matches(self.metadata(loc), doc) {
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
    /// metadata index first, so a selective filter checks only candidates.
    pub(crate) fn filtered(&self, sel: &Selection) -> Result<Vec<Vec<usize>>> {
        let filtered = sel.r#where.is_some() || sel.where_document.is_some();
        if !filtered {
            return Ok(self.live());
        }
        let mut out = Vec::with_capacity(self.sources.len());
        for (src, s) in self.sources.iter().enumerate() {
            let rows: Vec<usize> = match s {
                Source::Mem(m) => (0..m.entries().len())
                    .filter(|&slot| m.record(slot).is_some())
                    .filter(|&slot| src == 0 || !self.shadowed(src, m.entries()[slot].op.id()))
                    .filter(|&slot| self.matches(sel, (src, slot)))
                    .collect(),
                Source::Seg(seg, l) => {
                    let (base, exact): (Vec<usize>, bool) = match &sel.r#where {
                        Some(w) => match seg.meta_index()?.candidates(w) {
                            Candidates::All => ((0..l.recs.ids.len()).collect(), false),
                            Candidates::Rows { rows, exact } => {
                                (rows.into_iter().map(|r| r as usize).collect(), exact)
                            }
                        },
                        None => ((0..l.recs.ids.len()).collect(), false),
                    };
                    let recheck = !exact || sel.where_document.is_some();
                    base.into_iter()
                        .filter(|&r| !self.seg_shadowed(src, r))
                        .filter(|&r| !recheck || self.matches(sel, (src, r)))
                        .collect()
                }
            };
            out.push(rows);
        }
        Ok(out)
    }

    /// The rows a query may consider, per source: as [`Snapshot::filtered`],
    /// except that an unfiltered segment is [`SourceRows::Live`] rather
    /// than a list of (nearly) all its rows.
    pub(crate) fn query_rows(&self, sel: &Selection) -> Result<Vec<SourceRows>> {
        if sel.r#where.is_some() || sel.where_document.is_some() {
            return Ok(self
                .filtered(sel)?
                .into_iter()
                .map(SourceRows::Rows)
                .collect());
        }
        Ok((0..self.sources.len())
            .map(|src| match &self.sources[src] {
                Source::Seg(..) => SourceRows::Live,
                Source::Mem(_) => SourceRows::Rows(self.live_rows(src)),
            })
            .collect())
    }

    /// Number of visible live records.
    pub(crate) fn count(&self) -> usize {
        (0..self.sources.len())
            .map(|src| match (&self.sources[src], self.shadow_mask(src)) {
                (Source::Seg(_, l), Some(m)) => l.recs.ids.len() - m.ones(),
                _ => self.live_rows(src).len(),
            })
            .sum()
    }

    /// The record's id.
    pub(crate) fn id(&self, (src, row): Loc2) -> &'a str {
        match &self.sources[src] {
            Source::Mem(m) => m.entries()[row].op.id(),
            Source::Seg(_, l) => &l.recs.ids[row],
        }
    }

    /// The record's first-insertion order key.
    pub(crate) fn order(&self, (src, row): Loc2) -> u64 {
        match &self.sources[src] {
            Source::Mem(m) => m.record(row).map_or(0, |r| r.order),
            Source::Seg(_, l) => l.recs.orders[row],
        }
    }

    /// The record's document.
    pub(crate) fn document(&self, (src, row): Loc2) -> Option<&'a str> {
        match &self.sources[src] {
            Source::Mem(m) => m.record(row).and_then(|r| r.document.as_deref()),
            Source::Seg(_, l) => l.recs.documents[row].as_deref(),
        }
    }

    /// The record's metadata.
    pub(crate) fn metadata(&self, (src, row): Loc2) -> Option<&'a Metadata> {
        match &self.sources[src] {
            Source::Mem(m) => m.record(row).and_then(|r| r.metadata.as_ref()),
            Source::Seg(_, l) => l.recs.metadatas[row].as_ref(),
        }
    }

    /// The record's uri.
    pub(crate) fn uri(&self, (src, row): Loc2) -> Option<&'a str> {
        match &self.sources[src] {
            Source::Mem(m) => m.record(row).and_then(|r| r.uri.as_deref()),
            Source::Seg(_, l) => l.recs.uris[row].as_deref(),
        }
    }

    /// The record's embedding (a segment's vector column is checked on first use).
    pub(crate) fn embedding(&self, (src, row): Loc2) -> Result<&'a [f32]> {
        match &self.sources[src] {
            Source::Mem(m) => Ok(m.record(row).map_or(&[][..], |r| r.embedding.as_slice())),
            Source::Seg(s, _) => {
                let d = s.dim();
                Ok(&s.vectors()?[row * d..(row + 1) * d])
            }
        }
    }
}
