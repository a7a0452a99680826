//! Online snapshots: a consistent point-in-time copy of the whole store,
//! taken while it serves reads and writes, that costs almost no disk.
//!
//! For one instant, the snapshot blocks what changes files: the catalog
//! (creates, deletes, renames), the opening of collections, and in every
//! open collection its manifest writers (flush and compaction commits)
//! and its writer (so no acknowledged write is half-way into its WAL).
//! Under those locks it hard-links every segment and graph file the
//! manifests name (immutable, so shared, not copied) and copies the small
//! files: the catalog, each manifest and each WAL generation the manifest
//! still needs. Every write acknowledged before the locks were all taken
//! is in the copy (in a segment or in a copied WAL), and none after. The
//! copy is written under `NAME.tmp` and renamed into place once complete
//! and synced, so a crash leaves no half-made snapshot under its name.
//!
//! A snapshot directory is a complete store: open it (or restore it, which
//! links it into a new directory) like any other.

use std::path::{Path, PathBuf};

use crate::catalog::manifest::Manifest;
use crate::error::{Error, Result};
use crate::fs::Fs;
use crate::registry::Registry;

/// What a snapshot holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    /// Collections in it.
    pub collections: usize,
    /// Segment and graph files shared with the store (hard links).
    pub linked_files: usize,
    /// Bytes of those shared files (no new disk).
    pub linked_bytes: u64,
    /// Bytes copied (catalog, manifests, WAL generations): the new disk.
    pub copied_bytes: u64,
}

/// Writes a snapshot of `reg`'s store into the new directory `dest`
/// (which must not exist; its parent must be on the store's file system).
pub(crate) fn write(reg: &Registry, dest: &Path) -> Result<SnapshotStats> {
    // One snapshot at a time (two of one name would share `NAME.tmp`).
    static ONE_AT_A_TIME: parking_lot::Mutex<()> = parking_lot::Mutex::new(());
    let _one = ONE_AT_A_TIME.lock();
    let fs = &*reg.options.fs;
    if crate::fs::exists(dest)? {
        return Err(Error::AlreadyExists(format!(
            "{} already exists",
            dest.display()
        )));
    }
    let tmp = crate::fs::temp_path(dest);
    crate::fs::remove_dir_all(fs, &tmp)?;
    let result = write_into(reg, &tmp);
    if result.is_err() {
        let _ = crate::fs::remove_dir_all(fs, &tmp);
    }
    let stats = result?;
    if let Err(e) = fs.rename(&tmp, dest) {
        let _ = crate::fs::remove_dir_all(fs, &tmp);
        return Err(Error::io(dest, e));
    }
    if let Some(parent) = dest.parent() {
        crate::fs::sync_dir(fs, parent)?;
    }
    Ok(stats)
}

fn write_into(reg: &Registry, out: &Path) -> Result<SnapshotStats> {
    let fs = &*reg.options.fs;
    let mut stats = SnapshotStats::default();
    // The instant: catalog, opens, then each open collection's manifest
    // writers and writer, in the order flushes take them.
    let catalog = reg.catalog.lock();
    let cores = reg.cores.lock();
    let mut ids: Vec<uuid::Uuid> = catalog.collection_ids();
    ids.sort();
    let mut held = Vec::new();
    for id in &ids {
        if let Some(core) = cores.get(id) {
            held.push((*id, core.clone()));
        }
    }
    let manifests: Vec<_> = held.iter().map(|(_, c)| c.maintenance.lock()).collect();
    let writers: Vec<_> = held.iter().map(|(_, c)| c.writer.lock()).collect();
    crate::fs::create_dir_all(fs, &out.join("collections"))?;
    stats.copied_bytes += copy(
        fs,
        &crate::catalog::path(&reg.root),
        &crate::catalog::path(out),
    )?;
    for id in &ids {
        let from = reg.collection_dir(*id);
        let to = out.join("collections").join(id.to_string());
        crate::fs::create_dir_all(fs, &to)?;
        let manifest = match held.iter().position(|(h, _)| h == id) {
            Some(i) => (*manifests[i]).clone(),
            None => Manifest::load(&from)?,
        };
        for &no in &manifest.segments {
            for (a, b) in [
                (
                    crate::segment::path(&from, no),
                    crate::segment::path(&to, no),
                ),
                (crate::graphs::path(&from, no), crate::graphs::path(&to, no)),
            ] {
                if !crate::fs::exists(&a)? {
                    continue;
                }
                fs.hard_link(&a, &b).map_err(|e| Error::io(&b, e))?;
                stats.linked_files += 1;
                stats.linked_bytes += std::fs::metadata(&a).map_or(0, |m| m.len());
            }
        }
        stats.copied_bytes += copy(
            fs,
            &crate::catalog::manifest::path(&from),
            &crate::catalog::manifest::path(&to),
        )?;
        for (no, path) in wal_files(&from)? {
            if no >= manifest.wal_start {
                stats.copied_bytes += copy(fs, &path, &crate::journal::path(&to, no))?;
            }
        }
        crate::fs::sync_dir(fs, &to)?;
        stats.collections += 1;
    }
    drop(writers);
    drop(manifests);
    drop(cores);
    drop(catalog);
    crate::fs::sync_dir(fs, &out.join("collections"))?;
    crate::fs::sync_dir(fs, out)?;
    Ok(stats)
}

/// The WAL generations in `dir`, by number.
fn wal_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let name = e.file_name();
        if let Some(no) = crate::journal::parse_name(&name.to_string_lossy()) {
            out.push((no, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Copies `from` to `to` durably; returns the bytes copied.
fn copy(fs: &dyn Fs, from: &Path, to: &Path) -> Result<u64> {
    let bytes = crate::fs::read(from)?;
    let f = fs.create(to).map_err(|e| Error::io(to, e))?;
    f.write_all(&bytes).map_err(|e| Error::io(to, e))?;
    f.sync_all().map_err(|e| Error::io(to, e))?;
    Ok(bytes.len() as u64)
}

/// Restores the snapshot `snapshot` into the new or empty directory
/// `dest` (on the same file system: segments and graphs are linked again,
/// the small files copied), so the snapshot itself stays intact.
pub fn restore(snapshot: &Path, dest: &Path) -> Result<SnapshotStats> {
    let fs = crate::fs::os();
    let fs = &*fs;
    if snapshot.extension().is_some_and(|e| e == "tmp")
        || !crate::fs::exists(&crate::catalog::path(snapshot))?
    {
        return Err(Error::NotFound(format!(
            "{} is not a snapshot (no catalog)",
            snapshot.display()
        )));
    }
    if crate::fs::exists(dest)?
        && std::fs::read_dir(dest)
            .map_err(|e| Error::io(dest, e))?
            .next()
            .is_some()
    {
        return Err(Error::AlreadyExists(format!(
            "{} is not empty",
            dest.display()
        )));
    }
    // Built as `DEST.tmp` and renamed into place once complete: a failed
    // or interrupted restore leaves no store naming missing collections.
    let tmp = crate::fs::temp_path(dest);
    crate::fs::remove_dir_all(fs, &tmp)?;
    let stats = match restore_into(fs, snapshot, &tmp) {
        Ok(s) => s,
        Err(e) => {
            let _ = crate::fs::remove_dir_all(fs, &tmp);
            return Err(e);
        }
    };
    if crate::fs::exists(dest)? {
        // An empty directory (checked above) is replaced.
        std::fs::remove_dir(dest).map_err(|e| Error::io(dest, e))?;
    }
    fs.rename(&tmp, dest).map_err(|e| Error::io(dest, e))?;
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::fs::sync_dir(fs, parent)?;
    }
    Ok(stats)
}

fn restore_into(fs: &dyn Fs, snapshot: &Path, dest: &Path) -> Result<SnapshotStats> {
    let mut stats = SnapshotStats::default();
    crate::fs::create_dir_all(fs, &dest.join("collections"))?;
    stats.copied_bytes += copy(
        fs,
        &crate::catalog::path(snapshot),
        &crate::catalog::path(dest),
    )?;
    let cols = snapshot.join("collections");
    for e in std::fs::read_dir(&cols).map_err(|e| Error::io(&cols, e))? {
        let e = e.map_err(|e| Error::io(&cols, e))?;
        let to = dest.join("collections").join(e.file_name());
        crate::fs::create_dir_all(fs, &to)?;
        for f in std::fs::read_dir(e.path()).map_err(|err| Error::io(e.path(), err))? {
            let f = f.map_err(|err| Error::io(e.path(), err))?;
            let (from, name) = (f.path(), f.file_name());
            let target = to.join(&name);
            let name = name.to_string_lossy();
            if name.ends_with(".seg") || name.ends_with(".graph") {
                fs.hard_link(&from, &target)
                    .map_err(|e| Error::io(&target, e))?;
                stats.linked_files += 1;
                stats.linked_bytes += std::fs::metadata(&from).map_or(0, |m| m.len());
            } else {
                stats.copied_bytes += copy(fs, &from, &target)?;
            }
        }
        crate::fs::sync_dir(fs, &to)?;
        stats.collections += 1;
    }
    crate::fs::sync_dir(fs, &dest.join("collections"))?;
    crate::fs::sync_dir(fs, dest)?;
    Ok(stats)
}
