//! Forked children use every API, three generations deep (after liburcu's
//! `tests/regression/test_urcu_fork.c`).
//!
//! Each child exercises every API of both flavours, forks its own children
//! until the third generation, waits for them, and leaves with `_exit`,
//! whose status its parent checks. Parents never have a reader inside a
//! section at a fork (liburcu requires that: the section would be copied
//! into the child as a reader that never leaves).
//!
//! Two scenarios:
//!
//! * the parent is quiescent at each fork (no grace period running, no
//!   polled request pending), and children use every API whose progress
//!   does not depend on a thread the fork did not copy;
//! * (ignored until the engine handles fork) the parent keeps grace
//!   periods running and polled requests pending while it forks, and the
//!   children also wait for polled grace periods that only the reclaim
//!   thread drives. Today a child hangs there: see the test's `ignore`
//!   reason. When `call_rcu`/`kvfree_rcu`/`rcu_barrier` land, children use
//!   them too, with callbacks and kvfree blocks pending at the fork.
//!
//! Children report through a shared anonymous mapping (which step each
//! generation is in, and the first failure) rather than stdout, whose lock
//! another parent thread may have held at the fork. An `alarm` turns a hang
//! in a child into a SIGALRM death that the parent reports with the step
//! the child was in.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Generations below the test process.
const DEPTH: u32 = 3;
/// Children per process per generation.
const CHILDREN: u32 = 2;
/// Seconds before a hung child is killed by SIGALRM.
const CHILD_ALARM_SECS: u32 = 20;

/// Whether children also wait for grace periods only the reclaim thread
/// drives (set before forking; children inherit it).
static POLL_ONLY_STEPS: AtomicBool = AtomicBool::new(false);
/// Whether the processes leave polled requests pending right before a fork.
static PENDING_AT_FORK: AtomicBool = AtomicBool::new(false);

/// The two scenarios share the statics above: one at a time.
static ONE_SCENARIO_AT_A_TIME: Mutex<()> = Mutex::new(());

/// What each generation of children writes for its ancestors to read.
#[repr(C)]
struct Shared {
    /// Step each generation (index) is in, as 1 + its index in `STEPS`
    /// (0: not started).
    step: [AtomicU32; DEPTH as usize + 1],
    /// First failure: generation (0 = none), step, and a kind code.
    failed_generation: AtomicU32,
    failed_step: AtomicU32,
}

const STEPS: &[&str] = &[
    "start",
    "memb: register_thread",
    "memb: nested read_lock + RcuCell::load",
    "memb: synchronize_rcu",
    "memb: start_poll + poll_state (reclaim thread must run)",
    "memb: start_poll + cond_synchronize",
    "memb: get_state + cond_synchronize",
    "memb: RcuCell::replace",
    "memb: a new thread reads and exits",
    "memb: stats",
    "qsbr: register_thread",
    "qsbr: read_lock + quiescent_state",
    "qsbr: offline + free synchronize_rcu + online",
    "qsbr: QsbrThread::synchronize_rcu",
    "qsbr: start_poll + poll_state (reclaim thread must run)",
    "qsbr: cond_synchronize + RcuCell::replace offline",
    "qsbr: a new thread registers, reads and exits",
    "qsbr: stats",
    "forking the next generation",
    "done",
];

fn shared() -> &'static Shared {
    use std::sync::OnceLock;
    static SHARED: OnceLock<usize> = OnceLock::new();
    let addr = *SHARED.get_or_init(|| {
        // SAFETY: an anonymous shared mapping of one page, never unmapped;
        // zeroed memory is a valid `Shared` (all atomics at 0).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "mmap of the shared page failed");
        p as usize
    });
    // SAFETY: see above; the mapping is page-aligned and large enough.
    unsafe { &*(addr as *const Shared) }
}

/// Records that generation `generation` entered step `name`.
fn step(generation: u32, name: &str) {
    let index = STEPS.iter().position(|s| *s == name).expect("known step") as u32 + 1;
    // Relaxed: read by ancestors after this process has exited (waitpid).
    shared().step[generation as usize].store(index, Ordering::Relaxed);
}

fn fail(generation: u32) -> ! {
    let s = shared();
    let at = s.step[generation as usize].load(Ordering::Relaxed);
    // First failure wins (Relaxed: read after waitpid).
    if s.failed_generation.compare_exchange(0, generation, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
        s.failed_step.store(at, Ordering::Relaxed);
    }
    // SAFETY: _exit ends this forked process without running the parent's
    // atexit handlers or unwinding into the test harness.
    unsafe { libc::_exit(1) }
}

fn check(generation: u32, ok: bool) {
    if !ok {
        fail(generation);
    }
}

/// A cookie from `start_poll` in the busy scenario; from `get_state` in the
/// quiescent one, where no process may start a reclaim thread that could be
/// running a grace period at its next fork.
fn requested_cookie<C>(start_poll: fn() -> C, get_state: fn() -> C) -> C {
    if POLL_ONLY_STEPS.load(Ordering::Relaxed) {
        start_poll()
    } else {
        get_state()
    }
}

fn exercise_memb(generation: u32) {
    use rcu_memb::{read_lock, RcuCell};
    step(generation, "memb: register_thread");
    rcu_memb::register_thread();
    let before = rcu_memb::stats().grace_periods;
    step(generation, "memb: nested read_lock + RcuCell::load");
    let cell = RcuCell::new(generation);
    {
        let outer = read_lock();
        let inner = read_lock();
        check(generation, *cell.load(&inner) == generation && rcu_memb::in_read_section());
        drop(inner);
        drop(outer);
    }
    step(generation, "memb: synchronize_rcu");
    rcu_memb::synchronize_rcu();
    step(generation, "memb: start_poll + poll_state (reclaim thread must run)");
    if POLL_ONLY_STEPS.load(Ordering::Relaxed) {
        let cookie = rcu_memb::start_poll_synchronize_rcu();
        while !rcu_memb::poll_state_synchronize_rcu(cookie) {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    step(generation, "memb: start_poll + cond_synchronize");
    let cookie = requested_cookie(rcu_memb::start_poll_synchronize_rcu, rcu_memb::get_state_synchronize_rcu);
    rcu_memb::cond_synchronize_rcu(cookie);
    check(generation, rcu_memb::poll_state_synchronize_rcu(cookie));
    step(generation, "memb: get_state + cond_synchronize");
    let cookie = rcu_memb::get_state_synchronize_rcu();
    rcu_memb::cond_synchronize_rcu(cookie);
    check(generation, rcu_memb::poll_state_synchronize_rcu(cookie));
    step(generation, "memb: RcuCell::replace");
    cell.replace(generation + 100);
    check(generation, *cell.load(&read_lock()) == generation + 100);
    step(generation, "memb: a new thread reads and exits");
    let cell = &cell;
    let read = std::thread::scope(|s| s.spawn(|| *cell.load(&read_lock())).join());
    check(generation, matches!(read, Ok(v) if v == generation + 100));
    rcu_memb::unregister_thread();
    step(generation, "memb: stats");
    let stats = rcu_memb::stats();
    check(generation, stats.grace_periods > before);
}

fn exercise_qsbr(generation: u32) {
    use rcu_qsbr::{register_thread, RcuCell};
    step(generation, "qsbr: register_thread");
    let mut t = register_thread();
    let before = rcu_qsbr::stats().grace_periods;
    let cell = RcuCell::new(generation);
    step(generation, "qsbr: read_lock + quiescent_state");
    check(generation, *cell.load(&t.read_lock()) == generation);
    t.quiescent_state();
    step(generation, "qsbr: offline + free synchronize_rcu + online");
    t.offline();
    rcu_qsbr::synchronize_rcu();
    t.online();
    step(generation, "qsbr: QsbrThread::synchronize_rcu");
    t.synchronize_rcu();
    step(generation, "qsbr: start_poll + poll_state (reclaim thread must run)");
    if POLL_ONLY_STEPS.load(Ordering::Relaxed) {
        let cookie = rcu_qsbr::start_poll_synchronize_rcu();
        t.offline_scope(|| {
            while !rcu_qsbr::poll_state_synchronize_rcu(cookie) {
                std::thread::sleep(Duration::from_micros(100));
            }
        });
    }
    step(generation, "qsbr: cond_synchronize + RcuCell::replace offline");
    let cookie = requested_cookie(rcu_qsbr::start_poll_synchronize_rcu, rcu_qsbr::get_state_synchronize_rcu);
    t.offline_scope(|| {
        rcu_qsbr::cond_synchronize_rcu(cookie);
        cell.replace(generation + 100);
    });
    check(generation, rcu_qsbr::poll_state_synchronize_rcu(cookie) && *cell.load(&t.read_lock()) == generation + 100);
    step(generation, "qsbr: a new thread registers, reads and exits");
    let cell = &cell;
    let read = t.offline_scope(|| {
        std::thread::scope(|s| {
            s.spawn(|| {
                let reader = register_thread();
                let v = *cell.load(&reader.read_lock());
                v
            })
            .join()
        })
    });
    check(generation, matches!(read, Ok(v) if v == generation + 100));
    drop(t);
    step(generation, "qsbr: stats");
    check(generation, rcu_qsbr::stats().grace_periods > before);
}

/// Leaves work pending in both flavours (in the busy scenario): polled
/// grace periods the reclaim threads are asked to run now.
fn leave_work_pending() {
    if PENDING_AT_FORK.load(Ordering::Relaxed) {
        let _ = rcu_memb::start_poll_synchronize_rcu();
        let _ = rcu_qsbr::start_poll_synchronize_rcu();
    }
}

/// Forks one child that runs generation `generation`; returns its pid.
fn fork_child(generation: u32) -> libc::pid_t {
    leave_work_pending();
    // SAFETY: fork has no memory-safety preconditions. The child only uses
    // async-signal-safe calls (alarm) before it uses the RCU API, which is
    // what the test examines, and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: alarm is async-signal-safe; SIGALRM's default action
        // kills this child if it hangs.
        unsafe { libc::alarm(CHILD_ALARM_SECS) };
        child_main(generation);
    }
    pid
}

fn child_main(generation: u32) -> ! {
    step(generation, "start");
    exercise_memb(generation);
    exercise_qsbr(generation);
    if generation < DEPTH {
        step(generation, "forking the next generation");
        for _ in 0..CHILDREN {
            let pid = fork_child(generation + 1);
            if wait_for(pid).is_err() {
                fail(generation);
            }
        }
    }
    step(generation, "done");
    // SAFETY: as in `fail`.
    unsafe { libc::_exit(0) }
}

/// Waits for `pid`; `Err` describes how it did not exit with status 0.
fn wait_for(pid: libc::pid_t) -> Result<(), String> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer for the call.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("waitpid({pid}) failed: {err}"));
        }
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else if libc::WIFSIGNALED(status) {
        Err(format!("killed by signal {}", libc::WTERMSIG(status)))
    } else {
        Err(format!("exit status {}", libc::WEXITSTATUS(status)))
    }
}

fn describe_failure(how: &str) -> String {
    let s = shared();
    let generation = s.failed_generation.load(Ordering::Relaxed);
    let (generation, at) = if generation == 0 {
        // Killed without recording: find the deepest generation that
        // started and did not finish.
        let done = STEPS.len() as u32;
        let g = (1..=DEPTH).rev().find(|&g| {
            let v = s.step[g as usize].load(Ordering::Relaxed);
            v != 0 && v != done
        });
        (g.unwrap_or(1), g.map_or(0, |g| s.step[g as usize].load(Ordering::Relaxed)))
    } else {
        (generation, s.failed_step.load(Ordering::Relaxed))
    };
    format!(
        "a forked child failed ({how}); deepest failing generation {generation} at step `{}`",
        at.checked_sub(1).and_then(|i| STEPS.get(i as usize)).copied().unwrap_or("(not started)")
    )
}

/// Forks `CHILDREN` first-generation children one after the other, with
/// `background` running in a parent thread meanwhile; panics describing
/// the first child that did not exit with status 0.
fn fork_three_generations(background: impl Fn(&AtomicBool) + Sync) {
    // Mapped before the first fork, so that every generation shares it.
    let s = shared();
    for g in &s.step {
        g.store(0, Ordering::Relaxed);
    }
    s.failed_generation.store(0, Ordering::Relaxed);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| background(&stop));
        let mut outcome = Ok(());
        for _ in 0..CHILDREN {
            outcome = wait_for(fork_child(1));
            if outcome.is_err() {
                break;
            }
        }
        // Relaxed: a loop flag.
        stop.store(true, Ordering::Relaxed);
        if let Err(how) = outcome {
            panic!("{}", describe_failure(&how));
        }
    });
    let deepest = s.step[DEPTH as usize].load(Ordering::Relaxed);
    assert_eq!(deepest as usize, STEPS.len(), "generation {DEPTH} must have run to its last step");
}

/// Decides the barrier strategy and runs a grace period in each flavour
/// before any fork: the first decision holds a lock while it registers for
/// membarrier (milliseconds), and a fork in that window copies the lock
/// held (see the ignored scenario).
fn initialise_both_flavours() {
    rcu_memb::synchronize_rcu();
    rcu_qsbr::synchronize_rcu();
}

#[test]
fn three_generations_of_children_forked_from_a_quiescent_parent_use_every_api() {
    let _turn = ONE_SCENARIO_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    POLL_ONLY_STEPS.store(false, Ordering::Relaxed);
    PENDING_AT_FORK.store(false, Ordering::Relaxed);
    initialise_both_flavours();
    fork_three_generations(|_| {});
}

#[test]
#[ignore = "engine gap, see the module docs: a forked child inherits a grace-period leadership \
            (or INIT_LOCK) held by a parent thread and the reclaim thread's `started` flag without \
            the thread, so its synchronize_rcu or poll_state waits forever; run with --ignored"]
fn three_generations_of_children_forked_while_grace_periods_run_and_polls_are_pending() {
    let _turn = ONE_SCENARIO_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    POLL_ONLY_STEPS.store(true, Ordering::Relaxed);
    PENDING_AT_FORK.store(true, Ordering::Relaxed);
    fork_three_generations(|stop| {
        // Relaxed: a loop flag.
        while !stop.load(Ordering::Relaxed) {
            rcu_memb::synchronize_rcu();
            rcu_qsbr::synchronize_rcu();
            leave_work_pending();
        }
    });
}
