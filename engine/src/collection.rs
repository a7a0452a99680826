//! `Collection`: record operations — writes (add/upsert/update/delete) go
//! through the WAL and memtable; reads (get/query/count) run on a snapshot.
//!
//! Chroma's semantics (`chroma-api.md` §5): add of an existing id is a
//! no-op, update of a missing id is a no-op, upsert is add-or-update;
//! metadata merges (a `None` value deletes the key, an empty result is
//! `None`); `get` returns first-insertion order; the dimension is fixed by
//! the first write.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rayon::prelude::*;

use crate::db::DbInner;
use crate::error::{Error, Result};
use crate::graphs::GraphStatus;
use crate::record::{Op, StoredRecord, WalBatch};
use crate::snapshot::{Loc2, Snapshot, SourceRows};
use crate::state::Core;
use crate::types::{
    CollectionInfo, DeleteRequest, GetRequest, GetResult, Include, Metadata, MetadataUpdate,
    QueryRequest, QueryResult, RecordBatch, Selection,
};

/// A handle to one collection. Cheap to clone.
#[derive(Clone)]
pub struct Collection {
    pub(crate) core: Arc<Core>,
    pub(crate) db: Arc<DbInner>,
    pub(crate) info: CollectionInfo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Add,
    Upsert,
    Update,
}

impl Collection {
    /// The collection's current catalog entry (dimension included).
    pub fn info(&self) -> CollectionInfo {
        let mut info = self
            .db
            .catalog_entry(self.core.id)
            .unwrap_or_else(|| self.info.clone());
        if info.dimension.is_none() {
            info.dimension = self.core.state.read().dimension;
        }
        info
    }

    /// Adds records; an existing id is a silent no-op. Durable on return.
    pub fn add(&self, batch: RecordBatch) -> Result<()> {
        self.write(Mode::Add, batch)
    }

    /// Inserts or updates (merging metadata). Durable on return.
    pub fn upsert(&self, batch: RecordBatch) -> Result<()> {
        self.write(Mode::Upsert, batch)
    }

    /// Updates existing records; a missing id is a silent no-op.
    pub fn update(&self, batch: RecordBatch) -> Result<()> {
        self.write(Mode::Update, batch)
    }

    /// Deletes by ids and/or filters; returns Chroma's `deleted` count:
    /// the number of ids given when only ids are given, otherwise the number
    /// of records removed (at most `limit`). An empty selection deletes
    /// nothing.
    pub fn delete(&self, req: DeleteRequest) -> Result<usize> {
        self.core.check_writable()?;
        let sel = &req.selection;
        let filtered = sel.r#where.is_some() || sel.where_document.is_some();
        if sel.ids.is_none() && !filtered {
            return Ok(0);
        }
        let mut st = self.core.state.write();
        let (ops, count) = {
            let snap = Snapshot::new(&st)?;
            let mut locs = select(&snap, sel)?;
            if filtered {
                if let Some(limit) = req.limit {
                    locs.truncate(limit);
                }
            }
            let ops: Vec<Op> = locs
                .iter()
                .map(|&l| Op::Delete(snap.id(l).to_string()))
                .collect();
            let count = if filtered {
                ops.len()
            } else {
                sel.ids.as_ref().map_or(0, Vec::len)
            };
            (ops, count)
        };
        if ops.is_empty() {
            return Ok(count);
        }
        let batch = WalBatch {
            first_seq: st.last_seq + 1,
            ops,
        };
        let frame = crate::codec::encode_frame(&batch);
        let wal = st.wal.clone();
        let end = wal.append(&frame).inspect_err(|_| self.core.poison())?;
        st.apply(batch);
        drop(st);
        wal.sync_to(end).inspect_err(|_| self.core.poison())?;
        Ok(count)
    }

    /// Gets records in first-insertion order.
    pub fn get(&self, req: GetRequest) -> Result<GetResult> {
        self.core.check_alive()?;
        let st = self.core.state.read();
        let snap = Snapshot::new(&st)?;
        let locs = select(&snap, &req.selection)?;
        let locs: Vec<Loc2> = locs
            .into_iter()
            .skip(req.offset)
            .take(req.limit.unwrap_or(usize::MAX))
            .collect();
        let inc = req.include;
        let mut out = GetResult {
            ids: locs.iter().map(|&l| snap.id(l).to_string()).collect(),
            ..Default::default()
        };
        if inc.embeddings {
            out.embeddings = Some(
                locs.iter()
                    .map(|&l| snap.embedding(l).map(<[f32]>::to_vec))
                    .collect::<Result<_>>()?,
            );
        }
        if inc.documents {
            out.documents = Some(
                locs.iter()
                    .map(|&l| snap.document(l).map(str::to_string))
                    .collect(),
            );
        }
        if inc.metadatas {
            out.metadatas = Some(locs.iter().map(|&l| snap.metadata(l).cloned()).collect());
        }
        if inc.uris {
            out.uris = Some(
                locs.iter()
                    .map(|&l| snap.uri(l).map(str::to_string))
                    .collect(),
            );
        }
        Ok(out)
    }

    /// k-NN search, nearest first, with Chroma's distances.
    pub fn query(&self, req: QueryRequest) -> Result<QueryResult> {
        self.core.check_alive()?;
        let st = self.core.state.read();
        let snap = Snapshot::new(&st)?;
        if let Some(d) = st.dimension {
            for q in &req.query_embeddings {
                if q.len() != d {
                    return Err(dimension_error(d, q.len()));
                }
            }
        }
        let sel = &req.selection;
        let allowed: Vec<SourceRows> = match &sel.ids {
            Some(ids) => {
                let mut per = vec![Vec::new(); snap.sources.len()];
                let mut seen = HashSet::new();
                for id in ids {
                    let Some(loc) = snap.resolve(id) else {
                        return Err(Error::Internal(
                            "Error executing plan: Internal error: Error finding id".into(),
                        ));
                    };
                    if seen.insert(loc) {
                        per[loc.0].push(loc.1);
                    }
                }
                if sel.r#where.is_some() || sel.where_document.is_some() {
                    for (src, rows) in per.iter_mut().enumerate() {
                        rows.retain(|&row| snap.matches(sel, (src, row)));
                    }
                }
                per.into_iter().map(SourceRows::Rows).collect()
            }
            None => snap.query_rows(sel)?,
        };
        let space = self.core.space;
        let k = req.n_results;
        // The current value: `modify_collection` may have changed it.
        let ef_search = self
            .db
            .catalog_entry(self.core.id)
            .map_or(self.info.config.hnsw.ef_search, |i| i.config.hnsw.ef_search);
        let hits: Vec<Vec<crate::search::Hit>> = if st.dimension.is_none() {
            vec![Vec::new(); req.query_embeddings.len()]
        } else {
            req.query_embeddings
                .par_iter()
                .map(|q| crate::search::top_k(&snap, space, q, &allowed, k, ef_search))
                .collect::<Result<_>>()?
        };
        materialize_query(&snap, &hits, req.include)
    }

    /// Number of live records.
    pub fn count(&self) -> Result<usize> {
        self.core.check_alive()?;
        let st = self.core.state.read();
        Ok(Snapshot::new(&st)?.count())
    }

    /// Writes the memtable out as a segment now (normally done in the
    /// background past the size threshold).
    pub fn flush(&self) -> Result<()> {
        crate::flush::flush(&self.core)
    }

    /// Merges all segments into one, dropping deleted and overwritten
    /// records so their disk space comes back.
    pub fn compact(&self) -> Result<()> {
        crate::compaction::merge::compact_all(&self.core)
    }

    /// Flushes the memtable, then compacts and vacuums as the store's
    /// policy asks: what the background worker does after a write passes
    /// the memtable threshold, run now.
    pub fn maintain(&self) -> Result<()> {
        crate::flush::flush(&self.core)?;
        crate::compaction::merge::compact_by_policy(&self.core, &self.db.options().compaction)
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

    /// Number of segment files (for tests and tools).
    pub fn segment_count(&self) -> usize {
        self.core.state.read().segments.len()
    }

    fn write(&self, mode: Mode, batch: RecordBatch) -> Result<()> {
        validate(&batch, mode)?;
        if batch.ids.is_empty() {
            return Ok(());
        }
        self.core.check_writable()?;
        let mut st = self.core.state.write();
        let mut dim = st.dimension;
        if let Some(embs) = &batch.embeddings {
            for e in embs {
                match dim {
                    Some(d) if d != e.len() => return Err(dimension_error(d, e.len())),
                    Some(_) => {}
                    None => dim = Some(e.len()),
                }
            }
        }
        let first_seq = st.last_seq + 1;
        let ops = {
            let snap = Snapshot::new(&st)?;
            resolve(&snap, mode, batch, first_seq)?
        };
        if ops.is_empty() {
            return Ok(());
        }
        let newly_fixed = if st.dimension.is_none() { dim } else { None };
        let wal_batch = WalBatch { first_seq, ops };
        let frame = crate::codec::encode_frame(&wal_batch);
        let wal = st.wal.clone();
        let end = wal.append(&frame).inspect_err(|_| self.core.poison())?;
        st.apply(wal_batch);
        drop(st);
        wal.sync_to(end).inspect_err(|_| self.core.poison())?;
        if let Some(d) = newly_fixed {
            self.db.note_dimension(self.core.id, d);
        }
        self.db.after_write(&self.core);
        Ok(())
    }
}

fn dimension_error(expected: usize, got: usize) -> Error {
    Error::invalid(format!(
        "Collection expecting embedding with dimension of {expected}, got {got}"
    ))
}

/// Chroma's batch validation (`chroma-api.md` §5.1).
fn validate(b: &RecordBatch, mode: Mode) -> Result<()> {
    let n = b.ids.len();
    let ragged = b.embeddings.as_ref().is_some_and(|v| v.len() != n)
        || b.documents.as_ref().is_some_and(|v| v.len() != n)
        || b.metadatas.as_ref().is_some_and(|v| v.len() != n)
        || b.uris.as_ref().is_some_and(|v| v.len() != n);
    if ragged {
        return Err(Error::invalid(
            "Inconsistent number of IDs, embeddings, documents, URIs and metadatas",
        ));
    }
    if b.ids.iter().any(String::is_empty) {
        return Err(Error::invalid(
            "Empty ID, ID must have at least one character",
        ));
    }
    if let Some(embs) = &b.embeddings {
        if embs.iter().any(Vec::is_empty) {
            return Err(Error::invalid(
                "Validation error: embeddings: Each embedding must have at least 1 dimension",
            ));
        }
        if embs.iter().flatten().any(|x| !x.is_finite()) {
            return Err(Error::invalid(
                "Validation error: embeddings: Embeddings must not contain NaN or Infinity values",
            ));
        }
    } else if mode != Mode::Update && n > 0 {
        return Err(Error::invalid(
            "Embeddings are required to add or upsert records",
        ));
    }
    Ok(())
}

fn merge_metadata(base: Option<Metadata>, update: MetadataUpdate) -> Option<Metadata> {
    let mut m = base.unwrap_or_default();
    for (k, v) in update {
        match v {
            Some(v) => {
                m.insert(k, v);
            }
            None => {
                m.remove(&k);
            }
        }
    }
    if m.is_empty() {
        None
    } else {
        Some(m)
    }
}

/// Resolves a write batch against the current state into puts.
fn resolve(snap: &Snapshot<'_>, mode: Mode, batch: RecordBatch, first_seq: u64) -> Result<Vec<Op>> {
    let RecordBatch {
        ids,
        embeddings,
        documents,
        metadatas,
        uris,
    } = batch;
    let mut embeddings = embeddings.map(|v| v.into_iter().map(Some).collect::<Vec<_>>());
    let mut documents = documents;
    let mut metadatas = metadatas;
    let mut uris = uris;
    // Latest version of ids touched earlier in this batch (duplicates).
    let mut pending: HashMap<String, usize> = HashMap::new();
    let mut ops: Vec<Op> = Vec::new();
    for (i, id) in ids.into_iter().enumerate() {
        let existing: Option<StoredRecord> = match pending.get(&id) {
            Some(&at) => match &ops[at] {
                Op::Put(r) => Some(r.clone()),
                Op::Delete(_) => None,
            },
            None => match snap.resolve(&id) {
                Some(loc) => Some(StoredRecord {
                    id: id.clone(),
                    order: snap.order(loc),
                    embedding: snap.embedding(loc)?.to_vec(),
                    document: snap.document(loc).map(str::to_string),
                    metadata: snap.metadata(loc).cloned(),
                    uri: snap.uri(loc).map(str::to_string),
                }),
                None => None,
            },
        };
        let emb = embeddings.as_mut().and_then(|v| v[i].take());
        let doc = documents.as_mut().and_then(|v| v[i].take());
        let md = metadatas.as_mut().and_then(|v| v[i].take());
        let uri = uris.as_mut().and_then(|v| v[i].take());
        let seq = first_seq + ops.len() as u64;
        let record = match (mode, existing) {
            (Mode::Add, Some(_)) | (Mode::Update, None) => continue,
            (Mode::Add | Mode::Upsert, None) => {
                let Some(embedding) = emb else {
                    return Err(Error::invalid(
                        "Embeddings are required to add or upsert records",
                    ));
                };
                StoredRecord {
                    id: id.clone(),
                    order: seq,
                    embedding,
                    document: doc,
                    metadata: md.and_then(|m| merge_metadata(None, m)),
                    uri,
                }
            }
            (Mode::Update | Mode::Upsert, Some(mut r)) => {
                if let Some(e) = emb {
                    r.embedding = e;
                }
                if doc.is_some() {
                    r.document = doc;
                }
                if let Some(m) = md {
                    r.metadata = merge_metadata(r.metadata.take(), m);
                }
                if uri.is_some() {
                    r.uri = uri;
                }
                r
            }
        };
        pending.insert(id, ops.len());
        ops.push(Op::Put(record));
    }
    Ok(ops)
}

/// The live records a selection picks, in first-insertion order.
fn select(snap: &Snapshot<'_>, sel: &Selection) -> Result<Vec<Loc2>> {
    let mut locs: Vec<Loc2> = match &sel.ids {
        Some(ids) => {
            let mut seen = HashSet::new();
            ids.iter()
                .filter_map(|id| snap.resolve(id))
                .filter(|l| seen.insert(*l))
                .collect()
        }
        None => snap
            .filtered(sel)?
            .into_iter()
            .enumerate()
            .flat_map(|(src, rows)| rows.into_iter().map(move |r| (src, r)))
            .collect(),
    };
    if sel.ids.is_some() && (sel.r#where.is_some() || sel.where_document.is_some()) {
        locs.retain(|&l| snap.matches(sel, l));
    }
    locs.sort_by_cached_key(|&l| snap.order(l));
    Ok(locs)
}

fn materialize_query(
    snap: &Snapshot<'_>,
    hits: &[Vec<crate::search::Hit>],
    inc: Include,
) -> Result<QueryResult> {
    let mut out = QueryResult {
        ids: hits
            .iter()
            .map(|h| h.iter().map(|x| snap.id(x.loc).to_string()).collect())
            .collect(),
        ..Default::default()
    };
    if inc.embeddings {
        out.embeddings = Some(
            hits.iter()
                .map(|h| {
                    h.iter()
                        .map(|x| snap.embedding(x.loc).map(<[f32]>::to_vec))
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
                        .map(|x| snap.document(x.loc).map(str::to_string))
                        .collect()
                })
                .collect(),
        );
    }
    if inc.metadatas {
        out.metadatas = Some(
            hits.iter()
                .map(|h| h.iter().map(|x| snap.metadata(x.loc).cloned()).collect())
                .collect(),
        );
    }
    if inc.uris {
        out.uris = Some(
            hits.iter()
                .map(|h| {
                    h.iter()
                        .map(|x| snap.uri(x.loc).map(str::to_string))
                        .collect()
                })
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
