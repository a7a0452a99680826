//! Our own HNSW construction over flat arrays, straight from the
//! segment's f32 column: no copy of the vectors, no per-edge allocation.
//! It replaces `hnsw_rs` as the engine's builder; `hnsw.rs` keeps
//! `hnsw_rs` as the reference that tests and benches measure this one
//! against. The algorithm (levels, insertion, the heuristic, locking) is
//! `insert.rs`; this file is its storage for a graph whose rows are all
//! known up front, and the parallel driver.
//!
//! - **Adjacency while building**: the base layer is one flat array of
//!   `2M` `AtomicU32` slots per row plus a length per row; the upper layers
//!   (about one row in `M`) hold a `Vec` per row and layer behind a lock,
//!   and each row has its own `parking_lot::Mutex`.
//! - **Insertion**: rows in parallel on a rayon pool, after the first `2M`
//!   one by one so the parallel inserts start from a connected graph.
//! - **Distances**: Chroma's order for the space, from the f32 column:
//!   squared L2; for cosine `1 − a·b/(|a||b|)` with the norms computed once;
//!   for inner product `−a·b` (its order is `1 − a·b`'s, the ip-NSW graph).

use std::sync::atomic::{AtomicU32, Ordering};

use parking_lot::{Mutex, MutexGuard, RwLock};
use rayon::prelude::*;

use super::distance::{norm, prefetch};
use super::graph::Graph;
use super::insert::{level_of, pair_distance, surviving_list, Hnsw, Lists, Pairwise};
use crate::types::Space;

/// Rows inserted between two looks at the cancel flag.
const CHUNK: usize = 2048;

/// Pairwise distance over the column.
struct Metric<'a> {
    data: &'a [f32],
    dim: usize,
    space: Space,
    /// Cosine: every row's norm.
    norms: Vec<f32>,
}

impl Metric<'_> {
    #[inline]
    fn row(&self, r: u32) -> &[f32] {
        let s = r as usize * self.dim;
        &self.data[s..s + self.dim]
    }
}

impl Pairwise for Metric<'_> {
    #[inline]
    fn between(&self, a: u32, b: u32) -> f32 {
        let norm = |r: u32| match self.space {
            Space::Cosine => self.norms[r as usize],
            Space::L2 | Space::Ip => 0.0,
        };
        pair_distance(self.space, self.row(a), norm(a), self.row(b), norm(b))
    }

    #[inline]
    fn prefetch(&self, row: u32) {
        prefetch(self.row(row));
    }
}

/// The lists of a graph of `n` rows known up front, in flat arrays.
struct Flat {
    n: usize,
    m: usize,
    levels: Vec<u8>,
    /// Base layer: `2M` slots per row, `len0[row]` of them used.
    links0: Vec<AtomicU32>,
    len0: Vec<AtomicU32>,
    /// Upper layers: for a row of level `L ≥ 1`, `upper[slot[row]][l - 1]`
    /// is its list in layer `l`.
    slot: Vec<u32>,
    upper: Vec<Vec<RwLock<Vec<u32>>>>,
    /// One lock per row, taken to change its lists.
    locks: Vec<Mutex<()>>,
}

impl Flat {
    /// Lists for `n` rows of the given levels.
    fn new(levels: Vec<u8>, m: usize) -> Flat {
        let n = levels.len();
        let mut slot = vec![u32::MAX; n];
        let mut upper = Vec::new();
        for (r, &l) in levels.iter().enumerate() {
            if l > 0 {
                slot[r] = upper.len() as u32;
                upper.push((0..l).map(|_| RwLock::new(Vec::new())).collect());
            }
        }
        Flat {
            n,
            m,
            links0: (0..n * 2 * m).map(|_| AtomicU32::new(0)).collect(),
            len0: (0..n).map(|_| AtomicU32::new(0)).collect(),
            levels,
            slot,
            upper,
            locks: (0..n).map(|_| Mutex::new(())).collect(),
        }
    }

    fn upper_list(&self, row: u32, layer: usize) -> Option<&RwLock<Vec<u32>>> {
        let s = *self.slot.get(row as usize)?;
        self.upper.get(s as usize)?.get(layer.checked_sub(1)?)
    }
}

impl Lists for Flat {
    fn len(&self) -> usize {
        self.n
    }

    fn level(&self, row: u32) -> usize {
        self.levels[row as usize] as usize
    }

    fn neighbours(&self, row: u32, layer: usize, out: &mut Vec<u32>) {
        out.clear();
        if layer == 0 {
            let cap = 2 * self.m;
            let len = (self.len0[row as usize].load(Ordering::Acquire) as usize).min(cap);
            let base = row as usize * cap;
            out.extend(
                self.links0[base..base + len]
                    .iter()
                    .map(|a| a.load(Ordering::Relaxed)),
            );
        } else if let Some(list) = self.upper_list(row, layer) {
            out.extend_from_slice(&list.read());
        }
    }

    fn set_neighbours(&self, row: u32, layer: usize, list: &[u32]) {
        if layer == 0 {
            let cap = 2 * self.m;
            let base = row as usize * cap;
            let list = &list[..list.len().min(cap)];
            for (slot, &nb) in self.links0[base..base + list.len()].iter().zip(list) {
                slot.store(nb, Ordering::Relaxed);
            }
            self.len0[row as usize].store(list.len() as u32, Ordering::Release);
        } else if let Some(l) = self.upper_list(row, layer) {
            *l.write() = list[..list.len().min(self.m)].to_vec();
        }
    }

    fn lock(&self, row: u32) -> MutexGuard<'_, ()> {
        self.locks[row as usize].lock()
    }
}

/// The finished graph in CSR layers.
fn finish(h: Hnsw<Flat>) -> Graph {
    let Some((entry, top)) = h.entry() else {
        return Graph::default();
    };
    let lists = &h.lists;
    Graph::from_lists(&lists.levels, entry, top, |row, layer, out| {
        lists.neighbours(row, layer, out)
    })
}

/// An existing graph whose rows carry over into a build (a merge keeps
/// its largest input's graph): `new_of[old row]` is the row's number in
/// the new column, `u32::MAX` for a row the merge dropped. The seeded rows
/// must have the same vectors in the new column (same space, same `m`).
pub(crate) struct Seed<'a> {
    pub(crate) graph: &'a Graph,
    pub(crate) new_of: &'a [u32],
}

/// Copies the seed's lists of its surviving rows into `b` (renumbered,
/// each list that lost a neighbour repaired with [`surviving_list`]) and
/// sets the entry point; which new rows were seeded, or `None` if no row
/// survived.
fn plant(
    b: &Hnsw<Flat>,
    metric: &Metric<'_>,
    seed: &Seed<'_>,
    pool: &rayon::ThreadPool,
) -> Option<Vec<bool>> {
    let g = seed.graph;
    let new_of = seed.new_of;
    let n = b.lists.len();
    let kept = |o: u32| new_of.get(o as usize).is_some_and(|&x| (x as usize) < n);
    let mut seeded = vec![false; n];
    let old_rows: Vec<u32> = (0..g.n.min(new_of.len() as u32))
        .filter(|&o| kept(o))
        .collect();
    if old_rows.is_empty() {
        return None;
    }
    for &o in &old_rows {
        seeded[new_of[o as usize] as usize] = true;
    }
    let read = |r: u32, layer: usize, out: &mut Vec<u32>| g.neighbours(r, layer, out);
    pool.install(|| {
        old_rows.par_iter().for_each_init(
            || (Vec::new(), Vec::new()),
            |bufs, &o| {
                let r = new_of[o as usize];
                let dist = |x: u32| metric.between(r, new_of[x as usize]);
                for layer in 0..=b.lists.level(r) {
                    let list = surviving_list(o, layer, b.cap(layer), &read, &kept, &dist, bufs);
                    let list: Vec<u32> = list.iter().map(|&x| new_of[x as usize]).collect();
                    let _g = b.lists.lock(r);
                    b.lists.set_neighbours(r, layer, &list);
                }
            },
        )
    });
    // The old entry point, or the highest surviving row.
    let entry = g
        .entry
        .filter(|&e| kept(e))
        .map(|e| new_of[e as usize])
        .unwrap_or_else(|| {
            old_rows
                .iter()
                .map(|&o| new_of[o as usize])
                .max_by_key(|&r| (b.lists.level(r), std::cmp::Reverse(r)))
                .unwrap_or(0)
        });
    b.set_entry(entry, b.lists.level(entry));
    Some(seeded)
}

/// Builds the HNSW graph of `data` (`dim` floats per row, all finite) for
/// `space` with `m` neighbours per upper layer (`2m` in the base layer) and
/// beam width `ef_construction`, on `pool`, starting from `seed`'s lists
/// when given (only the other rows are inserted); `None` if `cancel`
/// answered true between two chunks of rows.
// The build's parameters, each needed: bundling them would only move the
// list into a struct.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build(
    data: &[f32],
    dim: usize,
    space: Space,
    m: usize,
    ef_construction: usize,
    pool: &rayon::ThreadPool,
    cancel: &(dyn Fn() -> bool + Sync),
    seed: Option<Seed<'_>>,
) -> Option<Graph> {
    let n = data.len() / dim.max(1);
    if n == 0 || dim == 0 {
        return Some(Graph::default());
    }
    let norms = if space == Space::Cosine {
        data.chunks_exact(dim).map(norm).collect()
    } else {
        Vec::new()
    };
    let metric = Metric {
        data,
        dim,
        space,
        norms,
    };
    let m = m.max(2);
    let mut levels: Vec<u8> = (0..n).map(|r| level_of(r as u64, m) as u8).collect();
    if let Some(seed) = &seed {
        let old = seed.graph.levels();
        for (o, &nw) in seed.new_of.iter().enumerate() {
            if let (Some(&l), Some(x)) = (old.get(o), levels.get_mut(nw as usize)) {
                *x = l;
            }
        }
    }
    let b = Hnsw::new(Flat::new(levels, m), m, ef_construction.max(m));
    let mut rest: Vec<u32> = (0..n as u32).collect();
    if let Some(seed) = &seed {
        if let Some(seeded) = plant(&b, &metric, seed, pool) {
            rest.retain(|&r| !seeded[r as usize]);
        }
    }
    // Without a seed, the first rows go in one by one so the parallel
    // inserts start from a connected graph.
    let serial = if b.entry().is_some() {
        0
    } else {
        rest.len().min(b.m * 2)
    };
    for &r in &rest[..serial] {
        b.insert(&metric, r);
    }
    for chunk in rest[serial..].chunks(CHUNK) {
        if cancel() {
            return None;
        }
        pool.install(|| chunk.par_iter().for_each(|&r| b.insert(&metric, r)));
    }
    Some(finish(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::distance::l2_squared;

    #[test]
    fn a_small_graph_is_valid_and_finds_every_row() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let dim = 4;
        let data: Vec<f32> = (0..500 * dim)
            .map(|i| ((i * 37 % 101) as f32).sin())
            .collect();
        for space in [Space::L2, Space::Cosine, Space::Ip] {
            let g = build(&data, dim, space, 8, 50, &pool, &|| false, None).unwrap();
            g.validate().unwrap();
            assert_eq!(g.n, 500);
            // Every row is reachable: searching for a row's own vector
            // under L2 finds it first.
            if space == Space::L2 {
                for r in (0..500u32).step_by(7) {
                    let q = &data[r as usize * dim..(r as usize + 1) * dim];
                    let found = g.search(
                        |x| l2_squared(q, &data[x as usize * dim..(x as usize + 1) * dim]),
                        |_| {},
                        50,
                        None,
                    );
                    assert_eq!(found[0].dist, 0.0, "row {r}");
                }
            }
        }
    }

    #[test]
    fn a_cancelled_build_gives_up() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let data = vec![1.0f32; 3 * CHUNK * 2];
        assert!(build(&data, 2, Space::L2, 8, 20, &pool, &|| true, None).is_none());
    }
}
