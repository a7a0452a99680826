//! jina-embeddings-v3: XLM-RoBERTa with rotary position embeddings and LoRA task adapters.
//!
//! `x = LN(word + token_type)` (no position embeddings), then post-LayerNorm blocks
//! `x = LN1(x + O(attn(rope(Q), rope(K), V)))`, `x = LN2(x + W2 gelu(W1 x))` with exact GELU.
//! RoPE is the non-interleaved ("rotate-half", GPT-NeoX) form over the whole head, base θ
//! from the config (20 000), positions `0..L`. Every linear and embedding may carry task
//! adapters ([`super::lora`]).
//!
//! Two checkpoint layouts load into the same model:
//! * original (`jinaai/jina-embeddings-v3`, prefix `roberta.` optional):
//!   `embeddings.{word,token_type}_embeddings`, `emb_ln`, `encoder.layers.{i}.mixer.Wqkv`
//!   (rows q; k; v), `mixer.out_proj`, `norm1`, `mlp.fc1`, `mlp.fc2`, `norm2`, each weight
//!   either plain (`.weight`) or a LoRA parametrization;
//! * transformers-native `JinaEmbeddingsV3Model` (`jinaai/jina-embeddings-v3-hf`):
//!   `embeddings.{word,token_type}_embeddings`, `embeddings.LayerNorm`,
//!   `layers.{i}.self_attn.{q,k,v,o}_proj`, `post_attention_layernorm`, `mlp.fc1`, `mlp.fc2`,
//!   `post_mlp_layernorm` (no adapters; q/k/v are fused at load).

use super::config::{Activation, EncoderConfig};
use super::layers::{add_norm, attend, fuse_qkv, layer_norm, linear, split_heads, AttnBias};
use super::lora::{LoraEmbedding, LoraLinear, LoraMode};
use super::weights::Weights;
use super::Model;
use crate::batch::Batch;
use crate::error::Error;
use candle_core::{Device, Result, Tensor};
use candle_nn::{LayerNorm, Linear, Module};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// cos and sin tables `[len, head_dim / 2]` of rotate-half RoPE, computed in f32 the way
/// PyTorch implementations do (`inv_freq = 1 / θ^(2i/d)`, angle = position · inv_freq).
pub fn rope_tables(
    theta: f64,
    head_dim: usize,
    len: usize,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let half = head_dim / 2;
    let inv_freq: Vec<f32> = (0..half)
        .map(|i| 1.0 / (theta as f32).powf((2 * i) as f32 / head_dim as f32))
        .collect();
    let mut cos = Vec::with_capacity(len * half);
    let mut sin = Vec::with_capacity(len * half);
    for p in 0..len {
        for f in &inv_freq {
            let angle = p as f32 * f;
            cos.push(angle.cos());
            sin.push(angle.sin());
        }
    }
    Ok((
        Tensor::from_vec(cos, (len, half), device)?,
        Tensor::from_vec(sin, (len, half), device)?,
    ))
}

/// Applies rotate-half RoPE to `x` `[b, heads, L, d]`:
/// `x·cos + rotate_half(x)·sin` with `rotate_half([x1, x2]) = [−x2, x1]`.
pub fn apply_rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    candle_nn::rotary_emb::rope(&x.contiguous()?, cos, sin)
}

struct Layer {
    qkv: LoraLinear,
    out: LoraLinear,
    ln1: LayerNorm,
    fc1: LoraLinear,
    fc2: LoraLinear,
    ln2: LayerNorm,
}

/// The weights of one task with adapters merged in (the [`LoraMode::Merged`] cache).
struct Merged {
    word: Tensor,
    token_type: Tensor,
    layers: Vec<[Linear; 4]>,
}

/// A Jina v3 encoder.
pub struct JinaV3 {
    word: LoraEmbedding,
    token_type: LoraEmbedding,
    emb_ln: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    head_dim: usize,
    theta: f64,
    act: Activation,
    tasks: usize,
    mode: LoraMode,
    merged: Mutex<HashMap<Option<usize>, Arc<Merged>>>,
}

impl JinaV3 {
    /// Loads either checkpoint layout.
    pub fn load(
        w: &Weights,
        cfg: &EncoderConfig,
        act: Activation,
    ) -> std::result::Result<JinaV3, Error> {
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        let eps = cfg.layer_norm_eps;
        let prefixes = ["", "roberta.", "model."];
        let rank = cfg.lora_rank.unwrap_or(4).max(1);
        let scale = cfg.lora_alpha.unwrap_or(1.0) / rank as f64;
        let emb = |p: &str, name: &str, n: usize| {
            LoraEmbedding::load(w, &format!("{p}embeddings.{name}"), n, h, scale)
        };
        let (word, token_type, emb_ln, layers);
        if let Some(p) = w.find_prefix(&prefixes, "encoder.layers.0.norm1.weight") {
            // Original flash-implementation layout.
            word = emb(p, "word_embeddings", cfg.vocab_size)?;
            token_type = emb(p, "token_type_embeddings", cfg.type_vocab_size)?;
            emb_ln = layer_norm(w, &format!("{p}emb_ln"), h, eps)?;
            let mut ls = Vec::with_capacity(cfg.num_hidden_layers);
            for l in 0..cfg.num_hidden_layers {
                let lp = format!("{p}encoder.layers.{l}");
                ls.push(Layer {
                    qkv: LoraLinear::load(w, &format!("{lp}.mixer.Wqkv"), 3 * h, h, scale)?,
                    out: LoraLinear::load(w, &format!("{lp}.mixer.out_proj"), h, h, scale)?,
                    ln1: layer_norm(w, &format!("{lp}.norm1"), h, eps)?,
                    fc1: LoraLinear::load(w, &format!("{lp}.mlp.fc1"), i, h, scale)?,
                    fc2: LoraLinear::load(w, &format!("{lp}.mlp.fc2"), h, i, scale)?,
                    ln2: layer_norm(w, &format!("{lp}.norm2"), h, eps)?,
                });
            }
            layers = ls;
        } else if let Some(p) = w.find_prefix(&prefixes, "layers.0.self_attn.q_proj.weight") {
            // transformers-native JinaEmbeddingsV3Model layout.
            word = emb(p, "word_embeddings", cfg.vocab_size)?;
            token_type = emb(p, "token_type_embeddings", cfg.type_vocab_size)?;
            emb_ln = layer_norm(w, &format!("{p}embeddings.LayerNorm"), h, eps)?;
            let mut ls = Vec::with_capacity(cfg.num_hidden_layers);
            for l in 0..cfg.num_hidden_layers {
                let lp = format!("{p}layers.{l}");
                let q = linear(w, &format!("{lp}.self_attn.q_proj"), h, h)?;
                let k = linear(w, &format!("{lp}.self_attn.k_proj"), h, h)?;
                let v = linear(w, &format!("{lp}.self_attn.v_proj"), h, h)?;
                ls.push(Layer {
                    qkv: LoraLinear::plain(fuse_qkv(&q, &k, &v)?),
                    out: LoraLinear::plain(linear(w, &format!("{lp}.self_attn.o_proj"), h, h)?),
                    ln1: layer_norm(w, &format!("{lp}.post_attention_layernorm"), h, eps)?,
                    fc1: LoraLinear::plain(linear(w, &format!("{lp}.mlp.fc1"), i, h)?),
                    fc2: LoraLinear::plain(linear(w, &format!("{lp}.mlp.fc2"), h, i)?),
                    ln2: layer_norm(w, &format!("{lp}.post_mlp_layernorm"), h, eps)?,
                });
            }
            layers = ls;
        } else {
            return Err(w.error(
                "not a Jina v3 checkpoint: found neither encoder.layers.0.norm1 (original layout) \
                 nor layers.0.self_attn.q_proj (transformers JinaEmbeddingsV3Model layout)",
            ));
        }
        // Every adapted weight must have the same number of tasks.
        let mut counts: Vec<usize> = [word.adapters(), token_type.adapters()]
            .into_iter()
            .flatten()
            .map(|a| a.tasks())
            .collect();
        for l in &layers {
            counts.extend(
                [&l.qkv, &l.out, &l.fc1, &l.fc2]
                    .iter()
                    .filter_map(|x| x.adapters())
                    .map(|a| a.tasks()),
            );
        }
        let tasks = counts.first().copied().unwrap_or(0);
        if counts.iter().any(|&c| c != tasks) {
            return Err(w.error("LoRA adapters disagree on the number of tasks"));
        }
        if let Some(names) = &cfg.lora_adaptations {
            if tasks != 0 && names.len() != tasks {
                return Err(w.error(format!(
                    "the checkpoint has {tasks} LoRA adapters but config.json lists {} lora_adaptations",
                    names.len()
                )));
            }
        }
        Ok(JinaV3 {
            word,
            token_type,
            emb_ln,
            layers,
            heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
            theta: cfg.rope_theta(),
            act,
            tasks,
            mode: LoraMode::default(),
            merged: Mutex::new(HashMap::new()),
        })
    }

    /// Number of task adapters in the checkpoint (0 = none).
    pub fn num_adapters(&self) -> usize {
        self.tasks
    }

    /// Chooses how adapters are applied; switching drops the merged cache.
    pub fn set_lora_mode(&mut self, mode: LoraMode) {
        self.mode = mode;
        if let Ok(mut m) = self.merged.lock() {
            m.clear();
        }
    }

    fn merged_for(&self, task: Option<usize>) -> Result<Arc<Merged>> {
        let mut cache = self
            .merged
            .lock()
            .map_err(|_| candle_core::Error::Msg("LoRA cache lock poisoned".into()))?;
        if let Some(m) = cache.get(&task) {
            return Ok(m.clone());
        }
        let layers = self
            .layers
            .iter()
            .map(|l| {
                Ok([
                    l.qkv.merged(task)?,
                    l.out.merged(task)?,
                    l.fc1.merged(task)?,
                    l.fc2.merged(task)?,
                ])
            })
            .collect::<Result<Vec<_>>>()?;
        let m = Arc::new(Merged {
            word: self.word.merged(task)?,
            token_type: self.token_type.merged(task)?,
            layers,
        });
        cache.insert(task, m.clone());
        Ok(m)
    }

    fn run(
        &self,
        batch: &Batch,
        embed: &dyn Fn(bool, &Tensor) -> Result<Tensor>,
        proj: &dyn Fn(usize, usize, &Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let (b, l) = batch.ids.dims2()?;
        let word = embed(true, &batch.ids.flatten_all()?)?;
        let types = embed(false, &batch.type_ids.flatten_all()?)?;
        let h = word.dim(1)?;
        let mut x = self.emb_ln.forward(&(word + types)?.reshape((b, l, h))?)?;
        let (cos, sin) = rope_tables(self.theta, self.head_dim, l, batch.ids.device())?;
        let mask = (!batch.is_unpadded()).then_some(&batch.mask);
        let bias = AttnBias::new(mask, b, l, self.heads, None, batch.ids.device())?;
        for (n, layer) in self.layers.iter().enumerate() {
            let (q, k, v) = split_heads(&proj(n, 0, &x)?, self.heads)?;
            let q = apply_rope(&q, &cos, &sin)?;
            let k = apply_rope(&k, &cos, &sin)?;
            let ctx = attend(&q, &k, &v, &bias)?;
            x = add_norm(&x, proj(n, 1, &ctx)?, &layer.ln1)?;
            let ff = proj(n, 3, &self.act.apply_owned(proj(n, 2, &x)?)?)?;
            x = add_norm(&x, ff, &layer.ln2)?;
        }
        Ok(x)
    }
}

impl Model for JinaV3 {
    fn forward(&self, batch: &Batch, adapter: Option<usize>) -> Result<Tensor> {
        let task = if self.tasks == 0 { None } else { adapter };
        match self.mode {
            LoraMode::PerBatch => self.run(
                batch,
                &|word, ids| {
                    if word {
                        self.word.forward(ids, task)
                    } else {
                        self.token_type.forward(ids, task)
                    }
                },
                &|n, which, x| {
                    let l = &self.layers[n];
                    [&l.qkv, &l.out, &l.fc1, &l.fc2][which].forward(x, task)
                },
            ),
            LoraMode::Merged => {
                let m = self.merged_for(task)?;
                self.run(
                    batch,
                    &|word, ids| {
                        if word {
                            m.word.index_select(ids, 0)
                        } else {
                            m.token_type.index_select(ids, 0)
                        }
                    },
                    &|n, which, x| m.layers[n][which].forward(x),
                )
            }
        }
    }

    fn set_lora_mode(&mut self, mode: LoraMode) {
        JinaV3::set_lora_mode(self, mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rope_matches_closed_form() {
        // head_dim 4, θ = 20 000: inv_freq = [1, 20000^-0.5]; rotate-half pairs (0,2) and (1,3).
        let theta = 20_000f64;
        let (cos, sin) = rope_tables(theta, 4, 3, &Device::Cpu).unwrap();
        let x = Tensor::from_vec(
            (0..12).map(|v| v as f32 * 0.1 + 0.3).collect::<Vec<_>>(),
            (1, 1, 3, 4),
            &Device::Cpu,
        )
        .unwrap();
        let y = apply_rope(&x, &cos, &sin)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec3::<f32>()
            .unwrap();
        let xs = x.squeeze(0).unwrap().to_vec3::<f32>().unwrap();
        let inv = [1.0f64, theta.powf(-0.5)];
        for p in 0..3 {
            let r = &xs[0][p];
            for i in 0..2 {
                let a = p as f64 * inv[i];
                let (x1, x2) = (r[i] as f64, r[i + 2] as f64);
                let want_lo = x1 * a.cos() - x2 * a.sin();
                let want_hi = x2 * a.cos() + x1 * a.sin();
                assert!((y[0][p][i] as f64 - want_lo).abs() < 1e-6, "p{p} i{i}");
                assert!((y[0][p][i + 2] as f64 - want_hi).abs() < 1e-6, "p{p} i{i}");
            }
        }
        // Position 0 is the identity.
        assert_eq!(y[0][0], xs[0][0]);
    }

    #[test]
    fn rope_is_relative() {
        // <rope(q, m), rope(k, n)> depends only on m − n.
        let (cos, sin) = rope_tables(20_000.0, 8, 6, &Device::Cpu).unwrap();
        let q: Vec<f32> = (0..8).map(|i| (i as f32 * 0.37).sin()).collect();
        let k: Vec<f32> = (0..8).map(|i| (i as f32 * 0.91).cos()).collect();
        let rows =
            |v: &Vec<f32>| Tensor::from_vec(v.repeat(6), (1, 1, 6, 8), &Device::Cpu).unwrap();
        let rq = apply_rope(&rows(&q), &cos, &sin)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let rk = apply_rope(&rows(&k), &cos, &sin)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        assert!((dot(&rq[3], &rk[1]) - dot(&rq[5], &rk[3])).abs() < 1e-5);
        assert!((dot(&rq[2], &rk[2]) - dot(&q, &k)).abs() < 1e-5);
    }
}
