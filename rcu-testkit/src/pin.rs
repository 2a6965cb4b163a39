//! Pinning threads to CPUs.
//!
//! Why pin: on a small machine the scheduler migrates a busy reader and a
//! grace-period writer between CPUs, and each migration shows up as a
//! latency outlier and as run-to-run drift. Pinning each thread to a fixed
//! CPU of the allowed set (round robin: thread k on allowed CPU k mod n)
//! makes a run repeatable. With more threads than CPUs, pinned threads
//! share CPUs in a fixed pattern instead of a shifting one; that is still
//! oversubscription, and the figures say so (see BENCHMARKS.md).

/// The CPUs the process may run on (its affinity mask), in ascending order.
/// Falls back to `0..available_parallelism` if the mask cannot be read.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; zeroed is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc == 0 {
        // SAFETY: CPU_ISSET reads the set within its size.
        let cpus: Vec<usize> =
            (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) }).collect();
        if !cpus.is_empty() {
            return cpus;
        }
    }
    (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
}

/// Pins the calling thread to `cpu`. Returns whether the kernel accepted.
pub fn pin_current_to(cpu: usize) -> bool {
    if cpu >= libc::CPU_SETSIZE as usize {
        return false;
    }
    // SAFETY: as in `allowed_cpus`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below CPU_SETSIZE (checked above), so CPU_SET writes
    // within the set.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the
    // calling thread.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0 }
}

/// Which CPU each thread of a run gets.
#[derive(Clone, Debug)]
pub struct CpuPlan {
    cpus: Vec<usize>,
    enabled: bool,
}

impl CpuPlan {
    /// Round robin over the allowed CPUs, or no pinning at all.
    pub fn new(enabled: bool) -> Self {
        CpuPlan { cpus: allowed_cpus(), enabled }
    }

    /// Whether threads are pinned.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The CPU for thread number `k` of a run (None when not pinning).
    pub fn cpu_for(&self, k: usize) -> Option<usize> {
        self.enabled.then(|| self.cpus[k % self.cpus.len()])
    }

    /// Pins the calling thread as thread number `k` (no-op when disabled).
    pub fn pin(&self, k: usize) {
        if let Some(cpu) = self.cpu_for(k) {
            // A refused pin (restricted cpuset) leaves the thread unpinned;
            // the run is still valid, only less repeatable.
            let _ = pin_current_to(cpu);
        }
    }

    /// Number of CPUs the plan cycles through.
    pub fn cpu_count(&self) -> usize {
        self.cpus.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The affinity a pinned thread ends with: one CPU, from the set it was
    /// allowed, chosen by its number modulo the set's size.
    #[test]
    fn thread_k_is_pinned_to_the_kth_allowed_cpu() {
        let plan = CpuPlan::new(true);
        let before = allowed_cpus();
        for k in [0, 1, before.len() + 1] {
            let plan = plan.clone();
            let after = std::thread::spawn(move || {
                plan.pin(k);
                allowed_cpus()
            })
            .join()
            .unwrap();
            assert_eq!(after, vec![before[k % before.len()]], "thread {k} of {before:?}");
        }
        assert_eq!(CpuPlan::new(false).cpu_for(0), None, "a disabled plan pins nothing");
    }
}
