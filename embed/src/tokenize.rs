//! Text → token ids with the `tokenizers` crate (pure-Rust `fancy-regex` build).
//!
//! The `tokenizer.json` of a model may carry its own padding and truncation settings
//! (all-MiniLM-L6-v2's says `Fixed(128)` padding and 128-token truncation, which
//! sentence-transformers overrides with `max_seq_length = 256`). They are never used here:
//! truncation is always set from the model's configured maximum length and padding is done
//! by [`crate::batch`], per batch.

use crate::error::{Error, ResultExt};
use rayon::prelude::*;
use std::path::Path;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

/// One tokenized text, with special tokens, already truncated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// Token ids.
    pub ids: Vec<u32>,
    /// Token type (segment) ids.
    pub type_ids: Vec<u32>,
}

impl Tokens {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    /// Whether there are no tokens at all (not even special ones).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// A tokenizer with the model's truncation length and padding id.
pub struct TextTokenizer {
    inner: Tokenizer,
    max_len: usize,
    pad_id: u32,
}

impl TextTokenizer {
    /// Loads `tokenizer.json`, overriding its truncation with `max_len` tokens (special tokens
    /// included) and switching its padding off. `pad_id` is the model's padding token
    /// (used by [`crate::batch`]); when `None` it is taken from the tokenizer's padding
    /// settings or its `[PAD]`/`<pad>` token.
    pub fn load(path: &Path, max_len: usize, pad_id: Option<u32>) -> Result<Self, Error> {
        let mut inner = Tokenizer::from_file(path).load_ctx(path, "cannot load tokenizer")?;
        let pad_id = pad_id
            .or_else(|| inner.get_padding().map(|p| p.pad_id))
            .or_else(|| inner.token_to_id("[PAD]"))
            .or_else(|| inner.token_to_id("<pad>"))
            .unwrap_or(0);
        if max_len == 0 {
            return Err(Error::load(path, "maximum sequence length is 0"));
        }
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .load_ctx(path, "cannot set truncation")?;
        inner.with_padding(None);
        Ok(TextTokenizer {
            inner,
            max_len,
            pad_id,
        })
    }

    /// The truncation length in tokens, special tokens included.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Changes the truncation length (special tokens included; at least 2).
    pub fn set_max_len(&mut self, max_len: usize) -> Result<(), Error> {
        let max_len = max_len.max(2);
        self.inner
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .infer("setting truncation")?;
        self.max_len = max_len;
        Ok(())
    }

    /// The id used to pad batches.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// The underlying tokenizer.
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    /// Tokenizes one text (with special tokens, truncated).
    pub fn encode(&self, text: &str) -> Result<Tokens, Error> {
        let enc = self.inner.encode(text, true).infer("tokenization")?;
        Ok(Tokens {
            ids: enc.get_ids().to_vec(),
            type_ids: enc.get_type_ids().to_vec(),
        })
    }

    /// Tokenizes all texts in parallel (rayon), in input order.
    pub fn encode_all<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<Tokens>, Error> {
        texts.par_iter().map(|t| self.encode(t.as_ref())).collect()
    }
}
