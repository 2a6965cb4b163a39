//! The grace-period sequence: cookies, polling and grace-period sharing.
//!
//! `seq` counts grace periods the way the kernel's `rcu_seq` does: bit 0 is
//! set while a grace period runs, the rest counts completed ones. A cookie
//! ([`GpState`]) is the `seq` value that, once reached, proves every reader
//! that was active when the cookie was taken has finished:
//!
//! * idle (`seq` even): the next grace period must complete, `seq + 2`;
//! * running (`seq` odd): the running one may have scanned already, so the
//!   one after it must complete, `seq + 3` rounded down to even.
//!
//! [`GpSequence::snapshot`] issues a fence before reading `seq` so that
//! every store the caller made before taking the cookie (the unpublish) is
//! ordered before the start of any grace period that counts for it: if the
//! load did not see a grace period start, that grace period's first barrier
//! comes after our fence in the single total order of `SeqCst` fences.
//!
//! # Sharing
//!
//! Callers that need a grace period go through [`GpSequence::wait_for`]: the
//! first becomes the leader and runs grace periods (outside the lock) until
//! its cookie is reached; others that arrive meanwhile spin briefly, then sleep on a futex event
//! word, read under the lock, which the leader bumps (under the lock) when it
//! resigns, so no wake-up is lost. Each sleeper then either finds its cookie
//! reached or becomes the next leader, whose one grace period covers every
//! sleeper. N concurrent callers cost one or two grace periods, not N.
//!
//! # Async waiters
//!
//! Futures wait without a thread: [`GpSequence::poll_async`] registers
//! their wakers in `waiters` (see `waiters.rs`), and every completion (the
//! one place `seq` becomes even, `complete`, reached from `run_one` and
//! `complete_if_idle`, whoever runs them: a leader, the reclaim thread, an
//! idle shortcut) wakes those whose cookie it reaches.

use super::waiters::GpWaiters;
use crate::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, Ordering};
use crate::sync::spin_hint;
use crate::sys::lock::ForkSafeMutex;
use crossbeam_utils::CachePadded;
use std::task::Waker;

/// A grace-period cookie: see `GpSequence::snapshot`. `Copy + Eq + Debug`,
/// ordered by age (a later cookie needs a later grace period).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GpState(u64);

impl GpState {
    /// A cookie that is always completed (nothing to wait for).
    pub const COMPLETED: GpState = GpState(0);

    /// The raw sequence value this cookie waits for.
    pub fn seq(self) -> u64 {
        self.0
    }

    pub(crate) fn from_seq(seq: u64) -> Self {
        GpState(seq)
    }

    /// The cookie whose [`Self::seq`] is `seq`: for an ABI that carries
    /// cookies as integers (liburcu's `struct urcu_gp_poll_state`). Only a
    /// value `seq()` returned means anything: another value polls as
    /// completed (below the sequence) or not yet (above it), and waiting for
    /// one far above it runs grace periods until the sequence gets there.
    /// Hidden: for `rcu-capi`, which only polls such cookies.
    #[doc(hidden)]
    pub fn from_raw(seq: u64) -> Self {
        GpState(seq)
    }
}

struct Leadership {
    /// A leader is running grace periods right now.
    leader_active: bool,
    /// Threads sleeping on `resigned` (so the leader knows whether to wake).
    sleepers: usize,
    /// The latest cookie a sleeper waits for: the leader runs for it too
    /// before resigning (see `GpSequence::lead`).
    wanted: GpState,
}

/// Polls of a follower's spin before it sleeps, for flavours whose grace
/// periods issue no IPIs (QSBR; liburcu's waiters spin 1,000 times too,
/// `URCU_WAIT_ATTEMPTS`). See [`GpSequence::spin_while_led`].
#[cfg_attr(loom, allow(dead_code))]
pub const FOLLOWER_SPINS: u32 = 1000;

/// Grace periods a leader runs for sleepers after its own (see
/// `GpSequence::lead`).
const MAX_EXTRA_FOR_SLEEPERS: u32 = 2;

/// The sequence counter with its leader election.
pub struct GpSequence {
    seq: CachePadded<AtomicU64>,
    leadership: ForkSafeMutex<Leadership>,
    /// Bumped under the lock whenever a leader resigns; sleepers wait on it.
    resigned: AtomicU32,
    /// A copy of `Leadership::leader_active`, written under the lock, read
    /// without it by spinning followers (a hint: decisions are re-checked
    /// under the lock).
    leader_active_hint: AtomicBool,
    /// Polls a follower spins before it sleeps (0: sleep at once).
    follower_spins: u32,
    /// Futures waiting for a cookie (see "Async waiters").
    waiters: GpWaiters,
    /// Set while `seq` is odd by a thread that took the running state but
    /// may not wait for a reader it found (an async waiter:
    /// `complete_if_idle` without `run_gp`, `try_run_one`): the next thread
    /// in `begin` adopts the running state and runs the grace period
    /// (model-checked by `tests/loom_sequence.rs`).
    orphaned: AtomicBool,
}

impl std::fmt::Debug for GpSequence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpSequence").field("seq", &self.seq.load(Ordering::Relaxed)).finish_non_exhaustive()
    }
}

/// The body of both `GpSequence::new` (a `const fn` except under loom).
macro_rules! gp_sequence_new {
    ($follower_spins:expr) => {
        GpSequence {
            seq: CachePadded::new(AtomicU64::new(0)),
            leadership: ForkSafeMutex::new(Leadership {
                leader_active: false,
                sleepers: 0,
                wanted: GpState::COMPLETED,
            }),
            resigned: AtomicU32::new(0),
            leader_active_hint: AtomicBool::new(false),
            follower_spins: $follower_spins,
            waiters: GpWaiters::new(),
            orphaned: AtomicBool::new(false),
        }
    };
}

impl GpSequence {
    /// No grace period run yet; followers spin `follower_spins` polls
    /// before they sleep (0 or `FOLLOWER_SPINS`).
    #[cfg(not(loom))]
    pub const fn new(follower_spins: u32) -> Self {
        gp_sequence_new!(follower_spins)
    }

    /// No grace period run yet (as the `const` one; loom's atomics are not
    /// `const`).
    #[cfg(loom)]
    pub fn new(follower_spins: u32) -> Self {
        gp_sequence_new!(follower_spins)
    }

    /// A cookie covering every reader active now (see the module docs).
    #[inline]
    pub fn snapshot(&self) -> GpState {
        // Orders the caller's earlier stores before the load of `seq`; pairs
        // with the first barrier of the grace period that will satisfy the
        // cookie (see the module docs).
        fence(Ordering::SeqCst);
        let s = self.seq.load(Ordering::Relaxed);
        GpState((s + 3) & !1)
    }

    /// Whether the grace period `cookie` waits for has completed. One load.
    #[inline]
    pub fn poll(&self, cookie: GpState) -> bool {
        // Acquire pairs with the Release store in `run_one`: a caller that
        // sees the cookie reached also sees the grace period's final barrier
        // (so its frees come after every old reader's loads).
        self.seq.load(Ordering::Acquire) >= cookie.0
    }

    /// Whether `cookie` is reached; if not, registers `waker` for it under
    /// the future's `*id` (assigned on first registration), to be woken by
    /// the completion that reaches it. Never blocks (a short lock).
    pub(crate) fn poll_async(&self, cookie: GpState, id: &mut Option<u64>, waker: &Waker) -> bool {
        if !self.poll(cookie) {
            self.waiters.register(cookie, id, waker);
            // SeqCst: the waiter's half of the store-buffering pair (its
            // store of the waiter count, this fence, the load of `seq` in
            // `poll`); pairs with the fence in `complete` (see `waiters.rs`).
            fence(Ordering::SeqCst);
            if !self.poll(cookie) {
                return false;
            }
        }
        self.waiters.remove(cookie, id);
        true
    }

    /// Removes the waker the future `*id` registered, if any (the future
    /// is dropped).
    pub(crate) fn forget_waiter(&self, cookie: GpState, id: &mut Option<u64>) {
        self.waiters.remove(cookie, id);
    }

    /// A future that completes once `cookie` is reached. It runs no grace
    /// period: whoever made the cookie must see that one runs (the engine's
    /// `start_poll` asks its reclaim thread; an srcu domain, its worker).
    /// Never blocks; dropping it early removes its waker.
    pub fn wait_async(&'static self, cookie: GpState) -> impl std::future::Future<Output = ()> + Send + 'static {
        super::waiters::GpWait::new(self, cookie)
    }

    /// Futures waiting for a cookie now.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn async_waiters(&self) -> usize {
        self.waiters.len()
    }

    /// Completes the grace period that took `seq` odd (`even` is the value
    /// after it) and wakes the futures whose cookie it reaches.
    #[inline]
    fn complete(&self, even: u64) {
        // Release: publishes the completion after the grace period's final
        // barrier (or `idle()`'s fence); pairs with the Acquire load in
        // `poll`.
        self.seq.store(even, Ordering::Release);
        // SeqCst: the completer's half of the store-buffering pair (this
        // store of `seq`, the fence, the load of the waiter count); pairs
        // with the fence in `poll_async` (see `waiters.rs`).
        fence(Ordering::SeqCst);
        if self.waiters.any() {
            self.waiters.wake_reached(even);
        }
    }

    /// Completed grace periods so far.
    pub fn completed(&self) -> u64 {
        self.seq.load(Ordering::Relaxed) >> 1
    }

    /// Whether a grace period is running now.
    pub fn in_progress(&self) -> bool {
        // Relaxed: a report, ordered with nothing (polling uses `poll`).
        self.seq.load(Ordering::Relaxed) & 1 == 1
    }

    /// Blocks until `cookie` is reached, running grace periods with
    /// `run_gp` if no other thread is (see "Sharing" in the module docs).
    pub fn wait_for(&self, cookie: GpState, run_gp: impl Fn()) {
        if self.poll(cookie) {
            return;
        }
        let mut spun = false;
        loop {
            let mut lead = self.leadership.lock();
            if self.poll(cookie) {
                return;
            }
            if !lead.leader_active {
                lead.leader_active = true;
                // Relaxed: a hint for spinning followers (see the field).
                self.leader_active_hint.store(true, Ordering::Relaxed);
                drop(lead);
                self.lead(cookie, &run_gp);
                return;
            }
            if !spun {
                spun = true;
                drop(lead);
                if self.spin_while_led(cookie) {
                    return;
                }
                continue;
            }
            spun = false;
            lead.sleepers += 1;
            lead.wanted = lead.wanted.max(cookie);
            // Relaxed: read and bumped only under the lock we hold.
            let resigned = self.resigned.load(Ordering::Relaxed);
            drop(lead);
            crate::sys::futex_wait_u32(&self.resigned, resigned, None);
            self.leadership.lock().sleepers -= 1;
        }
    }

    /// A follower spins a little before it sleeps: a QSBR grace period
    /// usually ends within microseconds, and a futex sleep and wake-up (two
    /// syscalls, two context switches) cost more. Four threads calling
    /// `synchronize_rcu` with a busy QSBR reader on 2 CPUs made 62,000
    /// calls/s without the spin and 285,000 with it. memb's engine does not
    /// spin: a spinning follower keeps its CPU running this process, so each
    /// of the leader's membarriers must interrupt it too (the same memb test
    /// made 115,000 calls/s without the spin and 70,000-106,000 with it).
    /// Returns whether `cookie` was reached; `false` once leadership is
    /// vacant (take it) or the spin is over.
    fn spin_while_led(&self, cookie: GpState) -> bool {
        for _ in 0..self.follower_spins {
            if self.poll(cookie) {
                return true;
            }
            // Relaxed: a hint; the caller re-checks under the lock.
            if !self.leader_active_hint.load(Ordering::Relaxed) {
                return false;
            }
            spin_hint();
        }
        false
    }

    fn lead(&self, cookie: GpState, run_gp: &impl Fn()) {
        // Resign leadership even if `run_gp` panics, or every later caller
        // would sleep forever.
        struct ResignOnUnwind<'a>(&'a GpSequence);
        impl Drop for ResignOnUnwind<'_> {
            fn drop(&mut self) {
                self.0.resign(self.0.leadership.lock());
            }
        }
        let unwind = ResignOnUnwind(self);
        let mut target = cookie;
        let mut extra = 0;
        loop {
            while !self.poll(target) {
                self.run_one(run_gp);
            }
            // Serve the sleepers before resigning: they went to sleep while
            // a grace period ran, so they need the next one. Handing it to
            // one of them would wake them all now (most to sleep again) and
            // once more when it is done; running it here wakes them once,
            // done. Bounded, so that this caller's own wait stays bounded.
            // One lock acquisition decides and, if nothing is left, resigns.
            let lead = self.leadership.lock();
            let wanted = lead.wanted;
            if lead.sleepers > 0 && extra < MAX_EXTRA_FOR_SLEEPERS && !self.poll(wanted) {
                drop(lead);
                target = wanted;
                extra += 1;
                continue;
            }
            std::mem::forget(unwind);
            self.resign(lead);
            return;
        }
    }

    /// Ends the calling leader's term and wakes the sleepers.
    fn resign(&self, mut lead: crate::sys::lock::Guard<'_, Leadership>) {
        lead.leader_active = false;
        // Relaxed: a hint (see the field).
        self.leader_active_hint.store(false, Ordering::Relaxed);
        if lead.sleepers > 0 {
            // Relaxed: under the lock (see `wait_for`).
            self.resigned.fetch_add(1, Ordering::Relaxed);
            crate::sys::futex_wake(&self.resigned, i32::MAX);
        }
    }

    /// Takes the odd "running" state from an even `seq`, waiting while an
    /// idle completion (`complete_if_idle`) holds it. Returns the even value.
    fn begin(&self) -> u64 {
        #[cfg(not(loom))]
        let backoff = crossbeam_utils::Backoff::new();
        loop {
            // Relaxed load: the compare-exchange decides.
            let s = self.seq.load(Ordering::Relaxed);
            // AcqRel: as a read-modify-write it continues the release
            // sequence of the previous completion, so a `poll` that reads
            // the odd value still synchronises with that completion; Acquire
            // orders this grace period after an idle completion's end. The
            // grace period's own first barrier orders this before its scans
            // (see `snapshot`).
            if s & 1 == 0 && self.seq.compare_exchange_weak(s, s + 1, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                return s;
            }
            // Adopt a running state its taker gave up (`complete_if_idle`
            // with no `run_gp`, `try_run_one`). Relaxed load: a hint; the
            // swap decides. Acquire pairs with the Release store of the
            // flag in those two: the adopter runs its grace period after
            // everything the taker did.
            if s & 1 == 1 && self.orphaned.load(Ordering::Relaxed) && self.orphaned.swap(false, Ordering::Acquire) {
                // Not `s`: loaded before the swap, it may be an earlier
                // running state's value, and completing `s + 1` would move
                // `seq` back (found by `tests/loom_sequence.rs`). Relaxed:
                // the swap read the taker's Release store of the flag,
                // which follows its compare-exchange that made `seq` odd,
                // so this load reads that value or a later one (coherence);
                // and there is none later, since nobody writes `seq` while
                // the state is orphaned (taking it needs `seq` even, and
                // the flag, swapped once, lets one thread adopt).
                let s = self.seq.load(Ordering::Relaxed);
                debug_assert!(s & 1 == 1, "an orphaned running state with an even seq ({s})");
                return s - 1;
            }
            // Held by `complete_if_idle` (leaders exclude each other by the
            // lock): for a few loads, or rarely for a grace period.
            #[cfg(not(loom))]
            backoff.snooze();
            // Under loom the wait must yield to the holder.
            #[cfg(loom)]
            spin_hint();
        }
    }

    /// The fast path of `synchronize_rcu`: if the hint `seems_idle()` and
    /// then the fenced check `idle()` say no reader could hold a grace period
    /// up, completes one without the lock, a barrier or a futex. It takes
    /// the odd "running" state before `idle()` (so a cookie taken meanwhile
    /// needs a later grace period): a cookie
    /// taken before is covered, because its snapshot's fence precedes the
    /// check's first fence, which therefore sees every reader that cookie
    /// waits for. If a reader arrived after the hint, this
    /// thread holds the running state and so runs the grace period itself
    /// (`run_gp`; `seq` never goes back, so cookies stay monotonic).
    /// Returns `false`, having changed nothing, when the hint sees a reader
    /// or another thread runs a grace period: the caller then waits as
    /// usual. Lock-free when it returns `true` without running one.
    ///
    /// With `run_gp` `None` (a caller that may not wait: an async waiter),
    /// a reader found after the hint makes it give the running state up
    /// instead (`orphaned`): the next thread in `begin` (a leader, the
    /// reclaim thread) adopts it and runs the grace period. It returns
    /// `false` then, and the caller must make sure a grace period will be
    /// run (by requesting one from the reclaim thread).
    pub fn complete_if_idle(
        &self,
        seems_idle: impl Fn() -> bool,
        idle: impl Fn() -> bool,
        run_gp: Option<&dyn Fn()>,
    ) -> bool {
        if !seems_idle() {
            return false;
        }
        // Relaxed load: the compare-exchange decides.
        let s = self.seq.load(Ordering::Relaxed);
        // AcqRel: as in `begin` (this competes with leaders for the odd
        // state). Odd: a leader waits for readers; no shortcut then.
        if s & 1 == 1 || self.seq.compare_exchange(s, s + 1, Ordering::AcqRel, Ordering::Relaxed).is_err() {
            return false;
        }
        if !idle() {
            let Some(run_gp) = run_gp else {
                // Release: pairs with the Acquire swap in `begin`; the
                // adopter's grace period starts after this thread's check.
                self.orphaned.store(true, Ordering::Release);
                return false;
            };
            Self::run_or_abort(run_gp);
        }
        self.complete(s + 2);
        true
    }

    /// Runs one grace period with `try_gp` if the running state is free
    /// now (no leader, no other attempt), without waiting for it: for a
    /// caller that may not block. `try_gp` returns whether it completed
    /// the grace period; if it gave up, the running state is orphaned for
    /// the next thread in `begin` to adopt (see `complete_if_idle`), and
    /// the caller must make sure a grace period will be run. Returns
    /// whether a grace period completed here.
    pub fn try_run_one(&self, try_gp: impl FnOnce() -> bool) -> bool {
        // Relaxed load: the compare-exchange decides.
        let s = self.seq.load(Ordering::Relaxed);
        // AcqRel: as in `begin`.
        if s & 1 == 1 || self.seq.compare_exchange(s, s + 1, Ordering::AcqRel, Ordering::Relaxed).is_err() {
            return false;
        }
        let completed = Self::run_or_abort(try_gp);
        if completed {
            self.complete(s + 2);
        } else {
            // Release: pairs with the Acquire swap in `begin`; the adopter
            // runs its grace period after everything `try_gp` did.
            self.orphaned.store(true, Ordering::Release);
        }
        completed
    }

    fn run_one(&self, run_gp: &impl Fn()) {
        let s = self.begin();
        Self::run_or_abort(run_gp);
        self.complete(s + 2);
    }

    /// Runs one grace period (or an attempt at one) while this thread
    /// holds the odd state.
    fn run_or_abort<R>(run_gp: impl FnOnce() -> R) -> R {
        // A panic here would leave `seq` odd and make later cookies complete
        // a grace period early: there is no safe way to continue.
        struct AbortOnUnwind;
        impl Drop for AbortOnUnwind {
            fn drop(&mut self) {
                eprintln!("rcu: a grace period panicked; aborting (continuing could free memory early)");
                std::process::abort();
            }
        }
        let guard = AbortOnUnwind;
        let result = run_gp();
        std::mem::forget(guard);
        result
    }

    /// `fork()` support: hold the leadership lock across the fork.
    #[doc(hidden)]
    #[cfg(not(loom))]
    pub fn lock_for_fork(&self) {
        self.leadership.raw_lock();
        self.waiters.lock_for_fork();
    }

    /// `fork()` support, parent side: release the lock taken by
    /// [`Self::lock_for_fork`].
    #[doc(hidden)]
    #[cfg(not(loom))]
    pub fn unlock_after_fork_parent(&self) {
        self.waiters.unlock_after_fork();
        // SAFETY: taken by `lock_for_fork` on this thread, no guard exists.
        unsafe { self.leadership.raw_unlock() };
    }

    /// `fork()` support, child side: only the forking thread exists, so no
    /// leader runs and nobody sleeps; a grace period that was running in
    /// the parent is abandoned (not counted as completed).
    #[doc(hidden)]
    #[cfg(not(loom))]
    pub fn reset_after_fork_child(&self) {
        {
            // SAFETY: the child's only thread took this lock before fork.
            let lead = unsafe { &mut *self.leadership.value_ptr() };
            lead.leader_active = false;
            lead.sleepers = 0;
            lead.wanted = GpState::COMPLETED;
        }
        // Relaxed: single-threaded child.
        self.leader_active_hint.store(false, Ordering::Relaxed);
        // Relaxed: single-threaded child.
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s & !1, Ordering::Relaxed);
        // Relaxed: single-threaded child; the abandoned state is gone.
        self.orphaned.store(false, Ordering::Relaxed);
        self.waiters.unlock_after_fork();
        // SAFETY: as above.
        unsafe { self.leadership.raw_unlock() };
    }
}

impl Default for GpSequence {
    fn default() -> Self {
        Self::new(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[test]
    fn a_cookie_taken_while_idle_needs_the_next_grace_period() {
        let seq = GpSequence::new(0);
        let c = seq.snapshot();
        assert!(!seq.poll(c));
        seq.wait_for(c, || {});
        assert!(seq.poll(c));
        assert_eq!(seq.completed(), 1);
        assert!(seq.poll(GpState::COMPLETED));
    }

    #[test]
    fn a_cookie_taken_during_a_grace_period_needs_the_one_after() {
        let seq = Arc::new(GpSequence::new(FOLLOWER_SPINS));
        let inner = Arc::clone(&seq);
        let cookie_inside = std::sync::Mutex::new(None);
        seq.wait_for(seq.snapshot(), || {
            if cookie_inside.lock().unwrap().is_none() {
                *cookie_inside.lock().unwrap() = Some(inner.snapshot());
            }
        });
        let c = cookie_inside.lock().unwrap().unwrap();
        assert_eq!(seq.completed(), 1);
        assert!(!seq.poll(c), "the running grace period must not satisfy a cookie taken inside it");
        seq.wait_for(c, || {});
        assert_eq!(seq.completed(), 2);
    }

    /// An idle completion that finds a reader and may not wait gives the
    /// running state up; it completes nothing, and the next thread that
    /// runs grace periods adopts it: one grace period, run once, and a
    /// cookie taken meanwhile still needs the one after it.
    #[test]
    fn a_running_state_given_up_is_adopted_by_the_next_grace_period() {
        let seq = GpSequence::new(0);
        let before = seq.snapshot();
        assert!(!seq.complete_if_idle(|| true, || false, None), "a reader was found: nothing completes");
        assert!(seq.in_progress() && !seq.poll(before));
        let during = seq.snapshot();
        let runs = AtomicUsize::new(0);
        // Relaxed: counted and read on this thread.
        let run = || {
            runs.fetch_add(1, Ordering::Relaxed);
        };
        seq.wait_for(before, run);
        assert!(seq.poll(before) && !seq.in_progress());
        assert_eq!((seq.completed(), runs.load(Ordering::Relaxed)), (1, 1), "the adopted grace period ran once");
        assert!(!seq.poll(during), "a cookie taken while the state was given up needs the next grace period");
        seq.wait_for(during, run);
        assert_eq!(seq.completed(), 2);
    }

    /// Idle: completed in the call, with no grace period run.
    #[test]
    fn an_idle_completion_without_a_reader_completes_at_once() {
        let seq = GpSequence::new(0);
        let before = seq.snapshot();
        assert!(seq.complete_if_idle(|| true, || true, None));
        assert!(seq.poll(before));
        assert!(!seq.complete_if_idle(|| false, || true, None), "the hint saw a reader: nothing taken");
        assert!(!seq.in_progress());
    }

    #[test]
    fn concurrent_callers_share_grace_periods() {
        let seq = Arc::new(GpSequence::new(0));
        let runs = Arc::new(AtomicUsize::new(0));
        let callers = 16;
        let barrier = Arc::new(std::sync::Barrier::new(callers));
        let hs: Vec<_> = (0..callers)
            .map(|_| {
                let (seq, runs, barrier) = (seq.clone(), runs.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    seq.wait_for(seq.snapshot(), || {
                        // Relaxed: a count read after the joins.
                        runs.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    });
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let n = runs.load(Ordering::Relaxed);
        assert!(n >= 1 && n <= callers / 2, "{callers} callers ran {n} grace periods");
    }
}
