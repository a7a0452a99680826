//! Memtable → segment. A flush freezes the active memtable and rotates the
//! WAL under the write lock (short), writes the segment without any lock,
//! publishes it by rewriting the manifest (the commit point), swaps it into
//! the state, and deletes the WAL generations the segment now covers.
//!
//! Also the background worker that runs flushes (and then compaction) off
//! the write path.

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

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

/// The background worker: flushes collections whose memtable passed the
/// threshold, then lets the compaction policy run.
pub(crate) struct Flusher {
    tx: Option<mpsc::Sender<Arc<Core>>>,
    handle: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Starts the worker thread.
    pub(crate) fn start(policy: Policy) -> Flusher {
        let (tx, rx) = mpsc::channel::<Arc<Core>>();
        let handle = std::thread::Builder::new()
            .name("chromite-flush".into())
            .spawn(move || {
                while let Ok(core) = rx.recv() {
                    core.flush_queued.store(false, Ordering::SeqCst);
                    maintain(&core, &policy);
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
        match (&self.tx, &self.handle) {
            (Some(tx), Some(_)) => tx.send(core.clone()).is_ok(),
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
