//! Grace periods: `synchronize_rcu`, its no-reader fast path, and polling.

use super::Engine;
use crate::gp::sequence::GpState;
use crate::stall::StallReporter;
use crate::thread::FlavourLocals;
use std::sync::atomic::Ordering;

/// Polls of a reader's word an async waiter's inline grace period spends
/// before it leaves the grace period to the reclaim thread (as many as a
/// follower spins before it sleeps).
const INLINE_GP_SPINS: u32 = 100;

impl<F: FlavourLocals> Engine<F> {
    /// Whether no reader can be inside a section that began before this
    /// call (see `grace_period::no_reader_to_wait_for`).
    fn no_reader_to_wait_for(&self) -> bool {
        self.no_own_reader_to_wait_for() && self.no_foreign_reader_to_wait_for() && self.no_srcu_reader_to_wait_for()
    }

    fn no_srcu_reader_to_wait_for(&self) -> bool {
        F::srcu_readers().is_none_or(|s| s.no_reader_to_wait_for())
    }

    fn no_own_reader_to_wait_for(&self) -> bool {
        crate::gp::grace_period::no_reader_to_wait_for(F::PROTOCOL, self.registry.slots())
    }

    fn no_foreign_reader_to_wait_for(&self) -> bool {
        F::foreign_readers().is_none_or(|f| f.no_reader_to_wait_for(F::PROTOCOL))
    }

    /// Runs one grace period (the caller holds the sequence's running
    /// state): over the engine's own slots, then over foreign readers, then over
    /// srcu readers, each
    /// skipped when it has no reader to wait for.
    fn run_grace_period(&self) {
        let own = !self.no_own_reader_to_wait_for();
        let foreign = F::foreign_readers().filter(|f| !f.no_reader_to_wait_for(F::PROTOCOL));
        let srcu = F::srcu_readers().filter(|s| !s.no_reader_to_wait_for());
        if !own && foreign.is_none() && srcu.is_none() {
            return;
        }
        let state = match F::PROTOCOL {
            crate::reader::Protocol::PhaseFlip => "inside a read-side section",
            crate::reader::Protocol::Increment => "online without a quiescent state",
        };
        let stall = StallReporter::new(F::NAME, state, &self.stats.stall_warnings);
        if own {
            // SAFETY: called only by a thread that holds the sequence's odd
            // "running" state (`GpSequence::run_one`, `complete_if_idle`),
            // which one thread at a time can take, so it is the counter's
            // only writer.
            unsafe { self.counter.run(F::PROTOCOL, || self.registry.slots(), &stall) };
        }
        if let Some(foreign) = foreign {
            // SAFETY: as above; the foreign counter is advanced only here.
            unsafe { foreign.run(F::PROTOCOL, &stall) };
        }
        if let Some(srcu) = srcu {
            // SAFETY: as above; the srcu index is advanced only here.
            unsafe { srcu.run(&stall) };
        }
    }

    /// Waits for a grace period: every read-side critical section that began
    /// before the call has ended when it returns. Shared with concurrent
    /// callers. May block.
    #[track_caller]
    pub fn synchronize(&'static self) {
        self.assert_may_block("synchronize_rcu()");
        self.init();
        // Nothing to wait for, nothing paid: no barrier, futex or lock when
        // no reader could hold up a grace period (liburcu checks for an
        // empty registry too). Completed as an empty grace period, so
        // cookies taken earlier (`get_state_synchronize_rcu`) are satisfied.
        if self.complete_if_idle(Some(&|| self.run_grace_period())) {
            // Relaxed: a statistic (one counter per call: `stats()` adds
            // these to `synchronize_calls`).
            self.stats.synchronize_without_readers.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Relaxed: a statistic.
        self.stats.synchronize_calls.fetch_add(1, Ordering::Relaxed);
        self.wait_for(self.sequence.snapshot());
    }

    /// Completes a grace period at once if no reader could hold it up
    /// (`GpSequence::complete_if_idle`); `run_gp` is `None` for a caller
    /// that may not wait if a reader arrives meanwhile.
    fn complete_if_idle(&self, run_gp: Option<&dyn Fn()>) -> bool {
        let seems_idle = || {
            crate::gp::grace_period::no_reader_seen(F::PROTOCOL, self.registry.slots())
                && self.no_foreign_reader_to_wait_for()
                && F::srcu_readers().is_none_or(|s| s.no_reader_seen())
        };
        self.sequence.complete_if_idle(seems_idle, || self.no_reader_to_wait_for(), run_gp)
    }

    /// Runs one grace period on the calling thread if nobody runs one now
    /// and every reader it waits for leaves within [`INLINE_GP_SPINS`]
    /// polls: the cost of a blocking `synchronize` without its sleeps, for
    /// an async waiter, which must not block. Only the engine's own
    /// readers: with foreign (C) or srcu readers to wait for it does not
    /// try. Gives up (the reclaim thread adopts the grace period) if a
    /// reader stays.
    fn try_grace_period_inline(&self) -> bool {
        self.sequence.try_run_one(|| {
            // Checked with the running state held, as `run_grace_period`
            // does: a foreign or srcu reader that arrives later began after
            // this grace period did.
            if !(self.no_foreign_reader_to_wait_for() && self.no_srcu_reader_to_wait_for()) {
                return false;
            }
            // SAFETY: `try_run_one` runs this only while this thread holds
            // the sequence's odd "running" state, so it is the counter's
            // only writer.
            unsafe { self.counter.try_run(F::PROTOCOL, || self.registry.slots(), INLINE_GP_SPINS) }
        })
    }

    /// Blocks until `cookie` is reached, leading grace periods if needed.
    /// The caller must be allowed to block (checked by callers).
    pub(crate) fn wait_for(&'static self, cookie: GpState) {
        // Every grace period runs with the barrier strategy decided.
        self.init();
        self.sequence.wait_for(cookie, || self.run_grace_period());
    }

    /// A cookie for a grace period that starts after this call, which the
    /// reclaim thread is asked to run. Never blocks.
    pub fn start_poll(&'static self) -> GpState {
        self.init();
        let cookie = self.sequence.snapshot();
        self.ensure_reclaim_thread();
        self.reclaimer.request_gp(self.parts(), cookie);
        cookie
    }

    /// A future that completes once a grace period that starts after this
    /// call has completed: every read-side section that began before the
    /// call has ended. With no reader to wait for it is completed in the
    /// call (as `synchronize`'s fast path); otherwise the reclaim thread is
    /// asked to run it now (as [`Engine::start_poll`]) and the future's
    /// `Waker` is woken by whoever completes it. Never blocks, so it may be awaited anywhere, even
    /// inside a read-side section of another task on the same thread
    /// (the grace period then ends when that section does). Concurrent
    /// awaiters share grace periods; dropping the future early removes its
    /// waker.
    pub fn synchronize_async(&'static self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.init();
        // No reader: completed here, as `synchronize`'s fast path does,
        // without waiting (a reader that arrives meanwhile leaves the grace
        // period to the reclaim thread, which adopts it).
        if self.complete_if_idle(None) {
            return crate::gp::waiters::GpWait::new(&self.sequence, GpState::COMPLETED);
        }
        // Taken now, the cookie is reached by the inline grace period
        // below if that one starts (it needs `seq` even, as the cookie then
        // asks for the next grace period).
        let cookie = self.sequence.snapshot();
        if !self.try_grace_period_inline() {
            self.ensure_reclaim_thread();
            self.reclaimer.request_gp(self.parts(), cookie);
        }
        crate::gp::waiters::GpWait::new(&self.sequence, cookie)
    }

    /// Futures of [`Engine::synchronize_async`] registered now (waiting
    /// for their grace period). Hidden: for tests.
    #[doc(hidden)]
    pub fn async_waiters(&self) -> usize {
        self.sequence.async_waiters()
    }

    /// Whether `cookie`'s grace period has completed. One load, never blocks.
    #[inline]
    pub fn poll(&self, cookie: GpState) -> bool {
        self.sequence.poll(cookie)
    }

    /// Waits for `cookie` unless it has completed already.
    #[track_caller]
    pub fn cond_synchronize(&'static self, cookie: GpState) {
        if !self.poll(cookie) {
            self.assert_may_block("cond_synchronize_rcu()");
            self.init();
            self.wait_for(cookie);
        }
    }
}
