//! Every retire path against readers: readers check every element they
//! reach while a writer replaces it and retires the old one through a
//! chosen path. Generic over the flavour.

use crate::{Arena, Element, ReaderChecks, Token};
use rcu_core::{RcuFlavour, RcuHead};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// What readers and the writer share.
#[derive(Debug)]
pub struct Shared {
    published: AtomicPtr<Element>,
    /// What readers found.
    pub checks: ReaderChecks,
    /// Set when readers should stop.
    pub stop: AtomicBool,
}

impl Shared {
    /// Loads the published element and checks it (call inside a read-side
    /// section; `repeat` times, to widen the window an early free needs).
    #[inline]
    pub fn read_and_check(&self, repeat: usize) {
        // Acquire: rcu_dereference, pairs with the writer's Release store.
        let p = self.published.load(Ordering::Acquire);
        // SAFETY: arena elements are never freed while the arena lives
        // (leaked for the test), so this is never a read of freed memory.
        let e = unsafe { &*p };
        for _ in 0..repeat {
            self.checks.check(e);
        }
    }

    /// Whether readers should stop.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// How the writer retires the element it unpublished.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RetirePath {
    /// `synchronize_rcu()` then drop.
    Synchronize,
    /// `call_rcu(move || drop(token))`.
    CallRcu,
    /// `call_rcu_raw` with a head next to the token.
    CallRcuRaw,
    /// `start_poll_synchronize_rcu()` then `cond_synchronize_rcu()` then drop.
    Polling,
    /// `synchronize_rcu_async()` awaited (on [`block_on`](crate::async_gp::block_on)) then drop.
    SynchronizeAsync,
    /// `kvfree_rcu(Box::new(token))`.
    KvfreeBox,
    /// `kvfree_rcu(vec![token])`.
    KvfreeVec,
}

/// A token with an intrusive head, for `call_rcu_raw`.
#[repr(C)]
struct RawToken {
    head: RcuHead,
    token: Token,
}

/// # Safety
///
/// `head` is the first field of a leaked `Box<RawToken>`.
unsafe fn drop_raw_token(head: NonNull<RcuHead>) {
    // SAFETY: per the contract.
    drop(unsafe { Box::from_raw(head.cast::<RawToken>().as_ptr()) });
}

fn retire<F: RcuFlavour>(path: RetirePath, token: Token) {
    token.retire();
    match path {
        RetirePath::Synchronize => {
            F::synchronize_rcu();
            drop(token);
        }
        RetirePath::CallRcu => F::call_rcu(move || drop(token)),
        RetirePath::CallRcuRaw => {
            let raw = Box::leak(Box::new(RawToken { head: RcuHead::new(), token }));
            // SAFETY: the box stays leaked until drop_raw_token frees it.
            unsafe { F::call_rcu_raw(NonNull::from(&raw.head), drop_raw_token) };
        }
        RetirePath::Polling => {
            let cookie = F::start_poll_synchronize_rcu();
            F::cond_synchronize_rcu(cookie);
            assert!(F::poll_state_synchronize_rcu(cookie));
            drop(token);
        }
        RetirePath::SynchronizeAsync => {
            crate::async_gp::block_on(F::synchronize_rcu_async());
            drop(token);
        }
        RetirePath::KvfreeBox => F::kvfree_rcu(Box::new(token)),
        RetirePath::KvfreeVec => F::kvfree_rcu(vec![token]),
    }
}

/// Sections of a reader between two times it gives way (`offline_scope`).
const SECTIONS_PER_YIELD: usize = 16 * crate::reader::SECTIONS_PER_QUIESCENT_STATE;

/// A reader thread of the scenario: nested sections, each checking the
/// published element, until the writer is done.
fn reader_loop<F: RcuFlavour>(shared: &'static Shared) {
    let mut thread = F::register_thread();
    while !shared.stopped() {
        for i in 1..=SECTIONS_PER_YIELD {
            let outer = F::read_lock(&thread);
            shared.read_and_check(4);
            let nested = F::read_lock(&thread);
            shared.read_and_check(4);
            drop(nested);
            drop(outer);
            if i % crate::reader::SECTIONS_PER_QUIESCENT_STATE == 0 {
                F::quiescent_state(&mut thread);
            }
        }
        // Give way now and then, as real QSBR threads block: on 2 cores
        // several always-online spinners make every grace period wait for
        // a scheduler time slice.
        F::offline_scope(&mut thread, std::thread::yield_now);
    }
    F::unregister_thread(thread);
}

/// Runs `readers` reader threads while the calling thread replaces
/// the published element `replacements` times, retiring through `path`.
/// Then waits (`rcu_barrier`) and asserts: no early free, every retired
/// element freed, created == dropped + the one still published.
///
/// The calling thread must be allowed to block (not an online QSBR reader).
pub fn replace_while_reading<F: RcuFlavour>(readers: usize, path: RetirePath, replacements: usize) {
    replace_while_reading_from::<F>(1, readers, path, replacements);
}

/// As [`replace_while_reading`], with `writers` threads each replacing the
/// published element `replacements` times (exchanging it, so each retires
/// exactly the element it unpublished).
pub fn replace_while_reading_from<F: RcuFlavour>(
    writers: usize,
    readers: usize,
    path: RetirePath,
    replacements: usize,
) {
    let arena = Arena::leak(writers * replacements + 1);
    let tokens: &'static [std::sync::Mutex<Option<Token>>] =
        Box::leak((0..writers * replacements + 1).map(|_| std::sync::Mutex::new(None)).collect());
    let (first, first_token) = arena.create();
    *tokens[first.id].lock().unwrap() = Some(first_token);
    let shared: &'static Shared = Box::leak(Box::new(Shared {
        published: AtomicPtr::new(first as *const Element as *mut Element),
        checks: ReaderChecks::default(),
        stop: AtomicBool::new(false),
    }));
    let threads: Vec<_> = (0..readers).map(|_| std::thread::spawn(move || reader_loop::<F>(shared))).collect();
    // Start replacing only once readers are reading, or a fast writer could
    // finish before they start and the test would check nothing.
    while shared.checks.reads() == 0 {
        std::thread::yield_now();
    }
    let writer = move || {
        for _ in 0..replacements {
            let (next, next_token) = arena.create();
            *tokens[next.id].lock().unwrap() = Some(next_token);
            // AcqRel: Release publishes the element (pairs with readers'
            // Acquire); Acquire orders the token hand-over of the old one.
            let old = shared.published.swap(next as *const Element as *mut Element, Ordering::AcqRel);
            // SAFETY: arena elements are never freed.
            let old_id = unsafe { (*old).id };
            let token = tokens[old_id].lock().unwrap().take().expect("each element is unpublished once");
            retire::<F>(path, token);
        }
    };
    let extra: Vec<_> = (1..writers).map(|_| std::thread::spawn(writer)).collect();
    writer();
    for w in extra {
        w.join().unwrap();
    }
    shared.stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    F::rcu_barrier();
    let early = shared.checks.early_frees();
    assert_eq!(early, 0, "rcu_{} {path:?}: readers reached {early} freed elements", F::NAME);
    assert!(shared.checks.reads() > 0, "readers never ran");
    let retired = (writers * replacements) as u64;
    assert_eq!(arena.dropped(), retired, "rcu_{} {path:?}: leak or double drop", F::NAME);
    assert_eq!(arena.created(), arena.dropped() + 1);
    let last = shared.published.load(Ordering::Acquire);
    // SAFETY: arena elements are never freed.
    drop(tokens[unsafe { (*last).id }].lock().unwrap().take());
    assert_eq!(arena.created(), arena.dropped());
}
