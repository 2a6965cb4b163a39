//! The threads of a run other than the writer: readers, extra updaters and
//! churn threads, and the read-side check they all share.

use crate::board::{Board, Histogram};
use crate::flavour::TortureFlavour;
use crate::ledger::{Retiree, Source};
use crate::rng::Rng;
use crate::writer::CellValue;
use rcu_core::RcuCell;
use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Role numbers mixed into each thread's seed.
pub(crate) mod role {
    pub const WRITER: u64 = 1;
    pub const READER: u64 = 2;
    pub const UPDATER: u64 = 3;
    pub const CHURN: u64 = 4;
    pub const FLOOD: u64 = 5;
}

/// Reads are added to the shared counter in batches of this many.
const READ_BATCH: u64 = 256;

/// One read-side section that checks both lanes: the pointer lane in the
/// outer section and, half of the time, the cell lane in a nested one.
pub fn check_one_section<F: TortureFlavour>(
    board: &Board,
    cell: Option<&RcuCell<CellValue, F>>,
    thread: &F::Thread,
    rng: &mut Rng,
    who: &str,
    histogram: &mut Histogram,
) {
    let outer = F::read_lock(thread);
    let element = board.load_pointer();
    let first = element.observe();
    if let Some(cell) = cell.filter(|_| rng.one_in(2)) {
        check_cell_nested::<F>(board, cell, thread, rng, who, histogram);
    }
    spin(rng.below(64));
    let last = element.observe();
    drop(outer);
    board.judge(who, element, first, last, histogram);
}

/// A nested section reading the cell lane.
fn check_cell_nested<F: TortureFlavour>(
    board: &Board,
    cell: &RcuCell<CellValue, F>,
    thread: &F::Thread,
    rng: &mut Rng,
    who: &str,
    histogram: &mut Histogram,
) {
    let inner = F::read_lock(thread);
    // This reads the cell's heap value: if the engine freed it early, this
    // load is itself the use-after-free that sanitizers report; the side
    // table still catches it, because the value's token marks the element
    // freed before the memory is released.
    let index = cell.load(&inner).index;
    let Some(element) = board.pool.get(index) else {
        drop(inner);
        board.fail("RcuCell::replace", format_args!("{who} read element index {index} from the cell: garbage"));
        return;
    };
    let first = element.observe();
    spin(rng.below(32));
    let last = element.observe();
    drop(inner);
    board.judge(who, element, first, last, histogram);
}

fn spin(n: u64) {
    for _ in 0..n {
        std::hint::spin_loop();
    }
}

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
/// quiescent states (QSBR) and pausing now and then (QSBR: offline, maybe
/// with a `synchronize_rcu`; memb: unregister and register again).
pub fn reader<F: TortureFlavour>(board: &Board, cell: &RcuCell<CellValue, F>, index: u64) {
    let mut rng = Rng::for_thread(board.label.seed, role::READER, index);
    let who = format!("reader {index}");
    let mut histogram = Histogram::default();
    let mut reads = ReadCounter { board, pending: 0 };
    board.name_this_thread(&who);
    let mut thread = F::register();
    while !board.stopping() {
        check_one_section::<F>(board, Some(cell), &thread, &mut rng, &who, &mut histogram);
        F::quiescent(&mut thread);
        reads.add();
        if rng.one_in(1024) {
            F::pause(&mut thread, &mut rng);
        }
    }
    F::unregister(thread);
    board.merge_histogram(&histogram);
}

/// An extra updater: only `synchronize_rcu`, so that grace periods overlap
/// and are shared with the writer's. Odd-numbered updaters are registered
/// threads (and, for QSBR, read between their calls), even ones are not.
pub fn updater<F: TortureFlavour>(board: &Board, index: u64) {
    let mut rng = Rng::for_thread(board.label.seed, role::UPDATER, index);
    let mut histogram = Histogram::default();
    let who = format!("updater {index}");
    board.name_this_thread(&who);
    let mut thread = (index % 2 == 1).then(F::register);
    while !board.stopping() {
        match thread.as_mut() {
            Some(t) => {
                check_one_section::<F>(board, None, t, &mut rng, &who, &mut histogram);
                F::quiescent(t);
                F::synchronize(t);
            }
            None => F::synchronize_unregistered(),
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
        F::unregister(t);
    }
    board.merge_histogram(&histogram);
}

/// A reader that stays inside one read-side section until the run stops
/// (`--sabotage-hang`): grace periods cannot complete, so the watchdog must
/// report a hang naming this thread's slot.
pub fn stuck_reader<F: TortureFlavour>(board: &Board) {
    board.name_this_thread("stuck reader");
    let thread = F::register();
    let guard = F::read_lock(&thread);
    while !board.stopping() {
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(guard);
    F::unregister(thread);
}

/// A churn thread: starts short-lived threads one after the other until the
/// run stops. Each registers, reads a little (sometimes unregistering and
/// registering again midway), leaves a few objects pending (a partial
/// kvfree block, sometimes a callback) and exits in one of three ways:
/// unregistered, still registered (the thread-exit destructor must release
/// it and seal the block), or with one more read-side section and one more
/// `kvfree_rcu` to run from a thread-local destructor. The next child
/// registers again, often in the slots just released.
pub fn churn<F: TortureFlavour>(board: &'static Board, cell: &RcuCell<CellValue, F>, index: u64) {
    let mut rng = Rng::for_thread(board.label.seed, role::CHURN, index);
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

fn churn_child<F: TortureFlavour>(board: &'static Board, cell: &RcuCell<CellValue, F>, seed: u64) {
    let mut rng = Rng::for_thread(seed, role::CHURN, 0);
    let mut histogram = Histogram::default();
    let mut thread = F::register();
    for _ in 0..=rng.below(32) {
        check_one_section::<F>(board, Some(cell), &thread, &mut rng, "churn thread", &mut histogram);
        F::quiescent(&mut thread);
        if rng.one_in(8) {
            F::unregister(thread);
            thread = F::register();
        }
    }
    board.merge_histogram(&histogram);
    leave_objects_pending::<F>(board, &mut thread, &mut rng);
    match rng.below(3) {
        0 => F::unregister(thread),
        1 => F::exit_registered(thread),
        _ => {
            // QSBR must be unregistered first (a second QsbrThread on one
            // thread is misuse); memb may read either way.
            F::unregister(thread);
            arm_late_read::<F>(board);
        }
    }
}

/// The path name of what churn threads leave pending.
pub const CHURN_PATH: &str = "churn";

/// Right before a churn thread exits: a few objects into its kvfree block
/// (which stays partial, to be sealed by the thread's exit unless the drain
/// timer or an `rcu_barrier` gets there first) and sometimes a callback,
/// as a reader or not.
fn leave_objects_pending<F: TortureFlavour>(board: &'static Board, thread: &mut F::Thread, rng: &mut Rng) {
    let objects = 1 + rng.below(6);
    let reading = rng.one_in(2);
    let retiree = || Retiree::new::<F>(board, Source::Churn, CHURN_PATH);
    crate::paths::maybe_reading::<F, _>(thread, reading, || {
        for _ in 0..objects {
            match rng.below(4) {
                0 => F::kvfree(Box::new(retiree())),
                1 => F::kvfree_vec(vec![retiree(), retiree()]),
                2 => F::kvfree(Box::new(retiree()) as Box<dyn Send>),
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

fn arm_late_read<F: TortureFlavour>(board: &'static Board) {
    LATE_READ.with(|l| l.job.set(Some((late_read::<F>, board))));
}

fn late_read<F: TortureFlavour>(board: &'static Board) {
    let mut rng = Rng::for_thread(board.label.seed, role::CHURN, u64::MAX);
    let mut histogram = Histogram::default();
    let thread = F::register();
    // The pointer lane only: the cell belongs to a scope that may be over.
    check_one_section::<F>(board, None, &thread, &mut rng, "thread-exit destructor", &mut histogram);
    F::unregister(thread);
    // kvfree_rcu from a thread-local destructor: the thread's kvfree state
    // may be gone already (then the engine takes its allocating path).
    F::kvfree(Box::new(Retiree::new::<F>(board, Source::ThreadExit, CHURN_PATH)));
    board.merge_histogram(&histogram);
    // Relaxed: a statistic.
    board.progress.late_reads.fetch_add(1, Ordering::Relaxed);
}

/// The message of a panic payload.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(non-string panic payload)".to_owned())
}
