//! The encoders. Each takes a padded [`Batch`] and returns the last hidden states
//! `[batch, seq, hidden]`; pooling happens in [`crate::pool`].

pub mod bert;
pub mod config;
pub mod jina_bert;
pub mod layers;
pub mod lora;
pub mod weights;
pub mod xlm_roberta;

use crate::batch::Batch;
use candle_core::{Result, Tensor};

/// An encoder forward pass.
pub trait Model: Send + Sync {
    /// Hidden states `[batch, seq, hidden]` for `batch`, with task adapter `adapter`
    /// (an index into the model's adapters; ignored by models without adapters).
    fn forward(&self, batch: &Batch, adapter: Option<usize>) -> Result<Tensor>;

    /// Chooses how LoRA adapters are applied (no-op for models without adapters).
    fn set_lora_mode(&mut self, _mode: lora::LoraMode) {}
}
