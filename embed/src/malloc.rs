//! glibc malloc settings for embedding.
//!
//! Each encoder layer allocates and frees a few buffers of 0.5–10 MB (activations,
//! attention scores). With glibc's defaults the threshold for serving them by `mmap`
//! moves with every free, and the top of each heap is handed back to the kernel once
//! 2× that threshold is free, so every batch faults its buffers in again: for
//! all-MiniLM-L6-v2 on 64-token texts about 580 page faults per text and 8% of the CPU
//! time in the kernel (`perf stat -e page-faults chromite embed …`, docs/benchmarks.md).
//! [`retain_freed_memory`] fixes both thresholds at 16 MiB, so the buffers are reused.
//! At most 16 MiB per heap stays mapped while free.

/// Buffers up to this size come from the heap, not from `mmap`.
pub const MMAP_THRESHOLD: usize = 16 << 20;
/// Free memory at the top of a heap is returned to the kernel beyond this size.
pub const TRIM_THRESHOLD: usize = 16 << 20;

/// Sets glibc's `M_MMAP_THRESHOLD` and `M_TRIM_THRESHOLD` (see the module docs); does
/// nothing with other C libraries. Call it once, early, before allocations pile up.
/// Returns whether the settings took.
pub fn retain_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        #[allow(unsafe_code)]
        // SAFETY: `mallopt` only sets malloc parameters; glibc takes its arena lock for
        // it, so it is safe to call at any time, from any thread.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_the_settings() {
        assert!(super::retain_freed_memory());
        // Allocations still work across the threshold.
        let big = vec![1u8; super::MMAP_THRESHOLD + 1];
        let small = vec![2u8; super::MMAP_THRESHOLD - 1];
        assert_eq!(big[super::MMAP_THRESHOLD] as usize + small[0] as usize, 3);
    }
}
