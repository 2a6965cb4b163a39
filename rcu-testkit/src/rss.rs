//! Resident set size from `/proc/self/status`.
//!
//! `VmHWM` is the kernel's own high-water mark of the resident set: exact,
//! free to read, but process-wide, and lowered only by [`reset_peak`]
//! where the kernel allows it. `rcu-bench flood` therefore runs each
//! workload in a child process of its own; a freshly started child also
//! has a clean allocator (memory freed by one workload and kept by the
//! allocator would otherwise count toward the next one's peak).

/// A `kB` field of `/proc/self/status` in KiB (`VmHWM`, `VmRSS`), or None
/// where the file or the field is missing (non-Linux, restricted /proc).
pub fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_status_kib(&status, field)
}

fn parse_status_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Peak resident set size of this process so far (VmHWM), KiB.
pub fn peak_rss_kib() -> Option<u64> {
    status_kib("VmHWM")
}

/// Current resident set size (VmRSS), KiB.
pub fn rss_kib() -> Option<u64> {
    status_kib("VmRSS")
}

/// Gives freed heap memory back to the kernel and resets the peak
/// (`VmHWM`) to the current resident set, so the next reading covers what
/// ran since. Best effort: where `/proc/self/clear_refs` refuses the reset
/// (kernels before 4.0, restricted /proc) the peak stays the process's.
pub fn reset_peak() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator.
    unsafe {
        libc::malloc_trim(0);
    }
    // "5" resets the peak resident set size.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Held by the tests that read this process's resident set: one of them
    /// allocates and resets the peak, which would upset the other's reading.
    static PROCESS_RSS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn parses_the_named_field_only() {
        let status = "Name:\tx\nVmHWM:\t   2048 kB\nVmRSS:\t   1024 kB\n";
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(2048));
        assert_eq!(parse_status_kib(status, "VmRSS"), Some(1024));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
    }

    #[test]
    fn reset_peak_forgets_memory_already_given_back() {
        let _alone = PROCESS_RSS.lock().unwrap_or_else(|e| e.into_inner());
        const BYTES: usize = 64 << 20;
        let touched = vec![1u8; BYTES];
        assert_eq!(touched.iter().step_by(4096).map(|&b| u64::from(b)).sum::<u64>(), (BYTES / 4096) as u64);
        drop(touched);
        let before = peak_rss_kib().unwrap();
        reset_peak();
        let after = peak_rss_kib().unwrap();
        // Where the kernel refuses the reset, the peak must at least not move.
        let writable = std::fs::OpenOptions::new().write(true).open("/proc/self/clear_refs").is_ok();
        if writable {
            assert!(after + (BYTES as u64 >> 11) < before, "peak {before} KiB, {after} KiB after the reset");
        } else {
            assert_eq!(after, before);
        }
    }

    #[test]
    fn this_process_has_a_resident_set_no_larger_than_its_peak() {
        let _alone = PROCESS_RSS.lock().unwrap_or_else(|e| e.into_inner());
        let (rss, peak) = (rss_kib().unwrap(), peak_rss_kib().unwrap());
        assert!(rss > 0 && rss <= peak, "rss {rss} peak {peak}");
    }
}
