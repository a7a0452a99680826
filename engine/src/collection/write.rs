//! The write path: a request is resolved against the current version into
//! whole-record puts and deletes (Chroma's semantics, `chroma-api.md` §5:
//! add of an existing id is a no-op, update of a missing id is a no-op,
//! upsert is add-or-update; metadata merges, a `None` value deleting the
//! key), then committed: logged to the WAL as one batch, applied, and the
//! next version published — one atomic write per request.

use std::collections::HashMap;

use super::core::Core;
use super::validate::dimension_error;
use super::version::Version;
use crate::error::{Error, Result};
use crate::journal::{Op, WalBatch};
use crate::record::StoredRecord;
use crate::types::{Metadata, MetadataUpdate, UpdateBatch};

/// How a batch treats existing and missing ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Add,
    Upsert,
    Update,
}

/// What a commit did.
pub(crate) struct Committed<T> {
    /// The builder's own result.
    pub(crate) value: T,
    /// Whether anything was logged.
    pub(crate) wrote: bool,
    /// The dimension, when this write fixed it.
    pub(crate) fixed_dimension: Option<usize>,
}

/// Builds the ops of one write from the current version (numbering them
/// from `first_seq`) under the writer lock, logs them as one WAL batch,
/// applies them and publishes the next version; then waits until the
/// batch is durable (sharing the fsync with concurrent writers) and links
/// its rows into the memtable's graph. A failed
/// WAL write or fsync poisons the collection.
pub(crate) fn commit<T>(
    core: &Core,
    build: impl FnOnce(&Version, u64) -> Result<(Vec<Op>, T)>,
) -> Result<Committed<T>> {
    core.check_writable()?;
    core.wait_for_background();
    let writer = core.writer.lock();
    let current = core.version();
    let first_seq = current.seq + 1;
    let (ops, value) = build(&current, first_seq)?;
    if ops.is_empty() {
        return Ok(Committed {
            value,
            wrote: false,
            fixed_dimension: None,
        });
    }
    let batch = WalBatch { first_seq, ops };
    let wal = writer.wal.clone();
    let end = wal.append(&batch).inspect_err(|_| core.poison())?;
    let next = current.apply(batch);
    let fixed_dimension = next.dimension.filter(|_| current.dimension.is_none());
    let (mem, linked_end) = (next.active.mem.clone(), next.active.len);
    core.publish(&writer, next);
    drop(writer);
    wal.sync_to(end).inspect_err(|_| core.poison())?;
    // The writer links its own rows into the memtable's graph (queries scan
    // them exactly until then): indexing is paid by the writes that cause
    // it, on their own threads, so it keeps pace with them.
    mem.link_up_to(linked_end);
    Ok(Committed {
        value,
        wrote: true,
        fixed_dimension,
    })
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

/// Resolves a write batch (already validated) against `v` into puts
/// numbered from `first_seq`, checking every embedding's dimension.
pub(crate) fn resolve(
    v: &Version,
    mode: Mode,
    batch: UpdateBatch,
    first_seq: u64,
) -> Result<Vec<Op>> {
    let UpdateBatch {
        ids,
        embeddings,
        documents,
        metadatas,
        uris,
    } = batch;
    let mut dim = v.dimension;
    for e in embeddings.iter().flatten().flatten() {
        match dim {
            Some(d) if d != e.len() => return Err(dimension_error(d, e.len())),
            Some(_) => {}
            None => dim = Some(e.len()),
        }
    }
    let mut embeddings = embeddings;
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
            None => match v.resolve(&id) {
                Some(loc) => Some(StoredRecord {
                    id: id.clone(),
                    order: v.order(loc),
                    embedding: v.embedding(loc)?.to_vec(),
                    document: v.document(loc).map(str::to_string),
                    metadata: v.metadata(loc).cloned(),
                    uri: v.uri(loc).map(str::to_string),
                }),
                None => None,
            },
        };
        let emb = embeddings.as_mut().and_then(|e| e[i].take());
        let doc = documents.as_mut().and_then(|d| d[i].take());
        let md = metadatas.as_mut().and_then(|m| m[i].take());
        let uri = uris.as_mut().and_then(|u| u[i].take());
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
