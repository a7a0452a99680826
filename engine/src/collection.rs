//! `Collection`: record operations — writes (add/upsert/update/delete) go
//! through the WAL and memtable; reads (get/query/count) run on a snapshot.
//!
//! PLACEHOLDER CONTRACT — the storage work replaces these bodies.

use crate::error::Result;
use crate::types::{CollectionInfo, DeleteRequest, GetRequest, GetResult, QueryRequest, QueryResult, RecordBatch};

/// A handle to one collection. Cheap to clone.
#[derive(Clone)]
pub struct Collection {
    _todo: (),
}

impl Collection {
    /// The collection's current catalog entry (dimension included).
    pub fn info(&self) -> CollectionInfo {
        todo!()
    }

    /// Adds records; an existing id is a silent no-op. Durable on return.
    pub fn add(&self, _batch: RecordBatch) -> Result<()> {
        todo!()
    }

    /// Inserts or updates (merging metadata). Durable on return.
    pub fn upsert(&self, _batch: RecordBatch) -> Result<()> {
        todo!()
    }

    /// Updates existing records; a missing id is a silent no-op.
    pub fn update(&self, _batch: RecordBatch) -> Result<()> {
        todo!()
    }

    /// Deletes by ids and/or filters; returns Chroma's `deleted` count.
    pub fn delete(&self, _req: DeleteRequest) -> Result<usize> {
        todo!()
    }

    /// Gets records in first-insertion order.
    pub fn get(&self, _req: GetRequest) -> Result<GetResult> {
        todo!()
    }

    /// k-NN search, nearest first, with Chroma's distances.
    pub fn query(&self, _req: QueryRequest) -> Result<QueryResult> {
        todo!()
    }

    /// Number of live records.
    pub fn count(&self) -> Result<usize> {
        todo!()
    }
}
