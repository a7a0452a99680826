//! The search structure of one segment: an HNSW graph's adjacency in
//! compressed rows (CSR) of `u32` row numbers, one block per layer, plus the
//! layered best-first search over it.
//!
//! The graph is built by `build.rs` (or the reference, `hnsw_rs`, see
//! `hnsw.rs`) and then laid out in this
//! form, which holds no vectors: the caller passes the distance function
//! (`SegmentGraph` walks on an 8-bit copy, see `sq8.rs`, and rescores the
//! best candidates from the segment's f32 column), and a search allocates
//! no per-node objects.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::topk::Scored;
use super::visited::with_visited;

/// The adjacency of one layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Layer {
    /// Rows present in this layer, ascending. Empty for layer 0, which holds
    /// every row and is indexed by row number directly.
    pub nodes: Vec<u32>,
    /// `neighbours[offsets[i]..offsets[i + 1]]` are node `i`'s neighbours.
    pub offsets: Vec<u32>,
    /// Neighbour row numbers.
    pub neighbours: Vec<u32>,
}

impl Layer {
    /// The neighbours of `row` in this layer (`base`: this is layer 0).
    #[inline]
    fn neighbours_of(&self, row: u32, base: bool) -> &[u32] {
        let i = if base {
            row as usize
        } else {
            match self.nodes.binary_search(&row) {
                Ok(i) => i,
                Err(_) => return &[],
            }
        };
        let (s, e) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        &self.neighbours[s..e]
    }

    fn heap_bytes(&self) -> usize {
        4 * (self.nodes.capacity() + self.offsets.capacity() + self.neighbours.capacity())
    }
}

/// A layered proximity graph over rows `0..n`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Graph {
    /// Number of rows.
    pub n: u32,
    /// Where every search starts: a row of the top layer. `None` iff `n == 0`.
    pub entry: Option<u32>,
    /// `layers[0]` is the base layer; `layers.len() - 1` is the top.
    pub layers: Vec<Layer>,
}

impl Graph {
    /// Lays per-row neighbour lists out as CSR layers: row `r` is in layers
    /// `0..=levels[r]`, `entry` is where searches start (a row of layer
    /// `top`), and `lists(row, layer, out)` puts `row`'s neighbours in
    /// `layer` into `out`. A neighbour that is the row itself, out of range
    /// or not in the layer is dropped. Both builders finish with this.
    pub(crate) fn from_lists(
        levels: &[u8],
        entry: u32,
        top: usize,
        mut lists: impl FnMut(u32, usize, &mut Vec<u32>),
    ) -> Graph {
        let n = levels.len();
        let in_layer = |r: u32, l: usize| (r as usize) < n && levels[r as usize] as usize >= l;
        let mut layers = Vec::with_capacity(top + 1);
        let mut buf = Vec::new();
        for l in 0..=top {
            let nodes: Vec<u32> = if l == 0 {
                Vec::new()
            } else {
                (0..n as u32).filter(|&r| in_layer(r, l)).collect()
            };
            let count = if l == 0 { n } else { nodes.len() };
            let mut offsets = Vec::with_capacity(count + 1);
            offsets.push(0u32);
            let mut neighbours = Vec::new();
            let rows: Box<dyn Iterator<Item = u32> + '_> = if l == 0 {
                Box::new(0..n as u32)
            } else {
                Box::new(nodes.iter().copied())
            };
            for row in rows {
                buf.clear();
                lists(row, l, &mut buf);
                neighbours.extend(
                    buf.iter()
                        .copied()
                        .filter(|&nb| nb != row && in_layer(nb, l)),
                );
                offsets.push(neighbours.len() as u32);
            }
            neighbours.shrink_to_fit();
            layers.push(Layer {
                nodes,
                offsets,
                neighbours,
            });
        }
        Graph {
            n: n as u32,
            entry: (n > 0).then_some(entry),
            layers,
        }
    }

    /// Each row's level (its highest layer).
    pub(crate) fn levels(&self) -> Vec<u8> {
        let mut levels = vec![0u8; self.n as usize];
        for (l, layer) in self.layers.iter().enumerate().skip(1) {
            for &r in &layer.nodes {
                if let Some(x) = levels.get_mut(r as usize) {
                    *x = l as u8;
                }
            }
        }
        levels
    }

    /// `row`'s neighbours in `layer`, into `out` (emptied first).
    pub(crate) fn neighbours(&self, row: u32, layer: usize, out: &mut Vec<u32>) {
        out.clear();
        if let Some(l) = self.layers.get(layer) {
            if layer > 0 || (row as usize) + 1 < l.offsets.len() {
                out.extend_from_slice(l.neighbours_of(row, layer == 0));
            }
        }
    }

    /// Bytes of heap memory held by the adjacency.
    pub fn heap_bytes(&self) -> usize {
        self.layers.iter().map(Layer::heap_bytes).sum::<usize>()
            + self.layers.capacity() * std::mem::size_of::<Layer>()
    }

    /// Checks the invariants a search relies on, so that a graph read from
    /// disk can never index out of bounds. Returns what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.n as usize;
        if n == 0 {
            return if self.entry.is_none() && self.layers.iter().all(|l| l.offsets.len() <= 1) {
                Ok(())
            } else {
                Err("an empty graph has an entry point or edges".into())
            };
        }
        let entry = self.entry.ok_or("a non-empty graph has no entry point")?;
        if self.layers.is_empty() {
            return Err("no base layer".into());
        }
        for (l, layer) in self.layers.iter().enumerate() {
            let count = if l == 0 {
                if !layer.nodes.is_empty() {
                    return Err("the base layer lists nodes".into());
                }
                n
            } else {
                if layer.nodes.is_empty() {
                    return Err(format!("layer {l} is empty"));
                }
                if layer.nodes.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(format!("layer {l}: nodes are not strictly ascending"));
                }
                if layer.nodes.last().is_some_and(|&r| r as usize >= n) {
                    return Err(format!("layer {l}: node out of range"));
                }
                layer.nodes.len()
            };
            if layer.offsets.len() != count + 1 || layer.offsets[0] != 0 {
                return Err(format!(
                    "layer {l}: {} offsets for {count} nodes",
                    layer.offsets.len()
                ));
            }
            if layer.offsets.windows(2).any(|w| w[0] > w[1]) {
                return Err(format!("layer {l}: offsets decrease"));
            }
            if layer.offsets[count] as usize != layer.neighbours.len() {
                return Err(format!(
                    "layer {l}: offsets do not cover the neighbour list"
                ));
            }
            for &nb in &layer.neighbours {
                let ok = if l == 0 {
                    (nb as usize) < n
                } else {
                    layer.nodes.binary_search(&nb).is_ok()
                };
                if !ok {
                    return Err(format!("layer {l}: neighbour {nb} is not in the layer"));
                }
            }
        }
        let top = self.layers.len() - 1;
        let in_top = if top == 0 {
            (entry as usize) < n
        } else {
            self.layers[top].nodes.binary_search(&entry).is_ok()
        };
        if !in_top {
            return Err(format!("entry point {entry} is not in the top layer"));
        }
        Ok(())
    }

    /// Best-first search: greedy descent through the upper layers, then a
    /// beam of width `ef` in the base layer. Returns up to `ef` rows that
    /// `allowed` accepts, nearest first, with the distances `dist` gave.
    ///
    /// With a filter, the base layer is searched as in ACORN-1 (Patel et
    /// al., SIGMOD 2024) rather than as in hnswlib: instead of computing
    /// distances to rejected rows to walk through them (which costs about
    /// `1 / selectivity` times an unfiltered search), a rejected neighbour's
    /// own neighbours are taken as candidates. Distances are then computed
    /// for allowed rows only, so the cost stays near an unfiltered search's
    /// down to a selectivity of about `1 / degree`; below that the allowed
    /// rows fall apart into islands and the search comes back short, which
    /// is why the planner scans small selections.
    /// `prefetch(row)` is called shortly before `dist(row)` in the base layer
    /// so the row's vector can be on its way to the cache.
    pub fn search(
        &self,
        dist: impl Fn(u32) -> f32,
        prefetch: impl Fn(u32),
        ef: usize,
        allowed: Option<&dyn Fn(u32) -> bool>,
    ) -> Vec<Scored> {
        let Some(mut ep) = self.entry else {
            return Vec::new();
        };
        if ef == 0 || self.layers.is_empty() {
            return Vec::new();
        }
        let mut d_ep = dist(ep);
        for l in (1..self.layers.len()).rev() {
            let layer = &self.layers[l];
            loop {
                let mut changed = false;
                for &nb in layer.neighbours_of(ep, false) {
                    let d = dist(nb);
                    if d < d_ep {
                        d_ep = d;
                        ep = nb;
                        changed = true;
                    }
                }
                if !changed {
                    break;
                }
            }
        }
        let is_allowed = |r: u32| allowed.is_none_or(|f| f(r));
        let base = &self.layers[0];
        with_visited(self.n as usize, |visited| {
            visited.insert(ep);
            let mut candidates = BinaryHeap::with_capacity(ef * 4);
            let mut top: BinaryHeap<Scored> = BinaryHeap::with_capacity(ef + 1);
            let mut bound = f32::INFINITY;
            let mut fresh: Vec<u32> = Vec::with_capacity(64);
            if is_allowed(ep) {
                top.push(Scored {
                    dist: d_ep,
                    row: ep,
                });
                bound = d_ep;
            }
            candidates.push(Reverse(Scored {
                dist: d_ep,
                row: ep,
            }));
            while let Some(Reverse(c)) = candidates.pop() {
                if c.dist > bound && top.len() >= ef {
                    break;
                }
                fresh.clear();
                let nbrs = base.neighbours_of(c.row, true);
                match allowed {
                    None => fresh.extend(nbrs.iter().copied().filter(|&nb| visited.insert(nb))),
                    Some(ok) => {
                        // ACORN-1 expansion: distances are computed for
                        // allowed rows only; a rejected neighbour is looked
                        // through to its own neighbours, up to `cap` rows.
                        let cap = nbrs.len().max(TWO_HOP_MIN_CAP);
                        fresh.extend(
                            nbrs.iter()
                                .copied()
                                .filter(|&nb| ok(nb) && visited.insert(nb)),
                        );
                        'hops: for &via in nbrs {
                            if ok(via) {
                                continue;
                            }
                            for &nb in base.neighbours_of(via, true) {
                                if fresh.len() >= cap {
                                    break 'hops;
                                }
                                if ok(nb) && visited.insert(nb) {
                                    fresh.push(nb);
                                }
                            }
                        }
                    }
                }
                if let Some(&first) = fresh.first() {
                    prefetch(first);
                }
                for (j, &nb) in fresh.iter().enumerate() {
                    if let Some(&next) = fresh.get(j + 1) {
                        prefetch(next);
                    }
                    let d = dist(nb);
                    if top.len() < ef || d < bound {
                        candidates.push(Reverse(Scored { dist: d, row: nb }));
                        if is_allowed(nb) {
                            top.push(Scored { dist: d, row: nb });
                            if top.len() > ef {
                                top.pop();
                            }
                            if let Some(w) = top.peek() {
                                bound = w.dist;
                            }
                        }
                    }
                }
            }
            top.into_sorted_vec()
        })
    }
}

/// The fewest candidates a filtered expansion gathers through rejected
/// neighbours (the base layer's degree is `2 * max_neighbors`, 32 by default).
const TWO_HOP_MIN_CAP: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    /// A path 0-1-2-3 in the base layer, 0 and 3 linked in layer 1.
    fn path() -> Graph {
        Graph {
            n: 4,
            entry: Some(0),
            layers: vec![
                Layer {
                    nodes: vec![],
                    offsets: vec![0, 1, 3, 5, 6],
                    neighbours: vec![1, 0, 2, 1, 3, 2],
                },
                Layer {
                    nodes: vec![0, 3],
                    offsets: vec![0, 1, 2],
                    neighbours: vec![3, 0],
                },
            ],
        }
    }

    #[test]
    fn search_walks_through_rejected_rows() {
        let g = path();
        g.validate().unwrap();
        let pos = [0.0f32, 1.0, 2.0, 3.0];
        let dist = |r: u32| (pos[r as usize] - 1.2).abs();
        let all: Vec<u32> = g
            .search(dist, |_| {}, 4, None)
            .iter()
            .map(|s| s.row)
            .collect();
        assert_eq!(all, vec![1, 2, 0, 3]);
        let odd = |r: u32| r % 2 == 1;
        let got: Vec<u32> = g
            .search(dist, |_| {}, 4, Some(&odd))
            .iter()
            .map(|s| s.row)
            .collect();
        assert_eq!(got, vec![1, 3]);
    }

    #[test]
    fn validate_rejects_broken_graphs() {
        let mut g = path();
        g.layers[0].neighbours[0] = 9;
        assert!(g.validate().is_err());
        let mut g = path();
        g.entry = Some(1);
        assert!(g.validate().is_err());
        let mut g = path();
        g.layers[1].offsets = vec![0, 1];
        assert!(g.validate().is_err());
        assert!(Graph::default().validate().is_ok());
    }
}
