//! One stress run (one flavour, one strategy) and its verification.
//!
//! 1. `readers` threads register with the flavour and look descriptors up
//!    at random, in read-side sections of `section_len` lookups (QSBR
//!    readers also announce a quiescent state every `qs_interval` lookups).
//!    A section loads the published array once and makes all its lookups in
//!    it. Each lookup is checked: the descriptor's index and magic value,
//!    the array's generation never going backwards, and the array's state
//!    in the table's side table (an array already freed is an *early free*;
//!    the check reads no freed memory).
//! 2. The resizer (the calling thread, never a registered QSBR reader,
//!    never inside a memb section, so it may wait for grace periods) grows
//!    the table `resizes` times; that is the timed part.
//! 3. Readers stop; the table is dropped; after a barrier every array
//!    created must have been dropped, and every descriptor too (leaks).
//!
//! A run is [`FlavourRunner::run`] for a flavour of [`FLAVOURS`];
//! [`RunResult::failures`] names what went wrong, if anything.

use crate::table::{DescriptorTable, Lookup, Strategy};
use rcu_core::fault::AllocFailure;
use rcu_core::{RcuFlavour, ReadSection};
use rcu_memb::Memb;
use rcu_qsbr::Qsbr;
use rcu_testkit::pin::CpuPlan;
use rcu_testkit::rng::Rng;
use rcu_testkit::rss;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Magic value every live descriptor carries.
const MAGIC: u64 = 0xEF53_B10C_DE5C_0001;

/// Every flavour the binary can run, in the order it runs them: adding a
/// flavour is adding its line here.
pub const FLAVOURS: &[FlavourRunner] = &[FlavourRunner::of::<Memb>(), FlavourRunner::of::<Qsbr>()];

/// One flavour: its name on the command line and in reports, and the
/// stress run for it.
pub struct FlavourRunner {
    /// The flavour's name (`RcuFlavour::NAME`).
    pub name: &'static str,
    run: fn(&RunConfig, &mut Progress) -> RunResult,
}

impl FlavourRunner {
    const fn of<F: RcuFlavour>() -> Self {
        FlavourRunner { name: F::NAME, run: run::<F> }
    }

    /// The flavour named `name` in [`FLAVOURS`], if any.
    pub fn named(name: &str) -> Option<&'static FlavourRunner> {
        FLAVOURS.iter().find(|f| f.name == name)
    }

    /// Runs `config` on this flavour, on the calling thread and `readers`
    /// threads it spawns and joins.
    ///
    /// One run at a time: a run uses process-wide settings. It resets the
    /// process's peak RSS, sets the flavour's kvfree drain interval when
    /// `kvfree_drain` is given (and leaves it so), and with
    /// `fail_kvfree_blocks` makes kvfree block allocations fail while the
    /// resizer runs (set back to none before it returns).
    pub fn run(&self, config: &RunConfig, progress: &mut Progress) -> RunResult {
        (self.run)(config, progress)
    }
}

/// What one run is asked to do.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// How the table retires the array each resize replaces.
    pub strategy: Strategy,
    /// Reader threads.
    pub readers: usize,
    /// Resizes (grows by one descriptor).
    pub resizes: u64,
    /// Lookups per read-side critical section.
    pub section_len: u64,
    /// QSBR readers: lookups between quiescent states (rounded up to whole
    /// sections).
    pub qs_interval: u64,
    /// The resizer yields the CPU after every N resizes (0: never).
    pub yield_every: u64,
    /// call-rcu: every Nth wrapper allocation fails (0: never).
    pub fail_wrapper_every: u64,
    /// kvfree: the resizer runs as if no kvfree block could be allocated.
    pub fail_kvfree_blocks: bool,
    /// kvfree: how long a partial block may wait before it is sealed
    /// (`None`: the engine's setting).
    pub kvfree_drain: Option<Duration>,
    /// Seed of the readers' random lookups.
    pub seed: u64,
    /// Pin reader i to the i-th allowed CPU (modulo their number).
    pub pin_readers: bool,
    /// The run's name in progress lines.
    pub label: String,
}

impl RunConfig {
    /// Reader `id`'s own random stream.
    fn reader_seed(&self, id: usize) -> u64 {
        self.seed ^ (id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
}

/// A block-group descriptor stand-in, as `ext4_group_desc` is to a resize.
struct GroupDescriptor {
    index: usize,
    magic: u64,
    drops: Arc<AtomicU64>,
}

impl Drop for GroupDescriptor {
    fn drop(&mut self) {
        // Relaxed: read after the table is dropped on this thread.
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

type Table<F> = DescriptorTable<GroupDescriptor, F>;

/// What one reader counted, or all of a run's readers together.
#[derive(Default, Debug, Clone, Copy)]
pub struct ReaderTally {
    /// Lookups made and checked.
    pub lookups: u64,
    /// Lookups that reached an array already freed.
    pub early_frees: u64,
    /// Lookups that returned a wrong descriptor, a bad magic value or a
    /// wrong end of table, and sections that saw an older array than one
    /// seen before.
    pub corrupt: u64,
}

impl ReaderTally {
    fn add(&mut self, other: ReaderTally) {
        self.lookups += other.lookups;
        self.early_frees += other.early_frees;
        self.corrupt += other.corrupt;
    }
}

/// A reader's per-thread state: its random stream and its checks.
struct ReaderState {
    rng: Rng,
    tally: ReaderTally,
    /// Newest generation seen: publication must never go backwards.
    newest_generation: u64,
}

impl ReaderState {
    fn new(seed: u64) -> Self {
        ReaderState { rng: Rng::for_thread(seed, 0, 0), tally: ReaderTally::default(), newest_generation: 0 }
    }

    /// One read-side section's worth of checked lookups.
    #[inline]
    fn section<F: RcuFlavour, G: ReadSection<F>>(&mut self, table: &Table<F>, guard: &G, lookups: u64) {
        // One array for the whole section: the reader holds it as long as
        // its section lasts, which is what an early free would break.
        let array = table.array(guard);
        let len = array.len();
        let went_back = array.generation() < self.newest_generation;
        self.newest_generation = array.generation();
        self.tally.corrupt += u64::from(went_back);
        for _ in 0..lookups {
            // One index in len+1 is past the end, to check `None` there.
            let index = self.rng.below(len as u64 + 1) as usize;
            let corrupt = match array.get_checked(index) {
                Lookup::Found(d) => d.index != index || d.magic != MAGIC,
                Lookup::PastEnd => index != len,
                Lookup::Reclaimed => {
                    self.tally.early_frees += 1;
                    false
                }
            };
            self.tally.corrupt += u64::from(corrupt);
            self.tally.lookups += 1;
        }
    }
}

/// Starting and stopping readers, and counting their lookups as they go.
struct ReaderControl {
    /// Readers that have completed their first read-side section.
    running: AtomicUsize,
    stop: AtomicBool,
    /// Each reader's lookups so far, so the driver can count exactly those
    /// made while the resizer ran.
    lookups: Vec<PaddedCounter>,
}

/// A counter on its own cache line (readers store to theirs per section).
#[repr(align(128))]
struct PaddedCounter(AtomicU64);

impl ReaderControl {
    fn new(readers: usize) -> Self {
        ReaderControl {
            running: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            lookups: (0..readers).map(|_| PaddedCounter(AtomicU64::new(0))).collect(),
        }
    }

    /// Called by reader `id` after each section; returns whether to stop.
    #[inline]
    fn after_section(&self, id: usize, tally: &ReaderTally, first: &mut bool) -> bool {
        // Relaxed: a statistic; the driver reads it to count lookups.
        self.lookups[id].0.store(tally.lookups, Ordering::Relaxed);
        if std::mem::take(first) {
            // Relaxed: the driver only needs to know readers are busy.
            self.running.fetch_add(1, Ordering::Relaxed);
        }
        // Relaxed: a flag; the join publishes the readers' tallies.
        self.stop.load(Ordering::Relaxed)
    }

    /// Lookups made by every reader so far.
    fn total_lookups(&self) -> u64 {
        self.lookups.iter().map(|c| c.0.load(Ordering::Relaxed)).sum()
    }
}

/// Reader `id` of a run on flavour `F`, until told to stop: sections of
/// `section_len` lookups, and a quiescent state once `qs_interval` lookups
/// have been made since the last one (a no-op where sections end with
/// their guard, as in memb).
fn reader<F: RcuFlavour>(table: &Table<F>, config: &RunConfig, control: &ReaderControl, id: usize) -> ReaderTally {
    let mut thread = F::register_thread();
    let mut state = ReaderState::new(config.reader_seed(id));
    let mut first = true;
    let mut since_quiescent = 0;
    loop {
        let guard = F::read_lock(&thread);
        state.section(table, &guard, config.section_len);
        drop(guard);
        since_quiescent += config.section_len;
        if since_quiescent >= config.qs_interval {
            F::quiescent_state(&mut thread);
            since_quiescent = 0;
        }
        if control.after_section(id, &state.tally, &mut first) {
            F::unregister_thread(thread);
            return state.tally;
        }
    }
}

/// What one run measured and verified.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The flavour's name (`RcuFlavour::NAME`).
    pub flavour: &'static str,
    /// How the run's table retired old arrays.
    pub strategy: Strategy,
    /// The resizer's wall time for all resizes.
    pub resize_time: Duration,
    /// The resizer's own CPU time for the resizes (user and system): the
    /// wall time less what it lost waiting or sharing a core with readers.
    pub resize_cpu: Option<Duration>,
    /// The barrier after the resizes: deferred frees still pending.
    pub drain_time: Duration,
    /// Resizes made (each grows the table by one descriptor).
    pub resizes: u64,
    /// From the first resize until every retired array was freed.
    pub grace_periods: u64,
    /// call-rcu retirements that fell back to synchronize-then-free.
    pub fallbacks: u64,
    /// kvfree_rcu calls that found no block and synchronized, then freed
    /// inline (the engine's count over the resizes and the barrier).
    pub kvfree_emergencies: u64,
    /// kvfree blocks sealed by any thread: full, by the drain timer, by the
    /// barrier.
    pub kvfree_blocks: [u64; 3],
    /// Reader threads.
    pub readers: usize,
    /// Every lookup checked, from the readers' start to their stop.
    pub reader: ReaderTally,
    /// Lookups made while the resizer ran (the rate's numerator).
    pub lookups_during: u64,
    /// The process's peak resident set size during the run, in bytes.
    pub peak_rss: Option<u64>,
    /// Most arrays alive at once, sampled after each resize.
    pub max_arrays_alive: u64,
    /// Arrays the table created (the first, empty one included).
    pub arrays_created: u64,
    /// Arrays dropped after the table and a barrier.
    pub arrays_dropped: u64,
    /// Descriptors the resizer added.
    pub descriptors_created: u64,
    /// Descriptors dropped with the table.
    pub descriptors_dropped: u64,
}

impl RunResult {
    /// Resizes per second of the resizer's wall time.
    pub fn resizes_per_sec(&self) -> f64 {
        self.resizes as f64 / self.resize_time.as_secs_f64()
    }

    /// Lookups per second, all readers together, while the resizer ran.
    pub fn lookups_per_sec(&self) -> f64 {
        self.lookups_during as f64 / self.resize_time.as_secs_f64()
    }

    /// Arrays and descriptors created and never dropped.
    pub fn leaks(&self) -> u64 {
        self.arrays_created.saturating_sub(self.arrays_dropped)
            + self.descriptors_created.saturating_sub(self.descriptors_dropped)
    }

    /// Messages naming each failure of this run (empty: it passed).
    pub fn failures(&self) -> Vec<String> {
        let who = format!("{}/{}", self.flavour, self.strategy.name());
        let mut out = Vec::new();
        if self.reader.early_frees > 0 {
            out.push(format!(
                "EARLY FREE in {who}: readers reached a freed array {} times (an array was reclaimed \
                 before a grace period covering its readers)",
                self.reader.early_frees
            ));
        }
        if self.reader.corrupt > 0 {
            out.push(format!(
                "CORRUPT in {who}: {} lookups returned a wrong descriptor, a bad magic value, a wrong \
                 end of table, or an older array than one seen before",
                self.reader.corrupt
            ));
        }
        if self.arrays_created != self.arrays_dropped {
            out.push(format!(
                "LEAK in {who}: {} arrays created, {} dropped after the table and a barrier",
                self.arrays_created, self.arrays_dropped
            ));
        }
        if self.descriptors_created != self.descriptors_dropped {
            out.push(format!(
                "LEAK in {who}: {} descriptors created, {} dropped with the table",
                self.descriptors_created, self.descriptors_dropped
            ));
        }
        out
    }
}

/// Runs one configuration on flavour `F`.
fn run<F: RcuFlavour>(config: &RunConfig, progress: &mut Progress) -> RunResult {
    rss::reset_peak();
    if let Some(interval) = config.kvfree_drain {
        F::set_kvfree_drain_interval(interval);
    }
    let mut table = DescriptorTable::new(config.strategy);
    table.inject_wrapper_failures(config.fail_wrapper_every);
    let table: Arc<Table<F>> = Arc::new(table);
    let generations = table.generations();
    let descriptor_drops = Arc::new(AtomicU64::new(0));
    let control = Arc::new(ReaderControl::new(config.readers));
    let readers: Vec<_> = (0..config.readers)
        .map(|id| {
            let (table, control, config) = (Arc::clone(&table), Arc::clone(&control), config.clone());
            std::thread::Builder::new()
                .name(format!("reader-{id}"))
                .spawn(move || {
                    if config.pin_readers {
                        CpuPlan::new(true).pin(id);
                    }
                    reader::<F>(&table, &config, &control, id)
                })
                .expect("cannot spawn a reader thread")
        })
        .collect();
    // The clock starts only once every reader is busy looking up.
    while control.running.load(Ordering::Relaxed) < config.readers {
        std::thread::yield_now();
    }

    let stats_before = F::stats();
    let lookups_before = control.total_lookups();
    if config.fail_kvfree_blocks {
        rcu_core::fault::set_alloc_failure(AllocFailure::Blocks);
    }
    let start = Instant::now();
    let cpu_start = thread_cpu_time();
    let mut max_arrays_alive = 0;
    for i in 0..config.resizes {
        let index = i as usize;
        table.grow(GroupDescriptor { index, magic: MAGIC, drops: Arc::clone(&descriptor_drops) });
        max_arrays_alive = max_arrays_alive.max(generations.alive());
        if i % 64 == 63 {
            progress.tick(&config.label, i + 1, config.resizes);
        }
        if config.yield_every != 0 && i % config.yield_every == 0 {
            std::thread::yield_now();
        }
    }
    let resize_time = start.elapsed();
    let resize_cpu = cpu_start.zip(thread_cpu_time()).map(|(a, b)| b.saturating_sub(a));
    rcu_core::fault::set_alloc_failure(AllocFailure::None);
    let lookups_during = control.total_lookups() - lookups_before;
    // Relaxed: a flag; the join below publishes the readers' tallies.
    control.stop.store(true, Ordering::Relaxed);

    let mut reader = ReaderTally::default();
    for handle in readers {
        reader.add(handle.join().expect("a reader thread panicked"));
    }
    // Every array retired so far is dropped after this (`call-rcu` and
    // `kvfree` free on the reclaim thread; the barrier also seals the
    // resizer's partial kvfree block).
    let drain_start = Instant::now();
    F::rcu_barrier();
    let drain_time = drain_start.elapsed();
    let stats_after = F::stats();
    let grace_periods = stats_after.grace_periods - stats_before.grace_periods;
    let kvfree_emergencies = stats_after.kvfree_emergency_synchronize - stats_before.kvfree_emergency_synchronize;
    let (sealed_after, sealed_before) = (&stats_after.kvfree_blocks_sealed, &stats_before.kvfree_blocks_sealed);
    let kvfree_blocks = [
        sealed_after.full - sealed_before.full,
        sealed_after.timer - sealed_before.timer,
        sealed_after.barrier - sealed_before.barrier,
    ];
    let peak_rss = rss::peak_rss_kib().map(|kib| kib * 1024);

    let table = Arc::into_inner(table).expect("readers have exited");
    let fallbacks = table.fallbacks();
    // Frees the current array, the kept ones (leak) and the descriptors.
    drop(table);
    RunResult {
        flavour: F::NAME,
        strategy: config.strategy,
        resize_time,
        resize_cpu,
        drain_time,
        resizes: config.resizes,
        grace_periods,
        fallbacks,
        kvfree_emergencies,
        kvfree_blocks,
        readers: config.readers,
        reader,
        lookups_during,
        peak_rss,
        max_arrays_alive,
        arrays_created: generations.created(),
        arrays_dropped: generations.dropped(),
        descriptors_created: config.resizes,
        // Relaxed: a counter read after every thread that bumps it was
        // joined and the final barrier ran (both synchronise).
        descriptors_dropped: descriptor_drops.load(Ordering::Relaxed),
    }
}

/// Progress lines on stderr (`resize_stress: ...`), printed only once two
/// seconds have passed since [`Progress::new`], so short runs stay quiet.
pub struct Progress {
    start: Instant,
    last: Instant,
    enabled: bool,
}

impl Progress {
    /// Starts the clock; prints nothing unless `enabled`.
    pub fn new(enabled: bool) -> Self {
        let now = Instant::now();
        Progress { start: now, last: now, enabled }
    }

    fn tick(&mut self, label: &str, done: u64, total: u64) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if now - self.start >= Duration::from_secs(2) && now - self.last >= Duration::from_secs(1) {
            self.last = now;
            eprintln!(
                "resize_stress: {label}: {done}/{total} resizes ({:.1} s elapsed)",
                (now - self.start).as_secs_f64()
            );
        }
    }

    /// Reports that the run labelled `label` finished, with its resize time.
    pub fn finished(&mut self, label: &str, result: &RunResult) {
        if self.enabled && self.start.elapsed() >= Duration::from_secs(2) {
            eprintln!(
                "resize_stress: {label}: done, {:.1} ms ({:.1} s elapsed)",
                result.resize_time.as_secs_f64() * 1e3,
                self.start.elapsed().as_secs_f64()
            );
        }
    }
}

/// The calling thread's CPU time so far (user and system).
fn thread_cpu_time() -> Option<Duration> {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    (rc == 0).then(|| Duration::new(now.tv_sec as u64, now.tv_nsec as u32))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A run that verified clean (the report's tests build on it too).
    pub(crate) fn clean_run() -> RunResult {
        RunResult {
            flavour: "memb",
            strategy: Strategy::Sync,
            resize_time: Duration::from_millis(1),
            resize_cpu: None,
            drain_time: Duration::ZERO,
            resizes: 10,
            grace_periods: 10,
            fallbacks: 0,
            kvfree_emergencies: 0,
            kvfree_blocks: [0; 3],
            readers: 1,
            reader: ReaderTally { lookups: 100, early_frees: 0, corrupt: 0 },
            lookups_during: 100,
            peak_rss: None,
            max_arrays_alive: 1,
            arrays_created: 11,
            arrays_dropped: 11,
            descriptors_created: 10,
            descriptors_dropped: 10,
        }
    }

    #[test]
    fn a_clean_run_has_no_failures() {
        assert!(clean_run().failures().is_empty());
    }

    #[test]
    fn each_kind_of_failure_is_named() {
        let mut r = clean_run();
        r.reader.early_frees = 2;
        r.reader.corrupt = 1;
        r.arrays_dropped = 10;
        r.descriptors_dropped = 9;
        let failures = r.failures().join("\n");
        for what in [
            "EARLY FREE in memb/sync",
            "CORRUPT in memb/sync",
            "11 arrays created, 10 dropped",
            "10 descriptors created, 9 dropped",
        ] {
            assert!(failures.contains(what), "{what:?} missing from:\n{failures}");
        }
        assert_eq!(r.leaks(), 2);
    }

    #[test]
    fn a_short_run_of_each_strategy_verifies_clean() {
        for strategy in Strategy::ALL {
            let config = RunConfig {
                strategy,
                readers: 2,
                resizes: 64,
                section_len: 4,
                qs_interval: 64,
                yield_every: 8,
                fail_wrapper_every: 5,
                fail_kvfree_blocks: false,
                kvfree_drain: None,
                seed: 7,
                pin_readers: true,
                label: String::from("test"),
            };
            let mut progress = Progress::new(false);
            for result in FLAVOURS.iter().map(|f| f.run(&config, &mut progress)) {
                assert_eq!(result.failures(), Vec::<String>::new());
                assert!(result.reader.lookups > 0);
                assert_eq!(result.arrays_created, 65);
                let expected_fallbacks = if strategy == Strategy::CallRcu { 64 / 5 } else { 0 };
                assert_eq!(result.fallbacks, expected_fallbacks);
            }
        }
    }

    /// With no kvfree block to be had, every retirement synchronizes and
    /// frees inline (the resizer may block), and still nothing is freed
    /// early or leaked.
    #[test]
    fn a_kvfree_run_without_blocks_takes_the_emergency_path_and_verifies_clean() {
        let config = RunConfig {
            strategy: Strategy::Kvfree,
            readers: 2,
            resizes: 64,
            section_len: 4,
            qs_interval: 64,
            yield_every: 8,
            fail_wrapper_every: 0,
            fail_kvfree_blocks: true,
            kvfree_drain: None,
            seed: 11,
            pin_readers: false,
            label: String::from("test"),
        };
        let mut progress = Progress::new(false);
        for result in FLAVOURS.iter().map(|f| f.run(&config, &mut progress)) {
            assert_eq!(result.failures(), Vec::<String>::new());
            assert_eq!(result.kvfree_emergencies, 64, "{}", result.flavour);
            assert_eq!(result.max_arrays_alive, 1, "{}: each array is freed inline", result.flavour);
        }
        assert_eq!(rcu_core::fault::alloc_failure(), AllocFailure::None, "the run restores the setting");
    }
}
