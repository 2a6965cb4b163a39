//! Blocking every signal for a while, so that a signal handler cannot run
//! on this thread while it holds a lock the handler may need.
//!
//! C programs may enter RCU read-side sections from signal handlers
//! (liburcu-bp registers a thread from one). A handler that interrupts a
//! thread holding the foreign-reader registry lock (`gp/foreign.rs`: a
//! registration, or a grace period's scan) and then registers its thread
//! would wait for that lock forever. liburcu blocks signals around the
//! same sections (`urcu_bp_register`, `urcu_bp_synchronize_rcu`).

/// Every signal blocked on this thread while the value lives; the previous
/// mask is restored on drop. Two `rt_sigprocmask` calls.
pub struct SignalsBlocked(libc::sigset_t);

impl SignalsBlocked {
    /// Blocks every signal (the kernel ignores SIGKILL and SIGSTOP).
    pub fn new() -> Self {
        // SAFETY: plain-data out-parameters, initialised by the calls;
        // `pthread_sigmask` only reads `all` and writes `old`.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            // Cannot fail with SIG_BLOCK and a valid set.
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
            SignalsBlocked(old)
        }
    }
}

impl Default for SignalsBlocked {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask `new` saved on this thread (the value is
        // neither `Send` nor `Sync`, so it is dropped where it was made).
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}

impl std::fmt::Debug for SignalsBlocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignalsBlocked")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(sig: libc::c_int) -> bool {
        // SAFETY: reads the calling thread's mask into a local set.
        unsafe {
            let mut now: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut now);
            libc::sigismember(&now, sig) == 1
        }
    }

    #[test]
    fn signals_are_blocked_while_the_guard_lives_and_restored_after() {
        assert!(!blocked(libc::SIGUSR1));
        {
            let _blocked = SignalsBlocked::new();
            assert!(blocked(libc::SIGUSR1) && blocked(libc::SIGINT));
        }
        assert!(!blocked(libc::SIGUSR1), "the previous mask is restored");
    }
}
