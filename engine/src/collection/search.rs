//! k-NN search over a version: each source produces its own top-k among
//! the rows the caller allows (visible and matching the filters), then the
//! per-source lists are merged. A source's step is [`source_top_k`]: for a
//! memtable, a walk of its graph when it is large enough, brute force
//! otherwise; for a segment, its HNSW graph through the planner
//! (`index::SegmentGraph::query`) once the background builder has published
//! it, an exact scan until then.

use std::cmp::Ordering;

use super::version::{Loc, Source, Version};
use crate::error::Result;
use crate::index::distance::{prefetch, QueryDistance};
use crate::index::topk::TopN;
use crate::index::{exact_query_normed, RowSet, VectorColumn};
use crate::types::Space;

/// A candidate: distance, then insertion order as the tie-breaker.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub(crate) dist: f32,
    pub(crate) order: u64,
    pub(crate) loc: Loc,
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

/// The k nearest of `rows` (visible, matching rows of source `src`).
/// A segment is searched through its graph when it has one (beam width
/// `ef_search`), exactly otherwise; either way with Chroma's distances and
/// `min(k, rows)` results.
pub(crate) fn source_top_k(
    v: &Version,
    src: usize,
    space: Space,
    query: &[f32],
    rows: &RowSet,
    k: usize,
    ef_search: usize,
) -> Result<Vec<Hit>> {
    let total = v.source_len(src);
    if k == 0 || rows.is_empty(total) {
        return Ok(Vec::new());
    }
    let mut top = TopN::new(k);
    match v.source(src) {
        Source::Seg(s) => {
            let seg = &s.seg;
            let column = seg.column()?;
            let found = match seg.graph() {
                Some(g) => g.query(&column, query, k, ef_search, rows),
                None => {
                    let norms = match space {
                        Space::Cosine => Some(seg.norms()?),
                        Space::L2 | Space::Ip => None,
                    };
                    exact_query_normed(column.floats(), seg.dim(), space, norms, query, k, rows)
                }
            };
            for (row, dist) in found {
                top.offer(Hit {
                    dist,
                    order: s.recs.recs.orders[row as usize],
                    loc: (src, row),
                });
            }
        }
        Source::Mem(m) => {
            // One pass over each vector (its norm was taken when it was
            // written), the next one prefetched: the same distances as
            // `distance(space, query, x)`, bit for bit.
            let qd = QueryDistance::new(space, query);
            if let Some(found) = m.graph_top_k(&qd, k, ef_search, rows) {
                for (row, dist) in found {
                    let order = m
                        .entry(row as usize)
                        .and_then(|e| e.record())
                        .map_or(0, |r| r.order);
                    top.offer(Hit {
                        dist,
                        order,
                        loc: (src, row),
                    });
                }
                return Ok(top.into_sorted_vec());
            }
            let record = |row: u32| m.entry(row as usize).and_then(|e| Some((e, e.record()?)));
            let mut rows = rows.iter(total).peekable();
            while let Some(row) = rows.next() {
                if let Some((_, next)) = rows.peek().and_then(|&r| record(r)) {
                    prefetch(&next.embedding);
                }
                let Some((e, r)) = record(row) else { continue };
                top.offer(Hit {
                    dist: qd.to_with_norm(&r.embedding, e.norm),
                    order: r.order,
                    loc: (src, row),
                });
            }
        }
    }
    Ok(top.into_sorted_vec())
}

/// The k nearest among `allowed` (rows per source), nearest first.
pub(crate) fn top_k(
    v: &Version,
    space: Space,
    query: &[f32],
    allowed: &[RowSet],
    k: usize,
    ef_search: usize,
) -> Result<Vec<Hit>> {
    // Never ask a source for more than the rows it can give: a huge `k`
    // (a client's `n_results` or Knn `limit`) must not size a beam.
    let rows: usize = allowed
        .iter()
        .enumerate()
        .map(|(src, r)| r.len(v.source_len(src)))
        .sum();
    let k = k.min(rows);
    let mut all = Vec::new();
    for (src, rows) in allowed.iter().enumerate() {
        let k = k.min(rows.len(v.source_len(src)));
        all.extend(source_top_k(v, src, space, query, rows, k, ef_search)?);
    }
    all.sort_unstable();
    all.truncate(k);
    Ok(all)
}
