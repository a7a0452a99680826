//! [`Options`]: how a store is opened (memtable size, background work,
//! compaction policy, write stall, file system).

use std::sync::Arc;

use crate::collection::compaction::Policy;
use crate::collection::stall::WriteStall;
use crate::fs::Fs;
use crate::worker::IdleFlush;

/// Tuning knobs for [`Db::open_with`]; [`Options::default`] suits a server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Flush a collection's memtable to a segment once it holds about this
    /// many bytes (default 16 MiB: about 10,000 384-d records). Queries scan
    /// the memtable exactly, so it is kept small.
    pub memtable_bytes: usize,
    /// Flush and compact on a background thread (default). When false, a
    /// write that crosses the threshold flushes before it returns.
    pub background: bool,
    /// When to merge segments.
    pub compaction: Policy,
    /// With `background`, also flush a memtable that has had no write for
    /// a while (default: 1 s, at least 1 MiB); `None` turns it off.
    pub idle_flush: Option<IdleFlush>,
    /// With `background`, when writes wait for flushes, graph builds and
    /// merges to catch up (default [`WriteStall::default`]); `None` never
    /// holds a write.
    pub write_stall: Option<WriteStall>,
    /// Index each memtable with an HNSW graph grown as writes arrive
    /// (`index/growing.rs`), which a flush hands to its segment (default
    /// off). Queries then walk a graph instead of scanning recent writes,
    /// and flushed segments are indexed when published; but every write
    /// waits until its rows are linked, so bulk ingest runs at the graph's
    /// insertion speed (about 9k 384-d vectors/s on 2 cores instead of
    /// 29–40k). Measured in docs/benchmarks.md (mixed load, issue 11).
    pub memtable_graph: bool,
    /// The file system every write goes through (default: the real one;
    /// tests pass a [`crate::fs::FaultyFs`]).
    pub fs: Arc<dyn Fs>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            memtable_bytes: 16 << 20,
            background: true,
            compaction: Policy::default(),
            idle_flush: Some(IdleFlush::default()),
            write_stall: Some(WriteStall::default()),
            memtable_graph: false,
            fs: crate::fs::os(),
        }
    }
}
