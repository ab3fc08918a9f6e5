//! The process's allocation policy, set once at startup (by `main`, and by the benchmarks that call the steps
//! directly).

/// Every window is a fresh 196-kb buffer, every row group a 12-MB one, every full cache entry a 19-MB one;
/// glibc serves such sizes with their own mmap (or gives trimmed heap back to the system), so each was
/// page-faulted and zeroed anew: ~15% of extract-seqs' CPU. Keeping them on the heap (freed memory is reused; the peak is still bounded by the chunks and row
/// groups in flight) trades that for a resident set that does not shrink until the process ends.
pub fn keep_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocation thresholds; it is safe to call at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}
