//! The two operating-system calls the background graph builder makes to be
//! a good neighbour to the request path: its threads run at a lower CPU
//! priority, so writes and queries come first on a small machine; and once
//! a build has dropped hnsw_rs's working copy (a full copy of the vectors
//! plus its layered graph), the freed heap is handed back to the OS, so the
//! resident size reflects what the store keeps, not its high-water mark.
//! Both are best effort: elsewhere than Linux/glibc they do nothing.

/// Lowers the calling thread's CPU priority (nice +10). Failure is ignored:
/// the thread just keeps the normal priority.
pub(crate) fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    // SAFETY: `gettid` has no preconditions; `setpriority` with
    // PRIO_PROCESS and a thread id changes only that thread's nice value
    // (Linux keeps it per thread) and reads no memory of ours.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

/// Returns free heap pages to the OS (glibc keeps them in its arenas
/// otherwise, where a large build's working set would stay resident).
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `malloc_trim` is thread-safe (it locks each arena it trims),
    // takes no pointers and only releases memory that is already free.
    unsafe {
        libc::malloc_trim(0);
    }
}
