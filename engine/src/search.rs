//! k-NN search over a snapshot: each source produces its own top-k among
//! the rows the caller allows (visible and matching the filters), then the
//! per-source lists are merged. A source's step is [`source_top_k`]; it is
//! the seam where a per-segment vector index replaces brute force.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::error::Result;
use crate::index::distance::distance;
use crate::snapshot::{Loc2, Snapshot, Source};
use crate::types::Space;

/// A candidate: distance, then insertion order as the tie-breaker.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub(crate) dist: f32,
    pub(crate) order: u64,
    pub(crate) loc: Loc2,
}

impl PartialEq for Hit {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Hit {}
impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Hit {
    fn cmp(&self, other: &Self) -> Ordering {
        self.dist
            .total_cmp(&other.dist)
            .then(self.order.cmp(&other.order))
    }
}

/// Keeps the k smallest hits.
struct TopK {
    k: usize,
    heap: BinaryHeap<Hit>,
}

impl TopK {
    fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }
    fn push(&mut self, h: Hit) {
        if self.heap.len() < self.k {
            self.heap.push(h);
        } else if let Some(worst) = self.heap.peek() {
            if h < *worst {
                self.heap.pop();
                self.heap.push(h);
            }
        }
    }
    fn into_sorted(self) -> Vec<Hit> {
        self.heap.into_sorted_vec()
    }
}

/// The k nearest of `rows` in source `src` (brute force).
pub(crate) fn source_top_k(
    snap: &Snapshot<'_>,
    src: usize,
    space: Space,
    query: &[f32],
    rows: &[usize],
    k: usize,
) -> Result<Vec<Hit>> {
    let mut top = TopK::new(k);
    if k == 0 || rows.is_empty() {
        return Ok(Vec::new());
    }
    match &snap.sources[src] {
        Source::Seg(seg, loaded) => {
            let dim = seg.dim();
            let column = seg.vectors()?;
            for &row in rows {
                let v = &column[row * dim..(row + 1) * dim];
                top.push(Hit {
                    dist: distance(space, query, v),
                    order: loaded.recs.orders[row],
                    loc: (src, row),
                });
            }
        }
        Source::Mem(_) => {
            for &row in rows {
                let loc = (src, row);
                let v = snap.embedding(loc)?;
                top.push(Hit {
                    dist: distance(space, query, v),
                    order: snap.order(loc),
                    loc,
                });
            }
        }
    }
    Ok(top.into_sorted())
}

/// The k nearest among `allowed` (rows per source), nearest first.
pub(crate) fn top_k(
    snap: &Snapshot<'_>,
    space: Space,
    query: &[f32],
    allowed: &[Vec<usize>],
    k: usize,
) -> Result<Vec<Hit>> {
    let mut all = Vec::new();
    for (src, rows) in allowed.iter().enumerate() {
        all.extend(source_top_k(snap, src, space, query, rows, k)?);
    }
    all.sort_unstable();
    all.truncate(k);
    Ok(all)
}
