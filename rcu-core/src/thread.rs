//! What the engine needs of a flavour ([`FlavourLocals`]: its name, protocol
//! and thread-locals) and a thread's registration with it ([`ThreadState`],
//! whose destructor unregisters the thread at exit).
//!
//! The engine sits below the [`Flavour`](crate::Flavour) trait (which names
//! the engine), so what it calls back at thread exit and fork is handed to
//! it as plain functions: `ThreadState::new(on_exit)` and
//! [`FlavourLocals::register_fork_handlers`], both wired by `define_flavour!`.
//!
//! The reader fast path reads only the flavour's `const` slot-pointer cell
//! (no destructor, so always accessible). This separate value, with a
//! destructor, exists to release the slot when the thread exits. A thread
//! that reads after its destructors ran (from another thread-local's
//! destructor) gets a *transient* slot that the flavour releases when its
//! outermost read-side section ends; nothing is left claimed by a dead thread.
//!
//! Destructors run in reverse order of registration, so a guard or a QSBR
//! handle stored in another thread-local may outlive this state. Then the
//! slot is not released here (another thread could claim it while the stale
//! guard still writes to it): it is marked transient, and the guard's last
//! unlock or the handle's drop releases it. A guard leaked with `mem::forget`
//! keeps its slot, and stalls grace periods, for good, as documented.
//! At exit the thread's partial kvfree block is sealed and handed to the
//! reclaim thread: an exiting thread strands nothing.

use crate::defer::slot::DeferSlot;
use crate::gp::foreign::ForeignReaders;
use crate::reader::{Protocol, ReaderSlotPtr, SlotPtr};
use crate::srcu::SrcuReaders;
use std::cell::Cell;
use std::thread::LocalKey;

/// A flavour's identity and its thread-locals: all the engine needs of it.
/// The supertrait of [`Flavour`](crate::Flavour); implemented by
/// `define_flavour!` only.
///
/// # Safety
///
/// The three keys must be thread-locals declared for this flavour alone,
/// used by nothing else; `register_fork_handlers` must register this
/// flavour's handlers (`crate::fork`). The flavour's reader fast path must
/// follow `PROTOCOL` with the `ReaderSlot` methods.
pub unsafe trait FlavourLocals: Sized + Send + Sync + 'static {
    /// The flavour's name in messages and statistics (`"memb"`, `"qsbr"`).
    const NAME: &'static str;
    /// The counter protocol its readers and grace periods follow.
    const PROTOCOL: Protocol;
    /// The calling thread's reader slot, if registered.
    fn slot_key() -> &'static LocalKey<ReaderSlotPtr>;
    /// The calling thread's state with the thread-exit destructor.
    fn thread_key() -> &'static LocalKey<ThreadState>;
    /// The calling thread's deferral slot (kvfree blocks and `call_rcu` lists), if it has one.
    fn defer_key() -> &'static LocalKey<SlotPtr<DeferSlot>>;
    /// Registers the flavour's `fork()` handlers (called once, by the
    /// engine's set-up).
    fn register_fork_handlers();
    /// Readers outside the engine's slots that its grace periods also wait
    /// for (the C ABI's liburcu-layout readers); none by default.
    fn foreign_readers() -> Option<&'static ForeignReaders> {
        None
    }
    /// The flavour's srcu readers (the srcu flavour's default domain),
    /// whose sections every grace period of the engine also waits for.
    fn srcu_readers() -> Option<&'static SrcuReaders> {
        None
    }
}

/// What a thread holds at exit, for the flavour's exit function.
#[derive(Copy, Clone, Debug)]
pub struct AtExit {
    /// The thread has a deferral slot to give back.
    pub defer_slot: bool,
    /// The thread is registered as a reader.
    pub reader: bool,
    /// A registration handle (QSBR's `QsbrThread`) is alive and releases
    /// the reader slot itself, possibly later.
    pub handle_alive: bool,
}

/// A thread's registration with one flavour; its destructor calls the
/// flavour's exit function (set by `define_flavour!`).
pub struct ThreadState {
    registered: Cell<bool>,
    defer_registered: Cell<bool>,
    handle_alive: Cell<bool>,
    on_exit: fn(AtExit),
}

impl ThreadState {
    /// An unregistered thread; `on_exit` runs from the destructor.
    pub const fn new(on_exit: fn(AtExit)) -> Self {
        ThreadState {
            registered: Cell::new(false),
            defer_registered: Cell::new(false),
            handle_alive: Cell::new(false),
            on_exit,
        }
    }

    pub(crate) fn set_registered(&self, registered: bool) {
        self.registered.set(registered);
    }

    pub(crate) fn set_defer_registered(&self) {
        self.defer_registered.set(true);
    }

    pub(crate) fn set_handle_alive(&self, alive: bool) {
        self.handle_alive.set(alive);
    }
}

impl Drop for ThreadState {
    fn drop(&mut self) {
        let at_exit = AtExit {
            defer_slot: self.defer_registered.get(),
            reader: self.registered.get(),
            handle_alive: self.handle_alive.get(),
        };
        if at_exit.defer_slot || at_exit.reader {
            (self.on_exit)(at_exit);
        }
    }
}
