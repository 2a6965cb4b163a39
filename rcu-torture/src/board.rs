//! The state every thread of one run shares: the arena, the pointer lane,
//! the stop flag, progress counters, the ledgers and the failure log.
//!
//! It is leaked (one per run) because some readers run in thread-local
//! destructors, after the scope that started their thread may have ended.

use crate::ceiling::{mib, RssWatch};
use crate::failures::Failures;
use crate::label::RunLabel;
use crate::ledger::{Ledgers, Retiree, Source};
use rcu_core::RcuFlavour;
use rcu_testkit::arena::{Arena, Element, Observation, PIPE_LEN};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Counters the watchdog and the report read (Relaxed: statistics).
#[derive(Debug, Default)]
pub struct Progress {
    /// Writer steps completed.
    pub writer_steps: AtomicU64,
    /// Index of the retire path the writer is in ([`IDLE`] between steps).
    pub writer_path: AtomicUsize,
    /// Read-side sections checked by the threads that open and end their
    /// sections on one thread.
    pub reads: AtomicU64,
    /// Sections opened by a hand-off reader and ended by its partner.
    pub handoff_reads: AtomicU64,
    /// Sections held across `.await` by the async reader tasks.
    pub async_reads: AtomicU64,
    /// Of `async_reads`: sections that ended on another worker thread than
    /// the one they began on.
    pub async_migrations: AtomicU64,
    /// Grace periods asked for by the extra updaters.
    pub updater_synchronizes: AtomicU64,
    /// Short-lived threads started by the churn threads.
    pub churned_threads: AtomicU64,
    /// Read-side sections run from thread-exit destructors.
    pub late_reads: AtomicU64,
    /// Times the writer found no reusable element and waited.
    pub writer_stalls: AtomicU64,
    /// Read-side sections that found their element freed or aged 2+.
    pub bad_reads: AtomicU64,
    /// Bit `p` set once retire path `p` has completed a step.
    pub paths_ran: AtomicU64,
    /// Links run by the chained callbacks of the `rcu_barrier` path.
    pub chain_links: AtomicU64,
    /// Objects churn threads left pending when they exited.
    pub churn_pending: AtomicU64,
    /// Flood bursts and the calls they made.
    pub flood_bursts: AtomicU64,
    /// See `flood_bursts`.
    pub flood_calls: AtomicU64,
}

/// `Progress::writer_path` when the writer is between retire paths.
pub const IDLE: usize = usize::MAX;

/// Ages seen by readers: bucket `a` counts reads whose element had age `a`
/// (the last bucket: `PIPE_LEN` or more). Correct RCU fills 0 and 1 only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram(pub [u64; PIPE_LEN as usize + 1]);

impl Histogram {
    /// Counts one read at `age`.
    pub fn count(&mut self, age: u32) {
        self.0[age.min(PIPE_LEN) as usize] += 1;
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a += b;
        }
    }

    /// Reads at age 2 or more (each one a reader that outlived a grace period).
    pub fn late(&self) -> u64 {
        self.0[2..].iter().sum()
    }
}

/// Everything the threads of one run share.
#[derive(Debug)]
pub struct Board {
    /// Flavour and seed.
    pub label: RunLabel,
    /// The elements readers can reach.
    pub arena: &'static Arena,
    /// The pointer lane: the element published by the raw-pointer paths.
    /// Always points into `arena`.
    pointer: AtomicPtr<Element>,
    /// Names of the retire paths, by index (for messages).
    pub path_names: Vec<&'static str>,
    /// Set when the run's time is up.
    pub stop: AtomicBool,
    /// Failures seen.
    pub failures: Failures,
    /// Progress counters.
    pub progress: Progress,
    /// Reader histograms, merged in as threads finish.
    pub histogram: Mutex<Histogram>,
    /// Accounting of the objects that are not arena tokens.
    pub ledgers: Ledgers,
    /// The memory ceiling and its samples.
    pub rss: RssWatch,
    /// Kernel thread ids of the long-lived torture threads and their names,
    /// so that a hang report can say which thread a reader slot belongs to.
    thread_names: Mutex<Vec<(u64, String)>>,
}

impl Board {
    /// A board whose pointer lane publishes `first`, leaked for the run.
    pub fn leak(
        label: RunLabel,
        arena: &'static Arena,
        first: usize,
        path_names: Vec<&'static str>,
        rss: RssWatch,
    ) -> &'static Board {
        let pointer = AtomicPtr::new(arena.element(first) as *const Element as *mut Element);
        let progress = Progress { writer_path: AtomicUsize::new(IDLE), ..Progress::default() };
        Box::leak(Box::new(Board {
            label,
            arena,
            pointer,
            path_names,
            stop: AtomicBool::new(false),
            failures: Failures::new(label),
            progress,
            histogram: Mutex::new(Histogram::default()),
            ledgers: Ledgers::default(),
            rss,
            thread_names: Mutex::new(Vec::new()),
        }))
    }

    /// Samples the RSS (see `ceiling.rs`); the first sample above the ceiling
    /// is a failure of `path`, found by `who`.
    pub fn sample_rss(&self, path: &str, who: &str) {
        if let Some(over) = self.rss.sample() {
            self.fail(
                path,
                format_args!(
                    "RSS {:.1} MiB (sampled by {who}) exceeds the memory ceiling {:.1} MiB (baseline {:.1} MiB + headroom): the reclaim backlog is not bounded",
                    mib(over.rss),
                    mib(self.rss.ceiling),
                    mib(self.rss.baseline)
                ),
            );
        }
    }

    /// Whether the run's time is up.
    #[inline]
    pub fn stopping(&self) -> bool {
        // Relaxed: a flag polled in loops; lateness of one iteration is fine.
        self.stop.load(Ordering::Relaxed)
    }

    /// The element the pointer lane publishes now. Call inside a read-side
    /// section to take part in the test.
    #[inline]
    pub fn load_pointer(&self) -> &'static Element {
        // Acquire pairs with the Release half of `publish_pointer`'s swap:
        // the reader sees the recycled element's fresh side-table state.
        let p = self.pointer.load(Ordering::Acquire);
        // SAFETY: the pointer always points into `self.arena`, which is
        // leaked and never freed (see the module docs); elements are only
        // ever accessed through atomics and a mutex.
        unsafe { &*p }
    }

    /// Writer only: publishes `element` on the pointer lane and returns the
    /// element it replaced.
    pub(crate) fn publish_pointer(&self, element: &'static Element) -> &'static Element {
        // Release publishes the element's recycled state (pairs with the
        // Acquire load in `load_pointer`); Acquire: the writer goes on to
        // update the old element's side table.
        let old = self.pointer.swap(element as *const Element as *mut Element, Ordering::AcqRel);
        // SAFETY: as in `load_pointer`.
        unsafe { &*old }
    }

    /// The name of path `index`, or `-` for none.
    pub fn path_name(&self, index: Option<usize>) -> &'static str {
        index.and_then(|i| self.path_names.get(i).copied()).unwrap_or("-")
    }

    /// Records a failure, naming the flavour, path and seed.
    pub fn fail(&self, path: &str, what: impl std::fmt::Display) {
        self.failures.fail(path, what);
    }

    /// Turns the arena's early drops since the last call into failures of
    /// the paths that retired the elements.
    pub fn report_early_drops(&self) {
        for e in self.arena.take_early_drops() {
            self.fail(
                self.path_name(e.path),
                format_args!(
                    "the token of element {} was dropped before the grace period of its retire completed (cookie {:?} not reached): an early free",
                    e.id, e.cookie
                ),
            );
        }
    }

    /// A retiree of `source`, handed over by `path`, counted in this run's
    /// ledgers (see `ledger.rs`).
    pub fn retiree<F: RcuFlavour>(&'static self, source: Source, path: &'static str) -> Retiree {
        Retiree::new::<F>(&self.ledgers, &self.failures, source, path)
    }

    /// `n` retirees (for `Vec` and boxed-slice hand-offs).
    pub fn retirees<F: RcuFlavour>(&'static self, source: Source, path: &'static str, n: usize) -> Vec<Retiree> {
        (0..n).map(|_| self.retiree::<F>(source, path)).collect()
    }

    /// Judges what a reader (`who`) saw of `element` inside one read-side
    /// section (`first` on reaching it, `last` just before leaving) and
    /// counts it in `histogram`.
    pub fn judge(
        &self,
        who: &str,
        element: &Element,
        first: Observation,
        last: Observation,
        histogram: &mut Histogram,
    ) {
        let age = first.age.max(last.age);
        histogram.count(age);
        if first.freed || last.freed || age >= 2 {
            // Relaxed: a count read after the threads join.
            self.progress.bad_reads.fetch_add(1, Ordering::Relaxed);
            let path = self.path_name(element.retired_by());
            let what = if first.freed || last.freed { "marked freed" } else { "after its grace period ended" };
            self.fail(
                path,
                format_args!(
                    "{who} reached element {} {what} inside a read-side section (age {} then {}, freed {} then {})",
                    element.id, first.age, last.age, first.freed, last.freed
                ),
            );
        }
    }

    /// Records the calling thread's name for hang reports.
    pub fn name_this_thread(&self, name: &str) {
        let tid = rcu_core::sys::gettid();
        self.thread_names.lock().unwrap_or_else(|e| e.into_inner()).push((tid, name.to_owned()));
    }

    /// `thread <tid> = <name>` for every named thread.
    pub fn thread_names(&self) -> String {
        let names = self.thread_names.lock().unwrap_or_else(|e| e.into_inner());
        names.iter().map(|(tid, name)| format!("thread {tid} = {name}")).collect::<Vec<_>>().join(", ")
    }

    /// Adds a finished thread's histogram.
    pub fn merge_histogram(&self, h: &Histogram) {
        self.histogram.lock().unwrap_or_else(|e| e.into_inner()).merge(h);
    }
}
