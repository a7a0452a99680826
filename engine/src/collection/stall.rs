//! [`WriteStall`]: when a collection's writers wait for its background
//! work (`Core::wait_for_background` applies it).

use std::time::Duration;

/// When writers wait for background work to catch up (a write stall, as
/// LSM stores have): a collection whose flushes, graph builds or merges
/// fall behind its writes would otherwise grow without bound — in memory
/// (frozen memtables), in what every query scans exactly (segments
/// without a graph) and in segments — while each write is acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteStall {
    /// Also stall while segments awaiting their graph hold more live rows
    /// than this (queries scan them exactly). Off by default: measured
    /// with 32,768 (docs/benchmarks.md, issue 11) it kept queries beside
    /// upserts faster but held bulk ingest to the graph builder's pace
    /// (3.5k instead of 34k vectors/s).
    pub max_unindexed_rows: Option<usize>,
    /// Stall while the collection has this many segments or more.
    pub max_segments: usize,
    /// Stall while this many memtables are frozen but not yet flushed (or
    /// while the active one holds four times the flush threshold).
    pub max_frozen: usize,
    /// Never hold one write longer than this (it then goes ahead; well
    /// under clients' request timeouts).
    pub max_wait: Duration,
}

impl Default for WriteStall {
    fn default() -> Self {
        WriteStall {
            max_unindexed_rows: None,
            max_segments: 24,
            max_frozen: 2,
            max_wait: Duration::from_secs(5),
        }
    }
}
