//! A thread the program never registered, entering a function-ABI section:
//! liburcu leaves the section unprotected; here the thread is registered
//! on the spot (memb and mb until it exits or unregisters; QSBR online only
//! inside its sections) and grace periods wait for it. One test, run in
//! order, because it counts each flavour's registered readers.

use rcu_capi::*;
use rcu_core::FlavourLocals;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

extern "C" {
    fn urcu_memb_read_lock();
    fn urcu_memb_read_unlock();
    fn urcu_mb_read_lock();
    fn urcu_mb_read_unlock();
    fn urcu_qsbr_read_lock();
    fn urcu_qsbr_read_unlock();
    fn urcu_qsbr_read_ongoing() -> i32;
    fn urcu_qsbr_quiescent_state();
    fn urcu_qsbr_thread_online();
}

fn registered<F: FlavourLocals>() -> usize {
    F::foreign_readers().expect("a C flavour").len()
}

/// `synchronize` from this thread, failing the test instead of hanging if
/// it does not return within a minute (a reader it should not wait for).
fn synchronize_returns(synchronize: extern "C" fn()) {
    let (done, wait) = mpsc::channel();
    std::thread::spawn(move || {
        synchronize();
        done.send(()).unwrap();
    });
    wait.recv_timeout(Duration::from_secs(60)).expect("synchronize_rcu waited for a reader outside any section");
}

/// A lazily registered reader's section holds a grace period up until it
/// ends: the writer must not return while the reader is inside.
fn section_is_protected(lock: unsafe extern "C" fn(), unlock: unsafe extern "C" fn(), synchronize: extern "C" fn()) {
    let finished = Arc::new(AtomicBool::new(false));
    let entered = Arc::new(Barrier::new(2));
    let reader = {
        let (finished, entered) = (finished.clone(), entered.clone());
        std::thread::spawn(move || {
            // SAFETY: the section under test, on an unregistered thread.
            unsafe { lock() };
            entered.wait();
            std::thread::sleep(Duration::from_millis(50));
            let early = finished.load(Ordering::SeqCst);
            // SAFETY: the section taken above.
            unsafe { unlock() };
            early
        })
    };
    entered.wait();
    synchronize();
    finished.store(true, Ordering::SeqCst);
    assert!(!reader.join().unwrap(), "a lazily registered section was not waited for");
}

fn memb_and_mb_threads_register_on_first_section_until_they_exit() {
    for (lock, unlock, synchronize) in [
        (
            urcu_memb_read_lock as unsafe extern "C" fn(),
            urcu_memb_read_unlock as unsafe extern "C" fn(),
            urcu_memb_synchronize_rcu as extern "C" fn(),
        ),
        (urcu_mb_read_lock, urcu_mb_read_unlock, urcu_mb_synchronize_rcu),
    ] {
        section_is_protected(lock, unlock, synchronize);
    }
    let before = registered::<Memb>();
    std::thread::spawn(move || {
        // SAFETY: a lazily registered section.
        unsafe { urcu_memb_read_lock() };
        assert_eq!(registered::<Memb>(), before + 1, "the first section registers the thread");
        // SAFETY: the section taken above.
        unsafe { urcu_memb_read_unlock() };
        assert_eq!(registered::<Memb>(), before + 1, "it stays registered between sections");
        urcu_memb_register_thread(); // the program's own registration is accepted
        urcu_memb_unregister_thread();
        assert_eq!(registered::<Memb>(), before, "unregistration works");
        // SAFETY: registers lazily again.
        unsafe { urcu_memb_read_lock() };
        // SAFETY: the section taken above.
        unsafe { urcu_memb_read_unlock() };
    })
    .join()
    .unwrap();
    assert_eq!(registered::<Memb>(), before, "a lazily registered thread is unregistered at exit");
}

fn qsbr_threads_are_online_only_inside_their_sections() {
    section_is_protected(urcu_qsbr_read_lock, urcu_qsbr_read_unlock, urcu_qsbr_synchronize_rcu);
    let before = registered::<Qsbr>();
    let (outside, release) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let idle = {
        let (outside, release) = (outside.clone(), release.clone());
        std::thread::spawn(move || {
            // SAFETY: lazily registered; nested sections.
            unsafe {
                urcu_qsbr_read_lock();
                urcu_qsbr_read_lock();
                urcu_qsbr_read_unlock();
                assert_ne!(urcu_qsbr_read_ongoing(), 0, "online inside the outer section");
                urcu_qsbr_read_unlock();
                assert_eq!(urcu_qsbr_read_ongoing(), 0, "offline after its outermost section");
                // Stray quiescent-state calls do not bring it online for good.
                urcu_qsbr_quiescent_state();
                urcu_qsbr_thread_online();
                assert_eq!(urcu_qsbr_read_ongoing(), 0, "stays offline between sections");
            }
            outside.wait();
            release.wait();
        })
    };
    outside.wait();
    assert_eq!(registered::<Qsbr>(), before + 1);
    // The idle lazily registered thread holds no grace period up.
    synchronize_returns(urcu_qsbr_synchronize_rcu);
    release.wait();
    idle.join().unwrap();
    assert_eq!(registered::<Qsbr>(), before, "unregistered at exit");
}

#[test]
fn unregistered_threads_are_registered_by_their_first_section() {
    memb_and_mb_threads_register_on_first_section_until_they_exit();
    qsbr_threads_are_online_only_inside_their_sections();
}
