//! A domain's deferred work: callbacks and kvfree objects waiting for one
//! of the domain's grace periods, and the grace periods its async waits
//! need, served by one worker thread per domain, started on first use.
//!
//! Each item carries the domain's cookie taken when it was queued (after
//! the caller's unpublish: `GpSequence::snapshot` fences first), and items
//! run in queue order once the sequence reaches their cookie, so a barrier
//! queued behind them runs after all of them. The worker runs the domain's
//! grace periods itself, blocking only itself: readers of the domain may
//! sleep, and nothing else waits for them.

use rcu_core::kvfree::Entry;
use rcu_core::GpState;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// What runs after a grace period.
enum Deferred {
    /// A `call_rcu` callback.
    Call(Box<dyn FnOnce() + Send>),
    /// A `kvfree_rcu` object, type-erased without an allocation.
    Free(Entry),
}

/// Work queued for the worker.
pub(crate) struct Pending {
    /// In queue order, each with the cookie it waits for.
    items: VecDeque<(GpState, Deferred)>,
    /// The latest cookie of the items queued (cookies may be queued out of
    /// order: two threads snapshot, then push).
    latest: GpState,
    /// The latest cookie an async wait asked a grace period for.
    wanted: GpState,
    /// Whether the worker runs (false again in a forked child, which has
    /// no worker: the next item or request starts one).
    started: bool,
}

/// A domain's queue and its worker (see the module docs).
pub(crate) struct DomainReclaim {
    pending: Mutex<Pending>,
    work: Condvar,
}

impl std::fmt::Debug for DomainReclaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainReclaim").finish_non_exhaustive()
    }
}

/// How the worker reaches the domain's grace periods.
pub(crate) trait GracePeriods: Sync + 'static {
    /// A cookie covering every section open now.
    fn snapshot(&self) -> GpState;
    /// Whether `cookie`'s grace period has completed.
    fn poll(&self, cookie: GpState) -> bool;
    /// Blocks until `cookie` is reached, running grace periods.
    fn wait_for(&'static self, cookie: GpState);
    /// The name of the domain, for the worker thread.
    fn name(&self) -> &'static str;
}

impl DomainReclaim {
    /// An empty queue; the worker starts with the first item or request.
    pub(crate) const fn new() -> Self {
        DomainReclaim {
            pending: Mutex::new(Pending {
                items: VecDeque::new(),
                latest: GpState::COMPLETED,
                wanted: GpState::COMPLETED,
                started: false,
            }),
            work: Condvar::new(),
        }
    }

    /// `fork()` support: the queue's lock, held across the fork by the
    /// forking thread so neither process inherits it held by a thread the
    /// child lacks.
    pub(crate) fn lock_for_fork(&'static self) -> MutexGuard<'static, Pending> {
        self.lock()
    }

    /// `fork()` support, child side: the worker was not copied; the next
    /// item or request starts one. Items queued stay (they run in the
    /// child too, on its copy of memory).
    pub(crate) fn reset_after_fork_child(pending: &mut MutexGuard<'static, Pending>) {
        pending.started = false;
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panicking callback runs outside the lock, so a poisoned lock
        // only means a panic between two pushes: the queue is intact.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `callback` to run on the worker after a grace period.
    pub(crate) fn call<G: GracePeriods>(&'static self, gps: &'static G, callback: Box<dyn FnOnce() + Send>) {
        self.push(gps, Deferred::Call(callback));
    }

    /// Queues `entry` to be dropped on the worker after a grace period.
    pub(crate) fn free<G: GracePeriods>(&'static self, gps: &'static G, entry: Entry) {
        self.push(gps, Deferred::Free(entry));
    }

    fn push<G: GracePeriods>(&'static self, gps: &'static G, item: Deferred) {
        let cookie = gps.snapshot();
        let mut pending = self.lock();
        self.start(gps, &mut pending);
        pending.latest = pending.latest.max(cookie);
        pending.items.push_back((cookie, item));
        drop(pending);
        self.work.notify_one();
    }

    /// Asks the worker for the grace period of `cookie` (an async wait's).
    pub(crate) fn request<G: GracePeriods>(&'static self, gps: &'static G, cookie: GpState) {
        let mut pending = self.lock();
        self.start(gps, &mut pending);
        pending.wanted = pending.wanted.max(cookie);
        drop(pending);
        self.work.notify_one();
    }

    /// A future that completes after every item queued before the call has
    /// run (a marker queued behind them).
    pub(crate) fn barrier<G: GracePeriods>(&'static self, gps: &'static G) -> BarrierWait {
        let signal = Arc::new(Signal { done: AtomicBool::new(false), waker: Mutex::new(None) });
        let marker = Arc::clone(&signal);
        self.call(gps, Box::new(move || marker.set()));
        BarrierWait(signal)
    }

    /// Starts the worker unless it runs (under the queue's lock, which the
    /// worker takes first thing: it waits until the caller has queued).
    fn start<G: GracePeriods>(&'static self, gps: &'static G, pending: &mut Pending) {
        if pending.started {
            return;
        }
        std::thread::Builder::new()
            .name(format!("srcu-{}", gps.name()))
            .spawn(move || self.serve(gps))
            .expect("rcu_srcu: cannot start a domain's reclaim thread");
        pending.started = true;
    }

    /// The worker: waits for work, runs the grace period the latest item or
    /// request needs, then runs every item whose cookie it reached.
    fn serve<G: GracePeriods>(&'static self, gps: &'static G) {
        WORKER.with(|w| w.set(true));
        loop {
            let target = {
                let mut pending = self.lock();
                while pending.items.is_empty() && gps.poll(pending.wanted) {
                    pending = self.work.wait(pending).unwrap_or_else(|e| e.into_inner());
                }
                pending.latest.max(pending.wanted)
            };
            gps.wait_for(target);
            let ready: Vec<Deferred> = {
                let mut pending = self.lock();
                // Every item's cookie is at most `latest`, reached now, and
                // so is the cookie of anything queued meanwhile that the
                // prefix holds; later ones wait for the next turn.
                let n = pending.items.iter().take_while(|(c, _)| gps.poll(*c)).count();
                pending.items.drain(..n).map(|(_, d)| d).collect()
            };
            for item in ready {
                run(item);
            }
        }
    }
}

/// Runs one item; a panicking callback is reported and the others still run.
fn run(item: Deferred) {
    match item {
        Deferred::Free(entry) => entry.drop_now(),
        Deferred::Call(callback) => {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(callback)).is_err() {
                eprintln!("rcu_srcu: a Domain::call_rcu callback panicked; the others still run");
            }
        }
    }
}

std::thread_local! {
    /// Set on a domain's worker thread: a blocking barrier there would wait
    /// for itself.
    static WORKER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the calling thread is a domain's worker (running its callbacks).
pub(crate) fn on_worker() -> bool {
    WORKER.with(std::cell::Cell::get)
}

/// Done flag and waker of a barrier marker, shared by the marker's callback
/// and the future.
struct Signal {
    done: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Signal {
    fn set(&self) {
        // Release pairs with the Acquire loads in `BarrierWait::poll`: every
        // item run before the marker happens-before the wait's completion.
        self.done.store(true, Ordering::Release);
        // Taken under the lock the future stores its waker under, so a
        // waker stored before this point is woken, and one stored after it
        // is stored by a poll that then sees `done` (it checks again under
        // the lock).
        let waker = self.waker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// The future of a domain's `rcu_barrier_async` (and, blocked on, of its
/// `rcu_barrier`). Dropping it early leaves the marker queued; it runs and
/// is freed with the other items.
pub(crate) struct BarrierWait(Arc<Signal>);

impl std::fmt::Debug for BarrierWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BarrierWait").finish_non_exhaustive()
    }
}

impl Future for BarrierWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Acquire: see `Signal::set`.
        if self.0.done.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        let mut waker = self.0.waker.lock().unwrap_or_else(|e| e.into_inner());
        // Acquire, under the lock `set` takes after storing `done`.
        if self.0.done.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        *waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Blocks the calling thread on `future` (a thread that may block: the
/// blocking forms of the domain's waits).
pub(crate) fn block_on(future: impl Future<Output = ()>) {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    while future.as_mut().poll(&mut cx).is_pending() {
        std::thread::park();
    }
}
