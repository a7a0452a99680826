//! Building blocks shared by the encoders: linear and LayerNorm loading, the additive
//! padding mask, multi-head self-attention over a fused QKV projection, and projections
//! fused with what follows them (bias + activation, bias + residual + LayerNorm) through
//! [`crate::kernels`].

use super::config::Activation;
use super::weights::Weights;
use crate::error::Error;
use crate::kernels::{bias, gelu, norm, softmax};
use candle_core::{Device, Result, Tensor};
use candle_nn::{LayerNorm, Linear, Module};

/// Loads `prefix.weight` `[out, in]` and, if present, `prefix.bias` `[out]`.
pub fn linear(
    w: &Weights,
    prefix: &str,
    out_dim: usize,
    in_dim: usize,
) -> std::result::Result<Linear, Error> {
    let weight = w.get(&format!("{prefix}.weight"), &[out_dim, in_dim])?;
    let bias = w.get_opt(&format!("{prefix}.bias"), &[out_dim])?;
    Ok(Linear::new(weight, bias))
}

/// Loads a LayerNorm (`weight`/`bias`, or the old BERT names `gamma`/`beta`).
pub fn layer_norm(
    w: &Weights,
    prefix: &str,
    dim: usize,
    eps: f64,
) -> std::result::Result<LayerNorm, Error> {
    let (wn, bn) = if w.contains(&format!("{prefix}.gamma")) {
        ("gamma", "beta")
    } else {
        ("weight", "bias")
    };
    let weight = w.get(&format!("{prefix}.{wn}"), &[dim])?;
    let bias = w.get(&format!("{prefix}.{bn}"), &[dim])?;
    Ok(LayerNorm::new(weight, bias, eps))
}

/// Concatenates separate q/k/v projections into one `[3H, H]` projection (rows q; k; v),
/// so attention needs one matmul instead of three.
pub fn fuse_qkv(q: &Linear, k: &Linear, v: &Linear) -> std::result::Result<Linear, Error> {
    let infer = |e: candle_core::Error| Error::Load(format!("fusing q/k/v: {e}"));
    let w = Tensor::cat(&[q.weight(), k.weight(), v.weight()], 0).map_err(infer)?;
    let b = match (q.bias(), k.bias(), v.bias()) {
        (Some(a), Some(b), Some(c)) => Some(Tensor::cat(&[a, b, c], 0).map_err(infer)?),
        (None, None, None) => None,
        _ => {
            return Err(Error::Load(
                "q/k/v projections disagree on having a bias".into(),
            ))
        }
    };
    Ok(Linear::new(w, b))
}

/// Splits a fused `[b, L, 3H]` projection into contiguous q, k, v of shape `[b, heads, L, d]`.
pub fn split_heads(qkv: &Tensor, heads: usize) -> Result<(Tensor, Tensor, Tensor)> {
    let (b, l, three_h) = qkv.dims3()?;
    let d = three_h / 3 / heads;
    // [b, L, 3, heads, d] → [3, b, heads, L, d]: one copy for all three.
    let qkv = qkv
        .reshape((b, l, 3, heads, d))?
        .permute((2, 0, 3, 1, 4))?
        .contiguous()?;
    Ok((qkv.get(0)?, qkv.get(1)?, qkv.get(2)?))
}

/// Most score elements (`batch × heads × query rows × keys`) materialised at once; longer
/// inputs are processed in blocks of query rows, so attention memory stays bounded
/// (128 MiB of f32 scores) even at 8192 tokens.
pub const MAX_SCORE_ELEMS: usize = 1 << 25;

/// The additive attention bias of one batch: key padding (`0` / very negative, like
/// transformers' `finfo.min`) and optionally symmetric ALiBi `−slope_h·|i−j|`. It is built
/// for the batch's actual length, one block of query rows at a time when the whole
/// `[b, heads, L, L]` bias would be large (never a table for the maximum length).
pub struct AttnBias {
    padding: Option<Tensor>,
    alibi: Option<Vec<f64>>,
    len: usize,
    pub(crate) rows_per_block: usize,
    whole: Option<Tensor>,
}

impl AttnBias {
    /// The bias for `mask` (`f32 [b, L]`, `None` when nothing is padded) with `heads` heads
    /// and optional ALiBi slopes.
    pub fn new(
        mask: Option<&Tensor>,
        batch: usize,
        len: usize,
        heads: usize,
        alibi: Option<&[f64]>,
        device: &Device,
    ) -> Result<Self> {
        let padding = match mask {
            // (mask − 1) · big: 0 where mask = 1, −big where mask = 0.
            Some(m) => Some(((m - 1.0)? * f32::MAX as f64)?.reshape((batch, 1, 1, len))?),
            None => None,
        };
        let rows_per_block = (MAX_SCORE_ELEMS / (batch * heads * len).max(1)).clamp(1, len.max(1));
        let mut bias = AttnBias {
            padding,
            alibi: alibi.map(<[f64]>::to_vec),
            len,
            rows_per_block,
            whole: None,
        };
        if rows_per_block >= len {
            // One block: build it once and share it across layers.
            bias.whole = bias.block(0, len, device)?;
        }
        Ok(bias)
    }

    /// Rows `start..start + n` of the bias, broadcastable to `[b, heads, n, L]`.
    fn block(&self, start: usize, n: usize, device: &Device) -> Result<Option<Tensor>> {
        if start == 0 && n == self.len {
            if let Some(w) = &self.whole {
                return Ok(Some(w.clone()));
            }
        }
        let device = self
            .padding
            .as_ref()
            .map(|p| p.device().clone())
            .unwrap_or_else(|| device.clone());
        let alibi = match &self.alibi {
            Some(slopes) => Some(alibi_rows(slopes, start, n, self.len, &device)?),
            None => None,
        };
        Ok(match (alibi, &self.padding) {
            (Some(a), Some(p)) => Some(a.broadcast_add(p)?),
            (Some(a), None) => Some(a),
            (None, Some(p)) => Some(p.clone()),
            (None, None) => None,
        })
    }
}

/// ALiBi bias rows `[1, heads, n, len]`: entry `(h, i, j)` is `−slope_h · |start + i − j|`.
pub fn alibi_rows(
    slopes: &[f64],
    start: usize,
    n: usize,
    len: usize,
    device: &Device,
) -> Result<Tensor> {
    let mut data = Vec::with_capacity(slopes.len() * n * len);
    for &s in slopes {
        let s = s as f32;
        for i in start..start + n {
            data.extend((0..len).map(|j| -s * (i as f32 - j as f32).abs()));
        }
    }
    Tensor::from_vec(data, (1, slopes.len(), n, len), device)
}

/// Scaled dot-product attention of `[b, heads, L, d]` tensors with an additive bias;
/// returns `[b, L, heads·d]`. Long inputs go through in blocks of query rows.
pub fn attend(q: &Tensor, k: &Tensor, v: &Tensor, bias: &AttnBias) -> Result<Tensor> {
    let (b, h, l, d) = q.dims4()?;
    let scale = 1.0 / (d as f64).sqrt();
    let kt = k.t()?;
    let block = |start: usize, n: usize| -> Result<Tensor> {
        let qb = if n == l {
            q.clone()
        } else {
            q.narrow(2, start, n)?
        };
        let bias = bias.block(start, n, q.device())?;
        softmax::scaled_softmax_owned(qb.matmul(&kt)?, scale, bias.as_ref())?.matmul(v)
    };
    let ctx = if bias.rows_per_block >= l {
        block(0, l)?
    } else {
        let mut parts = Vec::with_capacity(l.div_ceil(bias.rows_per_block));
        let mut start = 0;
        while start < l {
            let n = bias.rows_per_block.min(l - start);
            parts.push(block(start, n)?);
            start += n;
        }
        Tensor::cat(&parts, 2)?
    };
    ctx.transpose(1, 2)?.reshape((b, l, h * d))
}

/// A post-LayerNorm residual step `ln(x + f)`, for a fresh projection output `f`.
pub fn add_norm(x: &Tensor, f: Tensor, ln: &LayerNorm) -> Result<Tensor> {
    norm::add_norm_owned(f, None, x, ln)
}

/// `ln(residual + lin(input))`, the projection's bias folded into the fused norm.
pub fn linear_add_norm(
    lin: &Linear,
    input: &Tensor,
    residual: &Tensor,
    ln: &LayerNorm,
) -> Result<Tensor> {
    norm::add_norm_owned(project(lin, input)?, lin.bias(), residual, ln)
}

/// `lin(input)`, its bias added in place.
pub fn apply_linear(lin: &Linear, input: &Tensor) -> Result<Tensor> {
    bias::bias_add_owned(project(lin, input)?, lin.bias())
}

/// `act(lin(input))`; the exact GELU takes the bias in the same pass.
pub fn linear_act(lin: &Linear, input: &Tensor, act: Activation) -> Result<Tensor> {
    match act {
        Activation::GeluErf => gelu::bias_gelu_owned(project(lin, input)?, lin.bias()),
        _ => act.apply(&lin.forward(input)?),
    }
}

/// `input · Wᵀ` without the bias, as one matmul over all rows like [`Linear`] does.
fn project(lin: &Linear, input: &Tensor) -> Result<Tensor> {
    let w = lin.weight().t()?;
    match *input.dims() {
        [b, m, k] if input.is_contiguous() => {
            input.reshape((b * m, k))?.matmul(&w)?.reshape((b, m, ()))
        }
        [b, _, _] => input.matmul(&w.broadcast_left(b)?),
        _ => input.matmul(&w),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_attention_equals_whole() {
        let dev = Device::Cpu;
        let (b, h, l, d) = (2, 3, 7, 4);
        let r = |seed: f32| {
            let v: Vec<f32> = (0..b * h * l * d)
                .map(|i| ((i as f32 + seed) * 0.731).sin())
                .collect();
            Tensor::from_vec(v, (b, h, l, d), &dev).unwrap()
        };
        let (q, k, v) = (r(0.0), r(1.0), r(2.0));
        let mask = Tensor::new(
            &[[1f32, 1., 1., 1., 1., 1., 1.], [1., 1., 1., 1., 0., 0., 0.]],
            &dev,
        )
        .unwrap();
        let slopes = [0.5, 0.25, 0.125];
        for alibi in [None, Some(&slopes[..])] {
            let whole = AttnBias::new(Some(&mask), b, l, h, alibi, &dev).unwrap();
            assert!(whole.rows_per_block >= l);
            let want = attend(&q, &k, &v, &whole).unwrap();
            for rows in [1, 3, 6] {
                let mut blocked = AttnBias::new(Some(&mask), b, l, h, alibi, &dev).unwrap();
                blocked.rows_per_block = rows;
                blocked.whole = None;
                let got = attend(&q, &k, &v, &blocked).unwrap();
                let diff = crate::kernels::max_abs_diff(&got, &want);
                assert!(diff < 1e-6, "rows {rows}: {diff}");
            }
        }
    }

    #[test]
    fn padding_keys_get_no_weight() {
        let dev = Device::Cpu;
        // Two keys; the second is padding with a huge value that must not leak.
        let q = Tensor::new(&[[[[1f32], [1.]]]], &dev).unwrap();
        let k = Tensor::new(&[[[[1f32], [50.]]]], &dev).unwrap();
        let v = Tensor::new(&[[[[3f32], [1000.]]]], &dev).unwrap();
        let mask = Tensor::new(&[[1f32, 0.]], &dev).unwrap();
        let bias = AttnBias::new(Some(&mask), 1, 2, 1, None, &dev).unwrap();
        let out = attend(&q, &k, &v, &bias)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(out, vec![3., 3.]);
    }
}
