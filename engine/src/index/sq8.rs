//! 8-bit scalar quantisation (SQ8) of a segment's vectors, the copy a graph
//! search walks on.
//!
//! A graph search computes a few thousand distances per query, to rows all
//! over the segment. Computed from the f32 column, that pulls nearly every
//! page of the (memory-mapped) column into memory after a few hundred
//! queries: 1.5 KB per 384-d row. Walking on one byte per component instead
//! keeps a quarter of that resident, in one compact heap block, and the
//! final candidates are rescored from the f32 column (see
//! [`super::SegmentGraph::search`]), so every distance returned is still
//! exactly Chroma's and only the few rows returned are read in f32.
//!
//! Each dimension `d` is mapped linearly from `[min_d, max_d]` over the
//! segment onto the codes 0..=255: `x̂_d = min_d + step_d · code_d`. The
//! distance to a query is computed asymmetrically (the query stays f32):
//! `q·x̂ = Σ q_d·min_d + Σ (q_d·step_d)·code_d`, one multiply-add per
//! component with the weights `q_d·step_d` prepared once per query; l2 is
//! `|q|² − 2 q·x̂ + |x̂|²` with `|x̂|²` stored per row, cosine divides `q·x̂`
//! by the stored f32 norms.
//!
//! The codes are derived from the column when a graph is built and saved
//! with it in the graph file (format 2, `graph_file.rs`), so a load reads
//! them back instead of reading the whole f32 column to derive them again;
//! a format-1 file (written before) still loads, deriving them.

use crate::types::Space;

use super::distance::dot_u8;

/// The quantised copy of a vector column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sq8 {
    dim: usize,
    /// `min_d` per dimension.
    offset: Vec<f32>,
    /// `step_d = (max_d - min_d) / 255` per dimension (0 for a constant one).
    step: Vec<f32>,
    /// `dim` codes per row, row `r` at `r * dim`.
    codes: Vec<u8>,
    /// `|x̂|²` per row, for l2; empty for the other spaces.
    sq_norms: Vec<f32>,
}

impl Sq8 {
    /// The stored parts: `min_d` and `step_d` per dimension, the codes
    /// and, for l2, `|x̂|²` per row (see [`Sq8::from_parts`]).
    pub(crate) fn parts(&self) -> (&[f32], &[f32], &[u8], &[f32]) {
        (&self.offset, &self.step, &self.codes, &self.sq_norms)
    }

    /// Reassembles a copy saved with [`Sq8::parts`] for `n` rows of `dim`
    /// components in `space`; what does not fit says why.
    pub(crate) fn from_parts(
        dim: usize,
        n: usize,
        space: Space,
        offset: Vec<f32>,
        step: Vec<f32>,
        codes: Vec<u8>,
        sq_norms: Vec<f32>,
    ) -> Result<Sq8, String> {
        if offset.len() != dim || step.len() != dim {
            return Err(format!(
                "8-bit copy has {} offsets and {} steps for dimension {dim}",
                offset.len(),
                step.len()
            ));
        }
        if Some(codes.len()) != n.checked_mul(dim) {
            return Err(format!(
                "8-bit copy has {} codes for {n} rows of dimension {dim}",
                codes.len()
            ));
        }
        let want = if space == Space::L2 { n } else { 0 };
        if sq_norms.len() != want {
            return Err(format!(
                "8-bit copy has {} squared norms, {want} expected",
                sq_norms.len()
            ));
        }
        let finite = offset
            .iter()
            .chain(&step)
            .chain(&sq_norms)
            .all(|x| x.is_finite());
        if !finite || step.iter().chain(&sq_norms).any(|x| *x < 0.0) {
            return Err("8-bit copy holds a negative or non-finite parameter".into());
        }
        Ok(Sq8 {
            dim,
            offset,
            step,
            codes,
            sq_norms,
        })
    }

    /// Quantises `vectors` (`dim` floats per row, all finite). Reads the
    /// column twice (range, then codes).
    pub fn encode(vectors: &[f32], dim: usize, space: Space) -> Self {
        if dim == 0 {
            return Sq8 {
                dim,
                offset: Vec::new(),
                step: Vec::new(),
                codes: Vec::new(),
                sq_norms: Vec::new(),
            };
        }
        let mut lo = vec![f32::INFINITY; dim];
        let mut hi = vec![f32::NEG_INFINITY; dim];
        for v in vectors.chunks_exact(dim) {
            for ((l, h), &x) in lo.iter_mut().zip(hi.iter_mut()).zip(v) {
                *l = l.min(x);
                *h = h.max(x);
            }
        }
        let step: Vec<f32> = lo
            .iter()
            .zip(&hi)
            .map(|(&l, &h)| if h > l { (h - l) / 255.0 } else { 0.0 })
            .collect();
        let inv: Vec<f32> = step
            .iter()
            .map(|&s| if s > 0.0 { 1.0 / s } else { 0.0 })
            .collect();
        let n = vectors.len() / dim;
        let mut codes = vec![0u8; n * dim];
        let mut sq_norms = Vec::with_capacity(if space == Space::L2 { n } else { 0 });
        for (v, c) in vectors.chunks_exact(dim).zip(codes.chunks_exact_mut(dim)) {
            let mut sq = 0.0f32;
            for d in 0..dim {
                let code = ((v[d] - lo[d]) * inv[d]).round().clamp(0.0, 255.0);
                c[d] = code as u8;
                let x = lo[d] + step[d] * code;
                sq += x * x;
            }
            if space == Space::L2 {
                sq_norms.push(sq);
            }
        }
        Sq8 {
            dim,
            offset: lo
                .into_iter()
                .map(|l| if l.is_finite() { l } else { 0.0 })
                .collect(),
            step,
            codes,
            sq_norms,
        }
    }

    /// The codes of `row`.
    #[inline]
    pub fn row(&self, row: u32) -> &[u8] {
        let i = row as usize * self.dim;
        &self.codes[i..i + self.dim]
    }

    /// Bytes of heap memory held.
    pub fn heap_bytes(&self) -> usize {
        self.codes.capacity()
            + 4 * (self.offset.capacity() + self.step.capacity() + self.sq_norms.capacity())
    }

    /// The reconstruction `x̂` of `row` (for tests).
    #[cfg(test)]
    fn decode(&self, row: u32) -> Vec<f32> {
        self.row(row)
            .iter()
            .enumerate()
            .map(|(d, &c)| self.offset[d] + self.step[d] * c as f32)
            .collect()
    }
}

/// One query prepared for approximate distances to the rows of an [`Sq8`].
pub(crate) struct Sq8Query<'a> {
    sq8: &'a Sq8,
    space: Space,
    /// `q_d · step_d`.
    weights: Vec<f32>,
    /// `Σ q_d · min_d`.
    bias: f32,
    /// `|q|²` (l2) or `|q|` (cosine).
    query_norm: f32,
    /// Per-row f32 norms, for cosine.
    norms: &'a [f32],
}

impl<'a> Sq8Query<'a> {
    /// Prepares `query` (of the codes' dimension); `norms` are the rows' f32
    /// norms for cosine (ignored otherwise).
    pub fn new(sq8: &'a Sq8, space: Space, query: &[f32], norms: &'a [f32]) -> Self {
        debug_assert_eq!(query.len(), sq8.dim);
        let weights = query.iter().zip(&sq8.step).map(|(q, s)| q * s).collect();
        let bias = query.iter().zip(&sq8.offset).map(|(q, m)| q * m).sum();
        let qq: f32 = query.iter().map(|q| q * q).sum();
        let query_norm = match space {
            Space::L2 => qq,
            Space::Cosine => qq.sqrt(),
            Space::Ip => 0.0,
        };
        Sq8Query {
            sq8,
            space,
            weights,
            bias,
            query_norm,
            norms,
        }
    }

    /// The approximate distance (Chroma's, of the space) to `row`.
    #[inline]
    pub fn to(&self, row: u32) -> f32 {
        let dot = self.bias + dot_u8(&self.weights, self.sq8.row(row));
        match self.space {
            Space::L2 => self.query_norm - 2.0 * dot + self.sq8.sq_norms[row as usize],
            Space::Ip => 1.0 - dot,
            Space::Cosine => {
                let denom = self.query_norm * self.norms[row as usize];
                if denom == 0.0 {
                    1.0
                } else {
                    1.0 - dot / denom
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::distance::{distance, norm};

    fn column(n: usize, dim: usize) -> Vec<f32> {
        let mut seed = 7u64;
        (0..n * dim)
            .map(|i| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (seed >> 40) as f32 / (1u64 << 24) as f32;
                // Dimensions with different ranges, one of them constant.
                if i % dim == 3 {
                    0.25
                } else {
                    (u * 2.0 - 1.0) * (1.0 + (i % dim) as f32 / 8.0)
                }
            })
            .collect()
    }

    #[test]
    fn reconstruction_is_within_half_a_step() {
        let dim = 37;
        let v = column(200, dim);
        let q = Sq8::encode(&v, dim, Space::L2);
        for r in 0..200u32 {
            let x = &v[r as usize * dim..(r as usize + 1) * dim];
            for (d, (a, b)) in x.iter().zip(q.decode(r)).enumerate() {
                assert!((a - b).abs() <= q.step[d] * 0.5 + 1e-5, "row {r} dim {d}");
            }
        }
        assert_eq!(q.decode(0)[3], 0.25);
    }

    #[test]
    fn approximate_distances_are_chromas_distances_of_the_reconstruction() {
        let dim = 40;
        let v = column(100, dim);
        let query: Vec<f32> = (0..dim).map(|d| (d as f32 * 0.37).sin()).collect();
        for space in [Space::L2, Space::Cosine, Space::Ip] {
            let q = Sq8::encode(&v, dim, space);
            let norms: Vec<f32> = v.chunks_exact(dim).map(norm).collect();
            let sq = Sq8Query::new(&q, space, &query, &norms);
            for r in 0..100u32 {
                let xh = q.decode(r);
                let want = match space {
                    // Cosine divides by the exact norm of the row.
                    Space::Cosine => {
                        let dot: f32 = query.iter().zip(&xh).map(|(a, b)| a * b).sum();
                        1.0 - dot / (norm(&query) * norms[r as usize])
                    }
                    _ => distance(space, &query, &xh),
                };
                let got = sq.to(r);
                assert!(
                    (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                    "{space:?} row {r}: {got} vs {want}"
                );
                if space == Space::Ip {
                    // |q·x - q·x̂| <= Σ |q_d| step_d / 2.
                    let exact =
                        distance(space, &query, &v[r as usize * dim..(r as usize + 1) * dim]);
                    let bound: f32 = query
                        .iter()
                        .zip(&q.step)
                        .map(|(a, s)| a.abs() * s / 2.0)
                        .sum();
                    assert!((got - exact).abs() <= bound + 1e-4);
                }
            }
        }
    }

    #[test]
    fn empty_and_zero_dimension_columns() {
        let q = Sq8::encode(&[], 4, Space::Ip);
        assert!(q.heap_bytes() < 64);
        assert_eq!(q.codes.len(), 0);
        let q = Sq8::encode(&[], 0, Space::L2);
        assert_eq!(q.codes.len(), 0);
    }
}
