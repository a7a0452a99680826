//! Chroma's Search API, the engine side: a [`SearchPayload`] (filter, rank
//! expression, group-by, page, selected fields) and its [`SearchHits`]. The
//! collection runs payloads against one version (`collection/hybrid.rs`);
//! this module holds the request vocabulary and the pure parts of the
//! semantics (`../shared/chroma-search-api.md` §2):
//!
//! - `rank.rs`: the rank algebra over leaf results (supports and defaults,
//!   f32 arithmetic), as Chroma's `rank.rs` computes it;
//! - `group.rs`: `group_by` with `$min_k` / `$max_k`.

mod group;
mod rank;

pub(crate) use group::group;
pub use group::Aggregate;
pub(crate) use rank::{evaluate, Domain};

use crate::filter::Where;
use crate::metadata::{Metadata, SparseVector};

/// One search of a request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchPayload {
    /// Pre-filter (`#id` and `#document` tests included).
    pub filter: Option<Where>,
    /// The rank expression; `None` lists the filtered records in order.
    pub rank: Option<Rank>,
    /// Grouping of the ranked records.
    pub group_by: Option<GroupBy>,
    /// Records skipped after ranking and grouping.
    pub offset: usize,
    /// At most this many records (after `offset`).
    pub limit: Option<usize>,
    /// The fields returned.
    pub select: Vec<Key>,
}

/// A rank expression (lower scores rank first).
#[derive(Debug, Clone, PartialEq)]
pub enum Rank {
    /// A k-NN leaf.
    Knn(Knn),
    /// A constant.
    Val(f32),
    /// n-ary sum (from 0).
    Sum(Vec<Rank>),
    /// n-ary product (from 1).
    Mul(Vec<Rank>),
    /// n-ary maximum (from `f32::MIN`).
    Max(Vec<Rank>),
    /// n-ary minimum (from `f32::MAX`).
    Min(Vec<Rank>),
    /// `left - right`.
    Sub(Box<Rank>, Box<Rank>),
    /// `left / right`.
    Div(Box<Rank>, Box<Rank>),
    /// Absolute value.
    Abs(Box<Rank>),
    /// `e^x`.
    Exp(Box<Rank>),
    /// Natural logarithm.
    Log(Box<Rank>),
}

impl Rank {
    /// The Knn leaves in depth-first, left-to-right order (the order their
    /// results are consumed in by [`evaluate`]).
    pub fn leaves(&self) -> Vec<&Knn> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Knn>) {
        match self {
            Rank::Knn(k) => out.push(k),
            Rank::Val(_) => {}
            Rank::Sum(v) | Rank::Mul(v) | Rank::Max(v) | Rank::Min(v) => {
                v.iter().for_each(|r| r.collect(out))
            }
            Rank::Sub(a, b) | Rank::Div(a, b) => {
                a.collect(out);
                b.collect(out);
            }
            Rank::Abs(a) | Rank::Exp(a) | Rank::Log(a) => a.collect(out),
        }
    }
}

/// A k-NN leaf.
#[derive(Debug, Clone, PartialEq)]
pub struct Knn {
    /// The query vector.
    pub query: QueryVector,
    /// `#embedding` (dense; a dense query always searches it) or a sparse key.
    pub key: String,
    /// How many nearest records the leaf contributes.
    pub limit: usize,
    /// The value of records outside the leaf's top `limit`; `None` drops them.
    pub default: Option<f32>,
    /// Score by 0-based position instead of distance.
    pub return_rank: bool,
}

/// A Knn query.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryVector {
    /// Against the collection's embeddings, in its space.
    Dense(Vec<f32>),
    /// Against the sparse vectors under the leaf's key: `1 - q·d`.
    Sparse(SparseVector),
}

/// `group_by`: records grouped by the values of `keys`, the first `k` of
/// each group by the aggregate's order kept.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupBy {
    /// Metadata keys whose value tuple defines a group.
    pub keys: Vec<String>,
    /// Which records of a group are kept.
    pub aggregate: Aggregate,
}

/// A field a search returns or orders by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// `#document`.
    Document,
    /// `#embedding`.
    Embedding,
    /// `#metadata` (all of it).
    Metadata,
    /// `#score`.
    Score,
    /// A metadata field (any other name, `#id` included).
    Field(String),
}

impl Key {
    /// The key a name denotes.
    pub fn parse(name: &str) -> Key {
        match name {
            "#document" => Key::Document,
            "#embedding" => Key::Embedding,
            "#metadata" => Key::Metadata,
            "#score" => Key::Score,
            other => Key::Field(other.to_string()),
        }
    }

    /// Its name on the wire.
    pub fn name(&self) -> &str {
        match self {
            Key::Document => "#document",
            Key::Embedding => "#embedding",
            Key::Metadata => "#metadata",
            Key::Score => "#score",
            Key::Field(f) => f,
        }
    }
}

/// What one payload returns: ids, and the selected fields aligned with
/// them (`None` when not selected).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchHits {
    /// Record ids, best first.
    pub ids: Vec<String>,
    /// Documents, if `#document` was selected.
    pub documents: Option<Vec<Option<String>>>,
    /// Embeddings, if `#embedding` was selected.
    pub embeddings: Option<Vec<Vec<f32>>>,
    /// Metadata (all of it, or the selected fields; `None` when empty), if
    /// `#metadata` or any field was selected.
    pub metadatas: Option<Vec<Option<Metadata>>>,
    /// Scores (`None` when not finite), if `#score` was selected.
    pub scores: Option<Vec<Option<f32>>>,
    /// The selected keys, sorted and without duplicates.
    pub select: Vec<Key>,
}
