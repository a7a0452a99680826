//! Our own HNSW construction (Malkov & Yashunin, TPAMI 2018) over flat
//! arrays, straight from the segment's f32 column: no copy of the vectors,
//! no per-edge allocation. It replaces `hnsw_rs` as the engine's builder;
//! `hnsw.rs` keeps `hnsw_rs` as the reference that tests and benches
//! measure this one against.
//!
//! - **Levels**: row `r` gets level `⌊−ln(u) / ln M⌋` with `u` drawn from a
//!   hash of `r` (so a build is reproducible up to thread scheduling).
//! - **Adjacency while building**: the base layer is one flat array of
//!   `2M` `AtomicU32` slots per row plus a length per row; the upper layers
//!   (about one row in `M`) hold a `Vec` per row and layer behind a lock.
//!   A row's lists are changed only under its lock (a striped
//!   `parking_lot::Mutex` per row); readers take no lock and may see a list
//!   mid-update, which can only cost a search a neighbour, never a wrong
//!   row (every slot always holds some valid row number).
//! - **Insertion** (rows in parallel on a rayon pool; a row above the top
//!   layer, a handful per build, alone among such rows): greedy descent from
//!   the entry point to the row's level, then per layer a beam search of
//!   width `ef_construction`, the neighbours chosen with the paper's
//!   heuristic (keep a candidate only if it is closer to the new row than
//!   to every neighbour kept so far), links added both ways; a neighbour
//!   whose list overflows re-selects its list with the same heuristic.
//!   A new row links to `M` neighbours per layer; a list may grow to `M`
//!   in the upper layers and `2M` in the base layer (as hnswlib).
//! - **Distances**: Chroma's order for the space, from the f32 column:
//!   squared L2; for cosine `1 − a·b/(|a||b|)` with the norms computed once;
//!   for inner product `−a·b` (its order is `1 − a·b`'s, the ip-NSW graph).
//! - **Visited sets**: one generation-stamped array per thread, reused
//!   (`visited.rs`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU32, Ordering};

use parking_lot::{Mutex, RwLock};
use rayon::prelude::*;

use super::distance::{dot, l2_squared, norm, prefetch};
use super::graph::Graph;
use super::topk::Scored;
use super::visited::with_visited;
use crate::types::Space;

/// Rows inserted between two looks at the cancel flag.
const CHUNK: usize = 2048;

/// Highest level a row may get (with M ≥ 2 a level above 16 has odds of
/// 2^−16 per row).
const MAX_LEVEL: usize = 16;

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

    #[inline]
    fn between(&self, a: u32, b: u32) -> f32 {
        let (x, y) = (self.row(a), self.row(b));
        match self.space {
            Space::L2 => l2_squared(x, y),
            Space::Ip => -dot(x, y),
            Space::Cosine => {
                let n = self.norms[a as usize] * self.norms[b as usize];
                if n > 0.0 {
                    1.0 - dot(x, y) / n
                } else {
                    1.0
                }
            }
        }
    }
}

/// The graph under construction.
struct Builder<'a> {
    metric: Metric<'a>,
    n: usize,
    /// `M` (upper layers); the base layer keeps `2M`.
    m: usize,
    ef: usize,
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
    /// `(entry row, its level)`; `None` before the first insert.
    entry: RwLock<Option<(u32, usize)>>,
    /// Held while a row above the top layer is inserted.
    top_lock: Mutex<()>,
}

/// A level for row `r`: `⌊−ln(u) / ln M⌋`, `u` uniform in (0, 1] from a
/// hash of `r` (splitmix64).
fn level_of(r: u64, m: usize) -> usize {
    let mut z = r.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let u = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let level = (-u.ln() / (m as f64).ln()).floor();
    (level as usize).min(MAX_LEVEL)
}

impl<'a> Builder<'a> {
    fn new(metric: Metric<'a>, m: usize, ef: usize) -> Builder<'a> {
        let n = metric.data.len() / metric.dim;
        let levels: Vec<u8> = (0..n).map(|r| level_of(r as u64, m) as u8).collect();
        let mut slot = vec![u32::MAX; n];
        let mut upper = Vec::new();
        for (r, &l) in levels.iter().enumerate() {
            if l > 0 {
                slot[r] = upper.len() as u32;
                upper.push((0..l).map(|_| RwLock::new(Vec::new())).collect());
            }
        }
        Builder {
            n,
            m,
            ef,
            links0: (0..n * 2 * m).map(|_| AtomicU32::new(0)).collect(),
            len0: (0..n).map(|_| AtomicU32::new(0)).collect(),
            levels,
            slot,
            upper,
            locks: (0..n).map(|_| Mutex::new(())).collect(),
            entry: RwLock::new(None),
            top_lock: Mutex::new(()),
            metric,
        }
    }

    fn cap(&self, layer: usize) -> usize {
        if layer == 0 {
            2 * self.m
        } else {
            self.m
        }
    }

    /// The neighbours of `row` in `layer`, copied into `out`.
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

    fn upper_list(&self, row: u32, layer: usize) -> Option<&RwLock<Vec<u32>>> {
        let s = *self.slot.get(row as usize)?;
        self.upper.get(s as usize)?.get(layer.checked_sub(1)?)
    }

    /// Replaces `row`'s list in `layer` (caller holds the row's lock).
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
            *l.write() = list.to_vec();
        }
    }

    /// Greedy walk in `layer` from `ep` towards `q`.
    fn greedy(&self, q: u32, mut ep: Scored, layer: usize, buf: &mut Vec<u32>) -> Scored {
        loop {
            let mut changed = false;
            self.neighbours(ep.row, layer, buf);
            for &nb in buf.iter() {
                let d = self.metric.between(q, nb);
                if d < ep.dist {
                    ep = Scored { dist: d, row: nb };
                    changed = true;
                }
            }
            if !changed {
                return ep;
            }
        }
    }

    /// Beam search of width `ef` in `layer` from `eps`; nearest first.
    fn search_layer(
        &self,
        q: u32,
        eps: &[Scored],
        layer: usize,
        buf: &mut Vec<u32>,
    ) -> Vec<Scored> {
        with_visited(self.n, |visited| {
            let mut candidates: BinaryHeap<Reverse<Scored>> =
                BinaryHeap::with_capacity(self.ef * 2);
            let mut top: BinaryHeap<Scored> = BinaryHeap::with_capacity(self.ef + 1);
            visited.insert(q);
            for &e in eps {
                if visited.insert(e.row) {
                    candidates.push(Reverse(e));
                    top.push(e);
                }
            }
            while top.len() > self.ef {
                top.pop();
            }
            while let Some(Reverse(c)) = candidates.pop() {
                if top.len() >= self.ef && top.peek().is_some_and(|w| c.dist > w.dist) {
                    break;
                }
                self.neighbours(c.row, layer, buf);
                buf.retain(|&nb| visited.insert(nb));
                for (j, &nb) in buf.iter().enumerate() {
                    if let Some(&next) = buf.get(j + 1) {
                        prefetch(self.metric.row(next));
                    }
                    let d = self.metric.between(q, nb);
                    if top.len() < self.ef || top.peek().is_some_and(|w| d < w.dist) {
                        let s = Scored { dist: d, row: nb };
                        candidates.push(Reverse(s));
                        top.push(s);
                        if top.len() > self.ef {
                            top.pop();
                        }
                    }
                }
            }
            top.into_sorted_vec()
        })
    }

    /// The paper's neighbour-selection heuristic: from `cands` (nearest
    /// first, distances to the base row), keep a candidate only if it is
    /// nearer to the base row than to every one kept so far; at most `m`.
    fn select(&self, cands: &[Scored], m: usize) -> Vec<u32> {
        let mut kept: Vec<u32> = Vec::with_capacity(m);
        for c in cands {
            if kept.len() >= m {
                break;
            }
            if kept
                .iter()
                .all(|&k| self.metric.between(c.row, k) >= c.dist)
            {
                kept.push(c.row);
            }
        }
        kept
    }

    /// Adds `q` to `nb`'s list in `layer`, re-selecting the list when full.
    fn link_back(&self, nb: u32, q: u32, layer: usize, buf: &mut Vec<u32>) {
        let _g = self.locks[nb as usize].lock();
        self.neighbours(nb, layer, buf);
        if buf.contains(&q) {
            return;
        }
        let cap = self.cap(layer);
        if buf.len() < cap {
            buf.push(q);
            self.set_neighbours(nb, layer, buf);
            return;
        }
        let mut cands: Vec<Scored> = buf
            .iter()
            .chain(std::iter::once(&q))
            .map(|&r| Scored {
                dist: self.metric.between(nb, r),
                row: r,
            })
            .collect();
        cands.sort_unstable();
        let kept = self.select(&cands, cap);
        self.set_neighbours(nb, layer, &kept);
    }

    fn insert(&self, q: u32) {
        let level = self.levels[q as usize] as usize;
        let Some((_, top)) = *self.entry.read() else {
            // The first row: nothing to link to.
            let mut e = self.entry.write();
            if e.is_none() {
                *e = Some((q, level));
                return;
            }
            drop(e);
            return self.insert(q);
        };
        if level <= top {
            return self.link(q, level);
        }
        // A row above the top layer (a handful per build) is inserted
        // alone among such rows, from the entry point as it stands once
        // the lock is held, and then becomes the entry point: two of them
        // at once would each link only below the other's new layers.
        let _top = self.top_lock.lock();
        self.link(q, level);
        let mut e = self.entry.write();
        if e.is_some_and(|(_, t)| level > t) {
            *e = Some((q, level));
        }
    }

    /// Links row `q` of level `level` into every layer it shares with the
    /// graph, starting from the current entry point.
    fn link(&self, q: u32, level: usize) {
        let Some((ep_row, top)) = *self.entry.read() else {
            return;
        };
        let mut buf = Vec::with_capacity(2 * self.m + 1);
        let mut ep = Scored {
            dist: self.metric.between(q, ep_row),
            row: ep_row,
        };
        for layer in (level + 1..=top).rev() {
            ep = self.greedy(q, ep, layer, &mut buf);
        }
        let mut eps = vec![ep];
        for layer in (0..=level.min(top)).rev() {
            let found = self.search_layer(q, &eps, layer, &mut buf);
            let chosen = self.select(&found, self.m);
            self.set_own(q, layer, chosen.clone(), &mut buf);
            for &nb in &chosen {
                self.link_back(nb, q, layer, &mut buf);
            }
            eps = found;
        }
    }

    /// Sets `q`'s own list in `layer` to `chosen`, keeping the links that
    /// concurrent inserts already added to it (a row that reached `q`
    /// through an upper layer may link back to it before `q` got here);
    /// past the layer's capacity the union is re-selected.
    fn set_own(&self, q: u32, layer: usize, mut chosen: Vec<u32>, buf: &mut Vec<u32>) {
        let _g = self.locks[q as usize].lock();
        self.neighbours(q, layer, buf);
        for &r in buf.iter() {
            if !chosen.contains(&r) {
                chosen.push(r);
            }
        }
        let cap = self.cap(layer);
        if chosen.len() > cap {
            let mut cands: Vec<Scored> = chosen
                .iter()
                .map(|&r| Scored {
                    dist: self.metric.between(q, r),
                    row: r,
                })
                .collect();
            cands.sort_unstable();
            chosen = self.select(&cands, cap);
        }
        self.set_neighbours(q, layer, &chosen);
    }

    /// The finished graph in CSR layers.
    fn finish(self) -> Graph {
        let Some((entry, top)) = *self.entry.read() else {
            return Graph::default();
        };
        Graph::from_lists(&self.levels, entry, top, |row, layer, out| {
            self.neighbours(row, layer, out)
        })
    }
}

/// Builds the HNSW graph of `data` (`dim` floats per row, all finite) for
/// `space` with `m` neighbours per upper layer (`2m` in the base layer) and
/// beam width `ef_construction`, on `pool`; `None` if `cancel` answered
/// true between two chunks of rows.
pub(crate) fn build(
    data: &[f32],
    dim: usize,
    space: Space,
    m: usize,
    ef_construction: usize,
    pool: &rayon::ThreadPool,
    cancel: &(dyn Fn() -> bool + Sync),
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
    let b = Builder::new(
        Metric {
            data,
            dim,
            space,
            norms,
        },
        m.max(2),
        ef_construction.max(m),
    );
    // The first rows go in one by one so the parallel inserts start from a
    // connected graph.
    let serial = n.min(b.m * 2);
    for r in 0..serial {
        b.insert(r as u32);
    }
    let mut start = serial;
    while start < n {
        if cancel() {
            return None;
        }
        let end = (start + CHUNK).min(n);
        pool.install(|| {
            (start..end)
                .into_par_iter()
                .for_each(|r| b.insert(r as u32))
        });
        start = end;
    }
    Some(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_fall_off_geometrically() {
        let m = 16;
        let levels: Vec<usize> = (0..100_000u64).map(|r| level_of(r, m)).collect();
        let above0 = levels.iter().filter(|&&l| l >= 1).count();
        let above1 = levels.iter().filter(|&&l| l >= 2).count();
        // Expected 1/16 and 1/256 of the rows.
        assert!((5_500..7_000).contains(&above0), "{above0}");
        assert!((250..550).contains(&above1), "{above1}");
    }

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
            let g = build(&data, dim, space, 8, 50, &pool, &|| false).unwrap();
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
        assert!(build(&data, 2, Space::L2, 8, 20, &pool, &|| true).is_none());
    }
}
