//! BERT as used by sentence-transformers models such as all-MiniLM-L6-v2.
//!
//! `LN(word + position + token_type)` embeddings, then post-LayerNorm blocks:
//! `x = LN1(x + O(attn(QKV x)))`, `x = LN2(x + W2 act(W1 x))`; learned absolute positions
//! `0..L`, key-padding mask. Tensor names (optionally prefixed `bert.`):
//! `embeddings.{word,position,token_type}_embeddings.weight`, `embeddings.LayerNorm`,
//! `encoder.layer.{i}.attention.self.{query,key,value}`, `attention.output.{dense,LayerNorm}`,
//! `intermediate.dense`, `output.{dense,LayerNorm}`.

use super::config::{Activation, EncoderConfig};
use super::layers::{
    apply_linear, attend, fuse_qkv, layer_norm, linear, linear_act, linear_add_norm, split_heads,
    AttnBias,
};
use super::weights::Weights;
use super::Model;
use crate::batch::Batch;
use crate::error::Error;
use candle_core::{Result, Tensor};
use candle_nn::{LayerNorm, Linear, Module};

struct Layer {
    qkv: Linear,
    out: Linear,
    ln1: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    ln2: LayerNorm,
}

/// A BERT encoder.
pub struct Bert {
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    emb_ln: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    act: Activation,
}

impl Bert {
    /// Loads the weights described by `cfg`.
    pub fn load(
        w: &Weights,
        cfg: &EncoderConfig,
        act: Activation,
    ) -> std::result::Result<Bert, Error> {
        let p = w
            .find_prefix(
                &["", "bert.", "model."],
                "embeddings.word_embeddings.weight",
            )
            .ok_or_else(|| w.error("no BERT embeddings (embeddings.word_embeddings.weight)"))?;
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        let max_pos = cfg.max_position_embeddings.unwrap_or(512);
        let word = w.get(
            &format!("{p}embeddings.word_embeddings.weight"),
            &[cfg.vocab_size, h],
        )?;
        let position = w.get(
            &format!("{p}embeddings.position_embeddings.weight"),
            &[max_pos, h],
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
                fc1: linear(w, &format!("{lp}.intermediate.dense"), i, h)?,
                fc2: linear(w, &format!("{lp}.output.dense"), h, i)?,
                ln2: layer_norm(w, &format!("{lp}.output.LayerNorm"), h, cfg.layer_norm_eps)?,
            });
        }
        Ok(Bert {
            word,
            position,
            token_type,
            emb_ln,
            layers,
            heads: cfg.num_attention_heads,
            act,
        })
    }

    /// The number of positions the position table covers.
    pub fn max_positions(&self) -> usize {
        self.position.dims()[0]
    }
}

impl Model for Bert {
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
        let pos = self.position.narrow(0, 0, l)?.unsqueeze(0)?;
        let mut x = self.emb_ln.forward(&(word + types)?.broadcast_add(&pos)?)?;
        let mask = (!batch.is_unpadded()).then_some(&batch.mask);
        let bias = AttnBias::new(mask, b, l, self.heads, None, batch.ids.device())?;
        for layer in &self.layers {
            let (q, k, v) = split_heads(&apply_linear(&layer.qkv, &x)?, self.heads)?;
            let ctx = attend(&q, &k, &v, &bias)?;
            x = linear_add_norm(&layer.out, &ctx, &x, &layer.ln1)?;
            let hidden = linear_act(&layer.fc1, &x, self.act)?;
            x = linear_add_norm(&layer.fc2, &hidden, &x, &layer.ln2)?;
        }
        Ok(x)
    }
}
