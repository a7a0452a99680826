//! The file system, behind a trait: every byte the engine writes (WAL,
//! segments, graphs, manifests, catalog) and every rename, fsync and
//! removal goes through an [`Fs`], so tests can run the real engine over a
//! fault-injecting one ([`FaultyFs`]: fail or tear the n-th write, fail an
//! fsync, run out of space) and check what survives. Reads of immutable
//! files (segments are memory-mapped) use the real file system directly.
//!
//! Also the atomic-replace protocol (temp file, fsync, rename, fsync
//! directory) and I/O error mapping that always names the file.

mod faulty;
mod os;

pub use faulty::{Fault, FaultyFs};
pub use os::OsFs;

use std::fmt::Debug;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};

/// A file opened for writing.
pub trait WriteFile: Send + Sync {
    /// Appends `buf` at the end of what was written so far.
    fn write_all(&self, buf: &[u8]) -> io::Result<()>;
    /// Writes `buf` at `offset` (a header written last, say).
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Makes the written data durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// Makes the data and metadata durable (`fsync`).
    fn sync_all(&self) -> io::Result<()>;
}

/// The operations the engine's writers use; see the module docs.
pub trait Fs: Send + Sync + Debug {
    /// Creates `path` (truncating it) for writing.
    fn create(&self, path: &Path) -> io::Result<Box<dyn WriteFile>>;
    /// Opens the existing `path` for appending.
    fn append(&self, path: &Path) -> io::Result<Box<dyn WriteFile>>;
    /// Cuts `path` to `len` bytes and makes that durable.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Renames `from` over `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Fsyncs a directory so that renames and creations in it are durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes a directory tree.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Creates a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Makes `to` a second name of the file `from` (a hard link: an
    /// immutable file shared without a copy).
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()>;
}

/// The real file system, shared.
pub fn os() -> Arc<dyn Fs> {
    Arc::new(OsFs)
}

/// The temporary name an atomic write of `path` uses (`NAME.tmp`).
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Replaces `path` with `bytes` atomically: write `NAME.tmp`, fsync it,
/// rename it over `path`, fsync the directory. A crash leaves either the
/// old or the new file, never a mix.
pub(crate) fn atomic_write(fs: &dyn Fs, path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    {
        let f = fs.create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    }
    fs.rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    if let Some(dir) = path.parent() {
        sync_dir(fs, dir)?;
    }
    Ok(())
}

/// Fsyncs a directory, naming it in the error.
pub(crate) fn sync_dir(fs: &dyn Fs, dir: &Path) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    fs.sync_dir(dir).map_err(|e| Error::io(dir, e))
}

/// Reads a whole file, naming it in the error.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// Creates a directory and its parents.
pub(crate) fn create_dir_all(fs: &dyn Fs, path: &Path) -> Result<()> {
    fs.create_dir_all(path).map_err(|e| Error::io(path, e))
}

/// Removes a directory tree; a missing directory is not an error.
pub(crate) fn remove_dir_all(fs: &dyn Fs, path: &Path) -> Result<()> {
    match fs.remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Removes a file; a missing file is not an error.
pub(crate) fn remove_file(fs: &dyn Fs, path: &Path) -> Result<()> {
    match fs.remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Whether a path exists, surfacing I/O errors other than "not found".
pub(crate) fn exists(path: &Path) -> Result<bool> {
    match std::fs::metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
}
