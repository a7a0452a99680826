//! One open collection's storage: its directory, the published
//! [`Version`], the writer side (WAL generation, writer lock), and the
//! recovery that rebuilds the first version from the directory.
//!
//! Concurrency:
//! - Readers call [`Core::version`] (an atomic load of an `Arc`) and hold
//!   no lock while they read or search.
//! - Writers hold `writer` while they resolve a batch against the current
//!   version, append it to the WAL (no fsync), apply it and publish the
//!   next version; the fsync happens after the lock is released, shared
//!   between writers (group commit).
//! - Flushes and compactions (the manifest writers) hold `maintenance`;
//!   they do their I/O without the writer lock and take it only for the
//!   short swap that publishes their result.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use uuid::Uuid;

use super::version::{SegView, Version};
use crate::catalog::manifest::Manifest;
use crate::error::{Error, Result};
use crate::fs::Fs;
use crate::graphs::GraphCtx;
use crate::journal::{self, WalFile};
use crate::memtable::MemView;
use crate::schema::Schema;
use crate::segment::{self, Segment};
use crate::types::Space;

/// What a collection tells the store's background worker.
#[derive(Clone)]
pub(crate) enum Event {
    /// A write was applied.
    Wrote(std::sync::Weak<Core>),
    /// The collection was opened.
    Opened(std::sync::Weak<Core>),
    /// The store is closing: the maintenance worker ends (even while a
    /// collection handle outlives the store and holds a sender).
    Stop,
}

/// The writer side, behind the writer lock.
pub(crate) struct Writer {
    /// The WAL generation being appended to.
    pub(crate) wal: Arc<WalFile>,
}

/// One open collection's storage.
pub(crate) struct Core {
    /// Every write goes through it.
    pub(crate) fs: Arc<dyn Fs>,
    pub(crate) id: Uuid,
    pub(crate) dir: PathBuf,
    pub(crate) space: Space,
    current: ArcSwap<Version>,
    pub(crate) writer: Mutex<Writer>,
    /// Serialises flushes and compactions (the manifest writers), and
    /// owns the published manifest.
    pub(crate) maintenance: Mutex<Manifest>,
    next_file_no: AtomicU64,
    pub(crate) poisoned: AtomicBool,
    pub(crate) dropped: AtomicBool,
    /// Set while a background compaction request is queued.
    pub(crate) compaction_queued: AtomicBool,
    /// One compaction at a time (it holds `maintenance` only to commit).
    pub(crate) compaction: Mutex<()>,
    pub(crate) memtable_limit: usize,
    /// When to merge segments.
    pub(crate) policy: crate::collection::compaction::Policy,
    /// When writers wait for background work (`None`: never).
    pub(crate) stall: Option<crate::collection::stall::WriteStall>,
    /// When the last write was applied ([`super::flush::now_ms`]).
    pub(crate) last_write_ms: AtomicU64,
    /// Graph counters and the builder's queue.
    pub(crate) graphs: Arc<GraphCtx>,
    /// Where the collection reports to its store.
    pub(crate) events: Option<std::sync::mpsc::Sender<Event>>,
}

/// What opening a collection takes from its store.
pub(crate) struct OpenArgs {
    /// The file system every write goes through.
    pub(crate) fs: Arc<dyn Fs>,
    pub(crate) id: Uuid,
    /// The collection's directory.
    pub(crate) dir: PathBuf,
    /// The catalog's schema (the manifest adds the keys records brought).
    pub(crate) schema: Schema,
    /// Flush threshold of the memtable, in bytes.
    pub(crate) memtable_limit: usize,
    /// Whether memtables grow a graph ([`crate::Options::memtable_graph`]).
    pub(crate) memtable_graph: bool,
    pub(crate) policy: crate::collection::compaction::Policy,
    /// `None`: writes never wait for background work.
    pub(crate) stall: Option<crate::collection::stall::WriteStall>,
    /// Graph counters and the builder's queue.
    pub(crate) graphs: Arc<GraphCtx>,
    /// Where the collection reports to its store (`None`: no worker).
    pub(crate) events: Option<std::sync::mpsc::Sender<Event>>,
}

impl Core {
    /// Whether the collection has had no write for a second (or none
    /// since it was opened).
    pub(crate) fn writes_quiet(&self) -> bool {
        let last = self.last_write_ms.load(Ordering::SeqCst);
        last == 0 || super::flush::now_ms().saturating_sub(last) >= 1000
    }

    /// Creates the directory and empty manifest of a new collection.
    pub(crate) fn create_files(fs: &dyn Fs, dir: &Path) -> Result<()> {
        crate::fs::create_dir_all(fs, dir)?;
        let m = Manifest {
            segments: Vec::new(),
            wal_start: 1,
            last_seq: 0,
            dimension: None,
            next_file_no: 2,
            schema_keys: Vec::new(),
        };
        m.store(fs, dir)?;
        if let Some(parent) = dir.parent() {
            crate::fs::sync_dir(fs, parent)?;
        }
        Ok(())
    }

    /// Opens a collection directory: manifest, segments (header and
    /// records; vectors stay unread), WAL replay.
    pub(crate) fn open(args: OpenArgs) -> Result<Core> {
        let OpenArgs {
            fs,
            id,
            dir,
            schema,
            memtable_limit,
            memtable_graph,
            policy,
            stall,
            graphs,
            events,
        } = args;
        let manifest = Manifest::load(&dir)?;
        let mut wal_nos = Vec::new();
        let mut max_no = 0u64;
        let rd = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let p = entry.path();
            if name.ends_with(".tmp") {
                crate::fs::remove_file(&*fs, &p)?;
            } else if let Some(no) = journal::parse_name(&name) {
                max_no = max_no.max(no);
                if no < manifest.wal_start {
                    crate::fs::remove_file(&*fs, &p)?;
                } else {
                    wal_nos.push(no);
                }
            } else if let Some(no) = segment::parse_name(&name) {
                max_no = max_no.max(no);
                if !manifest.segments.contains(&no) {
                    // Written by a flush or compaction that never published.
                    crate::fs::remove_file(&*fs, &p)?;
                }
            } else if let Some(no) = crate::graphs::parse_name(&name) {
                if !manifest.segments.contains(&no) {
                    // The graph of a segment compacted away.
                    crate::fs::remove_file(&*fs, &p)?;
                }
            }
        }
        wal_nos.sort_unstable();
        let mut segments = Vec::with_capacity(manifest.segments.len());
        for &no in &manifest.segments {
            segments.push(SegView::new(Arc::new(Segment::open(&dir, no)?))?);
        }
        let masks =
            super::version::segment_masks(&segments.iter().map(|s| &*s.recs).collect::<Vec<_>>());
        for (s, m) in segments.iter_mut().zip(masks) {
            s.mask = m;
        }
        let mut dimension = manifest.dimension.map(|d| d as usize);
        if dimension.is_none() {
            dimension = segments
                .iter()
                .find(|s| s.seg.rows() > 0)
                .map(|s| s.seg.dim());
        }
        let mut schema = schema;
        schema.discover_all(&manifest.schema_keys);
        let config = schema.config();
        let mut version = Version {
            seq: manifest.last_seq,
            active: MemView::whole(Arc::new(Version::memtable_for(&config, memtable_graph))),
            frozen: Vec::new(),
            segments,
            dimension,
            schema: Arc::new(schema),
            config: Arc::new(config),
        };
        let mut next_file_no = manifest.next_file_no.max(max_no + 1);
        let recovered = journal::recover(
            &*fs,
            &dir,
            &wal_nos,
            manifest.last_seq,
            manifest.wal_start,
            next_file_no,
        )?;
        if recovered.used_fresh {
            next_file_no += 1;
        }
        for batch in recovered.batches {
            version = version.apply(batch);
        }
        let wal = Arc::new(recovered.wal);
        for s in &version.segments {
            // Loaded (or, if missing or bad, rebuilt) in the background.
            graphs.request_load(&s.seg, &version.config.hnsw);
        }
        Ok(Core {
            fs,
            id,
            dir,
            space: version.config.hnsw.space,
            current: ArcSwap::from_pointee(version),
            writer: Mutex::new(Writer { wal }),
            maintenance: Mutex::new(manifest),
            next_file_no: AtomicU64::new(next_file_no),
            poisoned: AtomicBool::new(false),
            dropped: AtomicBool::new(false),
            compaction_queued: AtomicBool::new(false),
            compaction: Mutex::new(()),
            memtable_limit,
            policy,
            stall,
            last_write_ms: AtomicU64::new(0),
            graphs,
            events,
        })
    }

    /// The current version (no lock is held afterwards).
    pub(crate) fn version(&self) -> Arc<Version> {
        self.current.load_full()
    }

    /// Publishes `next`; callers hold the writer lock.
    pub(crate) fn publish(&self, _writer: &Writer, next: Version) {
        self.current.store(Arc::new(next));
    }

    /// Allocates a file number (WAL generations and segments share them).
    pub(crate) fn alloc_file_no(&self) -> u64 {
        self.next_file_no.fetch_add(1, Ordering::SeqCst)
    }

    /// The next unused file number (for the manifest).
    pub(crate) fn next_file_no(&self) -> u64 {
        self.next_file_no.load(Ordering::SeqCst)
    }

    /// Publishes a modified schema (from `modify_collection`), keeping the
    /// keys the records brought.
    pub(crate) fn set_schema(&self, mut schema: Schema) {
        let w = self.writer.lock();
        let mut next = (*self.version()).clone();
        schema.discover_all(&next.schema.key_types());
        next.config = Arc::new(schema.config());
        next.schema = Arc::new(schema);
        self.publish(&w, next);
    }

    /// Fails if the collection was deleted or a write failed before.
    pub(crate) fn check_writable(&self) -> Result<()> {
        self.check_alive()?;
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(Error::Poisoned);
        }
        Ok(())
    }

    /// Fails if the collection was deleted.
    pub(crate) fn check_alive(&self) -> Result<()> {
        if self.dropped.load(Ordering::SeqCst) {
            return Err(Error::NotFound(format!(
                "Collection [{}] does not exist.",
                self.id
            )));
        }
        Ok(())
    }

    /// Poisons the collection after a failed WAL write or fsync.
    pub(crate) fn poison(&self) {
        tracing::error!(collection = %self.id, "a WAL write or fsync failed; the collection accepts no more writes until it is reopened");
        self.poisoned.store(true, Ordering::SeqCst);
    }

    /// Counters of the segments' graphs.
    pub(crate) fn graph_status(&self) -> crate::graphs::GraphStatus {
        let v = self.version();
        let live: Vec<_> = v
            .segments
            .iter()
            .filter(|s| crate::graphs::wants_graph(&s.seg))
            .collect();
        crate::graphs::GraphStatus {
            segments: live.len(),
            ready: live.iter().filter(|s| s.seg.graph().is_some()).count(),
            builds: self.graphs.builds.load(Ordering::SeqCst),
            loads: self.graphs.loads.load(Ordering::SeqCst),
            rejected: self.graphs.rejected.load(Ordering::SeqCst),
        }
    }

    /// Holds a writer while background work is behind (see
    /// [`crate::collection::stall::WriteStall`]); returns how long it waited.
    pub(crate) fn wait_for_background(&self) -> std::time::Duration {
        let Some(stall) = &self.stall else {
            return std::time::Duration::ZERO;
        };
        let started = std::time::Instant::now();
        loop {
            let v = self.version();
            let unindexed = || -> usize {
                v.segments
                    .iter()
                    .filter(|s| crate::graphs::wants_graph(&s.seg) && s.seg.graph().is_none())
                    .map(|s| s.seg.rows() - s.mask.ones())
                    .sum()
            };
            let behind = stall
                .max_unindexed_rows
                .is_some_and(|max| unindexed() > max)
                || v.segments.len() >= stall.max_segments
                || v.frozen.len() >= stall.max_frozen
                || v.active.mem.approx_bytes() >= 4 * self.memtable_limit.max(1);
            let waited = started.elapsed();
            if !behind
                || waited >= stall.max_wait
                || self.dropped.load(Ordering::SeqCst)
                || self.graphs.should_stop()
            {
                return waited;
            }
            drop(v);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Whether the active memtable is past the flush threshold.
    pub(crate) fn wants_flush(&self) -> bool {
        self.version().active.mem.approx_bytes() >= self.memtable_limit
    }
}
