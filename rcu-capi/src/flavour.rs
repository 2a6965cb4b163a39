//! What the C ABI does the same way for every flavour, over the
//! [`CFlavour`] trait each flavour module implements: registration
//! (explicit, or lazy on a thread's first function-ABI section, with an
//! automatic unregistration at thread exit), the blocking calls and their
//! misuse checks, and the deferred calls.
//!
//! Every C flavour is an rcu-core flavour with its own engine whose
//! [`ForeignReaders`](rcu_core::ForeignReaders) are the threads registered
//! through this ABI: one engine, one reclaim thread, one sequence of grace
//! periods per flavour.
//!
//! # Where this is strict, and where it does what liburcu does
//!
//! A program that runs on liburcu must run here. Each misuse is judged by
//! what liburcu's release builds (Debian's keep `assert()` on) do:
//!
//! * a function-ABI section on an unregistered thread: liburcu leaves it
//!   unprotected; here it registers the thread (lazy registration);
//! * `rcu_barrier` inside the caller's own section: liburcu prints an error
//!   once and returns without waiting; so does this;
//! * unregistering inside the caller's own section: liburcu unregisters
//!   (the rest of the section is unprotected); so does this;
//! * `synchronize_rcu` inside the caller's own section: liburcu deadlocks;
//!   this aborts with a message;
//! * a second registration, or unregistering an unregistered thread:
//!   liburcu's assertion aborts (and without it, its registry list would be
//!   corrupted); this aborts with a message;
//! * `rcu_barrier` inside a `call_rcu` callback: liburcu's worker deadlocks
//!   (no callback runs again); the engine's check aborts with a message.
//!
//! `RCU_CAPI_STRICT=1` ([`crate::misuse::strict`]) turns the lenient cases
//! into aborts with a message, for debugging.

use crate::misuse::{die, no_unwind, strict, warn_once};
use rcu_core::kvfree::CDeferredFn;
use rcu_core::{CallbackLimits, Flavour, ForeignReader, ReclaimPacing};
use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// A flavour of the C ABI.
pub(crate) trait CFlavour: Flavour {
    /// liburcu's prefix for the flavour's names (`urcu_memb`).
    const PREFIX: &'static str;
    /// The key whose destructor unregisters a thread that exits registered.
    fn exit_key() -> &'static ExitKey;
    /// The calling thread's reader word if it is registered (no system
    /// call: for the checks on every wait and for unregistration).
    fn current_word() -> Option<NonNull<AtomicU64>>;
    /// Whether `urcu_*_unregister_thread` does nothing (liburcu-bp's is an
    /// empty inline: a bp thread leaves at exit).
    const UNREGISTER_IS_NO_OP: bool = false;
    /// Whether the thread was registered by its first section rather than
    /// by the program.
    fn is_lazy() -> bool;
    /// Whether the thread's exit destructor has run: a registration now
    /// might never be undone (glibc runs key destructors at most four
    /// rounds), so a TLS record must not be registered lazily any more.
    fn is_exiting() -> bool {
        false
    }
    /// Notes that the thread's exit destructor has run.
    fn mark_exiting() {}
    /// Adds the calling thread's record to the registry and marks it
    /// registered (`lazy`: by its first section). Returns `false` if no
    /// record could be had (bp: out of memory).
    fn add_record(lazy: bool) -> bool;
    /// Marks a lazily registered thread as registered by the program.
    fn make_explicit();
    /// Removes the calling thread's record from the registry and marks it
    /// unregistered.
    fn remove_record();
    /// After an explicit registration (QSBR: online, as in liburcu).
    fn after_register() {}
    /// Before an unregistration (QSBR: offline, as in liburcu).
    fn before_unregister() {}
    /// Whether the calling thread is inside a read-side section a wait
    /// would wait for (memb, mb, bp; never QSBR, which goes offline).
    fn in_own_section() -> bool;
    /// Before a wait for a grace period: QSBR goes offline if online.
    /// Returns whether to come back online after.
    fn offline_for_wait() -> bool {
        false
    }
    /// After the wait: back online if `offline_for_wait` said so.
    fn online_after_wait(_was_online: bool) {}
}

/// A reader record for the engine's registry: the word, and for QSBR the
/// `waiting` flag. The thread id is for stall warnings.
pub(crate) fn reader_record(
    ctr: NonNull<AtomicU64>,
    waiting: Option<NonNull<std::sync::atomic::AtomicI32>>,
) -> ForeignReader {
    ForeignReader { ctr, waiting, tid: rcu_core::sys::gettid() }
}

/// liburcu's pacing for C programs: its `call_rcu` worker runs a batch,
/// then sleeps 10 ms, and never makes a producer wait. With a 1 ms window
/// (the Rust default), a `test_urcu_lfq` dequeuer, which `call_rcu`s every
/// node, runs into the kvfree limit and waits, falls behind its enqueuer
/// and never catches up (BENCHMARKS.md, "The C ABI, same binary on two
/// libraries"). The soft limit is what a 10 ms window gathers at 50 M
/// objects/s, above the flood's rate in BENCHMARKS.md, so only a faster
/// flood cuts the window short; producers still wait past a million C objects
/// (about two such windows) where liburcu's backlog grows without bound.
pub const LIBURCU_PACING: ReclaimPacing =
    ReclaimPacing { gather_window: std::time::Duration::from_millis(10), kvfree_backlog_hard: 1_000_000 };
/// The `call_rcu` limits that go with [`LIBURCU_PACING`].
pub const LIBURCU_LIMITS: CallbackLimits = CallbackLimits { soft: 500_000, hard: 2_000_000 };

/// Registry room reserved at load time: registrations up to this many
/// threads never allocate (a first section may be in a signal handler).
const READERS_RESERVED: usize = 256;

/// The library constructor's part for one flavour: liburcu's pacing on
/// its engine, its exit key and its registry's room.
pub(crate) fn set_up<F: CFlavour>() {
    F::engine().set_callback_limits(LIBURCU_LIMITS);
    F::engine().set_reclaim_pacing(LIBURCU_PACING);
    F::exit_key().create::<F>();
    if let Some(readers) = F::foreign_readers() {
        readers.reserve(READERS_RESERVED);
    }
}

/// The calling thread's reader word, if registered (for `ForeignReaders`).
pub(crate) fn current_word<F: CFlavour>() -> Option<&'static AtomicU64> {
    // SAFETY: the word lives as long as the calling thread's registration,
    // and this reference is used by the calling thread only
    // (`ForeignReaders::may_block` reads it and drops it at once).
    F::current_word().map(|w| unsafe { w.as_ref() })
}

/// A `pthread_key_t` whose destructor unregisters the thread. A key rather
/// than a Rust thread-local: glibc runs C++/Rust thread-local destructors
/// first and key destructors after, in up to four rounds, so a thread that
/// a C destructor registers again (its section, after ours ran) is still
/// unregistered before its reader record goes.
pub(crate) struct ExitKey(OnceLock<libc::pthread_key_t>);

impl ExitKey {
    pub(crate) const fn new() -> Self {
        ExitKey(OnceLock::new())
    }

    /// Creates the key (the library constructor does, so that a thread's
    /// first section, maybe in a signal handler, finds it made).
    pub(crate) fn create<F: CFlavour>(&self) -> libc::pthread_key_t {
        *self.0.get_or_init(|| {
            let mut key: libc::pthread_key_t = 0;
            // SAFETY: `key` is a valid out-pointer; the destructor is an
            // `extern "C"` function that never unwinds.
            let rc = unsafe { libc::pthread_key_create(&mut key, Some(exit_destructor::<F>)) };
            if rc != 0 {
                die(&format!("{}: pthread_key_create failed ({rc}): too many keys in this process", F::PREFIX));
            }
            key
        })
    }

    /// Arms the key for the calling thread: its destructor runs at exit.
    fn arm<F: CFlavour>(&self) {
        let key = self.create::<F>();
        // SAFETY: a key this process created. The value only needs to be
        // non-null for the destructor to run.
        unsafe { libc::pthread_setspecific(key, NonNull::<c_void>::dangling().as_ptr()) };
    }
}

/// The exit key's destructor: unregisters a thread that exits registered
/// (liburcu would leave a dangling record in its registry).
///
/// # Safety
///
/// Called by glibc at thread exit, on the exiting thread, whose TLS is
/// still allocated (it goes after the last destructor round).
unsafe extern "C" fn exit_destructor<F: CFlavour>(_value: *mut c_void) {
    no_unwind(F::PREFIX, || {
        F::mark_exiting();
        if F::current_word().is_some() {
            F::before_unregister();
            F::remove_record();
        }
    });
}

fn add_and_arm<F: CFlavour>(lazy: bool) -> bool {
    if !F::add_record(lazy) {
        return false;
    }
    F::exit_key().arm::<F>();
    true
}

/// `urcu_*_register_thread` (and bp's `urcu_bp_register`, which may run
/// in a signal handler: nothing is formatted off the abort paths).
pub(crate) fn register_thread<F: CFlavour>() {
    let p = F::PREFIX;
    no_unwind(p, || {
        if F::current_word().is_none() {
            if !add_and_arm::<F>(false) {
                die(&format!("{p}_register_thread(): out of memory for the thread's reader record"));
            }
        } else if F::is_lazy() {
            // Its first section registered it; the program now says so too.
            F::make_explicit();
        } else {
            die(&format!(
                "{p}_register_thread() called by a thread that is registered already (liburcu's \
                 assertion fails, and its registry would be corrupted); call {p}_unregister_thread() \
                 once for each registration"
            ));
        }
        F::after_register();
    });
}

/// Called by the C read side (`csrc/urcu_abi.c`) when an unregistered
/// thread enters a function-ABI section: registers it until it exits (or
/// unregisters), so that grace periods wait for the section. With
/// `RCU_CAPI_STRICT=1`, aborts with a message instead. A thread whose exit
/// destructor has run is not registered (its section is unprotected, as on
/// liburcu): nothing would unregister it before its record goes.
///
/// The thread may be in a signal handler. If the handler interrupted this
/// thread while it held the registry (its own grace period's scan), the
/// thread is not registered (the section is unprotected, as on liburcu)
/// rather than wait for itself. Otherwise nothing here allocates (the exit
/// key and the registry's room are made by the library constructor) unless
/// more threads are registered than the room reserved.
pub(crate) fn register_lazily<F: CFlavour>() {
    if strict() {
        die(&format!(
            "{}_read_lock() called by a thread that is not registered (RCU_CAPI_STRICT=1; without it \
             the thread is registered on the spot). Call {}_register_thread() (rcu_register_thread()) \
             in the thread first",
            F::PREFIX,
            F::PREFIX
        ));
    }
    if F::is_exiting() || rcu_core::ForeignReaders::held_by_this_thread() {
        return;
    }
    no_unwind(F::PREFIX, || {
        if !add_and_arm::<F>(true) {
            die(&format!("{}_read_lock(): out of memory for the thread's reader record", F::PREFIX));
        }
    });
}

/// `urcu_*_unregister_thread`.
pub(crate) fn unregister_thread<F: CFlavour>() {
    if F::UNREGISTER_IS_NO_OP {
        return;
    }
    let what = format!("{}_unregister_thread", F::PREFIX);
    if F::current_word().is_none() {
        die(&format!(
            "{what}() called by a thread that is not registered (liburcu's assertion fails, and its \
             registry would be corrupted); call it once per {}_register_thread()",
            F::PREFIX
        ));
    }
    if F::in_own_section() {
        lenient_or_die(&format!(
            "{what}() called inside a read-side critical section: the rest of the section is not \
             protected (as in liburcu). Call {}_read_unlock() for each {}_read_lock() first",
            F::PREFIX,
            F::PREFIX
        ));
    }
    no_unwind(&what, || {
        F::before_unregister();
        F::remove_record();
    });
}

/// `urcu_*_synchronize_rcu`. Nothing is formatted off the abort paths: a
/// grace period over fenced readers (mb) costs a few hundred nanoseconds.
pub(crate) fn synchronize_rcu<F: CFlavour>() {
    if F::in_own_section() {
        let p = F::PREFIX;
        die(&format!(
            "{p}_synchronize_rcu() called inside a read-side critical section of the same thread; this \
             would wait for itself forever (liburcu deadlocks). Call {p}_read_unlock() first, or use \
             {p}_call_rcu(), which never blocks"
        ));
    }
    let was_online = F::offline_for_wait();
    no_unwind(F::PREFIX, || F::engine().synchronize());
    F::online_after_wait(was_online);
}

/// `urcu_*_barrier` and the `defer_barrier` pair. Inside the caller's own
/// section it returns at once, with liburcu's error message (once), as
/// liburcu does; `RCU_CAPI_STRICT=1` aborts instead.
pub(crate) fn barrier<F: CFlavour>(what: &str) {
    if F::in_own_section() {
        lenient_or_die(&format!(
            "{what}() called from within an RCU read-side critical section; it returns without \
             waiting, as liburcu's does. Call it outside the section"
        ));
        return;
    }
    let was_online = F::offline_for_wait();
    no_unwind(what, || F::engine().barrier());
    F::online_after_wait(was_online);
}

/// Prints `message` once per process (what liburcu does, where it does
/// anything), or aborts with it under `RCU_CAPI_STRICT=1`.
fn lenient_or_die(message: &str) {
    if strict() {
        die(&format!("{message} (RCU_CAPI_STRICT=1)"));
    }
    warn_once(message);
}

/// `urcu_*_call_rcu` and `urcu_*_defer_rcu`: `func(arg)` after a grace
/// period, on the flavour's reclaim thread. Never blocks.
///
/// # Safety
///
/// `func(arg)` must be sound to call once, on another thread, after a
/// grace period.
pub(crate) unsafe fn defer_call<F: CFlavour>(what: &str, func: CDeferredFn, arg: *mut c_void) {
    // SAFETY: forwarded contract.
    no_unwind(what, || unsafe { F::engine().defer_c_call(func, arg) });
}

/// `urcu_*_start_poll_synchronize_rcu` (liburcu 0.14): the cookie of a
/// grace period that starts after the call, which the reclaim thread runs.
/// Never blocks.
pub(crate) fn start_poll<F: CFlavour>(what: &str) -> u64 {
    no_unwind(what, || F::engine().start_poll().seq())
}

/// `urcu_*_poll_state_synchronize_rcu`: whether `cookie`'s grace period
/// has completed. One load.
pub(crate) fn poll_state<F: CFlavour>(cookie: u64) -> bool {
    F::engine().poll(rcu_core::GpState::from_raw(cookie))
}

/// Whether a phase-flip reader word says its thread is inside a section.
pub(crate) fn in_phase_flip_section(word: Option<NonNull<AtomicU64>>) -> bool {
    // SAFETY: the calling thread's own word, valid while registered.
    // Relaxed: its own writes.
    word.is_some_and(|w| unsafe { w.as_ref() }.load(Ordering::Relaxed) & rcu_core::reader::memb::NEST_MASK != 0)
}
