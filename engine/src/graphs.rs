//! The lifecycle of per-segment HNSW graphs: a background builder thread
//! (one per open store) loads, builds, saves and publishes each segment's
//! [`SegmentGraph`], entirely off the write and open paths.
//!
//! Rules (also in `docs/format.md`):
//! - A segment written by a flush gets the graph its memtable grew as the
//!   writes came in ([`adopt`]), before it is published; only when that
//!   graph does not fit (a small or reconfigured memtable) is it queued
//!   for a build. Either way the graph is saved
//!   next to it as `seg-N.graph` (atomic: temp file, fsync, rename,
//!   directory fsync; layout in `index/graph_file.rs`) and then published
//!   in the segment's slot. Until then the segment is searched exactly.
//! - A segment written by a compaction gets its graph ([`build_now`])
//!   before it replaces the merged ones (they keep serving with their
//!   graphs meanwhile: a merge never turns indexed rows into scanned ones);
//!   only when writes are quiet and most of their rows have no graph, in
//!   memory or on disk (a store reopened after a crash), does it replace
//!   them at once and is queued like a flushed segment.
//! - Opening a collection only queues a *load* per segment: an intact graph
//!   file is read as is and never rebuilt; a missing one is built; one that
//!   fails its checks is logged (naming the file) and rebuilt from the
//!   segment's vectors, which keep being searched exactly meanwhile.
//! - A graph file goes with its segment: compaction deletes both, and
//!   opening deletes graph files whose segment is not in the manifest.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::index::{SegmentGraph, EXACT_MAX_ROWS};
use crate::segment::Segment;
use crate::types::{HnswConfig, Space};

/// The graph file of segment `no` in `dir`.
pub(crate) fn path(dir: &Path, no: u64) -> PathBuf {
    dir.join(format!("seg-{no:020}.graph"))
}

/// Parses a graph file name back into its segment number.
pub(crate) fn parse_name(name: &str) -> Option<u64> {
    name.strip_prefix("seg-")?
        .strip_suffix(".graph")?
        .parse()
        .ok()
}

/// Whether `seg` gets a graph: a segment the planner would always scan
/// (no more than [`EXACT_MAX_ROWS`] rows) is not worth one.
pub(crate) fn wants_graph(seg: &Segment) -> bool {
    seg.dim() > 0 && seg.rows() > EXACT_MAX_ROWS
}

/// Counters of one collection's graph work (for tests and tools).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GraphStatus {
    /// Segments large enough to get a graph (more rows than
    /// [`crate::index::EXACT_MAX_ROWS`]; smaller ones are always scanned).
    pub segments: usize,
    /// Of those, segments whose graph is published (searched by HNSW).
    pub ready: usize,
    /// Graphs built since the collection was opened.
    pub builds: u64,
    /// Intact graph files loaded since the collection was opened.
    pub loads: u64,
    /// Graph files rejected by their checks since the collection was opened.
    pub rejected: u64,
}

/// Per-collection graph counters, shared with queued jobs.
pub(crate) struct GraphCtx {
    /// Graph files are written through it.
    pub(crate) fs: Arc<dyn crate::fs::Fs>,
    pub(crate) id: uuid::Uuid,
    pub(crate) space: Space,
    pub(crate) builds: AtomicU64,
    /// Jobs queued or running.
    pub(crate) pending: AtomicU64,
    pub(crate) loads: AtomicU64,
    pub(crate) rejected: AtomicU64,
    /// Set when the collection is deleted: queued and running work stops.
    pub(crate) closed: AtomicBool,
    /// The store's stop flag (set when it closes).
    stop: Arc<AtomicBool>,
    tx: mpsc::Sender<Job>,
}

impl GraphCtx {
    /// Whether graph work for this collection should stop: the collection
    /// was deleted or the store is closing.
    pub(crate) fn should_stop(&self) -> bool {
        self.closed.load(Ordering::SeqCst) || self.stop.load(Ordering::SeqCst)
    }

    /// Queues a build of `seg`'s graph (a freshly written segment) with
    /// the collection's current parameters `cfg`.
    pub(crate) fn request_build(self: &Arc<Self>, seg: &Arc<Segment>, cfg: &HnswConfig) {
        self.send(seg, cfg, false);
    }

    /// Queues a load of `seg`'s graph file (a build if missing or bad).
    pub(crate) fn request_load(self: &Arc<Self>, seg: &Arc<Segment>, cfg: &HnswConfig) {
        self.send(seg, cfg, true);
    }

    fn send(self: &Arc<Self>, seg: &Arc<Segment>, cfg: &HnswConfig, load_first: bool) {
        if !wants_graph(seg) {
            return;
        }
        let job = Job {
            seg: Arc::downgrade(seg),
            ctx: Arc::downgrade(self),
            cfg: cfg.clone(),
            load_first,
        };
        self.pending.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(job).is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!(segment = %seg.path.display(), "graph builder is gone; segment stays exact");
        }
    }
}

struct Job {
    seg: Weak<Segment>,
    ctx: Weak<GraphCtx>,
    cfg: HnswConfig,
    load_first: bool,
}

/// The background builder thread of a store.
pub(crate) struct GraphBuilder {
    tx: mpsc::Sender<Job>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl GraphBuilder {
    /// Starts the thread.
    pub(crate) fn start() -> GraphBuilder {
        let (tx, rx) = mpsc::channel::<Job>();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = std::thread::Builder::new()
            .name("chromite-graphs".into())
            .spawn(move || {
                crate::os::lower_thread_priority();
                loop {
                    if stop2.load(Ordering::SeqCst) {
                        return;
                    }
                    match rx.recv_timeout(Duration::from_millis(50)) {
                        Ok(job) => run(job, &stop2),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            });
        let handle = match handle {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::error!(
                    "could not start the graph builder thread ({e}); segments are searched exactly"
                );
                None
            }
        };
        GraphBuilder { tx, stop, handle }
    }

    /// The handle collections are given to queue work on this builder.
    pub(crate) fn queue(&self) -> GraphQueue {
        GraphQueue {
            tx: self.tx.clone(),
            stop: self.stop.clone(),
        }
    }
}

/// Queues work on a store's [`GraphBuilder`] (it keeps neither the thread
/// nor the store alive).
#[derive(Clone)]
pub(crate) struct GraphQueue {
    tx: mpsc::Sender<Job>,
    stop: Arc<AtomicBool>,
}

impl GraphQueue {
    /// A collection's context, feeding the builder.
    pub(crate) fn ctx(
        &self,
        id: uuid::Uuid,
        space: Space,
        fs: Arc<dyn crate::fs::Fs>,
    ) -> Arc<GraphCtx> {
        Arc::new(GraphCtx {
            fs,
            id,
            space,
            builds: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            loads: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            stop: self.stop.clone(),
            tx: self.tx.clone(),
        })
    }
}

impl Drop for GraphBuilder {
    fn drop(&mut self) {
        // Pending jobs are abandoned: a segment without a graph file gets
        // one built the next time its collection is opened.
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn run(job: Job, stop: &AtomicBool) {
    let Some(ctx) = job.ctx.upgrade() else {
        return; // collection closed
    };
    let _done = Pending(&ctx);
    let Some(seg) = job.seg.upgrade() else {
        return; // segment compacted away
    };
    if seg.graph().is_some() || stop.load(Ordering::SeqCst) || ctx.closed.load(Ordering::SeqCst) {
        return;
    }
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        load_or_build(&seg, &ctx, &job.cfg, job.load_first, stop)
    }));
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::error!(segment = %seg.path.display(), "graph build failed; segment stays exact: {e}")
        }
        Err(_) => {
            PANICS.fetch_add(1, Ordering::Relaxed);
            tracing::error!(segment = %seg.path.display(), "graph build panicked; segment stays exact, the builder carries on");
        }
    }
}

/// Graph jobs that panicked in this process (exported in `/metrics`).
pub(crate) static PANICS: AtomicU64 = AtomicU64::new(0);

/// Counts a job as done when dropped.
struct Pending<'a>(&'a GraphCtx);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

fn load_or_build(
    seg: &Arc<Segment>,
    ctx: &GraphCtx,
    cfg: &HnswConfig,
    load_first: bool,
    stop: &AtomicBool,
) -> Result<()> {
    let gpath = path(seg.path.parent().unwrap_or(Path::new(".")), seg.file_no);
    if load_first {
        match SegmentGraph::load(&gpath, seg.vectors()?, seg.dim(), ctx.space) {
            Ok(g) => {
                ctx.loads.fetch_add(1, Ordering::SeqCst);
                // Loading read every row; searches need far fewer.
                seg.release_vector_pages();
                seg.publish_graph(g);
                return Ok(());
            }
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                if matches!(e, Error::Corrupted { .. }) {
                    ctx.rejected.fetch_add(1, Ordering::SeqCst);
                }
                tracing::warn!(file = %gpath.display(), "graph file rejected, rebuilding it in the background (segment searched exactly meanwhile): {e}");
            }
        }
    }
    // Give up when the store closes or the segment is compacted away (the
    // builder's job then holds the only reference to it).
    let cancel = || {
        stop.load(Ordering::SeqCst)
            || ctx.closed.load(Ordering::SeqCst)
            || Arc::strong_count(seg) <= 1
    };
    build_now(seg, ctx, cfg, &cancel, None)
}

/// Builds `seg`'s graph, saves it next to the segment and publishes it,
/// unless `cancel` answers true first. Used by the background builder and,
/// for merged segments, by compaction before it swaps the segment in,
/// which passes the graph of one merged segment to keep (`base`, with
/// each of its rows' new number: see [`SegmentGraph::build_seeded`]).
pub(crate) fn build_now(
    seg: &Segment,
    ctx: &GraphCtx,
    cfg: &HnswConfig,
    cancel: &(dyn Fn() -> bool + Sync),
    base: Option<(&SegmentGraph, &[u32])>,
) -> Result<()> {
    let vectors = seg.vectors()?;
    let started = std::time::Instant::now();
    let built = match base {
        Some((g, new_of)) => {
            SegmentGraph::build_seeded(vectors, seg.dim(), ctx.space, cfg, g, new_of, cancel)
        }
        None => SegmentGraph::build_unless(vectors, seg.dim(), ctx.space, cfg, cancel),
    };
    // hnsw_rs's working copy is gone now, whatever the outcome, and the
    // build read every row.
    crate::os::release_free_memory();
    seg.release_vector_pages();
    let Some(g) = built? else {
        return Ok(());
    };
    // The segment may have been compacted away (or its collection
    // deleted) while we built.
    if cancel() || !crate::fs::exists(&seg.path)? {
        return Ok(());
    }
    let what = match base {
        Some(_) => "built a merged segment's graph from one input's",
        None => "built a segment's graph",
    };
    save_and_publish(seg, ctx, g, started, what)
}

/// Gives a freshly flushed `seg` the graph its memtable grew (see
/// [`SegmentGraph::from_grown`]): saved next to it, counted as a build and
/// published before the segment is, so its rows are never scanned.
pub(crate) fn adopt(
    seg: &Segment,
    ctx: &GraphCtx,
    g: SegmentGraph,
    started: std::time::Instant,
) -> Result<()> {
    save_and_publish(
        seg,
        ctx,
        g,
        started,
        "kept a memtable's graph for its segment",
    )
}

/// Saves `g` as `seg`'s graph file, counts and logs it, and publishes it.
fn save_and_publish(
    seg: &Segment,
    ctx: &GraphCtx,
    g: SegmentGraph,
    started: std::time::Instant,
    what: &'static str,
) -> Result<()> {
    let gpath = path(seg.path.parent().unwrap_or(Path::new(".")), seg.file_no);
    g.save_with(&*ctx.fs, &gpath)?;
    ctx.builds.fetch_add(1, Ordering::SeqCst);
    tracing::info!(
        collection = %ctx.id,
        segment = %seg.path.display(),
        rows = seg.rows(),
        bytes = g.memory_bytes(),
        seconds = started.elapsed().as_secs_f64(),
        "{what}"
    );
    seg.publish_graph(g);
    Ok(())
}
