//! Runtimes for the QSBR flavour: runtime threads are registered for their
//! whole life, and read through [`read`].
//!
//! Two policies decide when a scheduler worker is online (see the crate
//! docs for the comparison):
//!
//! * [`runtime_builder_multi_thread`] and
//!   [`runtime_builder_current_thread`]: **online only inside [`read`]**.
//!   The outermost scope comes online and goes offline (three fences in
//!   all); between scopes, between tasks and while parked the thread is
//!   offline and never holds a grace period up, whatever its tasks do.
//! * [`runtime_builder_multi_thread_online_until_park`]: **online from a
//!   worker's first read until it parks**. Each outermost scope announces a
//!   quiescent state when it begins and when it ends (a load and a compare
//!   each when no grace period waits); the park hook takes the worker
//!   offline. A grace period that starts between two scopes waits for the
//!   worker's next scope or park, so a task that runs long without reading
//!   (a CPU-bound stretch, a blocking call, `block_in_place`) holds grace
//!   periods up meanwhile.
//!
//! Threads tokio starts (scheduler workers and blocking-pool threads) are
//! registered by the `on_thread_start` hook, offline, and unregistered by
//! `on_thread_stop`, so a dropped runtime leaves no registration behind. A
//! blocking-pool thread never parks through the park hook, so under either
//! policy it is online only inside [`read`]. Any other thread that calls
//! [`read`] (the thread in `block_on`, where a current-thread runtime runs
//! its tasks) is registered at its first read, online only inside [`read`],
//! and unregistered when it exits.
//!
//! A runtime thread already holds this registration, so a task must not
//! call `rcu_qsbr::register_thread()` (a second registration on a thread
//! panics); read through [`read`].

use rcu_qsbr::{QsbrThread, ReadGuard};
use std::cell::{Cell, RefCell};

/// The calling thread's QSBR state as seen by this crate.
struct Reader {
    /// The registration; `None` before the first read on a thread tokio did
    /// not start, or after `on_thread_stop`.
    thread: RefCell<Option<QsbrThread>>,
    /// Nesting depth of [`read`] on this thread.
    depth: Cell<usize>,
    /// Set by the park hook of an online-until-park runtime: this thread is
    /// one of its scheduler workers and stays online between scopes.
    online_until_park: Cell<bool>,
}

thread_local! {
    static READER: Reader = const {
        Reader { thread: RefCell::new(None), depth: Cell::new(0), online_until_park: Cell::new(false) }
    };
}

/// A multi-thread `tokio::runtime::Builder` whose threads register as QSBR
/// readers when they start (offline) and unregister when they stop; they
/// are online only inside [`read`]. Further settings chain on it.
pub fn runtime_builder_multi_thread() -> tokio::runtime::Builder {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    install_registration(&mut builder);
    builder
}

/// A current-thread `tokio::runtime::Builder` whose blocking-pool threads
/// register as QSBR readers when they start (offline) and unregister when
/// they stop. Tasks run on the thread that calls `block_on`; it registers
/// at its first [`read`]. Every thread is online only inside [`read`].
///
/// There is no online-until-park variant: `block_on` returns without
/// parking, which would leave the thread online (holding every grace
/// period up) after the runtime stopped running tasks.
pub fn runtime_builder_current_thread() -> tokio::runtime::Builder {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    install_registration(&mut builder);
    builder
}

/// A multi-thread `tokio::runtime::Builder` whose scheduler workers stay
/// online from their first [`read`] until they park (the park hook takes
/// them offline); each outermost [`read`] scope announces a quiescent state
/// when it begins and ends. Registration as in
/// [`runtime_builder_multi_thread`].
///
/// Use it only when every task reads often or finishes soon: a worker that
/// runs a task for long without reading or parking (a CPU-bound loop, a
/// blocking call, `tokio::task::block_in_place`) holds grace periods up
/// until its next read, park or exit. A worker is online between scopes,
/// so `rcu_qsbr::synchronize_rcu()` from a task panics there: wait for
/// grace periods in `spawn_blocking` (or call `rcu_qsbr::call_rcu`).
pub fn runtime_builder_multi_thread_online_until_park() -> tokio::runtime::Builder {
    let mut builder = runtime_builder_multi_thread();
    builder.on_thread_park(park);
    builder
}

fn install_registration(builder: &mut tokio::runtime::Builder) {
    builder.on_thread_start(register_worker).on_thread_stop(unregister_worker);
}

fn register_worker() {
    READER.with(|r| {
        let mut thread = r.thread.borrow_mut();
        if thread.is_none() {
            let mut registered = rcu_qsbr::register_thread();
            registered.offline();
            *thread = Some(registered);
        }
    });
}

fn unregister_worker() {
    // Dropping the registration goes offline and unregisters. `try_with`:
    // nothing to do if the thread-local is already gone.
    let _ = READER.try_with(|r| drop(r.thread.borrow_mut().take()));
}

/// The park hook of an online-until-park runtime: the worker goes idle, so
/// it goes offline (it comes back online at its next read).
fn park() {
    READER.with(|r| {
        r.online_until_park.set(true);
        // A read scope cannot be open here (scopes are synchronous and a
        // worker parks only between tasks); `try_borrow_mut` keeps the hook
        // from panicking inside tokio if that ever changed.
        if let Ok(mut thread) = r.thread.try_borrow_mut() {
            if let Some(thread) = thread.as_mut().filter(|t| t.is_online()) {
                thread.offline();
            }
        }
    });
}

/// Runs `f` with a read-side guard. Nestable. The guard, and what is loaded
/// under it, cannot outlive `f`, so it cannot be held across an `.await`.
///
/// On a runtime thread of a [`runtime_builder_multi_thread`] or
/// [`runtime_builder_current_thread`] runtime (and on any thread tokio did
/// not start, which this call registers on first use) the outermost scope
/// comes online and goes offline when it ends (also when `f` panics). On a
/// worker of a [`runtime_builder_multi_thread_online_until_park`] runtime
/// it comes online if parked since, and announces a quiescent state when
/// it begins and ends.
///
/// # Panics
///
/// On a thread that holds its own `rcu_qsbr::QsbrThread` and has not read
/// through this function before (one registration per thread): read with
/// that handle's `read_lock()` there instead.
pub fn read<R>(f: impl FnOnce(&ReadGuard<'_>) -> R) -> R {
    READER.with(|r| {
        let outermost = r.depth.get() == 0;
        if outermost {
            r.enter();
        }
        r.depth.set(r.depth.get() + 1);
        // Declared before the borrow below, so dropped after it: the exit
        // needs `borrow_mut`. Runs on unwinding too.
        let _scope = Scope { reader: r, outermost };
        let thread = r.thread.borrow();
        let guard = thread.as_ref().expect("registered by the outermost scope").read_lock();
        f(&guard)
    })
}

impl Reader {
    /// The start of an outermost scope: no reference from an earlier scope
    /// on this thread is alive (none can outlive its `read`).
    fn enter(&self) {
        let mut thread = self.thread.borrow_mut();
        // A thread tokio did not start registers here, online.
        let thread = thread.get_or_insert_with(rcu_qsbr::register_thread);
        if thread.is_online() {
            thread.quiescent_state();
        } else {
            thread.online();
        }
    }

    /// The end of an outermost scope: its guard and references are gone.
    fn exit(&self) {
        if let Some(thread) = self.thread.borrow_mut().as_mut() {
            if self.online_until_park.get() {
                thread.quiescent_state();
            } else {
                thread.offline();
            }
        }
    }
}

/// Ends one [`read`] scope.
struct Scope<'r> {
    reader: &'r Reader,
    outermost: bool,
}

impl Drop for Scope<'_> {
    fn drop(&mut self) {
        self.reader.depth.set(self.reader.depth.get() - 1);
        if self.outermost {
            self.reader.exit();
        }
    }
}
