//! The C ABI called from Rust, as a C program would call it: grace periods
//! wait for C readers of every flavour (memb, mb and bp sections, online
//! QSBR threads), callbacks and deferrals run after them and `rcu_barrier`
//! waits for them, and polled grace periods (liburcu 0.14) complete only
//! after older readers. Registration and misuse: `tests/c_abi_misuse.rs`.

use rcu_capi::exports::*;
use rcu_capi::pointer::*;
use rcu_capi::*;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

extern "C" {
    fn urcu_memb_read_lock();
    fn urcu_memb_read_unlock();
    fn urcu_memb_read_ongoing() -> i32;
    fn urcu_mb_read_lock();
    fn urcu_mb_read_unlock();
    fn urcu_bp_read_lock();
    fn urcu_bp_read_unlock();
    fn urcu_bp_read_ongoing() -> i32;
    fn urcu_qsbr_quiescent_state();
    fn urcu_qsbr_thread_offline();
    fn urcu_qsbr_thread_online();
    fn urcu_qsbr_read_ongoing() -> i32;
}

/// Holds a reader in its section (memb, mb, bp) or online without a
/// quiescent state (QSBR) while another thread runs `synchronize`, and
/// checks the writer did not finish before the reader let go.
fn grace_period_waits_for(enter: fn(), leave: fn(), synchronize: extern "C" fn()) {
    let finished = Arc::new(AtomicBool::new(false));
    let entered = Arc::new(Barrier::new(2));
    let reader = {
        let (finished, entered) = (finished.clone(), entered.clone());
        std::thread::spawn(move || {
            enter();
            entered.wait();
            // Give a broken writer the chance to finish early.
            std::thread::sleep(Duration::from_millis(50));
            let early = finished.load(Ordering::SeqCst);
            leave();
            early
        })
    };
    entered.wait();
    synchronize();
    finished.store(true, Ordering::SeqCst);
    assert!(!reader.join().unwrap(), "synchronize_rcu returned while a reader was still in its section");
}

#[test]
fn memb_grace_period_waits_for_a_c_reader() {
    grace_period_waits_for(
        || {
            urcu_memb_register_thread();
            // SAFETY: registered.
            unsafe { urcu_memb_read_lock() };
            // SAFETY: nested section.
            unsafe { urcu_memb_read_lock() };
            // SAFETY: inner unlock; the outer section stays.
            unsafe { urcu_memb_read_unlock() };
            // SAFETY: registered thread's own record.
            assert_eq!(unsafe { urcu_memb_read_ongoing() }, 1);
        },
        || {
            // SAFETY: the outer section taken above.
            unsafe { urcu_memb_read_unlock() };
            urcu_memb_unregister_thread();
        },
        urcu_memb_synchronize_rcu,
    );
}

#[test]
fn mb_grace_period_waits_for_a_c_reader() {
    grace_period_waits_for(
        || {
            urcu_mb_register_thread();
            // SAFETY: registered.
            unsafe { urcu_mb_read_lock() };
        },
        || {
            // SAFETY: the section taken above.
            unsafe { urcu_mb_read_unlock() };
            urcu_mb_unregister_thread();
        },
        urcu_mb_synchronize_rcu,
    );
}

#[test]
fn bp_grace_period_waits_for_a_reader_its_first_section_registered() {
    grace_period_waits_for(
        || {
            // SAFETY: bp registers the thread on its first section.
            unsafe { urcu_bp_read_lock() };
            // SAFETY: as above.
            assert_eq!(unsafe { urcu_bp_read_ongoing() }, 1);
        },
        // SAFETY: the section taken above.
        || unsafe { urcu_bp_read_unlock() },
        urcu_bp_synchronize_rcu,
    );
}

#[test]
fn qsbr_grace_period_waits_for_an_online_c_thread() {
    grace_period_waits_for(
        || {
            urcu_qsbr_register_thread();
            // SAFETY: registered threads only.
            assert_ne!(unsafe { urcu_qsbr_read_ongoing() }, 0, "registered QSBR threads start online");
        },
        || {
            // SAFETY: registered thread.
            unsafe { urcu_qsbr_quiescent_state() };
            urcu_qsbr_unregister_thread();
        },
        urcu_qsbr_synchronize_rcu,
    );
}

#[test]
fn qsbr_offline_threads_do_not_hold_grace_periods_and_synchronize_goes_offline() {
    urcu_qsbr_register_thread();
    // An online caller is taken offline for the wait (liburcu's rule).
    urcu_qsbr_synchronize_rcu();
    // SAFETY: registered.
    assert_ne!(unsafe { urcu_qsbr_read_ongoing() }, 0, "back online after synchronize");
    // SAFETY: registered.
    unsafe { urcu_qsbr_thread_offline() };
    let other = std::thread::spawn(|| urcu_qsbr_synchronize_rcu());
    other.join().unwrap();
    // SAFETY: registered.
    unsafe { urcu_qsbr_thread_online() };
    urcu_qsbr_unregister_thread();
}

/// A poll started while a reader is in its section does not complete until
/// the reader leaves, and then completes without anyone calling
/// `synchronize_rcu` (the reclaim thread runs it).
fn poll_waits_for_an_older_reader(
    enter: fn(),
    leave: fn(),
    start: extern "C" fn() -> UrcuGpPollState,
    poll: extern "C" fn(UrcuGpPollState) -> bool,
) {
    let (entered, release) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let reader = {
        let (entered, release) = (entered.clone(), release.clone());
        std::thread::spawn(move || {
            enter();
            entered.wait();
            release.wait();
            leave();
        })
    };
    entered.wait();
    let cookie = start();
    std::thread::sleep(Duration::from_millis(50));
    assert!(!poll(cookie), "the poll completed while an older reader was in its section");
    release.wait();
    reader.join().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !poll(cookie) {
        assert!(std::time::Instant::now() < deadline, "the polled grace period never completed");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn polls_wait_for_older_readers_in_every_flavour() {
    poll_waits_for_an_older_reader(
        // SAFETY: a lazily registered memb section.
        || unsafe { urcu_memb_read_lock() },
        // SAFETY: the section taken above.
        || unsafe { urcu_memb_read_unlock() },
        urcu_memb_start_poll_synchronize_rcu,
        urcu_memb_poll_state_synchronize_rcu,
    );
    poll_waits_for_an_older_reader(
        // SAFETY: a lazily registered mb section.
        || unsafe { urcu_mb_read_lock() },
        // SAFETY: the section taken above.
        || unsafe { urcu_mb_read_unlock() },
        urcu_mb_start_poll_synchronize_rcu,
        urcu_mb_poll_state_synchronize_rcu,
    );
    poll_waits_for_an_older_reader(
        // SAFETY: bp registers on first use.
        || unsafe { urcu_bp_read_lock() },
        // SAFETY: the section taken above.
        || unsafe { urcu_bp_read_unlock() },
        urcu_bp_start_poll_synchronize_rcu,
        urcu_bp_poll_state_synchronize_rcu,
    );
    poll_waits_for_an_older_reader(
        || urcu_qsbr_register_thread(),
        || urcu_qsbr_unregister_thread(),
        urcu_qsbr_start_poll_synchronize_rcu,
        urcu_qsbr_poll_state_synchronize_rcu,
    );
    // A zeroed cookie (what a C program's static initialiser gives) polls
    // as completed, as in liburcu.
    assert!(urcu_memb_poll_state_synchronize_rcu(UrcuGpPollState { grace_period_id: 0 }));
}

static CALLED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count_head(head: *mut RcuHead) {
    assert!(!head.is_null());
    CALLED.fetch_add(1, Ordering::SeqCst);
}

unsafe extern "C" fn count_arg(p: *mut c_void) {
    assert_eq!(p as usize, 42);
    CALLED.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn call_rcu_and_defer_rcu_run_by_barrier_in_both_flavours() {
    let mut heads: Vec<RcuHead> = (0..100).map(|_| RcuHead { next: std::ptr::null_mut(), func: None }).collect();
    let before = CALLED.load(Ordering::SeqCst);
    urcu_memb_register_thread();
    for h in heads.iter_mut().take(50) {
        // SAFETY: `count_head` only counts; the heads outlive the barrier.
        unsafe { urcu_memb_call_rcu(h, Some(count_head)) };
    }
    // SAFETY: `count_arg` only counts.
    unsafe { urcu_memb_defer_rcu(Some(count_arg), 42 as *mut c_void) };
    urcu_memb_barrier();
    urcu_memb_unregister_thread();
    urcu_qsbr_register_thread();
    for h in heads.iter_mut().skip(50) {
        // SAFETY: as above.
        unsafe { urcu_qsbr_call_rcu(h, Some(count_head)) };
    }
    // SAFETY: as above.
    unsafe { urcu_qsbr_defer_rcu(Some(count_arg), 42 as *mut c_void) };
    urcu_qsbr_defer_barrier();
    urcu_qsbr_unregister_thread();
    assert!(CALLED.load(Ordering::SeqCst) - before >= 102);
}

#[test]
fn call_rcu_data_handles_follow_liburcu() {
    let default = urcu_memb_get_default_call_rcu_data();
    assert!(!default.is_null());
    assert_eq!(urcu_memb_get_thread_call_rcu_data(), std::ptr::null_mut());
    let mine = urcu_memb_create_call_rcu_data(0, -1);
    urcu_memb_set_thread_call_rcu_data(mine);
    assert_eq!(urcu_memb_get_call_rcu_data(), mine);
    urcu_memb_set_thread_call_rcu_data(std::ptr::null_mut());
    assert_eq!(urcu_memb_set_cpu_call_rcu_data(-1, mine), -1, "no CPU -1");
    assert_eq!(urcu_memb_set_cpu_call_rcu_data(0, mine), 0);
    assert_eq!(urcu_memb_get_cpu_call_rcu_data(0), mine);
    assert_eq!(urcu_memb_set_cpu_call_rcu_data(0, mine), -1, "CPU 0 has one already");
    assert_eq!(urcu_memb_set_cpu_call_rcu_data(0, std::ptr::null_mut()), 0);
    // SAFETY: a handle from create, not used after.
    unsafe { urcu_memb_call_rcu_data_free(mine) };
    assert_eq!(urcu_memb_create_all_cpu_call_rcu_data(0), 0);
    assert!(!urcu_memb_get_cpu_call_rcu_data(0).is_null());
    urcu_memb_free_all_cpu_call_rcu_data();
    assert!(urcu_memb_get_cpu_call_rcu_data(0).is_null());
    // SAFETY: the default handle is ignored.
    unsafe { urcu_memb_call_rcu_data_free(default) };
    assert_ne!(urcu_memb_get_call_rcu_thread(default), 0);
}

#[test]
fn pointer_helpers_publish_and_swap() {
    let (mut a, mut b) = (1u32, 2u32);
    let pa = std::ptr::from_mut(&mut a).cast::<c_void>();
    let pb = std::ptr::from_mut(&mut b).cast::<c_void>();
    let mut slot: *mut c_void = std::ptr::null_mut();
    // SAFETY: `slot` is a live, aligned pointer word.
    unsafe {
        assert_eq!(rcu_set_pointer_sym(&mut slot, pa), pa);
        assert_eq!(rcu_xchg_pointer_sym(&mut slot, pb), pa);
        assert_eq!(rcu_cmpxchg_pointer_sym(&mut slot, pa, pa), pb, "mismatch: unchanged");
        assert_eq!(rcu_cmpxchg_pointer_sym(&mut slot, pb, pa), pb);
    }
    assert_eq!(rcu_dereference_sym(slot), pa);
}

#[test]
fn the_flavour_tables_name_the_flavours_functions() {
    assert_eq!(urcu_memb_flavor.update_synchronize_rcu as usize, urcu_memb_synchronize_rcu as *const () as usize);
    assert_eq!(urcu_mb_flavor.update_synchronize_rcu as usize, urcu_mb_synchronize_rcu as *const () as usize);
    assert_eq!(urcu_bp_flavor.register_thread as usize, urcu_bp_register_thread as *const () as usize);
    assert_eq!(urcu_qsbr_flavor.barrier as usize, urcu_qsbr_barrier as *const () as usize);
    assert_eq!(urcu_qsbr_flavor.read_quiescent_state as usize, urcu_qsbr_quiescent_state as *const () as usize);
    assert_eq!(
        urcu_qsbr_flavor.update_poll_state_synchronize_rcu as usize,
        urcu_qsbr_poll_state_synchronize_rcu as *const () as usize
    );
    // liburcu 0.14's layout: fourteen function pointers, then the two polls.
    assert_eq!(std::mem::size_of::<RcuFlavorStruct>(), 16 * std::mem::size_of::<usize>());
}

/// The library constructor gives every C engine liburcu's pacing (the
/// Rust flavours keep theirs).
#[test]
fn the_c_engines_are_paced_like_liburcu() {
    use rcu_core::Flavour;
    for (pacing, limits) in [
        (Memb::engine().reclaim_pacing(), Memb::engine().callback_limits()),
        (Mb::engine().reclaim_pacing(), Mb::engine().callback_limits()),
        (Bp::engine().reclaim_pacing(), Bp::engine().callback_limits()),
        (Qsbr::engine().reclaim_pacing(), Qsbr::engine().callback_limits()),
    ] {
        assert_eq!(pacing, LIBURCU_PACING);
        assert_eq!(limits, LIBURCU_LIMITS);
    }
    assert_ne!(LIBURCU_PACING, rcu_core::ReclaimPacing::default());
}

thread_local! {
    /// Set on the thread that queues in `deferred_c_calls_never_run_on_the_caller`.
    static IS_QUEUER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}
static QUEUED_RAN: AtomicUsize = AtomicUsize::new(0);
static QUEUED_RAN_ON_QUEUER: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn note_where_head(_head: *mut RcuHead) {
    note_where();
}

unsafe extern "C" fn note_where_arg(_p: *mut c_void) {
    note_where();
}

fn note_where() {
    if IS_QUEUER.with(|q| q.get()) {
        // Relaxed: read after the barrier, which orders every callback.
        QUEUED_RAN_ON_QUEUER.fetch_add(1, Ordering::Relaxed);
    }
    // Relaxed: as above.
    QUEUED_RAN.fetch_add(1, Ordering::Relaxed);
}

/// liburcu runs `call_rcu` and `defer_rcu` callbacks on the reclaim
/// thread, never on the caller, even where Rust's `kvfree_rcu` may drop on
/// the retiring thread (issue 30): both C calls share kvfree blocks, so
/// this queues enough of them to seal many blocks, with grace periods
/// completing between rounds (a sealed block is then ready when the next
/// one is sealed, the moment a producer-side free would run).
#[test]
fn deferred_c_calls_never_run_on_the_caller() {
    const ROUNDS: usize = 4;
    const PER_ROUND: usize = 3_000;
    let mut heads: Vec<RcuHead> =
        (0..ROUNDS * PER_ROUND).map(|_| RcuHead { next: std::ptr::null_mut(), func: None }).collect();
    IS_QUEUER.with(|q| q.set(true));
    urcu_memb_register_thread();
    let engine = <Memb as rcu_core::Flavour>::engine();
    for round in heads.chunks_mut(PER_ROUND) {
        let freed = engine.stats().kvfree_blocks_freed;
        for (i, h) in round.iter_mut().enumerate() {
            // SAFETY: the callbacks only count; the heads outlive the barrier.
            unsafe {
                if i % 2 == 0 {
                    urcu_memb_call_rcu(h, Some(note_where_head));
                } else {
                    urcu_memb_defer_rcu(Some(note_where_arg), std::ptr::null_mut());
                }
            }
        }
        urcu_memb_synchronize_rcu();
        // The round's full blocks have reached the reclaim thread's
        // choice (free, or hand back to this thread) before the next
        // round seals more: the moment an owner would free them.
        while engine.stats().kvfree_blocks_freed == freed {
            std::thread::yield_now();
        }
    }
    urcu_memb_barrier();
    urcu_memb_unregister_thread();
    IS_QUEUER.with(|q| q.set(false));
    // Relaxed: the barrier ordered every callback before this.
    assert_eq!(QUEUED_RAN.load(Ordering::Relaxed), ROUNDS * PER_ROUND);
    assert_eq!(QUEUED_RAN_ON_QUEUER.load(Ordering::Relaxed), 0, "a deferred C call ran on its caller");
}
