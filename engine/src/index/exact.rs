//! Exact (brute-force) k-NN over a contiguous f32 column: the memtable's
//! search, the planner's choice for selective filters, the fallback when a
//! filtered graph search comes back short, and the ground truth in tests.

use crate::types::Space;

use super::distance::{prefetch, QueryDistance};
use super::topk::TopK;

/// The `k` rows nearest to `query` among `rows`, nearest first, with
/// Chroma's distances (`distance(space, query, row)` exactly). Rows past the
/// end of `vectors` are ignored; ties are broken by row number.
///
/// `vectors` holds `dim` floats per row, row `r` at `r * dim`.
pub fn exact_top_k(
    vectors: &[f32],
    dim: usize,
    space: Space,
    query: &[f32],
    k: usize,
    rows: impl IntoIterator<Item = u32>,
) -> Vec<(u32, f32)> {
    scan(vectors, dim, space, query, None, k, rows)
}

/// [`exact_top_k`] with, for cosine, each row's precomputed [`norm`](super::distance::norm)
/// (`norms[row]`), which saves a second pass over every vector.
pub(crate) fn scan(
    vectors: &[f32],
    dim: usize,
    space: Space,
    query: &[f32],
    norms: Option<&[f32]>,
    k: usize,
    rows: impl IntoIterator<Item = u32>,
) -> Vec<(u32, f32)> {
    if dim == 0 || query.len() != dim || k == 0 {
        return Vec::new();
    }
    let n = vectors.len() / dim;
    let norms = norms.filter(|nr| space == Space::Cosine && nr.len() >= n);
    let qd = QueryDistance::new(space, query);
    let mut top = TopK::new(k);
    // Each vector is prefetched one row ahead of its distance computation:
    // at a few hundred dimensions a scan is bound by memory, not arithmetic.
    let mut rows = rows.into_iter().filter(|&r| (r as usize) < n).peekable();
    while let Some(row) = rows.next() {
        if let Some(&next) = rows.peek() {
            let x = next as usize;
            prefetch(&vectors[x * dim..(x + 1) * dim]);
        }
        let r = row as usize;
        let v = &vectors[r * dim..(r + 1) * dim];
        let d = match norms {
            Some(nr) => qd.to_with_norm(v, nr[r]),
            None => qd.to(v),
        };
        top.push(row, d);
    }
    top.into_sorted()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_by_chroma_distance() {
        // chroma-api.md §7.1: query [1,1] over a=[1,0], b=[0,2], c=[3,4].
        let v = [1.0, 0.0, 0.0, 2.0, 3.0, 4.0];
        let q = [1.0, 1.0];
        assert_eq!(
            exact_top_k(&v, 2, Space::L2, &q, 3, 0..3),
            vec![(0, 1.0), (1, 2.0), (2, 13.0)]
        );
        assert_eq!(
            exact_top_k(&v, 2, Space::Ip, &q, 2, 0..3),
            vec![(2, -6.0), (1, -1.0)]
        );
        let cos = exact_top_k(&v, 2, Space::Cosine, &q, 3, 0..3);
        assert_eq!(cos[0].0, 2);
        assert!((cos[0].1 - 0.010050476).abs() < 1e-6);
        // Only the rows offered are ranked; rows out of range are skipped.
        assert_eq!(
            exact_top_k(&v, 2, Space::L2, &q, 5, [2, 9]),
            vec![(2, 13.0)]
        );
        // A query of the wrong dimension matches nothing.
        assert!(exact_top_k(&v, 2, Space::L2, &[1.0], 5, 0..3).is_empty());
    }
}
