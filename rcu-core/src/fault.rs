//! Fault injection for the kvfree emergency path (tests and torture runs).
//!
//! Per thread, so tests running in parallel do not disturb each other. While
//! a mode is set, the calling thread behaves as if memory were exhausted:
//! no cached block can be taken and no block can be allocated (optionally
//! not even the per-thread reserve). Only the slow path (a new block, about
//! once per 500 objects) reads the setting.

use std::cell::Cell;

/// What fails on the calling thread.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum AllocFailure {
    /// Nothing fails (the default).
    #[default]
    None,
    /// Taking a cached block and allocating a new block fail.
    Blocks,
    /// As `Blocks`, and allocating the per-thread reserve fails too.
    BlocksAndReserve,
}

thread_local! {
    static MODE: Cell<AllocFailure> = const { Cell::new(AllocFailure::None) };
}

/// Sets what fails on the calling thread (until set again).
///
/// ```
/// use rcu_core::fault::{set_alloc_failure, AllocFailure};
/// set_alloc_failure(AllocFailure::Blocks);
/// // ... kvfree_rcu now takes its emergency path on this thread ...
/// set_alloc_failure(AllocFailure::None);
/// ```
pub fn set_alloc_failure(mode: AllocFailure) {
    MODE.with(|m| m.set(mode));
}

/// The calling thread's setting.
pub fn alloc_failure() -> AllocFailure {
    MODE.try_with(Cell::get).unwrap_or_default()
}

/// Whether the next block allocation (or reserve allocation) must fail.
pub(crate) fn block_allocation_fails(is_reserve: bool) -> bool {
    match alloc_failure() {
        AllocFailure::None => false,
        AllocFailure::Blocks => !is_reserve,
        AllocFailure::BlocksAndReserve => true,
    }
}

/// Whether taking a cached block must fail.
pub(crate) fn cache_fails() -> bool {
    alloc_failure() != AllocFailure::None
}
