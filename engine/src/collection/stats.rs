//! Gauges of one open collection's storage, for `/metrics` and tools: how
//! much background work is outstanding and how much of the disk is live.

use std::sync::atomic::Ordering;

use super::core::Core;
use super::version::Source;

/// A snapshot of one open collection's storage gauges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectionStats {
    /// Segment files in the current version.
    pub segments: usize,
    /// Live records.
    pub records: usize,
    /// Live records no graph indexes yet: the memtables' and those of
    /// segments whose graph is still pending (every query scans them).
    pub unindexed_rows: usize,
    /// Graph builds and loads queued or running.
    pub pending_builds: u64,
    /// Bytes of every file in the collection's directory (segments, their
    /// graphs, WAL generations, manifest).
    pub disk_bytes: u64,
    /// The part of the segment and graph bytes that holds live rows
    /// (each file's size times its live share), plus the WAL bytes not yet
    /// flushed: what a fully compacted collection would keep.
    pub live_bytes: u64,
    /// Postings in the segments' sparse indexes.
    pub sparse_postings: u64,
    /// Bytes of the segments' sparse sections (directories included).
    pub sparse_bytes: u64,
}

/// Computes the gauges of `core` (lists its directory).
pub(crate) fn stats(core: &Core) -> CollectionStats {
    let v = core.version();
    let mut out = CollectionStats {
        segments: v.segments.len(),
        records: v.count(),
        pending_builds: core.graphs.pending.load(Ordering::SeqCst),
        ..Default::default()
    };
    for src in 0..v.source_count() {
        if let Source::Mem(m) = v.source(src) {
            out.unindexed_rows += m.live_slots(v.seq).count();
        }
    }
    let mut segment_files: u64 = 0;
    for s in &v.segments {
        let rows = s.seg.rows();
        let live = rows - s.mask.ones();
        let graph =
            std::fs::metadata(crate::graphs::path(&core.dir, s.seg.file_no)).map_or(0, |m| m.len());
        let bytes = s.seg.file_len() + graph;
        if let Ok((postings, sparse)) = s.seg.sparse_size() {
            out.sparse_postings += postings;
            out.sparse_bytes += sparse;
        }
        segment_files += bytes;
        if rows > 0 {
            out.live_bytes += (bytes as u128 * live as u128 / rows as u128) as u64;
        }
        if crate::graphs::wants_graph(&s.seg) && s.seg.graph().is_none() {
            out.unindexed_rows += live;
        }
    }
    if let Ok(rd) = std::fs::read_dir(&core.dir) {
        out.disk_bytes = rd
            .filter_map(|e| e.ok()?.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum();
    }
    // WAL generations and the manifest count as live.
    out.live_bytes += out.disk_bytes.saturating_sub(segment_files);
    out
}
