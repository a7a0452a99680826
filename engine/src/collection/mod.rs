//! A collection: record operations over an owned, atomically published
//! [`Version`](version::Version).
//!
//! - `core.rs`: the open collection (directory, published version, writer
//!   lock, recovery);
//! - `version.rs`: the version and everything a reader asks of it;
//! - `validate.rs`: Chroma's batch validation; `write.rs`: resolving a
//!   request into puts and deletes and committing it;
//! - `search.rs`: k-NN over a version's sources; `hybrid.rs`: Chroma's
//!   Search API, whose sparse leaves `sparse.rs` runs; `flush.rs`:
//!   memtable → segment; `fork.rs`: copy-on-write forks.
//!
//! Chroma's semantics (`chroma-api.md` §5): `get` returns first-insertion
//! order; the dimension is fixed by the first write.

pub mod compaction;
pub(crate) mod core;
pub(crate) mod flush;
pub(crate) mod fork;
mod hybrid;
mod search;
mod sparse;
pub mod stall;
pub mod stats;
pub mod validate;
pub(crate) mod version;
mod write;

use std::collections::HashSet;
use std::sync::Arc;

use rayon::prelude::*;

use self::core::{Core, Event};
use self::search::Hit;
use self::version::{Loc, Version};
use self::write::Mode;
use crate::error::{Error, Result};
use crate::graphs::GraphStatus;
use crate::index::RowSet;
use crate::journal::Op;
use crate::types::{
    CollectionInfo, DeleteRequest, GetRequest, GetResult, Include, QueryRequest, QueryResult,
    RecordBatch, Selection, UpdateBatch,
};

/// A handle to one collection. Cheap to clone.
#[derive(Clone)]
pub struct Collection {
    pub(crate) core: Arc<Core>,
    pub(crate) info: CollectionInfo,
}

impl Collection {
    /// The collection's catalog entry as of when the handle was taken, with
    /// its current dimension, schema and version.
    pub fn info(&self) -> CollectionInfo {
        let v = self.core.version();
        let mut info = self.info.clone();
        info.dimension = v.dimension;
        info.schema = (*v.schema).clone();
        info.version = v.seq;
        info
    }

    /// Adds records; an existing id is a silent no-op. Durable on return.
    pub fn add(&self, batch: RecordBatch) -> Result<()> {
        validate::validate_records(&batch)?;
        self.write(Mode::Add, batch.into())
    }

    /// Inserts or updates (merging metadata). Durable on return.
    pub fn upsert(&self, batch: RecordBatch) -> Result<()> {
        validate::validate_records(&batch)?;
        self.write(Mode::Upsert, batch.into())
    }

    /// Updates existing records; a missing id is a silent no-op. Records
    /// given no embedding keep theirs; the whole batch is one atomic write.
    pub fn update(&self, batch: impl Into<UpdateBatch>) -> Result<()> {
        let batch = batch.into();
        validate::validate_update(&batch)?;
        self.write(Mode::Update, batch)
    }

    /// Deletes by ids and/or filters; returns Chroma's `deleted` count:
    /// the number of ids given when only ids are given, otherwise the number
    /// of records removed (at most `limit`). An empty selection deletes
    /// nothing.
    pub fn delete(&self, req: DeleteRequest) -> Result<usize> {
        let sel = &req.selection;
        let filtered = sel.r#where.is_some() || sel.where_document.is_some();
        self.core.version().check_filters(sel)?;
        if sel.ids.is_none() && !filtered {
            self.core.check_writable()?;
            return Ok(0);
        }
        let done = write::commit(&self.core, |v, _| {
            let mut locs = select(v, sel)?;
            if filtered {
                if let Some(limit) = req.limit {
                    locs.truncate(limit);
                }
            }
            let ops: Vec<Op> = locs
                .iter()
                .map(|&l| Op::Delete(v.id(l).to_string()))
                .collect();
            let count = if filtered {
                ops.len()
            } else {
                sel.ids.as_ref().map_or(0, Vec::len)
            };
            Ok((ops, count))
        })?;
        if done.wrote {
            self.report_write();
        }
        Ok(done.value)
    }

    /// Gets records in first-insertion order.
    pub fn get(&self, req: GetRequest) -> Result<GetResult> {
        self.core.check_alive()?;
        let v = self.core.version();
        v.check_filters(&req.selection)?;
        let locs: Vec<Loc> = select(&v, &req.selection)?
            .into_iter()
            .skip(req.offset)
            .take(req.limit.unwrap_or(usize::MAX))
            .collect();
        let inc = req.include;
        let mut out = GetResult {
            ids: locs.iter().map(|&l| v.id(l).to_string()).collect(),
            ..Default::default()
        };
        if inc.embeddings {
            out.embeddings = Some(
                locs.iter()
                    .map(|&l| v.embedding(l).map(<[f32]>::to_vec))
                    .collect::<Result<_>>()?,
            );
        }
        if inc.documents {
            out.documents = Some(
                locs.iter()
                    .map(|&l| v.document(l).map(str::to_string))
                    .collect(),
            );
        }
        if inc.metadatas {
            out.metadatas = Some(locs.iter().map(|&l| v.metadata(l).cloned()).collect());
        }
        if inc.uris {
            out.uris = Some(locs.iter().map(|&l| v.uri(l).map(str::to_string)).collect());
        }
        Ok(out)
    }

    /// k-NN search, nearest first, with Chroma's distances. Runs on the
    /// version current when it starts, holding no lock.
    pub fn query(&self, req: QueryRequest) -> Result<QueryResult> {
        self.core.check_alive()?;
        let v = self.core.version();
        v.check_filters(&req.selection)?;
        if let Some(d) = v.dimension {
            for q in &req.query_embeddings {
                if q.len() != d {
                    return Err(validate::dimension_error(d, q.len()));
                }
            }
        }
        let sel = &req.selection;
        let allowed: Vec<RowSet> = match &sel.ids {
            Some(ids) => {
                let mut per = vec![Vec::new(); v.source_count()];
                let mut seen = HashSet::new();
                for id in ids {
                    let Some(loc) = v.resolve(id) else {
                        return Err(Error::Internal(
                            "Error executing plan: Internal error: Error finding id".into(),
                        ));
                    };
                    if seen.insert(loc) {
                        per[loc.0].push(loc.1);
                    }
                }
                for (src, rows) in per.iter_mut().enumerate() {
                    rows.sort_unstable();
                    if sel.r#where.is_some() || sel.where_document.is_some() {
                        rows.retain(|&row| v.matches(sel, (src, row)));
                    }
                }
                per.into_iter().map(RowSet::Rows).collect()
            }
            None => v.filtered(sel)?,
        };
        let space = self.core.space;
        let k = req.n_results;
        let ef_search = v.config.hnsw.ef_search;
        let hits: Vec<Vec<Hit>> = if v.dimension.is_none() {
            vec![Vec::new(); req.query_embeddings.len()]
        } else {
            req.query_embeddings
                .par_iter()
                .map(|q| search::top_k(&v, space, q, &allowed, k, ef_search))
                .collect::<Result<_>>()?
        };
        materialize_query(&v, &hits, req.include)
    }

    /// Number of live records.
    pub fn count(&self) -> Result<usize> {
        self.core.check_alive()?;
        Ok(self.core.version().count())
    }

    /// Writes the memtable out as a segment now (normally done in the
    /// background past the size threshold).
    pub fn flush(&self) -> Result<()> {
        flush::flush(&self.core)
    }

    /// Merges all segments into one, dropping deleted and overwritten
    /// records so their disk space comes back.
    pub fn compact(&self) -> Result<()> {
        crate::collection::compaction::merge::compact_all(&self.core)
    }

    /// Flushes the memtable, then compacts and vacuums as the store's
    /// policy asks: what the background worker does after a write
    /// passes the memtable threshold, run now.
    pub fn maintain(&self) -> Result<()> {
        flush::flush(&self.core)?;
        crate::collection::compaction::merge::compact_by_policy(&self.core, &self.core.policy)
    }

    /// The state of the segments' HNSW graphs (for tests and tools).
    pub fn graph_status(&self) -> GraphStatus {
        self.core.graph_status()
    }

    /// Waits until every non-empty segment has a published graph, or
    /// `timeout` passes; returns whether they all do. Queries never need
    /// this (a segment without a graph is searched exactly); tests and
    /// benchmarks use it to measure the graph path.
    pub fn wait_for_graphs(&self, timeout: std::time::Duration) -> bool {
        let until = std::time::Instant::now() + timeout;
        loop {
            let s = self.graph_status();
            if s.ready == s.segments {
                return true;
            }
            if std::time::Instant::now() >= until {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// The collection's storage gauges (segments, unindexed rows, pending
    /// graph builds, bytes on disk and live bytes).
    pub fn stats(&self) -> stats::CollectionStats {
        stats::stats(&self.core)
    }

    /// Number of segment files (for tests and tools).
    pub fn segment_count(&self) -> usize {
        self.core.version().segments.len()
    }

    fn write(&self, mode: Mode, batch: UpdateBatch) -> Result<()> {
        if batch.ids.is_empty() {
            return Ok(());
        }
        let done = write::commit(&self.core, |v, first_seq| {
            Ok((write::resolve(v, mode, batch, first_seq)?, ()))
        })?;
        if let Some(d) = done.fixed_dimension {
            flush::record_dimension(&self.core, d);
        }
        if done.wrote {
            self.report_write();
        }
        Ok(())
    }

    /// Tells the store's worker about a write (it flushes past the
    /// threshold and watches for idleness); without a worker, flushes and
    /// compacts here when the memtable is past the threshold.
    fn report_write(&self) {
        self.core
            .last_write_ms
            .store(flush::now_ms(), std::sync::atomic::Ordering::SeqCst);
        match &self.core.events {
            Some(tx) => {
                let _ = tx.send(Event::Wrote(Arc::downgrade(&self.core)));
            }
            None if self.core.wants_flush() => flush::maintain(&self.core),
            None => {}
        }
    }
}

/// The live records a selection picks, in first-insertion order.
fn select(v: &Version, sel: &Selection) -> Result<Vec<Loc>> {
    let mut locs: Vec<Loc> = match &sel.ids {
        Some(ids) => v.rows_of_ids(ids),
        None => v
            .filtered(sel)?
            .iter()
            .enumerate()
            .flat_map(|(src, rows)| rows.iter(v.source_len(src)).map(move |r| (src, r)))
            .collect(),
    };
    if sel.ids.is_some() && (sel.r#where.is_some() || sel.where_document.is_some()) {
        locs.retain(|&l| v.matches(sel, l));
    }
    locs.sort_by_cached_key(|&l| v.order(l));
    Ok(locs)
}

fn materialize_query(v: &Version, hits: &[Vec<Hit>], inc: Include) -> Result<QueryResult> {
    let mut out = QueryResult {
        ids: hits
            .iter()
            .map(|h| h.iter().map(|x| v.id(x.loc).to_string()).collect())
            .collect(),
        ..Default::default()
    };
    if inc.embeddings {
        out.embeddings = Some(
            hits.iter()
                .map(|h| {
                    h.iter()
                        .map(|x| v.embedding(x.loc).map(<[f32]>::to_vec))
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<_>>()?,
        );
    }
    if inc.documents {
        out.documents = Some(
            hits.iter()
                .map(|h| {
                    h.iter()
                        .map(|x| v.document(x.loc).map(str::to_string))
                        .collect()
                })
                .collect(),
        );
    }
    if inc.metadatas {
        out.metadatas = Some(
            hits.iter()
                .map(|h| h.iter().map(|x| v.metadata(x.loc).cloned()).collect())
                .collect(),
        );
    }
    if inc.uris {
        out.uris = Some(
            hits.iter()
                .map(|h| h.iter().map(|x| v.uri(x.loc).map(str::to_string)).collect())
                .collect(),
        );
    }
    if inc.distances {
        out.distances = Some(
            hits.iter()
                .map(|h| h.iter().map(|x| x.dist).collect())
                .collect(),
        );
    }
    Ok(out)
}
