//! The vector index of one immutable segment: build, search (plain,
//! filtered, planned), save and load. The segment owns the vectors (a
//! contiguous f32 column, usually memory-mapped); every call borrows them.
//! The index holds the graph, an 8-bit copy of the vectors for the graph
//! walk (`sq8.rs`: a quarter of the f32 column, so queries do not pull the
//! whole column into memory) and, for cosine, one norm per row.
//!
//! Every distance returned is computed from the segment's f32 vectors with
//! the same functions as [`super::distance::distance`], so it is exactly
//! Chroma's, and the results are ranked by it (ties by row number).

use std::path::Path;

use crate::error::{Error, Result};
use crate::types::{HnswConfig, Space};

use super::column::VectorColumn;
use super::distance::{norm, prefetch, QueryDistance};
use super::exact::{exact_top_k, scan};
use super::graph::Graph;
use super::graph_file::{self, Derived, GraphParams};
use super::growing::GrowingGraph;
use super::hnsw::{build_graph, degree, Builder};
use super::insert::Pairwise;
use super::planner::{plan, Plan, EXACT_MAX_ROWS};
use super::sq8::{Sq8, Sq8Query};
use super::topk::TopK;
use crate::row_set::{Admits, RowSet};

/// The HNSW index of one segment.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentGraph {
    dim: usize,
    space: Space,
    graph: Graph,
    /// `norm(row)` per row for cosine (the search divides by it); empty
    /// otherwise.
    norms: Vec<f32>,
    /// The 8-bit copy of the vectors the graph walk computes distances on
    /// (see `sq8.rs`); derived from the column at build and load.
    sq8: Sq8,
    max_neighbors: usize,
    ef_construction: usize,
}

fn norms_of(vectors: &[f32], dim: usize, space: Space) -> Vec<f32> {
    if space == Space::Cosine {
        vectors.chunks_exact(dim).map(norm).collect()
    } else {
        Vec::new()
    }
}

impl SegmentGraph {
    /// Builds the index of `vectors` (`dim` floats per row; row `r` at
    /// `r * dim`) with `cfg.max_neighbors` and `cfg.ef_construction` on
    /// `cfg.num_threads` threads. CPU-heavy: call it off the write path.
    ///
    /// Fails with [`Error::InvalidArgument`] if the column is not a whole
    /// number of rows or holds a NaN or infinity.
    pub fn build(vectors: &[f32], dim: usize, space: Space, cfg: &HnswConfig) -> Result<Self> {
        Self::build_unless(vectors, dim, space, cfg, &|| false)?
            .ok_or_else(|| Error::Internal("graph build cancelled".into()))
    }

    /// [`SegmentGraph::build`], giving up (`None`) as soon as `cancel`
    /// answers true; it is asked every few thousand rows.
    pub fn build_unless(
        vectors: &[f32],
        dim: usize,
        space: Space,
        cfg: &HnswConfig,
        cancel: &(dyn Fn() -> bool + Sync),
    ) -> Result<Option<Self>> {
        Self::build_with(vectors, dim, space, cfg, Builder::Own, cancel)
    }

    /// [`SegmentGraph::build`] with the reference builder, `hnsw_rs`, for
    /// tests and benches that measure ours against it.
    pub fn build_reference(
        vectors: &[f32],
        dim: usize,
        space: Space,
        cfg: &HnswConfig,
    ) -> Result<Self> {
        Self::build_with(vectors, dim, space, cfg, Builder::HnswRs, &|| false)?
            .ok_or_else(|| Error::Internal("graph build cancelled".into()))
    }

    /// The index over `graph` of `vectors`: with the norms and 8-bit codes
    /// derived from the column.
    fn over(vectors: &[f32], dim: usize, space: Space, cfg: &HnswConfig, graph: Graph) -> Self {
        SegmentGraph {
            dim,
            space,
            norms: norms_of(vectors, dim, space),
            sq8: Sq8::encode(vectors, dim, space),
            graph,
            max_neighbors: degree(cfg),
            ef_construction: cfg.ef_construction.max(degree(cfg)),
        }
    }

    fn build_with(
        vectors: &[f32],
        dim: usize,
        space: Space,
        cfg: &HnswConfig,
        builder: Builder,
        cancel: &(dyn Fn() -> bool + Sync),
    ) -> Result<Option<Self>> {
        let Some(graph) = build_graph(vectors, dim, space, cfg, builder, cancel, None)? else {
            return Ok(None);
        };
        Ok(Some(Self::over(vectors, dim, space, cfg, graph)))
    }

    /// [`SegmentGraph::build_unless`] for a merged segment, keeping `base`
    /// (the graph of one of the merged segments): `new_of[old row]` is that
    /// row's number in `vectors`, `u32::MAX` where the merge dropped it. The
    /// surviving rows keep their lists (repaired where they lost a
    /// neighbour) and only the other rows are inserted, so a merge costs
    /// the rows it adds, not all of them. A `base` of another space or
    /// degree is ignored (a full build).
    pub fn build_seeded(
        vectors: &[f32],
        dim: usize,
        space: Space,
        cfg: &HnswConfig,
        base: &SegmentGraph,
        new_of: &[u32],
        cancel: &(dyn Fn() -> bool + Sync),
    ) -> Result<Option<Self>> {
        let fits = base.space == space && base.dim == dim && base.max_neighbors == degree(cfg);
        let seed = fits.then_some(super::build::Seed {
            graph: &base.graph,
            new_of,
        });
        let Some(graph) = build_graph(vectors, dim, space, cfg, Builder::Own, cancel, seed)? else {
            return Ok(None);
        };
        Ok(Some(Self::over(vectors, dim, space, cfg, graph)))
    }

    /// The index of `vectors` over the graph a memtable grew
    /// ([`GrowingGraph`], distances by `metric`), restricted to its rows
    /// `keep` in segment order (`keep[i]` is row `i`): a flush hands its
    /// memtable's graph to the segment instead of building another.
    pub(crate) fn from_grown(
        vectors: &[f32],
        dim: usize,
        space: Space,
        cfg: &HnswConfig,
        grown: &GrowingGraph,
        metric: &impl Pairwise,
        keep: &[u32],
    ) -> Result<Self> {
        if dim == 0 || vectors.len() != keep.len() * dim {
            return Err(Error::Internal(format!(
                "a memtable graph of {} rows does not fit a column of {} floats at dimension {dim}",
                keep.len(),
                vectors.len()
            )));
        }
        let graph = grown.restrict(metric, keep);
        if graph.n as usize != keep.len() {
            return Err(Error::Internal(format!(
                "a memtable's graph holds {} of the segment's {} rows",
                graph.n,
                keep.len()
            )));
        }
        graph
            .validate()
            .map_err(|e| Error::Internal(format!("a memtable's graph is invalid: {e}")))?;
        Ok(Self::over(vectors, dim, space, cfg, graph))
    }

    /// Number of rows indexed.
    pub fn len(&self) -> usize {
        self.graph.n as usize
    }

    /// Whether the index holds no rows.
    pub fn is_empty(&self) -> bool {
        self.graph.n == 0
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Distance space.
    pub fn space(&self) -> Space {
        self.space
    }

    /// The graph degree (`M`) the index was built with.
    pub fn max_neighbors(&self) -> usize {
        self.max_neighbors
    }

    /// The `ef_construction` the index was built with.
    pub fn ef_construction(&self) -> usize {
        self.ef_construction
    }

    /// Bytes of heap memory the index holds: the graph, the 8-bit copy of
    /// the vectors and (cosine) the norms. The f32 vectors are the
    /// segment's and not counted.
    pub fn memory_bytes(&self) -> usize {
        self.graph.heap_bytes() + 4 * self.norms.capacity() + self.sq8.heap_bytes()
    }

    /// Bytes of heap memory the adjacency alone holds (the figure to
    /// compare with hnswlib's `M · 8–10` bytes per element).
    pub fn graph_bytes(&self) -> usize {
        self.graph.heap_bytes()
    }

    fn cosine_norms(&self) -> Option<&[f32]> {
        (self.space == Space::Cosine).then_some(self.norms.as_slice())
    }

    /// Approximate k-NN: up to `k` rows nearest to `query`, nearest first,
    /// with Chroma's distances, searching with beam width
    /// `max(ef_search, k)`. Rows `allowed` rejects (filtered out or deleted)
    /// are never returned; with a filter the search may return fewer than
    /// `k` rows; [`SegmentGraph::query`] makes up for that.
    ///
    /// `column` must be the one the index was built or loaded with; a
    /// query of the wrong dimension matches nothing.
    pub fn search<V: VectorColumn + ?Sized>(
        &self,
        column: &V,
        query: &[f32],
        k: usize,
        ef_search: usize,
        allowed: Option<&dyn Fn(u32) -> bool>,
    ) -> Vec<(u32, f32)> {
        let (dim, n) = (self.dim, self.len());
        if query.len() != dim || k == 0 || n == 0 {
            return Vec::new();
        }
        let vectors = column.floats();
        if vectors.len() != n * dim {
            // A caller bug, not a data problem: answer exactly from what is there.
            tracing::error!(
                rows = n,
                floats = vectors.len(),
                "segment graph searched with a vector column of the wrong size; scanning instead"
            );
            let rows = (0..(vectors.len() / dim) as u32).filter(|&r| allowed.is_none_or(|f| f(r)));
            return exact_top_k(vectors, dim, self.space, query, k, rows);
        }
        // The walk computes approximate distances on the 8-bit codes; the
        // best `rescored(k)` of its candidates are then scored exactly from
        // the f32 column, so only those rows of it are read.
        let approx = Sq8Query::new(&self.sq8, self.space, query, &self.norms);
        let found = self.graph.search(
            |r| approx.to(r),
            |r| prefetch(self.sq8.row(r)),
            ef_search.max(k),
            allowed,
        );
        self.rescore(
            column,
            query,
            k,
            found.iter().take(rescored(k)).map(|s| s.row),
        )
    }

    /// The exact top `k` of `candidates` (rows of the column), scored from
    /// the f32 column, read row by row (see `column.rs`).
    fn rescore<V: VectorColumn + ?Sized>(
        &self,
        column: &V,
        query: &[f32],
        k: usize,
        candidates: impl Iterator<Item = u32>,
    ) -> Vec<(u32, f32)> {
        let dim = self.dim;
        let qd = QueryDistance::new(self.space, query);
        let mut top = TopK::new(k);
        let mut v = vec![0.0f32; dim];
        for row in candidates {
            let i = row as usize;
            column.read_row(row, &mut v);
            let v = v.as_slice();
            let d = match self.space {
                Space::Cosine => qd.to_with_norm(v, self.norms[i]),
                _ => qd.to(v),
            };
            top.push(row, d);
        }
        top.into_sorted()
    }

    /// Brute force over `rows` (about `matching` of them): exact from the
    /// f32 column for up to [`EXACT_MAX_ROWS`] rows; above that, on the
    /// 8-bit codes (a quarter of the bytes to read) with the best
    /// `rescored(k)` rescored exactly, like a graph search's candidates.
    fn scan_rows<V: VectorColumn + ?Sized>(
        &self,
        column: &V,
        query: &[f32],
        k: usize,
        matching: usize,
        rows: impl Iterator<Item = u32>,
    ) -> Vec<(u32, f32)> {
        let n = self.len() as u32;
        if matching <= EXACT_MAX_ROWS {
            return scan(
                column.floats(),
                self.dim,
                self.space,
                query,
                self.cosine_norms(),
                k,
                rows,
            );
        }
        let approx = Sq8Query::new(&self.sq8, self.space, query, &self.norms);
        let mut top = TopK::new(rescored(k));
        let mut rows = rows.filter(|&r| r < n).peekable();
        while let Some(row) = rows.next() {
            if let Some(&next) = rows.peek() {
                prefetch(self.sq8.row(next));
            }
            top.push(row, approx.to(row));
        }
        let found = top.into_sorted();
        self.rescore(column, query, k, found.into_iter().map(|(r, _)| r))
    }

    /// Planned k-NN over `rows`: an exact scan when
    /// few rows match (see [`plan`]), otherwise a (filtered) graph search,
    /// redone exactly if it comes back short. Always returns
    /// `min(k, matching rows)` rows, nearest first, with Chroma's distances.
    pub fn query<V: VectorColumn + ?Sized>(
        &self,
        column: &V,
        query: &[f32],
        k: usize,
        ef_search: usize,
        rows: &RowSet,
    ) -> Vec<(u32, f32)> {
        let (dim, space, n) = (self.dim, self.space, self.len());
        if query.len() != dim || k == 0 {
            return Vec::new();
        }
        let m = rows.len(n);
        if m > 0 && plan(space, n, m, k, ef_search) == Plan::Graph {
            let found = match rows.admits(n) {
                Admits::All => self.search(column, query, k, ef_search, None),
                admits => {
                    let allowed = |r: u32| admits.get(r);
                    self.search(column, query, k, ef_search, Some(&allowed))
                }
            };
            // A filtered walk can come back short when the admitted rows
            // are poorly connected in the graph: then scan them.
            if found.len() >= k.min(m) {
                return found;
            }
        }
        self.scan_rows(column, query, k, m, rows.iter(n))
    }

    /// Saves the index to `path` (write to a temp file, fsync, rename,
    /// fsync the directory; format in `graph_file.rs`).
    pub fn save(&self, path: &Path) -> Result<()> {
        self.save_with(&crate::fs::OsFs, path)
    }

    /// [`SegmentGraph::save`] through the file system `fs`.
    pub fn save_with(&self, fs: &dyn crate::fs::Fs, path: &Path) -> Result<()> {
        let params = GraphParams {
            dim: self.dim as u32,
            space: self.space,
            max_neighbors: self.max_neighbors as u32,
            ef_construction: self.ef_construction as u32,
        };
        let derived = Derived {
            sq8: self.sq8.clone(),
            norms: self.norms.clone(),
        };
        graph_file::write(fs, path, &self.graph, &params, &derived)
    }

    /// Loads the index saved at `path` for the segment whose column is
    /// `vectors`, without rebuilding anything. A file that fails its
    /// checksums or structure checks, or that was built for another
    /// dimension, space or row count, gives [`Error::Corrupted`] naming it:
    /// the caller then serves the segment with [`exact_query`] and rebuilds.
    pub fn load(path: &Path, vectors: &[f32], dim: usize, space: Space) -> Result<Self> {
        let (graph, params, derived) = graph_file::read(path)?;
        if params.dim as usize != dim || params.space != space {
            return Err(Error::corrupted(
                path,
                format!(
                    "graph was built for dimension {} space {:?}, the segment has dimension {dim} space {space:?}",
                    params.dim, params.space
                ),
            ));
        }
        if dim == 0 || vectors.len() != graph.n as usize * dim {
            return Err(Error::corrupted(
                path,
                format!(
                    "graph has {} rows, the segment column has {} floats of dimension {dim}",
                    graph.n,
                    vectors.len()
                ),
            ));
        }
        // Format 2 stores the 8-bit copy and norms; format 1 derives them.
        let (sq8, norms) = match derived {
            Some(d) => (d.sq8, d.norms),
            None => (
                Sq8::encode(vectors, dim, space),
                norms_of(vectors, dim, space),
            ),
        };
        Ok(SegmentGraph {
            dim,
            space,
            norms,
            sq8,
            graph,
            max_neighbors: params.max_neighbors as usize,
            ef_construction: params.ef_construction as usize,
        })
    }
}

/// How many of a graph walk's best candidates (by approximate distance) are
/// rescored exactly for `k` results. SQ8's error reorders near ties only,
/// so a margin of `k` more rows recovers the exact top `k` (recall measured
/// in `docs/benchmarks.md`).
fn rescored(k: usize) -> usize {
    k.saturating_mul(2).max(k + 10)
}

/// Exact k-NN over `rows`, for a segment that has no usable graph (not
/// built yet, or being rebuilt after a failed load). Returns
/// `min(k, rows)` rows, nearest first, Chroma's distances.
pub fn exact_query(
    vectors: &[f32],
    dim: usize,
    space: Space,
    query: &[f32],
    k: usize,
    rows: &RowSet,
) -> Vec<(u32, f32)> {
    exact_query_normed(vectors, dim, space, None, query, k, rows)
}

/// [`exact_query`] with, for cosine, every row's norm (`norms[row]`), so
/// each row is read once; the distances are the same, bit for bit.
pub(crate) fn exact_query_normed(
    vectors: &[f32],
    dim: usize,
    space: Space,
    norms: Option<&[f32]>,
    query: &[f32],
    k: usize,
    rows: &RowSet,
) -> Vec<(u32, f32)> {
    if dim == 0 {
        return Vec::new();
    }
    let n = vectors.len() / dim;
    scan(vectors, dim, space, query, norms, k, rows.iter(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A graph file written before the 8-bit copy was stored (format 1)
    /// still loads, deriving the copy: the same index as a format-2 load.
    #[test]
    fn a_format_1_graph_file_still_loads() {
        let (dim, n) = (8, 3_000);
        let data: Vec<f32> = (0..n * dim).map(|i| ((i * 31 % 97) as f32).cos()).collect();
        let cfg = HnswConfig {
            num_threads: 2,
            ..HnswConfig::default()
        };
        for space in [Space::L2, Space::Cosine, Space::Ip] {
            let built = SegmentGraph::build(&data, dim, space, &cfg).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let v2 = dir.path().join("v2.graph");
            built.save(&v2).unwrap();
            assert_eq!(SegmentGraph::load(&v2, &data, dim, space).unwrap(), built);
            let params = GraphParams {
                dim: dim as u32,
                space,
                max_neighbors: built.max_neighbors as u32,
                ef_construction: built.ef_construction as u32,
            };
            let v1 = dir.path().join("v1.graph");
            std::fs::write(&v1, graph_file::encode(&built.graph, &params, None)).unwrap();
            assert!(std::fs::metadata(&v1).unwrap().len() < std::fs::metadata(&v2).unwrap().len());
            assert_eq!(SegmentGraph::load(&v1, &data, dim, space).unwrap(), built);
        }
    }
}
