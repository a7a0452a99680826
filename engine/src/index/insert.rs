//! HNSW insertion and search (Malkov & Yashunin, TPAMI 2018) over any
//! adjacency storage: the one copy of the algorithm, shared by the
//! segment builder (`build.rs`, flat arrays sized up front) and the
//! memtable's graph (`growing.rs`, which grows a row at a time as writes
//! arrive).
//!
//! - **Insertion**: greedy descent from the entry point to the row's
//!   level, then per layer a beam search of width `ef_construction`, the
//!   neighbours chosen with the paper's heuristic (keep a candidate only if
//!   it is closer to the new row than to every neighbour kept so far),
//!   links added both ways; a neighbour whose list overflows re-selects its
//!   list with the same heuristic. A new row links to `M` neighbours per
//!   layer; a list may grow to `M` in the upper layers and `2M` in the base
//!   layer (as hnswlib).
//! - **Concurrency**: rows may be inserted from many threads at once. A
//!   row's lists change only under its lock ([`Lists::lock`]); readers take
//!   no lock and may see a list mid-update, which can only cost a search a
//!   neighbour, never a wrong row. A row above the top layer (a handful
//!   per graph) is inserted alone among such rows, under `top_lock`.
//! - **Levels**: row `r` gets level `⌊−ln(u) / ln M⌋` with `u` drawn from a
//!   hash of `r` ([`level_of`]), so a graph is reproducible up to thread
//!   scheduling.
//! - **Visited sets**: one generation-stamped array per thread, reused
//!   (`visited.rs`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use parking_lot::{Mutex, MutexGuard, RwLock};

use super::distance::{dot, l2_squared};
use super::topk::Scored;
use super::visited::with_visited;
use crate::types::Space;

/// Highest level a row may get (with M ≥ 2 a level above 16 has odds of
/// 2^−16 per row).
pub(crate) const MAX_LEVEL: usize = 16;

/// A level for row `r`: `⌊−ln(u) / ln M⌋`, `u` uniform in (0, 1] from a
/// hash of `r` (splitmix64).
pub(crate) fn level_of(r: u64, m: usize) -> usize {
    let mut z = r.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let u = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let level = (-u.ln() / (m as f64).ln()).floor();
    (level as usize).min(MAX_LEVEL)
}

/// The list row `r` keeps in `layer` when some rows of its graph are
/// dropped (`kept` says which stay; `lists` reads the old lists): its kept
/// neighbours, and in place of each dropped one, that row's own kept
/// neighbours (as FreshDiskANN repairs a deletion), `r` itself excluded,
/// each once. Past `cap` it keeps its own kept neighbours and then the
/// nearest replacements by `dist` (distance to `r`), which costs a distance
/// per replacement, not the heuristic's pairwise ones: a merge repairs
/// every list that lost a neighbour.
pub(crate) fn surviving_list(
    r: u32,
    layer: usize,
    cap: usize,
    lists: &impl Fn(u32, usize, &mut Vec<u32>),
    kept: &impl Fn(u32) -> bool,
    dist: &impl Fn(u32) -> f32,
    bufs: &mut (Vec<u32>, Vec<u32>),
) -> Vec<u32> {
    let (own, hop) = bufs;
    lists(r, layer, own);
    let mut list: Vec<u32> = Vec::with_capacity(cap);
    let mut dropped = Vec::new();
    for &nb in own.iter() {
        if kept(nb) {
            if nb != r && !list.contains(&nb) {
                list.push(nb);
            }
        } else {
            dropped.push(nb);
        }
    }
    let mut spare: Vec<u32> = Vec::new();
    for d in dropped {
        lists(d, layer, hop);
        for &x in hop.iter() {
            if x != r && kept(x) && !list.contains(&x) && !spare.contains(&x) {
                spare.push(x);
            }
        }
    }
    let room = cap.saturating_sub(list.len());
    if spare.len() > room {
        let mut scored: Vec<Scored> = spare
            .iter()
            .map(|&x| Scored {
                dist: dist(x),
                row: x,
            })
            .collect();
        scored.sort_unstable();
        spare = scored.into_iter().take(room).map(|s| s.row).collect();
    }
    list.extend(spare);
    list.truncate(cap);
    list
}

/// The distance graphs are built with, between rows `x` and `y` of norms
/// `nx`, `ny` (read for cosine only): Chroma's order for the space —
/// squared L2; `1 − x·y/(|x||y|)`; for inner product `−x·y` (the order of
/// `1 − x·y`, the ip-NSW graph).
#[inline]
pub(crate) fn pair_distance(space: Space, x: &[f32], nx: f32, y: &[f32], ny: f32) -> f32 {
    match space {
        Space::L2 => l2_squared(x, y),
        Space::Ip => -dot(x, y),
        Space::Cosine => {
            let n = nx * ny;
            if n > 0.0 {
                1.0 - dot(x, y) / n
            } else {
                1.0
            }
        }
    }
}

/// Where a graph keeps its neighbour lists while rows are inserted.
pub(crate) trait Lists: Sync {
    /// Rows that exist: `0..len()`. A neighbour at or past it (a row being
    /// added concurrently) is skipped by walks.
    fn len(&self) -> usize;
    /// The row's level.
    fn level(&self, row: u32) -> usize;
    /// The row's neighbours in `layer`, copied into `out` (emptied first).
    fn neighbours(&self, row: u32, layer: usize, out: &mut Vec<u32>);
    /// Replaces the row's list in `layer` (caller holds the row's lock);
    /// at most `cap` entries are kept.
    fn set_neighbours(&self, row: u32, layer: usize, list: &[u32]);
    /// The lock taken to change the row's lists.
    fn lock(&self, row: u32) -> MutexGuard<'_, ()>;
}

/// Distances between rows, in the order of the space's distance.
pub(crate) trait Pairwise: Sync {
    fn between(&self, a: u32, b: u32) -> f32;
    /// Hints that `row`'s vector is read next.
    fn prefetch(&self, row: u32);
}

/// An HNSW graph being built: its lists, parameters and entry point.
pub(crate) struct Hnsw<L> {
    pub(crate) lists: L,
    /// `M` (upper layers); the base layer keeps `2M`.
    pub(crate) m: usize,
    /// `ef_construction`.
    ef: usize,
    /// `(entry row, its level)`; `None` before the first insert.
    entry: RwLock<Option<(u32, usize)>>,
    /// Held while a row above the top layer is inserted.
    top_lock: Mutex<()>,
}

impl<L: Lists> Hnsw<L> {
    /// An empty graph over `lists` (`m` ≥ 2, `ef` ≥ `m`).
    pub(crate) fn new(lists: L, m: usize, ef: usize) -> Hnsw<L> {
        Hnsw {
            lists,
            m,
            ef,
            entry: RwLock::new(None),
            top_lock: Mutex::new(()),
        }
    }

    /// Starts inserts from `entry` (a row already linked, of level `top`),
    /// for a graph seeded with an existing one's lists.
    pub(crate) fn set_entry(&self, entry: u32, top: usize) {
        *self.entry.write() = Some((entry, top));
    }

    /// `(entry row, top layer)`, once a row is in.
    pub(crate) fn entry(&self) -> Option<(u32, usize)> {
        *self.entry.read()
    }

    /// The list capacity of `layer`.
    pub(crate) fn cap(&self, layer: usize) -> usize {
        if layer == 0 {
            2 * self.m
        } else {
            self.m
        }
    }

    /// Greedy walk in `layer` from `ep` towards the point `dq` measures.
    fn greedy(
        &self,
        dq: &impl Fn(u32) -> f32,
        mut ep: Scored,
        layer: usize,
        buf: &mut Vec<u32>,
    ) -> Scored {
        let n = self.lists.len();
        loop {
            let mut changed = false;
            self.lists.neighbours(ep.row, layer, buf);
            for &nb in buf.iter().filter(|&&nb| (nb as usize) < n) {
                let d = dq(nb);
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

    /// Beam search of width `ef` in `layer` from `eps` towards the point
    /// `dq` measures (never returning `skip`); nearest first.
    // The walk's whole state is its arguments; bundling them would only
    // move the list into a struct built at each of the two calls.
    #[allow(clippy::too_many_arguments)]
    fn search_layer(
        &self,
        metric: &impl Pairwise,
        dq: &impl Fn(u32) -> f32,
        skip: Option<u32>,
        eps: &[Scored],
        layer: usize,
        ef: usize,
        buf: &mut Vec<u32>,
    ) -> Vec<Scored> {
        let n = self.lists.len();
        with_visited(n, |visited| {
            let mut candidates: BinaryHeap<Reverse<Scored>> = BinaryHeap::with_capacity(ef * 2);
            let mut top: BinaryHeap<Scored> = BinaryHeap::with_capacity(ef + 1);
            if let Some(q) = skip.filter(|&q| (q as usize) < n) {
                visited.insert(q);
            }
            for &e in eps {
                if (e.row as usize) < n && visited.insert(e.row) {
                    candidates.push(Reverse(e));
                    top.push(e);
                }
            }
            while top.len() > ef {
                top.pop();
            }
            while let Some(Reverse(c)) = candidates.pop() {
                if top.len() >= ef && top.peek().is_some_and(|w| c.dist > w.dist) {
                    break;
                }
                self.lists.neighbours(c.row, layer, buf);
                buf.retain(|&nb| (nb as usize) < n && visited.insert(nb));
                for (j, &nb) in buf.iter().enumerate() {
                    if let Some(&next) = buf.get(j + 1) {
                        metric.prefetch(next);
                    }
                    let d = dq(nb);
                    if top.len() < ef || top.peek().is_some_and(|w| d < w.dist) {
                        let s = Scored { dist: d, row: nb };
                        candidates.push(Reverse(s));
                        top.push(s);
                        if top.len() > ef {
                            top.pop();
                        }
                    }
                }
            }
            top.into_sorted_vec()
        })
    }

    /// The `ef` rows nearest to the point `dq` measures, nearest first
    /// (fewer if the graph is smaller): greedy descent, then a beam of
    /// width `ef` in the base layer.
    pub(crate) fn search(
        &self,
        metric: &impl Pairwise,
        dq: impl Fn(u32) -> f32,
        ef: usize,
    ) -> Vec<Scored> {
        let Some((ep_row, top)) = self.entry() else {
            return Vec::new();
        };
        let mut buf = Vec::with_capacity(2 * self.m + 1);
        let mut ep = Scored {
            dist: dq(ep_row),
            row: ep_row,
        };
        for layer in (1..=top).rev() {
            ep = self.greedy(&dq, ep, layer, &mut buf);
        }
        self.search_layer(metric, &dq, None, &[ep], 0, ef.max(1), &mut buf)
    }

    /// The paper's neighbour-selection heuristic: from `cands` (nearest
    /// first, distances to the base row), keep a candidate only if it is
    /// nearer to the base row than to every one kept so far; at most `m`.
    pub(crate) fn select(&self, metric: &impl Pairwise, cands: &[Scored], m: usize) -> Vec<u32> {
        let mut kept: Vec<u32> = Vec::with_capacity(m);
        for c in cands {
            if kept.len() >= m {
                break;
            }
            if kept.iter().all(|&k| metric.between(c.row, k) >= c.dist) {
                kept.push(c.row);
            }
        }
        kept
    }

    /// `list` (rows other than `row`) cut to `cap` by the heuristic, by
    /// distance to `row`.
    pub(crate) fn prune(
        &self,
        metric: &impl Pairwise,
        row: u32,
        list: &[u32],
        cap: usize,
    ) -> Vec<u32> {
        let mut cands: Vec<Scored> = list
            .iter()
            .map(|&r| Scored {
                dist: metric.between(row, r),
                row: r,
            })
            .collect();
        cands.sort_unstable();
        self.select(metric, &cands, cap)
    }

    /// Adds `q` to `nb`'s list in `layer`, re-selecting the list when full.
    fn link_back(&self, metric: &impl Pairwise, nb: u32, q: u32, layer: usize, buf: &mut Vec<u32>) {
        let _g = self.lists.lock(nb);
        self.lists.neighbours(nb, layer, buf);
        if buf.contains(&q) {
            return;
        }
        let cap = self.cap(layer);
        buf.push(q);
        if buf.len() <= cap {
            self.lists.set_neighbours(nb, layer, buf);
            return;
        }
        let kept = self.prune(metric, nb, buf, cap);
        self.lists.set_neighbours(nb, layer, &kept);
    }

    /// Inserts row `q` (which [`Lists`] already holds, with no links).
    pub(crate) fn insert(&self, metric: &impl Pairwise, q: u32) {
        let level = self.lists.level(q);
        let Some((_, top)) = self.entry() else {
            // The first row: nothing to link to.
            let mut e = self.entry.write();
            if e.is_none() {
                *e = Some((q, level));
                return;
            }
            drop(e);
            return self.insert(metric, q);
        };
        if level <= top {
            return self.link(metric, q, level);
        }
        // A row above the top layer is inserted alone among such rows, from
        // the entry point as it stands once the lock is held, and then
        // becomes the entry point: two of them at once would each link only
        // below the other's new layers.
        let _top = self.top_lock.lock();
        self.link(metric, q, level);
        let mut e = self.entry.write();
        if e.is_some_and(|(_, t)| level > t) {
            *e = Some((q, level));
        }
    }

    /// Links row `q` of level `level` into every layer it shares with the
    /// graph, starting from the current entry point.
    fn link(&self, metric: &impl Pairwise, q: u32, level: usize) {
        let Some((ep_row, top)) = self.entry() else {
            return;
        };
        let dq = |r: u32| metric.between(q, r);
        let mut buf = Vec::with_capacity(2 * self.m + 1);
        let mut ep = Scored {
            dist: dq(ep_row),
            row: ep_row,
        };
        for layer in (level + 1..=top).rev() {
            ep = self.greedy(&dq, ep, layer, &mut buf);
        }
        let mut eps = vec![ep];
        for layer in (0..=level.min(top)).rev() {
            let found = self.search_layer(metric, &dq, Some(q), &eps, layer, self.ef, &mut buf);
            let chosen = self.select(metric, &found, self.m);
            self.set_own(metric, q, layer, chosen.clone(), &mut buf);
            for &nb in &chosen {
                self.link_back(metric, nb, q, layer, &mut buf);
            }
            eps = found;
        }
    }

    /// Sets `q`'s own list in `layer` to `chosen`, keeping the links that
    /// concurrent inserts already added to it (a row that reached `q`
    /// through an upper layer may link back to it before `q` got here);
    /// past the layer's capacity the union is re-selected.
    fn set_own(
        &self,
        metric: &impl Pairwise,
        q: u32,
        layer: usize,
        mut chosen: Vec<u32>,
        buf: &mut Vec<u32>,
    ) {
        let _g = self.lists.lock(q);
        self.lists.neighbours(q, layer, buf);
        for &r in buf.iter() {
            if !chosen.contains(&r) {
                chosen.push(r);
            }
        }
        let cap = self.cap(layer);
        if chosen.len() > cap {
            chosen = self.prune(metric, q, &chosen, cap);
        }
        self.lists.set_neighbours(q, layer, &chosen);
    }
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
}
