//! With membarrier(2) refused by a seccomp filter, the engine takes the
//! fence fallback (its stats say so) and grace periods, callbacks and
//! kvfree still work, for every flavour.
//!
//! Each case runs in a child process (this test binary again, one test,
//! with `CHILD` naming the errno) that installs the filter
//! (`rcu_testkit::seccomp`) before its first RCU call, checks that the
//! filter bites, then runs [`grace_periods_work`] for each flavour. A
//! filter binds the installing thread and the threads it starts, so the
//! child's engine, set up after it, sees membarrier refused.

use rcu_core::{BarrierStrategy, RcuCell, RcuFlavour};
use rcu_memb::Memb;
use rcu_qsbr::Qsbr;
use rcu_testkit::seccomp;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Set in the child process: the errno to deny membarrier with (`none`:
/// no filter).
const CHILD: &str = "RCU_CORE_MEMBARRIER_REFUSED_CHILD";

/// Writer steps per flavour in the child.
const STEPS: u64 = 200;

/// Counts its drops in the counter it was made with.
struct CountsDrop(&'static AtomicU64);

impl Drop for CountsDrop {
    fn drop(&mut self) {
        // Relaxed: read after rcu_barrier, which orders every callback and
        // kvfree drop before its return.
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A reader thread reads a cell while this thread replaces it, waits for
/// grace periods, queues callbacks and kvfree objects; after `rcu_barrier`
/// every retired object has been dropped, the engine reports `expected`,
/// and grace periods completed.
fn grace_periods_work<F: RcuFlavour>(expected: BarrierStrategy) {
    static DROPS: AtomicU64 = AtomicU64::new(0);
    let before = (F::stats().grace_periods, DROPS.load(Ordering::Relaxed));
    let cell = RcuCell::<u64, F>::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut thread = F::register_thread();
            // Relaxed: a stop flag; lateness is harmless.
            while !stop.load(Ordering::Relaxed) {
                let guard = F::read_lock(&thread);
                assert!(*cell.load(&guard) <= STEPS);
                drop(guard);
                F::quiescent_state(&mut thread);
            }
            F::unregister_thread(thread);
        });
        for i in 1..=STEPS {
            cell.replace(i);
            F::synchronize_rcu();
            let counted = CountsDrop(&DROPS);
            F::call_rcu(move || drop(counted));
            F::kvfree_rcu(Box::new(CountsDrop(&DROPS)));
        }
        // Relaxed: pairs with nothing; the scope's join orders the
        // reader's end before the checks below.
        stop.store(true, Ordering::Relaxed);
    });
    F::rcu_barrier();
    let stats = F::stats();
    assert_eq!(stats.barrier_strategy, expected, "{}", F::NAME);
    assert!(stats.grace_periods > before.0, "{}: no grace period completed", F::NAME);
    assert_eq!(DROPS.load(Ordering::Relaxed) - before.1, 2 * STEPS, "{}: a retired object was not dropped", F::NAME);
}

/// The child: installs the filter for `errno` (if any), then checks both
/// flavours against the strategy that must result.
fn child(errno: Option<i32>) {
    let expected = match errno {
        Some(errno) => {
            seccomp::deny_membarrier(errno).expect("install the seccomp filter");
            assert_eq!(seccomp::query_membarrier(), Err(errno), "the filter is not in force");
            BarrierStrategy::Fences
        }
        None => BarrierStrategy::Membarrier,
    };
    grace_periods_work::<Memb>(expected);
    grace_periods_work::<Qsbr>(expected);
}

/// Runs test `name` of this binary in a child with `CHILD` set to `errno`
/// and asserts that it passed.
fn run_child(name: &str, errno: &str) {
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", name, "--nocapture", "--test-threads", "1"])
        .env(CHILD, errno)
        .env_remove("RCU_FORCE_FENCES")
        .output()
        .expect("the test binary runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the child ({CHILD}={errno}) failed:\n{text}");
    assert!(text.contains("1 passed"), "the child ran no test:\n{text}");
}

/// In the child, runs the case for `errno`; in the parent, starts the child.
fn case(name: &str, errno: Option<i32>, label: &str) {
    match std::env::var(CHILD) {
        Ok(_) => child(errno),
        Err(_) => run_child(name, label),
    }
}

#[test]
fn membarrier_denied_with_eperm_takes_the_fence_fallback_and_rcu_still_works() {
    case("membarrier_denied_with_eperm_takes_the_fence_fallback_and_rcu_still_works", Some(libc::EPERM), "eperm");
}

#[test]
fn membarrier_denied_with_enosys_takes_the_fence_fallback_and_rcu_still_works() {
    case("membarrier_denied_with_enosys_takes_the_fence_fallback_and_rcu_still_works", Some(libc::ENOSYS), "enosys");
}

/// The control: without the filter, on a kernel with membarrier, the same
/// child uses membarrier, so the filter is what changes the strategy.
#[test]
fn without_the_filter_the_same_child_uses_membarrier_where_the_kernel_has_it() {
    const PRIVATE_EXPEDITED_AND_REGISTER: i64 = (1 << 3) | (1 << 4);
    match seccomp::query_membarrier() {
        Ok(mask) if mask & PRIVATE_EXPEDITED_AND_REGISTER == PRIVATE_EXPEDITED_AND_REGISTER => {
            case("without_the_filter_the_same_child_uses_membarrier_where_the_kernel_has_it", None, "none");
        }
        other => println!("membarrier is not available here ({other:?}): the control cannot show the difference"),
    }
}
