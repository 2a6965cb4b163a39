//! Sleepable RCU (srcu): the reader protocol of the Linux kernel's SRCU
//! (`kernel/rcu/srcutree.c`) with per-thread counters. A section may last
//! long, sleep, and end on another thread than the one that began it.
//!
//! * `slot`: one thread's counters for one domain (`lock[2]`, `unlock[2]`);
//! * `grace_period`: the domain's index, the check of one rank, the steps
//!   of a grace period (model-checked by `tests/loom_srcu.rs`);
//! * `registry`: a domain's slots, reused with their counts;
//! * `local`: the calling thread's slot per domain;
//! * `readers`: a domain's readers as the engine (or a domain) uses them.
//!
//! # Protocol
//!
//! ```text
//! reader (read_lock, any thread)           writer (one grace period)
//!   i = idx & 1                              (caller unpublished the old pointer)
//!   own slot: lock[i] += 1                   wait until rank !cur balanced
//!   light barrier ───── pairs with ──┐       heavy barrier
//!   ...loads, sleeps...              │       idx += 1        (cur = old idx & 1)
//! reader (unlock, on ANY thread)     │       heavy barrier
//!   light barrier ───── pairs with ──┤       wait until rank cur balanced
//!   this thread's slot: unlock[i] += 1│     (caller frees)
//!                                    │
//! rank i balanced:  U = Σ unlock[i]; heavy barrier ┘; L = Σ lock[i]; L == U
//! ```
//!
//! Each counter has one writer (its slot's owner thread, a plain load and
//! store), so no cache line is written by two threads' readers; sums over
//! all slots are what matter, so an unlock may count in any slot, and a
//! slot released at thread exit keeps its counts for the next owner.
//!
//! # Why a balanced rank proves its earlier sections ended
//!
//! Take a section on rank `i` that can hold a pointer the caller unpublished
//! before the check. Its lock increment is followed by a light barrier and
//! then its loads; the check issues its heavy barrier between the unpublish
//! (and the unlock sum) and the lock sum. These form a store-buffering pair:
//! either the lock sum sees the increment, or the section's loads come after
//! the heavy barrier and see the unpublish, so it cannot hold the old
//! pointer. So every section that matters is counted in `L`.
//!
//! Conversely every unlock counted in `U` has its lock counted in `L`: the
//! lock increment happens before the unlock's light barrier (program order,
//! or the hand-over of the guard to another thread, then that thread's
//! barrier), the writer read the unlock before its heavy barrier, so the
//! barriers pair and the lock sum after the heavy barrier sees the lock.
//! Unlocks map one-to-one onto their locks, so the counted locks include
//! the locks of counted unlocks; if `L == U` the two sets are equal: every
//! counted section has its unlock counted, i.e. it ended, and its loads were
//! ordered before the unlock, hence (through the pairing of its light
//! barrier with the heavy barrier) before the caller's frees.
//!
//! # Why two waits and a flip
//!
//! A balanced check is sound alone, but readers keep entering the current
//! rank, so it may never balance; the flip sends new readers to the other
//! rank, and the old one drains. A reader may read `idx` before a flip and
//! increment `lock[old]` after that grace period's second check (its loads
//! then see that grace period's unpublish, so it was right to miss it); it
//! is in rank `!cur` for the next grace period, whose first wait covers it.
//! Without the first wait, a grace period would never look at that rank;
//! without the second, at the rank of most readers (the loom model,
//! `tests/loom_srcu.rs`, finds both bugs).
//!
//! Such stragglers are bounded: each thread has at most one between its
//! index load and its increment, so the first wait ends once they finish
//! their sections; new readers never join rank `!cur` while it is waited.
//!
//! # Counter wrap
//!
//! The counters and sums wrap modulo 2^64. The true difference `L - U` of
//! one check is at least 0 and at most the number of sections entered
//! between the two sums plus those open, far below 2^64, so equality
//! modulo 2^64 is true equality.
//!
//! # Misuse
//!
//! A slot's counters also tell how many sections its owner entered and has
//! not ended (`SrcuSlot::open_sections`), at no cost to the fast path: an
//! end on another thread counts itself apart there (`closed_for_others`)
//! and adds to an atomic on the opener's slot (`closed_elsewhere`), the
//! cold path. A blocking wait on a thread with an
//! open section of the domain panics (`SrcuReaders::assert_may_block`).

pub mod grace_period;
#[cfg(not(loom))]
mod local;
#[cfg(not(loom))]
mod readers;
#[cfg(not(loom))]
mod registry;
mod slot;

#[cfg(not(loom))]
pub use readers::{SrcuReaders, SrcuSection};
pub use slot::SrcuSlot;
