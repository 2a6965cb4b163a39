//! A `Domain`'s deferred work: `call_rcu`, `kvfree_rcu`, `rcu_barrier` and
//! the async waits, each waiting for the domain's own sections only.

use rcu_srcu::Domain;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        // SeqCst: read by the test thread after a barrier (which orders it).
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn callbacks_and_frees_wait_for_the_domains_sections_and_the_barrier_for_them() {
    static D: Domain = Domain::named("callbacks");
    let ran = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicUsize::new(0));
    let guard = D.read_lock();
    let r = ran.clone();
    // SeqCst: checked below, and after the barrier.
    D.call_rcu(move || r.store(true, Ordering::SeqCst));
    D.kvfree_rcu(Box::new(Counted(dropped.clone())));
    D.kvfree_rcu(vec![Counted(dropped.clone()), Counted(dropped.clone())]);
    // The worker runs grace periods meanwhile; none can end while the
    // guard, opened before the calls, lives (on another thread now).
    let holder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        assert!(!ran.load(Ordering::SeqCst), "a callback ran inside a section that predates it");
        assert_eq!(dropped.load(Ordering::SeqCst), 0, "an object was freed inside a section that predates it");
        drop(guard);
        (ran, dropped)
    });
    let (ran, dropped) = holder.join().unwrap();
    D.rcu_barrier();
    assert!(ran.load(Ordering::SeqCst));
    assert_eq!(dropped.load(Ordering::SeqCst), 3);
}

#[test]
fn another_domains_section_does_not_hold_up_this_domains_barrier() {
    static HELD: Domain = Domain::named("held");
    static FREE: Domain = Domain::named("free");
    let _guard = HELD.read_lock();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    // SeqCst: read after the barrier.
    FREE.call_rcu(move || r.store(true, Ordering::SeqCst));
    FREE.rcu_barrier();
    assert!(ran.load(Ordering::SeqCst));
}

#[test]
fn a_barrier_from_a_callback_panics_naming_the_fix_and_the_others_still_run() {
    static D: Domain = Domain::named("reentrant");
    let (tx, rx) = std::sync::mpsc::channel();
    D.call_rcu(move || {
        let refused = std::panic::catch_unwind(|| D.rcu_barrier()).is_err();
        tx.send(refused).unwrap();
    });
    D.call_rcu(|| panic!("a callback that panics"));
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    // SeqCst: read after the barrier.
    D.call_rcu(move || r.store(true, Ordering::SeqCst));
    D.rcu_barrier();
    assert!(rx.recv().unwrap(), "rcu_barrier inside the domain's own callback must panic");
    assert!(ran.load(Ordering::SeqCst));
}

#[test]
fn a_blocking_barrier_inside_the_domains_own_section_panics() {
    static D: Domain = Domain::named("inside");
    let guard = D.read_lock();
    let result = std::panic::catch_unwind(|| D.rcu_barrier());
    drop(guard);
    let message = *result.expect_err("must panic").downcast::<String>().unwrap();
    assert!(message.contains("Domain::rcu_barrier()"), "{message}");
}

#[test]
fn async_waits_on_a_runtime_complete_and_futures_dropped_early_disturb_nothing() {
    static D: Domain = Domain::named("async");
    let dropped = Arc::new(AtomicUsize::new(0));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    runtime.block_on(async {
        // Polled once and dropped, while a section holds the grace period up.
        let guard = D.read_lock();
        {
            let early = std::pin::pin!(D.synchronize_rcu_async());
            let waker = futures_waker();
            let mut cx = std::task::Context::from_waker(&waker);
            assert!(early.poll(&mut cx).is_pending());
        }
        let waiters: Vec<_> = (0..64).map(|_| tokio::spawn(D.synchronize_rcu_async())).collect();
        D.kvfree_rcu(Box::new(Counted(dropped.clone())));
        tokio::task::yield_now().await;
        drop(guard);
        for w in waiters {
            w.await.unwrap();
        }
        D.rcu_barrier_async().await;
    });
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

/// A waker that does nothing (the test polls by hand once).
fn futures_waker() -> std::task::Waker {
    struct Nothing;
    impl std::task::Wake for Nothing {
        fn wake(self: Arc<Self>) {}
    }
    std::task::Waker::from(Arc::new(Nothing))
}
