//! A resizable descriptor table protected by RCU: the data structure behind
//! an online filesystem resize.
//!
//! # Shape
//!
//! Descriptors (`D`, block-group descriptors in a filesystem) are allocated
//! once and live as long as the table, as buffer heads do. Readers reach
//! them through an array of pointers that the writer replaces on every
//! [`DescriptorTable::grow`]: a copy one slot longer, with the new
//! descriptor appended. Readers never lock and never write shared memory.
//!
//! ```text
//! published ──► ArrayView ──────────────► [NonNull<D>; len] ──► D
//!               generation, len, state     the pointer array      a descriptor
//!               (never freed early)        (retired on grow)      (freed with the table)
//! ```
//!
//! # Why a view in front of the array
//!
//! The stress test must catch a reader that reaches an array whose memory
//! was already reclaimed (an *early free*) without reading that memory to
//! find out. So the published pointer leads to a small `ArrayView` that
//! lives in an arena ([`Generations`]) until every array of the table has
//! been dropped; the view says which generation the array is and whether
//! it was freed (`state`, set by the array's `Drop`). Only the pointer
//! array (8 bytes per descriptor after a two-word header, one allocation)
//! is retired through RCU. A view costs about 40 bytes per grow; a
//! production table would publish the pointer array directly and skip the
//! check.
//!
//! # Growing
//!
//! [`DescriptorTable::grow`] runs under the writer mutex: allocate the
//! larger array, copy the pointers, append the new one, publish the new
//! view with `Release`, mark the old view `RETIRED`, and retire the old
//! array with the table's [`Strategy`]. The old array must not be freed
//! before a grace period: a reader that loaded the old view may still be
//! indexing it.
//!
//! # Retiring
//!
//! * `sync`: wait for a grace period in `grow`, then free.
//! * `call-rcu`: allocate a wrapper holding an `RcuHead` and the array
//!   (fallibly: a failed allocation falls back to `sync`), queue it with
//!   `call_rcu_raw`; the reclaim thread frees it after a grace period.
//! * `kvfree`: hand the old array's box to the flavour's headless
//!   `kvfree_rcu`: its pointer goes into the resizer's per-thread bulk
//!   block; one grace period frees a whole block. No head, no allocation
//!   and no wait per resize. The box holds the whole array, so
//!   `kvfree_rcu` sees its size and seals a block after about 1 MiB of
//!   arrays rather than after 500 of them.
//! * `leak`: keep every old array until the table drops (the floor).
//!
//! # Contexts
//!
//! Lookups never block and need a read-side guard of the table's flavour
//! (`rcu_core::ReadSection<F>`). `grow` may block for a grace period with
//! `sync`, and with `call-rcu` when its wrapper cannot be allocated, so it
//! must then be called outside any read-side section of that flavour (memb)
//! and from a thread that is not an online QSBR reader; it panics with the
//! core's message otherwise, before changing anything. With `kvfree` and
//! `leak` it may be called anywhere: `kvfree_rcu` itself decides whether it
//! may wait (only when memory is exhausted or its backlog is past the hard
//! limit, and only where waiting is allowed; elsewhere it uses its reserve).

use rcu_core::RcuHead;
use rcu_core::{Flavour, RcuFlavour, ReadSection};
use std::alloc::Layout;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
// The side table of states (LIVE: published; RETIRED: unpublished by
// `grow`, its array waiting to be freed; FREED: its array was dropped) and
// the census are rcu-testkit's, shared with every early-free check here.
use rcu_testkit::state::{Census, ObjectState, FREED, LIVE};
use std::sync::atomic::{fence, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// How [`DescriptorTable::grow`] retires the array it replaced.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// `synchronize_rcu()`, then free: one full grace period per resize,
    /// waited for by the resizer.
    Sync,
    /// Allocate a small wrapper with an `RcuHead` and `call_rcu_raw` it; the
    /// reclaim thread frees the array after a grace period. If the wrapper
    /// cannot be allocated, `synchronize_rcu()` then free.
    CallRcu,
    /// Headless `kvfree_rcu` of the old array's box: per-thread bulk
    /// blocks, one grace period per block, no head and no allocation per
    /// resize.
    Kvfree,
    /// Never free while the table lives: retired arrays are kept and freed
    /// with the table. The cost floor, paid for in memory.
    Leak,
}

impl Strategy {
    /// Every strategy, in the order the stress binary reports them.
    pub const ALL: [Strategy; 4] = [Strategy::Sync, Strategy::CallRcu, Strategy::Kvfree, Strategy::Leak];

    /// The strategy's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Sync => "sync",
            Strategy::CallRcu => "call-rcu",
            Strategy::Kvfree => "kvfree",
            Strategy::Leak => "leak",
        }
    }

    /// Whether `grow` may block for a grace period with this strategy
    /// (`call-rcu` does when its wrapper cannot be allocated). `kvfree`
    /// does not: `kvfree_rcu` never waits where waiting is not allowed.
    pub fn may_block(self) -> bool {
        match self {
            Strategy::Sync | Strategy::CallRcu => true,
            Strategy::Kvfree | Strategy::Leak => false,
        }
    }
}

/// The part of an array readers reach first; never freed before every
/// array of its table has been dropped, so reading it is always safe.
struct ArrayView<D> {
    /// 0 for the table's first (empty) array, then one more per grow.
    generation: u64,
    /// The pointer array. Valid to read until `state` becomes `FREED`,
    /// which RCU guarantees happens only after readers that loaded this
    /// view have left their read-side sections.
    slots: NonNull<[NonNull<D>]>,
    /// `LIVE`, `RETIRED` or `FREED`: the side table that catches early frees.
    state: ObjectState,
}

/// Owns one pointer array: what `grow` retires. The owner's two words and
/// the slots are one allocation, so a grow allocates once and `kvfree_rcu`
/// sees the array's whole size (`size_of_val`), which bounds how much of
/// it one bulk block holds back. Dropping it marks its view `FREED`; the
/// memory goes right after.
#[repr(C)]
struct PointerArray<D> {
    /// This array's view, in `generations`' arena.
    view: NonNull<ArrayView<D>>,
    generations: Arc<Generations<D>>,
    slots: [NonNull<D>],
}

// SAFETY: a PointerArray owns its slots (plain pointers it never
// dereferences) and touches its view only through the atomic `state`; the
// descriptors it points to are owned by the table. Moving it to a reclaim
// thread and dropping it there is sound when `D` may be shared.
unsafe impl<D: Send + Sync> Send for PointerArray<D> {}

impl<D> PointerArray<D> {
    /// Allocates an array holding `copied` then `added`, records a view for
    /// it and counts it.
    fn allocate(
        copied: &[NonNull<D>],
        added: Option<NonNull<D>>,
        generation: u64,
        generations: &Arc<Generations<D>>,
    ) -> ArrayOwner<D> {
        let len = copied.len() + usize::from(added.is_some());
        let layout = Self::layout(len);
        // SAFETY: the layout is not zero-sized (the header is two words).
        let raw = unsafe { std::alloc::alloc(layout) };
        if raw.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        // A slice pointer cast to a struct whose last field is that slice
        // keeps the length as the struct's metadata.
        let array = std::ptr::slice_from_raw_parts_mut(raw.cast::<NonNull<D>>(), len) as *mut Self;
        // SAFETY: `array` points to a fresh allocation with the layout of a
        // `PointerArray` of `len` slots (`repr(C)`, see `layout`), so every
        // field address is in bounds; each field is written once before the
        // owner takes the array (and later frees it as a `Box`).
        unsafe {
            let slots = std::ptr::addr_of_mut!((*array).slots).cast::<NonNull<D>>();
            std::ptr::copy_nonoverlapping(copied.as_ptr(), slots, copied.len());
            if let Some(added) = added {
                slots.add(copied.len()).write(added);
            }
            let slots = NonNull::slice_from_raw_parts(NonNull::new_unchecked(slots), len);
            let view = generations.record(ArrayView { generation, slots, state: ObjectState::new(LIVE) });
            std::ptr::addr_of_mut!((*array).view).write(view);
            std::ptr::addr_of_mut!((*array).generations).write(Arc::clone(generations));
            let owner = ArrayOwner(NonNull::new_unchecked(array));
            debug_assert_eq!(Layout::for_value(&*owner), layout);
            owner
        }
    }

    /// The allocation of an array of `len` slots, which `Box` frees: the
    /// `repr(C)` rule, each field in order at its alignment, then padding
    /// to the largest alignment.
    fn layout(len: usize) -> Layout {
        const OVERFLOW: &str = "pointer array size overflows";
        let view = Layout::new::<NonNull<ArrayView<D>>>();
        let (header, _) = view.extend(Layout::new::<Arc<Generations<D>>>()).expect(OVERFLOW);
        let (layout, _) = header.extend(Layout::array::<NonNull<D>>(len).expect(OVERFLOW)).expect(OVERFLOW);
        layout.pad_to_align()
    }

    fn slots(&self) -> &[NonNull<D>] {
        &self.slots
    }

    fn view(&self) -> &ArrayView<D> {
        // SAFETY: views outlive every array (the arena is freed when the
        // last `Arc<Generations>` goes, and `self` holds one).
        unsafe { self.view.as_ref() }
    }

    /// Marks the view retired: unpublished, not yet freed.
    fn mark_retired(&self) {
        // A diagnostic state for readers; the publication of the new view
        // (Release, in `grow`) is what orders readers.
        self.view().state.mark_retired();
    }
}

impl<D> Drop for PointerArray<D> {
    fn drop(&mut self) {
        // Release, and before the memory goes (`Box` frees it after this
        // returns): a reader that read the slots of this array and then
        // finds `FREED` (after its Acquire fence in `ArrayRef::get_checked`)
        // has caught an early free.
        self.view().state.mark_freed();
        self.generations.census.count_dropped();
    }
}

/// Owns a `PointerArray` through a raw pointer rather than a `Box`: readers
/// read its slots through their view while the writer holds and moves the
/// owner, and a `Box` would claim unique access to the array each time it
/// is moved (Stacked Borrows). The `Box` is rebuilt only to free the array,
/// or to hand it to `kvfree_rcu`, which turns it back into a raw pointer at
/// once (as `RcuCell::replace_box` does).
struct ArrayOwner<D>(NonNull<PointerArray<D>>);

impl<D> ArrayOwner<D> {
    /// The array as a `Box`, for `kvfree_rcu`.
    fn into_box(self) -> Box<PointerArray<D>> {
        let array = ManuallyDrop::new(self).0;
        // SAFETY: the array was allocated with its `Box` layout (see
        // `PointerArray::allocate`) and is owned by `self`, consumed here.
        unsafe { Box::from_raw(array.as_ptr()) }
    }
}

impl<D> std::ops::Deref for ArrayOwner<D> {
    type Target = PointerArray<D>;

    fn deref(&self) -> &PointerArray<D> {
        // SAFETY: owned by `self` and freed only in `drop`; shared reads
        // by readers through their views do not conflict with `&`.
        unsafe { self.0.as_ref() }
    }
}

impl<D> Drop for ArrayOwner<D> {
    fn drop(&mut self) {
        // SAFETY: as in `into_box`; freed once, here.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

/// The small wrapper the `call-rcu` strategy allocates per resize: the
/// retired array plus the `RcuHead` that queues it.
#[repr(C)]
struct RetireWrapper<D> {
    /// First field, so the callback finds the wrapper at the head's address.
    head: RcuHead,
    array: ArrayOwner<D>,
}

impl<D: Send + Sync> RetireWrapper<D> {
    /// Wraps `array`, or hands it back if the wrapper cannot be allocated
    /// (fallible allocation: `Box::new` would abort the process instead).
    fn try_new(array: ArrayOwner<D>) -> Result<NonNull<Self>, ArrayOwner<D>> {
        let layout = Layout::new::<Self>();
        // SAFETY: the layout is not zero-sized (it holds an `RcuHead`).
        let raw = unsafe { std::alloc::alloc(layout) }.cast::<Self>();
        let Some(wrapper) = NonNull::new(raw) else { return Err(array) };
        // SAFETY: `wrapper` is freshly allocated for `Self` and unaliased.
        unsafe { wrapper.as_ptr().write(RetireWrapper { head: RcuHead::new(), array }) };
        Ok(wrapper)
    }

    /// The callback: frees the wrapper and drops the array (on the reclaim
    /// thread, after a grace period).
    ///
    /// # Safety
    ///
    /// `head` is the head of a wrapper from `try_new`, queued once.
    unsafe fn free(head: NonNull<RcuHead>) {
        // SAFETY: `head` is the first field of a `repr(C)` wrapper, allocated
        // by the global allocator with `Layout::new::<Self>()`, which is the
        // allocation `Box<Self>` owns.
        drop(unsafe { Box::from_raw(head.cast::<Self>().as_ptr()) });
    }
}

/// Every array a table created: the arena of views (the side table of
/// generation states) and the counts the leak check compares.
pub struct Generations<D> {
    /// Views from `Box::into_raw`, freed when the arena is dropped.
    views: Mutex<Vec<NonNull<ArrayView<D>>>>,
    census: Census,
}

// SAFETY: the arena owns its views; a view's only mutable field is atomic
// and its slot pointers are never dereferenced through the arena.
unsafe impl<D: Send + Sync> Send for Generations<D> {}
// SAFETY: as above; the list of views is behind a mutex.
unsafe impl<D: Send + Sync> Sync for Generations<D> {}

impl<D> Generations<D> {
    fn new() -> Self {
        Generations { views: Mutex::new(Vec::new()), census: Census::new() }
    }

    /// Stores `view` for the life of the arena and counts a new array.
    fn record(&self, view: ArrayView<D>) -> NonNull<ArrayView<D>> {
        // SAFETY: `Box::into_raw` never returns null.
        let view = unsafe { NonNull::new_unchecked(Box::into_raw(Box::new(view))) };
        self.views.lock().unwrap_or_else(PoisonError::into_inner).push(view);
        self.census.count_created();
        view
    }

    /// Arrays created so far (the first, empty one included).
    pub fn created(&self) -> u64 {
        self.census.created()
    }

    /// Arrays dropped so far (Acquire pairs with the Release count in
    /// `PointerArray::drop`, possibly on a reclaim thread).
    pub fn dropped(&self) -> u64 {
        self.census.dropped()
    }

    /// Arrays created and not yet dropped: the current one plus those
    /// retired and still waiting.
    pub fn alive(&self) -> u64 {
        self.census.alive()
    }
}

impl<D> Drop for Generations<D> {
    fn drop(&mut self) {
        for view in self.views.get_mut().unwrap_or_else(PoisonError::into_inner).drain(..) {
            // SAFETY: from `Box::into_raw` in `record`, freed once; no array
            // refers to it any more (each held an `Arc` to this arena).
            drop(unsafe { Box::from_raw(view.as_ptr()) });
        }
    }
}

/// The writer's side of a table, behind the writer mutex.
struct Writer<D> {
    /// The published array's owner.
    current: ArrayOwner<D>,
    /// Arrays retired with [`Strategy::Leak`]: kept until the table drops.
    kept: Vec<ArrayOwner<D>>,
}

/// An RCU-protected, growable array of pointers to descriptors, for
/// flavour `F`.
pub struct DescriptorTable<D, F: Flavour> {
    /// The current array's view. Release store in `grow`, Acquire load in
    /// `array`.
    published: AtomicPtr<ArrayView<D>>,
    writer: Mutex<Writer<D>>,
    strategy: Strategy,
    generations: Arc<Generations<D>>,
    /// `call-rcu` retirements that fell back to waiting for a grace period.
    fallbacks: AtomicU64,
    /// Fault injection (tests and the stress binary): every Nth `call-rcu`
    /// wrapper allocation fails as if memory were exhausted; 0 = never.
    fail_wrapper_every: u64,
    /// The table owns its descriptors (freed in `Drop`).
    _owns: PhantomData<(Box<D>, F)>,
}

// SAFETY: the table owns descriptors (moved in by `grow`, so `D: Send`) and
// hands out `&D` to readers on any thread (`D: Sync`); its raw pointers are
// to memory it owns or to the arena it holds an `Arc` of.
unsafe impl<D: Send + Sync, F: Flavour> Send for DescriptorTable<D, F> {}
// SAFETY: as above; writers are serialised by the mutex and readers only
// load the published pointer.
unsafe impl<D: Send + Sync, F: Flavour> Sync for DescriptorTable<D, F> {}

impl<D: Send + Sync + 'static, F: RcuFlavour> DescriptorTable<D, F> {
    /// An empty table whose `grow` retires old arrays with `strategy`.
    pub fn new(strategy: Strategy) -> Self {
        let generations = Arc::new(Generations::new());
        let first = PointerArray::allocate(&[], None, 0, &generations);
        DescriptorTable {
            published: AtomicPtr::new(first.view.as_ptr()),
            writer: Mutex::new(Writer { current: first, kept: Vec::new() }),
            strategy,
            generations,
            fallbacks: AtomicU64::new(0),
            fail_wrapper_every: 0,
            _owns: PhantomData,
        }
    }

    /// Makes every `every`th `call-rcu` wrapper allocation fail as if memory
    /// were exhausted (0: never), to exercise the fallback.
    pub fn inject_wrapper_failures(&mut self, every: u64) {
        self.fail_wrapper_every = every;
    }

    /// How many `call-rcu` retirements fell back to `synchronize_rcu()`
    /// then free because the wrapper could not be allocated.
    pub fn fallbacks(&self) -> u64 {
        // Relaxed: a statistic.
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// The side table of this table's arrays; it outlives the table until
    /// every retired array has been dropped, so the leak check can read it
    /// after the table is gone.
    pub fn generations(&self) -> Arc<Generations<D>> {
        Arc::clone(&self.generations)
    }

    /// The array published now, usable while `guard` lasts. Never blocks.
    #[inline]
    pub fn array<'g, G: ReadSection<F>>(&'g self, _guard: &'g G) -> ArrayRef<'g, D> {
        // Acquire pairs with the Release store in `grow`: the reader sees
        // the view, the copied slots and the new descriptor initialised.
        let view = self.published.load(Ordering::Acquire);
        // SAFETY: every published view lives in `self.generations`' arena,
        // which lives at least as long as `self` (borrowed for 'g).
        ArrayRef { view: unsafe { &*view }, _guard: PhantomData }
    }

    /// Appends `descriptor` and returns its index. Allocates a larger array,
    /// copies, publishes it and retires the old array with the table's
    /// strategy. Writers are serialised.
    ///
    /// May block for a grace period (`sync`; `call-rcu` when its wrapper
    /// cannot be allocated). Never blocks with `leak`, nor with `kvfree`
    /// unless `kvfree_rcu` must (memory exhausted, or its backlog past the
    /// hard limit) and the caller may block.
    ///
    /// # Panics
    ///
    /// When the strategy may block and the caller is inside a read-side
    /// section of `F` (memb) or an online QSBR thread: that grace period
    /// would wait for the caller itself. Nothing is changed then.
    #[track_caller]
    pub fn grow(&self, descriptor: D) -> usize {
        if self.strategy.may_block() {
            F::engine().assert_may_block("DescriptorTable::grow() (its strategy may wait for a grace period)");
        }
        let mut writer = self.lock_writer();
        let index = writer.current.slots().len();
        let descriptor = NonNull::from(Box::leak(Box::new(descriptor)));
        let generation = writer.current.view().generation + 1;
        let array = PointerArray::allocate(writer.current.slots(), Some(descriptor), generation, &self.generations);
        // Release: publishes the new view, its slots and the new descriptor
        // to readers; pairs with the Acquire load in `array`.
        self.published.store(array.view.as_ptr(), Ordering::Release);
        let old = std::mem::replace(&mut writer.current, array);
        old.mark_retired();
        self.retire(old, &mut writer);
        index
    }

    /// Frees `old`, an array no longer published, once no reader can hold
    /// it, by the table's strategy.
    fn retire(&self, old: ArrayOwner<D>, writer: &mut Writer<D>) {
        match self.strategy {
            Strategy::Sync => Self::synchronize_then_free(old),
            Strategy::CallRcu => match self.allocate_wrapper(old) {
                // SAFETY: the head is the wrapper's first field (`repr(C)`),
                // so the cast keeps the whole allocation's provenance for
                // `free`; the wrapper is fresh, queued once, and stays
                // allocated until `free` runs, which drops a
                // `PointerArray<D>` (`Send`) on the reclaim thread.
                Ok(wrapper) => unsafe { F::call_rcu_raw(wrapper.cast::<RcuHead>(), RetireWrapper::<D>::free) },
                Err(old) => {
                    // Relaxed: a statistic.
                    self.fallbacks.fetch_add(1, Ordering::Relaxed);
                    Self::synchronize_then_free(old);
                }
            },
            // The box (the array's owner, which frees the slots and marks
            // the view `FREED` when dropped) goes into this thread's bulk
            // block and is dropped on the reclaim thread after a grace
            // period; `PointerArray<D>` is `Send` because `D: Send + Sync`.
            Strategy::Kvfree => F::kvfree_rcu(old.into_box()),
            Strategy::Leak => writer.kept.push(old),
        }
    }

    fn synchronize_then_free(old: ArrayOwner<D>) {
        // Leaked, not freed, if the grace period panics.
        let old = ManuallyDrop::new(old);
        F::synchronize_rcu();
        drop(ManuallyDrop::into_inner(old));
    }

    /// `RetireWrapper::try_new`, failing on purpose as configured by
    /// `inject_wrapper_failures`. Called with the writer lock held.
    fn allocate_wrapper(&self, old: ArrayOwner<D>) -> Result<NonNull<RetireWrapper<D>>, ArrayOwner<D>> {
        let every = self.fail_wrapper_every;
        // The generation counts grows, so "every Nth" needs no counter.
        if every != 0 && old.view().generation % every == every - 1 {
            return Err(old);
        }
        RetireWrapper::try_new(old)
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writer<D>> {
        // A panic in `grow` leaves the writer state consistent (the array is
        // swapped in one assignment after publication), so poisoning is
        // ignored.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<D, F: Flavour> Drop for DescriptorTable<D, F> {
    fn drop(&mut self) {
        let writer = self.writer.get_mut().unwrap_or_else(PoisonError::into_inner);
        // Every descriptor is in the current array (grow only appends).
        for &descriptor in writer.current.slots() {
            // SAFETY: each descriptor came from `Box::leak` in `grow` and
            // appears once in the current array; `&mut self` means no reader
            // holds a reference (lookups borrow the table).
            drop(unsafe { Box::from_raw(descriptor.as_ptr()) });
        }
        // The current array and the kept ones drop with `writer`; retired
        // arrays still in flight hold the arena alive and never dereference
        // the descriptors freed above.
    }
}

/// One published array, as a reader sees it for the life of its guard.
pub struct ArrayRef<'g, D> {
    view: &'g ArrayView<D>,
    /// Not Send: tied to the reader's guard.
    _guard: PhantomData<*const ()>,
}

/// The outcome of [`ArrayRef::get_checked`].
pub enum Lookup<'g, D> {
    /// The descriptor at the index.
    Found(&'g D),
    /// The index is past the end of this array.
    PastEnd,
    /// The array had already been freed: an early free. The slot read is
    /// not trusted and the descriptor is not dereferenced.
    Reclaimed,
}

impl<'g, D> ArrayRef<'g, D> {
    /// Number of descriptors in this array.
    #[inline]
    pub fn len(&self) -> usize {
        self.view.slots.len()
    }

    /// Whether this array holds no descriptor (only a table never grown
    /// publishes one).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// This array's generation: 0 for the first, one more per grow.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.view.generation
    }

    /// The descriptor at `index`, checking the array's state after reading
    /// the slot: finding it freed reports an early free instead of trusting
    /// the slot.
    #[inline]
    pub fn get_checked(&self, index: usize) -> Lookup<'g, D> {
        if index >= self.len() {
            return Lookup::PastEnd;
        }
        // SAFETY: `index < len`; the slots are not freed while the reader's
        // guard lasts (the writer retires them through RCU) for a correct
        // RCU, and an early free is detected below before the value read is
        // used.
        let slot = unsafe { self.read_slot(index) };
        // Orders the slot read before the state read (load-load; free on
        // x86, `dmb ishld` on Arm); pairs with the Release store of `FREED`
        // before the memory is freed in `PointerArray::drop`. A read of freed
        // memory therefore sees `FREED` next.
        fence(Ordering::Acquire);
        if self.view.state.get_relaxed() == FREED {
            return Lookup::Reclaimed;
        }
        // SAFETY: the array was not freed when the slot was read, and each
        // slot points to a descriptor owned by the table, borrowed for 'g.
        Lookup::Found(unsafe { slot.as_ref() })
    }

    /// # Safety
    ///
    /// `index < self.len()`, and the slots are valid (see `get_checked`).
    #[inline]
    unsafe fn read_slot(&self, index: usize) -> NonNull<D> {
        // SAFETY: the caller guarantees `index` is in bounds of a valid array.
        unsafe { self.view.slots.cast::<NonNull<D>>().add(index).read() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcu_core::RcuFlavour;
    use rcu_memb::Memb;
    use rcu_qsbr::Qsbr;
    use rcu_testkit::state::RETIRED;
    use std::sync::atomic::AtomicBool;

    #[derive(Debug, PartialEq)]
    struct Desc(usize);

    #[test]
    fn lookups_return_each_descriptor_by_index_and_none_past_the_end() {
        for strategy in Strategy::ALL {
            let table: DescriptorTable<Desc, Memb> = DescriptorTable::new(strategy);
            {
                let guard = rcu_memb::read_lock();
                let first = table.array(&guard);
                assert!(first.is_empty());
                assert!(matches!(first.get_checked(0), Lookup::PastEnd));
            }
            for i in 0..100 {
                assert_eq!(table.grow(Desc(i)), i);
            }
            let guard = rcu_memb::read_lock();
            let array = table.array(&guard);
            assert_eq!((array.len(), array.generation(), array.is_empty()), (100, 100, false));
            for i in 0..100 {
                assert!(matches!(array.get_checked(i), Lookup::Found(d) if d.0 == i));
            }
            assert!(matches!(array.get_checked(100), Lookup::PastEnd));
        }
    }

    #[test]
    fn sync_frees_each_old_array_before_grow_returns() {
        let table: DescriptorTable<Desc, Memb> = DescriptorTable::new(Strategy::Sync);
        let generations = table.generations();
        for i in 0..20 {
            table.grow(Desc(i));
            assert_eq!(generations.alive(), 1, "only the current array may remain after grow {i}");
        }
        drop(table);
        assert_eq!(generations.created(), generations.dropped());
    }

    #[test]
    fn leak_keeps_every_array_until_the_table_drops() {
        let table: DescriptorTable<Desc, Memb> = DescriptorTable::new(Strategy::Leak);
        let generations = table.generations();
        for i in 0..20 {
            table.grow(Desc(i));
        }
        assert_eq!((generations.created(), generations.dropped()), (21, 0));
        drop(table);
        assert_eq!(generations.dropped(), 21);
    }

    #[test]
    fn dropping_the_table_drops_every_descriptor() {
        static DROPS: AtomicU64 = AtomicU64::new(0);
        struct Counted;
        impl Drop for Counted {
            fn drop(&mut self) {
                // Relaxed: a count, read on this test's own thread (the
                // drops run on it: Strategy::Sync and the table's drop).
                DROPS.fetch_add(1, Ordering::Relaxed);
            }
        }
        let table: DescriptorTable<Counted, Memb> = DescriptorTable::new(Strategy::Sync);
        for _ in 0..10 {
            table.grow(Counted);
        }
        assert_eq!(DROPS.load(Ordering::Relaxed), 0, "descriptors outlive the arrays that point to them");
        drop(table);
        assert_eq!(DROPS.load(Ordering::Relaxed), 10);
    }

    /// A reader holding the old array while another thread grows the table
    /// (and waits for the deferred free with a barrier) sees it unpublished
    /// (`RETIRED`) but never `FREED`; it is freed only after the reader
    /// leaves its section.
    #[test]
    fn no_strategy_frees_an_array_a_reader_still_holds() {
        for strategy in [Strategy::Sync, Strategy::CallRcu, Strategy::Kvfree] {
            let table: Arc<DescriptorTable<Desc, Memb>> = Arc::new(DescriptorTable::new(strategy));
            table.grow(Desc(0));
            let guard = rcu_memb::read_lock();
            let old = table.array(&guard);
            let grower = {
                let table = Arc::clone(&table);
                std::thread::spawn(move || {
                    let index = table.grow(Desc(1));
                    Memb::rcu_barrier();
                    index
                })
            };
            // The grower publishes the new array, then marks the old one
            // retired: wait for both, or the check below races the mark.
            while table.array(&guard).len() == 1 || old.view.state.get() == LIVE {
                std::hint::spin_loop();
            }
            assert_eq!(old.view.state.get(), RETIRED, "{strategy:?}");
            assert!(matches!(old.get_checked(0), Lookup::Found(Desc(0))));
            drop(guard);
            assert_eq!(grower.join().unwrap(), 1);
            assert_eq!(table.generations().alive(), 1, "{strategy:?}");
        }
    }

    #[test]
    fn call_rcu_frees_every_old_array_by_the_next_barrier() {
        let table: DescriptorTable<Desc, Memb> = DescriptorTable::new(Strategy::CallRcu);
        let generations = table.generations();
        for i in 0..50 {
            table.grow(Desc(i));
        }
        Memb::rcu_barrier();
        assert_eq!(generations.alive(), 1);
        assert_eq!(table.fallbacks(), 0);
        drop(table);
        assert_eq!(generations.created(), generations.dropped());
    }

    #[test]
    fn kvfree_frees_every_old_array_by_the_next_barrier() {
        let table: DescriptorTable<Desc, Memb> = DescriptorTable::new(Strategy::Kvfree);
        let generations = table.generations();
        for i in 0..50 {
            table.grow(Desc(i));
        }
        Memb::rcu_barrier();
        assert_eq!(generations.alive(), 1);
        drop(table);
        assert_eq!(generations.created(), generations.dropped());
    }

    /// `kvfree` never waits for a grace period, so a reader may grow the
    /// table inside its own section; the arrays it retired stay allocated
    /// at least until the section ends.
    #[test]
    fn a_kvfree_grow_inside_a_read_section_defers_the_free_past_it() {
        let table: DescriptorTable<Desc, Memb> = DescriptorTable::new(Strategy::Kvfree);
        let generations = table.generations();
        table.grow(Desc(0));
        {
            let guard = rcu_memb::read_lock();
            let held = table.array(&guard);
            table.grow(Desc(1));
            table.grow(Desc(2));
            assert_eq!(held.view.state.get(), RETIRED);
            assert!(matches!(held.get_checked(0), Lookup::Found(Desc(0))));
        }
        Memb::rcu_barrier();
        assert_eq!(generations.alive(), 1);
    }

    #[test]
    fn an_online_qsbr_thread_may_grow_with_kvfree() {
        let table: DescriptorTable<Desc, Qsbr> = DescriptorTable::new(Strategy::Kvfree);
        let generations = table.generations();
        {
            let mut thread = rcu_qsbr::register_thread();
            for i in 0..20 {
                let guard = thread.read_lock();
                table.grow(Desc(i));
                assert!(matches!(table.array(&guard).get_checked(i), Lookup::Found(Desc(j)) if *j == i));
                drop(guard);
                thread.quiescent_state();
            }
        }
        Qsbr::rcu_barrier();
        assert_eq!(generations.alive(), 1);
        drop(table);
        assert_eq!(generations.created(), generations.dropped());
    }

    #[test]
    fn call_rcu_falls_back_to_sync_when_the_wrapper_cannot_be_allocated() {
        let mut table: DescriptorTable<Desc, Memb> = DescriptorTable::new(Strategy::CallRcu);
        table.inject_wrapper_failures(2);
        let generations = table.generations();
        for i in 0..20 {
            table.grow(Desc(i));
        }
        assert_eq!(table.fallbacks(), 10);
        Memb::rcu_barrier();
        assert_eq!(generations.alive(), 1);
        drop(table);
        assert_eq!(generations.created(), generations.dropped());
    }

    #[test]
    #[should_panic(expected = "inside a read-side critical section")]
    fn a_sync_grow_inside_a_read_section_panics_before_changing_anything() {
        let table: DescriptorTable<Desc, Memb> = DescriptorTable::new(Strategy::Sync);
        let _guard = rcu_memb::read_lock();
        table.grow(Desc(0));
    }

    #[test]
    fn qsbr_readers_see_every_grow_from_an_unregistered_writer() {
        let table: Arc<DescriptorTable<Desc, Qsbr>> = Arc::new(DescriptorTable::new(Strategy::Sync));
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (table, done) = (Arc::clone(&table), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut thread = rcu_qsbr::register_thread();
                let mut last = 0;
                // Acquire pairs with the Release store below: the last
                // grow is visible once `done` is.
                while !done.load(Ordering::Acquire) || last < 50 {
                    {
                        let guard = thread.read_lock();
                        let array = table.array(&guard);
                        assert!(array.generation() >= last, "a reader went back in time");
                        last = array.generation();
                        for i in 0..array.len() {
                            assert!(matches!(array.get_checked(i), Lookup::Found(d) if d.0 == i));
                        }
                    }
                    thread.quiescent_state();
                }
            })
        };
        for i in 0..50 {
            table.grow(Desc(i));
        }
        // Release pairs with the reader's Acquire load of `done`: it then
        // sees every grow made before the flag.
        done.store(true, Ordering::Release);
        reader.join().unwrap();
        assert_eq!(table.generations().alive(), 1);
    }
}
