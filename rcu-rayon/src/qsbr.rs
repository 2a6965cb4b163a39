//! Pools for the QSBR flavour: workers are registered for their whole life
//! and online only inside [`read`].

use rcu_qsbr::{QsbrThread, ReadGuard};
use std::cell::{Cell, RefCell};

thread_local! {
    /// This worker's registration, offline between read scopes.
    static WORKER: RefCell<Option<QsbrThread>> = const { RefCell::new(None) };
    /// Nesting depth of `read` on this thread (a job inside a scope can run
    /// other jobs that read, through rayon's work stealing).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// A `ThreadPoolBuilder` whose workers register as QSBR readers when they
/// start (and go offline at once) and unregister when they exit. Further
/// settings chain on it.
pub fn pool_builder() -> rayon::ThreadPoolBuilder {
    rayon::ThreadPoolBuilder::new().start_handler(|_| register_worker()).exit_handler(|_| unregister_worker())
}

fn register_worker() {
    let mut thread = rcu_qsbr::register_thread();
    thread.offline();
    WORKER.with(|w| *w.borrow_mut() = Some(thread));
}

fn unregister_worker() {
    // Dropping the registration goes offline and unregisters.
    WORKER.with(|w| drop(w.borrow_mut().take()));
}

/// Runs `f` with a read-side guard on a worker of a [`pool_builder`] pool:
/// the worker comes online for the outermost scope and goes offline when it
/// ends (an extended quiescent state), so nothing else is needed between
/// jobs. Nestable. The guard, and what is loaded under it, cannot outlive
/// `f`.
///
/// # Panics
///
/// On a thread that is not a worker of such a pool, with a message naming
/// the fix.
pub fn read<R>(f: impl FnOnce(&ReadGuard<'_>) -> R) -> R {
    WORKER.with(|w| {
        let outermost = DEPTH.get() == 0;
        if outermost {
            let mut worker = w.borrow_mut();
            worker.as_mut().unwrap_or_else(|| not_a_worker()).online();
        }
        DEPTH.set(DEPTH.get() + 1);
        // Goes offline even if `f` panics (rayon catches a job's panic and
        // the worker lives on).
        let _scope = Scope { outermost };
        let worker = w.borrow();
        let guard = worker.as_ref().unwrap_or_else(|| not_a_worker()).read_lock();
        f(&guard)
    })
}

/// Ends one `read` scope; the outermost takes the worker offline.
struct Scope {
    outermost: bool,
}

impl Drop for Scope {
    fn drop(&mut self) {
        DEPTH.set(DEPTH.get() - 1);
        if self.outermost {
            WORKER.with(|w| {
                if let Some(worker) = w.borrow_mut().as_mut() {
                    worker.offline();
                }
            });
        }
    }
}

#[cold]
fn not_a_worker() -> ! {
    panic!(
        "rcu_rayon::qsbr::read() on a thread that is not a worker of an rcu_rayon QSBR pool: build the pool with \
         rcu_rayon::qsbr::pool_builder(), or register the thread with rcu_qsbr::register_thread() and use its read_lock()"
    )
}
