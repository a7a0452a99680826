//! Attention weights `softmax(scale · scores + bias)` over the last dimension, fused.
//!
//! candle takes three passes and three buffers (scale, bias add, softmax) and calls a
//! scalar `expf` per score. Here the scores matrix is rewritten in place in one pass per
//! row, with the vectorisable [`exp_neg`](super::exp_neg).

use super::{cpu_f32, exp_neg, on_cpu_f32, slice_mut};
use candle_core::{CpuStorage, InplaceOp1, Layout, Result, Tensor};

/// One row: `row = softmax(scale·row + bias)` (`bias` empty for none).
#[inline(always)]
fn softmax_row<const FMA: bool>(row: &mut [f32], scale: f32, bias: &[f32]) {
    if bias.is_empty() {
        for x in row.iter_mut() {
            *x *= scale;
        }
    } else {
        for (x, b) in row.iter_mut().zip(bias) {
            *x = super::madd::<FMA>(*x, scale, *b);
        }
    }
    let max = super::max8(row);
    for x in row.iter_mut() {
        *x = exp_neg::<FMA>(*x - max);
    }
    let inv = 1.0 / super::sum8(row, |x| x);
    for x in row.iter_mut() {
        *x *= inv;
    }
}

/// Rows of `len` in `xs` (shape `[b, h, n, len]`), each with the bias row that a
/// `[bb, bh, bn, len]` bias broadcasts to it (each of `bb`, `bh`, `bn` is 1 or full).
#[inline(always)]
fn softmax_rows<const FMA: bool>(
    xs: &mut [f32],
    dims: [usize; 4],
    scale: f32,
    bias: Option<(&[f32], [usize; 3])>,
) {
    let [_, h, n, len] = dims;
    for (i, row) in xs.chunks_exact_mut(len).enumerate() {
        let b_row = match bias {
            Some((bias, [bb, bh, bn])) => {
                let (ib, ih, iq) = (i / (h * n), (i / n) % h, i % n);
                let r = ((ib % bb) * bh + ih % bh) * bn + iq % bn;
                &bias[r * len..(r + 1) * len]
            }
            None => &[][..],
        };
        softmax_row::<FMA>(row, scale, b_row);
    }
}

/// `softmax(scale·xs + bias)` row by row, in place.
pub fn softmax_in_place(
    xs: &mut [f32],
    dims: [usize; 4],
    scale: f32,
    bias: Option<(&[f32], [usize; 3])>,
) {
    #[cfg(target_arch = "x86_64")]
    if super::avx2_fma() {
        #[allow(unsafe_code)]
        // SAFETY: `avx2_fma()` checked that this CPU has AVX2 and FMA.
        unsafe {
            softmax_avx2(xs, dims, scale, bias)
        };
        return;
    }
    softmax_rows::<false>(xs, dims, scale, bias)
}

/// The portable loop compiled for AVX2+FMA, where it vectorises eight lanes wide.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_avx2(
    xs: &mut [f32],
    dims: [usize; 4],
    scale: f32,
    bias: Option<(&[f32], [usize; 3])>,
) {
    softmax_rows::<true>(xs, dims, scale, bias)
}

struct ScaledSoftmax<'a> {
    scale: f32,
    bias: Option<&'a Tensor>,
}

impl InplaceOp1 for ScaledSoftmax<'_> {
    fn name(&self) -> &'static str {
        "chromite-scaled-softmax"
    }

    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> Result<()> {
        let op = self.name();
        let dims: [usize; 4] = match l.dims() {
            &[a, b, c, d] => [a, b, c, d],
            other => candle_core::bail!("{op}: scores of rank {} (want 4)", other.len()),
        };
        let xs = slice_mut(s, l, op)?;
        match self.bias {
            Some(bias) => {
                let bd = match bias.dims() {
                    &[a, b, c, d] if d == dims[3] => [a, b, c],
                    other => candle_core::bail!("{op}: bias {other:?} for scores {dims:?}"),
                };
                if bd.iter().zip(&dims).any(|(&b, &s)| b != 1 && b != s) {
                    candle_core::bail!("{op}: bias {bd:?} does not broadcast to {dims:?}");
                }
                let (bs, bl) = bias.storage_and_layout();
                softmax_in_place(xs, dims, self.scale, Some((cpu_f32(&bs, bl, op)?, bd)));
                Ok(())
            }
            None => {
                softmax_in_place(xs, dims, self.scale, None);
                Ok(())
            }
        }
    }
}

/// `softmax(scale·scores + bias)` over the last dimension of `[b, heads, n, len]` attention
/// scores the caller owns outright (a fresh matmul result: on CPU it is overwritten);
/// `bias` broadcasts to the scores.
pub fn scaled_softmax_owned(scores: Tensor, scale: f64, bias: Option<&Tensor>) -> Result<Tensor> {
    if on_cpu_f32(&scores)
        && scores.rank() == 4
        && bias.is_none_or(|b| on_cpu_f32(b) && b.rank() == 4)
    {
        scores.inplace_op1(&ScaledSoftmax {
            scale: scale as f32,
            bias,
        })?;
        return Ok(scores);
    }
    let mut s = (scores * scale)?;
    if let Some(b) = bias {
        s = s.broadcast_add(b)?;
    }
    candle_nn::ops::softmax_last_dim(&s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn t(shape: &[usize], seed: f32) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|i| ((i as f32 + seed) * 0.77).sin() * 4.0)
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn reference(s: &Tensor, scale: f64, bias: Option<&Tensor>) -> Tensor {
        let mut s = (s * scale).unwrap();
        if let Some(b) = bias {
            s = s.broadcast_add(b).unwrap();
        }
        candle_nn::ops::softmax_last_dim(&s).unwrap()
    }

    #[test]
    fn matches_candle_for_every_bias_shape() {
        let dims = [2, 3, 5, 11];
        let masked = {
            // Padding-style: the last three keys of batch row 1 masked out.
            let mut v = vec![0f32; 2 * 11];
            for x in &mut v[11 + 8..] {
                *x = -f32::MAX;
            }
            Tensor::from_vec(v, (2, 1, 1, 11), &Device::Cpu).unwrap()
        };
        let biases = [
            None,
            Some(t(&[2, 1, 1, 11], 1.0)),
            Some(t(&[1, 3, 5, 11], 2.0)),
            Some(t(&[2, 3, 5, 11], 3.0)),
            Some(masked),
        ];
        for bias in &biases {
            let s = t(&dims, 0.0);
            let want = reference(&s, 0.125, bias.as_ref());
            let got = scaled_softmax_owned(s.copy().unwrap(), 0.125, bias.as_ref()).unwrap();
            let d = super::super::max_abs_diff(&got, &want);
            assert!(
                d < 1e-6,
                "{:?}: {d}",
                bias.as_ref().map(|b| b.dims().to_vec())
            );
        }
        // Masked keys get exactly zero weight.
        let got = scaled_softmax_owned(t(&dims, 0.0), 0.125, biases[4].as_ref()).unwrap();
        let row = got
            .get(1)
            .unwrap()
            .get(2)
            .unwrap()
            .get(4)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!(row[8..].iter().all(|&w| w == 0.0), "{row:?}");
        let sum: f32 = row.iter().sum();
        assert!((sum - 1.0).abs() < 1e-6);
    }

    #[test]
    fn a_bias_that_does_not_broadcast_is_an_error() {
        let s = t(&[2, 3, 5, 11], 0.0);
        assert!(
            scaled_softmax_owned(s.copy().unwrap(), 1.0, Some(&t(&[1, 2, 5, 11], 1.0))).is_err()
        );
        assert!(scaled_softmax_owned(s, 1.0, Some(&t(&[1, 1, 1, 10], 1.0))).is_err());
    }
}
