//! The calling thread's slot in each domain it reads: a small
//! `const`-initialised cache without destructor (the fast path: one
//! thread-local access and a compare), backed by a list with a destructor
//! that releases every slot when the thread exits.

use super::registry::SrcuRegistry;
use super::slot::SrcuSlot;
use std::cell::{Cell, RefCell};

/// Domains whose slot the fast path finds without the list.
const WAYS: usize = 4;

type Entry = Option<(&'static SrcuRegistry, &'static SrcuSlot)>;

std::thread_local! {
    /// The most recently claimed slots, by domain registry.
    static CACHE: [Cell<Entry>; WAYS] = const { [const { Cell::new(None) }; WAYS] };
    /// Its address is the thread's token (`thread_token`).
    static TOKEN: u8 = const { 0 };
    /// Every slot this thread owns; releases them at thread exit.
    static OWNED: Owned = const { Owned(RefCell::new(Vec::new())) };
}

struct Owned(RefCell<Vec<(&'static SrcuRegistry, &'static SrcuSlot)>>);

impl Drop for Owned {
    fn drop(&mut self) {
        // The cache outlives this list (it has no destructor): empty it
        // first, so that a later lookup on this thread claims a transient
        // slot instead of using a released one.
        CACHE.with(|c| c.iter().for_each(|e| e.set(None)));
        for (registry, slot) in self.0.borrow_mut().drain(..) {
            registry.release(slot);
        }
    }
}

/// The calling thread's slot in `registry`, claimed on first use; `None`
/// once the thread's thread-locals are being destroyed.
#[inline(always)]
pub(crate) fn current_slot(registry: &'static SrcuRegistry) -> Option<&'static SrcuSlot> {
    let hit =
        CACHE.with(|c| c.iter().find_map(|e| e.get().filter(|(r, _)| std::ptr::eq(*r, registry)).map(|(_, s)| s)));
    match hit {
        Some(slot) => Some(slot),
        None => claim_slot(registry),
    }
}

/// The calling thread's token: distinct among live threads, never 0 (the
/// address of a thread-local without destructor, valid until the thread
/// ends). A slot claimed through [`current_slot`] carries it until release.
#[inline(always)]
pub(crate) fn thread_token() -> u64 {
    TOKEN.with(|t| std::ptr::from_ref(t) as usize as u64)
}

/// The calling thread's slot in `registry` if it has one (never claims).
pub(crate) fn existing_slot(registry: &SrcuRegistry) -> Option<&'static SrcuSlot> {
    OWNED.try_with(|o| o.0.borrow().iter().find(|(r, _)| std::ptr::eq(*r, registry)).map(|(_, s)| *s)).ok().flatten()
}

#[cold]
#[inline(never)]
fn claim_slot(registry: &'static SrcuRegistry) -> Option<&'static SrcuSlot> {
    let slot = match existing_slot(registry) {
        Some(slot) => slot,
        None => OWNED
            .try_with(|o| {
                let slot = registry.claim();
                slot.set_owner_tid(crate::sys::gettid());
                slot.set_owner_token(thread_token());
                o.0.borrow_mut().push((registry, slot));
                slot
            })
            .ok()?,
    };
    CACHE.with(|c| {
        let free = c.iter().position(|e| e.get().is_none());
        // Full: evict by the domain's address, so that a thread reading a
        // few domains in turn does not evict them all in a cycle.
        let way = free.unwrap_or((registry as *const SrcuRegistry as usize / 64) % WAYS);
        c[way].set(Some((registry, slot)));
    });
    Some(slot)
}
