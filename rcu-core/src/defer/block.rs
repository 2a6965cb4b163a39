//! Bulk blocks for headless `kvfree_rcu`: about a page of type-erased
//! objects that wait for one grace period together and are freed in one
//! loop.
//!
//! # Layout
//!
//! A block is a header followed by `cap` machine words. Objects are stored
//! as *runs*: a run header of two words (the drop function, then
//! `arity | count << 8`) followed by `count` entries of `arity` words each
//! (1 for `Box<T>`, 2 for `Box<[T]>`/`Box<dyn Trait>`, 3 for `Vec<T>`). The
//! drop function is recorded only when it changes, so a block of `Box<T>`
//! of one type holds about 500 objects at one word each, as the kernel's
//! pointer pages do, and freeing it is one tight loop per run.
//!
//! An object also takes one word of room per [`BYTES_PER_BLOCK_WORD`] (2 KiB)
//! it occupies itself, so a block of large objects (arrays of tens of KiB)
//! seals after about 1 MiB of them instead of after 500 (tens of MiB).
//!
//! # States
//!
//! open (its owner appends; see `kvfree/`) → sealed with a cookie
//! ([`SealedBlock`], which has no append method: nothing is ever added to a
//! batch already waiting for a grace period) → ready (cookie reached) →
//! freed (entries dropped, block emptied) → cached or deallocated.

use crate::gp::sequence::GpState;
use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, Ordering};

/// Drops one object given a pointer to its entry words.
pub type DropFn = unsafe fn(*const usize);

/// The largest entry: `Vec<T>` (pointer, length, capacity).
pub(crate) const MAX_ARITY: usize = 3;

/// Bytes of a regular block: one page.
pub(crate) const BLOCK_BYTES: usize = 4096;
/// Bytes of a per-thread emergency reserve block.
pub(crate) const RESERVE_BYTES: usize = 512;
/// An object in a `kvfree_rcu` block also takes one word of the block's
/// room for every this many bytes it occupies itself (`size_of_val` of a
/// box's contents, a vector's capacity; what it owns beyond that is not
/// seen). Objects under 2 KiB take none, at no cost: for a sized `T` the
/// charge is a constant.
///
/// Without it a block of large objects (arrays of tens of KiB, as in a
/// resizable table) holds about 500 of them, tens of MiB, and starts its
/// grace period only when full. With it a block's objects occupy about
/// [`BLOCK_HELD_BYTES`], and one larger object fills a block alone.
pub const BYTES_PER_BLOCK_WORD: usize = 2048;

/// The most the objects in one `kvfree_rcu` block occupy (1,032,192
/// bytes: the block's words at [`BYTES_PER_BLOCK_WORD`] each; an object
/// takes at least one word more than its charge, so it occupies less than
/// it takes), unless one object larger than that fills a block alone.
pub const BLOCK_HELD_BYTES: usize = Block::<()>::capacity(BLOCK_BYTES) * BYTES_PER_BLOCK_WORD;

const NO_RUN: u32 = u32::MAX;
const RUN_HEADER_WORDS: usize = 2;

/// Why a block was sealed (statistics).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum SealReason {
    Full = 0,
    Timer = 1,
    Barrier = 2,
    ThreadExit = 3,
    /// The emergency reserve, handed back once its owner may block again.
    ReserveReturn = 4,
}

/// A block's header, followed by its words. `H` is its home: the slot
/// whose cache or reserve takes it back (a deferral slot; generic so that
/// this module does not depend on the slot that holds blocks).
#[repr(C)]
pub(crate) struct Block<H: 'static> {
    /// Link in the inbox, the pending list, a slot's cache or a steal.
    next: *mut Block<H>,
    /// The grace period this block waits for (set when sealed).
    cookie: GpState,
    /// The slot whose cache or reserve takes the block back.
    home: *const H,
    /// Capacity and use, in words.
    cap: u32,
    used: u32,
    /// Index of the current run header, or `NO_RUN`.
    run: u32,
    /// Objects stored.
    objects: u32,
    /// The drop cursor of a sealed block, one word (see [`Cursor`]): the
    /// word index of the next entry to drop (or of the next run header,
    /// when no entry of the current run is left) and the current run's
    /// entries left; with the current run's drop function and arity.
    cursor: u64,
    drain_fn: usize,
    /// Allocation size in bytes (for deallocation).
    bytes: u32,
    /// A per-thread reserve block (returns to the slot's reserve).
    is_reserve: bool,
    /// Holds an entry that must run on the reclaim thread (a C ABI
    /// `call_rcu`/`defer_rcu`): never handed back to its owner to free.
    pinned: bool,
    drain_arity: u8,
}

const HEADER_WORDS: usize = std::mem::size_of::<Block<()>>().div_ceil(std::mem::size_of::<usize>());

impl<H> Block<H> {
    /// Words of room in a block of `bytes` bytes.
    const fn capacity(bytes: usize) -> usize {
        bytes / std::mem::size_of::<usize>() - HEADER_WORDS
    }

    fn layout(bytes: usize) -> Layout {
        Layout::from_size_align(bytes, 64).expect("block layout")
    }

    /// Allocates an empty block of `bytes` bytes, or `None` when memory is
    /// short (or fault injection says so). Never aborts.
    pub(crate) fn try_new(bytes: usize, home: *const H, is_reserve: bool) -> Option<NonNull<Self>> {
        if crate::fault::block_allocation_fails(is_reserve) {
            return None;
        }
        // SAFETY: the layout has a non-zero size.
        let p = NonNull::new(unsafe { std::alloc::alloc(Self::layout(bytes)) })?.cast::<Self>();
        let cap = Self::capacity(bytes) as u32;
        // SAFETY: `p` is a fresh allocation large enough for the header.
        unsafe {
            p.as_ptr().write(Block {
                next: std::ptr::null_mut(),
                cookie: GpState::COMPLETED,
                home,
                cap,
                used: 0,
                run: NO_RUN,
                objects: 0,
                cursor: 0,
                drain_fn: 0,
                bytes: bytes as u32,
                is_reserve,
                pinned: false,
                drain_arity: 0,
            })
        };
        Some(p)
    }

    /// Frees the block's memory (its entries must have been dropped).
    ///
    /// # Safety
    ///
    /// `b` came from `try_new` and is not used afterwards.
    pub(crate) unsafe fn dealloc(b: NonNull<Self>) {
        // SAFETY: per the contract, the block is live and allocated with
        // this layout.
        unsafe {
            let bytes = b.as_ref().bytes as usize;
            std::alloc::dealloc(b.as_ptr().cast(), Self::layout(bytes));
        }
    }

    fn words(b: NonNull<Self>) -> *mut usize {
        // SAFETY: the words follow the header inside the allocation.
        unsafe { b.as_ptr().cast::<usize>().add(HEADER_WORDS) }
    }

    /// Objects in the block.
    pub(crate) fn objects(&self) -> usize {
        self.objects as usize
    }

    /// The next block in whatever list holds this one (null at the end).
    pub(crate) fn next(&self) -> *mut Self {
        self.next
    }

    /// Links `b` to `next` in a list.
    ///
    /// # Safety
    ///
    /// The caller owns `b` (no other thread reads or writes its header).
    pub(crate) unsafe fn set_next(b: NonNull<Self>, next: *mut Self) {
        // SAFETY: per the contract.
        unsafe { (*b.as_ptr()).next = next };
    }

    /// Pushes `b` on the lock-free stack whose top is `top` (linked through
    /// the blocks' headers), with `publish` as the ordering of the exchange
    /// that publishes it (at least Release: the header and entries written
    /// before must be visible to the popper). Pushing alone is ABA-safe.
    ///
    /// # Safety
    ///
    /// The caller owns `b`; every block on the stack stays allocated while
    /// it is there.
    pub(crate) unsafe fn push_on(top: &AtomicPtr<Self>, b: NonNull<Self>, publish: Ordering) {
        // Relaxed: a first guess; the exchange below checks it.
        let mut head = top.load(Ordering::Relaxed);
        loop {
            // SAFETY: ours until the exchange publishes it (the contract).
            unsafe { Self::set_next(b, head) };
            match top.compare_exchange_weak(head, b.as_ptr(), publish, Ordering::Relaxed) {
                Ok(_) => return,
                Err(h) => head = h,
            }
        }
    }

    /// The cookie the block was sealed with ([`GpState::COMPLETED`] while open).
    pub(crate) fn cookie(&self) -> GpState {
        self.cookie
    }

    /// The slot the block returns to.
    pub(crate) fn home(&self) -> *const H {
        self.home
    }

    /// Whether this is a slot's emergency reserve.
    pub(crate) fn is_reserve(&self) -> bool {
        self.is_reserve
    }

    /// Whether the block holds an entry that must run on the reclaim thread.
    pub(crate) fn is_pinned(&self) -> bool {
        self.pinned
    }

    /// Marks the block as holding an entry that must run on the reclaim
    /// thread (until it is emptied).
    ///
    /// # Safety
    ///
    /// `b` is an open block owned by the caller.
    pub(crate) unsafe fn pin(b: NonNull<Self>) {
        // SAFETY: per the contract, exclusive access.
        unsafe { (*b.as_ptr()).pinned = true };
    }

    /// Appends one object that occupies `held` bytes. Returns false when the
    /// block is full: no room for its words plus its charge of one word per
    /// [`BYTES_PER_BLOCK_WORD`] it occupies (an empty block takes any one
    /// object; an emergency reserve is not charged). The charge keeps large
    /// objects from waiting by the hundred
    /// for one block to fill: their memory goes back after a grace period
    /// and about [`BLOCK_HELD_BYTES`] of successors. Owner only.
    ///
    /// # Safety
    ///
    /// `b` is an open block owned by the caller; `entry` holds `arity`
    /// words that `drop` consumes exactly once.
    #[inline]
    pub(crate) unsafe fn append(b: NonNull<Self>, drop: DropFn, entry: &[usize], held: usize) -> bool {
        // SAFETY: per the contract, the caller has exclusive access.
        let h = unsafe { &mut *b.as_ptr() };
        let words = Self::words(b);
        let arity = entry.len();
        let mut at = h.used as usize;
        let same_run = h.run != NO_RUN && {
            // SAFETY: `run` indexes a run header inside the used words.
            let (f, meta) = unsafe { (*words.add(h.run as usize), *words.add(h.run as usize + 1)) };
            f == drop as usize && meta & 0xff == arity
        };
        let needed = arity + if same_run { 0 } else { RUN_HEADER_WORDS };
        let room = h.cap as usize;
        if at + needed > room {
            return false;
        }
        // 0 (and this branch gone) for a sized `T` under 2 KiB. An
        // emergency reserve is not charged: it is used only when no block
        // can be had, and filling it sooner would only bring the abort of
        // a caller that may not block closer.
        let charge = held / BYTES_PER_BLOCK_WORD;
        if charge > 0 && !h.is_reserve {
            if at + needed + charge > room && h.objects > 0 {
                return false;
            }
            // The charge is room given up for good (until `drop_all`).
            h.cap = room.saturating_sub(charge).max(at + needed) as u32;
        }
        // SAFETY: `at + needed <= cap`, inside the allocation.
        unsafe {
            if !same_run {
                h.run = at as u32;
                *words.add(at) = drop as usize;
                *words.add(at + 1) = arity;
                at += RUN_HEADER_WORDS;
            }
            // Word by word: a call to `memmove` for one to three words
            // showed in the flood's profile.
            for (i, &w) in entry.iter().enumerate() {
                *words.add(at + i) = w;
            }
            *words.add(h.run as usize + 1) += 1 << 8;
        }
        h.used = (at + arity) as u32;
        h.objects += 1;
        true
    }

    /// Whether every object has been dropped (the drop cursor is at the end).
    pub(crate) fn is_drained(&self) -> bool {
        Cursor::unpack(self.cursor).at >= self.used as usize
    }

    /// Drops up to `max` objects from the drop cursor on, in order, and
    /// moves the cursor past them; returns how many. The cursor lives in
    /// the header, so whoever owns the block next (another thread, after
    /// the hand-over in `kvfree/hand_back.rs`) goes on from there. A
    /// panicking drop is caught, reported and counted in `panics`; the
    /// remaining objects are still dropped.
    ///
    /// # Safety
    ///
    /// `b` is a sealed block whose grace period has completed, owned by the
    /// caller.
    #[inline]
    pub(crate) unsafe fn drop_some(b: NonNull<Self>, max: usize, flavour: &str, panics: &mut u64) -> usize {
        // Raw accesses, not a `&mut`: the cursor's stores must reach memory
        // before each destructor runs (see `drop_entries`).
        let h = b.as_ptr();
        let words = Self::words(b);
        let mut dropped = 0;
        // SAFETY (this block): per the contract, exclusive access (the
        // destructors run below cannot reach this block: it is in no list
        // they could append to); every index is inside the used words.
        unsafe {
            let used = (*h).used as usize;
            while dropped < max {
                let mut c = Cursor::unpack((*h).cursor);
                if c.at >= used {
                    break;
                }
                if c.left == 0 {
                    let (f, meta) = (*words.add(c.at), *words.add(c.at + 1));
                    (*h).drain_fn = f;
                    (*h).drain_arity = (meta & 0xff) as u8;
                    c = Cursor { at: c.at + RUN_HEADER_WORDS, left: (meta >> 8) as u32 };
                    // The run's function and arity are stored before the
                    // cursor enters it, in one store (see `Cursor`).
                    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
                    (*h).cursor = c.pack();
                }
                // Only `append` wrote run headers, from a `DropFn`.
                let drop: DropFn = std::mem::transmute::<usize, DropFn>((*h).drain_fn);
                let arity = (*h).drain_arity as usize;
                let take = (c.left as usize).min(max - dropped);
                drop_entries(words, &raw mut (*h).cursor, take, arity, drop, flavour, panics);
                dropped += take;
                // The objects were freed a grace period after their
                // retirement, often out of cache by now: the next calls'
                // objects are fetched ahead (their first word is the
                // object's address, for boxes and vectors alike).
                let c = Cursor::unpack((*h).cursor);
                if c.left as usize > PREFETCH_AHEAD {
                    prefetch(*words.add(c.at + PREFETCH_AHEAD * arity) as *const u8);
                }
            }
        }
        dropped
    }

    /// Drops every object left (from the drop cursor on) and empties the
    /// block for reuse. Returns the number of objects it dropped (those
    /// [`Block::drop_some`] dropped before are not counted).
    ///
    /// # Safety
    ///
    /// As [`Block::drop_some`].
    pub(crate) unsafe fn drop_all(b: NonNull<Self>, flavour: &str, panics: &mut u64) -> usize {
        // SAFETY: forwarded contract.
        let n = unsafe { Self::drop_some(b, usize::MAX, flavour, panics) };
        // SAFETY: per the contract, exclusive access.
        let h = unsafe { &mut *b.as_ptr() };
        h.used = 0;
        h.run = NO_RUN;
        h.objects = 0;
        h.cursor = 0;
        h.cap = Self::capacity(h.bytes as usize) as u32;
        h.next = std::ptr::null_mut();
        h.pinned = false;
        n
    }
}

/// How many entries ahead of the drop cursor [`Block::drop_some`] fetches
/// the object into the cache.
const PREFETCH_AHEAD: usize = 4;

/// Hints the CPU to bring the cache line at `p` in (never faults).
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it reads nothing and never faults,
    // whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// A block's drop cursor, packed in one word so that one store moves it:
/// a `fork()` that copies memory while another thread drops sees the
/// cursor either before an entry or past it, never the index of an entry
/// with the count of the run before (which would make the child drop a
/// run header as an object).
#[derive(Copy, Clone)]
struct Cursor {
    /// Word index of the next entry (`left > 0`) or run header (`left == 0`).
    at: usize,
    /// Entries of the current run not yet dropped.
    left: u32,
}

impl Cursor {
    fn unpack(word: u64) -> Self {
        Cursor { at: (word & 0xffff_ffff) as usize, left: (word >> 32) as u32 }
    }

    fn pack(self) -> u64 {
        self.at as u64 | u64::from(self.left) << 32
    }
}

/// Drops the next `take` entries of the current run, of `arity` words,
/// with `drop`, moving the cursor past each before its drop: a panicking
/// one is not dropped twice, and a forked child that copied the memory
/// mid-drop leaks that object rather than dropping it again. A panic is
/// caught, reported and counted, and the rest are still dropped.
///
/// # Safety
///
/// `cursor` is the block's cursor (exclusive access), inside a run with at
/// least `take` entries left, not yet dropped, whose grace period has
/// completed and which `drop` consumes.
#[inline]
unsafe fn drop_entries(
    words: *mut usize,
    cursor: *mut u64,
    take: usize,
    arity: usize,
    drop: DropFn,
    flavour: &str,
    panics: &mut u64,
) {
    let mut done = 0;
    while done < take {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            while done < take {
                // SAFETY: per the contract.
                let c = Cursor::unpack(unsafe { *cursor });
                let entry = words.wrapping_add(c.at);
                // SAFETY: per the contract; stored before the drop below.
                unsafe { *cursor = Cursor { at: c.at + arity, left: c.left - 1 }.pack() };
                done += 1;
                // The cursor's store above is not moved past the drop.
                std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
                // SAFETY: per the contract; each entry is dropped exactly
                // once (the cursor moves past it first).
                unsafe { drop(entry) };
            }
        }));
        if result.is_err() {
            *panics += 1;
            // Not `eprintln!`, which panics if stderr is gone: a panic here
            // would escape the owner's drain bracket.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "rcu_{flavour}: a destructor run by kvfree_rcu panicked; the other objects are still freed"
            );
        }
    }
}

/// A block sealed with its cookie: it can only wait, be freed, or be
/// linked into a list, never appended to.
pub(crate) struct SealedBlock<H: 'static>(NonNull<Block<H>>);

// SAFETY: a sealed block owns its objects, which are `Send` (kvfree_rcu
// requires it), and is handed between threads whole.
unsafe impl<H> Send for SealedBlock<H> {}

impl<H> SealedBlock<H> {
    /// Seals `b` with `cookie`.
    ///
    /// # Safety
    ///
    /// The caller owns the open block `b` and will not append to it again.
    pub(crate) unsafe fn seal(b: NonNull<Block<H>>, cookie: GpState) -> Self {
        // SAFETY: per the contract, exclusive access.
        unsafe { (*b.as_ptr()).cookie = cookie };
        SealedBlock(b)
    }

    /// The cookie this block waits for.
    pub(crate) fn cookie(&self) -> GpState {
        // SAFETY: a sealed block is live until freed.
        unsafe { self.0.as_ref().cookie }
    }

    /// Objects in the block.
    pub(crate) fn objects(&self) -> usize {
        self.as_block().objects()
    }

    /// The block's header (cookie, home, flags).
    pub(crate) fn as_block(&self) -> &Block<H> {
        // SAFETY: a sealed block is live until freed, and nothing writes
        // its header while it is sealed and owned by us.
        unsafe { self.0.as_ref() }
    }

    /// The raw block, for intrusive lists.
    pub(crate) fn into_raw(self) -> NonNull<Block<H>> {
        self.0
    }

    /// Rebuilds a sealed block from a list link.
    ///
    /// # Safety
    ///
    /// `b` was produced by [`SealedBlock::into_raw`] and is owned by the caller.
    pub(crate) unsafe fn from_raw(b: NonNull<Block<H>>) -> Self {
        SealedBlock(b)
    }
}

/// Drops a `Box<T>` stored as the words of its raw pointer.
///
/// # Safety
///
/// `entry` holds a `*mut T` from `Box::into_raw`, consumed once.
pub(crate) unsafe fn drop_box<T: ?Sized>(entry: *const usize) {
    // SAFETY: per the contract.
    drop(unsafe { Box::from_raw(entry.cast::<*mut T>().read()) });
}

/// Drops a `Vec<T>` stored as (pointer, length, capacity).
///
/// # Safety
///
/// `entry` holds the parts of a `Vec<T>` that was not dropped, consumed once.
pub(crate) unsafe fn drop_vec<T>(entry: *const usize) {
    // SAFETY: per the contract.
    unsafe {
        let (ptr, len, cap) = (*entry as *mut T, *entry.add(1), *entry.add(2));
        drop(Vec::from_raw_parts(ptr, len, cap));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    /// Blocks with no home slot.
    type Block = super::Block<()>;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static DROPS: AtomicUsize = AtomicUsize::new(0);
    #[derive(Default)]
    struct Counted;
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn boxed_entry<T: ?Sized>(b: Box<T>) -> [usize; MAX_ARITY] {
        let mut e = [0usize; MAX_ARITY];
        // SAFETY: a (possibly fat) raw pointer fits in MAX_ARITY words.
        unsafe { e.as_mut_ptr().cast::<*mut T>().write(Box::into_raw(b)) };
        e
    }

    #[test]
    fn a_page_holds_about_five_hundred_thin_boxes_and_frees_them_all() {
        let b = Block::try_new(BLOCK_BYTES, std::ptr::null(), false).unwrap();
        let before = DROPS.load(Ordering::Relaxed);
        let n = fill_with::<Counted>(b, std::mem::size_of::<Counted>());
        assert!(n >= 490, "only {n} thin boxes per page");
        let mut panics = 0;
        // SAFETY: no readers exist in this test.
        let freed = unsafe { Block::drop_all(b, "test", &mut panics) };
        assert_eq!(freed, n);
        assert_eq!(DROPS.load(Ordering::Relaxed) - before, n + 1);
        // SAFETY: emptied above, not used again.
        unsafe { Block::dealloc(b) };
    }

    #[test]
    fn runs_change_with_the_drop_function_and_arity() {
        let b = Block::try_new(BLOCK_BYTES, std::ptr::null(), false).unwrap();
        // SAFETY: as above.
        unsafe {
            assert!(Block::append(b, drop_box::<u64>, &boxed_entry(Box::new(1u64))[..1], 8));
            assert!(Block::append(b, drop_box::<[u8]>, &boxed_entry::<[u8]>(vec![1u8, 2].into_boxed_slice())[..2], 2));
            let mut v = std::mem::ManuallyDrop::new(vec![String::from("x")]);
            assert!(Block::append(b, drop_vec::<String>, &[v.as_mut_ptr() as usize, v.len(), v.capacity()], 24));
            assert!(Block::append(b, drop_box::<u64>, &boxed_entry(Box::new(2u64))[..1], 8));
            assert_eq!(b.as_ref().objects(), 4);
            let mut panics = 0;
            assert_eq!(Block::drop_all(b, "test", &mut panics), 4);
            assert_eq!(panics, 0);
            Block::dealloc(b);
        }
    }

    #[test]
    fn drop_some_moves_a_cursor_across_runs_and_drop_all_finishes_from_it() {
        // A counter of its own: the other tests drop `Counted` on their
        // own threads meanwhile.
        static MINE: AtomicUsize = AtomicUsize::new(0);
        #[derive(Default)]
        struct Mine;
        impl Drop for Mine {
            fn drop(&mut self) {
                // Relaxed: read by this thread only, after the drops.
                MINE.fetch_add(1, Ordering::Relaxed);
            }
        }
        let b = Block::try_new(BLOCK_BYTES, std::ptr::null(), false).unwrap();
        // Three runs: 3 counted boxes, a boxed slice of 2, 2 counted boxes.
        // SAFETY: the block is ours; the entries are fresh boxes; no
        // readers exist in this test.
        unsafe {
            for _ in 0..3 {
                assert!(Block::append(b, drop_box::<Mine>, &boxed_entry(Box::new(Mine))[..1], 0));
            }
            let slice: Box<[Mine]> = vec![Mine, Mine].into_boxed_slice();
            assert!(Block::append(b, drop_box::<[Mine]>, &boxed_entry(slice)[..2], 0));
            for _ in 0..2 {
                assert!(Block::append(b, drop_box::<Mine>, &boxed_entry(Box::new(Mine))[..1], 0));
            }
            let sealed = SealedBlock::seal(b, GpState::COMPLETED).into_raw();
            let mut panics = 0;
            // Relaxed: this thread's own drops.
            let dropped = || MINE.load(Ordering::Relaxed);
            assert_eq!(Block::drop_some(sealed, 2, "test", &mut panics), 2);
            assert_eq!(dropped(), 2);
            // Crosses from the first run into the slice's.
            assert_eq!(Block::drop_some(sealed, 2, "test", &mut panics), 2);
            assert_eq!(dropped(), 5, "3 boxes, then a slice of 2");
            assert!(!sealed.as_ref().is_drained());
            // The rest: one box left of the last run, then one more call
            // finds nothing.
            assert_eq!(Block::drop_some(sealed, 1, "test", &mut panics), 1);
            assert_eq!(Block::drop_all(sealed, "test", &mut panics), 1, "counts the objects it dropped");
            assert_eq!(dropped(), 7);
            assert_eq!(panics, 0);
            assert_eq!(sealed.as_ref().objects(), 0);
            assert_eq!(Block::drop_some(sealed, 2, "test", &mut panics), 0);
            Block::dealloc(sealed);
        }
    }

    /// Appends boxed `T`s said to occupy `held` bytes each until the block
    /// refuses one (then drops it); returns how many it took.
    fn fill_with<T: Default>(b: NonNull<Block>, held: usize) -> usize {
        let mut n = 0;
        loop {
            let entry = boxed_entry(Box::<T>::default());
            // SAFETY: the block is ours; the entry is a fresh box.
            if !unsafe { Block::append(b, drop_box::<T>, &entry[..1], held) } {
                // SAFETY: not stored, so still ours to drop.
                unsafe { drop_box::<T>(entry.as_ptr()) };
                return n;
            }
            n += 1;
        }
    }

    #[test]
    fn large_objects_fill_a_block_by_the_bytes_they_hold() {
        let b = Block::try_new(BLOCK_BYTES, std::ptr::null(), false).unwrap();
        // 64 KiB each: a run header, then one word and a charge of 32 per
        // object; 15 of them (BLOCK_HELD_BYTES / 64 KiB), not ~500.
        let per_object = 1 + (64 << 10) / BYTES_PER_BLOCK_WORD;
        let n = fill_with::<u64>(b, 64 << 10);
        assert_eq!(n, (Block::capacity(BLOCK_BYTES) - RUN_HEADER_WORDS) / per_object);
        assert_eq!(n, BLOCK_HELD_BYTES / (64 << 10));
        let mut panics = 0;
        // SAFETY: no readers exist in this test; emptied blocks are reused.
        unsafe { Block::drop_all(b, "test", &mut panics) };
        // An object larger than the limit still goes in, alone.
        assert_eq!(fill_with::<u64>(b, BLOCK_HELD_BYTES * 3), 1);
        // SAFETY: as above.
        unsafe { Block::drop_all(b, "test", &mut panics) };
        // Emptying resets the count: small objects fill by slots again.
        assert!(fill_with::<u64>(b, 16) >= 490);
        // SAFETY: as above, then not used again.
        unsafe {
            Block::drop_all(b, "test", &mut panics);
            Block::dealloc(b);
        }
    }

    #[test]
    fn an_emergency_reserve_is_not_charged_for_size() {
        let r = Block::try_new(RESERVE_BYTES, std::ptr::null(), true).unwrap();
        let thin = fill_with::<u64>(r, 8);
        let mut panics = 0;
        // SAFETY: no readers exist in this test; emptied blocks are reused.
        unsafe { Block::drop_all(r, "test", &mut panics) };
        assert_eq!(fill_with::<u64>(r, 64 << 10), thin);
        // SAFETY: as above, then not used again.
        unsafe {
            Block::drop_all(r, "test", &mut panics);
            Block::dealloc(r);
        }
    }
}
