//! Recycled memory for small boxed `call_rcu` callbacks.
//!
//! A `Box` per `call_rcu` is allocated by the producer and freed by the
//! reclaim thread: with glibc that cross-thread pattern empties the
//! producer's thread cache and fills the reclaim thread's, so most calls
//! took the arena's locked path on both sides (boxed enqueue cost twice the
//! intrusive one). Callbacks whose boxed form fits `SLOT_BYTES` instead use
//! fixed-size slots, kept in per-thread lists (no atomic operation on the
//! common path) and moved between threads in batches:
//!
//! * a thread takes slots from its own list; when it is empty, it takes the
//!   whole shared pool with one `swap` (ABA-free: nothing pops a single
//!   node), or allocates a fresh slot if the pool is empty too. Known
//!   limit: a thread that takes the pool and then idles keeps those slots
//!   (at most what a flood left) until it exits, out of `trim`'s reach.
//!   Taking at most 64 or 4,096 slots instead is slower (boxed
//!   `call_rcu` and the 2,000,000-callback drain; BENCHMARKS.md, "Design
//!   choices, measured");
//! * a thread releasing slots (the reclaim thread, after reading a
//!   callback out) adds them to its own list; past `BATCH` slots it pushes
//!   the list onto the pool with a CAS (pushing is ABA-safe);
//! * the pool is capped at about `POOL_CAP` slots (`pooled` is an
//!   estimate, off by at most a batch per concurrent push, reset by every
//!   take); past it released batches are deallocated. The pool keeps what
//!   a flood left (as glibc would keep the freed boxes: the process's
//!   footprint is the same) until `reclaim_now()` trims it to `POOL_IDLE`
//!   slots. A thread's own list
//!   goes back to the pool (or is deallocated) at thread exit; during
//!   thread-local destruction slots are allocated and freed directly.

use std::alloc::Layout;
use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Bytes of a slot: a head (2 words), an origin and up to 5 words of
/// captures.
pub(crate) const SLOT_BYTES: usize = 64;
const SLOT_ALIGN: usize = 16;
/// Slots a releasing thread gathers before pushing them to the pool.
const BATCH: usize = 64;
/// About how many free slots the pool keeps while callbacks flow (16
/// MiB): enough for a flood held at the default hard backlog limit, so
/// the slots of a drained batch are reused rather than freed and
/// allocated again (a cap of a few thousand slowed
/// `callbacks_2m_then_barrier`; BENCHMARKS.md, "Design choices,
/// measured").
const POOL_CAP: usize = 1 << 18;
/// Free slots the pool keeps after [`trim`] (256 KiB).
const POOL_IDLE: usize = 4096;

/// A free slot: a link in a list of free slots.
struct FreeSlot {
    next: *mut FreeSlot,
}

/// Whether `T` is stored in pool slots.
pub(crate) const fn fits<T>() -> bool {
    std::mem::size_of::<T>() <= SLOT_BYTES && std::mem::align_of::<T>() <= SLOT_ALIGN
}

fn layout() -> Layout {
    Layout::from_size_align(SLOT_BYTES, SLOT_ALIGN).expect("a valid slot layout")
}

/// Free slots shared between threads: a stack of whole lists.
static POOL: AtomicPtr<FreeSlot> = AtomicPtr::new(std::ptr::null_mut());
/// About how many slots `POOL` holds (see the module docs).
static POOLED: AtomicUsize = AtomicUsize::new(0);

/// A thread's own free slots.
struct LocalSlots {
    head: Cell<*mut FreeSlot>,
    len: Cell<usize>,
}

impl Drop for LocalSlots {
    fn drop(&mut self) {
        let head = self.head.replace(std::ptr::null_mut());
        give_back(head, self.len.replace(0));
    }
}

thread_local! {
    static LOCAL: LocalSlots = const {
        LocalSlots { head: Cell::new(std::ptr::null_mut()), len: Cell::new(0) }
    };
}

/// A slot of `SLOT_BYTES` bytes aligned to `SLOT_ALIGN`, owned by the
/// caller until passed to [`release`].
#[inline]
pub(crate) fn take() -> NonNull<u8> {
    let local = LOCAL.try_with(|l| {
        let mut head = l.head.get();
        if head.is_null() {
            // Acquire pairs with the Release CAS in `push_list`: the
            // links written by the pusher are visible.
            head = POOL.swap(std::ptr::null_mut(), Ordering::Acquire);
            // Relaxed: an estimate (see the module docs).
            POOLED.store(0, Ordering::Relaxed);
            if head.is_null() {
                return None;
            }
            // The length of a list taken from the pool is unknown; it is
            // only used to batch releases, so count from zero.
            l.len.set(0);
        }
        // SAFETY: `head` is a free slot owned by this thread's list.
        l.head.set(unsafe { (*head).next });
        l.len.set(l.len.get().saturating_sub(1));
        NonNull::new(head.cast::<u8>())
    });
    match local {
        Ok(Some(slot)) => slot,
        _ => allocate(),
    }
}

#[cold]
fn allocate() -> NonNull<u8> {
    let layout = layout();
    // SAFETY: the layout has a non-zero size.
    let p = unsafe { std::alloc::alloc(layout) };
    NonNull::new(p).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
}

/// Returns a slot from [`take`].
///
/// # Safety
///
/// `slot` came from [`take`], is released once and not used after.
#[inline]
pub(crate) unsafe fn release(slot: NonNull<u8>) {
    let free = slot.cast::<FreeSlot>().as_ptr();
    let kept = LOCAL.try_with(|l| {
        // SAFETY: per the contract the slot is ours; a slot is large and
        // aligned enough for a `FreeSlot`.
        unsafe { free.write(FreeSlot { next: l.head.get() }) };
        l.head.set(free);
        let len = l.len.get() + 1;
        if len >= BATCH {
            l.head.set(std::ptr::null_mut());
            l.len.set(0);
            give_back(free, len);
        } else {
            l.len.set(len);
        }
    });
    if kept.is_err() {
        // SAFETY: allocated with this layout by `allocate`.
        unsafe { std::alloc::dealloc(free.cast::<u8>(), layout()) };
    }
}

/// Pushes a list of `len` free slots onto the pool, or frees them if
/// the pool is full.
fn give_back(head: *mut FreeSlot, len: usize) {
    if head.is_null() {
        return;
    }
    // Relaxed: an estimate (see the module docs).
    if POOLED.load(Ordering::Relaxed) >= POOL_CAP {
        free_list(head);
        return;
    }
    let mut last = head;
    // SAFETY: the list is owned by the caller and null-terminated.
    unsafe {
        while !(*last).next.is_null() {
            last = (*last).next;
        }
    }
    let mut top = POOL.load(Ordering::Relaxed);
    loop {
        // SAFETY: `last` is ours until the CAS publishes it.
        unsafe { (*last).next = top };
        // Release pairs with the Acquire swap in `take`.
        match POOL.compare_exchange_weak(top, head, Ordering::Release, Ordering::Relaxed) {
            Ok(_) => break,
            Err(t) => top = t,
        }
    }
    // Relaxed: an estimate.
    POOLED.fetch_add(len, Ordering::Relaxed);
}

/// Frees the pool's slots beyond `POOL_IDLE` (`reclaim_now()`: memory
/// pressure). Not done when a reclaim thread goes idle: a throttled
/// flood lets it drain and idle once per cycle, and trimming there
/// freed every slot the next cycle needed (throughput fell by half).
pub(crate) fn trim() {
    // No early return on the `POOLED` estimate: it under-counts lists
    // that went through a thread's hands (see `take`), and a trim must
    // not keep megabytes because of that.
    // Acquire: as in `take`.
    let mut head = POOL.swap(std::ptr::null_mut(), Ordering::Acquire);
    // Relaxed: an estimate (see the module docs).
    POOLED.store(0, Ordering::Relaxed);
    let kept = head;
    let mut len = 0;
    // SAFETY: the list taken from the pool is owned here, null-terminated.
    unsafe {
        while !head.is_null() && len < POOL_IDLE {
            len += 1;
            if len == POOL_IDLE {
                let rest = (*head).next;
                (*head).next = std::ptr::null_mut();
                free_list(rest);
                break;
            }
            head = (*head).next;
        }
    }
    give_back(kept, len);
}

fn free_list(mut p: *mut FreeSlot) {
    while !p.is_null() {
        // SAFETY: every slot in an owned free list was allocated by
        // `allocate` with this layout; the link is read before freeing.
        unsafe {
            let next = (*p).next;
            std::alloc::dealloc(p.cast::<u8>(), layout());
            p = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_slots_are_reused_and_lists_move_between_threads() {
        let a = take();
        // SAFETY: taken above, released once.
        unsafe { release(a) };
        assert_eq!(take(), a, "a thread reuses its own released slot first");
        // SAFETY: as above.
        unsafe { release(a) };
        // A releasing thread pushes full batches to the pool; another
        // thread takes them.
        let released: Vec<usize> = std::thread::spawn(|| {
            let slots: Vec<NonNull<u8>> = (0..BATCH).map(|_| take()).collect();
            let addrs = slots.iter().map(|s| s.as_ptr() as usize).collect();
            for s in slots {
                // SAFETY: taken above, released once.
                unsafe { release(s) };
            }
            addrs
        })
        .join()
        .unwrap();
        let got: Vec<usize> =
            std::thread::spawn(|| (0..BATCH).map(|_| take().as_ptr() as usize).collect::<Vec<_>>()).join().unwrap();
        assert!(
            got.iter().all(|s| released.contains(s)),
            "slots pushed to the pool by one thread are taken by another"
        );
        for s in got {
            // SAFETY: taken above (by a thread that exited), released once.
            unsafe { release(NonNull::new(s as *mut u8).unwrap()) };
        }

        // A flood's worth of slots goes to the pool; `trim` keeps POOL_IDLE.
        std::thread::spawn(|| {
            let slots: Vec<NonNull<u8>> = (0..3 * POOL_IDLE).map(|_| take()).collect();
            for s in slots {
                // SAFETY: taken above, released once.
                unsafe { release(s) };
            }
        })
        .join()
        .unwrap();
        assert!(pool_len() >= 3 * POOL_IDLE - BATCH, "released batches are pooled");
        trim();
        assert_eq!(pool_len(), POOL_IDLE, "trim keeps POOL_IDLE slots");
    }

    /// Slots in the pool (test only: no other thread may use the pool).
    fn pool_len() -> usize {
        let head = POOL.swap(std::ptr::null_mut(), Ordering::Acquire);
        let mut n = 0;
        let mut p = head;
        while !p.is_null() {
            n += 1;
            // SAFETY: the list is owned here until given back.
            p = unsafe { (*p).next };
        }
        give_back(head, n);
        n
    }
}
