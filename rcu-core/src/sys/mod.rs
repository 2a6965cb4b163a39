//! The operating-system layer: `membarrier(2)`, futexes and the signal mask,
//! and nothing else.
//!
//! # Barrier strategy
//!
//! RCU readers must order their counter store before their data loads, and
//! the grace-period writer must order its pointer update before its scan of
//! the reader counters (a store-buffering, "Dekker", pattern on both sides).
//! Two ways to pay for it:
//!
//! * [`BarrierStrategy::Membarrier`]: readers use only a compiler fence
//!   ([`light_barrier`]); the writer calls
//!   `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` ([`heavy_barrier`]), which
//!   makes the kernel run a full memory barrier on every CPU currently running
//!   a thread of this process. That upgrades every reader's compiler fence to
//!   a real fence at the instant of the call. We never use
//!   `MEMBARRIER_CMD_SHARED`/`GLOBAL`: each of those waits for a kernel RCU
//!   grace period (milliseconds).
//! * [`BarrierStrategy::Fences`]: when membarrier is missing (old kernel) or
//!   refused (seccomp, `ENOSYS`/`EPERM`), both sides issue `fence(SeqCst)`.
//!
//! The strategy is decided once by [`init`], which every flavour calls before
//! the first reader registers, and never changes afterwards in this process:
//! a reader that ran with a compiler fence while the writer used a plain fence
//! would be a bug. (A forked child re-checks its registration in
//! [`heavy_barrier`]; see there.)
//!
//! Under `cfg(loom)` the strategy is always `Fences`, so the model checks the
//! protocol with the barriers the fallback uses.

#[cfg(not(loom))]
use crate::sync::atomic::{compiler_fence, AtomicU8};
use crate::sync::atomic::{fence, Ordering};

#[cfg(not(loom))]
mod futex;
#[cfg(loom)]
#[path = "futex_loom.rs"]
mod futex;
#[cfg(not(loom))]
pub(crate) mod lock;
#[cfg(loom)]
#[path = "lock_loom.rs"]
pub(crate) mod lock;
#[cfg(not(loom))]
mod signals;
#[cfg(not(loom))]
pub use futex::{futex_wait, futex_wait_shared, futex_wait_timeout, futex_wait_u32, futex_wake, futex_wake_shared};
#[cfg(loom)]
pub use futex::{futex_wait_u32, futex_wake};
#[cfg(not(loom))]
pub use signals::SignalsBlocked;

/// How the asymmetric reader/writer barrier pair is implemented.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BarrierStrategy {
    /// `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` on the writer side,
    /// a compiler fence on the reader side.
    Membarrier,
    /// `fence(SeqCst)` on both sides (membarrier missing or refused).
    Fences,
}

#[cfg(not(loom))]
const UNDECIDED: u8 = 0;
#[cfg(not(loom))]
const MEMBARRIER: u8 = 1;
#[cfg(not(loom))]
const FENCES: u8 = 2;

/// The strategy in force. Written once by [`init`] (under `INIT_LOCK`) before
/// any reader can register; read on every reader fast path with `Relaxed`:
/// readers are only ever started after their registration, which called
/// `init` on the same thread (program order), or observed the decision
/// through the registry's `Acquire` claim of a slot.
#[cfg(not(loom))]
static STRATEGY: AtomicU8 = AtomicU8::new(UNDECIDED);

// `membarrier(2)` commands (linux/membarrier.h). Spelled out here so the
// layer does not depend on the libc crate's coverage of this header.
#[cfg(not(loom))]
const MEMBARRIER_CMD_QUERY: libc::c_int = 0;
#[cfg(not(loom))]
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
#[cfg(not(loom))]
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

#[cfg(not(loom))]
fn membarrier(cmd: libc::c_int) -> Result<libc::c_long, i32> {
    // SAFETY: membarrier takes (cmd, flags, cpu_id) integers and touches no
    // memory of ours; any failure is reported through errno.
    let ret = unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_uint, 0 as libc::c_int) };
    if ret < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(ret)
    }
}

#[cfg(not(loom))]
/// Queries the kernel and registers for private expedited membarrier.
/// Returns the strategy that can be used.
fn probe_membarrier() -> BarrierStrategy {
    if std::env::var_os("RCU_FORCE_FENCES").is_some_and(|v| v == "1") {
        return BarrierStrategy::Fences;
    }
    let supported = match membarrier(MEMBARRIER_CMD_QUERY) {
        Ok(mask) => mask,
        Err(_) => return BarrierStrategy::Fences,
    };
    let needed = (MEMBARRIER_CMD_PRIVATE_EXPEDITED | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) as libc::c_long;
    if supported & needed != needed {
        return BarrierStrategy::Fences;
    }
    match membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) {
        Ok(_) => BarrierStrategy::Membarrier,
        Err(_) => BarrierStrategy::Fences,
    }
}

/// Decides the barrier strategy for the whole process (idempotent, cheap
/// after the first call). Must run before the first reader registers and
/// before the first grace period: the registry and the engine call it.
///
/// Setting the environment variable `RCU_FORCE_FENCES=1` before the first
/// call selects the fence fallback (for comparisons and tests).
#[cfg(not(loom))]
pub fn init() -> BarrierStrategy {
    // Acquire pairs with the Release store below: a thread that sees the
    // decision also sees the registration syscall's effects were ordered first.
    match STRATEGY.load(Ordering::Acquire) {
        MEMBARRIER => return BarrierStrategy::Membarrier,
        FENCES => return BarrierStrategy::Fences,
        _ => {}
    }
    register_fork_handlers();
    let _g = INIT_LOCK.lock();
    if STRATEGY.load(Ordering::Acquire) == UNDECIDED {
        let s = match probe_membarrier() {
            BarrierStrategy::Membarrier => MEMBARRIER,
            BarrierStrategy::Fences => FENCES,
        };
        // Release pairs with the Acquire load above (and in `strategy`).
        STRATEGY.store(s, Ordering::Release);
    }
    drop(_g);
    strategy()
}

/// Serialises the decision; held across the (millisecond) registration, so
/// the fork handlers below take it: a child never inherits it held.
#[cfg(not(loom))]
static INIT_LOCK: lock::ForkSafeMutex<()> = lock::ForkSafeMutex::new(());

/// Registers, once, fork handlers that hold `INIT_LOCK` across `fork()`.
#[cfg(not(loom))]
fn register_fork_handlers() {
    extern "C" fn prepare() {
        INIT_LOCK.raw_lock();
    }
    extern "C" fn release() {
        // SAFETY: taken by `prepare` on this thread (parent), or before the
        // fork by the thread that is the child's only thread.
        unsafe { INIT_LOCK.raw_unlock() };
    }
    static REGISTERED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    // Relaxed: a second registration would only be redundant, never wrong,
    // but the swap makes it happen once.
    if !REGISTERED.swap(true, Ordering::Relaxed) {
        // SAFETY: plain functions valid for the process's life, which do not
        // unwind.
        unsafe { libc::pthread_atfork(Some(prepare), Some(release), Some(release)) };
    }
}

/// Under loom the model always uses the fence fallback.
#[cfg(loom)]
pub fn init() -> BarrierStrategy {
    BarrierStrategy::Fences
}

/// The strategy in force ([`init`] must have run; before it, `Fences` is
/// reported, which is also what [`heavy_barrier`] would do).
#[cfg(not(loom))]
#[inline]
pub fn strategy() -> BarrierStrategy {
    if STRATEGY.load(Ordering::Acquire) == MEMBARRIER {
        BarrierStrategy::Membarrier
    } else {
        BarrierStrategy::Fences
    }
}

/// Under loom the model always uses the fence fallback.
#[cfg(loom)]
pub fn strategy() -> BarrierStrategy {
    BarrierStrategy::Fences
}

/// The reader side of the asymmetric barrier pair.
///
/// With membarrier: a compiler fence only (no instruction); the writer's
/// [`heavy_barrier`] makes it a full fence whenever it matters. Otherwise a
/// `fence(SeqCst)`.
#[inline(always)]
pub fn light_barrier() {
    #[cfg(not(loom))]
    {
        // Relaxed: the value was fixed before this thread registered (see
        // `STRATEGY`); this load is a plain `mov` of a read-mostly line.
        if STRATEGY.load(Ordering::Relaxed) != MEMBARRIER {
            fallback_fence();
        }
        compiler_fence(Ordering::SeqCst);
    }
    #[cfg(loom)]
    fence(Ordering::SeqCst);
}

/// The fence of the `Fences` strategy, out of line: inline, its block and
/// the jump around it sat in the middle of every reader fast path.
#[cfg(not(loom))]
#[cold]
#[inline(never)]
fn fallback_fence() {
    fence(Ordering::SeqCst);
}

/// The light barrier's strategy read once, for paths that issue it twice
/// (memb's unlock): a compiler fence would force `light_barrier` to reload
/// the strategy each time.
#[derive(Copy, Clone, Debug)]
pub struct LightBarrier {
    #[cfg(not(loom))]
    compiler_only: bool,
}

impl LightBarrier {
    /// Reads the strategy in force (see [`light_barrier`]).
    #[inline(always)]
    pub fn current() -> Self {
        LightBarrier {
            // Relaxed: as in `light_barrier`.
            #[cfg(not(loom))]
            compiler_only: STRATEGY.load(Ordering::Relaxed) == MEMBARRIER,
        }
    }

    /// Issues the barrier: as [`light_barrier`].
    #[inline(always)]
    pub fn issue(self) {
        #[cfg(not(loom))]
        {
            if !self.compiler_only {
                fallback_fence();
            }
            compiler_fence(Ordering::SeqCst);
        }
        #[cfg(loom)]
        fence(Ordering::SeqCst);
    }
}

/// The writer side of the asymmetric barrier pair: after it returns, every
/// thread of the process has executed a full memory barrier, so every
/// reader's [`light_barrier`] orders like a `fence(SeqCst)` with respect to
/// this call. May take tens of microseconds (an IPI per CPU running one of
/// our threads). Never blocks for a kernel grace period.
pub fn heavy_barrier() {
    // The local fences order this thread's own accesses around the syscall
    // in the language model (the kernel issues smp_mb() itself too).
    fence(Ordering::SeqCst);
    #[cfg(not(loom))]
    if strategy() == BarrierStrategy::Membarrier {
        if let Err(errno) = membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) {
            expedited_failed(errno);
        }
    }
    fence(Ordering::SeqCst);
}

/// `MEMBARRIER_CMD_PRIVATE_EXPEDITED` failed although registration had
/// succeeded. The one known cause is a forked child whose address space was
/// not marked registered: register again and retry. Readers keep relying on
/// the heavy barrier, so continuing without one would be unsound: abort.
#[cold]
#[cfg(not(loom))]
fn expedited_failed(errno: i32) {
    if errno == libc::EPERM
        && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED).is_ok()
        && membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED).is_ok()
    {
        return;
    }
    eprintln!(
        "rcu: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) failed with errno {errno} after a \
         successful registration; readers rely on it, so continuing would allow use-after-free. \
         Aborting. (Set RCU_FORCE_FENCES=1 to use the fence fallback.)"
    );
    std::process::abort();
}

/// Re-registers for private expedited membarrier if the strategy is in use.
/// Called in a forked child: registration belongs to the address space, and
/// the child must not find out lazily at its first grace period.
#[cfg(not(loom))]
pub fn reregister_after_fork() {
    if strategy() == BarrierStrategy::Membarrier {
        // A failure cannot happen on a kernel that accepted the parent's
        // registration; if it ever does, heavy_barrier() retries once and
        // then aborts with a message naming the problem.
        let _ = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED);
    }
}

/// Monotonic time in nanoseconds (`CLOCK_MONOTONIC`, a vDSO call).
#[cfg(not(loom))]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The calling thread's kernel thread id, for diagnostics.
#[cfg(not(loom))]
pub fn gettid() -> u64 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as u64 }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::atomic::{AtomicI32, AtomicU32};

    #[test]
    fn init_is_idempotent_and_reports_the_strategy_in_force() {
        let first = init();
        assert_eq!(init(), first);
        assert_eq!(strategy(), first);
        // Both barriers can be issued whatever the strategy.
        light_barrier();
        heavy_barrier();
    }

    #[test]
    fn futex_wait_returns_at_once_when_the_word_differs() {
        let w = AtomicI32::new(5);
        futex_wait(&w, 4);
        let u = AtomicU32::new(1);
        futex_wait_u32(&u, 0, None);
        futex_wait_u32(&u, 1, Some(std::time::Duration::from_millis(1)));
    }
}
