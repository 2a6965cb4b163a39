//! The reclaim thread and the deferred-callback machinery around it.
//!
//! # Life cycle of a callback
//!
//! 1. `call_rcu*` appends the head to the calling thread's own list (plain
//!    stores, see `local_callbacks.rs`) and counts it. Every
//!    [`FLUSH_EVERY`](crate::defer::local_callbacks::FLUSH_EVERY) callbacks the
//!    owner pushes the whole list on the wait-free [`CallbackQueue`](crate::defer::queue::CallbackQueue) (one
//!    exchange); partial lists are stolen by `rcu_barrier` and by the
//!    reclaim thread once nothing else is pending. When a list starts (or
//!    the queue was empty) and the reclaim thread sleeps, it is woken;
//!    otherwise no syscall.
//! 2. The reclaim thread takes everything queued as one [`Segment`](crate::defer::queue::Segment) and
//!    tags it with a grace-period cookie taken *after* the take (every head
//!    in it was enqueued before, so the cookie covers its unpublish).
//! 3. It runs every segment whose cookie has completed, oldest first, in
//!    enqueue order; otherwise it waits for the oldest cookie, leading a
//!    grace period or riding one already in flight (`GpSequence::wait_for`).
//!    Under load each drained batch costs one grace period, and callbacks
//!    queued during a grace period form the next batch.
//! 4. Idle, it sleeps on a futex event word; there is no periodic timer.
//!
//! # rcu_barrier
//!
//! Enqueues a marker head whose callback wakes the caller, and waits.
//! Segments run in order, so when the marker runs, every callback enqueued
//! before it (by any thread) has run. A callback that queues a further
//! callback while running enqueues it *after* the marker: `rcu_barrier`
//! waits for it only if the chain was queued before the barrier was called.
//! To drain chains of depth k, call `rcu_barrier` k times.
//!
//! # Backpressure
//!
//! `backlog = queued - invoked` (see "Counting"). Past [`CallbackLimits::soft`] the producer
//! kicks the reclaim thread (wakes it even if it was not idle-empty). Past
//! [`CallbackLimits::hard`], a producer that may block (not in a read-side
//! section, not an online QSBR thread, not the reclaim thread itself) waits
//! until the backlog is back under the soft limit. Producers that may not
//! block never wait; their callbacks are queued regardless. `kvfree_rcu`
//! producers also wait once the kvfree objects alone pass
//! [`ReclaimPacing::kvfree_backlog_hard`] (default
//! [`KVFREE_BACKLOG_HARD`](crate::kvfree::KVFREE_BACKLOG_HARD)), which keeps a
//! flood's memory near a cache-warm working set.
//!
//! # Counting
//!
//! `queued` is shared by every producer; a `fetch_add` on it per enqueue
//! would bounce its cache line between producers on every call (measured
//! in BENCHMARKS.md, "Design choices, measured"). Each thread counts its enqueues in a
//! thread-local residual instead and adds it to `queued` once per
//! `BACKLOG_CHECK_EVERY` (32) enqueues, when it checks the backlog; also
//! when it switches flavour, at thread exit (the residual's destructor) and
//! before `fork()`. So `queued` lags the truth by at most 31 per live
//! thread (never leads it), and the backlog seen by producers and the
//! reclaim thread is low by as much: the limits may be overshot by 32 per
//! producing thread. `stats()` reports `max(queued, invoked)` as queued:
//! after `rcu_barrier` (no enqueue racing it) every callback queued has
//! been invoked and counted, so the figures are exact and the backlog 0
//! even while idle threads hold residuals.
//!
//! # Files
//!
//! * `backlog.rs`: counting enqueues, the limits and backpressure;
//! * `barrier.rs`: the markers of `rcu_barrier` (on the caller's stack)
//!   and `rcu_barrier_async` (on the heap, waking a `Waker`);
//! * `pending.rs`: what waits for its grace period, in cookie order;
//! * `thread.rs`: the thread's loop, its gather window and its sleep;
//! * `fork.rs`: the locks a `fork()` must not split, and the child's repair;
//! * `state.rs`: the shared state, its limits and its set-up.
//!
//! The reclaim thread gets narrow handles ([`Parts`]: the deferral slots,
//! the kvfree inbox, the grace-period sequence), not the engine.
//!
//! # fork() and exit
//!
//! See `fork.rs` for the child. At process exit pending callbacks are not
//! run (as in liburcu and the kernel): call `rcu_barrier()` before exiting
//! if they must. A thread that exits strands nothing: its thread-exit
//! destructor hands its own list to the shared queue.

mod backlog;
mod barrier;
mod fork;
mod pending;
mod state;
mod thread;

pub(crate) use state::{in_reclaim_thread, Parts, Reclaimer};
pub use state::{CallbackLimits, ReclaimPacing};
