//! `resize_stress`: readers look descriptors up while a resizer grows the
//! table one descriptor at a time, for every reclamation strategy on both
//! flavours; prints what each costs and verifies that nothing was freed
//! early and nothing leaked.
//!
//! One run (one flavour, one strategy):
//!
//! 1. `--readers` threads (default: one per core) register with the flavour
//!    and look descriptors up at random, in read-side sections of
//!    `--section-len` lookups (QSBR readers also announce a quiescent state
//!    every `--qs-interval` lookups). A section loads the published array
//!    once and makes all its lookups in it. Each lookup is checked: the
//!    descriptor's index and magic value, the array's generation never going
//!    backwards, and the array's state in the table's side table (an array
//!    already freed is an *early free*; the check reads no freed memory).
//! 2. The resizer (this thread, never a registered QSBR reader, never inside
//!    a memb section, so it may wait for grace periods) grows the table
//!    `--resizes` times; that is the timed part.
//! 3. Readers stop; the table is dropped; after a barrier every array
//!    created must have been dropped, and every descriptor too (leaks).
//!
//! Exit status is non-zero, with a message naming the failure, if any run
//! saw an early free, a corrupt descriptor or a leak.

use clap::builder::PossibleValuesParser;
use clap::{Parser, ValueEnum};
use descriptor_table::table::{DescriptorTable, Lookup, Strategy};
use rcu::memb::Memb;
use rcu::qsbr::Qsbr;
use rcu_core::fault::AllocFailure;
use rcu_core::{RcuFlavour, ReadSection};
use rcu_testkit::pin::CpuPlan;
use rcu_testkit::rng::Rng;
use rcu_testkit::{rss, stats};
use serde_json::json;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Magic value every live descriptor carries.
const MAGIC: u64 = 0xEF53_B10C_DE5C_0001;

#[derive(Parser, Debug)]
#[command(
    about = "Descriptor-table resize stress: compares RCU reclamation strategies on both flavours, \
             verifies no early free and no leak",
    long_about = None
)]
struct Args {
    /// Flavours to run.
    #[arg(
        long,
        value_delimiter = ',',
        value_parser = PossibleValuesParser::new(FLAVOURS.iter().map(|f| f.name)),
        default_values_t = FLAVOURS.iter().map(|f| f.name.to_owned()).collect::<Vec<_>>()
    )]
    flavours: Vec<String>,
    /// Strategies to run.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = StrategyArg::value_variants().to_vec())]
    strategies: Vec<StrategyArg>,
    /// Reader threads [default: one per core].
    #[arg(long)]
    readers: Option<usize>,
    /// Resizes (grows by one descriptor) per run.
    #[arg(long, default_value_t = 8192, value_parser = clap::value_parser!(u64).range(1..))]
    resizes: u64,
    /// Lookups per read-side critical section.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    section_len: u64,
    /// QSBR readers: lookups between quiescent states (rounded up to whole
    /// sections).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    qs_interval: u64,
    /// Runs of each configuration; the table shows medians, JSON every run.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    repeat: u64,
    /// The resizer yields the CPU after every N resizes (0: never). For
    /// valgrind, which runs one thread at a time: readers then run, and are
    /// preempted inside read-side sections, between resizes.
    #[arg(long, default_value_t = 0)]
    yield_every: u64,
    /// call-rcu: every Nth wrapper allocation fails as if memory were
    /// exhausted (0: never), exercising the synchronize-then-free fallback.
    #[arg(long, default_value_t = 0)]
    fail_wrapper_every: u64,
    /// kvfree: the resizer runs as if no kvfree block could be allocated,
    /// so every retirement takes kvfree_rcu's emergency path
    /// (synchronize_rcu(), then free inline).
    #[arg(long)]
    fail_kvfree_blocks: bool,
    /// kvfree: how long a partial block may wait before the reclaim thread
    /// seals it, in milliseconds [default: the engine's, 20 ms]. Long
    /// intervals make blocks fill up (under valgrind, for example).
    #[arg(long)]
    kvfree_drain_ms: Option<u64>,
    /// Seed of the readers' random lookups.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Leave reader placement to the scheduler instead of pinning reader i
    /// to the i-th CPU the process may use. Unpinned, two readers sometimes
    /// share a CPU for a whole run (the resizer then has the other to
    /// itself), and the figures flip between two regimes: faster resizes,
    /// far fewer lookups.
    #[arg(long)]
    no_pin: bool,
    /// Print JSON (every run, and the summary) instead of the table.
    #[arg(long)]
    json: bool,
}

/// Every flavour the binary can run, in the order it runs them: adding a
/// flavour is adding its line here.
const FLAVOURS: &[FlavourRunner] = &[FlavourRunner::of::<Memb>(), FlavourRunner::of::<Qsbr>()];

/// One flavour: its name on the command line and in reports, and [`run`]
/// for it.
struct FlavourRunner {
    name: &'static str,
    run: fn(&RunConfig, &mut Progress) -> RunResult,
}

impl FlavourRunner {
    const fn of<F: RcuFlavour>() -> Self {
        FlavourRunner { name: F::NAME, run: run::<F> }
    }

    /// The flavour named `name` (one of the values clap accepted).
    fn named(name: &str) -> &'static FlavourRunner {
        FLAVOURS.iter().find(|f| f.name == name).expect("clap accepts only the names in FLAVOURS")
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum StrategyArg {
    /// synchronize_rcu() then free, per resize.
    Sync,
    /// A wrapper with an RcuHead per resize, call_rcu_raw; sync if the
    /// wrapper cannot be allocated.
    CallRcu,
    /// Headless kvfree_rcu of the old array: per-thread bulk blocks, one
    /// grace period per block.
    Kvfree,
    /// Never free during the run (the floor; memory grows).
    Leak,
}

impl StrategyArg {
    fn strategy(self) -> Strategy {
        match self {
            StrategyArg::Sync => Strategy::Sync,
            StrategyArg::CallRcu => Strategy::CallRcu,
            StrategyArg::Kvfree => Strategy::Kvfree,
            StrategyArg::Leak => Strategy::Leak,
        }
    }
}

/// What one run is asked to do.
#[derive(Clone, Debug)]
struct RunConfig {
    strategy: Strategy,
    readers: usize,
    resizes: u64,
    section_len: u64,
    qs_interval: u64,
    yield_every: u64,
    fail_wrapper_every: u64,
    fail_kvfree_blocks: bool,
    kvfree_drain: Option<Duration>,
    seed: u64,
    /// Pin reader i to the i-th allowed CPU (modulo their number).
    pin_readers: bool,
    label: String,
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

/// What one reader counted.
#[derive(Default, Debug, Clone, Copy)]
struct ReaderTally {
    lookups: u64,
    early_frees: u64,
    corrupt: u64,
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
struct RunResult {
    flavour: &'static str,
    strategy: Strategy,
    resize_time: Duration,
    /// The resizer's own CPU time for the resizes (user and system): the
    /// wall time less what it lost waiting or sharing a core with readers.
    resize_cpu: Option<Duration>,
    /// The barrier after the resizes: deferred frees still pending.
    drain_time: Duration,
    resizes: u64,
    /// From the first resize until every retired array was freed.
    grace_periods: u64,
    /// call-rcu retirements that fell back to synchronize-then-free.
    fallbacks: u64,
    /// kvfree_rcu calls that found no block and synchronized, then freed
    /// inline (the engine's count over the resizes and the barrier).
    kvfree_emergencies: u64,
    /// kvfree blocks sealed by any thread: full, by the drain timer, by the
    /// barrier.
    kvfree_blocks: [u64; 3],
    readers: usize,
    /// Every lookup checked, from the readers' start to their stop.
    reader: ReaderTally,
    /// Lookups made while the resizer ran (the rate's numerator).
    lookups_during: u64,
    peak_rss: Option<u64>,
    max_arrays_alive: u64,
    arrays_created: u64,
    arrays_dropped: u64,
    descriptors_created: u64,
    descriptors_dropped: u64,
}

impl RunResult {
    fn resizes_per_sec(&self) -> f64 {
        self.resizes as f64 / self.resize_time.as_secs_f64()
    }

    fn lookups_per_sec(&self) -> f64 {
        self.lookups_during as f64 / self.resize_time.as_secs_f64()
    }

    fn leaks(&self) -> u64 {
        self.arrays_created.saturating_sub(self.arrays_dropped)
            + self.descriptors_created.saturating_sub(self.descriptors_dropped)
    }

    /// Messages naming each failure of this run (empty: it passed).
    fn failures(&self) -> Vec<String> {
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
        descriptors_dropped: descriptor_drops.load(Ordering::Relaxed),
    }
}

/// Progress lines on stderr once the program has run for two seconds.
struct Progress {
    start: Instant,
    last: Instant,
    enabled: bool,
}

impl Progress {
    fn new(enabled: bool) -> Self {
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

    fn finished(&mut self, label: &str, result: &RunResult) {
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

/// One row of the summary: the runs of one flavour and strategy.
struct Summary {
    flavour: &'static str,
    strategy: Strategy,
    resize_secs: f64,
    /// Median resizer CPU time, where the clock was available.
    resizer_cpu_secs: Option<f64>,
    resizes_per_sec: f64,
    grace_periods: f64,
    lookups_per_sec: f64,
    peak_rss: Option<u64>,
    early_frees: u64,
    leaks: u64,
    relative_to_leak: Option<f64>,
}

fn summarise(results: &[RunResult], flavours: &[&FlavourRunner], strategies: &[StrategyArg]) -> Vec<Summary> {
    let mut rows = Vec::new();
    for flavour in flavours {
        for strategy in strategies {
            let runs: Vec<&RunResult> =
                results.iter().filter(|r| r.flavour == flavour.name && r.strategy == strategy.strategy()).collect();
            let med = |f: &dyn Fn(&RunResult) -> f64| {
                stats::median(&runs.iter().map(|r| f(r)).collect::<Vec<_>>()).expect("every row has a run per repeat")
            };
            rows.push(Summary {
                flavour: flavour.name,
                strategy: strategy.strategy(),
                resize_secs: med(&|r| r.resize_time.as_secs_f64()),
                resizer_cpu_secs: stats::median(
                    &runs.iter().filter_map(|r| r.resize_cpu).map(|d| d.as_secs_f64()).collect::<Vec<_>>(),
                ),
                resizes_per_sec: med(&|r| r.resizes_per_sec()),
                grace_periods: med(&|r| r.grace_periods as f64),
                lookups_per_sec: med(&|r| r.lookups_per_sec()),
                peak_rss: runs.iter().filter_map(|r| r.peak_rss).max(),
                early_frees: runs.iter().map(|r| r.reader.early_frees).sum(),
                leaks: runs.iter().map(|r| r.leaks()).sum(),
                relative_to_leak: None,
            });
        }
    }
    let leak_time = |flavour: &str, rows: &[Summary]| {
        rows.iter().find(|s| s.flavour == flavour && s.strategy == Strategy::Leak).map(|s| s.resize_secs)
    };
    for i in 0..rows.len() {
        let relative = leak_time(rows[i].flavour, &rows).map(|t| rows[i].resize_secs / t);
        rows[i].relative_to_leak = relative;
    }
    rows
}

fn print_table(rows: &[Summary]) {
    println!(
        "{:<7} {:<9} {:>10} {:>11} {:>8} {:>13} {:>9} {:>6} {:>6} {:>8}",
        "flavour", "strategy", "resize ms", "resizes/s", "GPs", "lookups/s", "peak RSS", "early", "leaks", "vs leak"
    );
    for s in rows {
        let rss = s.peak_rss.map_or("n/a".to_string(), |b| format!("{:.1}M", b as f64 / (1 << 20) as f64));
        let rel = s.relative_to_leak.map_or("n/a".to_string(), |x| format!("{x:.2}x"));
        println!(
            "{:<7} {:<9} {:>10.1} {:>11.0} {:>8.0} {:>13.0} {:>9} {:>6} {:>6} {:>8}",
            s.flavour,
            s.strategy.name(),
            s.resize_secs * 1e3,
            s.resizes_per_sec,
            s.grace_periods,
            s.lookups_per_sec,
            rss,
            s.early_frees,
            s.leaks,
            rel
        );
    }
}

fn run_json(r: &RunResult, repeat: u64) -> serde_json::Value {
    json!({
        "flavour": r.flavour,
        "strategy": r.strategy.name(),
        "repeat": repeat,
        "resizes": r.resizes,
        "readers": r.readers,
        "resize_seconds": r.resize_time.as_secs_f64(),
        "resizer_cpu_seconds": r.resize_cpu.map(|d| d.as_secs_f64()),
        "drain_seconds": r.drain_time.as_secs_f64(),
        "call_rcu_fallbacks": r.fallbacks,
        "kvfree_emergency_synchronize": r.kvfree_emergencies,
        "kvfree_blocks_sealed": {
            "full": r.kvfree_blocks[0],
            "timer": r.kvfree_blocks[1],
            "barrier": r.kvfree_blocks[2],
        },
        "resizes_per_second": r.resizes_per_sec(),
        "grace_periods": r.grace_periods,
        "lookups_checked": r.reader.lookups,
        "lookups_during_resize": r.lookups_during,
        "lookups_per_second": r.lookups_per_sec(),
        "peak_rss_bytes": r.peak_rss,
        "max_arrays_alive": r.max_arrays_alive,
        "early_frees": r.reader.early_frees,
        "corrupt_lookups": r.reader.corrupt,
        "arrays_created": r.arrays_created,
        "arrays_dropped": r.arrays_dropped,
        "descriptors_created": r.descriptors_created,
        "descriptors_dropped": r.descriptors_dropped,
        "leaks": r.leaks(),
    })
}

fn summary_json(s: &Summary) -> serde_json::Value {
    json!({
        "flavour": s.flavour,
        "strategy": s.strategy.name(),
        "resize_seconds": s.resize_secs,
        "resizer_cpu_seconds": s.resizer_cpu_secs,
        "resizes_per_second": s.resizes_per_sec,
        "grace_periods": s.grace_periods,
        "lookups_per_second": s.lookups_per_sec,
        "peak_rss_bytes": s.peak_rss,
        "early_frees": s.early_frees,
        "leaks": s.leaks,
        "relative_to_leak": s.relative_to_leak,
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let flavours: Vec<&FlavourRunner> = args.flavours.iter().map(|name| FlavourRunner::named(name)).collect();
    let readers = args.readers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let total_runs = args.repeat * (flavours.len() * args.strategies.len()) as u64;
    let mut progress = Progress::new(true);
    let mut results = Vec::new();
    let mut run_number = 0;
    for repeat in 0..args.repeat {
        for flavour in &flavours {
            for &strategy in &args.strategies {
                run_number += 1;
                let config = RunConfig {
                    strategy: strategy.strategy(),
                    readers,
                    resizes: args.resizes,
                    section_len: args.section_len,
                    qs_interval: args.qs_interval,
                    yield_every: args.yield_every,
                    fail_wrapper_every: args.fail_wrapper_every,
                    fail_kvfree_blocks: args.fail_kvfree_blocks,
                    kvfree_drain: args.kvfree_drain_ms.map(Duration::from_millis),
                    seed: args.seed.wrapping_add(repeat),
                    pin_readers: !args.no_pin,
                    label: format!("[{run_number}/{total_runs}] {} {}", flavour.name, strategy.strategy().name()),
                };
                let result = (flavour.run)(&config, &mut progress);
                progress.finished(&config.label, &result);
                results.push((repeat, result));
            }
        }
    }

    let runs: Vec<RunResult> = results.iter().map(|(_, r)| r.clone()).collect();
    let rows = summarise(&runs, &flavours, &args.strategies);
    let failures: Vec<String> = runs.iter().flat_map(RunResult::failures).collect();
    if args.json {
        let out = json!({
            "config": {
                "resizes": args.resizes,
                "readers": readers,
                "section_len": args.section_len,
                "qs_interval": args.qs_interval,
                "yield_every": args.yield_every,
                "fail_wrapper_every": args.fail_wrapper_every,
                "fail_kvfree_blocks": args.fail_kvfree_blocks,
                "kvfree_drain_ms": args.kvfree_drain_ms,
                "repeat": args.repeat,
                "seed": args.seed,
                "barrier_strategy": format!("{:?}", rcu::memb::stats().barrier_strategy),
            },
            "runs": results.iter().map(|(rep, r)| run_json(r, *rep)).collect::<Vec<_>>(),
            "summary": rows.iter().map(summary_json).collect::<Vec<_>>(),
            "ok": failures.is_empty(),
        });
        println!("{}", serde_json::to_string_pretty(&out).expect("JSON values always serialise"));
    } else {
        println!(
            "resize_stress: {} resizes, {readers} readers, {} lookups per read-side section, QSBR quiescent \
             state every {} lookups, {} repeat(s), seed {}; memb barriers: {:?}",
            args.resizes,
            args.section_len,
            args.qs_interval,
            args.repeat,
            args.seed,
            rcu::memb::stats().barrier_strategy
        );
        if args.fail_wrapper_every != 0 {
            println!(
                "  call-rcu: 1 in {} wrapper allocations fails (fallback: synchronize, then free)",
                args.fail_wrapper_every
            );
        }
        if args.fail_kvfree_blocks {
            println!("  kvfree: no block can be allocated (emergency path: synchronize, then free inline)");
        }
        print_table(&rows);
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for f in &failures {
            eprintln!("resize_stress: {f}");
        }
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean_run() -> RunResult {
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
            for result in FLAVOURS.iter().map(|f| (f.run)(&config, &mut progress)) {
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
        for result in FLAVOURS.iter().map(|f| (f.run)(&config, &mut progress)) {
            assert_eq!(result.failures(), Vec::<String>::new());
            assert_eq!(result.kvfree_emergencies, 64, "{}", result.flavour);
            assert_eq!(result.max_arrays_alive, 1, "{}: each array is freed inline", result.flavour);
        }
        assert_eq!(rcu_core::fault::alloc_failure(), AllocFailure::None, "the run restores the setting");
    }
}
