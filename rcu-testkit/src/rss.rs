//! Resident set size from `/proc/self/status`.
//!
//! `VmHWM` is the kernel's own high-water mark of the resident set: exact,
//! free to read, but process-wide and never lowered, so one process can
//! measure one workload's peak. `rcu-bench flood` therefore runs each
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_named_field_only() {
        let status = "Name:\tx\nVmHWM:\t   2048 kB\nVmRSS:\t   1024 kB\n";
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(2048));
        assert_eq!(parse_status_kib(status, "VmRSS"), Some(1024));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
    }

    #[test]
    fn this_process_has_a_resident_set_no_larger_than_its_peak() {
        let (rss, peak) = (rss_kib().unwrap(), peak_rss_kib().unwrap());
        assert!(rss > 0 && rss <= peak, "rss {rss} peak {peak}");
    }
}
