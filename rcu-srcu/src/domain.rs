//! Independent srcu domains: each its own readers (slots and index) and
//! grace-period sequence, so a long section of one domain never delays
//! another's grace periods.

use crate::domain_reclaim::{self, DomainReclaim, GracePeriods, Pending};
use rcu_core::stall::StallReporter;
use rcu_core::GpSequence;
use rcu_core::{GpState, RcuFree};
use rcu_core::{SrcuReaders, SrcuSection};
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{MutexGuard, Once};

/// An srcu domain, usable in a `static`:
///
/// ```
/// static DISK: rcu_srcu::Domain = rcu_srcu::Domain::named("disk");
/// static CACHE: rcu_srcu::Domain = rcu_srcu::Domain::new();
///
/// let guard = DISK.read_lock(); // Send: may end on another thread
/// std::thread::spawn(move || drop(guard)).join().unwrap();
/// DISK.synchronize_rcu();
/// ```
///
/// Grace periods of a domain wait only for its own sections. Its
/// `call_rcu`, `kvfree_rcu` and async waits are served by a worker thread of
/// its own, started on first use; `RcuCell` serves the default domain.
/// In a forked child, a domain works as the flavours do: other threads'
/// sections are forgotten and the worker restarts on next use.
#[derive(Debug)]
pub struct Domain {
    readers: SrcuReaders,
    sequence: GpSequence,
    stall_warnings: AtomicU64,
    reclaim: DomainReclaim,
    /// Listed for the fork handlers (`domain_fork`).
    fork_listed: Once,
}

impl Domain {
    /// A domain with no reader, named "srcu domain" in stall warnings and
    /// misuse panics (see [`named`](Self::named)).
    pub const fn new() -> Self {
        Self::named("srcu domain")
    }

    /// A domain with no reader; `name` appears in stall warnings and
    /// misuse panics.
    pub const fn named(name: &'static str) -> Self {
        Domain {
            readers: SrcuReaders::new(name),
            sequence: GpSequence::new(0),
            stall_warnings: AtomicU64::new(0),
            reclaim: DomainReclaim::new(),
            fork_listed: Once::new(),
        }
    }

    /// Enters a read-side section of this domain (nestable, never blocks).
    #[inline]
    pub fn read_lock(&'static self) -> DomainGuard {
        self.listed();
        DomainGuard { domain: self, section: self.readers.read_lock() }
    }

    /// Waits until every section of this domain that began before the call
    /// has ended. Concurrent callers share grace periods.
    ///
    /// # Panics
    ///
    /// On a thread that entered a section of this domain not yet ended.
    #[track_caller]
    pub fn synchronize_rcu(&self) {
        self.readers.assert_may_block("Domain::synchronize_rcu()");
        rcu_core::sys::init();
        if self.sequence.complete_if_idle(
            || self.readers.no_reader_seen(),
            || self.readers.no_reader_to_wait_for(),
            Some(&|| self.run_grace_period()),
        ) {
            return;
        }
        self.wait_until(self.sequence.snapshot());
    }

    /// Completes after a grace period of this domain that began after the
    /// call; no thread blocks (with no section open it completes in the
    /// call; otherwise the domain's worker runs the grace period). Dropping
    /// it early leaks nothing.
    ///
    /// Unlike [`synchronize_rcu`](Self::synchronize_rcu), it takes
    /// `&'static self`, as `call_rcu`, `kvfree_rcu` and `rcu_barrier` do:
    /// the domain's worker thread runs the grace period and may still be
    /// running it when the future is dropped, so the domain must outlive
    /// it (a `static`, or a leaked `Box`; a domain with sections is one
    /// already, since `read_lock` takes `&'static self`).
    ///
    /// ```
    /// static SESSIONS: rcu_srcu::Domain = rcu_srcu::Domain::new();
    ///
    /// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// runtime.block_on(async {
    ///     let guard = SESSIONS.read_lock(); // held across the await below, on this thread
    ///     let other = tokio::spawn(async { SESSIONS.synchronize_rcu_async().await });
    ///     tokio::task::yield_now().await;
    ///     drop(guard); // the wait completes only now
    ///     other.await.unwrap();
    /// });
    /// ```
    pub fn synchronize_rcu_async(&'static self) -> impl Future<Output = ()> + Send + 'static {
        self.listed();
        let cookie = self.sequence.snapshot();
        // No reader: completed here, as `synchronize_rcu`'s fast path does
        // (without waiting: a reader that arrives meanwhile leaves the
        // grace period to the worker).
        if !self.sequence.complete_if_idle(
            || self.readers.no_reader_seen(),
            || self.readers.no_reader_to_wait_for(),
            None,
        ) {
            self.reclaim.request(self, cookie);
        }
        self.sequence.wait_async(cookie)
    }

    /// Runs `callback` on this domain's worker thread after a grace period
    /// of this domain. Never blocks.
    pub fn call_rcu<C: FnOnce() + Send + 'static>(&'static self, callback: C) {
        self.listed();
        self.reclaim.call(self, Box::new(callback));
    }

    /// Drops `object` (a `Box<T>` or a `Vec<T>`) on this domain's worker
    /// after a grace period of this domain. Never blocks; no allocation
    /// for the object itself (a queue slot only).
    pub fn kvfree_rcu<P: RcuFree>(&'static self, object: P) {
        self.listed();
        self.reclaim.free(self, object.into_entry());
    }

    /// Returns after every callback ([`Domain::call_rcu`]) and object
    /// ([`Domain::kvfree_rcu`]) queued on this domain before the call, by
    /// any thread, has run or been dropped. Only this domain's queue: the
    /// default domain's (`RcuCell`, the free functions) has
    /// [`rcu_barrier`](crate::rcu_barrier), other domains their own. Not
    /// what is queued after the call starts. May block.
    ///
    /// # Panics
    ///
    /// On a thread that entered a section of this domain not yet ended, and
    /// from one of this domain's callbacks (it would wait for itself).
    #[track_caller]
    pub fn rcu_barrier(&'static self) {
        self.readers.assert_may_block("Domain::rcu_barrier()");
        assert!(
            !domain_reclaim::on_worker(),
            "rcu_srcu: Domain::rcu_barrier() called from a domain's callback would wait for itself; \
             queue the work with call_rcu instead"
        );
        domain_reclaim::block_on(self.rcu_barrier_async());
    }

    /// Completes after every callback and kvfree object queued on this
    /// domain before the call has run or been dropped. Never blocks.
    pub fn rcu_barrier_async(&'static self) -> impl Future<Output = ()> + Send + 'static {
        self.listed();
        self.reclaim.barrier(self)
    }

    /// Lists this domain for the fork handlers on first use.
    #[inline]
    fn listed(&'static self) {
        self.fork_listed.call_once(|| crate::domain_fork::list(self));
    }

    /// `fork()` support, before fork: takes the queue's lock (returned)
    /// then the grace-period leadership lock, in the order the worker
    /// takes them.
    pub(crate) fn fork_prepare(&'static self) -> MutexGuard<'static, Pending> {
        let queue = self.reclaim.lock_for_fork();
        self.sequence.lock_for_fork();
        queue
    }

    /// `fork()` support, parent side: releases the leadership lock (the
    /// caller then drops the queue's guard).
    pub(crate) fn fork_parent(&self) {
        self.sequence.unlock_after_fork_parent();
    }

    /// `fork()` support, child side: only the forking thread exists.
    pub(crate) fn fork_child(&'static self, queue: &mut MutexGuard<'static, Pending>) {
        self.readers.reset_after_fork_child();
        self.sequence.reset_after_fork_child();
        DomainReclaim::reset_after_fork_child(queue);
    }

    /// Runs one grace period (the caller holds the sequence's running
    /// state).
    fn run_grace_period(&self) {
        let stall = StallReporter::new("srcu", "inside a read-side section", &self.stall_warnings);
        // SAFETY: the sequence runs one grace period at a time, each with
        // its running state held: the index has one writer.
        unsafe { self.readers.run(&stall) };
    }

    /// Blocks until `cookie` is reached, running grace periods.
    fn wait_until(&self, cookie: GpState) {
        rcu_core::sys::init();
        self.sequence.wait_for(cookie, || self.run_grace_period());
    }

    /// Stall warnings this domain's grace periods have printed.
    pub fn stall_warnings(&self) -> u64 {
        self.stall_warnings.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl GracePeriods for Domain {
    fn snapshot(&self) -> GpState {
        self.sequence.snapshot()
    }
    fn poll(&self, cookie: GpState) -> bool {
        self.sequence.poll(cookie)
    }
    fn wait_for(&'static self, cookie: GpState) {
        self.wait_until(cookie);
    }
    fn name(&self) -> &'static str {
        self.readers.name()
    }
}

impl Default for Domain {
    fn default() -> Self {
        Domain::new()
    }
}

/// A read-side section of a [`Domain`]; `Send + Sync`, dropped on any
/// thread.
#[must_use = "the read-side critical section ends when the guard is dropped"]
#[derive(Debug)]
pub struct DomainGuard {
    domain: &'static Domain,
    section: SrcuSection,
}

impl Drop for DomainGuard {
    #[inline]
    fn drop(&mut self) {
        self.domain.readers.read_unlock(self.section);
    }
}
