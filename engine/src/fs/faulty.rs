//! A fault-injecting file system for tests: the real one, until a chosen
//! operation fails. From then on every write, rename, removal and fsync
//! fails too, as if the device had gone away at that moment. It remembers
//! how much of each file it wrote was fsynced, and [`FaultyFs::crash`]
//! cuts every file back to that, as a power cut would: reopening the
//! directory with the real file system afterwards shows what a crash there
//! would have left, so an engine that acknowledged a write whose fsync
//! failed is caught.
//!
//! Write operations (creating, writing, truncating, renaming, removing)
//! and fsyncs (of files and directories) are counted separately from 1.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::os::OsFs;
use super::{Fs, WriteFile};

/// What goes wrong, and when (counting from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The n-th write operation fails and writes nothing.
    FailWrite(u64),
    /// The n-th write operation writes the first half of its bytes, then
    /// fails (a torn write).
    TearWrite(u64),
    /// The n-th write operation fails with "no space left on device".
    NoSpace(u64),
    /// The n-th fsync fails.
    FailSync(u64),
}

/// See the module docs.
#[derive(Debug)]
pub struct FaultyFs {
    fault: Fault,
    state: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    writes: AtomicU64,
    syncs: AtomicU64,
    fired: AtomicBool,
    /// Per file written through this file system, its fsynced length.
    durable: Mutex<HashMap<PathBuf, u64>>,
}

enum Step {
    Go,
    Tear,
    Fail(io::Error),
}

impl State {
    fn dead() -> io::Error {
        io::Error::other("injected fault: the device is gone")
    }

    fn write(&self, fault: Fault) -> Step {
        if self.fired.load(Ordering::SeqCst) {
            return Step::Fail(Self::dead());
        }
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        let step = match fault {
            Fault::FailWrite(k) if k == n => Step::Fail(io::Error::other("injected write failure")),
            Fault::TearWrite(k) if k == n => Step::Tear,
            Fault::NoSpace(k) if k == n => Step::Fail(io::Error::new(
                io::ErrorKind::StorageFull,
                "injected: no space left on device",
            )),
            _ => return Step::Go,
        };
        self.fired.store(true, Ordering::SeqCst);
        step
    }

    fn sync(&self, fault: Fault) -> io::Result<()> {
        if self.fired.load(Ordering::SeqCst) {
            return Err(Self::dead());
        }
        let n = self.syncs.fetch_add(1, Ordering::SeqCst) + 1;
        if fault == Fault::FailSync(n) {
            self.fired.store(true, Ordering::SeqCst);
            return Err(io::Error::other("injected fsync failure"));
        }
        Ok(())
    }

    fn plain(&self, fault: Fault) -> io::Result<()> {
        match self.write(fault) {
            Step::Go => Ok(()),
            Step::Tear => Err(io::Error::other("injected write failure")),
            Step::Fail(e) => Err(e),
        }
    }
}

impl FaultyFs {
    /// The real file system, with `fault` waiting to happen.
    pub fn new(fault: Fault) -> Arc<FaultyFs> {
        Arc::new(FaultyFs {
            fault,
            state: Arc::default(),
        })
    }

    /// Whether the fault has happened.
    pub fn fired(&self) -> bool {
        self.state.fired.load(Ordering::SeqCst)
    }

    /// Cuts every file written through this file system back to the
    /// length it last fsynced (what survives a power cut).
    pub fn crash(&self) -> io::Result<()> {
        for (path, len) in self.state.durable.lock().iter() {
            match std::fs::metadata(path) {
                Ok(m) if m.len() > *len => OsFs.truncate(path, *len)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Write operations and fsyncs counted so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.state.writes.load(Ordering::SeqCst),
            self.state.syncs.load(Ordering::SeqCst),
        )
    }
}

struct FaultyFile {
    inner: Box<dyn WriteFile>,
    fault: Fault,
    state: Arc<State>,
    path: PathBuf,
    /// Bytes written so far (its length).
    len: AtomicU64,
}

impl FaultyFile {
    fn grew(&self, end: u64) {
        self.len.fetch_max(end, Ordering::SeqCst);
    }

    fn synced(&self) {
        let len = self.len.load(Ordering::SeqCst);
        self.state.durable.lock().insert(self.path.clone(), len);
    }
}

impl WriteFile for FaultyFile {
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        match self.state.write(self.fault) {
            Step::Go => {
                self.inner.write_all(buf)?;
                self.len.fetch_add(buf.len() as u64, Ordering::SeqCst);
                Ok(())
            }
            Step::Tear => {
                self.inner.write_all(&buf[..buf.len() / 2])?;
                self.len.fetch_add((buf.len() / 2) as u64, Ordering::SeqCst);
                Err(io::Error::other("injected torn write"))
            }
            Step::Fail(e) => Err(e),
        }
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        match self.state.write(self.fault) {
            Step::Go => {
                self.inner.write_at(buf, offset)?;
                self.grew(offset + buf.len() as u64);
                Ok(())
            }
            Step::Tear => {
                self.inner.write_at(&buf[..buf.len() / 2], offset)?;
                self.grew(offset + (buf.len() / 2) as u64);
                Err(io::Error::other("injected torn write"))
            }
            Step::Fail(e) => Err(e),
        }
    }

    fn sync_data(&self) -> io::Result<()> {
        self.state.sync(self.fault)?;
        self.inner.sync_data()?;
        self.synced();
        Ok(())
    }

    fn sync_all(&self) -> io::Result<()> {
        self.state.sync(self.fault)?;
        self.inner.sync_all()?;
        self.synced();
        Ok(())
    }
}

impl FaultyFs {
    fn wrap(
        &self,
        path: &Path,
        f: io::Result<Box<dyn WriteFile>>,
    ) -> io::Result<Box<dyn WriteFile>> {
        let inner = f?;
        let len = std::fs::metadata(path).map_or(0, |m| m.len());
        // What was there before this file system touched it counts as durable.
        self.state
            .durable
            .lock()
            .entry(path.to_path_buf())
            .and_modify(|d| *d = (*d).min(len))
            .or_insert(len);
        Ok(Box::new(FaultyFile {
            inner,
            fault: self.fault,
            state: self.state.clone(),
            path: path.to_path_buf(),
            len: AtomicU64::new(len),
        }))
    }
}

impl Fs for FaultyFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WriteFile>> {
        self.state.plain(self.fault)?;
        // A created file starts empty: nothing of it is durable yet.
        self.state.durable.lock().insert(path.to_path_buf(), 0);
        self.wrap(path, OsFs.create(path))
    }

    fn append(&self, path: &Path) -> io::Result<Box<dyn WriteFile>> {
        self.wrap(path, OsFs.append(path))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        self.state.plain(self.fault)?;
        self.state.sync(self.fault)?;
        OsFs.truncate(path, len)?;
        self.state.durable.lock().insert(path.to_path_buf(), len);
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.state.plain(self.fault)?;
        OsFs.rename(from, to)?;
        let mut durable = self.state.durable.lock();
        match durable.remove(from) {
            Some(len) => durable.insert(to.to_path_buf(), len),
            None => durable.remove(to),
        };
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.state.sync(self.fault)?;
        OsFs.sync_dir(dir)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.state.plain(self.fault)?;
        OsFs.remove_file(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.state.plain(self.fault)?;
        OsFs.remove_dir_all(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.state.plain(self.fault)?;
        OsFs.create_dir_all(path)
    }

    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.state.plain(self.fault)?;
        OsFs.hard_link(from, to)
    }
}
