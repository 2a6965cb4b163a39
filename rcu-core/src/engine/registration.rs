//! Registering threads as readers, releasing their slots, and the
//! may-block rule every blocking call checks.

use super::Engine;
use crate::reader::ReaderSlot;
use crate::reader::ReaderSlotPtr;
use crate::thread::FlavourLocals;
use std::sync::atomic::Ordering;

impl<F: FlavourLocals> Engine<F> {
    /// The calling thread's slot, if it is registered.
    #[inline]
    pub fn current_slot(&self) -> Option<&'static ReaderSlot> {
        F::slot_key().with(ReaderSlotPtr::get)
    }

    /// Registers the calling thread (idempotent) and returns its slot.
    #[cold]
    #[inline(never)]
    pub fn register_current(&'static self) -> &'static ReaderSlot {
        if let Some(slot) = self.current_slot() {
            return slot;
        }
        self.init();
        let slot = self.registry.claim();
        // Relaxed: owner-only diagnostics, published with the claim.
        slot.tid.store(crate::sys::gettid(), Ordering::Relaxed);
        let permanent = F::thread_key().try_with(|st| st.set_registered(true)).is_ok();
        slot.set_transient(!permanent);
        F::slot_key().with(|c| c.set(slot));
        // Orders the claim before this thread's first read-side loads; pairs
        // with the fence before the empty-registry check in
        // `run_grace_period` (a grace period that saw no claimed slot must
        // not miss a reader that registered after it looked).
        crate::sync::atomic::fence(Ordering::SeqCst);
        slot
    }

    /// Unregisters the calling thread (no-op if unregistered).
    ///
    /// # Panics
    ///
    /// Inside a read-side critical section (memb) or while online (QSBR):
    /// the section would lose its protection.
    pub fn unregister_current(&self) {
        if let Some(slot) = self.current_slot() {
            assert!(
                F::PROTOCOL.may_block(slot.word()),
                "rcu_{}: unregister_thread() called inside a read-side critical section; \
                 drop every guard (or go offline) before unregistering",
                F::NAME
            );
            // The destructor may already be running (then try_with fails,
            // and there is nothing left to mark).
            let _ = F::thread_key().try_with(|st| st.set_registered(false));
            // SAFETY: checked just above that no section is open; the
            // flavour's handle (if any) is being dropped by the caller.
            unsafe { self.release_current_slot() };
        }
    }

    /// Returns the calling thread's slot to the registry (unregistration,
    /// or a transient slot whose outermost section ended).
    ///
    /// # Safety
    ///
    /// The calling thread must not be inside a read-side section (memb) or
    /// online (QSBR), and must not use the slot afterwards (no live guard).
    pub unsafe fn release_current_slot(&self) {
        if let Some(slot) = F::slot_key().with(ReaderSlotPtr::take) {
            self.registry.release_reader(slot);
        }
    }

    /// Thread exit (the thread state's destructor): release the slot, unless
    /// a guard or handle stored in another thread-local still uses it; then
    /// mark it transient for that guard or handle to release.
    pub(crate) fn thread_exit(&self, handle_alive: bool) {
        let Some(slot) = self.current_slot() else { return };
        if handle_alive || !F::PROTOCOL.may_block(slot.word()) {
            slot.set_transient(true);
            return;
        }
        // SAFETY: quiescent and no handle: nothing uses the slot any more.
        unsafe { self.release_current_slot() };
    }

    /// Records that a registration handle (QSBR's `QsbrThread`) owns the
    /// calling thread's slot (`true`) or has released it (`false`).
    pub fn set_handle_alive(&self, alive: bool) {
        let _ = F::thread_key().try_with(|st| st.set_handle_alive(alive));
    }

    /// Whether the calling thread may block for a grace period and for
    /// reclaim: not inside a read-side section (memb), not online (QSBR),
    /// not inside a destructor that its own `kvfree_rcu` call runs (the
    /// reclaim thread may be waiting for that call's drain step to end,
    /// `kvfree/hand_back.rs`, so a throttle there would deadlock).
    #[inline]
    pub fn may_block(&self) -> bool {
        self.may_wait_for_grace_period()
            && !F::defer_key().with(crate::reader::SlotPtr::get).is_some_and(|d| d.is_draining())
    }

    /// Whether a grace period could complete while the calling thread
    /// waits for it: not inside a read-side section, not online.
    #[inline]
    fn may_wait_for_grace_period(&self) -> bool {
        // Relaxed: the thread reads its own word.
        self.current_slot().is_none_or(|s| F::PROTOCOL.may_block(s.word()))
            && F::foreign_readers().is_none_or(|f| f.may_block(F::PROTOCOL))
            && F::srcu_readers().is_none_or(|s| s.open_here() == 0)
    }

    /// Panics with a message naming `what` if a grace period could not
    /// complete while the calling thread waits (inside a read-side
    /// section, online): it would wait for itself, forever.
    #[inline]
    #[track_caller]
    pub fn assert_may_block(&self, what: &str) {
        if let Some(srcu) = F::srcu_readers() {
            srcu.assert_may_block(what);
        }
        if !self.may_wait_for_grace_period() {
            misuse_blocking::<F>(what);
        }
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn misuse_blocking<F: FlavourLocals>(what: &str) -> ! {
    match F::PROTOCOL {
        crate::reader::Protocol::PhaseFlip => panic!(
            "rcu_{}: {what} called inside a read-side critical section of the same thread; \
             this would wait for itself forever. Drop the ReadGuard first (or use call_rcu / \
             kvfree_rcu, which never block)",
            F::NAME
        ),
        crate::reader::Protocol::Increment => panic!(
            "rcu_{}: {what} called from an online QSBR thread; this would wait for the \
             thread's own quiescent state forever. Use QsbrThread::synchronize_rcu(&mut self) \
             (which goes offline while waiting), or call it inside QsbrThread::offline_scope",
            F::NAME
        ),
    }
}
