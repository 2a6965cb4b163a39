//! Headless `kvfree_rcu`, the deferral slot it uses, and starting the
//! reclaim thread (with the narrow handles it gets).

use super::Engine;
use crate::defer::slot::DeferSlot;
use crate::kvfree::{AfterAppend, CDeferredFn, RcuFree};
use crate::reader::SlotPtr;
use crate::thread::FlavourLocals;

impl<F: FlavourLocals> Engine<F> {
    /// Drops `object` after a grace period, without a head inside it and
    /// without allocating per object (see `kvfree/`). Never blocks unless
    /// memory is exhausted and the caller may block (then it waits for one
    /// grace period and drops inline), or the backlog is past the hard limit.
    ///
    /// The object's `Drop` runs after the grace period on this thread (at
    /// one of its later `kvfree` calls, when the reclaim thread has handed
    /// the ready block back) or on the reclaim thread; only on the reclaim
    /// thread after [`Engine::set_kvfree_drop_on_caller`]`(false)`.
    #[inline]
    pub fn kvfree<P: RcuFree>(&'static self, object: P) {
        self.kvfree_entry(object.into_entry(), false);
    }

    /// Calls `func(arg)` on the reclaim thread after a grace period: the
    /// path of [`Engine::kvfree`] with a C function for an entry (the C
    /// ABI's `call_rcu` and `defer_rcu`: no head used, no allocation per
    /// call, `rcu_barrier` waits for it).
    ///
    /// # Safety
    ///
    /// `func(arg)` must be sound to call once, on another thread, after a
    /// grace period (what it touches stays valid until then).
    pub unsafe fn defer_c_call(&'static self, func: CDeferredFn, arg: *mut std::ffi::c_void) {
        // Pinned: liburcu runs deferred C calls on its call_rcu thread, so
        // the block is never handed back to this thread.
        self.kvfree_entry(crate::kvfree::Entry::c_call(func, arg), true);
    }

    #[inline(always)]
    fn kvfree_entry(&'static self, entry: crate::kvfree::Entry, pin: bool) {
        match F::defer_key().with(SlotPtr::get) {
            Some(slot) => self.kvfree_append(slot, &entry, pin),
            None => self.kvfree_unregistered(entry, pin),
        }
    }

    #[inline(always)]
    fn kvfree_append(&'static self, slot: &'static DeferSlot, entry: &crate::kvfree::Entry, pin: bool) {
        let words = (entry.drop, &entry.words[..entry.arity], entry.held);
        let after = self.kvfree.append(slot, &self.sequence, || self.may_block(), F::NAME, words, pin);
        if !after.is_done() {
            self.after_kvfree_slow_path(slot, after);
        }
        self.kvfree.drain_step(slot, F::NAME);
    }

    /// What the append's slow path reported: arm the drain timer, note a
    /// seal (and wait for reclaim past the hard limit), or drop the object
    /// inline after a grace period (no block could be had). A seal or a new
    /// block is also when this thread takes the ready blocks handed back to
    /// it (`kvfree/hand_back.rs`), for its next calls to drop a few objects
    /// of each.
    #[cold]
    #[inline(never)]
    fn after_kvfree_slow_path(&'static self, slot: &'static DeferSlot, after: AfterAppend) {
        if after.dirtied || after.sealed {
            self.ensure_reclaim_thread();
            self.kvfree.take_ready(slot);
        }
        if after.dirtied {
            self.defer.wake.wake_for_timer();
        }
        if after.sealed && self.reclaimer.note_sealed(self.parts()) {
            self.reclaimer.throttle_if_allowed(self.parts(), self.may_block());
        }
        if let Some((drop, entry)) = after.drop_after_gp {
            self.synchronize();
            // SAFETY: the entry was never stored; a grace period has
            // elapsed since the caller unpublished the object.
            unsafe { drop(entry.as_ptr()) };
        }
    }

    #[cold]
    #[inline(never)]
    fn kvfree_unregistered(&'static self, entry: crate::kvfree::Entry, pin: bool) {
        if let Some(slot) = self.register_defer_slot() {
            return self.kvfree_append(slot, &entry, pin);
        }
        // The thread's destructors already ran (a call from another
        // thread-local's destructor): no slot could be released at exit, so
        // take the allocating path once.
        struct Deferred(crate::kvfree::Entry);
        // SAFETY: the entry came from an `RcuFree` value, which is Send, or
        // from `defer_c_call`, whose caller promised it may run elsewhere.
        unsafe impl Send for Deferred {}
        let deferred = Deferred(entry);
        self.call_rcu(move || {
            let d = deferred;
            // SAFETY: the entry is dropped once, after a grace period.
            unsafe { (d.0.drop)(d.0.words.as_ptr()) };
        });
    }

    /// Thread exit: hand the callback list over, seal the partial block and
    /// release the deferral slot.
    pub(crate) fn defer_thread_exit(&'static self) {
        let Some(slot) = F::defer_key().with(SlotPtr::take) else { return };
        self.defer.hand_over_callbacks(slot);
        let sealed = self.kvfree.owner_exit(slot, &self.sequence, || self.reclaimer.under_pressure(self.parts()));
        self.defer.release_slot(slot);
        if sealed {
            self.ensure_reclaim_thread();
            self.reclaimer.note_sealed(self.parts());
        }
    }

    /// Sets how long a partial kvfree block may wait before it is sealed
    /// (default [`DEFAULT_DRAIN_INTERVAL`](crate::kvfree::DEFAULT_DRAIN_INTERVAL)).
    pub fn set_kvfree_drain_interval(&self, interval: std::time::Duration) {
        self.kvfree.set_drain_interval(interval);
    }

    /// Sets whether a `Drop` run by [`Engine::kvfree`] (and by the values
    /// `RcuCell` retires through it) may run on the thread that retired the
    /// object (default `true`): its ready block is handed back and freed
    /// at one of that thread's later `kvfree` calls, so the memory returns
    /// to the allocator cache of the thread that allocated it. `false`
    /// keeps every such destructor on the reclaim thread (as before), for
    /// destructors that must not run inside the caller's read-side
    /// sections or that take locks the caller holds. Blocks already
    /// handed back are still freed by their owners.
    pub fn set_kvfree_drop_on_caller(&self, on: bool) {
        self.kvfree.set_drop_on_caller(on);
    }

    /// Whether kvfree destructors may run on the retiring thread (see
    /// [`Engine::set_kvfree_drop_on_caller`]).
    pub fn kvfree_drop_on_caller(&self) -> bool {
        self.kvfree.drop_on_caller()
    }

    /// Drops every cached empty kvfree block and the spare `call_rcu`
    /// slots now (memory pressure). Returns
    /// how many blocks were freed.
    pub fn reclaim_now(&self) -> usize {
        crate::defer::slot_pool::trim();
        self.kvfree.drop_caches(&self.defer)
    }
}
