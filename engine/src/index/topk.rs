//! A bounded top-k collector: keeps the `k` smallest distances seen so far
//! in a max-heap, so each candidate costs one comparison once the heap is
//! full.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A `(distance, row)` pair ordered by distance, then row, with
/// [`f32::total_cmp`] (so NaN never panics; it sorts after every number).
#[derive(Debug, Clone, Copy)]
pub struct Scored {
    /// Distance to the query.
    pub dist: f32,
    /// Row number inside the segment.
    pub row: u32,
}

impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.dist
            .total_cmp(&other.dist)
            .then(self.row.cmp(&other.row))
    }
}

/// Keeps the `k` smallest items offered (by their `Ord`) in a max-heap, so
/// each candidate costs one comparison once it is full. The one bounded
/// top-k of the crate: segments rank [`Scored`] rows with it ([`TopK`]),
/// a collection its merged hits.
#[derive(Debug)]
pub struct TopN<T: Ord> {
    k: usize,
    heap: BinaryHeap<T>,
}

impl<T: Ord> TopN<T> {
    /// An empty collector for at most `k` items.
    pub fn new(k: usize) -> Self {
        TopN {
            k,
            heap: BinaryHeap::with_capacity(k.min(4096) + 1),
        }
    }

    /// Offers an item; it is kept if it is among the `k` smallest so far.
    #[inline]
    pub fn offer(&mut self, item: T) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(item);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if item < *worst {
                *worst = item;
            }
        }
    }

    /// The largest item held, once the collector is full.
    #[inline]
    pub fn worst_if_full(&self) -> Option<&T> {
        if self.heap.len() < self.k {
            None
        } else {
            self.heap.peek()
        }
    }

    /// How many items are held.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no item is held.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The items, smallest first.
    pub fn into_sorted_vec(self) -> Vec<T> {
        self.heap.into_sorted_vec()
    }
}

/// Collects the `k` nearest `(row, distance)` pairs.
#[derive(Debug)]
pub struct TopK(TopN<Scored>);

impl TopK {
    /// An empty collector for at most `k` results.
    pub fn new(k: usize) -> Self {
        TopK(TopN::new(k))
    }

    /// Offers a candidate; it is kept if it is among the `k` nearest so far.
    #[inline]
    pub fn push(&mut self, row: u32, dist: f32) {
        self.0.offer(Scored { dist, row });
    }

    /// The distance a candidate must beat to enter, once the collector is full.
    #[inline]
    pub fn threshold(&self) -> Option<f32> {
        self.0.worst_if_full().map(|s| s.dist)
    }

    /// How many results are held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no result is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The results, nearest first (ties broken by row number).
    pub fn into_sorted(self) -> Vec<(u32, f32)> {
        self.0
            .into_sorted_vec()
            .into_iter()
            .map(|s| (s.row, s.dist))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_k_smallest_in_order() {
        let mut t = TopK::new(3);
        for (row, d) in [(0, 5.0), (1, -1.0), (2, 3.0), (3, 9.0), (4, 0.5), (5, 3.0)] {
            t.push(row, d);
        }
        assert_eq!(t.threshold(), Some(3.0));
        assert_eq!(t.into_sorted(), vec![(1, -1.0), (4, 0.5), (2, 3.0)]);
    }

    #[test]
    fn zero_k_and_short_input() {
        let mut t = TopK::new(0);
        t.push(1, 1.0);
        assert!(t.is_empty());
        let mut t = TopK::new(10);
        t.push(7, 2.0);
        t.push(3, f32::NAN);
        assert_eq!(t.threshold(), None);
        let out = t.into_sorted();
        assert_eq!(out[0], (7, 2.0));
        assert!(out[1].1.is_nan());
    }
}
