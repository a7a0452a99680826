//! A sparse `Knn` leaf over one version: the `limit` records with the
//! lowest `1 - q·d` among those whose sparse vector under the key shares a
//! dimension with the query (`../shared/chroma-search-api.md` §2), with
//! BM25's IDF applied to the query first when the key's index asks for it.
//!
//! Per source, the query terms' posting lists: a segment's from its sparse
//! section, in place; the memtable's copied out of its index. Every source
//! feeds one MaxScore top-k (`sparse/topk.rs`). A segment without postings
//! for the key (written before format 3) is scanned; so is a source where
//! the filter admits far fewer rows than the lists hold.
//!
//! BM25's counts are exact for the version: `N` its live records, `n_t`
//! the live records holding term `t`, i.e. each list's length less the
//! rows a newer source overrides (a segment's mask, a memtable's
//! superseded slots). Both derive from what is durable (segments, WAL), so
//! they are as crash-consistent as the records.

use super::version::{Loc, Source, Version};
use crate::error::Result;
use crate::index::RowSet;
use crate::metadata::{MetadataValue, SparseVector};
use crate::sparse::mem::OwnedList;
use crate::sparse::section::TermList;
use crate::sparse::{dot, Cursor, PostingList, TopK};

/// One source's lists for the query's terms (`None`: no row holds it).
enum Lists<'a> {
    Seg(Vec<Option<TermList<'a>>>),
    Mem(Vec<Option<OwnedList>>),
    /// No postings for the key here: read the records.
    Scan,
}

/// A scan costs about this many posting reads per row it checks.
const SCAN_ROW_COST: usize = 8;

/// The leaf's hits, best first (see the module docs).
pub(crate) fn top_k(
    v: &Version,
    allowed: &[RowSet],
    key: &str,
    q: &SparseVector,
    bm25: bool,
    limit: usize,
) -> Result<Vec<(Loc, f32)>> {
    let lists = (0..v.source_count())
        .map(|src| lists(v, src, key, &q.indices))
        .collect::<Result<Vec<_>>>()?;
    let weighted;
    let q = if bm25 {
        weighted = bm25_weighted(v, &lists, key, q);
        &weighted
    } else {
        q
    };
    let mut top = TopK::new(limit);
    for (src, lists) in lists.iter().enumerate() {
        let total = v.source_len(src);
        let rows = &allowed[src];
        let postings: usize = match lists {
            Lists::Seg(l) => l.iter().flatten().map(|t| t.list.rows.len()).sum(),
            Lists::Mem(l) => l.iter().flatten().map(|t| t.0.len()).sum(),
            Lists::Scan => usize::MAX,
        };
        if postings == 0 {
            continue;
        }
        let few =
            matches!(rows, RowSet::Rows(r) if r.len().saturating_mul(SCAN_ROW_COST) < postings);
        if few || matches!(lists, Lists::Scan) {
            for row in rows.iter(total) {
                let loc = (src, row);
                if let Some(MetadataValue::SparseVector(d)) =
                    v.metadata(loc).and_then(|m| m.get(key))
                {
                    if let Some(p) = dot(q, d) {
                        top.offer(1.0 - p, v.order(loc), loc);
                    }
                }
            }
            continue;
        }
        let cursors = cursors(lists, q);
        let admits = rows.admits(total);
        top.max_score(
            cursors,
            |r| (r as usize) < total && admits.get(r),
            |r| v.order((src, r)),
            |r| (src, r),
        );
    }
    Ok(top.into_sorted())
}

/// Source `src`'s lists for `terms` under `key`.
fn lists<'a>(v: &'a Version, src: usize, key: &str, terms: &[u32]) -> Result<Lists<'a>> {
    Ok(match v.source(src) {
        Source::Mem(m) => Lists::Mem(m.mem.sparse_lists(key, terms, m.len)),
        Source::Seg(s) => match s.seg.sparse_lists(key, terms)? {
            Some(l) => Lists::Seg(l),
            None => Lists::Scan,
        },
    })
}

/// A cursor per query term that has a list, weighted by `q`.
fn cursors<'a>(lists: &'a Lists<'_>, q: &SparseVector) -> Vec<Cursor<'a>> {
    let cursor = |qpos: usize, list: PostingList<'a>, max: f32, min: f32| Cursor {
        list,
        qpos,
        q: q.values[qpos],
        max,
        min,
    };
    match lists {
        Lists::Seg(l) => l
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.map(|t| cursor(i, t.list, t.max, t.min)))
            .collect(),
        Lists::Mem(l) => l
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                let (rows, weights) = t.as_ref()?;
                let max = weights.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let min = weights.iter().copied().fold(f32::INFINITY, f32::min);
                Some(cursor(i, PostingList { rows, weights }, max, min))
            })
            .collect(),
        Lists::Scan => Vec::new(),
    }
}

/// `q` with each weight scaled by BM25's IDF,
/// `ln(1 + (N - n_t + 0.5) / (n_t + 0.5))`: `N` the live records of the
/// version (unfiltered, with the key or not), `n_t` those whose sparse
/// vector under `key` holds dimension `t`.
fn bm25_weighted(v: &Version, lists: &[Lists<'_>], key: &str, q: &SparseVector) -> SparseVector {
    let mut n_t = vec![0u64; q.indices.len()];
    for (src, lists) in lists.iter().enumerate() {
        match (v.source(src), lists) {
            (Source::Seg(s), Lists::Seg(l)) => {
                for (i, t) in l.iter().enumerate() {
                    let Some(t) = t else { continue };
                    n_t[i] += if s.mask.ones() == 0 {
                        t.list.rows.len() as u64
                    } else {
                        t.list
                            .rows
                            .iter()
                            .filter(|&&r| !s.mask.get(r as usize))
                            .count() as u64
                    };
                }
            }
            (Source::Mem(m), Lists::Mem(l)) => {
                for (i, t) in l.iter().enumerate() {
                    let Some((rows, _)) = t else { continue };
                    n_t[i] += rows
                        .iter()
                        .filter(|&&r| m.entry(r as usize).is_some_and(|e| e.current_at(v.seq)))
                        .count() as u64;
                }
            }
            (_, _) => {
                let total = v.source_len(src);
                for row in v.visible(src).iter(total) {
                    let Some(MetadataValue::SparseVector(d)) =
                        v.metadata((src, row)).and_then(|m| m.get(key))
                    else {
                        continue;
                    };
                    for (i, t) in q.indices.iter().enumerate() {
                        if d.indices.binary_search(t).is_ok() {
                            n_t[i] += 1;
                        }
                    }
                }
            }
        }
    }
    let n = v.count() as f32;
    let values = q
        .values
        .iter()
        .zip(&n_t)
        .map(|(w, &nt)| {
            let nt = (nt as f32).min(n);
            w * (1.0 + (n - nt + 0.5) / (nt + 0.5)).ln()
        })
        .collect();
    SparseVector {
        indices: q.indices.clone(),
        values,
        tokens: q.tokens.clone(),
    }
}
