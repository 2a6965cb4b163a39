//! Read-side sections in signal handlers (liburcu-bp's promise): a handler
//! that runs a thread's first bp section registers the thread, even when
//! the signal lands while that thread holds the reader registry for its own
//! grace period's scan: bp's registry is held with signals blocked, so the
//! handler runs after the scan instead of waiting for it forever. A memb
//! section there is not registered (unprotected, as on liburcu) rather than
//! wait for its own thread's scan. Each of
//! many new writers gets one signal at a varying delay into its grace
//! periods; without the blocking this hangs within seconds, and a watchdog
//! turns a hang into a failure.

use rcu_capi::*;
use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

extern "C" {
    fn urcu_bp_read_lock();
    fn urcu_bp_read_unlock();
    fn urcu_memb_read_lock();
    fn urcu_memb_read_unlock();
}

/// A bp section and a memb section; the first of each on a thread
/// registers it (memb: unless the thread holds memb's registry).
extern "C" fn handler(_: libc::c_int) {
    // SAFETY: sections entered and left.
    unsafe {
        urcu_bp_read_lock();
        urcu_bp_read_unlock();
        urcu_memb_read_lock();
        urcu_memb_read_unlock();
    }
}

#[test]
fn a_handler_registering_its_thread_during_that_threads_grace_period_does_not_deadlock() {
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(120));
        eprintln!("deadlock: a signal handler's first bp section waited for its own thread's scan");
        std::process::abort();
    });
    // SAFETY: installs a handler that only enters and leaves a section.
    unsafe { libc::signal(libc::SIGUSR1, handler as *const () as libc::sighandler_t) };
    // Registered idle threads make each scan hold the registry longer.
    for _ in 0..3000 {
        std::thread::spawn(|| {
            handler(0);
            loop {
                std::thread::park();
            }
        });
    }
    // A reader always in and out of sections: scans find it active and
    // re-take the registry, spin after spin.
    std::thread::spawn(|| loop {
        // SAFETY: sections entered and left.
        unsafe {
            urcu_bp_read_lock();
            std::hint::spin_loop();
            urcu_bp_read_unlock();
            urcu_memb_read_lock();
            std::hint::spin_loop();
            urcu_memb_read_unlock();
        }
    });
    let start = Instant::now();
    let mut writers = 0u64;
    while start.elapsed() < Duration::from_secs(5) {
        // A new, unregistered writer inside its grace periods gets one
        // signal: the handler's section registers the thread, and may land
        // while the thread holds the registry for a scan.
        let started = Arc::new(AtomicBool::new(false));
        let writer = {
            let started = started.clone();
            std::thread::spawn(move || {
                started.store(true, Ordering::SeqCst);
                for _ in 0..20 {
                    urcu_bp_synchronize_rcu();
                    urcu_memb_synchronize_rcu();
                }
            })
        };
        while !started.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        std::thread::sleep(Duration::from_micros(writers % 200));
        if !writer.is_finished() {
            // SAFETY: the thread is alive (not yet joined).
            unsafe { libc::pthread_kill(writer.as_pthread_t(), libc::SIGUSR1) };
        }
        writer.join().unwrap();
        writers += 1;
    }
    assert!(writers > 0);
}
