//! Chroma's validation of a write batch (`chroma-api.md` §5.1), the one
//! place it is written: the engine checks every write with it, and the
//! server calls it before embedding documents, so a bad batch is refused
//! before any model time is spent.

use crate::error::{Error, Result};
use crate::metadata::MetadataValue;
use crate::types::{MetadataUpdate, RecordBatch, UpdateBatch};

/// Checks an add or upsert batch: equal lengths, non-empty ids, embeddings
/// present and well-formed.
pub fn validate_records(b: &RecordBatch) -> Result<()> {
    let lens = [
        b.embeddings.as_ref().map(Vec::len),
        b.documents.as_ref().map(Vec::len),
        b.metadatas.as_ref().map(Vec::len),
        b.uris.as_ref().map(Vec::len),
    ];
    check_shape(&b.ids, &lens)?;
    validate_metadatas(b.metadatas.as_deref())?;
    match &b.embeddings {
        Some(e) => validate_embeddings(e),
        None if b.ids.is_empty() => Ok(()),
        None => Err(Error::invalid(
            "Embeddings are required to add or upsert records",
        )),
    }
}

/// Checks an update batch: equal lengths, non-empty ids, well-formed
/// embeddings where given.
pub fn validate_update(b: &UpdateBatch) -> Result<()> {
    let lens = [
        b.embeddings.as_ref().map(Vec::len),
        b.documents.as_ref().map(Vec::len),
        b.metadatas.as_ref().map(Vec::len),
        b.uris.as_ref().map(Vec::len),
    ];
    check_shape(&b.ids, &lens)?;
    validate_metadatas(b.metadatas.as_deref())?;
    validate_embeddings(b.embeddings.iter().flatten().flatten())
}

/// Checks record metadata as Chroma does: no key starts with `#` or `$`
/// (reserved), every sparse vector is well-formed. Chroma hides the reason
/// for record metadata: `Invalid metadata at index <i>`.
fn validate_metadatas(metas: Option<&[Option<MetadataUpdate>]>) -> Result<()> {
    for (i, m) in metas.unwrap_or_default().iter().enumerate() {
        let bad = m.iter().flatten().any(|(k, v)| {
            k.starts_with('#')
                || k.starts_with('$')
                || matches!(v, Some(MetadataValue::SparseVector(sv)) if sv.check().is_err())
        });
        if bad {
            return Err(Error::invalid(format!(
                "Validation error: metadatas: Invalid metadata at index {i}"
            )));
        }
    }
    Ok(())
}

/// Checks embeddings: at least one dimension, finite values.
pub fn validate_embeddings<'a>(embeddings: impl IntoIterator<Item = &'a Vec<f32>>) -> Result<()> {
    for e in embeddings {
        if e.is_empty() {
            return Err(Error::invalid(
                "Validation error: embeddings: Each embedding must have at least 1 dimension",
            ));
        }
        if e.iter().any(|x| !x.is_finite()) {
            return Err(Error::invalid(
                "Validation error: embeddings: Embeddings must not contain NaN or Infinity values",
            ));
        }
    }
    Ok(())
}

fn check_shape(ids: &[String], lens: &[Option<usize>]) -> Result<()> {
    if lens.iter().flatten().any(|&l| l != ids.len()) {
        return Err(Error::invalid(
            "Inconsistent number of IDs, embeddings, documents, URIs and metadatas",
        ));
    }
    if ids.iter().any(String::is_empty) {
        return Err(Error::invalid(
            "Empty ID, ID must have at least one character",
        ));
    }
    Ok(())
}

/// The error for an embedding of the wrong dimension.
pub(crate) fn dimension_error(expected: usize, got: usize) -> Error {
    Error::invalid(format!(
        "Collection expecting embedding with dimension of {expected}, got {got}"
    ))
}
