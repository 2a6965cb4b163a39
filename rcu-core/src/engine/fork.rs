//! The `fork()` handlers' work: every part's locks taken before the fork,
//! released after, and the child's repair (see `crate::fork`).

use super::Engine;
use crate::reader::SlotPtr;
use crate::thread::FlavourLocals;

impl<F: FlavourLocals> Engine<F> {
    pub(crate) fn fork_prepare(&self) {
        self.init_lock.raw_lock();
        self.defer.lock_for_fork();
        self.reclaimer.lock_for_fork();
        self.sequence.lock_for_fork();
        if let Some(foreign) = F::foreign_readers() {
            foreign.lock_for_fork();
        }
    }

    pub(crate) fn fork_parent(&self) {
        if let Some(foreign) = F::foreign_readers() {
            foreign.unlock_after_fork_parent();
        }
        self.sequence.unlock_after_fork_parent();
        self.reclaimer.unlock_after_fork_parent();
        self.defer.unlock_after_fork_parent();
        // SAFETY: taken by `fork_prepare` on this thread; no guard exists.
        unsafe { self.init_lock.raw_unlock() };
    }

    pub(crate) fn fork_child(&self) {
        // SAFETY: taken by `fork_prepare` before the fork, by this thread.
        unsafe { self.init_lock.raw_unlock() };
        crate::sys::reregister_after_fork();
        if let Some(foreign) = F::foreign_readers() {
            foreign.reset_after_fork_child();
        }
        if let Some(srcu) = F::srcu_readers() {
            srcu.reset_after_fork_child();
        }
        self.sequence.reset_after_fork_child();
        let pending_blocks = self.reclaimer.reset_after_fork_child(self.parts());
        self.registry.release_all_except(self.current_slot());
        self.kvfree.reset_after_fork_child(&self.defer, pending_blocks);
        self.defer.reset_after_fork_child(F::defer_key().with(SlotPtr::get));
    }
}
