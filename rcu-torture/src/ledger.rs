//! Objects that go through the deferred APIs without being published to
//! readers: the extra objects of the emergency stretches, what churn
//! threads leave pending when they exit, and the flood.
//!
//! Each is a [`Retiree`]: it takes a grace-period cookie when it is made
//! (right before it is handed to `call_rcu` or `kvfree_rcu`) and its drop
//! polls that cookie, so an engine that frees it before a grace period that
//! started at the hand-off is caught even though no reader can reach it.
//! Every retiree is counted in the [`Ledger`] of its [`Source`] when made
//! and when dropped; after the final `rcu_barrier` both counts must match.

use crate::failures::Failures;
use rcu_core::{GpState, RcuFlavour};
use std::sync::atomic::{AtomicU64, Ordering};

/// Who made a retiree (one ledger each).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Extra objects the writer frees during a kvfree emergency stretch.
    Emergency,
    /// Objects a churn thread leaves pending (in its partial kvfree block,
    /// or in the callback queue) when it exits.
    Churn,
    /// Objects freed from a thread-local destructor at thread exit.
    ThreadExit,
    /// The flood's `call_rcu` callbacks.
    FloodCallRcu,
    /// The flood's `kvfree_rcu` objects.
    FloodKvfree,
}

impl Source {
    /// Every source, in ledger order.
    pub const ALL: [Source; 5] =
        [Source::Emergency, Source::Churn, Source::ThreadExit, Source::FloodCallRcu, Source::FloodKvfree];

    /// Shown in reports.
    pub fn name(self) -> &'static str {
        match self {
            Source::Emergency => "emergency stretch",
            Source::Churn => "churn exit",
            Source::ThreadExit => "thread-exit destructor",
            Source::FloodCallRcu => "flood call_rcu",
            Source::FloodKvfree => "flood kvfree_rcu",
        }
    }
}

/// Made and dropped counts of one source.
#[derive(Debug, Default)]
pub struct Ledger {
    created: AtomicU64,
    dropped: AtomicU64,
}

impl Ledger {
    /// Retirees made.
    pub fn created(&self) -> u64 {
        // Relaxed: read after the final rcu_barrier, which orders every
        // drop before its return.
        self.created.load(Ordering::Relaxed)
    }

    /// Retirees dropped.
    pub fn dropped(&self) -> u64 {
        // Relaxed: as in `created`.
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The ledgers of every source.
#[derive(Debug, Default)]
pub struct Ledgers([Ledger; Source::ALL.len()]);

impl Ledgers {
    /// The ledger of `source`.
    pub fn of(&self, source: Source) -> &Ledger {
        &self.0[source as usize]
    }
}

/// An object handed to `call_rcu` or `kvfree_rcu` that checks, when it is
/// dropped, that a grace period has elapsed since it was made.
#[derive(Debug)]
pub struct Retiree {
    ledger: &'static Ledger,
    failures: &'static Failures,
    source: Source,
    /// The path or thread that retired it, for failure messages.
    path: &'static str,
    cookie: GpState,
    poll: fn(GpState) -> bool,
}

impl Retiree {
    /// A retiree of `source` about to be handed over by `path`, counted in
    /// `ledgers` and reporting to `failures`; its cookie is taken now.
    pub fn new<F: RcuFlavour>(
        ledgers: &'static Ledgers,
        failures: &'static Failures,
        source: Source,
        path: &'static str,
    ) -> Self {
        let ledger = ledgers.of(source);
        // Relaxed: a count read after the final rcu_barrier.
        ledger.created.fetch_add(1, Ordering::Relaxed);
        let cookie = F::get_state_synchronize_rcu();
        Retiree { ledger, failures, source, path, cookie, poll: F::poll_state_synchronize_rcu }
    }
}

impl Drop for Retiree {
    fn drop(&mut self) {
        if !(self.poll)(self.cookie) {
            self.failures.fail(
                self.path,
                format_args!(
                    "a {} object was dropped before the grace period of its hand-off completed (cookie {:?} not reached): an early free",
                    self.source.name(),
                    self.cookie
                ),
            );
        }
        // Relaxed: as in `Ledger::created`.
        self.ledger.dropped.fetch_add(1, Ordering::Relaxed);
    }
}
