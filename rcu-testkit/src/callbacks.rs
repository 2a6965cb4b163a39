//! call_rcu / rcu_barrier properties that do not depend on the read side,
//! generic over the flavour.

use rcu_core::{CallbackLimits, RcuFlavour};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Counts creations and drops of a payload moved into callbacks.
#[derive(Debug, Default)]
pub struct DropCounter {
    created: AtomicU64,
    dropped: AtomicU64,
}

/// A payload that bumps its counter when dropped.
#[derive(Debug)]
pub struct Counted(Arc<DropCounter>);

impl DropCounter {
    /// A new payload.
    pub fn make(self: &Arc<Self>) -> Counted {
        self.created.fetch_add(1, Ordering::Relaxed);
        Counted(self.clone())
    }
    /// Payloads created.
    pub fn created(&self) -> u64 {
        self.created.load(Ordering::Relaxed)
    }
    /// Payloads dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Acquire)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        // Release pairs with the Acquire in `dropped`.
        self.0.dropped.fetch_add(1, Ordering::Release);
    }
}

/// Objects created == objects dropped after `rcu_barrier`, with several
/// producer threads that exit right after queueing (an exiting thread
/// strands nothing).
pub fn barrier_runs_everything_queued_by_exited_threads<F: RcuFlavour>() {
    let counter = Arc::new(DropCounter::default());
    let producers: Vec<_> = (0..4)
        .map(|_| {
            let counter = counter.clone();
            std::thread::spawn(move || {
                for _ in 0..10_000 {
                    let payload = counter.make();
                    F::call_rcu(move || drop(payload));
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    F::rcu_barrier();
    assert_eq!(counter.created(), 40_000);
    assert_eq!(counter.dropped(), counter.created(), "rcu_{}: leak after rcu_barrier", F::NAME);
}

/// `rcu_barrier` runs callbacks still in the own lists of threads that are
/// alive but idle (fewer than a list flush, so only a steal moves them).
pub fn barrier_collects_the_lists_of_idle_live_threads<F: RcuFlavour>() {
    let counter = Arc::new(DropCounter::default());
    let (queued_tx, queued_rx) = std::sync::mpsc::channel();
    let (exit_tx, exit_rx) = std::sync::mpsc::channel::<()>();
    let exit_rx = Arc::new(std::sync::Mutex::new(exit_rx));
    let idlers: Vec<_> = (0..3)
        .map(|_| {
            let (counter, queued_tx, exit_rx) = (counter.clone(), queued_tx.clone(), exit_rx.clone());
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let payload = counter.make();
                    F::call_rcu(move || drop(payload));
                }
                queued_tx.send(()).unwrap();
                // Alive and idle until the main thread's barrier returned.
                let _ = exit_rx.lock().unwrap().recv();
            })
        })
        .collect();
    for _ in 0..3 {
        queued_rx.recv().unwrap();
    }
    F::rcu_barrier();
    assert_eq!(counter.created(), 15);
    assert_eq!(counter.dropped(), 15, "rcu_{}: rcu_barrier left callbacks of idle live threads queued", F::NAME);
    drop(exit_tx);
    for t in idlers {
        t.join().unwrap();
    }
}

/// A lone callback of a thread that stays alive and queues nothing more
/// runs without any `rcu_barrier`: the reclaim thread takes the quiet
/// thread's list. (Liveness only: the bound is minutes, not a timing check.)
pub fn a_lone_callback_runs_without_a_barrier<F: RcuFlavour>() {
    let ran = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let r = ran.clone();
    let idler = std::thread::spawn(move || {
        F::call_rcu(move || r.store(true, Ordering::Release));
        let _ = done_rx.recv();
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    // Acquire pairs with the callback's Release store.
    while !ran.load(Ordering::Acquire) {
        assert!(
            std::time::Instant::now() < deadline,
            "rcu_{}: a lone call_rcu of an idle live thread never ran",
            F::NAME
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    drop(done_tx);
    idler.join().unwrap();
}

/// Barriers racing with producers that keep queueing (lists handed over
/// by owners and by steals): every callback queued before a barrier began
/// has run when it returns.
pub fn barriers_racing_with_producers_miss_nothing<F: RcuFlavour>() {
    let stop = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut until_check = 97;
                // Relaxed: a stop flag.
                while !stop.load(Ordering::Relaxed) {
                    let published = Arc::new(AtomicU64::new(0));
                    let p = published.clone();
                    F::call_rcu(move || p.store(1, Ordering::Release));
                    until_check -= 1;
                    // Every so often, check the callback just queued after a
                    // barrier of our own: queued before it, so it must have run.
                    if until_check == 0 {
                        until_check = 97;
                        F::rcu_barrier();
                        assert_eq!(
                            published.load(Ordering::Acquire),
                            1,
                            "rcu_{}: a callback queued before rcu_barrier had not run when it returned",
                            F::NAME
                        );
                    }
                }
            })
        })
        .collect();
    for _ in 0..200 {
        let flag = Arc::new(AtomicU64::new(0));
        let f = flag.clone();
        F::call_rcu(move || f.store(1, Ordering::Release));
        F::rcu_barrier();
        assert_eq!(flag.load(Ordering::Acquire), 1, "rcu_{}: barrier returned before an earlier callback ran", F::NAME);
    }
    // Relaxed: a stop flag; the joins order the rest.
    stop.store(true, Ordering::Relaxed);
    for p in producers {
        p.join().unwrap();
    }
}

/// A callback queued by a callback before `rcu_barrier` is called is not
/// necessarily waited for by that barrier, but a second barrier (called
/// after the first returned, so after the chained callback was queued) is.
pub fn chained_callbacks_need_one_barrier_per_link<F: RcuFlavour>() {
    let first = Arc::new(AtomicBool::new(false));
    let second = Arc::new(AtomicBool::new(false));
    {
        let (first, second) = (first.clone(), second.clone());
        F::call_rcu(move || {
            first.store(true, Ordering::SeqCst);
            F::call_rcu(move || second.store(true, Ordering::SeqCst));
        });
    }
    F::rcu_barrier();
    assert!(first.load(Ordering::SeqCst), "rcu_barrier returned before a callback queued before it");
    F::rcu_barrier();
    assert!(second.load(Ordering::SeqCst), "the second rcu_barrier missed the chained callback");
}

/// A panic payload whose destructor panics too.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("deliberate panic dropping a panic payload (test)");
    }
}

/// A panicking callback is contained: counted, and the callbacks queued
/// after it still run, also when dropping its panic payload panics.
/// Reads process-wide statistics.
pub fn a_panicking_callback_does_not_lose_the_others<F: RcuFlavour>() {
    let before = F::stats().callback_panics;
    let counter = Arc::new(DropCounter::default());
    F::call_rcu(|| panic!("deliberate panic in an RCU callback (test)"));
    F::call_rcu(|| std::panic::panic_any(PanicsOnDrop));
    for _ in 0..100 {
        let payload = counter.make();
        F::call_rcu(move || drop(payload));
    }
    F::rcu_barrier();
    assert_eq!(counter.dropped(), 100, "callbacks after the panicking one were lost");
    assert_eq!(F::stats().callback_panics - before, 2);
    // The reclaim thread survived: it still runs callbacks.
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    F::call_rcu(move || r.store(true, Ordering::SeqCst));
    F::rcu_barrier();
    assert!(ran.load(Ordering::SeqCst));
}

/// `rcu_barrier` from a callback would wait for itself: it panics (the
/// panic is contained and counted like any callback panic).
pub fn barrier_inside_a_callback_panics_instead_of_deadlocking<F: RcuFlavour>() {
    let before = F::stats().callback_panics;
    F::call_rcu(|| F::rcu_barrier());
    F::rcu_barrier();
    assert_eq!(F::stats().callback_panics - before, 1);
}

/// A flood from several threads stays under the hard limit (plus the
/// producers' check interval): producers wait for reclaim.
/// Reads process-wide statistics and changes the limits.
pub fn a_flood_is_held_to_the_hard_limit<F: RcuFlavour>(per_thread: u64) {
    let limits = CallbackLimits { soft: 2_000, hard: 20_000 };
    F::set_callback_limits(limits);
    let counter = Arc::new(DropCounter::default());
    let threads = 4;
    let producers: Vec<_> = (0..threads)
        .map(|_| {
            let counter = counter.clone();
            std::thread::spawn(move || {
                for _ in 0..per_thread {
                    let payload = counter.make();
                    F::call_rcu(move || drop(payload));
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    F::rcu_barrier();
    let s = F::stats();
    F::set_callback_limits(CallbackLimits::default());
    assert_eq!(counter.dropped(), threads * per_thread);
    assert!(s.peak_callback_backlog > limits.soft, "the flood never reached the soft limit: {s:?}");
    assert!(
        // Producers check the limits once per 32 of their own enqueues
        // (rcu-core's reclaim.rs, "Counting"): each can add up to 32 more
        // before it notices.
        s.peak_callback_backlog <= limits.hard + 32 * threads,
        "backlog peaked at {} with a hard limit of {}",
        s.peak_callback_backlog,
        limits.hard
    );
}

/// `stats()` callback counts are exact after `rcu_barrier` although
/// producers count their enqueues in per-thread batches (rcu-core's
/// reclaim.rs, "Counting"): with the producers alive and idle, holding
/// partial batches, and again after they exited. Reads process-wide
/// statistics.
pub fn callback_counts_are_exact_after_barrier<F: RcuFlavour>() {
    F::rcu_barrier();
    let before = F::stats();
    let threads = 4u64;
    // Not a multiple of the batch (32): every producer keeps a residual.
    let per_thread = 1_013u64;
    let counter = Arc::new(DropCounter::default());
    let queued = Arc::new(std::sync::Barrier::new(threads as usize + 1));
    let release = Arc::new(std::sync::Barrier::new(threads as usize + 1));
    let producers: Vec<_> = (0..threads)
        .map(|_| {
            let (counter, queued, release) = (counter.clone(), queued.clone(), release.clone());
            std::thread::spawn(move || {
                for _ in 0..per_thread {
                    let payload = counter.make();
                    F::call_rcu(move || drop(payload));
                }
                queued.wait();
                release.wait();
            })
        })
        .collect();
    let check = |when: &str| {
        F::rcu_barrier();
        let s = F::stats();
        let total = threads * per_thread;
        assert_eq!(counter.dropped(), total, "rcu_{} {when}: callbacks not run", F::NAME);
        assert_eq!(s.callbacks_queued - before.callbacks_queued, total, "rcu_{} {when}: queued {s:?}", F::NAME);
        assert_eq!(s.callbacks_invoked - before.callbacks_invoked, total, "rcu_{} {when}: invoked {s:?}", F::NAME);
        assert_eq!(s.callback_backlog, 0, "rcu_{} {when}: backlog {s:?}", F::NAME);
    };
    queued.wait();
    check("with the producers alive");
    release.wait();
    for p in producers {
        p.join().unwrap();
    }
    check("after the producers exited");
}

/// Runs of the capture-free callback in
/// `callbacks_of_every_size_run_once_and_drop_their_captures` (one test per
/// process uses it).
static NO_CAPTURE_RAN: AtomicU64 = AtomicU64::new(0);

/// Boxed callbacks of every size run once and drop what they captured:
/// closures with no captures, small ones (kept in rcu-core's recycled
/// slots) and large ones (boxed).
pub fn callbacks_of_every_size_run_once_and_drop_their_captures<F: RcuFlavour>() {
    let counter = Arc::new(DropCounter::default());
    let ran = Arc::new(AtomicU64::new(0));
    for i in 0..1_000u64 {
        let (payload, ran) = (counter.make(), ran.clone());
        match i % 3 {
            0 => F::call_rcu(move || {
                drop(payload);
                ran.fetch_add(1, Ordering::Relaxed);
            }),
            1 => {
                let big = [i; 16];
                F::call_rcu(move || {
                    drop(payload);
                    ran.fetch_add(big[15] - i + 1, Ordering::Relaxed);
                })
            }
            _ => {
                drop(payload);
                // No captures: a zero-sized closure.
                F::call_rcu(|| {
                    NO_CAPTURE_RAN.fetch_add(1, Ordering::Relaxed);
                });
            }
        }
    }
    F::rcu_barrier();
    let no_capture = NO_CAPTURE_RAN.load(Ordering::Relaxed);
    assert_eq!(
        ran.load(Ordering::Relaxed) + no_capture,
        1_000,
        "rcu_{}: a callback ran a wrong number of times",
        F::NAME
    );
    assert_eq!(counter.dropped(), counter.created(), "rcu_{}: a capture was not dropped", F::NAME);
}
