//! Memtable → segment. A flush freezes the active memtable and rotates the
//! WAL under the write lock (short), writes the segment without any lock,
//! publishes it by rewriting the manifest (the commit point), swaps it into
//! the state, and deletes the WAL generations the segment now covers.
//!
//! Also the background worker that runs flushes (and then compaction) off
//! the write path.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::compaction::Policy;
use crate::error::Result;
use crate::record::Op;
use crate::segment;
use crate::state::{Core, Frozen};
use crate::wal::{self, writer::WalFile};

/// Flushes the active memtable (and any frozen ones left by a failed
/// earlier flush) into segments.
pub(crate) fn flush(core: &Core) -> Result<()> {
    let _guard = core.flush_lock.lock();
    if core.dropped.load(Ordering::SeqCst) {
        return Ok(());
    }
    let has_writes = !core.state.read().active.is_empty();
    if has_writes {
        // Create the next WAL generation without holding the state lock
        // (it fsyncs), then swap it in together with the memtable.
        let no = core.state.write().alloc_file_no();
        let new_wal = Arc::new(WalFile::create(&core.dir, no)?);
        let mut st = core.state.write();
        st.wal = new_wal;
        let mem = Arc::new(std::mem::take(&mut st.active));
        let last_seq = st.last_seq;
        st.frozen.push(Frozen {
            mem,
            next_wal: no,
            last_seq,
        });
    }
    loop {
        let (mem, next_wal, last_seq, has_older, dim, seg_no, mut manifest) = {
            let mut st = core.state.write();
            let Some(f) = st.frozen.first() else { break };
            let t = (
                f.mem.clone(),
                f.next_wal,
                f.last_seq,
                !st.segments.is_empty(),
                st.dimension,
            );
            let no = st.alloc_file_no();
            (t.0, t.1, t.2, t.3, t.4, no, st.manifest.clone())
        };
        let mut records = Vec::new();
        let mut tombstones = Vec::new();
        for e in mem.entries() {
            match &e.op {
                Op::Put(r) => records.push(r),
                Op::Delete(id) if has_older => tombstones.push(id.as_str()),
                Op::Delete(_) => {}
            }
        }
        let seg = if records.is_empty() && tombstones.is_empty() {
            None
        } else {
            Some(Arc::new(segment::writer::write(
                &core.dir,
                seg_no,
                dim.unwrap_or(0),
                records,
                tombstones,
            )?))
        };
        let old_wal_start = manifest.wal_start;
        if let Some(s) = &seg {
            manifest.segments.push(s.file_no);
        }
        manifest.wal_start = next_wal;
        manifest.last_seq = last_seq;
        manifest.dimension = dim.map(|d| d as u64);
        manifest.next_file_no = core.state.read().next_file_no;
        manifest.store(&core.dir)?;
        {
            let mut st = core.state.write();
            if let Some(s) = seg {
                core.graphs.request_build(&s);
                st.segments.push(s);
            }
            st.frozen.remove(0);
            st.manifest = manifest;
        }
        for no in old_wal_start..next_wal {
            crate::fs::remove_file(&wal::path(&core.dir, no))?;
        }
    }
    Ok(())
}

/// When the background worker flushes a memtable that stopped growing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdleFlush {
    /// No write for this long…
    pub after: Duration,
    /// …and at least this many bytes in the memtable.
    pub min_bytes: usize,
}

impl Default for IdleFlush {
    fn default() -> Self {
        IdleFlush {
            after: Duration::from_secs(1),
            min_bytes: 1 << 20,
        }
    }
}

/// Milliseconds on a process-wide monotonic clock (for "last write" times).
pub(crate) fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

enum Msg {
    /// Flush (and compact) this collection now.
    Flush(Arc<Core>),
    /// Watch this collection for idleness.
    Watch(Weak<Core>),
}

/// The background worker: flushes collections whose memtable passed the
/// threshold, and those whose memtable stopped growing (so that, after a
/// burst of writes, the tail gets a segment and a graph instead of being
/// scanned by every query), then lets the compaction policy run.
pub(crate) struct Flusher {
    tx: Option<mpsc::Sender<Msg>>,
    handle: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Starts the worker thread.
    pub(crate) fn start(policy: Policy, idle: Option<IdleFlush>) -> Flusher {
        let (tx, rx) = mpsc::channel::<Msg>();
        let tick = idle.as_ref().map_or(Duration::from_secs(3600), |i| {
            (i.after / 2).max(Duration::from_millis(50))
        });
        let handle = std::thread::Builder::new()
            .name("chromite-flush".into())
            .spawn(move || {
                let mut watched: Vec<Weak<Core>> = Vec::new();
                loop {
                    match rx.recv_timeout(tick) {
                        Ok(Msg::Flush(core)) => {
                            core.flush_queued.store(false, Ordering::SeqCst);
                            maintain(&core, &policy);
                        }
                        Ok(Msg::Watch(core)) => watched.push(core),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                    let Some(idle) = &idle else { continue };
                    watched.retain(|w| w.strong_count() > 0);
                    for core in watched.iter().filter_map(Weak::upgrade) {
                        let quiet = now_ms()
                            .saturating_sub(core.last_write_ms.load(Ordering::SeqCst))
                            >= idle.after.as_millis() as u64;
                        if quiet && core.state.read().active.approx_bytes() >= idle.min_bytes {
                            maintain(&core, &policy);
                        }
                    }
                }
            })
            .ok();
        Flusher {
            tx: Some(tx),
            handle,
        }
    }

    /// Queues a flush of `core` (once, however often it is asked).
    pub(crate) fn request(&self, core: &Arc<Core>) -> bool {
        if core.flush_queued.swap(true, Ordering::SeqCst) {
            return true;
        }
        self.send(Msg::Flush(core.clone()))
    }

    /// Notes a write to `core`: the worker watches it for idleness.
    pub(crate) fn touch(&self, core: &Arc<Core>) {
        core.last_write_ms.store(now_ms(), Ordering::SeqCst);
        if !core.idle_watched.swap(true, Ordering::SeqCst) {
            self.send(Msg::Watch(Arc::downgrade(core)));
        }
    }

    fn send(&self, msg: Msg) -> bool {
        match (&self.tx, &self.handle) {
            (Some(tx), Some(_)) => tx.send(msg).is_ok(),
            _ => false,
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Flush, then compact while the policy asks for it. Errors are logged:
/// the data stays safe in the WAL and the next attempt retries.
pub(crate) fn maintain(core: &Core, policy: &Policy) {
    if let Err(e) = flush(core) {
        tracing::error!(collection = %core.id, "background flush failed: {e}");
        return;
    }
    if let Err(e) = crate::compaction::merge::compact_by_policy(core, policy) {
        tracing::error!(collection = %core.id, "background compaction failed: {e}");
    }
}
