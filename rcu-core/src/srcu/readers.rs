//! [`SrcuReaders`]: the readers of one srcu domain (its index and slots)
//! and what the engine, or a domain's own grace periods, ask of them.

use super::grace_period::{rank_balanced, rank_sums, run_grace_period, SrcuIndex};
use super::local;
use super::registry::SrcuRegistry;
use super::slot::SrcuSlot;
use crate::stall::StallReporter;
use crate::sync::spin_hint;
use std::time::{Duration, Instant};

/// Rounds of the barrier-free hint before a waiting writer sleeps.
const SPINS: u32 = 100;
/// A waiting writer's first sleep; it doubles up to [`MAX_SLEEP`].
const FIRST_SLEEP: Duration = Duration::from_micros(10);
/// The longest sleep between two looks: how late a grace period may end
/// after its last reader left, once it has waited long.
const MAX_SLEEP: Duration = Duration::from_millis(1);

/// The readers of one srcu domain.
#[derive(Debug)]
pub struct SrcuReaders {
    name: &'static str,
    index: SrcuIndex,
    registry: SrcuRegistry,
}

/// An entered section: the slot whose `lock[rank]` counted it, and the
/// rank. `Send`: any thread may end it ([`SrcuReaders::read_unlock`]).
#[derive(Copy, Clone, Debug)]
pub struct SrcuSection {
    slot: &'static SrcuSlot,
    rank: u8,
}

impl SrcuReaders {
    /// A domain with no reader; `name` appears in stall warnings and
    /// misuse panics.
    pub const fn new(name: &'static str) -> Self {
        SrcuReaders { name, index: SrcuIndex::new(), registry: SrcuRegistry::new() }
    }

    /// The domain's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Enters a section (nestable, never blocks). The section ends with
    /// [`Self::read_unlock`] on any thread.
    #[inline]
    pub fn read_lock(&'static self) -> SrcuSection {
        match local::current_slot(&self.registry) {
            Some(slot) => {
                let rank = self.index.current();
                // SAFETY: `slot` is the calling thread's own.
                unsafe { slot.enter(rank) };
                SrcuSection { slot, rank: rank as u8 }
            }
            None => self.read_lock_transient(),
        }
    }

    /// `read_lock` on a thread whose thread-locals are gone: a slot
    /// claimed for this one section; it stays claimed (its owner's section
    /// is open) until the registry retires it.
    #[cold]
    #[inline(never)]
    fn read_lock_transient(&'static self) -> SrcuSection {
        let slot = self.registry.claim();
        let rank = self.index.current();
        // SAFETY: just claimed: the calling thread owns it.
        unsafe { slot.enter(rank) };
        self.registry.release(slot);
        SrcuSection { slot, rank: rank as u8 }
    }

    /// Ends `section`, on any thread.
    #[inline]
    pub fn read_unlock(&'static self, section: SrcuSection) {
        let rank = usize::from(section.rank);
        // The common case, ended on the thread that entered it: the guard's
        // slot names this thread's token, so no slot lookup is needed.
        if section.slot.is_owned_by(local::thread_token()) {
            // SAFETY: the calling thread owns `section.slot`, which entered it.
            return unsafe { section.slot.exit_own(rank) };
        }
        self.read_unlock_elsewhere(section);
    }

    /// `read_unlock` of a section another slot (or this thread before its
    /// slot was released) entered.
    #[cold]
    #[inline(never)]
    fn read_unlock_elsewhere(&'static self, section: SrcuSection) {
        let rank = usize::from(section.rank);
        match local::current_slot(&self.registry) {
            // SAFETY: the calling thread owns `slot`, which entered it.
            Some(slot) if std::ptr::eq(slot, section.slot) => unsafe { slot.exit_own(rank) },
            // SAFETY: the calling thread owns `slot`.
            Some(slot) => unsafe { slot.exit_for(section.slot, rank) },
            None => self.read_unlock_transient(section),
        }
    }

    /// `read_unlock` on a thread whose thread-locals are gone.
    #[cold]
    #[inline(never)]
    fn read_unlock_transient(&'static self, section: SrcuSection) {
        let slot = self.registry.claim();
        // SAFETY: just claimed: the calling thread owns it.
        unsafe { slot.exit_for(section.slot, usize::from(section.rank)) };
        self.registry.release(slot);
    }

    /// How many sections the calling thread entered in this domain and has
    /// not ended (on any thread).
    pub fn open_here(&self) -> u64 {
        local::existing_slot(&self.registry).map_or(0, SrcuSlot::open_sections)
    }

    /// Panics, naming the fix, if the calling thread has a section of this
    /// domain open: `what` (a blocking grace-period wait) would wait for it.
    #[track_caller]
    pub fn assert_may_block(&self, what: &str) {
        let open = self.open_here();
        if open != 0 {
            misuse_blocking(self.name, what, open);
        }
    }

    /// Whether no reader can be inside a section that began before the
    /// call: no slot ever claimed, or both ranks balanced (each check alone
    /// proves its rank's earlier sections ended: module docs).
    pub fn no_reader_to_wait_for(&self) -> bool {
        // SeqCst fence: orders the caller's unpublish before the emptiness
        // check; pairs with the fence that ends a claim
        // (`SrcuRegistry::claimed`): either the list is seen non-empty, or
        // the new reader's loads see the unpublish.
        crate::sync::atomic::fence(crate::sync::atomic::Ordering::SeqCst);
        if self.registry.is_empty() {
            return true;
        }
        rank_balanced(|| self.registry.slots(), 0) && rank_balanced(|| self.registry.slots(), 1)
    }

    /// [`Self::no_reader_to_wait_for`] without barriers: a hint.
    pub fn no_reader_seen(&self) -> bool {
        (0..2).all(|rank| {
            let (locks, unlocks) = rank_sums(self.registry.slots(), rank);
            locks == unlocks
        })
    }

    /// Runs one grace period over this domain's readers.
    ///
    /// # Safety
    ///
    /// The caller runs this domain's grace periods one at a time (it holds
    /// the sequence's running state): the index has one writer.
    pub unsafe fn run(&self, stall: &StallReporter<'_>) {
        // SAFETY: forwarded contract.
        unsafe { run_grace_period(&self.index, |rank| self.wait_balanced(rank, stall)) };
    }

    /// Returns once `rank` is balanced: looks without a barrier, issues
    /// the full check only when the look says balanced; spins a little,
    /// then sleeps with a doubling pause (readers may sleep for long), and
    /// warns of a stall at the reporter's threshold.
    fn wait_balanced(&self, rank: usize, stall: &StallReporter<'_>) {
        let started = Instant::now();
        let mut next_warning = stall.threshold();
        let mut warnings = 0;
        let mut pause = FIRST_SLEEP;
        let mut spins = 0;
        loop {
            let (locks, unlocks) = rank_sums(self.registry.slots(), rank);
            if locks == unlocks && rank_balanced(|| self.registry.slots(), rank) {
                return;
            }
            if spins < SPINS {
                spins += 1;
                spin_hint();
                continue;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(MAX_SLEEP);
            if let Some(due) = next_warning {
                let waited = started.elapsed();
                if waited >= due {
                    warnings += 1;
                    let open = locks.wrapping_sub(unlocks);
                    stall.warn_open_sections(self.name, rank, open, &self.openers(), waited, warnings);
                    next_warning = Some(due.saturating_mul(2));
                }
            }
        }
    }
}

impl SrcuReaders {
    /// `fork()` support, child side: only the forking thread survives, so
    /// every other thread's sections are counted ended and its slot freed.
    /// A guard another thread handed to the forking thread must not be
    /// dropped in the child (its end was counted here already).
    #[doc(hidden)]
    pub fn reset_after_fork_child(&'static self) {
        let own = local::existing_slot(&self.registry);
        for slot in self.registry.slots().filter(|s| own.is_none_or(|o| !std::ptr::eq(*s, o))) {
            slot.forget_after_fork_child();
        }
    }

    /// A diagnostic dump: the current rank, each rank's open sections, and
    /// the threads that entered sections not yet ended (racy reads).
    pub fn state_report(&self) -> String {
        let open: Vec<u64> = (0..2)
            .map(|rank| {
                let (locks, unlocks) = rank_sums(self.registry.slots(), rank);
                locks.wrapping_sub(unlocks)
            })
            .collect();
        format!(
            "  srcu domain \"{}\": readers enter rank {}; open sections: rank 0: {}, rank 1: {}; entered by tids {:?}\n",
            self.name,
            self.index.current(),
            open[0],
            open[1],
            self.openers()
        )
    }

    /// Thread ids of the latest owners of slots whose owners entered
    /// sections not yet ended (a diagnostic: racy reads of other threads'
    /// counts), at most a few.
    fn openers(&self) -> Vec<u64> {
        self.registry.slots().filter(|s| s.open_sections() != 0).map(SrcuSlot::owner_tid).take(4).collect()
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn misuse_blocking(domain: &str, what: &str, open: u64) -> ! {
    panic!(
        "rcu_srcu: {what} called on a thread that entered {open} read-side section(s) of srcu domain \
         \"{domain}\" not yet ended; the grace period would wait for them (and for itself if this thread \
         holds the guard). Drop the guard first, or use synchronize_rcu_async (or call_rcu / kvfree_rcu, \
         which never block)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    static READERS: SrcuReaders = SrcuReaders::new("owner-token test");

    /// The unlock's fast path trusts `is_owned_by`: true on the entering
    /// thread only, and false for that thread's token once it exited.
    #[test]
    fn only_the_live_owner_matches_its_slot() {
        let (section, token) = std::thread::spawn(|| {
            let section = READERS.read_lock();
            assert!(section.slot.is_owned_by(local::thread_token()));
            (section, local::thread_token())
        })
        .join()
        .unwrap();
        // The opener exited with its section open: its slot stays claimed
        // but is no longer its (or anyone's) by token.
        assert!(!section.slot.is_owned_by(token));
        assert!(!section.slot.is_owned_by(local::thread_token()));
        READERS.read_unlock(section);
        assert_eq!(READERS.open_here(), 0);
    }
}
