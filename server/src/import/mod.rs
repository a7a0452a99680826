//! `chromite import`: bring a Chroma persistent directory (chromadb 0.4 to
//! 1.5) into a Chromite store, following `../shared/chroma-format.md`.
//!
//! - `sqlite.rs` reads `chroma.sqlite3` read-only (scopes, collections,
//!   the METADATA segment's records, watermarks, the queue);
//! - `hnsw.rs` reads a flushed VECTOR segment folder (hnswlib files and the
//!   pickled id map);
//! - `replay.rs` rebuilds each collection's records: the METADATA rows and
//!   flushed vectors, with the queue replayed past each watermark;
//! - `config.rs` turns a collection's stored settings into a create request;
//! - `remote.rs` reads a running Chroma-compatible server instead, through
//!   its HTTP API;
//! - `journal.rs` keeps an interrupted import from leaving a half-written
//!   collection, and lets the same import resume.
//!
//! Every tenant, database and collection comes over, records in Chroma's
//! `get()` order. A collection that cannot be read is reported (naming the
//! file) and skipped; the others still import, and the report says the
//! import was partial. The source directory is never written to.
//!
//! Cosine vectors: Chroma keeps flushed cosine vectors normalised with
//! their norm beside them, and its `get()` returns `v · norm`; for cosine
//! vectors still in the queue it returns hnswlib's normalisation round
//! trip of the input. The import stores exactly what Chroma's `get()`
//! returns in both cases, so a client sees the same vectors before and
//! after the switch.

mod config;
mod hnsw;
pub mod journal;
mod remote;
mod replay;
mod sqlite;

use std::path::{Path, PathBuf};
use std::time::Instant;

use chromite_engine::{Db, RecordBatch, Space};

pub use self::remote::import_remote;
use self::sqlite::{ChromaSqlite, CollectionRow};

/// Why an import (or one collection of it) failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The source has no `chroma.sqlite3`.
    #[error("{0} is not a Chroma persistent directory (no chroma.sqlite3)")]
    NotChroma(PathBuf),
    /// SQLite could not read the file (corrupt, not a database, ...).
    #[error("{file}: {source}")]
    Sqlite {
        /// The file.
        file: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A file could not be read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file's content is not what Chroma writes.
    #[error("{file}: {what}")]
    Data {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A collection's records do not add up.
    #[error("collection {collection}: {what}")]
    Collection {
        /// `tenant/database/name`.
        collection: String,
        /// What is wrong.
        what: String,
    },
    /// The source server answered with an error, or not at all.
    #[error("{url}: {what}")]
    Remote {
        /// The server.
        url: String,
        /// What went wrong.
        what: String,
    },
    /// Writing into the Chromite store failed.
    #[error("the Chromite store: {0}")]
    Store(#[from] chromite_engine::Error),
}

impl ImportError {
    fn sqlite(file: &Path, source: rusqlite::Error) -> ImportError {
        ImportError::Sqlite {
            file: file.to_path_buf(),
            source,
        }
    }

    fn collection(label: &str, what: String) -> ImportError {
        ImportError::Collection {
            collection: label.to_string(),
            what,
        }
    }

    fn io(file: &Path, source: std::io::Error) -> ImportError {
        ImportError::Io {
            file: file.to_path_buf(),
            source,
        }
    }
}

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Replace a collection the store already has under the same name
    /// (otherwise it is refused and reported).
    pub overwrite: bool,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// `(tenant/database/name, records)` of every imported collection.
    pub imported: Vec<(String, usize)>,
    /// Collections that could not be imported, with why.
    pub failed: Vec<(String, ImportError)>,
    /// Collections an interrupted run of the same import had finished
    /// (left as they are).
    pub resumed: Vec<String>,
    /// Seconds the whole import took.
    pub seconds: f64,
}

impl ImportReport {
    /// Records imported in all.
    pub fn records(&self) -> usize {
        self.imported.iter().map(|c| c.1).sum()
    }
}

/// The file a drop-in start leaves once it has imported the Chroma data
/// beside it (so the next start serves without importing again).
pub const IMPORTED_MARKER: &str = "CHROMITE_IMPORTED_FROM_CHROMA";

/// The drop-in start (`chromite run --path DIR` on a Chroma directory):
/// when `dir` holds `chroma.sqlite3` and no marker, imports it into `db`
/// (whose files live beside Chroma's, which stay untouched) and writes the
/// marker. An import a crash interrupted left no marker and nothing was
/// served from it, so it is redone from the start, replacing what it had
/// written. `None` when there was nothing to do.
pub fn import_in_place(dir: &Path, db: &Db) -> Result<Option<ImportReport>, ImportError> {
    let marker = dir.join(IMPORTED_MARKER);
    if !dir.join("chroma.sqlite3").is_file() || marker.exists() {
        return Ok(None);
    }
    let opts = ImportOptions { overwrite: true };
    let mut last = Instant::now();
    let mut progress = |label: &str, done: usize, total: usize| {
        if last.elapsed().as_secs() >= 5 {
            tracing::info!(collection = label, done, total, "importing the Chroma data");
            last = Instant::now();
        }
    };
    let report = import_chroma_dir(dir, db, &opts, &mut progress)?;
    db.flush()?;
    let mut text = format!(
        "imported {} collections, {} records in {:.1} s\n",
        report.imported.len(),
        report.records(),
        report.seconds
    );
    for (name, why) in &report.failed {
        text.push_str(&format!("NOT imported: {name}: {why}\n"));
    }
    let tmp = dir.join(format!("{IMPORTED_MARKER}.tmp"));
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &marker)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| ImportError::io(&marker, e))?;
    Ok(Some(report))
}

/// Records per `add` call.
const BATCH: usize = 1000;

/// A collection as `(tenant, database, name)`.
pub use journal::Key;

/// Imports the Chroma directory `src` into `db`; `progress(label, done,
/// total)` is called as records are written.
pub fn import_chroma_dir(
    src: &Path,
    db: &Db,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<ImportReport, ImportError> {
    let sql = ChromaSqlite::open(src)?;
    let (tenants, databases) = sql.scopes()?;
    ensure_scopes(db, &tenants, &databases)?;
    let source = src.canonicalize().map_err(|e| ImportError::io(src, e))?;
    let collections = sql.collections()?;
    run_journaled(
        db,
        source,
        &collections,
        |c| (c.tenant.clone(), c.database.clone(), c.name.clone()),
        &mut |c, label, begin| import_collection(src, &sql, db, c, opts, label, begin, progress),
    )
}

/// Creates the tenants and databases `db` lacks.
fn ensure_scopes(
    db: &Db,
    tenants: &[String],
    databases: &[(String, String)],
) -> Result<(), ImportError> {
    for t in tenants {
        if db.get_tenant(t).is_err() {
            db.create_tenant(t)?;
        }
    }
    for (t, d) in databases {
        if db.get_database(t, d).is_err() {
            db.create_database(t, d)?;
        }
    }
    Ok(())
}

/// The loop every source shares: each collection of `items` imported by
/// `one` under the journal (`journal.rs`), skipping those a previous,
/// interrupted run of the same `source` finished; a collection that fails
/// half-way is removed. `one` gets the collection's label and a `begin`
/// hook to call just before it first touches the store.
#[allow(clippy::type_complexity)]
fn run_journaled<C>(
    db: &Db,
    source: PathBuf,
    items: &[C],
    key_of: impl Fn(&C) -> Key,
    one: &mut dyn FnMut(
        &C,
        &str,
        &mut dyn FnMut() -> Result<(), ImportError>,
    ) -> Result<usize, ImportError>,
) -> Result<ImportReport, ImportError> {
    let t0 = Instant::now();
    let store = db.path().to_path_buf();
    let mut j = match journal::recover(&store, db)? {
        Some(j) if j.source == source => j,
        _ => journal::Journal {
            source,
            ..Default::default()
        },
    };
    j.store(&store)?;
    let mut report = ImportReport::default();
    for c in items {
        let key = key_of(c);
        let label = format!("{}/{}/{}", key.0, key.1, key.2);
        if j.done.contains(&key) {
            report.resumed.push(label);
            continue;
        }
        let mut begin = || {
            j.current = Some(key.clone());
            j.store(&store)
        };
        let result = one(c, &label, &mut begin);
        if result.is_err() && j.current.is_some() {
            // Created, then failed while writing: remove what was written.
            let _ = db.delete_collection(&key.0, &key.1, &key.2);
        }
        if j.current.take().is_some() && result.is_ok() {
            j.done.push(key);
        }
        j.store(&store)?;
        match result {
            Ok(n) => {
                tracing::info!(collection = %label, records = n, "imported");
                report.imported.push((label, n));
            }
            Err(e) => {
                tracing::error!(collection = %label, "not imported: {e}");
                report.failed.push((label, e));
            }
        }
    }
    journal::Journal::remove(&store)?;
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(report)
}

/// Imports one collection of a Chroma directory; `begin` runs once
/// everything is read, just before the store is touched.
#[allow(clippy::too_many_arguments)]
fn import_collection(
    src: &Path,
    sql: &ChromaSqlite,
    db: &Db,
    c: &CollectionRow,
    opts: &ImportOptions,
    label: &str,
    begin: &mut dyn FnMut() -> Result<(), ImportError>,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<usize, ImportError> {
    let fail = |what: String| ImportError::collection(label, what);
    let (spec, space) = config::spec(c).map_err(fail)?;
    // Read everything before touching the store.
    let records = match (c.dimension, &c.metadata_segment) {
        (Some(dim), Some(meta_seg)) if dim > 0 => {
            let cosine = space == Space::Cosine;
            let meta = sql.records(meta_seg)?;
            let wm = sql.watermark(meta_seg)?.unwrap_or(0);
            let flushed = match &c.vector_segment {
                Some(v) => hnsw::read(&src.join(v), dim as usize, cosine)?,
                None => None,
            };
            let wv = match &c.vector_segment {
                Some(v) => sql.watermark(v)?,
                None => None,
            }
            .or(flushed.as_ref().and_then(|f| f.max_seq_id))
            .unwrap_or(0);
            let mut recs =
                replay::Records::new(meta, flushed.map(|f| f.vectors).unwrap_or_default());
            for row in sql.queue(&c.id, wv.min(wm))? {
                recs.apply(row, wv, wm, cosine).map_err(fail)?;
            }
            let out = recs.finish();
            if let Some(lost) = out.iter().find(|r| r.vector.is_none()) {
                return Err(fail(format!(
                    "record {:?} has no vector in the index files or the queue (its folder or pickle is missing)",
                    lost.record.id
                )));
            }
            out
        }
        _ => Vec::new(),
    };
    let key = (c.tenant.clone(), c.database.clone(), c.name.clone());
    let total = records.len();
    let mut chunks = records.chunks(BATCH);
    let mut next = || {
        Ok(chunks.next().map(|chunk| RecordBatch {
            ids: chunk.iter().map(|r| r.record.id.clone()).collect(),
            embeddings: Some(
                chunk
                    .iter()
                    .map(|r| r.vector.clone().unwrap_or_default())
                    .collect(),
            ),
            documents: Some(chunk.iter().map(|r| r.record.document.clone()).collect()),
            metadatas: Some(
                chunk
                    .iter()
                    .map(|r| {
                        (!r.record.metadata.is_empty())
                            .then(|| crate::convert::metadata_update(&r.record.metadata))
                    })
                    .collect(),
            ),
            uris: Some(chunk.iter().map(|r| r.record.uri.clone()).collect()),
        }))
    };
    write_collection(
        db, &key, spec, opts, label, begin, total, &mut next, progress,
    )
}

/// Creates the collection `key` (replacing one of that name only with
/// `overwrite`), after `begin`, and adds every batch `next` yields; the
/// records are flushed before it returns. `total` is for progress only.
#[allow(clippy::too_many_arguments)]
fn write_collection(
    db: &Db,
    key: &Key,
    spec: chromite_engine::CollectionSpec,
    opts: &ImportOptions,
    label: &str,
    begin: &mut dyn FnMut() -> Result<(), ImportError>,
    total: usize,
    next: &mut dyn FnMut() -> Result<Option<RecordBatch>, ImportError>,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<usize, ImportError> {
    let (t, d, n) = key;
    let exists = db.get_collection_by_name(t, d, n).is_ok();
    if exists && !opts.overwrite {
        return Err(ImportError::collection(
            label,
            "the store already has a collection of that name (use --overwrite to replace it)"
                .into(),
        ));
    }
    // Refuse settings the store would refuse before replacing anything.
    chromite_engine::Schema::for_create(spec.schema.as_ref(), &spec.config)?;
    begin()?;
    if exists {
        db.delete_collection(t, d, n)?;
    }
    let info = db.create_collection(t, d, n, spec, false)?;
    let col = db.collection(info.id)?;
    let mut done = 0;
    while let Some(batch) = next()? {
        let k = batch.ids.len();
        if k > 0 {
            col.add(batch)?;
        }
        done += k;
        progress(label, done, total.max(done));
    }
    col.flush()?;
    Ok(done)
}
