//! Memtable → segment. A flush freezes the active memtable and rotates the
//! WAL (a short swap under the writer lock), writes the segment without
//! any lock, publishes it by rewriting the manifest (the commit point),
//! swaps it into the next version, and deletes the WAL generations the
//! segment now covers.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use super::core::Core;
use super::version::SegView;
use crate::error::Result;
use crate::journal::Op;
use crate::journal::{self, WalFile};
use crate::segment;

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
        let mut records = Vec::new();
        let mut tombstones = Vec::new();
        for e in frozen.view.current(frozen.last_seq) {
            match &e.op {
                Op::Put(r) => records.push(r),
                Op::Delete(id) if has_older => tombstones.push(id.as_str()),
                Op::Delete(_) => {}
            }
        }
        let rows = records.len();
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
            )?;
            Some(SegView::new(Arc::new(s))?)
        };
        let mut next_manifest = manifest.clone();
        let old_wal_start = next_manifest.wal_start;
        if let Some(s) = &seg {
            next_manifest.segments.push(s.seg.file_no);
        }
        next_manifest.wal_start = frozen.next_wal;
        next_manifest.last_seq = frozen.last_seq;
        next_manifest.dimension = v.dimension.map(|d| d as u64);
        next_manifest.next_file_no = core.next_file_no();
        next_manifest.store(&*core.fs, &core.dir)?;
        *manifest = next_manifest;
        let bytes = seg.as_ref().map_or(0, |s| s.seg.file_len());
        {
            let w = core.writer.lock();
            let next = core.version().flushed(seg.clone());
            core.publish(&w, next);
        }
        if let Some(s) = &seg {
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
