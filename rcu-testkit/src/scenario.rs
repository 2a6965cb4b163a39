//! Scenarios shared by both flavours' tests: readers check every element
//! they reach while a writer replaces it and retires the old one through a
//! chosen path. Generic over the flavour; the flavour's test supplies only
//! its reader loop.

use crate::{Arena, Element, ReaderChecks, Token};
use rcu_core::{Flavour, RcuHead};
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

fn retire<F: Flavour>(path: RetirePath, token: Token) {
    token.retire();
    let engine = F::engine();
    match path {
        RetirePath::Synchronize => {
            engine.synchronize();
            drop(token);
        }
        RetirePath::CallRcu => engine.call_rcu(move || drop(token)),
        RetirePath::CallRcuRaw => {
            let raw = Box::leak(Box::new(RawToken { head: RcuHead::new(), token }));
            // SAFETY: the box stays leaked until drop_raw_token frees it.
            unsafe { engine.call_rcu_raw(NonNull::from(&raw.head), drop_raw_token) };
        }
        RetirePath::Polling => {
            let cookie = engine.start_poll();
            engine.cond_synchronize(cookie);
            assert!(engine.poll(cookie));
            drop(token);
        }
    }
}

/// Runs `readers` threads of `reader_loop` while the calling thread replaces
/// the published element `replacements` times, retiring through `path`.
/// Then waits (`rcu_barrier`) and asserts: no early free, every retired
/// element freed, created == dropped + the one still published.
///
/// The calling thread must be allowed to block (not an online QSBR reader).
pub fn replace_while_reading<F: Flavour>(
    readers: usize,
    reader_loop: fn(&'static Shared),
    path: RetirePath,
    replacements: usize,
) {
    let arena = Arena::leak(replacements + 1);
    let (first, mut current) = arena.create();
    let shared: &'static Shared = Box::leak(Box::new(Shared {
        published: AtomicPtr::new(first as *const Element as *mut Element),
        checks: ReaderChecks::default(),
        stop: AtomicBool::new(false),
    }));
    let threads: Vec<_> = (0..readers).map(|_| std::thread::spawn(move || reader_loop(shared))).collect();
    // Start replacing only once readers are reading, or a fast writer could
    // finish before they start and the test would check nothing.
    while shared.checks.reads() == 0 {
        std::thread::yield_now();
    }
    for _ in 0..replacements {
        let (next, next_token) = arena.create();
        // Release: publishes the element; pairs with readers' Acquire.
        shared.published.store(next as *const Element as *mut Element, Ordering::Release);
        retire::<F>(path, std::mem::replace(&mut current, next_token));
    }
    shared.stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    F::engine().barrier();
    let early = shared.checks.early_frees();
    assert_eq!(early, 0, "rcu_{} {path:?}: readers reached {early} freed elements", F::NAME);
    assert!(shared.checks.reads() > 0, "readers never ran");
    assert_eq!(arena.dropped(), replacements as u64, "rcu_{} {path:?}: leak or double drop", F::NAME);
    assert_eq!(arena.created(), arena.dropped() + 1);
    drop(current);
    assert_eq!(arena.created(), arena.dropped());
}
