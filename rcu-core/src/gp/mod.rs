//! Grace periods: one grace period, and the sequence that numbers them.
//!
//! * `grace_period`: the global counter and one grace period's wait for
//!   every reader, with the barrier pairing (and the no-reader fast path);
//! * `sequence`: cookies, polling, and sharing one grace period among
//!   concurrent callers (one leader runs it, the others ride along);
//! * `waiters`: futures waiting for a cookie, woken by the completion
//!   that reaches it (`synchronize_rcu_async`);
//! * `foreign`: the same grace period over readers laid out by liburcu's
//!   headers (the C ABI), with liburcu's shared futex protocol.

#[cfg(not(loom))]
pub mod foreign;
pub mod grace_period;
pub(crate) mod sequence;
pub(crate) mod waiters;
