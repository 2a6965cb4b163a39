//! The static description of a flavour, the Rust counterpart of liburcu's
//! `urcu-flavor.h`: generic code (call_rcu, kvfree_rcu, `RcuCell`) works with
//! any flavour through it.
//!
//! A flavour crate supplies what cannot be generic: its engine `static`, its
//! thread-local slot pointer (read on every reader fast path, so it must be a
//! `const`-initialised `Cell` with no destructor) and its thread-local state
//! (which has the destructor that unregisters the thread at exit).

use crate::engine::Engine;
use crate::thread::{AtExit, FlavourLocals};

/// A flavour of RCU: its counter protocol, thread-locals
/// ([`FlavourLocals`]) and its per-process engine.
///
/// # Safety
///
/// `engine()` must return the one `static` engine created for this flavour
/// (`Engine::new` is unsafe for that reason); the [`FlavourLocals`]
/// obligations hold.
pub unsafe trait Flavour: FlavourLocals {
    /// The flavour's engine (a `static` in the flavour crate).
    fn engine() -> &'static Engine<Self>;
}

/// The thread-exit function `define_flavour!` gives each flavour's
/// `ThreadState`: releases the deferral slot, then the reader slot.
#[doc(hidden)]
pub fn on_thread_exit<F: Flavour>(at_exit: AtExit) {
    if at_exit.defer_slot {
        F::engine().defer_thread_exit();
    }
    if at_exit.reader {
        F::engine().thread_exit(at_exit.handle_alive);
    }
}

/// Proof that a read-side critical section of flavour `F` is open for as
/// long as the implementing value is alive: `RcuCell::load` hands out
/// references that borrow the proof, and every grace period of `F`'s
/// engine must wait for that section.
///
/// # Safety
///
/// While an implementor is alive, on whichever thread it is, a section of
/// `F` that `F`'s grace periods wait for must be open. memb and QSBR
/// sections belong to a thread (memb: the thread's nesting count, a
/// `read_lock` not yet unlocked; QSBR: the thread online with no quiescent
/// state announced), so their proofs must be `!Send`: moved to another
/// thread, the proof would outlive the section its first thread may end.
/// An srcu section is counted in the domain's counters, not in the
/// thread's state, and ends only when its guard drops, on any thread: its
/// guard may be `Send`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a read-side section of the `{F}` flavour",
    label = "a guard of another flavour than the cell's (`{F}`), or of an srcu `Domain` (whose sections protect no `RcuCell`)",
    note = "a cell of one flavour is read only under that flavour's guard: the grace periods of `{F}` do not wait for sections of another flavour",
    note = "take the guard from the cell's flavour (`rcu::memb::read_lock()` for an `rcu::memb::RcuCell`, `rcu::srcu::read_lock()` for `rcu::srcu`, the thread's `rcu::qsbr::QsbrThread::read_lock()` for `rcu::qsbr`), or store the value in a cell of the guard's flavour"
)]
pub unsafe trait ReadSection<F: Flavour> {}

/// Defines a flavour in its crate: the unit type `$flavour`, its one
/// `static ENGINE`, its three thread-locals (`SLOT`, `THREAD`, `DEFER`) and
/// its [`FlavourLocals`] and [`Flavour`] implementations. Written once, so that the `unsafe impl`'s
/// obligations are met the same way in every flavour.
///
/// `define_flavour!(Memb, "memb", Protocol::PhaseFlip, "doc of the type")`;
/// a fifth argument `foreign = Some(&READERS)` names the flavour's
/// [`ForeignReaders`](crate::ForeignReaders) (the C ABI's flavours), and
/// `srcu = Some(&READERS)` the flavour's [`SrcuReaders`](crate::SrcuReaders)
/// (the srcu flavour's default domain).
///
/// Sound because each expansion creates exactly one engine `static`, which
/// `engine()` returns, and thread-locals private to that expansion; the
/// slot pointer is `const`-initialised and has no destructor (the reader
/// fast path reads it with one `fs:`-relative load). The flavour crate's
/// reader fast path must still follow `PROTOCOL` through the `ReaderSlot`
/// methods.
#[macro_export]
macro_rules! define_flavour {
    ($flavour:ident, $name:literal, $protocol:expr, $doc:literal) => {
        $crate::define_flavour!($flavour, $name, $protocol, $doc, foreign = None);
    };
    ($flavour:ident, $name:literal, $protocol:expr, $doc:literal, foreign = $foreign:expr) => {
        $crate::define_flavour!($flavour, $name, $protocol, $doc, foreign = $foreign, srcu = None);
    };
    ($flavour:ident, $name:literal, $protocol:expr, $doc:literal, srcu = $srcu:expr) => {
        $crate::define_flavour!($flavour, $name, $protocol, $doc, foreign = None, srcu = $srcu);
    };
    ($flavour:ident, $name:literal, $protocol:expr, $doc:literal, foreign = $foreign:expr, srcu = $srcu:expr) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub struct $flavour;

        // SAFETY: the one engine of this flavour, returned by
        // `$flavour::engine()` and by nothing else.
        static ENGINE: $crate::Engine<$flavour> = unsafe { $crate::Engine::new() };

        ::std::thread_local! {
            /// This thread's reader slot; a vacant stand-in until registered.
            /// `const` and without destructor: one load on the fast path.
            static SLOT: $crate::ReaderSlotPtr = const { $crate::ReaderSlotPtr::new() };
            /// Releases the slots at thread exit.
            static THREAD: $crate::ThreadState =
                const { $crate::ThreadState::new($crate::on_thread_exit::<$flavour>) };
            /// This thread's deferral slot (kvfree blocks and `call_rcu` lists); null until first used.
            static DEFER: $crate::SlotPtr<$crate::DeferSlot> = const { $crate::SlotPtr::new() };
        }

        // SAFETY: the keys are this expansion's own thread-locals and the
        // fork handlers are this flavour's; the flavour crate's reader side
        // follows `PROTOCOL` through the `ReaderSlot` methods.
        unsafe impl $crate::FlavourLocals for $flavour {
            const NAME: &'static str = $name;
            const PROTOCOL: $crate::Protocol = $protocol;
            fn slot_key() -> &'static ::std::thread::LocalKey<$crate::ReaderSlotPtr> {
                &SLOT
            }
            fn thread_key() -> &'static ::std::thread::LocalKey<$crate::ThreadState> {
                &THREAD
            }
            fn defer_key() -> &'static ::std::thread::LocalKey<$crate::SlotPtr<$crate::DeferSlot>> {
                &DEFER
            }
            fn register_fork_handlers() {
                $crate::register_fork_handlers::<$flavour>();
            }
            fn foreign_readers() -> ::std::option::Option<&'static $crate::ForeignReaders> {
                $foreign
            }
            fn srcu_readers() -> ::std::option::Option<&'static $crate::SrcuReaders> {
                $srcu
            }
        }

        // SAFETY: `engine()` is this expansion's one static engine.
        unsafe impl $crate::Flavour for $flavour {
            fn engine() -> &'static $crate::Engine<Self> {
                &ENGINE
            }
        }
    };
}
