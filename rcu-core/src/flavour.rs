//! The static description of a flavour, the Rust counterpart of liburcu's
//! `urcu-flavor.h`: generic code (call_rcu, kvfree_rcu, `RcuCell`) works with
//! any flavour through it.
//!
//! A flavour crate supplies what cannot be generic: its engine `static`, its
//! thread-local slot pointer (read on every reader fast path, so it must be a
//! `const`-initialised `Cell` with no destructor) and its thread-local state
//! (which has the destructor that unregisters the thread at exit).

use crate::engine::Engine;
use crate::kvfree::DeferSlot;
use crate::reader::Protocol;
use crate::thread::{ReaderSlotPtr, SlotPtr, ThreadState};
use std::thread::LocalKey;

/// A flavour of RCU: its counter protocol and its per-process state.
///
/// # Safety
///
/// `engine()` must return the one `static` engine created for this flavour
/// (`Engine::new` is unsafe for that reason), and the three keys must be
/// thread-locals declared for this flavour alone, used by nothing else.
/// The flavour's reader fast path must follow `PROTOCOL` with the
/// `ReaderSlot` methods.
pub unsafe trait Flavour: Sized + Send + Sync + 'static {
    /// The flavour's name in messages and statistics (`"memb"`, `"qsbr"`).
    const NAME: &'static str;
    /// The counter protocol its readers and grace periods follow.
    const PROTOCOL: Protocol;
    /// The flavour's engine (a `static` in the flavour crate).
    fn engine() -> &'static Engine<Self>;
    /// The calling thread's reader slot, if registered.
    fn slot_key() -> &'static LocalKey<ReaderSlotPtr>;
    /// The calling thread's state with the thread-exit destructor.
    fn thread_key() -> &'static LocalKey<ThreadState<Self>>;
    /// The calling thread's deferral slot (kvfree blocks and `call_rcu` lists), if it has one.
    fn kvfree_key() -> &'static LocalKey<SlotPtr<DeferSlot>>;
}

/// Proof that the calling thread is inside a read-side critical section of
/// flavour `F` for as long as the implementing value is alive.
///
/// # Safety
///
/// An implementor must only exist while its thread is inside a read-side
/// critical section of `F` (memb: a `read_lock` not yet unlocked; QSBR: an
/// online thread with no quiescent state announced), and must not be `Send`.
/// `RcuCell::load` relies on this to hand out references.
pub unsafe trait ReadSection<F: Flavour> {}

/// Defines a flavour in its crate: the unit type `$flavour`, its one
/// `static ENGINE`, its three thread-locals (`SLOT`, `THREAD`, `KVFREE`) and
/// its [`Flavour`] implementation. Written once, so that the `unsafe impl`'s
/// obligations are met the same way in every flavour.
///
/// `define_flavour!(Memb, "memb", Protocol::PhaseFlip, "doc of the type")`
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
            /// Releases the slot at thread exit.
            static THREAD: $crate::ThreadState<$flavour> = const { $crate::ThreadState::new() };
            /// This thread's deferral slot (kvfree blocks and `call_rcu` lists); null until first used.
            static KVFREE: $crate::SlotPtr<$crate::DeferSlot> = const { $crate::SlotPtr::new() };
        }

        // SAFETY: `engine()` is this expansion's one static engine and the
        // keys are this expansion's own thread-locals; the flavour crate's
        // reader side follows `PROTOCOL` through the `ReaderSlot` methods.
        unsafe impl $crate::Flavour for $flavour {
            const NAME: &'static str = $name;
            const PROTOCOL: $crate::Protocol = $protocol;
            fn engine() -> &'static $crate::Engine<Self> {
                &ENGINE
            }
            fn slot_key() -> &'static ::std::thread::LocalKey<$crate::ReaderSlotPtr> {
                &SLOT
            }
            fn thread_key() -> &'static ::std::thread::LocalKey<$crate::ThreadState<Self>> {
                &THREAD
            }
            fn kvfree_key() -> &'static ::std::thread::LocalKey<$crate::SlotPtr<$crate::DeferSlot>> {
                &KVFREE
            }
        }
    };
}
