//! The catalog: tenants, databases and collections (Chroma's model) with
//! their names and settings, kept in memory and persisted as one
//! checksummed file, `CATALOG`, rewritten atomically on every change. A
//! collection's dimension is not here: its manifest holds it. Also the
//! per-collection manifest and the name rules.
//!
//! File `CATALOG`: envelope (`codec.rs`) with magic `CHRMCAT1` and a JSON
//! payload (JSON because a collection's schema holds embedding functions,
//! arbitrary JSON kept verbatim). Version 2 stores each collection's
//! `schema`; a version-1 catalog stored a `config` instead, and opens with
//! the schema derived from it (the default schema for a default config).

pub(crate) mod manifest;
pub mod names;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::types::{CollectionInfo, CollectionSpec, ConfigUpdate, Database, Metadata};

/// The tenant that always exists.
pub const DEFAULT_TENANT: &str = "default_tenant";
/// The database that always exists in [`DEFAULT_TENANT`] (id: the nil UUID).
pub const DEFAULT_DATABASE: &str = "default_database";

const MAGIC: &[u8; 8] = b"CHRMCAT1";
const VERSION: u32 = 2;

/// On-disk form of the catalog.
#[derive(Serialize, Deserialize)]
struct CatalogFile<C> {
    tenants: Vec<String>,
    databases: Vec<Database>,
    collections: Vec<C>,
    /// Fork lineage: (collection, the root of its fork tree) for every
    /// collection made by a fork.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    roots: Vec<(Uuid, Uuid)>,
    /// Fork edges per tree root (never decremented, even by deletes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    forks: Vec<(Uuid, u64)>,
}

/// A collection as version 1 stored it: a configuration, no schema.
#[derive(Deserialize)]
struct CollectionV1 {
    id: Uuid,
    name: String,
    tenant: String,
    database: String,
    metadata: Option<Metadata>,
    config: crate::types::CollectionConfig,
}

impl From<CollectionV1> for CollectionInfo {
    fn from(c: CollectionV1) -> CollectionInfo {
        CollectionInfo {
            id: c.id,
            name: c.name,
            tenant: c.tenant,
            database: c.database,
            metadata: c.metadata,
            schema: crate::schema::Schema::from_config(&c.config),
            dimension: None,
            log_position: 0,
            version: 0,
        }
    }
}

/// The catalog in memory. Cloned, changed and stored as a whole.
#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    tenants: BTreeSet<String>,
    /// (tenant, name) -> database.
    databases: BTreeMap<(String, String), Database>,
    collections: HashMap<Uuid, CollectionInfo>,
    /// Collection -> root of its fork tree (forks only).
    roots: BTreeMap<Uuid, Uuid>,
    /// Tree root -> number of forks made in the tree.
    forks: BTreeMap<Uuid, u64>,
}

impl Default for Catalog {
    fn default() -> Self {
        let mut c = Catalog {
            tenants: BTreeSet::new(),
            databases: BTreeMap::new(),
            collections: HashMap::new(),
            roots: BTreeMap::new(),
            forks: BTreeMap::new(),
        };
        c.ensure_defaults();
        c
    }
}

/// The catalog file path in a data directory.
pub(crate) fn path(root: &Path) -> PathBuf {
    root.join("CATALOG")
}

impl Catalog {
    fn ensure_defaults(&mut self) {
        self.tenants.insert(DEFAULT_TENANT.to_string());
        self.databases
            .entry((DEFAULT_TENANT.to_string(), DEFAULT_DATABASE.to_string()))
            .or_insert_with(|| Database {
                id: Uuid::nil(),
                name: DEFAULT_DATABASE.to_string(),
                tenant: DEFAULT_TENANT.to_string(),
            });
    }

    /// Loads the catalog from `root`, or a fresh one if there is none.
    pub(crate) fn load(root: &Path) -> Result<Catalog> {
        let p = path(root);
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Catalog::default()),
            Err(e) => return Err(Error::io(&p, e)),
        };
        Self::decode(&bytes).map_err(|d| Error::corrupted(&p, d))
    }

    fn decode(bytes: &[u8]) -> std::result::Result<Catalog, String> {
        let (version, payload) = crate::codec::open_envelope(MAGIC, 1..=VERSION, bytes)?;
        let f: CatalogFile<CollectionInfo> = if version == 1 {
            let f: CatalogFile<CollectionV1> = crate::codec::decode_json(payload)?;
            CatalogFile {
                tenants: f.tenants,
                databases: f.databases,
                collections: f.collections.into_iter().map(Into::into).collect(),
                roots: f.roots,
                forks: f.forks,
            }
        } else {
            crate::codec::decode_json(payload)?
        };
        let mut c = Catalog {
            tenants: f.tenants.into_iter().collect(),
            databases: f
                .databases
                .into_iter()
                .map(|d| ((d.tenant.clone(), d.name.clone()), d))
                .collect(),
            // A collection's dimension lives in its manifest; catalogs
            // written before that rule carried a copy, dropped here.
            collections: f
                .collections
                .into_iter()
                .map(|c| {
                    (
                        c.id,
                        CollectionInfo {
                            dimension: None,
                            ..c
                        },
                    )
                })
                .collect(),
            roots: f.roots.into_iter().collect(),
            forks: f.forks.into_iter().collect(),
        };
        c.ensure_defaults();
        Ok(c)
    }

    /// Stores the catalog atomically.
    pub(crate) fn store(&self, fs: &dyn crate::fs::Fs, root: &Path) -> Result<()> {
        let mut collections: Vec<CollectionInfo> = self.collections.values().cloned().collect();
        collections.sort_by_key(|c| c.id);
        let f = CatalogFile {
            tenants: self.tenants.iter().cloned().collect(),
            databases: self.databases.values().cloned().collect(),
            collections,
            roots: self.roots.iter().map(|(a, b)| (*a, *b)).collect(),
            forks: self.forks.iter().map(|(a, b)| (*a, *b)).collect(),
        };
        let bytes = crate::codec::envelope(MAGIC, VERSION, &crate::codec::encode_json(&f));
        crate::fs::atomic_write(fs, &path(root), &bytes)
    }

    // -- tenants ------------------------------------------------------------

    pub(crate) fn create_tenant(&mut self, name: &str) -> Result<()> {
        names::check_tenant(name)?;
        if !self.tenants.insert(name.to_string()) {
            return Err(Error::AlreadyExists(format!(
                "Tenant [{name}] already exists"
            )));
        }
        Ok(())
    }

    /// Every tenant's name, sorted.
    pub(crate) fn tenants(&self) -> Vec<String> {
        self.tenants.iter().cloned().collect()
    }

    pub(crate) fn has_tenant(&self, name: &str) -> bool {
        self.tenants.contains(name)
    }

    // -- databases ----------------------------------------------------------

    pub(crate) fn create_database(&mut self, tenant: &str, name: &str) -> Result<Database> {
        names::check_database(name)?;
        let key = (tenant.to_string(), name.to_string());
        if self.databases.contains_key(&key) {
            return Err(Error::AlreadyExists(format!(
                "Database [{name}] already exists"
            )));
        }
        let db = Database {
            id: Uuid::new_v4(),
            name: name.to_string(),
            tenant: tenant.to_string(),
        };
        self.databases.insert(key, db.clone());
        Ok(db)
    }

    pub(crate) fn list_databases(
        &self,
        tenant: &str,
        limit: Option<usize>,
        offset: usize,
    ) -> Vec<Database> {
        self.databases
            .range((tenant.to_string(), String::new())..)
            .take_while(|((t, _), _)| t == tenant)
            .map(|(_, d)| d.clone())
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .collect()
    }

    pub(crate) fn database(&self, tenant: &str, name: &str) -> Option<&Database> {
        self.databases.get(&(tenant.to_string(), name.to_string()))
    }

    /// Removes a database; returns the ids of the collections it held.
    pub(crate) fn delete_database(&mut self, tenant: &str, name: &str) -> Result<Vec<Uuid>> {
        if self
            .databases
            .remove(&(tenant.to_string(), name.to_string()))
            .is_none()
        {
            return Err(Error::NotFound(format!("Database [{name}] not found")));
        }
        let ids: Vec<Uuid> = self
            .collections
            .values()
            .filter(|c| c.tenant == tenant && c.database == name)
            .map(|c| c.id)
            .collect();
        for id in &ids {
            self.collections.remove(id);
        }
        self.ensure_defaults();
        Ok(ids)
    }

    // -- collections --------------------------------------------------------

    /// The collection named `name` in `tenant`/`database`.
    pub(crate) fn find(&self, tenant: &str, database: &str, name: &str) -> Option<&CollectionInfo> {
        self.collections
            .values()
            .find(|c| c.tenant == tenant && c.database == database && c.name == name)
    }

    pub(crate) fn get(&self, id: Uuid) -> Option<&CollectionInfo> {
        self.collections.get(&id)
    }

    /// Checks a create request; returns the existing collection when
    /// `get_or_create` finds one, `None` when a new one should be made.
    pub(crate) fn check_create(
        &self,
        tenant: &str,
        database: &str,
        name: &str,
        spec: &CollectionSpec,
        get_or_create: bool,
    ) -> Result<Option<CollectionInfo>> {
        names::check_collection(name)?;
        if spec.metadata.as_ref().is_some_and(|m| m.is_empty()) {
            return Err(Error::invalid(
                "Validation error: metadata: Metadata cannot be empty",
            ));
        }
        if self.database(tenant, database).is_none() {
            return Err(Error::invalid(format!(
                "Database [{database}] does not exist"
            )));
        }
        if let Some(existing) = self.find(tenant, database, name) {
            if get_or_create {
                return Ok(Some(existing.clone()));
            }
            return Err(Error::AlreadyExists(format!(
                "Collection [{name}] already exists"
            )));
        }
        Ok(None)
    }

    pub(crate) fn insert(&mut self, info: CollectionInfo) {
        self.collections.insert(info.id, info);
    }

    pub(crate) fn list(&self, tenant: &str, database: &str) -> Vec<CollectionInfo> {
        let mut v: Vec<CollectionInfo> = self
            .collections
            .values()
            .filter(|c| c.tenant == tenant && c.database == database)
            .cloned()
            .collect();
        v.sort_by_key(|c| c.id.to_string());
        v
    }

    pub(crate) fn modify(
        &mut self,
        id: Uuid,
        new_name: Option<&str>,
        new_metadata: Option<Metadata>,
        new_config: Option<ConfigUpdate>,
    ) -> Result<()> {
        let Some(current) = self.collections.get(&id) else {
            return Err(Error::NotFound(format!("Collection [{id}] does not exist")));
        };
        if let Some(name) = new_name {
            names::check_collection(name)?;
            if let Some(other) = self.find(&current.tenant, &current.database, name) {
                if other.id != id {
                    return Err(Error::AlreadyExists(format!(
                        "Collection [{name}] already exists"
                    )));
                }
            }
        }
        if new_metadata.as_ref().is_some_and(|m| m.is_empty()) {
            return Err(Error::invalid(
                "Validation error: new_metadata: Metadata cannot be empty",
            ));
        }
        let Some(c) = self.collections.get_mut(&id) else {
            return Err(Error::NotFound(format!("Collection [{id}] does not exist")));
        };
        if let Some(name) = new_name {
            c.name = name.to_string();
        }
        if let Some(m) = new_metadata {
            c.metadata = Some(m);
        }
        if let Some(u) = new_config {
            c.schema.update(&u);
        }
        Ok(())
    }

    /// Records that `fork` was forked from `source`: one more edge in
    /// their tree.
    pub(crate) fn add_fork(&mut self, source: Uuid, fork: Uuid) {
        let root = self.roots.get(&source).copied().unwrap_or(source);
        self.roots.insert(fork, root);
        *self.forks.entry(root).or_default() += 1;
    }

    /// Forks made in the tree `id` belongs to (Chroma's `fork_count`).
    pub(crate) fn fork_count(&self, id: Uuid) -> u64 {
        let root = self.roots.get(&id).copied().unwrap_or(id);
        self.forks.get(&root).copied().unwrap_or(0)
    }

    pub(crate) fn remove(&mut self, id: Uuid) -> Option<CollectionInfo> {
        self.collections.remove(&id)
    }

    /// Every collection id.
    pub(crate) fn collection_ids(&self) -> Vec<Uuid> {
        self.collections.keys().copied().collect()
    }

    /// Everything but the defaults removed; returns the removed collection ids.
    pub(crate) fn reset(&mut self) -> Vec<Uuid> {
        let ids = self.collection_ids();
        *self = Catalog::default();
        ids
    }
}
