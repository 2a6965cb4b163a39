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
/// mask is restored on drop. Two `rt_sigprocmask` calls. The saved mask is
/// kept as the 64 bits Linux has signals for, not glibc's 128-byte set, so
/// that the guard is cheap to move.
pub struct SignalsBlocked(u64, std::marker::PhantomData<*const ()>);

const _: () = assert!(std::mem::size_of::<libc::sigset_t>() >= 8, "Linux's 64 signals fit in a sigset_t");

impl SignalsBlocked {
    /// Blocks every signal (the kernel ignores SIGKILL and SIGSTOP; glibc
    /// keeps its own internal ones unblocked).
    pub fn new() -> Self {
        // SAFETY: plain-data out-parameters, initialised by the calls;
        // `pthread_sigmask` only reads `all` and writes `old`; the first 8
        // bytes of a sigset_t are the mask of signals 1 to 64 (asserted
        // size above).
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            // Cannot fail with SIG_BLOCK and a valid set.
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
            SignalsBlocked(std::ptr::read_unaligned(std::ptr::from_ref(&old).cast::<u64>()), std::marker::PhantomData)
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
        // SAFETY: a zeroed set with the saved 64 bits written over its first
        // 8 bytes is the mask `new` saved on this thread (the guard is made
        // and dropped on one thread: the raw-pointer marker makes it `!Send`).
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            std::ptr::write_unaligned(std::ptr::from_mut(&mut set).cast::<u64>(), self.0);
            libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        }
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
