//! `synchronize_rcu_async` and `rcu_barrier_async`, generic over the
//! flavour, on a minimal executor of this file ([`block_on`], [`join_all`])
//! whose waker counts its wake-ups: a future that completes only through
//! a wake-up proves the engine woke it.

use crate::callbacks::DropCounter;
use rcu_core::RcuFlavour;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// How long a pending future may go without a wake-up before the test
/// fails (instead of hanging).
const NO_WAKE_LIMIT: Duration = Duration::from_secs(60);

/// A waker that unparks its thread and counts its wake-ups.
#[derive(Debug)]
pub struct CountingWaker {
    thread: std::thread::Thread,
    wakes: AtomicU64,
}

impl CountingWaker {
    /// A waker for the calling thread.
    pub fn for_current_thread() -> Arc<Self> {
        Arc::new(CountingWaker { thread: std::thread::current(), wakes: AtomicU64::new(0) })
    }

    /// Wake-ups so far.
    pub fn wakes(&self) -> u64 {
        // Acquire pairs with the Release increment in `wake_by_ref`.
        self.wakes.load(Ordering::Acquire)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Release: the waker's thread reads the count after it unparks.
        self.wakes.fetch_add(1, Ordering::Release);
        self.thread.unpark();
    }
}

/// Parks until `waker` counts a wake-up beyond `seen`; panics past
/// [`NO_WAKE_LIMIT`] (a lost wake-up).
fn park_until_woken(waker: &CountingWaker, seen: u64) {
    let deadline = Instant::now() + NO_WAKE_LIMIT;
    while waker.wakes() == seen {
        let now = Instant::now();
        assert!(now < deadline, "a pending future was not woken within {NO_WAKE_LIMIT:?}");
        std::thread::park_timeout(deadline - now);
    }
}

/// Runs `future` to completion on the calling thread, parking between
/// polls; returns its output and the number of wake-ups.
pub fn block_on<T>(future: impl Future<Output = T>) -> (T, u64) {
    let mut future = std::pin::pin!(future);
    let counting = CountingWaker::for_current_thread();
    let waker = Waker::from(counting.clone());
    loop {
        let seen = counting.wakes();
        if let Poll::Ready(v) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
            return (v, counting.wakes());
        }
        park_until_woken(&counting, seen);
    }
}

/// Runs every future to completion on the calling thread, polling those
/// not yet complete after each wake-up; returns the number of wake-ups.
pub fn join_all<Fut: Future<Output = ()>>(futures: Vec<Fut>) -> u64 {
    let mut futures: Vec<Option<Pin<Box<Fut>>>> = futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let counting = CountingWaker::for_current_thread();
    let waker = Waker::from(counting.clone());
    loop {
        let seen = counting.wakes();
        for slot in &mut futures {
            if let Some(f) = slot {
                if f.as_mut().poll(&mut Context::from_waker(&waker)).is_ready() {
                    *slot = None;
                }
            }
        }
        if futures.iter().all(Option::is_none) {
            return counting.wakes();
        }
        park_until_woken(&counting, seen);
    }
}

/// A waker that does nothing.
struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

/// Polls `future` once with a waker that does nothing; whether it is ready.
pub fn poll_once<Fut: Future + ?Sized>(future: Pin<&mut Fut>) -> bool {
    future.poll(&mut Context::from_waker(&Waker::from(Arc::new(Noop)))).is_ready()
}

/// A reader thread inside a read-side section until [`HeldReader::release`].
#[derive(Debug)]
pub struct HeldReader {
    release: mpsc::Sender<()>,
    handle: std::thread::JoinHandle<()>,
}

impl HeldReader {
    /// Starts the thread; returns once it is inside its section.
    pub fn enter<F: RcuFlavour>() -> Self {
        let (inside_tx, inside_rx) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let handle = std::thread::spawn(move || {
            let thread = F::register_thread();
            let guard = F::read_lock(&thread);
            inside_tx.send(()).unwrap();
            let _ = release_rx.recv();
            drop(guard);
            F::unregister_thread(thread);
        });
        inside_rx.recv().unwrap();
        HeldReader { release, handle }
    }

    /// Ends the section (and unregisters the thread) and joins it.
    pub fn release(self) {
        self.release.send(()).unwrap();
        self.handle.join().unwrap();
    }
}

/// The future completes only after a reader that was inside when it was
/// made has left, and it completes by a wake-up.
pub fn synchronize_async_waits_for_an_older_reader<F: RcuFlavour>() {
    let reader = HeldReader::enter::<F>();
    let mut future = Box::pin(F::synchronize_rcu_async());
    let since = Instant::now();
    while since.elapsed() < Duration::from_millis(100) {
        assert!(!poll_once(future.as_mut()), "rcu_{}: completed while an older reader was inside", F::NAME);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(F::engine().async_waiters(), 1);
    let left = Arc::new(AtomicBool::new(false));
    let l = left.clone();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        // Release pairs with the Acquire load after the future completes.
        l.store(true, Ordering::Release);
        reader.release();
    });
    let ((), wakes) = block_on(future);
    // Acquire pairs with the Release store above.
    assert!(left.load(Ordering::Acquire), "rcu_{}: completed before the reader left", F::NAME);
    assert!(wakes >= 1, "rcu_{}: completed without a wake-up", F::NAME);
    releaser.join().unwrap();
    assert_eq!(F::engine().async_waiters(), 0, "rcu_{}: a waker was left registered", F::NAME);
}

/// With no reader to wait for (none registered, none online, none inside
/// an srcu section), the future completes in the call that makes it, as a
/// blocking `synchronize_rcu` does in its fast path: ready at its first
/// poll, a cookie taken before it completed, nothing registered. Again
/// after a reader has come and gone.
pub fn synchronize_async_without_readers_completes_at_once<F: RcuFlavour>() {
    for round in 0..2 {
        let cookie = F::get_state_synchronize_rcu();
        let mut future = Box::pin(F::synchronize_rcu_async());
        assert!(poll_once(future.as_mut()), "rcu_{}: round {round}: no reader, yet the future is pending", F::NAME);
        assert!(F::poll_state_synchronize_rcu(cookie), "rcu_{}: round {round}: the earlier cookie", F::NAME);
        assert_eq!(F::engine().async_waiters(), 0);
        HeldReader::enter::<F>().release();
    }
}

/// 1,000 futures made while one reader holds grace periods up, then
/// joined: a few grace periods serve them all.
pub fn many_awaiters_share_grace_periods<F: RcuFlavour>() {
    const AWAITERS: usize = 1000;
    let reader = HeldReader::enter::<F>();
    let before = F::stats().grace_periods;
    let futures: Vec<_> = (0..AWAITERS).map(|_| F::synchronize_rcu_async()).collect();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        reader.release();
    });
    let wakes = join_all(futures);
    releaser.join().unwrap();
    let ran = F::stats().grace_periods - before;
    assert!(ran <= 10, "rcu_{}: {AWAITERS} awaiters cost {ran} grace periods", F::NAME);
    assert!(wakes >= 1, "rcu_{}: no wake-up", F::NAME);
    assert_eq!(F::engine().async_waiters(), 0, "rcu_{}: wakers left registered", F::NAME);
}

/// Futures polled once and dropped leave nothing registered, and the
/// others still complete.
pub fn dropped_futures_leak_nothing<F: RcuFlavour>() {
    const FUTURES: usize = 200;
    let reader = HeldReader::enter::<F>();
    let mut futures: Vec<_> = (0..FUTURES).map(|_| Box::pin(F::synchronize_rcu_async())).collect();
    for f in &mut futures {
        assert!(!poll_once(f.as_mut()));
    }
    // A second poll refreshes the entry, it does not add one.
    assert!(!poll_once(futures[0].as_mut()));
    assert_eq!(F::engine().async_waiters(), FUTURES);
    let kept: Vec<_> = futures.into_iter().enumerate().filter(|(i, _)| i % 2 == 0).map(|(_, f)| f).collect();
    assert_eq!(F::engine().async_waiters(), FUTURES / 2, "rcu_{}: a dropped future left its waker", F::NAME);
    // Dropped without a poll: never registered.
    drop(F::synchronize_rcu_async());
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        reader.release();
    });
    join_all(kept);
    releaser.join().unwrap();
    assert_eq!(F::engine().async_waiters(), 0, "rcu_{}: wakers left registered", F::NAME);
}

/// `rcu_barrier_async` waits for the callbacks and kvfree objects queued
/// before it, from several threads.
pub fn barrier_async_waits_for_callbacks_and_kvfree<F: RcuFlavour>() {
    let counter = Arc::new(DropCounter::default());
    std::thread::scope(|s| {
        for _ in 0..3 {
            let counter = &counter;
            s.spawn(move || {
                for i in 0..500 {
                    let payload = counter.make();
                    if i % 2 == 0 {
                        F::call_rcu(move || drop(payload));
                    } else {
                        F::kvfree_rcu(Box::new(payload));
                    }
                }
            });
        }
    });
    let barrier = F::rcu_barrier_async();
    let ((), _) = block_on(barrier);
    assert_eq!(counter.dropped(), counter.created(), "rcu_{}: rcu_barrier_async returned early", F::NAME);
    // Dropped before its marker ran: the marker still runs (and frees itself).
    drop(F::rcu_barrier_async());
    F::rcu_barrier();
    assert_eq!(F::stats().callback_backlog, 0);
}

/// `rcu_barrier_async` made inside an RCU callback is pending there (its
/// marker runs after that callback) and completes once awaited outside.
pub fn barrier_async_from_a_callback<F: RcuFlavour>() {
    let (tx, rx) = mpsc::channel();
    let counter = Arc::new(DropCounter::default());
    let payload = counter.make();
    F::call_rcu(move || {
        let mut barrier = Box::pin(F::rcu_barrier_async());
        let ready = poll_once(barrier.as_mut());
        F::call_rcu(move || drop(payload));
        tx.send((ready, barrier)).unwrap();
    });
    let (ready, barrier) = rx.recv().unwrap();
    assert!(!ready, "rcu_{}: a barrier made in a callback completed inside it", F::NAME);
    let ((), _) = block_on(barrier);
    // The callback queued after the marker may not have run yet; one more
    // barrier covers it.
    let ((), _) = block_on(F::rcu_barrier_async());
    assert_eq!(counter.dropped(), 1);
}
