//! Memtable → segment. A flush freezes the active memtable and rotates the
//! WAL (a short swap under the writer lock), writes the segment without
//! any lock, publishes it by rewriting the manifest (the commit point),
//! swaps it into the next version, and deletes the WAL generations the
//! segment now covers.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use super::core::Core;
use super::version::{SegView, Version};
use crate::error::Result;
use crate::index::SegmentGraph;
use crate::journal::Op;
use crate::journal::{self, WalFile};
use crate::memtable::Memtable;
use crate::segment;
use crate::types::HnswConfig;

/// Flushes the active memtable (and any frozen ones left by a failed
/// earlier flush) into segments.
pub(crate) fn flush(core: &Core) -> Result<()> {
    let mut manifest = core.maintenance.lock();
    if core.dropped.load(Ordering::SeqCst) {
        return Ok(());
    }
    if !core.version().active.is_empty() {
        // Create the next WAL generation without holding the writer lock
        // (it fsyncs), then swap it in together with the memtable.
        let no = core.alloc_file_no();
        let new_wal = Arc::new(WalFile::create(&*core.fs, &core.dir, no)?);
        let mut w = core.writer.lock();
        w.wal = new_wal;
        let next = core.version().freeze(no);
        core.publish(&w, next);
    }
    loop {
        let v = core.version();
        let Some(frozen) = v.frozen.first().cloned() else {
            break;
        };
        let started = Instant::now();
        let has_older = !v.segments.is_empty();
        let mut puts = Vec::new();
        let mut tombstones = Vec::new();
        for (slot, e) in frozen.view.current_slots(frozen.last_seq) {
            match &e.op {
                Op::Put(r) => puts.push((slot as u32, r)),
                Op::Delete(id) if has_older => tombstones.push(id.as_str()),
                Op::Delete(_) => {}
            }
        }
        // The segment's row order (the writer sorts by order key too; the
        // sort is stable, so both agree).
        puts.sort_by_key(|(_, r)| r.order);
        // When the memtable's graph will become the segment's, every
        // write's rows are linked into it first.
        let keep_graph = graph_fits(&frozen.view.mem, &v.config.hnsw, puts.len());
        if keep_graph {
            frozen.view.mem.link_all();
        }
        let slots: Vec<u32> = puts.iter().map(|&(s, _)| s).collect();
        let records: Vec<_> = puts.into_iter().map(|(_, r)| r).collect();
        let rows = records.len();
        let mut handed_over = false;
        let seg = if records.is_empty() && tombstones.is_empty() {
            None
        } else {
            let no = core.alloc_file_no();
            let s = segment::writer::write(
                &*core.fs,
                &core.dir,
                no,
                v.dimension.unwrap_or(0),
                records,
                tombstones,
                &v.schema.sparse_index_keys(),
            )?;
            let view = SegView::new(Arc::new(s))?;
            handed_over = keep_graph && hand_over_graph(core, &v, &frozen.view.mem, &view, &slots);
            Some(view)
        };
        let mut next_manifest = manifest.clone();
        let old_wal_start = next_manifest.wal_start;
        if let Some(s) = &seg {
            next_manifest.segments.push(s.seg.file_no);
        }
        next_manifest.wal_start = frozen.next_wal;
        next_manifest.last_seq = frozen.last_seq;
        next_manifest.dimension = v.dimension.map(|d| d as u64);
        next_manifest.schema_keys = v.schema.key_types();
        next_manifest.next_file_no = core.next_file_no();
        next_manifest.store(&*core.fs, &core.dir)?;
        *manifest = next_manifest;
        let bytes = seg.as_ref().map_or(0, |s| s.seg.file_len());
        {
            let w = core.writer.lock();
            let next = core.version().flushed(seg.clone());
            core.publish(&w, next);
        }
        if let Some(s) = seg.as_ref().filter(|_| !handed_over) {
            core.graphs.request_build(&s.seg, &v.config.hnsw);
        }
        for no in old_wal_start..frozen.next_wal {
            crate::fs::remove_file(&*core.fs, &journal::path(&core.dir, no))?;
        }
        tracing::info!(
            collection = %core.id,
            rows,
            bytes,
            seconds = started.elapsed().as_secs_f64(),
            "flushed a memtable into a segment"
        );
    }
    Ok(())
}

/// Gives the segment `view` (written from `mem`, whose graph
/// [`graph_fits`] it, its row `i` from slot `slots[i]`) the graph `mem`
/// grew, saved and published before the segment is; false when it gets
/// none that way (a segment that wants no graph, or an error, logged) and
/// must be queued for a build.
fn hand_over_graph(
    core: &Core,
    v: &Version,
    mem: &Memtable,
    view: &SegView,
    slots: &[u32],
) -> bool {
    let seg = &view.seg;
    let cfg = &v.config.hnsw;
    let Some((grown, metric)) = mem.graph() else {
        return false;
    };
    if !crate::graphs::wants_graph(seg) {
        return false;
    }
    let started = Instant::now();
    let outcome = seg.vectors().and_then(|vectors| {
        let g =
            SegmentGraph::from_grown(vectors, seg.dim(), cfg.space, cfg, grown, &metric, slots)?;
        crate::graphs::adopt(seg, &core.graphs, g, started)
    });
    match outcome {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(segment = %seg.path.display(), "could not keep the memtable's graph; building one: {e}");
            false
        }
    }
}

/// Whether `mem`'s graph can become the graph of a segment of `rows` rows
/// for a collection configured with `cfg`: it has one, of the configured
/// degree, and the segment is large enough to want a graph.
fn graph_fits(mem: &Memtable, cfg: &HnswConfig, rows: usize) -> bool {
    rows > crate::index::EXACT_MAX_ROWS
        && mem
            .graph()
            .is_some_and(|(g, _)| g.m() == crate::index::degree(cfg))
}

/// Records the dimension a collection's first write fixed in its manifest
/// (the one durable record of it besides the WAL, which recovery also
/// reads). Best effort: a failure is logged, and the next flush writes it.
pub(crate) fn record_dimension(core: &Core, dim: usize) {
    let mut manifest = core.maintenance.lock();
    if manifest.dimension.is_some() || core.dropped.load(Ordering::SeqCst) {
        return;
    }
    let mut next = manifest.clone();
    next.dimension = Some(dim as u64);
    next.next_file_no = next.next_file_no.max(core.next_file_no());
    match next.store(&*core.fs, &core.dir) {
        Ok(()) => *manifest = next,
        Err(e) => {
            tracing::warn!(collection = %core.id, "could not record the dimension in the manifest: {e}")
        }
    }
}

/// Milliseconds on a process-wide monotonic clock (for "last write" times).
pub(crate) fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// A background flush: errors are logged (the data stays safe in the WAL
/// and the next attempt retries).
pub(crate) fn flush_logged(core: &Core) {
    if let Err(e) = flush(core) {
        tracing::error!(collection = %core.id, "background flush failed: {e}");
    }
}

/// A background compaction by the collection's policy, errors logged.
pub(crate) fn compact(core: &Core) {
    if let Err(e) = crate::collection::compaction::merge::compact_by_policy(core, &core.policy) {
        tracing::error!(collection = %core.id, "background compaction failed: {e}");
    }
}

/// Flush, then compact while the policy asks for it (inline, for stores
/// opened without background work).
pub(crate) fn maintain(core: &Core) {
    match flush(core) {
        Ok(()) => compact(core),
        Err(e) => tracing::error!(collection = %core.id, "flush failed: {e}"),
    }
}
