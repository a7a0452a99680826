//! The compaction executor: merges a run of adjacent segments into one new
//! segment (newest version of each id wins; tombstones dropped when the run
//! starts at the oldest segment), builds its graph keeping the largest
//! input's graph when three quarters of its rows survive (unless writes are quiet
//! and most old rows had none: then the background builder does,
//! afterwards), publishes it in the manifest, swaps it into the next
//! version and deletes the old files.
//!
//! One compaction runs at a time (`Core::compaction`). It reads, writes
//! and builds without the manifest lock, so flushes go on meanwhile; they
//! only ever append segments, so the merged run keeps its positions until
//! the commit, which holds the manifest lock and then, briefly, the
//! writer lock. Readers holding older versions keep their mappings of the
//! old files until they finish.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::{choose, choose_vacuum, Choice, Policy};
use crate::collection::core::Core;
use crate::collection::version::segment_masks;
use crate::collection::version::SegView;
use crate::error::{Error, Result};
use crate::index::SegmentGraph;
use crate::record::StoredRecord;
use crate::segment;

/// Merges the segments at `range` (caller holds `core.compaction`).
fn merge(core: &Core, range: Range<usize>) -> Result<()> {
    if core.dropped.load(Ordering::SeqCst) {
        return Ok(());
    }
    let started = Instant::now();
    let v = core.version();
    if range.end > v.segments.len() || range.is_empty() {
        return Ok(());
    }
    let segs: Vec<SegView> = v.segments[range.clone()].to_vec();
    let drop_tombstones = range.start == 0;
    let mut seen: HashSet<&str> = HashSet::new();
    let mut records: Vec<StoredRecord> = Vec::new();
    // Where each kept record came from: position in `range`, row.
    let mut origin: HashMap<&str, (usize, u32)> = HashMap::new();
    let mut tombstones: Vec<&str> = Vec::new();
    let input_bytes: u64 = segs.iter().map(|s| s.seg.file_len()).sum();
    for (i, s) in segs.iter().enumerate().rev() {
        let column = if s.seg.rows() > 0 {
            s.seg.vectors()?
        } else {
            &[][..]
        };
        let d = s.seg.dim();
        let r = &s.recs.recs;
        for t in &r.tombstones {
            if seen.insert(t) && !drop_tombstones {
                tombstones.push(t);
            }
        }
        for row in 0..r.ids.len() {
            if seen.insert(&r.ids[row]) {
                origin.insert(&r.ids[row], (i, row as u32));
                records.push(StoredRecord {
                    id: r.ids[row].clone(),
                    order: r.orders[row],
                    embedding: column[row * d..(row + 1) * d].to_vec(),
                    document: r.documents[row].clone(),
                    metadata: r.metadatas[row].clone(),
                    uri: r.uris[row].clone(),
                });
            }
        }
    }
    let rows = records.len();
    let merged = if records.is_empty() && tombstones.is_empty() {
        None
    } else {
        let no = core.alloc_file_no();
        let s = segment::writer::write(
            &*core.fs,
            &core.dir,
            no,
            v.dimension.unwrap_or(0),
            records.iter().collect(),
            tombstones,
            &v.schema.sparse_index_keys(),
        )?;
        Some(SegView::new(Arc::new(s))?)
    };
    // The merged copies are on disk now; free them before the graph build
    // (which hands freed memory back to the OS when it ends).
    drop(records);
    let origin_of_row: Vec<(usize, u32)> = match &merged {
        Some(m) => m
            .recs
            .recs
            .ids
            .iter()
            .map(|id| {
                origin
                    .get(id.as_str())
                    .copied()
                    .ok_or_else(|| Error::Internal(format!("merged id {id:?} has no origin")))
            })
            .collect::<Result<_>>()?,
        None => Vec::new(),
    };
    drop(origin);
    // Index the merged segment before it replaces the old ones, which keep
    // serving with their graphs meanwhile: a merge never slows queries down,
    // and while writes come in, merges pace them (the write stall counts
    // segments). One exception: when writes are quiet and most of the old
    // rows have no graph, in memory or on disk (a store reopened after a
    // crash), queries scan those anyway, so the merged segment, holding only
    // their live rows, replaces them at once and gets its graph in the
    // background: the dead rows' disk comes back in seconds rather than
    // after a build.
    let swap_first = core.writes_quiet() && mostly_unindexed(core, &segs);
    if let Some(m) = merged
        .as_ref()
        .filter(|m| !swap_first && crate::graphs::wants_graph(&m.seg))
    {
        let cancel = || core.dropped.load(Ordering::SeqCst) || core.graphs.should_stop();
        let base = kept_graph(&segs, &origin_of_row);
        let base = base.as_ref().map(|(g, new_of)| (*g, &new_of[..]));
        if let Err(e) =
            crate::graphs::build_now(&m.seg, &core.graphs, &v.config.hnsw, &cancel, base)
        {
            tracing::error!(segment = %m.seg.path.display(), "graph build of a merged segment failed; it is retried in the background: {e}");
        }
    }
    let old: Vec<u64> = segs.iter().map(|s| s.seg.file_no).collect();
    {
        let mut manifest = core.maintenance.lock();
        if core.dropped.load(Ordering::SeqCst) {
            return Ok(());
        }
        if manifest.segments.get(range.clone()) != Some(&old[..]) {
            return Err(Error::Internal(format!(
                "segments {old:?} moved while they were merged"
            )));
        }
        let mut next = manifest.clone();
        next.segments
            .splice(range.clone(), merged.iter().map(|m| m.seg.file_no));
        next.next_file_no = core.next_file_no();
        next.store(&*core.fs, &core.dir)?;
        *manifest = next;
        let w = core.writer.lock();
        let swapped = core
            .version()
            .compacted(range, merged.clone(), &origin_of_row);
        core.publish(&w, swapped);
    }
    if let Some(m) = merged.as_ref().filter(|m| m.seg.graph().is_none()) {
        core.graphs.request_build(&m.seg, &v.config.hnsw);
    }
    for no in &old {
        crate::fs::remove_file(&*core.fs, &segment::path(&core.dir, *no))?;
        crate::fs::remove_file(&*core.fs, &crate::graphs::path(&core.dir, *no))?;
    }
    tracing::info!(
        collection = %core.id,
        segments = old.len(),
        rows,
        input_bytes,
        output_bytes = merged.as_ref().map_or(0, |m| m.seg.file_len()),
        seconds = started.elapsed().as_secs_f64(),
        "merged segments"
    );
    Ok(())
}

/// The graph a merge keeps: that of the merged segment with the most rows
/// in the output, if it has one and at least three quarters of its rows
/// survive, with each old row's number in the output (`u32::MAX` if
/// dropped). Keeping it, only the other segments' rows are inserted. A
/// graph that lost more is rebuilt instead: measured on 100k × 384
/// (`benches/src/bin/seeded_merge.rs`), recall@10 at ef 100 stayed equal
/// to a full build's with 10% and 25% of the rows dropped, and fell to
/// 0.985 with 45%.
fn kept_graph<'a>(
    segs: &'a [SegView],
    origin_of_row: &[(usize, u32)],
) -> Option<(&'a SegmentGraph, Vec<u32>)> {
    let mut survivors = vec![0usize; segs.len()];
    for &(i, _) in origin_of_row {
        survivors[i] += 1;
    }
    let (best, &count) = survivors.iter().enumerate().max_by_key(|&(_, c)| *c)?;
    let s = &segs[best];
    let g = s.seg.graph()?;
    if count == 0 || count * 4 < s.seg.rows() * 3 {
        return None;
    }
    let mut new_of = vec![u32::MAX; s.seg.rows()];
    for (row, &(i, old)) in origin_of_row.iter().enumerate() {
        if i == best {
            new_of[old as usize] = row as u32;
        }
    }
    Some((g, new_of))
}

/// Whether most rows of `segs` belong to segments that want a graph and
/// have none: not published and no file to load (a graph still loading
/// at open, or queued after a flush, does not count).
fn mostly_unindexed(core: &Core, segs: &[SegView]) -> bool {
    let total: usize = segs.iter().map(|s| s.seg.rows()).sum();
    let unindexed: usize = segs
        .iter()
        .filter(|s| {
            crate::graphs::wants_graph(&s.seg)
                && s.seg.graph().is_none()
                && !crate::graphs::path(&core.dir, s.seg.file_no).exists()
        })
        .map(|s| s.seg.rows())
        .sum();
    unindexed * 2 > total
}

/// Per segment (oldest first): its rows, and how many of them a newer
/// segment overrides (a newer version or a tombstone of the same id).
fn dead_rows(segs: &[SegView]) -> Vec<(usize, usize)> {
    let loaded: Vec<_> = segs.iter().map(|s| &*s.recs).collect();
    segment_masks(&loaded)
        .iter()
        .zip(&loaded)
        .map(|(mask, l)| (l.recs.ids.len(), mask.ones()))
        .collect()
}

/// Runs the size policy until it has nothing more to merge, then vacuums
/// segments whose dead share passed the policy's percentage.
pub(crate) fn compact_by_policy(core: &Core, policy: &Policy) -> Result<()> {
    let _one = core.compaction.lock();
    loop {
        if core.dropped.load(Ordering::SeqCst) || core.graphs.should_stop() {
            return Ok(());
        }
        let v = core.version();
        let sizes: Vec<u64> = v.segments.iter().map(|s| s.seg.file_len()).collect();
        let choice = match choose(&sizes, policy) {
            Choice::DoNothing => choose_vacuum(&dead_rows(&v.segments), policy.vacuum_percent),
            merge => merge,
        };
        match choice {
            Choice::DoNothing => return Ok(()),
            Choice::Merge(r) => merge(core, r)?,
        }
    }
}

/// Merges every segment into one (dropping all tombstones).
pub(crate) fn compact_all(core: &Core) -> Result<()> {
    let _one = core.compaction.lock();
    let v = core.version();
    let n = v.segments.len();
    let worth = n >= 2
        || v.segments
            .first()
            .is_some_and(|s| !s.recs.recs.tombstones.is_empty());
    if worth {
        merge(core, 0..n)?;
    }
    Ok(())
}
