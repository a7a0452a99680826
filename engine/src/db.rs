//! `Db`: the open store — catalog of tenants, databases and collections,
//! and the handle to each collection's records.
//!
//! Directory layout:
//!
//! ```text
//! <root>/LOCK                      exclusive lock (fs4) while open
//! <root>/CATALOG                   tenants, databases, collections (catalog/mod.rs)
//! <root>/collections/<uuid>/       one directory per collection:
//!        MANIFEST                  live segments + WAL start (catalog/manifest.rs)
//!        wal-<n>.log               WAL generations (wal/)
//!        seg-<n>.seg               immutable segments (segment/)
//! ```
//!
//! A collection's directory is created (with its manifest) before the
//! catalog names it and removed after the catalog stops naming it; at open,
//! directories the catalog does not name are leftovers and are removed.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use fs4::fs_std::FileExt;
use parking_lot::Mutex;
use uuid::Uuid;

use crate::catalog::Catalog;
use crate::collection::Collection;
use crate::compaction::Policy;
use crate::error::{Error, Result};
use crate::flush::{Flusher, IdleFlush};
use crate::graphs::GraphBuilder;
use crate::state::Core;
use crate::types::{CollectionInfo, CollectionSpec, ConfigUpdate, Database, Metadata, Tenant};

/// The tenant that always exists.
pub const DEFAULT_TENANT: &str = "default_tenant";
/// The database that always exists in [`DEFAULT_TENANT`] (id: the nil UUID).
pub const DEFAULT_DATABASE: &str = "default_database";

/// Tuning knobs for [`Db::open_with`]; [`Options::default`] suits a server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Flush a collection's memtable to a segment once it holds about this
    /// many bytes (default 16 MiB: about 10,000 384-d records). Queries scan
    /// the memtable exactly, so it is kept small.
    pub memtable_bytes: usize,
    /// Flush and compact on a background thread (default). When false, a
    /// write that crosses the threshold flushes before it returns.
    pub background: bool,
    /// When to merge segments.
    pub compaction: Policy,
    /// With `background`, also flush a memtable that has had no write for
    /// a while (default: 1 s, at least 1 MiB); `None` turns it off.
    pub idle_flush: Option<IdleFlush>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            memtable_bytes: 16 << 20,
            background: true,
            compaction: Policy::default(),
            idle_flush: Some(IdleFlush::default()),
        }
    }
}

/// Shared state behind every `Db` clone and `Collection` handle.
pub(crate) struct DbInner {
    root: PathBuf,
    options: Options,
    catalog: Mutex<Catalog>,
    cores: Mutex<HashMap<Uuid, Arc<Core>>>,
    // Dropped in this order: the graph builder stops first (which also
    // cancels a merge's graph build), then the flush worker is joined, and
    // the lock goes last.
    graph_builder: GraphBuilder,
    flusher: Option<Flusher>,
    _lock: File,
}

/// An open store. Cheap to clone (shared state); safe to use from many threads.
#[derive(Clone)]
pub struct Db {
    inner: Arc<DbInner>,
}

impl Db {
    /// Opens (creating if needed) the store in `path`, recovering the WAL.
    /// Fails with [`crate::Error::Locked`] if another process has it open.
    pub fn open(path: impl AsRef<Path>) -> Result<Db> {
        Db::open_with(path, Options::default())
    }

    /// [`Db::open`] with explicit options.
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let root = path.as_ref().to_path_buf();
        crate::fs::create_dir_all(&root)?;
        let lock_path = root.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        match FileExt::try_lock_exclusive(&lock) {
            Ok(true) => {}
            Ok(false) => {
                return Err(Error::Locked {
                    path: root,
                    lock: lock_path,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(Error::Locked {
                    path: root,
                    lock: lock_path,
                })
            }
            Err(e) => return Err(Error::io(&lock_path, e)),
        }
        let catalog = Catalog::load(&root)?;
        if !crate::fs::exists(&crate::catalog::path(&root))? {
            catalog.store(&root)?;
        }
        let cdir = root.join("collections");
        crate::fs::create_dir_all(&cdir)?;
        // Remove directories of collections the catalog does not name.
        let known: std::collections::HashSet<Uuid> = catalog.collection_ids().into_iter().collect();
        for entry in std::fs::read_dir(&cdir).map_err(|e| Error::io(&cdir, e))? {
            let entry = entry.map_err(|e| Error::io(&cdir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if Uuid::parse_str(&name).map_or(true, |id| !known.contains(&id)) {
                crate::fs::remove_dir_all(&entry.path())?;
            }
        }
        let flusher = options
            .background
            .then(|| Flusher::start(options.compaction.clone(), options.idle_flush.clone()));
        Ok(Db {
            inner: Arc::new(DbInner {
                root,
                options,
                catalog: Mutex::new(catalog),
                cores: Mutex::new(HashMap::new()),
                flusher,
                graph_builder: GraphBuilder::start(),
                _lock: lock,
            }),
        })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.inner.root
    }

    /// Flushes memtables to segments and fsyncs; called on graceful shutdown.
    pub fn flush(&self) -> Result<()> {
        let cores: Vec<Arc<Core>> = self.inner.cores.lock().values().cloned().collect();
        for core in cores {
            crate::flush::flush(&core)?;
        }
        Ok(())
    }

    /// Creates a tenant (name ≥ 3 chars). 409 if it exists.
    pub fn create_tenant(&self, name: &str) -> Result<()> {
        self.inner.change_catalog(|c| c.create_tenant(name))
    }

    /// Gets a tenant; NotFound `Tenant [NAME] not found`.
    pub fn get_tenant(&self, name: &str) -> Result<Tenant> {
        if self.inner.catalog.lock().has_tenant(name) {
            Ok(Tenant {
                name: name.to_string(),
            })
        } else {
            Err(Error::NotFound(format!("Tenant [{name}] not found")))
        }
    }

    /// Creates a database in `tenant` (Chroma allows an unknown tenant).
    pub fn create_database(&self, tenant: &str, name: &str) -> Result<Database> {
        self.inner
            .change_catalog(|c| c.create_database(tenant, name))
    }

    /// Lists a tenant's databases ordered by name.
    pub fn list_databases(
        &self,
        tenant: &str,
        limit: Option<usize>,
        offset: usize,
    ) -> Result<Vec<Database>> {
        Ok(self
            .inner
            .catalog
            .lock()
            .list_databases(tenant, limit, offset))
    }

    /// Gets a database; NotFound `Database [NAME] not found. Are you sure it exists?`.
    pub fn get_database(&self, tenant: &str, name: &str) -> Result<Database> {
        self.inner
            .catalog
            .lock()
            .database(tenant, name)
            .cloned()
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "Database [{name}] not found. Are you sure it exists?"
                ))
            })
    }

    /// Deletes a database and all its collections; NotFound `Database [NAME] not found`.
    pub fn delete_database(&self, tenant: &str, name: &str) -> Result<()> {
        let ids = self
            .inner
            .change_catalog(|c| c.delete_database(tenant, name))?;
        for id in ids {
            self.inner.drop_collection_files(id)?;
        }
        Ok(())
    }

    /// Creates a collection (or returns the existing one when `get_or_create`).
    pub fn create_collection(
        &self,
        tenant: &str,
        database: &str,
        name: &str,
        spec: CollectionSpec,
        get_or_create: bool,
    ) -> Result<CollectionInfo> {
        let mut cat = self.inner.catalog.lock();
        if let Some(existing) = cat.check_create(tenant, database, name, &spec, get_or_create)? {
            drop(cat);
            return Ok(self.inner.with_dimension(existing));
        }
        let info = CollectionInfo {
            id: Uuid::new_v4(),
            name: name.to_string(),
            tenant: tenant.to_string(),
            database: database.to_string(),
            metadata: spec.metadata,
            config: spec.config,
            dimension: None,
            log_position: 0,
            version: 0,
        };
        Core::create_files(&self.inner.collection_dir(info.id))?;
        let mut next = cat.clone();
        next.insert(info.clone());
        next.store(&self.inner.root)?;
        *cat = next;
        Ok(info)
    }

    /// Lists collections ordered by UUID string ascending, then offset/limit.
    pub fn list_collections(
        &self,
        tenant: &str,
        database: &str,
        limit: Option<usize>,
        offset: usize,
    ) -> Result<Vec<CollectionInfo>> {
        let list = self.inner.catalog.lock().list(tenant, database);
        Ok(list
            .into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .map(|c| self.inner.with_dimension(c))
            .collect())
    }

    /// Number of collections in a database.
    pub fn count_collections(&self, tenant: &str, database: &str) -> Result<usize> {
        Ok(self.inner.catalog.lock().list(tenant, database).len())
    }

    /// Gets a collection by name; NotFound `Collection [NAME] does not exist`.
    pub fn get_collection_by_name(
        &self,
        tenant: &str,
        database: &str,
        name: &str,
    ) -> Result<CollectionInfo> {
        let found = self
            .inner
            .catalog
            .lock()
            .find(tenant, database, name)
            .cloned();
        match found {
            Some(c) => Ok(self.inner.with_dimension(c)),
            None => Err(Error::NotFound(format!(
                "Collection [{name}] does not exist"
            ))),
        }
    }

    /// Gets a collection by id; NotFound `Collection [UUID] does not exist`.
    pub fn get_collection_by_id(&self, id: Uuid) -> Result<CollectionInfo> {
        match self.inner.catalog_entry(id) {
            Some(c) => Ok(self.inner.with_dimension(c)),
            None => Err(Error::NotFound(format!("Collection [{id}] does not exist"))),
        }
    }

    /// Renames and/or replaces metadata and/or updates configuration.
    /// Renaming onto an existing name is AlreadyExists (409, not Chroma's 500).
    pub fn modify_collection(
        &self,
        id: Uuid,
        new_name: Option<&str>,
        new_metadata: Option<Metadata>,
        new_config: Option<ConfigUpdate>,
    ) -> Result<()> {
        self.inner
            .change_catalog(|c| c.modify(id, new_name, new_metadata, new_config))?;
        // Graphs built from now on use the new parameters.
        let core = self.inner.cores.lock().get(&id).cloned();
        if let (Some(core), Some(info)) = (core, self.inner.catalog_entry(id)) {
            *core.graphs.cfg.lock() = info.config.hnsw;
        }
        Ok(())
    }

    /// Deletes a collection by name and frees its files.
    pub fn delete_collection(&self, tenant: &str, database: &str, name: &str) -> Result<()> {
        let id =
            self.inner
                .change_catalog(|c| match c.find(tenant, database, name).map(|i| i.id) {
                    Some(id) => {
                        c.remove(id);
                        Ok(id)
                    }
                    None => Err(Error::NotFound(format!(
                        "Collection [{name}] does not exist"
                    ))),
                })?;
        self.inner.drop_collection_files(id)
    }

    /// Wipes everything but the default tenant and database.
    pub fn reset(&self) -> Result<()> {
        let ids = self.inner.change_catalog(|c| Ok(c.reset()))?;
        for id in ids {
            self.inner.drop_collection_files(id)?;
        }
        Ok(())
    }

    /// A handle for record operations; NotFound `Collection [UUID] does not exist.`
    /// (trailing period, as Chroma's record routes say).
    pub fn collection(&self, id: Uuid) -> Result<Collection> {
        let Some(info) = self.inner.catalog_entry(id) else {
            return Err(Error::NotFound(format!(
                "Collection [{id}] does not exist."
            )));
        };
        let core = self.inner.core(&info)?;
        Ok(Collection {
            core,
            db: self.inner.clone(),
            info,
        })
    }
}

impl DbInner {
    fn collection_dir(&self, id: Uuid) -> PathBuf {
        self.root.join("collections").join(id.to_string())
    }

    /// Applies `f` to a copy of the catalog, stores it, then publishes it.
    fn change_catalog<T>(&self, f: impl FnOnce(&mut Catalog) -> Result<T>) -> Result<T> {
        let mut cat = self.catalog.lock();
        let mut next = cat.clone();
        let out = f(&mut next)?;
        next.store(&self.root)?;
        *cat = next;
        Ok(out)
    }

    pub(crate) fn catalog_entry(&self, id: Uuid) -> Option<CollectionInfo> {
        self.catalog.lock().get(id).cloned()
    }

    fn with_dimension(&self, mut info: CollectionInfo) -> CollectionInfo {
        if info.dimension.is_none() {
            let core = self.cores.lock().get(&info.id).cloned();
            if let Some(core) = core {
                info.dimension = core.state.read().dimension;
            }
        }
        info
    }

    /// The open storage of a collection, opening it on first use.
    fn core(&self, info: &CollectionInfo) -> Result<Arc<Core>> {
        let mut cores = self.cores.lock();
        if let Some(c) = cores.get(&info.id) {
            return Ok(c.clone());
        }
        let core = Arc::new(Core::open(
            info.id,
            self.collection_dir(info.id),
            info.config.hnsw.space,
            self.options.memtable_bytes,
            self.graph_builder
                .ctx(info.config.hnsw.space, info.config.hnsw.clone()),
        )?);
        cores.insert(info.id, core.clone());
        Ok(core)
    }

    /// The options the store was opened with.
    pub(crate) fn options(&self) -> &Options {
        &self.options
    }

    /// Records the dimension fixed by a collection's first write.
    pub(crate) fn note_dimension(&self, id: Uuid, dim: usize) {
        let mut cat = self.catalog.lock();
        let mut next = cat.clone();
        if next.set_dimension(id, dim) {
            match next.store(&self.root) {
                Ok(()) => *cat = next,
                Err(e) => {
                    tracing::warn!(collection = %id, "could not record the dimension in the catalog: {e}")
                }
            }
        }
    }

    /// Called after each write: flush if the memtable is past the threshold.
    pub(crate) fn after_write(&self, core: &Arc<Core>) {
        if let Some(f) = &self.flusher {
            f.touch(core);
        }
        if !core.wants_flush() {
            return;
        }
        match &self.flusher {
            Some(f) => {
                f.request(core);
            }
            None => crate::flush::maintain(core, &self.options.compaction),
        }
    }

    /// Forgets a collection removed from the catalog and deletes its files.
    fn drop_collection_files(&self, id: Uuid) -> Result<()> {
        let core = self.cores.lock().remove(&id);
        if let Some(core) = &core {
            core.dropped.store(true, Ordering::SeqCst);
            core.graphs.closed.store(true, Ordering::SeqCst);
        }
        // Wait for a running flush or compaction of it to finish.
        let _guard = core.as_ref().map(|c| c.flush_lock.lock());
        crate::fs::remove_dir_all(&self.collection_dir(id))?;
        crate::fs::sync_dir(&self.root.join("collections"))
    }
}
