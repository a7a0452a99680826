//! A collection's live state: the active memtable, memtables being flushed,
//! the segments, the WAL being appended to, and the recovery that rebuilds
//! all of it from the collection's directory.
//!
//! Concurrency: one `RwLock<State>`. Writers hold the write lock only to
//! resolve, append (no fsync) and apply a batch; the fsync happens after
//! the lock is released (group commit). Readers hold the read lock for the
//! duration of a read; flush and compaction do their I/O without the lock
//! and take the write lock only for short swaps, so reads are never blocked
//! by segment writing.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use uuid::Uuid;

use crate::catalog::manifest::Manifest;
use crate::error::{Error, Result};
use crate::graphs::GraphCtx;
use crate::memtable::Memtable;
use crate::record::{Op, WalBatch};
use crate::segment::{self, Segment};
use crate::types::Space;
use crate::wal::{self, writer::WalFile};

/// A frozen memtable waiting to become a segment.
pub(crate) struct Frozen {
    pub(crate) mem: Arc<Memtable>,
    /// The WAL generation that was started when it froze: once it is a
    /// segment, the manifest's `wal_start` becomes this.
    pub(crate) next_wal: u64,
    /// Highest sequence number it holds.
    pub(crate) last_seq: u64,
}

/// The mutable state behind the lock.
pub(crate) struct State {
    pub(crate) active: Memtable,
    /// Oldest first.
    pub(crate) frozen: Vec<Frozen>,
    /// Oldest first.
    pub(crate) segments: Vec<Arc<Segment>>,
    pub(crate) dimension: Option<usize>,
    /// Highest sequence number assigned.
    pub(crate) last_seq: u64,
    /// What the published manifest says.
    pub(crate) manifest: Manifest,
    pub(crate) wal: Arc<WalFile>,
    pub(crate) next_file_no: u64,
    /// Which segment rows newer sources override (see `shadow.rs`).
    pub(crate) shadow: Mutex<crate::shadow::ShadowCache>,
}

impl State {
    /// Applies a logged batch to the active memtable.
    pub(crate) fn apply(&mut self, batch: WalBatch) {
        let first = batch.first_seq;
        for (i, op) in batch.ops.into_iter().enumerate() {
            let seq = first + i as u64;
            if let Op::Put(r) = &op {
                if self.dimension.is_none() {
                    self.dimension = Some(r.embedding.len());
                }
            }
            self.active.apply(op);
            self.last_seq = self.last_seq.max(seq);
        }
    }

    /// Allocates a file number.
    pub(crate) fn alloc_file_no(&mut self) -> u64 {
        let n = self.next_file_no;
        self.next_file_no += 1;
        n
    }
}

/// One open collection's storage.
pub(crate) struct Core {
    pub(crate) id: Uuid,
    pub(crate) dir: PathBuf,
    pub(crate) space: Space,
    pub(crate) state: RwLock<State>,
    /// Serialises flushes and compactions (the manifest writers).
    pub(crate) flush_lock: Mutex<()>,
    pub(crate) poisoned: AtomicBool,
    pub(crate) dropped: AtomicBool,
    /// Set while a background flush request is queued.
    pub(crate) flush_queued: AtomicBool,
    pub(crate) memtable_limit: usize,
    /// When the last write was applied ([`crate::flush::now_ms`]).
    pub(crate) last_write_ms: std::sync::atomic::AtomicU64,
    /// Whether the flush worker watches this collection for idleness.
    pub(crate) idle_watched: AtomicBool,
    /// Graph parameters, counters and the builder's queue.
    pub(crate) graphs: Arc<GraphCtx>,
}

impl Core {
    /// Creates the directory and empty manifest of a new collection.
    pub(crate) fn create_files(dir: &Path) -> Result<()> {
        crate::fs::create_dir_all(dir)?;
        let m = Manifest {
            segments: Vec::new(),
            wal_start: 1,
            last_seq: 0,
            dimension: None,
            next_file_no: 2,
        };
        m.store(dir)?;
        if let Some(parent) = dir.parent() {
            crate::fs::sync_dir(parent)?;
        }
        Ok(())
    }

    /// Opens a collection directory: manifest, segment headers, WAL replay.
    pub(crate) fn open(
        id: Uuid,
        dir: PathBuf,
        space: Space,
        memtable_limit: usize,
        graphs: Arc<GraphCtx>,
    ) -> Result<Core> {
        let manifest = Manifest::load(&dir)?;
        let mut wal_nos = Vec::new();
        let mut max_no = 0u64;
        let rd = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let p = entry.path();
            if name.ends_with(".tmp") {
                crate::fs::remove_file(&p)?;
            } else if let Some(no) = wal::parse_name(&name) {
                max_no = max_no.max(no);
                if no < manifest.wal_start {
                    crate::fs::remove_file(&p)?;
                } else {
                    wal_nos.push(no);
                }
            } else if let Some(no) = segment::parse_name(&name) {
                max_no = max_no.max(no);
                if !manifest.segments.contains(&no) {
                    // Written by a flush or compaction that never published.
                    crate::fs::remove_file(&p)?;
                }
            } else if let Some(no) = crate::graphs::parse_name(&name) {
                if !manifest.segments.contains(&no) {
                    // The graph of a segment compacted away.
                    crate::fs::remove_file(&p)?;
                }
            }
        }
        wal_nos.sort_unstable();
        let mut segments = Vec::with_capacity(manifest.segments.len());
        for &no in &manifest.segments {
            segments.push(Arc::new(Segment::open(&dir, no)?));
        }
        let mut dimension = manifest.dimension.map(|d| d as usize);
        if dimension.is_none() {
            dimension = segments.iter().find(|s| s.rows() > 0).map(|s| s.dim());
        }
        let next_file_no = manifest.next_file_no.max(max_no + 1);
        let mut active = Memtable::default();
        let mut last_seq = manifest.last_seq;
        let mut wal_len = 0;
        for &no in &wal_nos {
            let replay = wal::reader::replay(&dir, no)?;
            wal_len = replay.valid_len;
            for batch in replay.batches {
                let first = batch.first_seq;
                for (i, op) in batch.ops.into_iter().enumerate() {
                    let seq = first + i as u64;
                    if seq <= manifest.last_seq {
                        continue;
                    }
                    if let Op::Put(r) = &op {
                        if dimension.is_none() {
                            dimension = Some(r.embedding.len());
                        }
                    }
                    active.apply(op);
                    last_seq = last_seq.max(seq);
                }
            }
        }
        let wal = Arc::new(match wal_nos.last() {
            Some(&no) => WalFile::open_append(&dir, no, wal_len)?,
            None => WalFile::create(&dir, manifest.wal_start)?,
        });
        for s in &segments {
            // Loaded (or, if missing or bad, rebuilt) in the background.
            graphs.request_load(s);
        }
        let state = State {
            active,
            frozen: Vec::new(),
            segments,
            dimension,
            last_seq,
            manifest,
            wal,
            next_file_no,
            shadow: Mutex::new(crate::shadow::ShadowCache::default()),
        };
        Ok(Core {
            id,
            dir,
            space,
            state: RwLock::new(state),
            flush_lock: Mutex::new(()),
            poisoned: AtomicBool::new(false),
            dropped: AtomicBool::new(false),
            flush_queued: AtomicBool::new(false),
            memtable_limit,
            last_write_ms: std::sync::atomic::AtomicU64::new(0),
            idle_watched: AtomicBool::new(false),
            graphs,
        })
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
        self.poisoned.store(true, Ordering::SeqCst);
    }

    /// Counters of the segments' graphs.
    pub(crate) fn graph_status(&self) -> crate::graphs::GraphStatus {
        let st = self.state.read();
        let live: Vec<_> = st
            .segments
            .iter()
            .filter(|s| crate::graphs::wants_graph(s))
            .collect();
        crate::graphs::GraphStatus {
            segments: live.len(),
            ready: live.iter().filter(|s| s.graph().is_some()).count(),
            builds: self.graphs.builds.load(Ordering::SeqCst),
            loads: self.graphs.loads.load(Ordering::SeqCst),
            rejected: self.graphs.rejected.load(Ordering::SeqCst),
        }
    }

    /// Whether the active memtable is past the flush threshold.
    pub(crate) fn wants_flush(&self) -> bool {
        self.state.read().active.approx_bytes() >= self.memtable_limit
    }
}
