//! The import journal: what makes an interrupted `chromite import` leave
//! no half-imported collection behind.
//!
//! `DEST/CHROMITE_IMPORT_JOURNAL` (JSON, replaced atomically: temp file,
//! fsync, rename, fsync of the directory) names the source, the
//! collections finished so far and the one being written. Before a
//! collection is created it becomes `current`; once its records are
//! flushed it moves to `done`; a finished import removes the file.
//! [`recover`] (run by `chromite import` and by `chromite run` before they
//! use the store) deletes the collection a crash left `current`, so it
//! is never visible half-written; an import of the same source run again
//! skips the `done` ones and so resumes.

use std::path::{Path, PathBuf};

use chromite_engine::Db;
use serde::{Deserialize, Serialize};

use super::ImportError;

/// The journal's file name in the store directory.
pub const JOURNAL: &str = "CHROMITE_IMPORT_JOURNAL";

/// A collection as `(tenant, database, name)`.
pub type Key = (String, String, String);

/// The journal's content.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Journal {
    /// The source being imported.
    pub source: PathBuf,
    /// Collections fully imported.
    pub done: Vec<Key>,
    /// The collection being written, if any.
    pub current: Option<Key>,
}

impl Journal {
    /// Reads the journal of `store`, if there is one.
    pub fn load(store: &Path) -> Result<Option<Journal>, ImportError> {
        let path = store.join(JOURNAL);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| ImportError::Data {
                    file: path,
                    what: format!("not an import journal: {e}"),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ImportError::io(&path, e)),
        }
    }

    /// Writes the journal atomically.
    pub fn store(&self, store: &Path) -> Result<(), ImportError> {
        let path = store.join(JOURNAL);
        let tmp = store.join(format!("{JOURNAL}.tmp"));
        let bytes = serde_json::to_vec(self).map_err(|e| ImportError::Data {
            file: path.clone(),
            what: e.to_string(),
        })?;
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(store)?.sync_all()
        };
        write().map_err(|e| ImportError::io(&path, e))
    }

    /// Removes the journal (the import finished).
    pub fn remove(store: &Path) -> Result<(), ImportError> {
        let path = store.join(JOURNAL);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ImportError::io(&path, e)),
        }
    }
}

/// Deletes the collection an interrupted import was writing (if it got
/// as far as creating it) and clears `current`; returns the journal left
/// (its `done` list lets the same import resume).
pub fn recover(store: &Path, db: &Db) -> Result<Option<Journal>, ImportError> {
    let Some(mut j) = Journal::load(store)? else {
        return Ok(None);
    };
    if let Some((t, d, n)) = j.current.take() {
        if db.get_collection_by_name(&t, &d, &n).is_ok() {
            db.delete_collection(&t, &d, &n)?;
            tracing::warn!(collection = %format!("{t}/{d}/{n}"), "removed the collection an interrupted import left half-written");
        }
        j.store(store)?;
    }
    Ok(Some(j))
}
