//! The threads of a run other than the writer: readers, extra updaters,
//! the stuck reader of `--sabotage-hang`, and churn threads.

use crate::board::{Board, Histogram};
use crate::check::{check_one_section, CellValue};
use crate::discipline;
use crate::failures::panic_text;
use crate::label::role;
use crate::ledger::Source;
use crate::path::name;
use rcu_core::{RcuCell, RcuFlavour};
use rcu_testkit::rng::Rng;
use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Reads are added to the shared counter in batches of this many.
const READ_BATCH: u64 = 256;

/// Counts reads locally and adds them to the board in batches.
struct ReadCounter<'b> {
    board: &'b Board,
    pending: u64,
}

impl ReadCounter<'_> {
    fn add(&mut self) {
        self.pending += 1;
        if self.pending == READ_BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        // Relaxed: a statistic.
        self.board.progress.reads.fetch_add(self.pending, Ordering::Relaxed);
        self.pending = 0;
    }
}

impl Drop for ReadCounter<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A reader: checks sections back to back until the run stops, announcing
/// quiescent states and pausing now and then (`discipline::pause`).
pub fn reader<F: RcuFlavour>(board: &Board, cell: &RcuCell<CellValue, F>, index: u64) {
    let mut rng = board.label.rng(role::READER, index);
    let who = format!("reader {index}");
    let mut histogram = Histogram::default();
    let mut reads = ReadCounter { board, pending: 0 };
    board.name_this_thread(&who);
    let mut thread = F::register_thread();
    while !board.stopping() {
        check_one_section::<F>(board, Some(cell), &thread, &mut rng, &who, &mut histogram);
        F::quiescent_state(&mut thread);
        reads.add();
        if rng.one_in(1024) {
            thread = discipline::pause::<F>(thread, &mut rng);
        }
    }
    F::unregister_thread(thread);
    board.merge_histogram(&histogram);
}

/// An extra updater: only `synchronize_rcu`, so that grace periods overlap
/// and are shared with the writer's. Odd-numbered updaters are registered
/// threads that also read between their calls; even ones are not.
pub fn updater<F: RcuFlavour>(board: &Board, index: u64) {
    let mut rng = board.label.rng(role::UPDATER, index);
    let mut histogram = Histogram::default();
    let who = format!("updater {index}");
    board.name_this_thread(&who);
    let mut thread = (index % 2 == 1).then(F::register_thread);
    while !board.stopping() {
        match thread.as_mut() {
            Some(t) => {
                check_one_section::<F>(board, None, t, &mut rng, &who, &mut histogram);
                F::quiescent_state(t);
                discipline::synchronize::<F>(t);
            }
            None => F::synchronize_rcu(),
        }
        // Relaxed: a statistic.
        board.progress.updater_synchronizes.fetch_add(1, Ordering::Relaxed);
        match rng.below(4) {
            0 => std::thread::yield_now(),
            1 => std::thread::sleep(Duration::from_micros(rng.below(500))),
            _ => {}
        }
    }
    if let Some(t) = thread {
        F::unregister_thread(t);
    }
    board.merge_histogram(&histogram);
}

/// A reader that stays inside one read-side section until the run stops
/// (`--sabotage-hang`): grace periods cannot complete, so the watchdog must
/// report a hang naming this thread's slot.
pub fn stuck_reader<F: RcuFlavour>(board: &Board) {
    board.name_this_thread("stuck reader");
    let thread = F::register_thread();
    let guard = F::read_lock(&thread);
    while !board.stopping() {
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(guard);
    F::unregister_thread(thread);
}

/// A churn thread: starts short-lived threads one after the other until the
/// run stops. Each registers, reads a little (sometimes unregistering and
/// registering again midway), leaves a few objects pending (a partial
/// kvfree block, sometimes a callback) and exits in one of three ways:
/// unregistered, still registered (the thread-exit destructor must release
/// it and seal the block), or with one more read-side section and one more
/// `kvfree_rcu` to run from a thread-local destructor. The next child
/// registers again, often in the slots just released.
pub fn churn<F: RcuFlavour>(board: &'static Board, cell: &RcuCell<CellValue, F>, index: u64) {
    let mut rng = board.label.rng(role::CHURN, index);
    board.name_this_thread(&format!("churn {index}"));
    while !board.stopping() {
        let child_seed = rng.next_u64();
        let outcome = std::thread::scope(|s| {
            // Joined explicitly: `join` returns only after the child's
            // thread-local destructors (its unregistration) have run.
            s.spawn(|| churn_child::<F>(board, cell, child_seed)).join()
        });
        if let Err(panic) = outcome {
            board.fail("-", format_args!("churn thread {index} panicked: {}", panic_text(&*panic)));
        }
        // Relaxed: a statistic.
        board.progress.churned_threads.fetch_add(1, Ordering::Relaxed);
    }
}

fn churn_child<F: RcuFlavour>(board: &'static Board, cell: &RcuCell<CellValue, F>, seed: u64) {
    let mut rng = Rng::for_thread(seed, role::CHURN, 0);
    let mut histogram = Histogram::default();
    let mut thread = F::register_thread();
    for _ in 0..=rng.below(32) {
        check_one_section::<F>(board, Some(cell), &thread, &mut rng, "churn thread", &mut histogram);
        F::quiescent_state(&mut thread);
        if rng.one_in(8) {
            F::unregister_thread(thread);
            thread = F::register_thread();
        }
    }
    board.merge_histogram(&histogram);
    leave_objects_pending::<F>(board, &mut thread, &mut rng);
    match rng.below(3) {
        0 => F::unregister_thread(thread),
        1 => discipline::exit_registered::<F>(thread),
        _ => {
            // Unregistered first: the late read registers again, and a
            // flavour may allow one handle per thread (QSBR).
            F::unregister_thread(thread);
            arm_late_read::<F>(board);
        }
    }
}

/// Right before a churn thread exits: a few objects into its kvfree block
/// (which stays partial, to be sealed by the thread's exit unless the drain
/// timer or an `rcu_barrier` gets there first) and sometimes a callback,
/// as a reader or not.
fn leave_objects_pending<F: RcuFlavour>(board: &'static Board, thread: &mut F::Thread, rng: &mut Rng) {
    let objects = 1 + rng.below(6);
    let reading = rng.one_in(2);
    let retiree = || board.retiree::<F>(Source::Churn, name::CHURN);
    discipline::maybe_reading::<F, _>(thread, reading, || {
        for _ in 0..objects {
            match rng.below(4) {
                0 => F::kvfree_rcu(Box::new(retiree())),
                1 => F::kvfree_rcu(vec![retiree(), retiree()]),
                2 => F::kvfree_rcu(Box::new(retiree()) as Box<dyn Send>),
                _ => {
                    let r = retiree();
                    F::call_rcu(move || drop(r));
                }
            }
        }
    });
    // Relaxed: a statistic.
    board.progress.churn_pending.fetch_add(objects, Ordering::Relaxed);
}

/// A section to run from a thread-local destructor, when the flavour's own
/// thread state may already be gone.
struct LateRead {
    job: Cell<Option<LateJob>>,
}

/// A late read: the function to run and the board it reads.
type LateJob = (fn(&'static Board), &'static Board);

impl Drop for LateRead {
    fn drop(&mut self) {
        if let Some((read, board)) = self.job.take() {
            read(board);
        }
    }
}

thread_local! {
    static LATE_READ: LateRead = const { LateRead { job: Cell::new(None) } };
}

fn arm_late_read<F: RcuFlavour>(board: &'static Board) {
    LATE_READ.with(|l| l.job.set(Some((late_read::<F>, board))));
}

fn late_read<F: RcuFlavour>(board: &'static Board) {
    let mut rng = board.label.rng(role::CHURN, u64::MAX);
    let mut histogram = Histogram::default();
    let thread = F::register_thread();
    // The pointer lane only: the cell belongs to a scope that may be over.
    check_one_section::<F>(board, None, &thread, &mut rng, "thread-exit destructor", &mut histogram);
    F::unregister_thread(thread);
    // kvfree_rcu from a thread-local destructor: the thread's kvfree state
    // may be gone already (then the engine takes its allocating path).
    F::kvfree_rcu(Box::new(board.retiree::<F>(Source::ThreadExit, name::CHURN)));
    board.merge_histogram(&histogram);
    // Relaxed: a statistic.
    board.progress.late_reads.fetch_add(1, Ordering::Relaxed);
}
