//! # chromite-embed: text → `Vec<f32>` with candle
//!
//! A local text embedder for Chromite. It loads a Hugging Face-style model directory
//! (`config.json`, `tokenizer.json`, `model.safetensors`, and the sentence-transformers
//! files `sentence_bert_config.json` / `1_Pooling/config.json` where present) and runs the
//! encoder on CPU in f32 (or on a GPU with the `cuda` feature).
//!
//! Supported architectures, each implemented here on candle-core/candle-nn:
//! * BERT sentence-transformers models such as `all-MiniLM-L6-v2` ([`model::bert`]);
//! * JinaBERT v2 (`jina-embeddings-v2-*-en`): ALiBi attention bias, GEGLU feed-forward
//!   ([`model::jina_bert`]);
//! * Jina v3 (`jina-embeddings-v3`): XLM-RoBERTa with rotary position embeddings and five
//!   LoRA task adapters, Matryoshka output dimensions ([`model::xlm_roberta`], [`model::lora`]).
//!
//! The pipeline: [`files`] finds the files → [`tokenize`] (rayon, explicit truncation) →
//! [`batch`] (sort by length, bucket, pad) → model forward → [`pool`] (mean/CLS, Matryoshka
//! truncation, L2 normalisation) → results back in input order. [`TextEmbedder`] ties it
//! together; [`Embedder`] is the object-safe trait the server holds.
//!
//! ```no_run
//! use chromite_embed::{TextEmbedder, Task};
//! let model = TextEmbedder::load("/models/all-MiniLM-L6-v2")?;
//! let vectors = model.embed(&["hello world"], Task::Passage)?;
//! assert_eq!(vectors[0].len(), model.dim());
//! # Ok::<(), chromite_embed::Error>(())
//! ```

pub mod batch;
pub mod device;
pub mod embedder;
pub mod error;
pub mod files;
pub mod kernels;
pub mod malloc;
pub mod model;
pub mod pool;
pub mod task;
pub mod threads;
pub mod tokenize;

pub use embedder::{Embedder, TextEmbedder};
pub use error::Error;
pub use task::{EmbedOptions, JinaTask, Task};

/// The candle version the models are built on (for benches and tools that build tensors).
pub use candle_core;
/// The rayon version used for parallel tokenization and batches (to size a pool for it).
pub use rayon;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
