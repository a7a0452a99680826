//! The store's maintenance worker: one background thread that keeps every
//! open collection in shape without being asked.
//!
//! - A collection reports each write through a channel ([`Event`]); once
//!   its memtable passes the flush threshold the flush thread flushes it
//!   and asks the compaction thread to compact and vacuum as the policy
//!   says. Two threads, so a long merge (and the graph build of the merged
//!   segment) never holds up a flush: the memtable every query scans
//!   stays small while the store compacts.
//! - A collection that has had no write for [`IdleFlush::after`] is
//!   maintained once: its memtable is flushed if it holds at least
//!   [`IdleFlush::min_bytes`] (so the tail of a burst gets a segment and a
//!   graph instead of being scanned by every query), and the compaction
//!   and vacuum policies run — so a store left fragmented (by crashes, or
//!   by a write pattern the threshold never caught) is compacted when idle.
//! - A collection just opened is maintained the same way at once.
//! - Each task runs under `catch_unwind`: a panic is logged, counted
//!   ([`Worker::panics`], exported in `/metrics`) and the worker goes on
//!   with the next task, so maintenance never stops silently.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::collection::core::{Core, Event};
use crate::collection::flush::{self, now_ms};

/// When the worker flushes a memtable that stopped growing.
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

/// What the worker keeps per collection.
struct Watched {
    core: Weak<Core>,
    /// `last_write_ms` when it was last maintained (`None`: never).
    maintained_at: Option<u64>,
}

/// The worker's two threads; see the module docs.
pub(crate) struct Worker {
    tx: Option<mpsc::Sender<Event>>,
    flusher: Option<JoinHandle<()>>,
    compactor: Option<JoinHandle<()>>,
    panics: Arc<AtomicU64>,
}

impl Worker {
    /// Starts the thread.
    pub(crate) fn start(idle: Option<IdleFlush>) -> Worker {
        let (tx, rx) = mpsc::channel::<Event>();
        let panics = Arc::new(AtomicU64::new(0));
        let counter = panics.clone();
        let tick = idle.as_ref().map_or(Duration::from_secs(3600), |i| {
            (i.after / 2).max(Duration::from_millis(50))
        });
        let (ctx, crx) = mpsc::channel::<Weak<Core>>();
        let counter2 = panics.clone();
        let compactor = std::thread::Builder::new()
            .name("chromite-compaction".into())
            .spawn(move || {
                // Merges yield to requests; writers wait (the write
                // stall) when they fall too far behind.
                crate::os::lower_thread_priority();
                while let Ok(w) = crx.recv() {
                    let Some(core) = w.upgrade() else { continue };
                    core.compaction_queued.store(false, Ordering::SeqCst);
                    guarded(&core, &counter2, "compaction", || flush::compact(&core));
                }
            });
        let flusher = std::thread::Builder::new()
            .name("chromite-flush".into())
            .spawn(move || run(rx, idle, tick, &counter, &ctx));
        let (flusher, compactor) = match (flusher, compactor) {
            (Ok(f), Ok(c)) => (Some(f), Some(c)),
            (f, c) => {
                tracing::error!("could not start the maintenance threads; writes flush inline");
                (f.ok(), c.ok())
            }
        };
        Worker {
            tx: flusher.as_ref().map(|_| tx),
            flusher,
            compactor,
            panics,
        }
    }

    /// Where collections report (`None` if the thread could not start).
    pub(crate) fn sender(&self) -> Option<mpsc::Sender<Event>> {
        self.tx.clone()
    }

    /// Maintenance tasks that panicked since the store opened.
    pub(crate) fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // The flush thread ends on `Stop` (or when its channel closes: a
        // collection handle that outlives the store keeps a sender), and
        // drops the compaction thread's channel, which then ends too.
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Event::Stop);
        }
        for h in [self.flusher.take(), self.compactor.take()]
            .into_iter()
            .flatten()
        {
            let _ = h.join();
        }
    }
}

/// Queues a compaction of `core` (once, however often it is asked).
fn request_compaction(compactor: &mpsc::Sender<Weak<Core>>, core: &Arc<Core>) {
    if !core.compaction_queued.swap(true, Ordering::SeqCst) {
        let _ = compactor.send(Arc::downgrade(core));
    }
}

fn run(
    rx: mpsc::Receiver<Event>,
    idle: Option<IdleFlush>,
    tick: Duration,
    panics: &AtomicU64,
    compactor: &mpsc::Sender<Weak<Core>>,
) {
    let mut watched: HashMap<usize, Watched> = HashMap::new();
    loop {
        match rx.recv_timeout(tick) {
            Ok(Event::Wrote(w)) => {
                let Some(core) = w.upgrade() else { continue };
                let entry = watched
                    .entry(Arc::as_ptr(&core) as usize)
                    .or_insert_with(|| Watched {
                        core: w.clone(),
                        maintained_at: Some(0),
                    });
                if entry.core.strong_count() == 0 {
                    // A dropped collection's address, reused.
                    entry.core = w.clone();
                }
                if core.wants_flush() {
                    guarded(&core, panics, "flush", || flush::flush_logged(&core));
                    request_compaction(compactor, &core);
                }
            }
            Ok(Event::Stop) => return,
            Ok(Event::Opened(w)) => {
                let Some(core) = w.upgrade() else { continue };
                watched.insert(
                    Arc::as_ptr(&core) as usize,
                    Watched {
                        core: w.clone(),
                        maintained_at: Some(core.last_write_ms.load(Ordering::SeqCst)),
                    },
                );
                request_compaction(compactor, &core);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let Some(idle) = &idle else { continue };
        watched.retain(|_, w| w.core.strong_count() > 0);
        for w in watched.values_mut() {
            let Some(core) = w.core.upgrade() else {
                continue;
            };
            let last = core.last_write_ms.load(Ordering::SeqCst);
            let quiet = now_ms().saturating_sub(last) >= idle.after.as_millis() as u64;
            if !quiet || w.maintained_at == Some(last) {
                continue;
            }
            w.maintained_at = Some(last);
            if core.version().active.mem.approx_bytes() >= idle.min_bytes {
                guarded(&core, panics, "idle flush", || flush::flush_logged(&core));
            }
            request_compaction(compactor, &core);
        }
    }
}

/// Runs one maintenance task, logging and counting a panic instead of
/// letting it end the worker.
fn guarded(core: &Core, panics: &AtomicU64, what: &str, task: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(task)) {
        panics.fetch_add(1, Ordering::Relaxed);
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic".into());
        tracing::error!(collection = %core.id, "{what} panicked ({msg}); the worker carries on with the next task");
    }
}
