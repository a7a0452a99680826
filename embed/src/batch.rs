//! Batching: group tokenized texts into padded batches.
//!
//! [`plan`] sorts the texts by length (longest first) and cuts the sorted list into batches
//! of at most `max_batch` texts and about `max_tokens` padded tokens, so texts of similar
//! length share a batch and little compute goes to padding. Each entry of a plan is a list
//! of indices into the input, so results can be put back in input order. [`Batch::new`]
//! pads one group on the right and builds the tensors the models take.

use crate::tokenize::Tokens;
use candle_core::{Device, Result, Tensor};

/// One padded batch, as the models consume it.
#[derive(Debug)]
pub struct Batch {
    /// Token ids, `u32 [batch, seq_len]`, padded on the right with the pad id.
    pub ids: Tensor,
    /// Token type ids, `u32 [batch, seq_len]`, 0 on padding.
    pub type_ids: Tensor,
    /// Attention mask, `f32 [batch, seq_len]`: 1 for real tokens, 0 for padding.
    pub mask: Tensor,
    /// The unpadded length of each row.
    pub lengths: Vec<usize>,
    /// The padded length (the longest row).
    pub seq_len: usize,
}

impl Batch {
    /// Pads `seqs` on the right to the longest one and builds the tensors on `device`.
    pub fn new(seqs: &[&Tokens], pad_id: u32, device: &Device) -> Result<Batch> {
        let b = seqs.len();
        let seq_len = seqs.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
        let mut ids = Vec::with_capacity(b * seq_len);
        let mut type_ids = Vec::with_capacity(b * seq_len);
        let mut mask = Vec::with_capacity(b * seq_len);
        for s in seqs {
            let n = s.len();
            ids.extend_from_slice(&s.ids);
            type_ids.extend_from_slice(&s.type_ids);
            mask.extend(std::iter::repeat_n(1f32, n));
            ids.extend(std::iter::repeat_n(pad_id, seq_len - n));
            type_ids.extend(std::iter::repeat_n(0u32, seq_len - n));
            mask.extend(std::iter::repeat_n(0f32, seq_len - n));
        }
        Ok(Batch {
            ids: Tensor::from_vec(ids, (b, seq_len), device)?,
            type_ids: Tensor::from_vec(type_ids, (b, seq_len), device)?,
            mask: Tensor::from_vec(mask, (b, seq_len), device)?,
            lengths: seqs.iter().map(|s| s.len()).collect(),
            seq_len,
        })
    }

    /// Number of rows.
    pub fn size(&self) -> usize {
        self.lengths.len()
    }

    /// Whether every row has the full length (no padding, the mask can be skipped).
    pub fn is_unpadded(&self) -> bool {
        self.lengths.iter().all(|&l| l == self.seq_len)
    }
}

/// Above this many tokens a batch is also cut where lengths halve (padding a long batch costs
/// quadratically in attention).
const LONG: usize = 64;

/// Groups `lengths` (token counts) into batches: indices sorted by length, longest first,
/// cut so each batch holds at most `max_batch` texts and at most `max_tokens` padded tokens
/// (a single text longer than `max_tokens` gets a batch of its own), and, for batches
/// longer than 64 tokens, no text shorter than half the batch's longest.
pub fn plan(lengths: &[usize], max_batch: usize, max_tokens: usize) -> Vec<Vec<usize>> {
    let max_batch = max_batch.max(1);
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    // Stable sort, longest first: equal lengths keep their input order.
    order.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut current_len = 0usize;
    for i in order {
        let fits = current.len() < max_batch
            && (current.len() + 1) * current_len <= max_tokens
            // Long texts: don't pad a text to more than twice its length.
            && !(current_len > LONG && lengths[i] * 2 < current_len);
        if !current.is_empty() && !fits {
            batches.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            current_len = lengths[i];
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_sorts_and_covers_every_index_once() {
        let lengths = [3, 10, 1, 7, 7, 2, 9];
        let batches = plan(&lengths, 3, 1000);
        assert_eq!(batches, vec![vec![1, 6, 3], vec![4, 0, 5], vec![2]]);
        let mut all: Vec<usize> = batches.concat();
        all.sort();
        assert_eq!(all, (0..lengths.len()).collect::<Vec<_>>());
    }

    #[test]
    fn plan_respects_token_budget() {
        let lengths = [100, 100, 100, 10, 10];
        let batches = plan(&lengths, 32, 250);
        assert_eq!(batches, vec![vec![0, 1], vec![2], vec![3, 4]]);
        // A text longer than the budget still gets its own batch.
        assert_eq!(plan(&[500, 5], 32, 250), vec![vec![0], vec![1]]);
        assert!(plan(&[], 4, 10).is_empty());
        // Long batches are cut where the length halves; short ones are not.
        assert_eq!(
            plan(&[2000, 900, 1200, 30], 32, 1 << 20),
            vec![vec![0, 2], vec![1], vec![3]]
        );
        assert_eq!(plan(&[60, 10, 5], 32, 1 << 20), vec![vec![0, 1, 2]]);
    }

    #[test]
    fn batch_pads_right_and_masks() {
        let a = Tokens {
            ids: vec![5, 6, 7],
            type_ids: vec![0, 0, 0],
        };
        let b = Tokens {
            ids: vec![8],
            type_ids: vec![1],
        };
        let batch = Batch::new(&[&a, &b], 1, &Device::Cpu).unwrap();
        assert_eq!(batch.seq_len, 3);
        assert_eq!(
            batch.ids.to_vec2::<u32>().unwrap(),
            vec![vec![5, 6, 7], vec![8, 1, 1]]
        );
        assert_eq!(
            batch.type_ids.to_vec2::<u32>().unwrap(),
            vec![vec![0, 0, 0], vec![1, 0, 0]]
        );
        assert_eq!(
            batch.mask.to_vec2::<f32>().unwrap(),
            vec![vec![1., 1., 1.], vec![1., 0., 0.]]
        );
        assert!(!batch.is_unpadded());
    }
}
