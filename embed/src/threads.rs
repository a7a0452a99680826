//! CPU threading: whole batches side by side, each with single-threaded kernels.
//!
//! candle can split every CPU op over threads: matmuls through `gemm` on rayon
//! (`RAYON_NUM_THREADS` threads, else one per physical core), element-wise ops
//! on a spin-waiting barrier pool (`CANDLE_NUM_THREADS`). On a few cores the
//! spinning costs about as much as the split gains. Giving each core a
//! whole batch instead, with candle single-threaded inside it, was faster.
//! On all-MiniLM-L6-v2, 2 cores, 32 texts of ~64 tokens per call, batches of
//! 8, the measurements were 45.6 vs 39.2 sentences/s, and with batches of 16,
//! 41.5 vs 36.7 (`benches/benches/embed.rs`; docs/benchmarks.md).
//! [`crate::TextEmbedder`] runs the batches of a call on rayon's global pool
//! and cuts a call into at least as many batches as that pool has workers, in a multiple
//! of that number ([`batch_size_for`]).

use std::sync::OnceLock;

static WORKERS: OnceLock<usize> = OnceLock::new();

/// Sets up CPU embedding threads: rayon's global pool gets `threads` workers
/// (default: `RAYON_NUM_THREADS` if set, else one per available CPU), and
/// candle's kernels run single-threaded inside each worker. Returns the
/// number of workers.
///
/// Call it at program start, before any other thread exists and before
/// any candle op. It sets the environment variables candle reads:
/// `RAYON_NUM_THREADS=1` (only once rayon's pool is built, so the pool
/// keeps its workers) and, unless already set, `CANDLE_NUM_THREADS=1`.
/// Later calls change nothing and return the first call's answer.
pub fn use_batch_parallelism(threads: Option<usize>) -> usize {
    *WORKERS.get_or_init(|| {
        let from_env = std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .filter(|&n| n > 0);
        let workers = threads
            .filter(|&n| n > 0)
            .or(from_env)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        // If the global pool already exists (built by someone else), it keeps
        // its size; batches then run on however many workers it has.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("chromite-embed-{i}"))
            .build_global();
        // candle reads RAYON_NUM_THREADS on every matmul and CANDLE_NUM_THREADS
        // once, when its barrier pool starts. This runs before other threads
        // exist (see above), so nothing reads the environment concurrently.
        std::env::set_var("RAYON_NUM_THREADS", "1");
        if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
            std::env::set_var("CANDLE_NUM_THREADS", "1");
        }
        rayon::current_num_threads()
    })
}

/// The most texts per batch for a call of texts whose longest is `longest` tokens, so that
/// the batches stay within `max_batch` texts and about `max_tokens` padded tokens, every
/// one of `workers` workers gets a batch, and the batches come in a multiple of `workers`
/// of near-equal size (no worker idles while another finishes an extra batch).
pub(crate) fn batch_size_for(
    texts: usize,
    longest: usize,
    workers: usize,
    max_batch: usize,
    max_tokens: usize,
) -> usize {
    let workers = workers.max(1);
    let fit = (max_tokens / longest.max(1)).clamp(1, max_batch.max(1));
    let batches = texts.div_ceil(fit).next_multiple_of(workers).max(1);
    texts.div_ceil(batches).clamp(1, fit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_cut_into_even_batches_for_every_worker() {
        let big = 1 << 20;
        // Only the batch-size cap: one batch per worker, at least.
        assert_eq!(batch_size_for(32, 64, 2, 16, big), 16);
        assert_eq!(batch_size_for(10, 64, 2, 16, big), 5);
        assert_eq!(batch_size_for(11, 64, 2, 16, big), 6);
        assert_eq!(batch_size_for(1, 64, 2, 16, big), 1);
        assert_eq!(batch_size_for(0, 64, 2, 16, big), 1);
        assert_eq!(batch_size_for(100, 64, 4, 16, big), 13);
        assert_eq!(batch_size_for(100, 64, 0, 16, big), 15);
        // The token budget: 32 texts of 66 tokens fit 5 to 384 tokens, which would make
        // 7 batches; 8 batches of 4 keep both workers busy to the end.
        assert_eq!(batch_size_for(32, 66, 2, 64, 384), 4);
        assert_eq!(batch_size_for(32, 256, 2, 64, 384), 1);
        assert_eq!(batch_size_for(32, 1000, 2, 64, 384), 1);
        assert_eq!(batch_size_for(200, 12, 2, 64, 384), 25);
    }
}
