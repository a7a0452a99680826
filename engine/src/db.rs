//! `Db`: the open store — catalog of tenants, databases and collections,
//! and the handle to each collection's records.
//!
//! PLACEHOLDER CONTRACT — the storage work replaces these bodies; the server
//! is written against these names and signatures (add, don't break).

use std::path::Path;

use uuid::Uuid;

use crate::collection::Collection;
use crate::error::Result;
use crate::types::{CollectionInfo, CollectionSpec, ConfigUpdate, Database, Metadata, Tenant};

/// The tenant that always exists.
pub const DEFAULT_TENANT: &str = "default_tenant";
/// The database that always exists in [`DEFAULT_TENANT`] (id: the nil UUID).
pub const DEFAULT_DATABASE: &str = "default_database";

/// An open store. Cheap to clone (shared state); safe to use from many threads.
#[derive(Clone)]
pub struct Db {
    _todo: (),
}

impl Db {
    /// Opens (creating if needed) the store in `path`, recovering the WAL.
    /// Fails with [`crate::Error::Locked`] if another process has it open.
    pub fn open(_path: impl AsRef<Path>) -> Result<Db> {
        todo!()
    }

    /// Flushes memtables to segments and fsyncs; called on graceful shutdown.
    pub fn flush(&self) -> Result<()> {
        todo!()
    }

    /// Creates a tenant (name ≥ 3 chars). 409 if it exists.
    pub fn create_tenant(&self, _name: &str) -> Result<()> {
        todo!()
    }

    /// Gets a tenant; NotFound `Tenant [NAME] not found`.
    pub fn get_tenant(&self, _name: &str) -> Result<Tenant> {
        todo!()
    }

    /// Creates a database in `tenant` (Chroma allows an unknown tenant).
    pub fn create_database(&self, _tenant: &str, _name: &str) -> Result<Database> {
        todo!()
    }

    /// Lists a tenant's databases ordered by name.
    pub fn list_databases(&self, _tenant: &str, _limit: Option<usize>, _offset: usize) -> Result<Vec<Database>> {
        todo!()
    }

    /// Gets a database; NotFound `Database [NAME] not found. Are you sure it exists?`.
    pub fn get_database(&self, _tenant: &str, _name: &str) -> Result<Database> {
        todo!()
    }

    /// Deletes a database and all its collections; NotFound `Database [NAME] not found`.
    pub fn delete_database(&self, _tenant: &str, _name: &str) -> Result<()> {
        todo!()
    }

    /// Creates a collection (or returns the existing one when `get_or_create`).
    pub fn create_collection(
        &self,
        _tenant: &str,
        _database: &str,
        _name: &str,
        _spec: CollectionSpec,
        _get_or_create: bool,
    ) -> Result<CollectionInfo> {
        todo!()
    }

    /// Lists collections ordered by UUID string ascending, then offset/limit.
    pub fn list_collections(
        &self,
        _tenant: &str,
        _database: &str,
        _limit: Option<usize>,
        _offset: usize,
    ) -> Result<Vec<CollectionInfo>> {
        todo!()
    }

    /// Number of collections in a database.
    pub fn count_collections(&self, _tenant: &str, _database: &str) -> Result<usize> {
        todo!()
    }

    /// Gets a collection by name; NotFound `Collection [NAME] does not exist`.
    pub fn get_collection_by_name(&self, _tenant: &str, _database: &str, _name: &str) -> Result<CollectionInfo> {
        todo!()
    }

    /// Gets a collection by id; NotFound `Collection [UUID] does not exist`.
    pub fn get_collection_by_id(&self, _id: Uuid) -> Result<CollectionInfo> {
        todo!()
    }

    /// Renames and/or replaces metadata and/or updates configuration.
    /// Renaming onto an existing name is AlreadyExists (409, not Chroma's 500).
    pub fn modify_collection(
        &self,
        _id: Uuid,
        _new_name: Option<&str>,
        _new_metadata: Option<Metadata>,
        _new_config: Option<ConfigUpdate>,
    ) -> Result<()> {
        todo!()
    }

    /// Deletes a collection by name and frees its files.
    pub fn delete_collection(&self, _tenant: &str, _database: &str, _name: &str) -> Result<()> {
        todo!()
    }

    /// Wipes everything but the default tenant and database.
    pub fn reset(&self) -> Result<()> {
        todo!()
    }

    /// A handle for record operations; NotFound `Collection [UUID] does not exist.`
    /// (trailing period, as Chroma's record routes say).
    pub fn collection(&self, _id: Uuid) -> Result<Collection> {
        todo!()
    }
}
