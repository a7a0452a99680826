//! Top-k by `1 - q·d` over posting lists, with MaxScore's dynamic pruning.
//!
//! [`TopK`] keeps the `k` best hits seen so far, best by score then by
//! insertion order (a record's order key), as the brute-force ranking
//! does; every source of a version feeds the same one, so the threshold
//! one source reaches prunes the next.
//!
//! [`TopK::max_score`] runs one source: its query terms' lists sorted by
//! their upper bound (`max(q·max_w, q·min_w, 0)`); while the k-th best score
//! is known, the lists whose bounds together cannot reach it are
//! *non-essential*: a row only they hold cannot enter, so candidates come
//! from the essential lists alone, and a candidate's remaining bound is
//! checked before each non-essential list is searched for it. Bounds are
//! summed in f64 and compared with a margin, so f32 rounding never prunes
//! a row that would have entered. A row's product is then summed in query
//! term order, in f32, exactly as [`dot`] (the scan) sums it, so scores
//! are bit-identical to a scan's.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::PostingList;
use crate::metadata::SparseVector;

/// `q · d` over the dimensions both hold (indices ascending in both), or
/// `None` when they share none: the scan's product, and the reference the
/// posting-list search matches bit for bit.
pub(crate) fn dot(q: &SparseVector, d: &SparseVector) -> Option<f32> {
    let (mut i, mut j, mut dot, mut shared) = (0, 0, 0f32, false);
    while i < q.indices.len() && j < d.indices.len() {
        match q.indices[i].cmp(&d.indices[j]) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                dot += q.values[i] * d.values[j];
                shared = true;
                i += 1;
                j += 1;
            }
        }
    }
    shared.then_some(dot)
}

/// One query term's list in one source.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'a> {
    pub(crate) list: PostingList<'a>,
    /// The term's position in the query (the order products are summed in).
    pub(crate) qpos: usize,
    /// The query's weight for the term.
    pub(crate) q: f32,
    /// The largest and smallest weight in the list.
    pub(crate) max: f32,
    pub(crate) min: f32,
}

impl Cursor<'_> {
    /// The most the list can add to a row's product, never below 0 (a
    /// row need not hold every list, so a negative bound bounds nothing).
    fn bound(&self) -> f64 {
        let b = (self.q as f64 * self.max as f64).max(self.q as f64 * self.min as f64);
        if b.is_nan() {
            f64::INFINITY
        } else {
            b.max(0.0)
        }
    }
}

/// A hit: score, order key, location.
#[derive(Debug, Clone, Copy)]
struct Hit<L> {
    score: f32,
    order: u64,
    loc: L,
}

impl<L> PartialEq for Hit<L> {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl<L> Eq for Hit<L> {}
impl<L> PartialOrd for Hit<L> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<L> Ord for Hit<L> {
    /// Worse is greater: a higher score, then a later order key.
    fn cmp(&self, o: &Self) -> Ordering {
        self.score
            .total_cmp(&o.score)
            .then(self.order.cmp(&o.order))
    }
}

/// The `k` best hits so far (see the module docs).
pub(crate) struct TopK<L> {
    k: usize,
    heap: BinaryHeap<Hit<L>>,
}

impl<L: Copy> TopK<L> {
    /// An empty top-`k`.
    pub(crate) fn new(k: usize) -> TopK<L> {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(1 << 16) + 1),
        }
    }

    /// Offers a hit.
    pub(crate) fn offer(&mut self, score: f32, order: u64, loc: L) {
        if self.k == 0 {
            return;
        }
        let h = Hit { score, order, loc };
        if self.heap.len() < self.k {
            self.heap.push(h);
        } else if self.heap.peek().is_some_and(|w| h < *w) {
            self.heap.pop();
            self.heap.push(h);
        }
    }

    /// The product a row needs to have a chance of entering (`None` while
    /// fewer than `k` are kept: any row may).
    fn needed(&self) -> Option<f64> {
        if self.heap.len() < self.k {
            return None;
        }
        self.heap.peek().map(|w| 1.0 - w.score as f64)
    }

    /// The hits, best first.
    pub(crate) fn into_sorted(self) -> Vec<(L, f32)> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|h| (h.loc, h.score))
            .collect()
    }

    /// Runs MaxScore over one source's `cursors` (any order; at most one
    /// per query term) and offers every row that shares a term with the
    /// query, passes `admit` and may enter. `order` gives a row's order
    /// key, `loc` its location.
    pub(crate) fn max_score(
        &mut self,
        mut cursors: Vec<Cursor<'_>>,
        admit: impl Fn(u32) -> bool,
        order: impl Fn(u32) -> u64,
        loc: impl Fn(u32) -> L,
    ) {
        if self.k == 0 || cursors.is_empty() {
            return;
        }
        cursors.sort_by(|a, b| a.bound().total_cmp(&b.bound()));
        let n = cursors.len();
        let bounds: Vec<f64> = cursors.iter().map(Cursor::bound).collect();
        let mut prefix = vec![0f64; n + 1];
        for i in 0..n {
            prefix[i + 1] = prefix[i] + bounds[i];
        }
        // f32 summation of n products errs by at most about n·2⁻²⁴ of
        // their absolute sum: the margin covers that for any query length.
        let margin = (1e-5f64).max((n + 2) as f64 * f32::EPSILON as f64)
            * (1.0 + bounds.iter().map(|b| b.abs()).sum::<f64>());
        let qlen = cursors.iter().map(|c| c.qpos + 1).max().unwrap_or(0);
        let mut products: Vec<Option<f32>> = vec![None; qlen];
        let mut pos = vec![0usize; n];
        // Whether a row whose bound is `b` may still enter.
        let may_enter = |b: f64, needed: Option<f64>| match needed {
            None => true,
            Some(t) => (b + margin + 1e-5 * t.abs()).partial_cmp(&t) != Some(Ordering::Less),
        };
        loop {
            let needed = self.needed();
            // Lists 0..e are non-essential.
            let e = (0..=n)
                .take_while(|&i| i < n && !may_enter(prefix[i + 1], needed))
                .count();
            if e == n {
                return;
            }
            let Some(row) = (e..n)
                .filter_map(|i| cursors[i].list.rows.get(pos[i]).copied())
                .min()
            else {
                return;
            };
            products.iter_mut().for_each(|p| *p = None);
            let mut bound = prefix[e];
            for i in e..n {
                let c = &cursors[i];
                if c.list.rows.get(pos[i]) == Some(&row) {
                    let p = c.q * c.list.weights[pos[i]];
                    products[c.qpos] = Some(p);
                    bound += p as f64;
                    pos[i] += 1;
                }
            }
            if !admit(row) {
                continue;
            }
            let mut entered = true;
            for i in (0..e).rev() {
                if !may_enter(bound, needed) {
                    entered = false;
                    break;
                }
                let c = &cursors[i];
                let rows = &c.list.rows[pos[i]..];
                let skip = rows.partition_point(|&r| r < row);
                pos[i] += skip;
                bound -= bounds[i];
                if c.list.rows.get(pos[i]) == Some(&row) {
                    let p = c.q * c.list.weights[pos[i]];
                    products[c.qpos] = Some(p);
                    bound += p as f64;
                    pos[i] += 1;
                }
            }
            if !entered || !may_enter(bound, needed) {
                continue;
            }
            let mut dot = 0f32;
            for p in products.iter().flatten() {
                dot += p;
            }
            self.offer(1.0 - dot, order(row), loc(row));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sv(pairs: &[(u32, f32)]) -> SparseVector {
        SparseVector {
            indices: pairs.iter().map(|p| p.0).collect(),
            values: pairs.iter().map(|p| p.1).collect(),
            tokens: None,
        }
    }

    /// Random documents (sparse vectors over a small vocabulary, so terms
    /// are shared), a random query, a random filter and k.
    type Case = (Vec<Vec<(u32, f32)>>, Vec<(u32, f32)>, Vec<bool>, usize);

    fn case() -> impl Strategy<Value = Case> {
        let doc = prop::collection::btree_map(0u32..12, -2.0f32..4.0, 0..6)
            .prop_map(|m| m.into_iter().collect::<Vec<_>>());
        (
            prop::collection::vec(doc.clone(), 0..60),
            prop::collection::btree_map(0u32..12, -1.0f32..3.0, 1..6)
                .prop_map(|m| m.into_iter().collect::<Vec<_>>()),
            prop::collection::vec(any::<bool>(), 60),
            1usize..12,
        )
    }

    proptest! {
        /// MaxScore returns exactly the scan's top k, score for score.
        #[test]
        fn max_score_equals_the_scan((docs, query, admitted, k) in case()) {
            let q = sv(&query);
            let docs: Vec<SparseVector> = docs.iter().map(|d| sv(d)).collect();
            // Orders run backwards from rows, so ties are broken by them.
            let order = |r: u32| 1000 - r as u64;
            let mut scan: Vec<(u32, f32, u64)> = docs
                .iter()
                .enumerate()
                .filter(|(r, _)| admitted[*r])
                .filter_map(|(r, d)| dot(&q, d).map(|p| (r as u32, 1.0 - p, order(r as u32))))
                .collect();
            scan.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.2.cmp(&b.2)));
            scan.truncate(k);
            let mut lists: Vec<(Vec<u32>, Vec<f32>)> = vec![Default::default(); q.indices.len()];
            for (r, d) in docs.iter().enumerate() {
                for (&t, &w) in d.indices.iter().zip(&d.values) {
                    if let Ok(i) = q.indices.binary_search(&t) {
                        lists[i].0.push(r as u32);
                        lists[i].1.push(w);
                    }
                }
            }
            let cursors = lists
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.0.is_empty())
                .map(|(i, l)| Cursor {
                    list: PostingList { rows: &l.0, weights: &l.1 },
                    qpos: i,
                    q: q.values[i],
                    max: l.1.iter().copied().fold(f32::NEG_INFINITY, f32::max),
                    min: l.1.iter().copied().fold(f32::INFINITY, f32::min),
                })
                .collect();
            let mut top = TopK::new(k);
            top.max_score(cursors, |r| admitted[r as usize], order, |r| r);
            let got: Vec<(u32, u32)> = top.into_sorted().into_iter().map(|(r, s)| (r, s.to_bits())).collect();
            let want: Vec<(u32, u32)> = scan.iter().map(|&(r, s, _)| (r, s.to_bits())).collect();
            prop_assert_eq!(got, want);
        }
    }
}
