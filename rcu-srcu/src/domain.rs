//! Independent srcu domains: each its own readers (slots and index) and
//! grace-period sequence, so a long section of one domain never delays
//! another's grace periods.

use rcu_core::stall::StallReporter;
use rcu_core::GpSequence;
use rcu_core::{SrcuReaders, SrcuSection};
use std::sync::atomic::AtomicU64;

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
/// Grace periods of a domain wait only for its own sections; `RcuCell`,
/// `call_rcu` and `kvfree_rcu` serve the default domain only (a domain's
/// callbacks would need the reclaim thread to track a cookie per domain).
/// A domain has no `fork()` handler: in a forked child, sections other
/// threads held at the fork stay open there, and its grace periods wait
/// for them forever (the default domain's are forgotten in the child).
#[derive(Debug)]
pub struct Domain {
    readers: SrcuReaders,
    sequence: GpSequence,
    stall_warnings: AtomicU64,
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
        Domain { readers: SrcuReaders::new(name), sequence: GpSequence::new(0), stall_warnings: AtomicU64::new(0) }
    }

    /// Enters a read-side section of this domain (nestable, never blocks).
    #[inline]
    pub fn read_lock(&'static self) -> DomainGuard {
        DomainGuard { domain: self, section: self.readers.read_lock() }
    }

    /// Waits until every section of this domain that began before the call
    /// has ended. Concurrent callers share grace periods.
    ///
    /// # Panics
    ///
    /// On a thread that entered a section of this domain not yet ended.
    #[track_caller]
    pub fn synchronize_rcu(&'static self) {
        self.readers.assert_may_block("Domain::synchronize_rcu()");
        rcu_core::sys::init();
        let run = || {
            let stall = StallReporter::new("srcu", "inside a read-side section", &self.stall_warnings);
            // SAFETY: the sequence runs one grace period at a time, each
            // with its running state held: the index has one writer.
            unsafe { self.readers.run(&stall) };
        };
        if self.sequence.complete_if_idle(
            || self.readers.no_reader_seen(),
            || self.readers.no_reader_to_wait_for(),
            &run,
        ) {
            return;
        }
        self.sequence.wait_for(self.sequence.snapshot(), run);
    }

    /// Stall warnings this domain's grace periods have printed.
    pub fn stall_warnings(&self) -> u64 {
        self.stall_warnings.load(std::sync::atomic::Ordering::Relaxed)
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
