//! `RcuCell`'s update paths and `RcuOption`, for every flavour: readers
//! check every value they load while a writer (inside a read-side section:
//! none of these paths may wait for a grace period) replaces it, so a value
//! freed too early is detected; nothing leaks; `Retired` blocks only where
//! it may.

use crate::kvfree::Held;
use crate::reader::{in_read_section, read_cell, read_option};
use crate::{Arena, ReaderChecks};
use rcu_core::{RcuCell, RcuFlavour, RcuOption, ReadSection};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};

/// Proof, for this generic code, that it runs inside the closure given to
/// [`in_read_section`].
struct InSection<F>(PhantomData<(F, *const ())>);

// SAFETY: built only inside the closure passed to `in_read_section`, which
// holds a read-side section of `F` (a guard of `F::read_lock`) for the
// closure's whole run; never leaves it; `!Send` through the raw pointer.
unsafe impl<F: RcuFlavour> ReadSection<F> for InSection<F> {}

/// How the writer replaces the cell's value.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CellPath {
    /// `RcuCell::update`, from two writers at once (losers' values dropped).
    Update,
    /// `RcuCell::compare_exchange` against a loaded value, retried.
    CompareExchange,
    /// `RcuCell::swap`, reading the `Retired` value before dropping it.
    Swap,
}

const REPLACEMENTS: usize = 5_000;

/// Checks per value a reader loads: repeating widens the window an early
/// free needs to be seen.
const CHECKS_PER_LOAD: usize = 16;

/// Replaces the cell's value `REPLACEMENTS` times per writer by `path`
/// while two reader threads read; then no early free, no leak.
pub fn cell_path_never_frees_early<F: RcuFlavour>(path: CellPath) {
    let writers = if path == CellPath::Update { 2 } else { 1 };
    // Update's losers make extra values: room for one per attempt.
    let arena = Arena::leak(writers * REPLACEMENTS * 4 + 1);
    let cell: &'static RcuCell<Held, F> = Box::leak(Box::new(RcuCell::new(Held::new(arena))));
    let checks: &'static ReaderChecks = Box::leak(Box::default());
    let stop: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let readers: Vec<_> =
        (0..2).map(|_| std::thread::spawn(move || read_cell::<F>(cell, checks, stop, CHECKS_PER_LOAD))).collect();
    wait_for_readers(checks);
    let write = move || {
        in_read_section::<F>(&mut || {
            let g = InSection::<F>(PhantomData);
            for _ in 0..REPLACEMENTS {
                replace_once(path, cell, arena, checks, &g);
            }
        })
    };
    let extra: Vec<_> = (1..writers).map(|_| std::thread::spawn(write)).collect();
    write();
    extra.into_iter().for_each(|w| w.join().unwrap());
    // Relaxed: a stop flag.
    stop.store(true, Ordering::Relaxed);
    readers.into_iter().for_each(|r| r.join().unwrap());
    F::rcu_barrier();
    assert_eq!(
        checks.early_frees(),
        0,
        "rcu_{} {path:?}: readers reached {} freed values",
        F::NAME,
        checks.early_frees()
    );
    assert!(checks.reads() > 0, "readers never ran");
    assert_eq!(arena.created(), arena.dropped() + 1, "rcu_{} {path:?}: leak or double drop", F::NAME);
}

/// Starts writing only once readers read, or a fast writer could finish
/// before they start and the test would check nothing.
fn wait_for_readers(checks: &ReaderChecks) {
    while checks.reads() == 0 {
        std::thread::yield_now();
    }
}

fn replace_once<F: RcuFlavour>(
    path: CellPath,
    cell: &RcuCell<Held, F>,
    arena: &'static Arena,
    checks: &ReaderChecks,
    g: &InSection<F>,
) {
    match path {
        CellPath::Update => {
            let old = cell.update(g, |_| Held::new(arena));
            // The replaced value is retired, not freed, while `g` lasts.
            checks.check(old.element);
        }
        CellPath::CompareExchange => {
            let mut new = Held::new(arena);
            loop {
                let current = cell.load(g);
                match cell.compare_exchange(current, new) {
                    Ok(()) => break,
                    Err(back) => new = back,
                }
            }
        }
        CellPath::Swap => {
            let old = cell.swap(Held::new(arena));
            checks.check(old.element);
            drop(old);
        }
    }
}

/// `RcuOption::store` and `take` alternate while two reader threads read:
/// no early free, no leak, and `load` sees both states.
pub fn option_store_and_take_never_free_early<F: RcuFlavour>() {
    let arena = Arena::leak(REPLACEMENTS + 2);
    let cell: &'static RcuOption<Held, F> = Box::leak(Box::default());
    assert!(cell.is_none());
    let checks: &'static ReaderChecks = Box::leak(Box::default());
    let stop: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    cell.store(Some(Held::new(arena)));
    let readers: Vec<_> =
        (0..2).map(|_| std::thread::spawn(move || read_option::<F>(cell, checks, stop, CHECKS_PER_LOAD))).collect();
    wait_for_readers(checks);
    cell.store(None);
    in_read_section::<F>(&mut || {
        let g = InSection::<F>(PhantomData);
        for i in 0..REPLACEMENTS {
            if i % 2 == 0 {
                cell.store(Some(Held::new(arena)));
                assert!(cell.load(&g).is_some());
            } else {
                let taken = cell.take().expect("stored just before");
                checks.check(taken.element);
                assert!(cell.load(&g).is_none());
            }
        }
    });
    // Relaxed: a stop flag.
    stop.store(true, Ordering::Relaxed);
    readers.into_iter().for_each(|r| r.join().unwrap());
    F::rcu_barrier();
    assert_eq!(checks.early_frees(), 0, "rcu_{}: readers reached {} freed values", F::NAME, checks.early_frees());
    assert_eq!(arena.created(), arena.dropped(), "rcu_{}: leak or double drop", F::NAME);
}

/// `Retired::into_inner_after_grace_period` hands the value over after a
/// grace period outside a read-side section, and panics with a message
/// naming the misuse inside one. `get_mut`, `into_inner`, `Default` and
/// `From` need no grace period.
pub fn retired_values_wait_only_where_they_may<F: RcuFlavour>() {
    let cell: RcuCell<u64, F> = RcuCell::from(1);
    let old = cell.swap(2);
    assert_eq!(*old, 1);
    assert_eq!(*old.into_inner_after_grace_period(), 1);
    let mut cell = cell;
    *cell.get_mut() += 1;
    assert_eq!(cell.into_inner(), 3);
    assert_eq!(RcuCell::<u64, F>::default().into_inner(), 0);
    let mut option: RcuOption<u64, F> = RcuOption::from(Some(5));
    assert_eq!(option.get_mut().copied(), Some(5));
    assert_eq!(option.into_inner(), Some(5));

    let cell: RcuCell<u64, F> = RcuCell::new(7);
    let mut old = Some(cell.swap(8));
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        in_read_section::<F>(&mut || drop(old.take().map(|o| o.into_inner_after_grace_period())));
    }))
    .expect_err("into_inner_after_grace_period inside a read-side section must panic, not deadlock");
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("Retired::into_inner_after_grace_period()"), "{msg}");
}

/// Flags a [`SlowDebug`] value shares with the test.
#[derive(Default)]
struct DebugFlags {
    inside: AtomicBool,
    gp_done: AtomicBool,
    gp_ended_inside: AtomicBool,
}

/// A value whose `Debug` dwells 100 ms, noting whether a grace period that
/// started while it printed ended before it returned.
struct SlowDebug(&'static DebugFlags);

impl std::fmt::Debug for SlowDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Release/Acquire: plain hand-offs with the writer thread.
        self.0.inside.store(true, Ordering::Release);
        std::thread::sleep(std::time::Duration::from_millis(100));
        self.0.gp_ended_inside.store(self.0.gp_done.load(Ordering::Acquire), Ordering::Relaxed);
        f.write_str("SlowDebug")
    }
}

/// `Debug` of `RcuCell` and `RcuOption` prints the value under a section
/// of its own: on an unregistered thread and inside the caller's section
/// alike, leaving the thread as it was, and holding grace periods off
/// while it reads.
pub fn debug_reads_under_its_own_section<F: RcuFlavour>() {
    let cell: RcuCell<u64, F> = RcuCell::new(41);
    let option: RcuOption<u64, F> = RcuOption::from(Some(42));
    std::thread::scope(|s| {
        s.spawn(|| {
            let text = format!("{cell:?} {option:?} {:?}", RcuOption::<u64, F>::empty());
            assert!(text.contains("41") && text.contains("Some(42)") && text.contains("None"), "{text}");
            assert!(F::engine().may_block(), "rcu_{}: Debug left the thread in a read-side section", F::NAME);
            if F::PROTOCOL == rcu_core::Protocol::Increment {
                assert!(F::engine().current_slot().is_none(), "rcu_qsbr: Debug left the thread registered");
            }
        });
    });
    in_read_section::<F>(&mut || {
        assert!(format!("{cell:?}").contains("41"));
        assert!(!F::engine().may_block(), "rcu_{}: Debug ended the caller's own section", F::NAME);
    });
    let flags: &'static DebugFlags = Box::leak(Box::default());
    let slow: RcuCell<SlowDebug, F> = RcuCell::new(SlowDebug(flags));
    let writer = std::thread::spawn(move || {
        while !flags.inside.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        F::synchronize_rcu();
        flags.gp_done.store(true, Ordering::Release);
    });
    assert!(format!("{slow:?}").contains("SlowDebug"));
    writer.join().unwrap();
    assert!(
        !flags.gp_ended_inside.load(Ordering::Relaxed),
        "rcu_{}: a grace period ended while Debug was reading the value",
        F::NAME
    );
}
