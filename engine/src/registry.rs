//! The registry of a store's collections: the catalog (names and
//! settings) and the collections open in this process, each opened once
//! and shared by every handle. It owns the rule that a collection's files
//! exist exactly while the catalog names it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use parking_lot::Mutex;
use uuid::Uuid;

use crate::catalog::Catalog;
use crate::collection::core::{Core, Event, OpenArgs};
use crate::error::Result;
use crate::graphs::GraphQueue;
use crate::options::Options;
use crate::types::CollectionInfo;

/// See the module docs.
pub(crate) struct Registry {
    pub(crate) root: PathBuf,
    pub(crate) options: Options,
    pub(crate) catalog: Mutex<Catalog>,
    pub(crate) cores: Mutex<HashMap<Uuid, Arc<Core>>>,
    graphs: GraphQueue,
    /// Where collections report to the maintenance worker.
    events: Option<Sender<Event>>,
    /// Set when the store closes: nothing is opened any more.
    pub(crate) closed: AtomicBool,
}

impl Registry {
    pub(crate) fn new(
        root: PathBuf,
        options: Options,
        catalog: Catalog,
        graphs: GraphQueue,
        events: Option<Sender<Event>>,
    ) -> Registry {
        Registry {
            root,
            options,
            catalog: Mutex::new(catalog),
            cores: Mutex::new(HashMap::new()),
            graphs,
            events,
            closed: AtomicBool::new(false),
        }
    }

    pub(crate) fn collection_dir(&self, id: Uuid) -> PathBuf {
        self.root.join("collections").join(id.to_string())
    }

    /// Applies `f` to a copy of the catalog, stores it, then publishes it.
    pub(crate) fn change_catalog<T>(&self, f: impl FnOnce(&mut Catalog) -> Result<T>) -> Result<T> {
        let mut cat = self.catalog.lock();
        let mut next = cat.clone();
        let out = f(&mut next)?;
        next.store(&*self.options.fs, &self.root)?;
        *cat = next;
        Ok(out)
    }

    pub(crate) fn catalog_entry(&self, id: Uuid) -> Option<CollectionInfo> {
        self.catalog.lock().get(id).cloned()
    }

    /// The entry as the collection's current version sees it: its
    /// dimension, its schema with the keys its records brought, and its
    /// `version` (the sequence number of its newest write). The collection
    /// is opened (its WAL replayed) if it is not open yet; one that cannot
    /// be opened is described from its manifest alone.
    pub(crate) fn live(&self, info: CollectionInfo) -> CollectionInfo {
        match self.core(&info) {
            Ok(core) => Self::described_by_version(info, &core),
            Err(_) => self.described_by_manifest(info).0,
        }
    }

    /// As [`Registry::live`], without opening a collection that is not
    /// open when its manifest describes it (for listings: keys and writes
    /// since its last flush show once it is opened).
    pub(crate) fn listed(&self, info: CollectionInfo) -> CollectionInfo {
        if let Some(core) = self.cores.lock().get(&info.id).cloned() {
            return Self::described_by_version(info, &core);
        }
        match self.described_by_manifest(info) {
            (info, true) => info,
            (info, false) => self.live(info),
        }
    }

    fn described_by_version(mut info: CollectionInfo, core: &Core) -> CollectionInfo {
        let v = core.version();
        info.dimension = v.dimension;
        info.schema = (*v.schema).clone();
        info.version = v.seq;
        info
    }

    /// The entry as the manifest describes it; whether it had a dimension.
    fn described_by_manifest(&self, mut info: CollectionInfo) -> (CollectionInfo, bool) {
        let m = crate::catalog::manifest::Manifest::load(&self.collection_dir(info.id)).ok();
        info.dimension = m.as_ref().and_then(|m| m.dimension.map(|d| d as usize));
        if let Some(m) = &m {
            info.schema.discover_all(&m.schema_keys);
            info.version = m.last_seq;
        }
        let described = info.dimension.is_some();
        (info, described)
    }

    /// The open storage of a collection, opening it on first use.
    pub(crate) fn core(&self, info: &CollectionInfo) -> Result<Arc<Core>> {
        let mut cores = self.cores.lock();
        if let Some(c) = cores.get(&info.id) {
            return Ok(c.clone());
        }
        if self.closed.load(Ordering::SeqCst) {
            return Err(crate::error::Error::Internal("the store is closing".into()));
        }
        let events = self.events.clone();
        let core = Arc::new(Core::open(OpenArgs {
            fs: self.options.fs.clone(),
            id: info.id,
            dir: self.collection_dir(info.id),
            schema: info.schema.clone(),
            memtable_limit: self.options.memtable_bytes,
            memtable_graph: self.options.memtable_graph,
            policy: self.options.compaction.clone(),
            stall: self
                .options
                .write_stall
                .clone()
                .filter(|_| self.events.is_some()),
            graphs: self.graphs.ctx(
                info.id,
                info.schema.config().hnsw.space,
                self.options.fs.clone(),
            ),
            events: events.clone(),
        })?);
        cores.insert(info.id, core.clone());
        if let Some(tx) = events {
            let _ = tx.send(Event::Opened(Arc::downgrade(&core)));
        }
        Ok(core)
    }

    /// Forgets a collection removed from the catalog and deletes its files.
    pub(crate) fn drop_collection_files(&self, id: Uuid) -> Result<()> {
        let core = self.cores.lock().remove(&id);
        if let Some(core) = &core {
            core.dropped.store(true, Ordering::SeqCst);
            core.graphs.closed.store(true, Ordering::SeqCst);
        }
        // Wait for a running flush or compaction of it to finish.
        let _one = core.as_ref().map(|c| c.compaction.lock());
        let _guard = core.as_ref().map(|c| c.maintenance.lock());
        let fs = &*self.options.fs;
        crate::fs::remove_dir_all(fs, &self.collection_dir(id))?;
        crate::fs::sync_dir(fs, &self.root.join("collections"))
    }
}
