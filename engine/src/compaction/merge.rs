//! The compaction executor: merges a run of adjacent segments into one new
//! segment (newest version of each id wins; tombstones dropped when the run
//! starts at the oldest segment), publishes it in the manifest, swaps it in
//! and deletes the old files. Readers holding the old segments keep their
//! mappings until they finish.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use super::{choose, choose_vacuum, Choice, Policy};
use crate::error::Result;
use crate::record::StoredRecord;
use crate::segment;
use crate::state::Core;

fn merge_locked(core: &Core, range: Range<usize>) -> Result<()> {
    if core.dropped.load(std::sync::atomic::Ordering::SeqCst) {
        return Ok(());
    }
    let (segs, seg_no, dim, mut manifest) = {
        let mut st = core.state.write();
        if range.end > st.segments.len() || range.is_empty() {
            return Ok(());
        }
        let segs: Vec<Arc<segment::Segment>> = st.segments[range.clone()].to_vec();
        let no = st.alloc_file_no();
        (segs, no, st.dimension, st.manifest.clone())
    };
    let drop_tombstones = range.start == 0;
    let mut seen: HashSet<&str> = HashSet::new();
    let mut records: Vec<StoredRecord> = Vec::new();
    let mut tombstones: Vec<&str> = Vec::new();
    for seg in segs.iter().rev() {
        let loaded = seg.loaded()?;
        let column = if seg.rows() > 0 {
            seg.vectors()?
        } else {
            &[][..]
        };
        let d = seg.dim();
        for t in &loaded.recs.tombstones {
            if seen.insert(t) && !drop_tombstones {
                tombstones.push(t);
            }
        }
        let r = &loaded.recs;
        for row in 0..r.ids.len() {
            if seen.insert(&r.ids[row]) {
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
    let new_seg = if records.is_empty() && tombstones.is_empty() {
        None
    } else {
        Some(Arc::new(segment::writer::write(
            &core.dir,
            seg_no,
            dim.unwrap_or(0),
            records.iter().collect(),
            tombstones,
        )?))
    };
    // The merged copies are on disk now; free them before the graph build
    // (which hands freed memory back to the OS when it ends).
    drop(records);
    if let Some(seg) = new_seg.as_ref().filter(|s| crate::graphs::wants_graph(s)) {
        // Index the merged segment before it replaces the old ones, which
        // keep serving (with their graphs) meanwhile.
        let cancel =
            || core.dropped.load(std::sync::atomic::Ordering::SeqCst) || core.graphs.should_stop();
        if let Err(e) = crate::graphs::build_now(seg, &core.graphs, &cancel) {
            tracing::error!(segment = %seg.path.display(), "graph build of a merged segment failed; it is retried in the background: {e}");
        }
    }
    let old: Vec<u64> = segs.iter().map(|s| s.file_no).collect();
    let mut list: Vec<u64> = manifest.segments[..range.start].to_vec();
    list.extend(new_seg.iter().map(|s| s.file_no));
    list.extend_from_slice(&manifest.segments[range.end..]);
    manifest.segments = list;
    manifest.next_file_no = core.state.read().next_file_no;
    manifest.store(&core.dir)?;
    {
        let mut st = core.state.write();
        let mut next: Vec<Arc<segment::Segment>> = st.segments[..range.start].to_vec();
        if let Some(s) = new_seg.as_ref().filter(|s| s.graph().is_none()) {
            core.graphs.request_build(s);
        }
        next.extend(new_seg);
        next.extend_from_slice(&st.segments[range.end..]);
        st.segments = next;
        st.manifest = manifest;
    }
    for no in old {
        crate::fs::remove_file(&segment::path(&core.dir, no))?;
        crate::fs::remove_file(&crate::graphs::path(&core.dir, no))?;
    }
    Ok(())
}

/// Per segment (oldest first): its rows, and how many of them a newer
/// segment overrides (a newer version or a tombstone of the same id).
fn dead_rows(segs: &[Arc<segment::Segment>]) -> Result<Vec<(usize, usize)>> {
    let loaded = segs
        .iter()
        .map(|s| s.loaded())
        .collect::<Result<Vec<_>>>()?;
    Ok(crate::shadow::segment_masks(&loaded)
        .iter()
        .zip(&loaded)
        .map(|(mask, l)| (l.recs.ids.len(), mask.ones()))
        .collect())
}

/// Runs the size policy until it has nothing more to merge, then vacuums
/// segments whose dead share passed the policy's percentage.
pub(crate) fn compact_by_policy(core: &Core, policy: &Policy) -> Result<()> {
    let _guard = core.flush_lock.lock();
    loop {
        let segs = core.state.read().segments.clone();
        let sizes: Vec<u64> = segs.iter().map(|s| s.file_len()).collect();
        let choice = match choose(&sizes, policy) {
            Choice::DoNothing => choose_vacuum(&dead_rows(&segs)?, policy.vacuum_percent),
            merge => merge,
        };
        match choice {
            Choice::DoNothing => return Ok(()),
            Choice::Merge(r) => merge_locked(core, r)?,
        }
    }
}

/// Merges every segment into one (dropping all tombstones).
pub(crate) fn compact_all(core: &Core) -> Result<()> {
    let _guard = core.flush_lock.lock();
    let n = core.state.read().segments.len();
    let worth = n >= 2
        || core
            .state
            .read()
            .segments
            .first()
            .is_some_and(|s| s.loaded().is_ok_and(|l| !l.recs.tombstones.is_empty()));
    if worth {
        merge_locked(core, 0..n)?;
    }
    Ok(())
}
