//! `fork()` for domains: a child that uses a domain works, as with the
//! flavours (`rcu_core::fork`).
//!
//! Every domain is listed here on first `'static` use (a section, a
//! deferred form), and the handlers are registered with `pthread_atfork`
//! once. Only the forking thread exists in the child, so:
//!
//! * **prepare** (parent, before fork): take the list's lock, then each
//!   domain's queue lock and grace-period leadership lock, so the child
//!   inherits none held by a thread it lacks;
//! * **parent**: release them;
//! * **child**: end every other thread's sections of each domain, forget
//!   the grace period the parent was running, mark the worker not started
//!   (the next deferred call starts one), then release the locks.
//!
//! Items queued at the fork run in both processes, each on its own copy;
//! those the parent's worker was running at the instant of the fork are
//! leaked in the child's copy. A domain used only through
//! `synchronize_rcu(&self)` on a non-`'static` reference is not listed: it
//! can have no section (sections need `'static`), and a child inheriting
//! another thread's grace period of it in progress waits forever.

use crate::domain::Domain;
use crate::domain_reclaim::Pending;
use std::cell::RefCell;
use std::sync::{Mutex, MutexGuard, Once};

/// Every domain listed so far.
static DOMAINS: Mutex<Vec<&'static Domain>> = Mutex::new(Vec::new());

/// Locks held from prepare to parent or child, on the forking thread.
struct Held {
    list: MutexGuard<'static, Vec<&'static Domain>>,
    queues: Vec<MutexGuard<'static, Pending>>,
}

std::thread_local! {
    /// The forking thread's held locks (the three handlers run on it).
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

fn domains() -> MutexGuard<'static, Vec<&'static Domain>> {
    // The list is pushed to whole: a poisoned lock leaves it intact.
    DOMAINS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Lists `domain` for the fork handlers (call once per domain).
pub(crate) fn list(domain: &'static Domain) {
    static HANDLERS: Once = Once::new();
    HANDLERS.call_once(|| {
        // SAFETY: the handlers are plain functions valid for the life of
        // the process; they do not unwind (lock poisoning is recovered).
        let rc = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
        if rc != 0 {
            eprintln!("rcu_srcu: pthread_atfork failed ({rc}); a forked child must not use a Domain");
        }
    });
    domains().push(domain);
}

extern "C" fn prepare() {
    let list = domains();
    let queues = list.iter().map(|d| d.fork_prepare()).collect();
    HELD.with(|h| *h.borrow_mut() = Some(Held { list, queues }));
}

extern "C" fn parent() {
    if let Some(held) = HELD.with(|h| h.borrow_mut().take()) {
        for d in held.list.iter() {
            d.fork_parent();
        }
    }
}

extern "C" fn child() {
    if let Some(mut held) = HELD.with(|h| h.borrow_mut().take()) {
        for (d, queue) in held.list.iter().zip(held.queues.iter_mut()) {
            d.fork_child(queue);
        }
    }
}
