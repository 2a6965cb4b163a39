//! Headless `kvfree_rcu`: free a `Box` or `Vec` after a grace period with
//! no `RcuHead` inside it and no allocation per object.
//!
//! # Per-thread state
//!
//! Each thread that calls `kvfree_rcu` claims a [`DeferSlot`] (a registry
//! like the readers', one per flavour). The slot holds the thread's open
//! `Block` (module `block`), a small cache of empty blocks, and a small
//! emergency reserve block. The common path touches only the slot: two plain
//! stores to a sequence word around the append, a compiler fence (with
//! membarrier), and the block's words. No shared atomic read-modify-write,
//! no lock, no syscall.
//!
//! # Block life cycle
//!
//! open → **sealed** with a cookie (when full, after the drain interval, by
//! `rcu_barrier`, at thread exit) → handed to the reclaim thread's inbox →
//! kept in cookie order → once its grace period completed, **handed back**
//! to its owner, whose next calls drop a few of its objects each
//! (`hand_back.rs`), or **freed** by the reclaim thread (one loop per run
//! of same-type objects)
//! → **cached** in its home slot (at most [`CACHED_BLOCKS_PER_THREAD`]) or
//! deallocated.
//!
//! # Where destructors run
//!
//! On the thread that retired the object, a few per later `kvfree_rcu`
//! call (so that memory returns to the allocator cache of the thread that
//! allocated it, one free per allocation), or on the reclaim thread; only the
//! reclaim thread with `set_kvfree_drop_on_caller(false)`. C ABI entries
//! always run on the reclaim thread (see `hand_back.rs`).
//!
//! # Taking a block from a live owner ("steal")
//!
//! The drain timer and `rcu_barrier` seal partial blocks of threads that are
//! alive but idle, through the slot's `seq` bracket (`defer/slot.rs`, and
//! `defer/deferrals.rs` for the steal itself).
//!
//! # Files
//!
//! * `append.rs`: the owner's append, the emergency path, thread exit;
//! * `recycle.rs`: freeing a block after its grace period, the per-slot
//!   cache and reserve;
//! * `hand_back.rs`: ready blocks handed back to their owners to free;
//! * `entry.rs`: [`RcuFree`] and the type-erased [`Entry`];
//! * `steal.rs`: sealing live owners' partial blocks (drain timer, barrier);
//! * `state.rs`: the inbox of sealed blocks, counters, limits.
//!
//! Nothing here calls the reclaim thread: each call reports what it did
//! (a block sealed, a slot dirtied) and the engine wakes or throttles.
//!
//! # Emergency path (no block can be had)
//!
//! 1. The caller may block (not in a read-side section, not an online QSBR
//!    thread): `synchronize_rcu()`, then drop the object inline, as the
//!    kernel does.
//! 2. It may not block: the thread's preallocated reserve block becomes its
//!    open block. At the thread's first `kvfree_rcu` that may block again it
//!    is sealed (or earlier: full, `rcu_barrier`, thread exit; the drain
//!    timer leaves it alone, since its owner may still be in the section
//!    with no other block), freed after a grace period, and returns to the
//!    slot as its reserve.
//! 3. The reserve is in use and full too: abort, with a message like Rust's
//!    own out-of-memory abort. Nothing is freed early, nothing leaks. (An
//!    `rcu_barrier` from another thread collects a reserve in use, as it
//!    must; if allocation still fails, the owner's next kvfree in the same
//!    section finds no reserve and aborts. Known limitation.)
//!
//! We do not attach a small per-object head when a block cannot be
//! allocated (proposed in the original design discussion). The kernel
//! dropped that fallback: a caller that cannot get a page should leave the
//! remaining memory to others, and the synchronous path needs none.

mod append;
mod entry;
mod hand_back;
mod recycle;
mod state;
mod steal;

pub use crate::defer::block::{DropFn, BLOCK_HELD_BYTES, BYTES_PER_BLOCK_WORD};
pub use crate::defer::slot::DeferSlot;
pub(crate) use append::AfterAppend;
pub use entry::{CDeferredFn, Entry, RcuFree};
pub(crate) use hand_back::TakeBack;
pub use hand_back::{OWN_FREE_PER_CALL, READY_LIMIT};
pub(crate) use state::Kvfree;
pub use state::{CACHED_BLOCKS_PER_THREAD, DEFAULT_DRAIN_INTERVAL, KVFREE_BACKLOG_HARD};
