//! Forked children use every API, three generations deep (after liburcu's
//! `tests/regression/test_urcu_fork.c`).
//!
//! Each child exercises every API of both flavours (reading, waiting and
//! polled grace periods, `RcuCell`, `call_rcu`, `call_rcu_raw`, chained
//! callbacks with one `rcu_barrier` per link, `kvfree_rcu` of boxes and
//! vectors, `rcu_barrier`), forks its own children until the third
//! generation, waits for them, and leaves with `_exit`, whose status its
//! parent checks. Parents never have a reader inside a section at a fork
//! (liburcu requires that: the section would be copied into the child as a
//! reader that never leaves).
//!
//! Two scenarios:
//!
//! * the test process forks with nothing pending (its own children, which
//!   have used `call_rcu` by then, fork with their reclaim threads alive);
//! * every process keeps grace periods running in a second thread and, right
//!   before each fork, leaves polled grace periods, callbacks and partial
//!   kvfree blocks (its own and the second thread's) pending. A child must
//!   then make progress without the threads the fork did not copy (the
//!   engine's `pthread_atfork` handlers), and may run the inherited
//!   callbacks and free the inherited blocks on its own copy of memory.
//!
//! The objects a child hands to `call_rcu` / `kvfree_rcu` count their drops
//! only in the process that made them ([`Counted`]), so "every object
//! queued before `rcu_barrier` was dropped" is checked exactly, whatever
//! the child inherited.
//!
//! Children report through a shared anonymous mapping (which step each
//! generation is in, and the first failure) rather than stdout, whose lock
//! another parent thread may have held at the fork. An `alarm` turns a hang
//! in a child into a SIGALRM death that the parent reports with the step
//! the child was in.

use rcu_core::{RcuFlavour, RcuHead};
use rcu_memb::Memb;
use rcu_qsbr::Qsbr;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Generations below the test process.
const DEPTH: u32 = 3;
/// Children per process per generation.
const CHILDREN: u32 = 2;
/// Seconds before a hung child is killed by SIGALRM.
const CHILD_ALARM_SECS: u32 = 20;

/// Whether the processes leave work pending right before a fork.
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
    "memb: call_rcu + call_rcu_raw + rcu_barrier",
    "memb: kvfree_rcu + kvfree_rcu_vec + rcu_barrier",
    "memb: chained call_rcu, one rcu_barrier per link",
    "memb: a new thread reads and exits",
    "memb: stats",
    "qsbr: register_thread",
    "qsbr: read_lock + quiescent_state",
    "qsbr: offline + free synchronize_rcu + online",
    "qsbr: QsbrThread::synchronize_rcu",
    "qsbr: start_poll + poll_state (reclaim thread must run)",
    "qsbr: cond_synchronize + RcuCell::replace offline",
    "qsbr: call_rcu + call_rcu_raw online, rcu_barrier offline",
    "qsbr: kvfree_rcu + kvfree_rcu_vec online, rcu_barrier offline",
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

/// Drops counted by [`Counted`] in this process.
static OWN_DROPS: AtomicU64 = AtomicU64::new(0);

/// [`Counted`] objects made in this process (a child's copy starts with
/// its parent's count; only the parent compares it with [`OWN_DROPS`]).
static OWN_MADE: AtomicU64 = AtomicU64::new(0);

/// An object for the deferred APIs that counts its drop in [`OWN_DROPS`]
/// only in the process that made it: a forked child may also drop the
/// copies of its parent's pending objects, which must not count as its own.
struct Counted {
    owner: u32,
}

impl Counted {
    fn new() -> Self {
        // Relaxed: compared with OWN_DROPS after rcu_barrier, which orders
        // every drop before its return; made on this thread or before the
        // spawning thread's join.
        OWN_MADE.fetch_add(1, Ordering::Relaxed);
        Counted { owner: std::process::id() }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if self.owner == std::process::id() {
            // Relaxed: read after rcu_barrier, which orders every callback
            // and kvfree drop before its return.
            OWN_DROPS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A counted object with an embedded head, for `call_rcu_raw`.
#[repr(C)]
struct RawNode {
    head: RcuHead,
    counted: Counted,
}

/// `call_rcu_raw`'s callback.
///
/// # Safety
///
/// `head` is the first field of a `RawNode` leaked from a `Box`, reclaimed
/// only here.
unsafe fn free_raw_node(head: NonNull<RcuHead>) {
    // SAFETY: per the contract (`repr(C)`, head first).
    drop(unsafe { Box::from_raw(head.cast::<RawNode>().as_ptr()) });
}

/// A leaked `RawNode` and its head.
fn raw_node() -> NonNull<RcuHead> {
    let node = Box::into_raw(Box::new(RawNode { head: RcuHead::new(), counted: Counted::new() }));
    // SAFETY: `node` is a valid pointer from `Box::into_raw`.
    unsafe { NonNull::new_unchecked(std::ptr::addr_of_mut!((*node).head)) }
}

/// Runs `queue` (which hands `n` counted objects to a deferred API), then
/// `barrier`; checks that exactly those `n` were dropped.
fn queue_then_barrier(generation: u32, n: u64, queue: impl FnOnce(), barrier: impl FnOnce()) {
    let before = OWN_DROPS.load(Ordering::Relaxed);
    queue();
    barrier();
    check(generation, OWN_DROPS.load(Ordering::Relaxed) - before == n);
}

/// 8 closures and one intrusive node.
fn queue_callbacks<F: RcuFlavour>() {
    for _ in 0..8 {
        let c = Counted::new();
        F::call_rcu(move || drop(c));
    }
    // SAFETY: a fresh node, leaked until `free_raw_node` reclaims it; a
    // `Counted` may be dropped on any thread.
    unsafe { F::call_rcu_raw(raw_node(), free_raw_node) };
}

/// 4 boxes, a boxed slice of 2, a vector of 3.
fn queue_kvfrees<F: RcuFlavour>() {
    for _ in 0..4 {
        F::kvfree_rcu(Box::new(Counted::new()));
    }
    F::kvfree_rcu(vec![Counted::new(), Counted::new()].into_boxed_slice());
    F::kvfree_rcu(vec![Counted::new(), Counted::new(), Counted::new()]);
}

/// A chain of `links` callbacks, each queueing the next; the last drops a
/// counted object.
fn queue_chain(links: u32, ran: &'static AtomicU32) {
    rcu_memb::call_rcu(move || {
        // Relaxed: read after rcu_barrier.
        ran.fetch_add(1, Ordering::Relaxed);
        if links > 1 {
            queue_chain(links - 1, ran);
        } else {
            drop(Counted::new());
        }
    });
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
    let cookie = rcu_memb::start_poll_synchronize_rcu();
    while !rcu_memb::poll_state_synchronize_rcu(cookie) {
        std::thread::sleep(Duration::from_micros(100));
    }
    step(generation, "memb: start_poll + cond_synchronize");
    let cookie = rcu_memb::start_poll_synchronize_rcu();
    rcu_memb::cond_synchronize_rcu(cookie);
    check(generation, rcu_memb::poll_state_synchronize_rcu(cookie));
    step(generation, "memb: get_state + cond_synchronize");
    let cookie = rcu_memb::get_state_synchronize_rcu();
    rcu_memb::cond_synchronize_rcu(cookie);
    check(generation, rcu_memb::poll_state_synchronize_rcu(cookie));
    step(generation, "memb: RcuCell::replace");
    cell.replace(generation + 100);
    check(generation, *cell.load(&read_lock()) == generation + 100);
    step(generation, "memb: call_rcu + call_rcu_raw + rcu_barrier");
    queue_then_barrier(generation, 9, queue_callbacks::<Memb>, rcu_memb::rcu_barrier);
    step(generation, "memb: kvfree_rcu + kvfree_rcu_vec + rcu_barrier");
    queue_then_barrier(
        generation,
        10,
        || {
            queue_kvfrees::<Memb>();
            rcu_memb::kvfree_rcu_vec(vec![Counted::new()]);
        },
        rcu_memb::rcu_barrier,
    );
    step(generation, "memb: chained call_rcu, one rcu_barrier per link");
    static LINKS_RAN: AtomicU32 = AtomicU32::new(0);
    let (links_before, drops_before) = (LINKS_RAN.load(Ordering::Relaxed), OWN_DROPS.load(Ordering::Relaxed));
    queue_chain(3, &LINKS_RAN);
    for link in 1..=3 {
        // One barrier waits only for callbacks queued before it: link k is
        // queued by link k-1 while it runs, so k barriers cover k links.
        rcu_memb::rcu_barrier();
        check(generation, LINKS_RAN.load(Ordering::Relaxed) - links_before >= link);
    }
    check(generation, OWN_DROPS.load(Ordering::Relaxed) - drops_before == 1);
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
    let cookie = rcu_qsbr::start_poll_synchronize_rcu();
    t.offline_scope(|| {
        while !rcu_qsbr::poll_state_synchronize_rcu(cookie) {
            std::thread::sleep(Duration::from_micros(100));
        }
    });
    step(generation, "qsbr: cond_synchronize + RcuCell::replace offline");
    let cookie = rcu_qsbr::start_poll_synchronize_rcu();
    t.offline_scope(|| {
        rcu_qsbr::cond_synchronize_rcu(cookie);
        cell.replace(generation + 100);
    });
    check(generation, rcu_qsbr::poll_state_synchronize_rcu(cookie) && *cell.load(&t.read_lock()) == generation + 100);
    step(generation, "qsbr: call_rcu + call_rcu_raw online, rcu_barrier offline");
    queue_then_barrier(generation, 9, queue_callbacks::<Qsbr>, || t.offline_scope(rcu_qsbr::rcu_barrier));
    step(generation, "qsbr: kvfree_rcu + kvfree_rcu_vec online, rcu_barrier offline");
    queue_then_barrier(
        generation,
        10,
        || {
            queue_kvfrees::<Qsbr>();
            rcu_qsbr::kvfree_rcu_vec(vec![Counted::new()]);
        },
        || t.offline_scope(rcu_qsbr::rcu_barrier),
    );
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

/// Leaves work pending in flavour `F`: a polled grace period the reclaim
/// thread is asked to run, callbacks, and a few objects in the calling
/// thread's partial kvfree block.
fn leave_pending<F: RcuFlavour>() {
    let _ = F::start_poll_synchronize_rcu();
    for _ in 0..4 {
        let c = Counted::new();
        F::call_rcu(move || drop(c));
    }
    queue_kvfrees::<F>();
}

/// Leaves work pending in both flavours (in the busy scenario).
fn leave_work_pending() {
    if PENDING_AT_FORK.load(Ordering::Relaxed) {
        leave_pending::<Memb>();
        leave_pending::<Qsbr>();
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
/// before any fork. The engine's one-time set-up (a `std::sync::Once` that
/// registers for membarrier, milliseconds, and installs the fork handlers)
/// is not covered by the fork handlers: a fork while another thread is
/// inside it would copy it half done. (The busy scenario's forking thread
/// uses both flavours itself before its first fork, which has the same
/// effect.)
fn initialise_both_flavours() {
    rcu_memb::synchronize_rcu();
    rcu_qsbr::synchronize_rcu();
}

#[test]
fn three_generations_of_children_forked_from_a_parent_with_nothing_pending_use_every_api() {
    let _turn = ONE_SCENARIO_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    PENDING_AT_FORK.store(false, Ordering::Relaxed);
    initialise_both_flavours();
    fork_three_generations(|_| {});
}

#[test]
fn three_generations_of_children_forked_while_grace_periods_run_and_callbacks_and_kvfree_blocks_are_pending() {
    let _turn = ONE_SCENARIO_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    PENDING_AT_FORK.store(true, Ordering::Relaxed);
    fork_three_generations(|stop| {
        // Relaxed: a loop flag.
        while !stop.load(Ordering::Relaxed) {
            rcu_memb::synchronize_rcu();
            rcu_qsbr::synchronize_rcu();
            leave_work_pending();
        }
    });
    // The parent's own pending work completes too: after both barriers,
    // every object the parent made has been dropped exactly once (the
    // background thread has been joined by the scope).
    rcu_memb::rcu_barrier();
    rcu_qsbr::rcu_barrier();
    assert_eq!(
        OWN_DROPS.load(Ordering::Relaxed),
        OWN_MADE.load(Ordering::Relaxed),
        "every object the parent queued is dropped in the parent, once"
    );
}
