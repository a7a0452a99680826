//! Appending to the WAL with group commit.
//!
//! `append` runs under the collection's write lock (so frames are written in
//! sequence order) and only writes; `sync_to` runs after the lock is
//! released. Whoever takes the sync mutex first fsyncs everything written so
//! far, so writers queued behind it usually find their bytes already durable
//! and return without an fsync of their own.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::fs::{Fs, WriteFile};

/// An open WAL generation.
pub(crate) struct WalFile {
    path: PathBuf,
    file: Box<dyn WriteFile>,
    /// Bytes written (header included).
    written: AtomicU64,
    /// Bytes known durable; the mutex also serialises fsyncs.
    synced: Mutex<u64>,
}

impl WalFile {
    /// Creates a new, empty generation (header written and fsynced, the
    /// directory fsynced).
    pub(crate) fn create(fs: &dyn Fs, dir: &Path, no: u64) -> Result<WalFile> {
        let path = super::path(dir, no);
        let file = fs.create(&path).map_err(|e| Error::io(&path, e))?;
        file.write_all(&super::header())
            .map_err(|e| Error::io(&path, e))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        crate::fs::sync_dir(fs, dir)?;
        let len = super::WAL_HEADER_LEN as u64;
        Ok(WalFile {
            path,
            file,
            written: AtomicU64::new(len),
            synced: Mutex::new(len),
        })
    }

    /// Opens an existing generation for appending at `len` (its valid length,
    /// after recovery truncated any bad tail).
    pub(crate) fn open_append(fs: &dyn Fs, dir: &Path, no: u64, len: u64) -> Result<WalFile> {
        let path = super::path(dir, no);
        let file = fs.append(&path).map_err(|e| Error::io(&path, e))?;
        Ok(WalFile {
            path,
            file,
            written: AtomicU64::new(len),
            synced: Mutex::new(len),
        })
    }

    /// Writes one batch as a frame (no fsync); returns the end offset to
    /// pass to `sync_to`.
    pub(crate) fn append(&self, batch: &super::WalBatch) -> Result<u64> {
        let frame = crate::codec::encode_frame(batch);
        self.file
            .write_all(&frame)
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(self.written.fetch_add(frame.len() as u64, Ordering::SeqCst) + frame.len() as u64)
    }

    /// Makes every byte up to `end` durable, sharing fsyncs between writers.
    pub(crate) fn sync_to(&self, end: u64) -> Result<()> {
        let mut synced = self.synced.lock();
        if *synced >= end {
            return Ok(());
        }
        let target = self.written.load(Ordering::SeqCst);
        self.file
            .sync_data()
            .map_err(|e| Error::io(&self.path, e))?;
        *synced = target;
        Ok(())
    }
}
