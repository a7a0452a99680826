//! Building blocks shared by the encoders: linear and LayerNorm loading, the additive
//! padding mask and multi-head self-attention over a fused QKV projection.

use super::weights::Weights;
use crate::error::Error;
use candle_core::{Result, Tensor};
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

/// The additive key-padding bias `[batch, 1, 1, seq]`: 0 for real tokens, a very large
/// negative number for padding (like transformers' `finfo.min`).
pub fn padding_bias(mask: &Tensor) -> Result<Tensor> {
    let (b, l) = mask.dims2()?;
    // (mask - 1) * big: 0 where mask = 1, -big where mask = 0.
    ((mask - 1.0)? * f32::MAX as f64)?.reshape((b, 1, 1, l))
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

/// Scaled dot-product attention of `[b, heads, L, d]` tensors with an additive `bias`
/// broadcastable to `[b, heads, L, L]`; returns `[b, L, heads·d]`.
pub fn attend(q: &Tensor, k: &Tensor, v: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (b, h, l, d) = q.dims4()?;
    let scale = 1.0 / (d as f64).sqrt();
    let mut scores = (q.matmul(&k.t()?)? * scale)?;
    if let Some(bias) = bias {
        scores = scores.broadcast_add(bias)?;
    }
    let probs = candle_nn::ops::softmax_last_dim(&scores)?;
    probs.matmul(v)?.transpose(1, 2)?.reshape((b, l, h * d))
}

/// A post-LayerNorm residual step: `ln(x + f)`.
pub fn add_norm(x: &Tensor, f: &Tensor, ln: &LayerNorm) -> Result<Tensor> {
    ln.forward(&(x + f)?)
}
