//! A read-side section the engine opens by itself, for code that has no
//! guard to hand: `Debug` of [`RcuCell`](crate::RcuCell) and
//! [`RcuOption`](crate::RcuOption) print the current value under it.
//!
//! It works on any thread and leaves the thread as it found it:
//!
//! * memb: a nested (or outermost) section, as `read_lock` opens; an
//!   unregistered thread is registered, as `read_lock` registers it.
//! * QSBR: an online thread is already in a read-side section; an offline
//!   one comes online for the call and goes offline again (its
//!   `QsbrThread` still says offline, which is true again on return); an
//!   unregistered one is registered for the call and unregistered after.
//!
//! Never blocks; grace periods wait for the section like any other.

use crate::flavour::{Flavour, ReadSection};
use crate::reader::{Protocol, ReaderSlot};
use std::marker::PhantomData;

/// Proof of a section opened by [`with_own_section`]; `!Send`.
pub(crate) struct OwnSection<F: Flavour> {
    slot: &'static ReaderSlot,
    /// QSBR: the thread was offline (or unregistered) and came online here.
    came_online: bool,
    /// QSBR: the thread was unregistered and is registered only for the call.
    registered_here: bool,
    _not_send: PhantomData<(*const (), F)>,
}

// SAFETY: an `OwnSection` exists only between `enter` and its drop on the
// creating thread (it is !Send); in between the thread is inside a memb
// section (a `memb_enter` not yet exited) or online without a quiescent
// state (QSBR: nothing announces one while the closure borrows the proof).
unsafe impl<F: Flavour> ReadSection<F> for OwnSection<F> {}

/// Runs `f` inside a read-side section of `F` opened for it.
pub(crate) fn with_own_section<F: Flavour, R>(f: impl FnOnce(&OwnSection<F>) -> R) -> R {
    let section = OwnSection::<F>::enter();
    f(&section)
}

impl<F: Flavour> OwnSection<F> {
    fn enter() -> Self {
        let engine = F::engine();
        let registered_here = engine.current_slot().is_none();
        // memb registers for good (as `read_lock` does); QSBR only for the
        // call (see `Drop`).
        let slot = engine.register_current();
        let mut came_online = false;
        match F::PROTOCOL {
            Protocol::PhaseFlip => {
                // SAFETY: `slot` is this thread's own, the counter is this
                // flavour's; the matching exit is in `Drop`.
                let entered = unsafe { slot.memb_enter(engine.counter().ctr()) };
                assert!(entered, "rcu_{}: read-side sections nested 4294967295 deep (a guard leaked?)", F::NAME);
            }
            Protocol::Increment => {
                if F::PROTOCOL.may_block(slot.word()) {
                    // SAFETY: this thread owns `slot`; going online opens
                    // the section (the fence inside orders it before the
                    // closure's loads).
                    unsafe { slot.qsbr_online(engine.counter().ctr()) };
                    came_online = true;
                }
            }
        }
        OwnSection {
            slot,
            came_online,
            registered_here: registered_here && F::PROTOCOL == Protocol::Increment,
            _not_send: PhantomData,
        }
    }
}

impl<F: Flavour> Drop for OwnSection<F> {
    fn drop(&mut self) {
        let engine = F::engine();
        match F::PROTOCOL {
            Protocol::PhaseFlip => {
                // SAFETY: the owner thread, matching the `memb_enter` in
                // `enter`.
                if unsafe { self.slot.memb_exit() } {
                    // SAFETY: the outermost section of a slot kept past the
                    // thread's destructors just ended; no guard is left.
                    unsafe { engine.release_current_slot() };
                }
            }
            Protocol::Increment => {
                if self.came_online {
                    // SAFETY: the owner thread; the closure that used the
                    // section has returned, so no reference from it is left.
                    unsafe { self.slot.qsbr_offline() };
                }
                if self.registered_here {
                    engine.unregister_current();
                }
            }
        }
    }
}
