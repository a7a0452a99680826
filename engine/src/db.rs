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
//!        wal-<n>.log               WAL generations (journal/)
//!        seg-<n>.seg               immutable segments (segment/)
//! ```
//!
//! A collection's directory is created (with its manifest) before the
//! catalog names it and removed after the catalog stops naming it; at open,
//! directories the catalog does not name are leftovers and are removed.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use fs4::fs_std::FileExt;
use parking_lot::Mutex;
use uuid::Uuid;

use crate::catalog::Catalog;
use crate::collection::core::Core;
use crate::collection::Collection;
use crate::error::{Error, Result};
use crate::graphs::GraphBuilder;
use crate::registry::Registry;
use crate::types::{CollectionInfo, CollectionSpec, ConfigUpdate, Database, Metadata, Tenant};
use crate::worker::Worker;

pub use crate::catalog::{DEFAULT_DATABASE, DEFAULT_TENANT};
pub use crate::options::Options;

/// Shared state behind every `Db` clone.
pub(crate) struct DbInner {
    reg: Arc<Registry>,
    /// The thread opening every collection after the store opened.
    opener: Mutex<Option<std::thread::JoinHandle<()>>>,
    // Dropped in this order (after `Drop::drop` stops the opener): the
    // graph builder stops first (which also cancels a merge's graph
    // build), then the maintenance worker is joined, and the lock goes
    // last.
    _graph_builder: GraphBuilder,
    worker: Option<Worker>,
    _lock: File,
}

impl Drop for DbInner {
    fn drop(&mut self) {
        // No collection is opened once the lock may be released.
        self.reg.closed.store(true, Ordering::SeqCst);
        if let Some(h) = self.opener.lock().take() {
            let _ = h.join();
        }
    }
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
        let fs = options.fs.clone();
        crate::fs::create_dir_all(&*fs, &root)?;
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
            catalog.store(&*fs, &root)?;
        }
        let cdir = root.join("collections");
        crate::fs::create_dir_all(&*fs, &cdir)?;
        // Remove directories of collections the catalog does not name.
        let known: std::collections::HashSet<Uuid> = catalog.collection_ids().into_iter().collect();
        for entry in std::fs::read_dir(&cdir).map_err(|e| Error::io(&cdir, e))? {
            let entry = entry.map_err(|e| Error::io(&cdir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if Uuid::parse_str(&name).map_or(true, |id| !known.contains(&id)) {
                crate::fs::remove_dir_all(&*fs, &entry.path())?;
            }
        }
        let worker = options
            .background
            .then(|| Worker::start(options.idle_flush.clone()));
        let graph_builder = GraphBuilder::start();
        let reg = Arc::new(Registry::new(
            root,
            options,
            catalog,
            graph_builder.queue(),
            worker.as_ref().and_then(Worker::sender),
        ));
        let opener = worker
            .is_some()
            .then(|| open_all_in_background(&reg))
            .flatten();
        Ok(Db {
            inner: Arc::new(DbInner {
                reg,
                opener: Mutex::new(opener),
                _graph_builder: graph_builder,
                worker,
                _lock: lock,
            }),
        })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.inner.reg.root
    }

    /// Flushes memtables to segments and fsyncs; called on graceful shutdown.
    pub fn flush(&self) -> Result<()> {
        let cores: Vec<Arc<Core>> = self.inner.reg.cores.lock().values().cloned().collect();
        for core in cores {
            crate::collection::flush::flush(&core)?;
        }
        Ok(())
    }

    /// The storage gauges of every open collection, with its id.
    pub fn stats(&self) -> Vec<(Uuid, crate::collection::stats::CollectionStats)> {
        let cores: Vec<Arc<Core>> = self.inner.reg.cores.lock().values().cloned().collect();
        let mut out: Vec<_> = cores
            .iter()
            .map(|c| (c.id, crate::collection::stats::stats(c)))
            .collect();
        out.sort_by_key(|(id, _)| *id);
        out
    }

    /// Background tasks (flushes, compactions, graph builds) that panicked
    /// since the store opened; each was logged and the worker went on.
    pub fn maintenance_panics(&self) -> u64 {
        self.inner.worker.as_ref().map_or(0, Worker::panics)
            + crate::graphs::PANICS.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Creates a tenant (name ≥ 3 chars). 409 if it exists.
    pub fn create_tenant(&self, name: &str) -> Result<()> {
        self.inner.reg.change_catalog(|c| c.create_tenant(name))
    }

    /// Writes a consistent point-in-time snapshot of the whole store into
    /// the new directory `dest` while the store keeps serving (see
    /// [`crate::snapshot`]): every write acknowledged before it is in it,
    /// none after; segments are hard links, so it costs almost no disk.
    pub fn snapshot(&self, dest: &Path) -> Result<crate::snapshot::SnapshotStats> {
        crate::snapshot::write(&self.inner.reg, dest)
    }

    /// Every tenant's name, sorted (Chroma's API has no such call; the
    /// data tools use it).
    pub fn list_tenants(&self) -> Vec<String> {
        self.inner.reg.catalog.lock().tenants()
    }

    /// Gets a tenant; NotFound `Tenant [NAME] not found`.
    pub fn get_tenant(&self, name: &str) -> Result<Tenant> {
        if self.inner.reg.catalog.lock().has_tenant(name) {
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
            .reg
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
            .reg
            .catalog
            .lock()
            .list_databases(tenant, limit, offset))
    }

    /// Gets a database; NotFound `Database [NAME] not found. Are you sure it exists?`.
    pub fn get_database(&self, tenant: &str, name: &str) -> Result<Database> {
        self.inner
            .reg
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
            .reg
            .change_catalog(|c| c.delete_database(tenant, name))?;
        for id in ids {
            self.inner.reg.drop_collection_files(id)?;
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
        let schema = crate::schema::Schema::for_create(spec.schema.as_ref(), &spec.config)?;
        let mut cat = self.inner.reg.catalog.lock();
        if let Some(existing) = cat.check_create(tenant, database, name, &spec, get_or_create)? {
            drop(cat);
            return Ok(self.inner.reg.live(existing));
        }
        let info = CollectionInfo {
            id: Uuid::new_v4(),
            name: name.to_string(),
            tenant: tenant.to_string(),
            database: database.to_string(),
            metadata: spec.metadata,
            schema,
            dimension: None,
            log_position: 0,
            version: 0,
        };
        let fs = &*self.inner.reg.options.fs;
        Core::create_files(fs, &self.inner.reg.collection_dir(info.id))?;
        let mut next = cat.clone();
        next.insert(info.clone());
        next.store(fs, &self.inner.reg.root)?;
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
        let list = self.inner.reg.catalog.lock().list(tenant, database);
        Ok(list
            .into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .map(|c| self.inner.reg.listed(c))
            .collect())
    }

    /// Number of collections in a database.
    pub fn count_collections(&self, tenant: &str, database: &str) -> Result<usize> {
        Ok(self.inner.reg.catalog.lock().list(tenant, database).len())
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
            .reg
            .catalog
            .lock()
            .find(tenant, database, name)
            .cloned();
        match found {
            Some(c) => Ok(self.inner.reg.live(c)),
            None => Err(Error::NotFound(format!(
                "Collection [{name}] does not exist"
            ))),
        }
    }

    /// Gets a collection by id; NotFound `Collection [UUID] does not exist`.
    pub fn get_collection_by_id(&self, id: Uuid) -> Result<CollectionInfo> {
        match self.inner.reg.catalog_entry(id) {
            Some(c) => Ok(self.inner.reg.live(c)),
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
            .reg
            .change_catalog(|c| c.modify(id, new_name, new_metadata, new_config))?;
        // The open collection's next version carries the new parameters
        // (queries use its ef_search; graphs built from now on the rest).
        let core = self.inner.reg.cores.lock().get(&id).cloned();
        if let (Some(core), Some(info)) = (core, self.inner.reg.catalog_entry(id)) {
            core.set_schema(info.schema);
        }
        Ok(())
    }

    /// Forks collection `id` as `new_name` in the same database: a snapshot
    /// of every write acknowledged before the call, independent afterwards.
    /// Segments are shared through hard links (copy on write: nothing is
    /// copied until a compaction rewrites them). The catalog write is the
    /// commit point, so a crash leaves no fork or a complete one.
    pub fn fork_collection(&self, id: Uuid, new_name: &str) -> Result<CollectionInfo> {
        let reg = &self.inner.reg;
        let not_found = || Error::NotFound(format!("Collection [{id}] does not exist"));
        let source = reg.catalog_entry(id).ok_or_else(not_found)?;
        crate::catalog::names::check_collection(new_name)?;
        let (tenant, database) = (source.tenant.clone(), source.database.clone());
        let exists = |c: &crate::catalog::Catalog| c.find(&tenant, &database, new_name).is_some();
        let already = || Error::AlreadyExists(format!("Collection [{new_name}] already exists"));
        if exists(&reg.catalog.lock()) {
            return Err(already());
        }
        let core = reg.core(&source)?;
        let new_id = Uuid::new_v4();
        let dir = reg.collection_dir(new_id);
        let fs = &*reg.options.fs;
        if let Err(e) = crate::collection::fork::fork_files(&core, &dir) {
            let _ = crate::fs::remove_dir_all(fs, &dir);
            return Err(e);
        }
        // Chroma's answer (`chroma-search-api.md` §7): the source's
        // dimension and log position, version 0. The fork is not opened
        // here (that would decode every record of its segments); its first
        // use opens it.
        let info = CollectionInfo {
            id: new_id,
            name: new_name.to_string(),
            dimension: core.version().dimension,
            version: 0,
            ..source
        };
        let added = reg.change_catalog(|c| {
            // The source as it is now (a concurrent modify is carried over).
            let Some(now) = c.get(id).cloned() else {
                return Err(not_found());
            };
            if exists(c) {
                return Err(already());
            }
            let info = CollectionInfo {
                metadata: now.metadata,
                schema: now.schema,
                ..info.clone()
            };
            c.insert(info.clone());
            c.add_fork(id, new_id);
            Ok(info)
        });
        match added {
            // With the schema as the source's records have grown it (the
            // fork's manifest carries the same discovered keys).
            Ok(info) => Ok(CollectionInfo {
                schema: (*core.version().schema).clone(),
                ..info
            }),
            Err(e) => {
                let _ = crate::fs::remove_dir_all(fs, &dir);
                Err(e)
            }
        }
    }

    /// Forks made in the fork tree of collection `id` (Chroma's
    /// `fork_count`: every member of a tree reports the tree's total; a
    /// deleted member's forks still count).
    pub fn fork_count(&self, id: Uuid) -> Result<u64> {
        let cat = self.inner.reg.catalog.lock();
        if cat.get(id).is_none() {
            return Err(Error::NotFound(format!("Collection [{id}] does not exist")));
        }
        Ok(cat.fork_count(id))
    }

    /// Deletes a collection by name and frees its files.
    pub fn delete_collection(&self, tenant: &str, database: &str, name: &str) -> Result<()> {
        let id = self.inner.reg.change_catalog(|c| {
            match c.find(tenant, database, name).map(|i| i.id) {
                Some(id) => {
                    c.remove(id);
                    Ok(id)
                }
                None => Err(Error::NotFound(format!(
                    "Collection [{name}] does not exist"
                ))),
            }
        })?;
        self.inner.reg.drop_collection_files(id)
    }

    /// Wipes everything but the default tenant and database.
    pub fn reset(&self) -> Result<()> {
        let ids = self.inner.reg.change_catalog(|c| Ok(c.reset()))?;
        for id in ids {
            self.inner.reg.drop_collection_files(id)?;
        }
        Ok(())
    }

    /// A handle for record operations; NotFound `Collection [UUID] does not exist.`
    /// (trailing period, as Chroma's record routes say).
    pub fn collection(&self, id: Uuid) -> Result<Collection> {
        let Some(info) = self.inner.reg.catalog_entry(id) else {
            return Err(Error::NotFound(format!(
                "Collection [{id}] does not exist."
            )));
        };
        let core = self.inner.reg.core(&info)?;
        Ok(Collection { core, info })
    }
}

/// Opens every collection on a background thread, so that the
/// maintenance worker looks at each (a store left fragmented is compacted
/// without waiting for a request to open it). Requests meanwhile open what
/// they need themselves.
fn open_all_in_background(reg: &Arc<Registry>) -> Option<std::thread::JoinHandle<()>> {
    let reg = reg.clone();
    let spawned = std::thread::Builder::new()
        .name("chromite-open".into())
        .spawn(move || {
            let ids = reg.catalog.lock().collection_ids();
            for id in ids {
                if reg.closed.load(Ordering::SeqCst) {
                    return;
                }
                let Some(info) = reg.catalog_entry(id) else {
                    continue;
                };
                if let Err(e) = reg.core(&info) {
                    tracing::error!(collection = %id, "could not open the collection: {e}");
                }
            }
        });
    match spawned {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::warn!(
                "could not start the background open ({e}); collections open on first use"
            );
            None
        }
    }
}
