//! `config.json` of the supported encoders, and which architecture it describes.
//!
//! Detection (the `model_type` alone is not enough: JinaBERT v2 says `"bert"` and the
//! original Jina v3 checkpoint says `"xlm-roberta"`):
//! * `model_type = "jina_embeddings_v3"` → Jina v3, transformers-native layout;
//! * `model_type = "xlm-roberta"` with `position_embedding_type = "rotary"` or
//!   `lora_adaptations` → Jina v3, original layout (fused `Wqkv`, LoRA parametrizations);
//! * `model_type = "bert"` with `position_embedding_type = "alibi"` or a `JinaBert*`
//!   architecture → JinaBERT v2;
//! * `model_type = "bert"` → BERT.

use crate::error::Error;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The encoder families this crate implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// BERT with learned absolute positions (all-MiniLM-L6-v2 …).
    Bert,
    /// JinaBERT v2: ALiBi, GEGLU feed-forward.
    JinaBert,
    /// Jina v3: XLM-RoBERTa with rotary positions and LoRA task adapters.
    JinaV3,
}

/// Feed-forward activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Exact GELU, `x·Φ(x)` with erf (`"gelu"`).
    GeluErf,
    /// tanh-approximated GELU (`"gelu_new"`, `"gelu_pytorch_tanh"`).
    GeluTanh,
    /// ReLU.
    Relu,
}

impl Activation {
    fn parse(name: &str, path: &Path) -> Result<Self, Error> {
        match name {
            "gelu" | "gelu_erf" => Ok(Activation::GeluErf),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Activation::GeluTanh),
            "relu" => Ok(Activation::Relu),
            other => Err(Error::load(
                path,
                format!("unsupported hidden_act {other:?}"),
            )),
        }
    }

    /// Applies the activation.
    pub fn apply(self, x: &candle_core::Tensor) -> candle_core::Result<candle_core::Tensor> {
        match self {
            Activation::GeluErf => crate::kernels::gelu::gelu(x),
            Activation::GeluTanh => x.gelu(),
            Activation::Relu => x.relu(),
        }
    }

    /// [`Activation::apply`] to a fresh tensor the caller owns outright (a matmul result),
    /// which the exact GELU overwrites in place on CPU.
    pub fn apply_owned(self, x: candle_core::Tensor) -> candle_core::Result<candle_core::Tensor> {
        match self {
            Activation::GeluErf => crate::kernels::gelu::bias_gelu_owned(x, None),
            other => other.apply(&x),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
struct RopeParameters {
    rope_theta: Option<f64>,
}

/// The fields of `config.json` this crate reads (a superset over the architectures).
#[derive(Debug, Clone, Deserialize)]
pub struct EncoderConfig {
    /// `model_type`.
    #[serde(default)]
    pub model_type: String,
    /// `architectures`.
    #[serde(default)]
    pub architectures: Vec<String>,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden size.
    pub hidden_size: usize,
    /// Number of layers.
    pub num_hidden_layers: usize,
    /// Number of attention heads.
    pub num_attention_heads: usize,
    /// Feed-forward inner size.
    pub intermediate_size: usize,
    #[serde(default = "default_act")]
    hidden_act: String,
    /// Size of the position table (BERT) or the trained maximum length.
    #[serde(default)]
    pub max_position_embeddings: Option<usize>,
    /// Number of token types.
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Padding token id.
    #[serde(default)]
    pub pad_token_id: Option<u32>,
    /// `absolute`, `alibi`, `rotary`.
    #[serde(default)]
    pub position_embedding_type: Option<String>,
    /// JinaBERT: `geglu` (others are not supported).
    #[serde(default)]
    pub feed_forward_type: Option<String>,
    /// Jina: `mean` / `cls` (null = mean).
    #[serde(default)]
    pub emb_pooler: Option<String>,
    /// RoPE base of the original Jina v3 config.
    #[serde(default)]
    pub rotary_emb_base: Option<f64>,
    #[serde(default)]
    rope_theta: Option<f64>,
    #[serde(default)]
    rope_parameters: Option<RopeParameters>,
    /// Jina v3 task adapter names, in adapter order.
    #[serde(default)]
    pub lora_adaptations: Option<Vec<String>>,
    /// LoRA rank.
    #[serde(default)]
    pub lora_rank: Option<usize>,
    /// LoRA alpha (scaling = alpha / rank).
    #[serde(default)]
    pub lora_alpha: Option<f64>,
    /// Per-task instruction prefixes.
    #[serde(default)]
    pub task_instructions: Option<BTreeMap<String, String>>,
    /// Output dimensions the model was trained to be truncated to.
    #[serde(default)]
    pub matryoshka_dimensions: Option<Vec<usize>>,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}

impl EncoderConfig {
    /// Reads and validates `config.json`.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let cfg: EncoderConfig = crate::files::read_json(path)?;
        if cfg.num_attention_heads == 0 || !cfg.hidden_size.is_multiple_of(cfg.num_attention_heads)
        {
            return Err(Error::load(
                path,
                format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    cfg.hidden_size, cfg.num_attention_heads
                ),
            ));
        }
        cfg.activation(path)?;
        cfg.architecture(path)?;
        Ok(cfg)
    }

    /// The architecture this config describes.
    pub fn architecture(&self, path: &Path) -> Result<Architecture, Error> {
        let pos = self
            .position_embedding_type
            .as_deref()
            .unwrap_or("absolute");
        match self.model_type.as_str() {
            "jina_embeddings_v3" => Ok(Architecture::JinaV3),
            "xlm-roberta" | "xlm_roberta" if pos == "rotary" || self.lora_adaptations.is_some() => {
                Ok(Architecture::JinaV3)
            }
            "bert" if pos == "alibi" || self.architectures.iter().any(|a| a.starts_with("JinaBert")) => {
                match self.feed_forward_type.as_deref() {
                    None | Some("geglu") => Ok(Architecture::JinaBert),
                    Some(other) => Err(Error::load(
                        path,
                        format!("JinaBERT feed_forward_type {other:?} is not supported (only \"geglu\")"),
                    )),
                }
            }
            "bert" if pos == "absolute" => Ok(Architecture::Bert),
            other => Err(Error::load(
                path,
                format!(
                    "unsupported model: model_type {other:?} with position_embedding_type {pos:?} \
                     (supported: BERT, JinaBERT v2 (alibi), Jina v3 (xlm-roberta rotary / jina_embeddings_v3))"
                ),
            )),
        }
    }

    /// The feed-forward activation.
    pub fn activation(&self, path: &Path) -> Result<Activation, Error> {
        Activation::parse(&self.hidden_act, path)
    }

    /// Head dimension.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// RoPE base θ: `rotary_emb_base` (original Jina v3), `rope_parameters.rope_theta` /
    /// `rope_theta` (transformers), else Jina v3's 20 000.
    pub fn rope_theta(&self) -> f64 {
        self.rotary_emb_base
            .or(self.rope_parameters.as_ref().and_then(|r| r.rope_theta))
            .or(self.rope_theta)
            .unwrap_or(20_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    #[test]
    fn gelu_is_the_exact_erf_form() {
        // x·Φ(x), values from 0.5·x·(1 + erf(x/√2)) in float64.
        let xs = [-3.0f32, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 4.0];
        let want = [
            -0.004_049_694_3_f64,
            -0.158_655_253_931_457_05,
            -0.154_268_769_363_002_76,
            0.0,
            0.345_731_230_636_997_24,
            0.841_344_746_068_542_9,
            1.954_499_736_103_641_6,
            3.999_873_309_457_873_4,
        ];
        let t = Tensor::new(&xs, &Device::Cpu).unwrap();
        let erf = Activation::GeluErf
            .apply(&t)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let tanh = Activation::GeluTanh
            .apply(&t)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for i in 0..xs.len() {
            assert!(
                (erf[i] as f64 - want[i]).abs() < 2e-7,
                "gelu({}) = {} want {}",
                xs[i],
                erf[i],
                want[i]
            );
        }
        // The tanh approximation is measurably different (1.5e-4 at x = 1): it must not be used for "gelu".
        assert!((tanh[5] as f64 - want[5]).abs() > 1e-4);
        let p = Path::new("config.json");
        assert_eq!(Activation::parse("gelu", p).unwrap(), Activation::GeluErf);
        assert_eq!(
            Activation::parse("gelu_new", p).unwrap(),
            Activation::GeluTanh
        );
        assert!(Activation::parse("swish", p).is_err());
    }
}
