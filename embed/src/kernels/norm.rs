//! The post-LayerNorm residual step `x = LayerNorm(f + bias + x)`, fused.
//!
//! candle spends three passes and three buffers on it (the projection's bias, the residual
//! add, the norm, whose statistics it sums sequentially as `E[x²] − E[x]²`). Here it is one
//! pass per row, written into the projection output `f`, with the mean and variance
//! summed in eight lanes and the variance taken around the mean, as PyTorch does.

use super::{cpu_f32, on_cpu_f32, slice, slice_mut, sum8};
use candle_core::{CpuStorage, InplaceOp2, Layout, Result, Tensor};
use candle_nn::{LayerNorm, Module};

/// What a row is normalised with: the projection's bias (optional), LayerNorm's `gamma`,
/// `beta` (optional) and `eps`.
#[derive(Clone, Copy)]
pub struct NormParams<'a> {
    /// Added to each row before the residual, when the projection has one.
    pub bias: Option<&'a [f32]>,
    /// LayerNorm's weight; its length is the row width.
    pub gamma: &'a [f32],
    /// LayerNorm's bias.
    pub beta: Option<&'a [f32]>,
    /// Added to the variance.
    pub eps: f32,
}

/// One row: `row = (v − mean)/√(var + eps)·gamma + beta` with `v = row + bias + residual`.
#[inline(always)]
fn add_norm_row(row: &mut [f32], residual: &[f32], p: NormParams<'_>) {
    match p.bias {
        Some(b) => {
            for ((x, r), b) in row.iter_mut().zip(residual).zip(b) {
                *x += b + r;
            }
        }
        None => {
            for (x, r) in row.iter_mut().zip(residual) {
                *x += r;
            }
        }
    }
    let n = row.len() as f32;
    let mean = sum8(row, |v| v) / n;
    let var = sum8(row, |v| (v - mean) * (v - mean)) / n;
    let inv = 1.0 / (var + p.eps).sqrt();
    match p.beta {
        Some(beta) => {
            for ((x, g), b) in row.iter_mut().zip(p.gamma).zip(beta) {
                *x = (*x - mean) * inv * g + b;
            }
        }
        None => {
            for (x, g) in row.iter_mut().zip(p.gamma) {
                *x = (*x - mean) * inv * g;
            }
        }
    }
}

/// `xs = LayerNorm(xs + bias + residual)` row by row (`p.gamma.len()` wide).
pub fn add_norm_in_place(xs: &mut [f32], residual: &[f32], p: NormParams<'_>) {
    #[cfg(target_arch = "x86_64")]
    if super::avx2_fma() {
        #[allow(unsafe_code)]
        // SAFETY: `avx2_fma()` checked that this CPU has AVX2 and FMA.
        unsafe {
            add_norm_avx2(xs, residual, p)
        };
        return;
    }
    add_norm_portable(xs, residual, p)
}

#[inline(always)]
fn add_norm_portable(xs: &mut [f32], residual: &[f32], p: NormParams<'_>) {
    let h = p.gamma.len();
    for (row, res) in xs.chunks_exact_mut(h).zip(residual.chunks_exact(h)) {
        add_norm_row(row, res, p);
    }
}

/// The portable loop compiled for AVX2+FMA, where it vectorises eight lanes wide.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
unsafe fn add_norm_avx2(xs: &mut [f32], residual: &[f32], p: NormParams<'_>) {
    add_norm_portable(xs, residual, p)
}

struct AddNorm<'a> {
    bias: Option<&'a Tensor>,
    ln: &'a LayerNorm,
}

impl InplaceOp2 for AddNorm<'_> {
    fn name(&self) -> &'static str {
        "chromite-add-norm"
    }

    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout, rs: &CpuStorage, rl: &Layout) -> Result<()> {
        let op = self.name();
        let residual = slice(rs, rl, op)?;
        let xs = slice_mut(s, l, op)?;
        let h = self.ln.weight().dims1()?;
        if xs.len() != residual.len() || h == 0 || xs.len() % h != 0 {
            candle_core::bail!(
                "{op}: {} and {} elements in rows of {h}",
                xs.len(),
                residual.len()
            );
        }
        let eps = self.ln.eps() as f32;
        let (gamma_s, gamma_l) = self.ln.weight().storage_and_layout();
        let gamma = cpu_f32(&gamma_s, gamma_l, op)?;
        let beta_sl = self.ln.bias().map(|b| b.storage_and_layout());
        let beta = match &beta_sl {
            Some((s, l)) => Some(cpu_f32(s, l, op)?),
            None => None,
        };
        let bias_sl = self.bias.map(|b| b.storage_and_layout());
        let bias = match &bias_sl {
            Some((s, l)) => Some(cpu_f32(s, l, op)?),
            None => None,
        };
        add_norm_in_place(
            xs,
            residual,
            NormParams {
                bias,
                gamma,
                beta,
                eps,
            },
        );
        Ok(())
    }
}

/// `LayerNorm(f + bias + residual)` for a projection output `f` the caller owns outright
/// (a fresh matmul result): on CPU the result is written into `f`'s storage.
pub fn add_norm_owned(
    f: Tensor,
    bias: Option<&Tensor>,
    residual: &Tensor,
    ln: &LayerNorm,
) -> Result<Tensor> {
    let h = ln.weight().dims1()?;
    let fits = |t: &Tensor| on_cpu_f32(t) && t.dims() == [h];
    let fast = on_cpu_f32(&f)
        && on_cpu_f32(residual)
        && f.dims() == residual.dims()
        && f.dim(candle_core::D::Minus1)? == h
        && ln.remove_mean()
        && fits(ln.weight())
        && ln.bias().is_none_or(fits)
        && bias.is_none_or(fits);
    if !fast {
        let f = match bias {
            Some(b) => f.broadcast_add(b)?,
            None => f,
        };
        return ln.forward(&(residual + f)?);
    }
    f.inplace_op2(residual, &AddNorm { bias, ln })?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    fn t(n: usize, seed: f32, shape: &[usize]) -> Tensor {
        let v: Vec<f32> = (0..n)
            .map(|i| ((i as f32 + seed) * 0.618).sin() * (1.0 + seed))
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn matches_candle_add_and_layer_norm() {
        let (b, l, h) = (2, 5, 19);
        let x = t(b * l * h, 1.0, &[b, l, h]);
        let bias = t(h, 2.0, &[h]);
        for with_beta in [true, false] {
            let ln = if with_beta {
                LayerNorm::new(t(h, 3.0, &[h]), t(h, 4.0, &[h]), 1e-12)
            } else {
                LayerNorm::new_no_bias(t(h, 3.0, &[h]), 1e-5)
            };
            for bias in [Some(&bias), None] {
                let f = t(b * l * h, 5.0, &[b, l, h]);
                let want = {
                    let f = match bias {
                        Some(bias) => f.broadcast_add(bias).unwrap(),
                        None => f.clone(),
                    };
                    ln.forward(&(&x + f).unwrap()).unwrap()
                };
                let got = add_norm_owned(f.copy().unwrap(), bias, &x, &ln).unwrap();
                assert!(
                    super::super::max_abs_diff(&got, &want) < 2e-6,
                    "{}",
                    super::super::max_abs_diff(&got, &want)
                );
            }
        }
    }

    #[test]
    fn variance_is_taken_around_the_mean() {
        // A large common offset: E[x²] − E[x]² loses every digit here, the two-pass form does not.
        let h = 8;
        let row: Vec<f32> = (0..h).map(|i| 10_000.0 + i as f32).collect();
        let x = Tensor::from_vec(row, (1, h), &Device::Cpu).unwrap();
        let ln = LayerNorm::new(
            Tensor::ones(h, DType::F32, &Device::Cpu).unwrap(),
            Tensor::zeros(h, DType::F32, &Device::Cpu).unwrap(),
            1e-12,
        );
        let got = add_norm_owned(
            Tensor::zeros((1, h), DType::F32, &Device::Cpu).unwrap(),
            None,
            &x,
            &ln,
        )
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
        // (i − 3.5)/√5.25
        for (i, g) in got.iter().enumerate() {
            let want = (i as f32 - 3.5) / 5.25f32.sqrt();
            assert!((g - want).abs() < 1e-5, "{i}: {g} want {want}");
        }
    }

    #[test]
    fn mismatched_shapes_fall_back_or_fail_loudly() {
        let h = 4;
        let ln = LayerNorm::new(t(h, 1.0, &[h]), t(h, 2.0, &[h]), 1e-5);
        let f = t(2 * h, 3.0, &[2, h]);
        let short = t(h, 4.0, &[1, h]);
        // Broadcasting residuals take candle's path and give candle's answer.
        let want = ln.forward(&(short.broadcast_add(&f)).unwrap()).unwrap();
        let got = add_norm_owned(
            f.copy().unwrap(),
            None,
            &short.broadcast_as((2, h)).unwrap(),
            &ln,
        )
        .unwrap();
        assert!(super::super::max_abs_diff(&got, &want) < 2e-6);
        let wrong = t(3, 5.0, &[3]);
        assert!(add_norm_owned(f, Some(&wrong), &short, &ln).is_err());
    }
}
