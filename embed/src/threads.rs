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
//! and cuts a call into at least as many batches as that pool has workers.

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

/// The batch size that gives each of `workers` workers a batch when `texts`
/// texts are embedded at once, capped at `max_batch`.
pub(crate) fn batch_size_for(texts: usize, workers: usize, max_batch: usize) -> usize {
    texts.div_ceil(workers.max(1)).clamp(1, max_batch.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_cut_into_one_batch_per_worker_at_most_max_batch() {
        assert_eq!(batch_size_for(32, 2, 16), 16);
        assert_eq!(batch_size_for(10, 2, 16), 5);
        assert_eq!(batch_size_for(11, 2, 16), 6);
        assert_eq!(batch_size_for(1, 2, 16), 1);
        assert_eq!(batch_size_for(0, 2, 16), 1);
        assert_eq!(batch_size_for(100, 4, 16), 16);
        assert_eq!(batch_size_for(100, 0, 16), 16);
    }
}
