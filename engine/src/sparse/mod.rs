//! Sparse-vector search: per sparse key, an inverted index of posting
//! lists `(row, weight)` and a dynamic-pruning top-k over them.
//!
//! - [`section`]: the posting lists a segment file carries (its sparse
//!   section: a checksummed directory of terms with per-list bounds and
//!   document frequencies, then the lists, used in place from the map).
//! - [`mem`]: the memtable's posting lists, appended as records arrive.
//! - [`topk`]: MaxScore over the lists of one source, into a top-k shared
//!   by every source of a collection version, scoring `1 - q·d` exactly as
//!   a scan would (same f32 sums, same order), and [`dot`], that scan's
//!   product.
//!
//! A leaf module: it knows metadata values and rows, nothing of
//! collections or files (the segment module places the section in a file).

pub(crate) mod mem;
pub(crate) mod section;
pub(crate) mod topk;

pub(crate) use mem::MemPostings;
pub(crate) use section::SparseSection;
pub(crate) use topk::{dot, Cursor, TopK};

/// One posting list: rows ascending, each with its weight.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PostingList<'a> {
    pub(crate) rows: &'a [u32],
    pub(crate) weights: &'a [f32],
}
