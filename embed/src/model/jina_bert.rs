//! JinaBERT v2 (`jina-embeddings-v2-{small,base}-en` …, the `jinaai/jina-bert-implementation`
//! layout).
//!
//! Like BERT but without position embeddings: a symmetric ALiBi bias `−slope_h·|i−j|` is
//! added to the attention scores, and the feed-forward is GEGLU:
//! `LN(x + Wo(gelu(G x)[..I] ⊙ (G x)[I..]))` (exact GELU on the *first* half, no bias on `G`).
//! The ALiBi bias is computed per batch for the batch's actual length (never a
//! `heads × 8192 × 8192` table). Tensor names (optionally prefixed `bert.`):
//! `embeddings.{word,token_type}_embeddings`, `embeddings.LayerNorm`,
//! `encoder.layer.{i}.attention.self.{query,key,value}`, `attention.output.{dense,LayerNorm}`,
//! `mlp.gated_layers` `[2I, H]`, `mlp.wo`, `mlp.layernorm`.

use super::config::{Activation, EncoderConfig};
use super::layers::{
    alibi_rows, apply_linear, attend, fuse_qkv, layer_norm, linear, linear_add_norm, split_heads,
    AttnBias,
};
use super::weights::Weights;
use super::Model;
use crate::batch::Batch;
use crate::error::Error;
use crate::kernels::gelu;
use candle_core::{Device, Result, Tensor, D};
use candle_nn::{LayerNorm, Linear, Module};

/// ALiBi head slopes (Press et al.): for `n` a power of two, `2^(−8(k+1)/n)`; otherwise the
/// slopes of the largest power of two below `n`, followed by every other slope of the next
/// power of two (as in the JinaBERT and ALiBi reference code).
pub fn alibi_slopes(n: usize) -> Vec<f64> {
    fn pow2(n: usize) -> Vec<f64> {
        let start = 2f64.powf(-(2f64.powf(-((n as f64).log2() - 3.0))));
        (0..n).map(|i| start * start.powi(i as i32)).collect()
    }
    if n == 0 {
        return Vec::new();
    }
    if n.is_power_of_two() {
        return pow2(n);
    }
    let closest = 1usize << (usize::BITS - 1 - n.leading_zeros());
    let mut slopes = pow2(closest);
    slopes.extend(
        alibi_slopes(2 * closest)
            .into_iter()
            .step_by(2)
            .take(n - closest),
    );
    slopes
}

/// The ALiBi bias `[1, heads, L, L]` with entries `−slope_h · |i − j|` (for short inputs;
/// the models build it per block of query rows, see [`AttnBias`]).
pub fn alibi_bias(slopes: &[f64], len: usize, device: &Device) -> Result<Tensor> {
    alibi_rows(slopes, 0, len, len, device)
}

struct Layer {
    qkv: Linear,
    out: Linear,
    ln1: LayerNorm,
    gated: Linear,
    wo: Linear,
    ln2: LayerNorm,
}

/// A JinaBERT v2 encoder.
pub struct JinaBert {
    word: Tensor,
    token_type: Tensor,
    emb_ln: LayerNorm,
    layers: Vec<Layer>,
    slopes: Vec<f64>,
    intermediate: usize,
    act: Activation,
}

impl JinaBert {
    /// Loads the weights described by `cfg`.
    pub fn load(
        w: &Weights,
        cfg: &EncoderConfig,
        act: Activation,
    ) -> std::result::Result<JinaBert, Error> {
        let p = w
            .find_prefix(
                &["", "bert.", "model."],
                "embeddings.word_embeddings.weight",
            )
            .ok_or_else(|| w.error("no JinaBERT embeddings (embeddings.word_embeddings.weight)"))?;
        if w.contains(&format!(
            "{p}encoder.layer.0.attention.self.layer_norm_q.weight"
        )) || w.contains(&format!("{p}encoder.layer.0.mlp.up_gated_layer.weight"))
        {
            return Err(w.error(
                "this is the jina-bert-v2-qk-post-norm layout (jina-embeddings-v2-base-code), which is not supported",
            ));
        }
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        let word = w.get(
            &format!("{p}embeddings.word_embeddings.weight"),
            &[cfg.vocab_size, h],
        )?;
        let token_type = w.get(
            &format!("{p}embeddings.token_type_embeddings.weight"),
            &[cfg.type_vocab_size, h],
        )?;
        let emb_ln = layer_norm(
            w,
            &format!("{p}embeddings.LayerNorm"),
            h,
            cfg.layer_norm_eps,
        )?;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for l in 0..cfg.num_hidden_layers {
            let lp = format!("{p}encoder.layer.{l}");
            let q = linear(w, &format!("{lp}.attention.self.query"), h, h)?;
            let k = linear(w, &format!("{lp}.attention.self.key"), h, h)?;
            let v = linear(w, &format!("{lp}.attention.self.value"), h, h)?;
            layers.push(Layer {
                qkv: fuse_qkv(&q, &k, &v)?,
                out: linear(w, &format!("{lp}.attention.output.dense"), h, h)?,
                ln1: layer_norm(
                    w,
                    &format!("{lp}.attention.output.LayerNorm"),
                    h,
                    cfg.layer_norm_eps,
                )?,
                gated: linear(w, &format!("{lp}.mlp.gated_layers"), 2 * i, h)?,
                wo: linear(w, &format!("{lp}.mlp.wo"), h, i)?,
                ln2: layer_norm(w, &format!("{lp}.mlp.layernorm"), h, cfg.layer_norm_eps)?,
            });
        }
        Ok(JinaBert {
            word,
            token_type,
            emb_ln,
            layers,
            slopes: alibi_slopes(cfg.num_attention_heads),
            intermediate: i,
            act,
        })
    }
}

impl Model for JinaBert {
    fn forward(&self, batch: &Batch, _adapter: Option<usize>) -> Result<Tensor> {
        let (b, l) = batch.ids.dims2()?;
        let h = self.word.dim(1)?;
        let word = self
            .word
            .index_select(&batch.ids.flatten_all()?, 0)?
            .reshape((b, l, h))?;
        let types = self
            .token_type
            .index_select(&batch.type_ids.flatten_all()?, 0)?
            .reshape((b, l, h))?;
        let mut x = self.emb_ln.forward(&(word + types)?)?;
        let mask = (!batch.is_unpadded()).then_some(&batch.mask);
        let bias = AttnBias::new(
            mask,
            b,
            l,
            self.slopes.len(),
            Some(&self.slopes),
            batch.ids.device(),
        )?;
        let heads = self.slopes.len();
        for layer in &self.layers {
            let (q, k, v) = split_heads(&apply_linear(&layer.qkv, &x)?, heads)?;
            let ctx = attend(&q, &k, &v, &bias)?;
            x = linear_add_norm(&layer.out, &ctx, &x, &layer.ln1)?;
            let g = apply_linear(&layer.gated, &x)?;
            let hidden = match self.act {
                Activation::GeluErf => gelu::geglu(&g, self.intermediate)?,
                act => {
                    let gated = g.narrow(D::Minus1, 0, self.intermediate)?;
                    let plain = g.narrow(D::Minus1, self.intermediate, self.intermediate)?;
                    (act.apply(&gated)? * plain)?
                }
            };
            x = linear_add_norm(&layer.wo, &hidden, &x, &layer.ln2)?;
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slopes_power_of_two() {
        // n = 8: 2^-1, 2^-2, …, 2^-8.
        let s = alibi_slopes(8);
        let want: Vec<f64> = (1..=8).map(|k| 2f64.powi(-k)).collect();
        assert_eq!(s, want);
        // n = 16: 2^-0.5, 2^-1, …
        let s = alibi_slopes(16);
        for (k, v) in s.iter().enumerate() {
            assert!((v - 2f64.powf(-0.5 * (k as f64 + 1.0))).abs() < 1e-15);
        }
    }

    #[test]
    fn slopes_non_power_of_two_interleave() {
        // n = 12: the 8 slopes of n = 8, then slopes 0, 2, 4, 6 of n = 16
        // (2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5).
        let s = alibi_slopes(12);
        assert_eq!(s.len(), 12);
        assert_eq!(&s[..8], &alibi_slopes(8)[..]);
        for (k, v) in s[8..].iter().enumerate() {
            assert!((v - 2f64.powf(-0.5 - k as f64)).abs() < 1e-15, "{k}: {v}");
        }
        // n = 6: 4 slopes of n = 4 (2^-2, 2^-4, 2^-6, 2^-8), then 2^-1, 2^-3.
        let s = alibi_slopes(6);
        let want = [
            2f64.powi(-2),
            2f64.powi(-4),
            2f64.powi(-6),
            2f64.powi(-8),
            0.5,
            0.125,
        ];
        assert_eq!(s, want);
    }

    #[test]
    fn bias_is_symmetric_distance() {
        let b = alibi_bias(&[0.5, 0.25], 3, &Device::Cpu).unwrap();
        let v = b.squeeze(0).unwrap().to_vec3::<f32>().unwrap();
        assert_eq!(
            v[0],
            vec![
                vec![0., -0.5, -1.],
                vec![-0.5, 0., -0.5],
                vec![-1., -0.5, 0.]
            ]
        );
        assert_eq!(v[1][0], vec![0., -0.25, -0.5]);
    }
}
