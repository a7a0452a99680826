//! Graph construction: [`build_graph`] checks the column, starts the build
//! threads and runs one of two builders — ours (`build.rs`, what the
//! engine uses) or the reference, `hnsw_rs` (parallel insert on a rayon
//! pool, then conversion into the compact [`Graph`] the searches use),
//! which tests and benches measure ours against.
//!
//! What `hnsw_rs` 0.3 does that shapes this file (read in its source):
//! - Its `DistL2` returns the square root and `DistDot` asserts normalised
//!   input; its `search_layer` asserts distances are `>= 0` and panics on
//!   NaN. So the graph is built with distances of our own (SIMD, from
//!   `distance.rs`) that are never negative and order neighbours exactly as
//!   Chroma's distance of the space does:
//!   - l2: squared L2 on the vectors as they are;
//!   - cosine: squared L2 on unit-normalised copies (`|a-b|² = 2 - 2 cos`),
//!     normalised a chunk at a time;
//!   - ip: `M² - a·b` on the vectors as they are, with `M² = max |x|²` over
//!     the segment (times 1.001). By Cauchy-Schwarz `a·b <= M²`, so it is
//!     never negative, and for a query it orders rows exactly as Chroma's
//!     `1 - q·x` does. This is the ip-NSW graph (Morozov & Babenko, NeurIPS
//!     2018). We first used the MIPS→L2 reduction (`x' = [x, sqrt(M² -
//!     |x|²)]`, `q' = [q, 0]`); on 5k 48-d clustered vectors whose norms vary
//!     16×, it reached recall@10 0.87 at ef 100 where this graph reaches
//!     1.00 (0.98 vs 1.00 with norms varying 4×).
//!
//!   The search (`graph.rs`) then uses Chroma's distances directly: ip's
//!   `1 - q·x` may be negative there, which our search allows.
//! - `insert_slice` copies every vector into the graph (`data.to_vec()`) and
//!   each edge is an `Arc` allocation: about 2 KB per 384-d point. That
//!   structure lives only while building; [`Graph`] keeps `u32` adjacency
//!   and searches the segment's own column, so no vector copy is kept.
//! - `Hnsw::new` calls `process::exit` when `max_nb_connection > 256`, so
//!   the degree is clamped first.

use std::panic::{catch_unwind, AssertUnwindSafe};

use hnsw_rs::anndists::dist::distances::Distance;
use hnsw_rs::hnsw::Hnsw;

use crate::error::{Error, Result};
use crate::types::{HnswConfig, Space};

use super::distance::{dot, l2_squared, norm};

use super::build::Seed;
use super::graph::Graph;

/// Squared Euclidean distance for `hnsw_rs`; always `>= 0` on finite input.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SquaredL2;

impl Distance<f32> for SquaredL2 {
    fn eval(&self, va: &[f32], vb: &[f32]) -> f32 {
        l2_squared(va, vb)
    }
}

/// `shift - a·b` for `hnsw_rs`, with `shift >= max |x|²` over the
/// segment, so never negative (clamped at 0 against rounding).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShiftedIp {
    shift: f32,
}

impl Distance<f32> for ShiftedIp {
    fn eval(&self, va: &[f32], vb: &[f32]) -> f32 {
        (self.shift - dot(va, vb)).max(0.0)
    }
}

/// The highest layer count `hnsw_rs` supports.
const MAX_LAYERS: usize = 16;

/// The graph degree actually used for `cfg.max_neighbors` (hnsw_rs accepts
/// 1..=256; fewer than 2 makes a useless graph).
pub(crate) fn degree(cfg: &HnswConfig) -> usize {
    cfg.max_neighbors.clamp(2, 256)
}

/// Rows inserted between two looks at the cancel flag.
const INSERT_CHUNK: usize = 4096;

/// Which HNSW construction builds a graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builder {
    /// Ours, over flat arrays (`build.rs`): what the engine uses.
    Own,
    /// `hnsw_rs`, the reference ours is measured against.
    HnswRs,
}

/// Builds the graph of `vectors` (`dim` floats per row) for `space` with
/// `builder` (ours starting from `seed`'s lists when given; the reference
/// ignores it); `None` if `cancel` answered true between two chunks of
/// inserts (store closing, segment compacted away).
pub(crate) fn build_graph(
    vectors: &[f32],
    dim: usize,
    space: Space,
    cfg: &HnswConfig,
    builder: Builder,
    cancel: &(dyn Fn() -> bool + Sync),
    seed: Option<Seed<'_>>,
) -> Result<Option<Graph>> {
    if dim == 0 || vectors.len() / dim * dim != vectors.len() {
        return Err(Error::invalid(format!(
            "vector column of {} floats is not a whole number of {dim}-dimensional rows",
            vectors.len()
        )));
    }
    let n = vectors.len() / dim;
    if n > u32::MAX as usize {
        return Err(Error::invalid(format!(
            "{n} rows exceed a segment's u32 row numbers"
        )));
    }
    if let Some(i) = vectors.iter().position(|x| !x.is_finite()) {
        return Err(Error::invalid(format!(
            "row {} has a non-finite component",
            i / dim
        )));
    }
    if n == 0 {
        return Ok(Some(Graph::default()));
    }
    let m = degree(cfg);
    let ef_c = cfg.ef_construction.max(m);
    let threads = cfg.num_threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("chromite-hnsw-build-{i}"))
        // Builds run behind the request path (see `os.rs`).
        .start_handler(|_| crate::os::lower_thread_priority())
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the index build threads: {e}")))?;
    if builder == Builder::Own {
        let graph = super::build::build(vectors, dim, space, m, ef_c, &pool, cancel, seed);
        if let Some(g) = &graph {
            g.validate().map_err(|e| {
                Error::Internal(format!("the graph builder produced an invalid graph: {e}"))
            })?;
        }
        return Ok(graph);
    }
    let params = BuildParams {
        n,
        m,
        ef_c,
        pool: &pool,
        cancel,
    };
    let graph = match space {
        Space::L2 => build_with(vectors, dim, SquaredL2, false, &params),
        Space::Cosine => build_with(vectors, dim, SquaredL2, true, &params),
        Space::Ip => {
            let max = vectors
                .chunks_exact(dim)
                .map(|v| dot(v, v))
                .fold(0.0f32, f32::max);
            build_with(
                vectors,
                dim,
                ShiftedIp {
                    shift: max * 1.001 + f32::MIN_POSITIVE,
                },
                false,
                // Under inner product the diversity heuristic keeps few
                // edges (large-norm rows "cover" the rest): about 5 per row
                // at 100k x 384, which suits unfiltered search (recall@10
                // 1.00) but not filtered search (see the planner). Keeping
                // the pruned candidates (hnsw_rs `set_keeping_pruned`) made
                // recall@10 drop to 0.64, so it stays off.
                &params,
            )
        }
    }?;
    let Some(graph) = graph else {
        return Ok(None);
    };
    graph
        .validate()
        .map_err(|e| Error::Internal(format!("hnsw_rs produced an invalid graph: {e}")))?;
    Ok(Some(graph))
}

struct BuildParams<'p> {
    n: usize,
    m: usize,
    ef_c: usize,
    pool: &'p rayon::ThreadPool,
    cancel: &'p (dyn Fn() -> bool + Sync),
}

/// Inserts every row of `data` in parallel (in chunks, looking at the
/// cancel flag in between) and converts the result; a panic inside
/// `hnsw_rs` becomes an error. With `normalise`, each chunk is
/// unit-normalised into a reused buffer first (hnsw_rs copies every
/// vector it inserts, so a normalised copy of the whole column, 150 MB at
/// 100k × 384, never has to exist).
fn build_with<D: Distance<f32> + Send + Sync>(
    data: &[f32],
    dim: usize,
    dist: D,
    normalise: bool,
    p: &BuildParams<'_>,
) -> Result<Option<Graph>> {
    let built = catch_unwind(AssertUnwindSafe(|| {
        let hnsw = Hnsw::<f32, D>::new(p.m, p.n, MAX_LAYERS, p.ef_c, dist);
        let mut buf: Vec<f32> = Vec::new();
        for (c, chunk) in data.chunks(INSERT_CHUNK * dim).enumerate() {
            if (p.cancel)() {
                return None;
            }
            let rows: &[f32] = if normalise {
                buf.clear();
                buf.extend_from_slice(chunk);
                normalise_rows(&mut buf, dim);
                &buf
            } else {
                chunk
            };
            let first = c * INSERT_CHUNK;
            // hnsw_rs takes a &Vec of (row, id); ids are row numbers.
            let items: Vec<(&[f32], usize)> = rows
                .chunks_exact(dim)
                .enumerate()
                .map(|(i, v)| (v, first + i))
                .collect();
            p.pool.install(|| hnsw.parallel_insert_slice(&items));
        }
        Some(extract(&hnsw, p.n))
    }));
    built.map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Error::Internal(format!("hnsw_rs panicked while building a graph: {what}"))
    })
}

/// Unit-normalises the rows in place (zero rows stay zero).
fn normalise_rows(rows: &mut [f32], dim: usize) {
    for v in rows.chunks_exact_mut(dim) {
        let nv = norm(v);
        if nv > 0.0 {
            v.iter_mut().for_each(|x| *x /= nv);
        }
    }
}

/// Copies `hnsw_rs`'s graph into CSR layers of row numbers. Rows were
/// inserted with their row number as the `hnsw_rs` data id.
fn extract<D: Distance<f32> + Send + Sync>(hnsw: &Hnsw<'_, f32, D>, n: usize) -> Graph {
    let top = hnsw.get_max_level_observed() as usize;
    let indexation = hnsw.get_point_indexation();
    let mut level = vec![0u8; n];
    // Per row, its neighbour rows in each layer 0..=level.
    let mut adjacency: Vec<Vec<Vec<u32>>> = vec![Vec::new(); n];
    for l in 0..=top {
        for point in indexation.get_layer_iterator(l) {
            let row = point.get_origin_id();
            if row >= n {
                continue;
            }
            level[row] = l as u8;
            let hood = point.get_neighborhood_id();
            adjacency[row] = hood
                .into_iter()
                .take(l + 1)
                .map(|layer| layer.into_iter().map(|nb| nb.d_id as u32).collect())
                .collect();
        }
    }
    let entry = indexation
        .get_layer_iterator(top)
        .next()
        .map(|p| p.get_origin_id() as u32)
        .filter(|&r| (r as usize) < n)
        .unwrap_or(0);
    // hnsw_rs may list a row of a lower level in an upper layer (its insert
    // records entry points above a point's level): `from_lists` drops them.
    Graph::from_lists(&level, entry, top, |row, l, out| {
        if let Some(list) = adjacency[row as usize].get(l) {
            out.extend_from_slice(list);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_distances_are_non_negative_and_order_like_chroma() {
        use crate::index::distance::distance;
        let v = [3.0f32, 0.0, 0.0, 1.0, 1.0, 1.0, -2.0, 0.5];
        let max = v.chunks_exact(2).map(|x| dot(x, x)).fold(0.0f32, f32::max);
        let ip = ShiftedIp {
            shift: max * 1.001 + f32::MIN_POSITIVE,
        };
        for a in v.chunks_exact(2) {
            let mut by_graph: Vec<(f32, usize)> = v
                .chunks_exact(2)
                .enumerate()
                .map(|(i, b)| (ip.eval(a, b), i))
                .collect();
            let mut by_chroma: Vec<(f32, usize)> = v
                .chunks_exact(2)
                .enumerate()
                .map(|(i, b)| (distance(Space::Ip, a, b), i))
                .collect();
            assert!(by_graph.iter().all(|(d, _)| *d >= 0.0));
            by_graph.sort_by(|x, y| x.0.total_cmp(&y.0));
            by_chroma.sort_by(|x, y| x.0.total_cmp(&y.0));
            let order = |d: &[(f32, usize)]| d.iter().map(|p| p.1).collect::<Vec<_>>();
            assert_eq!(order(&by_graph), order(&by_chroma));
        }
        assert_eq!(SquaredL2.eval(&[1.0, 1.0], &[3.0, 4.0]), 13.0);
    }

    #[test]
    fn rejects_non_finite_and_ragged_input() {
        let cfg = HnswConfig::default();
        let never = || false;
        for bad in [&[1.0, f32::NAN][..], &[1.0, 2.0, 3.0]] {
            let built = build_graph(bad, 2, Space::L2, &cfg, Builder::Own, &never, None);
            assert!(built.is_err(), "{bad:?}");
        }
        assert_eq!(
            build_graph(&[], 2, Space::L2, &cfg, Builder::Own, &never, None).unwrap(),
            Some(Graph::default())
        );
    }

    #[test]
    fn a_cancelled_build_gives_up() {
        let cfg = HnswConfig::default();
        let data: Vec<f32> = (0..2 * INSERT_CHUNK * 4).map(|i| (i % 97) as f32).collect();
        let asked = std::sync::atomic::AtomicUsize::new(0);
        let cancel = || asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 1;
        assert_eq!(
            build_graph(&data, 4, Space::L2, &cfg, Builder::HnswRs, &cancel, None).unwrap(),
            None
        );
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
