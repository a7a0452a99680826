//! A fork's files: after a flush (so every acknowledged write is in a
//! segment), the new collection's directory gets a hard link to each of
//! the source's segments and graph files — immutable, so shared without a
//! copy until a compaction on either side rewrites them — and a manifest of
//! its own (same segments, the source's discovered keys, an empty WAL). The
//! catalog entry the caller writes afterwards is the commit point: a crash
//! before it leaves a directory the catalog does not name, removed on open.

use std::path::Path;

use super::core::Core;
use super::flush;
use crate::catalog::manifest::Manifest;
use crate::error::{Error, Result};

/// Writes the fork of `src` into the new, empty directory `dir`.
pub(crate) fn fork_files(src: &Core, dir: &Path) -> Result<()> {
    flush::flush(src)?;
    let fs = &*src.fs;
    crate::fs::create_dir_all(fs, dir)?;
    // The manifest lock keeps compactions from deleting what is linked.
    let manifest = src.maintenance.lock();
    if src.dropped.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(Error::NotFound(format!(
            "Collection [{}] does not exist",
            src.id
        )));
    }
    for &no in &manifest.segments {
        let from = crate::segment::path(&src.dir, no);
        let to = crate::segment::path(dir, no);
        fs.hard_link(&from, &to).map_err(|e| Error::io(&to, e))?;
        let graph = crate::graphs::path(&src.dir, no);
        if crate::fs::exists(&graph)? {
            let to = crate::graphs::path(dir, no);
            fs.hard_link(&graph, &to).map_err(|e| Error::io(&to, e))?;
        }
    }
    let v = src.version();
    let m = Manifest {
        segments: manifest.segments.clone(),
        wal_start: manifest.next_file_no,
        last_seq: manifest.last_seq,
        dimension: manifest.dimension.or(v.dimension.map(|d| d as u64)),
        next_file_no: manifest.next_file_no + 1,
        schema_keys: v.schema.key_types(),
    };
    drop(manifest);
    m.store(fs, dir)?;
    crate::fs::sync_dir(fs, dir)?;
    if let Some(parent) = dir.parent() {
        crate::fs::sync_dir(fs, parent)?;
    }
    Ok(())
}
