//! kvfree_rcu properties, generic over the flavour: thread exit, idle
//! threads, every emergency branch (by fault injection), every object shape.

use crate::callbacks::DropCounter;
use crate::reader::in_read_section;
use crate::{Arena, Element, ReaderChecks, Token};
use rcu_core::fault::{set_alloc_failure, AllocFailure};
use rcu_core::kvfree::OWN_FREE_PER_CALL;
use rcu_core::RcuFlavour;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

/// A thread exits with a partial block: rcu_barrier frees everything in it.
pub fn thread_exit_hands_over_its_partial_block<F: RcuFlavour>() {
    let counter = Arc::new(DropCounter::default());
    let sealed = F::stats().kvfree_blocks_sealed;
    let before = sealed.thread_exit + sealed.barrier + sealed.timer;
    let c = counter.clone();
    std::thread::spawn(move || {
        for _ in 0..10 {
            F::kvfree_rcu(Box::new(c.make()));
        }
    })
    .join()
    .unwrap();
    // A concurrent test's rcu_barrier or the drain timer may seal the block
    // first; either way the exiting thread must not strand it.
    let s = F::stats().kvfree_blocks_sealed;
    assert!(s.thread_exit + s.barrier + s.timer > before, "nothing sealed the exiting thread's block");
    F::rcu_barrier();
    assert_eq!(counter.dropped(), 10, "objects of an exited thread were stranded");
}

/// An idle (alive, blocked) thread's partial block is collected by
/// rcu_barrier. Set a long drain interval first so the timer cannot do it.
pub fn barrier_collects_partial_blocks_of_idle_threads<F: RcuFlavour>() {
    let counter = Arc::new(DropCounter::default());
    let (filled_tx, filled_rx) = mpsc::channel();
    let (finish_tx, finish_rx) = mpsc::channel::<()>();
    let c = counter.clone();
    let idle = std::thread::spawn(move || {
        for _ in 0..10 {
            F::kvfree_rcu(Box::new(c.make()));
        }
        filled_tx.send(()).unwrap();
        finish_rx.recv().unwrap(); // alive and idle until told
    });
    filled_rx.recv().unwrap();
    let before = F::stats().kvfree_blocks_sealed.barrier;
    F::rcu_barrier();
    assert_eq!(counter.dropped(), 10, "rcu_barrier left an idle thread's objects");
    assert!(F::stats().kvfree_blocks_sealed.barrier > before);
    finish_tx.send(()).unwrap();
    idle.join().unwrap();
}

/// Emergency branch 1: no block can be had and the caller may block:
/// kvfree_rcu waits for a grace period and drops the object before it
/// returns.
pub fn no_block_and_may_block_synchronizes_then_frees_inline<F: RcuFlavour>() {
    std::thread::spawn(|| {
        let counter = Arc::new(DropCounter::default());
        F::kvfree_rcu(Box::new(counter.make())); // slot, reserve and a block exist
        set_alloc_failure(AllocFailure::Blocks);
        let before = F::stats().kvfree_emergency_synchronize;
        // Fill the open block; the next object finds no block.
        let mut sent = 1;
        while F::stats().kvfree_emergency_synchronize == before {
            F::kvfree_rcu(Box::new(counter.make()));
            sent += 1;
            assert!(sent < 100_000, "the emergency path was never taken");
        }
        set_alloc_failure(AllocFailure::None);
        let dropped_inline = counter.dropped();
        assert!(dropped_inline >= 1, "the object was not freed inline");
        F::rcu_barrier();
        assert_eq!(counter.dropped(), sent, "leak on the emergency path");
    })
    .join()
    .unwrap();
}

/// Emergency branch 2: no block and the caller may not block (inside a
/// read-side section / online): the thread's reserve takes the object; it
/// is not freed before the section ends, and is freed after a grace period.
pub fn no_block_inside_a_read_section_uses_the_reserve<F: RcuFlavour>() {
    std::thread::spawn(move || {
        let counter = Arc::new(DropCounter::default());
        let before = F::stats().kvfree_emergency_reserve;
        let mut sent = 0;
        in_read_section::<F>(&mut || {
            F::kvfree_rcu(Box::new(counter.make()));
            sent += 1;
            set_alloc_failure(AllocFailure::Blocks);
            while F::stats().kvfree_emergency_reserve == before {
                F::kvfree_rcu(Box::new(counter.make()));
                sent += 1;
                assert!(sent < 100_000, "the reserve was never used");
            }
            set_alloc_failure(AllocFailure::None);
            // Still inside the section: nothing handed to kvfree since it
            // began may have been freed.
            assert_eq!(counter.dropped(), 0, "freed inside the read-side section that could see it");
        });
        // The first kvfree that may block again hands the reserve back
        // (unless a concurrent rcu_barrier collected it first); after a grace
        // period it is this thread's reserve again, for the next emergency.
        F::kvfree_rcu(Box::new(counter.make()));
        sent += 1;
        F::rcu_barrier();
        assert_eq!(counter.dropped(), sent, "leak on the reserve path");
        let used = F::stats().kvfree_emergency_reserve;
        in_read_section::<F>(&mut || {
            set_alloc_failure(AllocFailure::Blocks);
            while F::stats().kvfree_emergency_reserve == used {
                F::kvfree_rcu(Box::new(counter.make()));
                sent += 1;
                assert!(sent < 200_000, "the returned reserve was never used again");
            }
            set_alloc_failure(AllocFailure::None);
        });
        F::rcu_barrier();
    })
    .join()
    .unwrap();
}

/// Emergency branch 3: no block, may not block, reserve exhausted: the
/// process aborts with a message. Runs the scenario in a forked child and
/// checks it died of SIGABRT after printing the message.
pub fn reserve_exhausted_aborts_with_a_message<F: RcuFlavour>() {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid two-element array for pipe(2).
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the child only runs the scenario and then dies or _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // SAFETY: redirect stderr to the pipe's write end in the child.
        unsafe { libc::dup2(fds[1], 2) };
        in_read_section::<F>(&mut || {
            set_alloc_failure(AllocFailure::BlocksAndReserve);
            for _ in 0..100_000 {
                F::kvfree_rcu(Box::new(0u64));
            }
        });
        // SAFETY: leave the child without running the harness's handlers.
        unsafe { libc::_exit(0) };
    }
    // SAFETY: close our copy of the write end so reading sees EOF.
    unsafe { libc::close(fds[1]) };
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: reading into a valid buffer from our pipe end.
        let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    let mut status = 0;
    // SAFETY: our own child; valid out-pointer.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    let stderr = String::from_utf8_lossy(&out);
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGABRT,
        "child did not abort: {status:#x} {stderr}"
    );
    assert!(stderr.contains("emergency reserve is exhausted"), "abort message missing: {stderr}");
}

/// Every object shape: `Box<T>`, `Box<[T]>`, `Box<dyn Trait>`, `Vec<T>`,
/// zero-sized types with a destructor; all dropped once after rcu_barrier.
pub fn every_object_shape_is_dropped_once<F: RcuFlavour>() {
    trait Shape: Send {
        fn id(&self) -> u32;
    }
    struct Square(#[allow(dead_code)] crate::callbacks::Counted);
    impl Shape for Square {
        fn id(&self) -> u32 {
            4
        }
    }
    struct Zst;
    static ZST_DROPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    impl Drop for Zst {
        fn drop(&mut self) {
            ZST_DROPS.fetch_add(1, Ordering::Relaxed);
        }
    }
    let counter = Arc::new(DropCounter::default());
    let zst_before = ZST_DROPS.load(Ordering::Relaxed);
    for _ in 0..100 {
        F::kvfree_rcu(Box::new(counter.make()));
        F::kvfree_rcu(vec![counter.make(), counter.make()].into_boxed_slice());
        let dynamic: Box<dyn Shape> = Box::new(Square(counter.make()));
        assert_eq!(dynamic.id(), 4);
        F::kvfree_rcu(dynamic);
        let mut v = Vec::with_capacity(8);
        v.push(counter.make());
        F::kvfree_rcu(v);
        F::kvfree_rcu(Box::new(Zst));
        F::kvfree_rcu(Vec::<Zst>::from([Zst, Zst]));
    }
    F::rcu_barrier();
    assert_eq!(counter.created(), 500);
    assert_eq!(counter.dropped(), 500);
    assert_eq!(ZST_DROPS.load(Ordering::Relaxed) - zst_before, 300);
}

/// A destructor that panics is reported and counted; the other objects in
/// its block are still dropped.
pub fn a_panicking_destructor_does_not_lose_the_others<F: RcuFlavour>() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("deliberate panic in a destructor run by kvfree_rcu (test)");
        }
    }
    let counter = Arc::new(DropCounter::default());
    let before = F::stats().kvfree_drop_panics;
    F::kvfree_rcu(Box::new(counter.make()));
    F::kvfree_rcu(Box::new(Bomb));
    F::kvfree_rcu(Box::new(counter.make()));
    F::rcu_barrier();
    assert_eq!(counter.dropped(), 2);
    assert_eq!(F::stats().kvfree_drop_panics - before, 1);
}

/// Freed blocks are cached per thread, at most
/// [`CACHED_BLOCKS_PER_THREAD`](rcu_core::kvfree::CACHED_BLOCKS_PER_THREAD)
/// each, and `reclaim_now`
/// drops the caches.
pub fn block_caches_are_bounded_and_dropped_on_demand<F: RcuFlavour>() {
    let done = Arc::new(AtomicBool::new(false));
    for _ in 0..20 {
        for _ in 0..600 {
            F::kvfree_rcu(Box::new(1u64));
        }
        F::rcu_barrier();
    }
    let s = F::stats();
    let threads = s.registered_threads.max(1) as u64 + 64; // slots of any thread of this process
    let cap = u64::from(rcu_core::kvfree::CACHED_BLOCKS_PER_THREAD);
    assert!(s.kvfree_cached_blocks <= cap * threads, "{} cached blocks", s.kvfree_cached_blocks);
    F::reclaim_now();
    assert_eq!(F::stats().kvfree_cached_blocks, 0);
    done.store(true, Ordering::Relaxed);
}

/// A cell value pointing at an arena element; dropping it marks the
/// element freed.
#[derive(Debug)]
pub struct Held {
    /// The element readers check.
    pub element: &'static Element,
    _token: Token,
}

impl Held {
    /// A value holding a fresh element of `arena`.
    pub fn new(arena: &'static Arena) -> Self {
        let (element, token) = arena.create();
        Held { element, _token: token }
    }
}

/// RcuCell::replace retires through kvfree_rcu: readers (two threads)
/// never see a value marked freed, nothing leaks, and replace
/// never waits (it is called here from a read-side section).
pub fn rcu_cell_replace_never_frees_early_and_never_leaks<F: RcuFlavour>() {
    const REPLACEMENTS: usize = 5_000;
    let arena = Arena::leak(REPLACEMENTS + 1);
    let (e, t) = arena.create();
    let cell: &'static rcu_core::RcuCell<Held, F> =
        Box::leak(Box::new(rcu_core::RcuCell::new(Held { element: e, _token: t })));
    let checks: &'static ReaderChecks = Box::leak(Box::default());
    let stop: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let readers: Vec<_> =
        (0..2).map(|_| std::thread::spawn(move || crate::reader::read_cell::<F>(cell, checks, stop, 1))).collect();
    in_read_section::<F>(&mut || {
        for _ in 0..REPLACEMENTS {
            let (e, t) = arena.create();
            cell.replace(Held { element: e, _token: t });
        }
    });
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    F::rcu_barrier();
    assert_eq!(checks.early_frees(), 0, "rcu_{}: readers reached {} freed cell values", F::NAME, checks.early_frees());
    assert_eq!(arena.dropped(), REPLACEMENTS as u64, "rcu_{}: leak", F::NAME);
}

/// Partial blocks do not wait forever: with a short drain interval the
/// timer seals one (a liveness bound, not a speed check); with a long one,
/// rcu_barrier collects an idle thread's. Changes the drain interval: run in
/// a process of its own.
pub fn partial_blocks_are_sealed_by_the_timer_and_by_rcu_barrier<F: RcuFlavour>() {
    F::set_kvfree_drain_interval(std::time::Duration::from_millis(5));
    let counter = Arc::new(DropCounter::default());
    let c = counter.clone();
    std::thread::spawn(move || {
        F::kvfree_rcu(Box::new(c.make()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while c.dropped() == 0 {
            assert!(std::time::Instant::now() < deadline, "the drain timer never sealed the block");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    })
    .join()
    .unwrap();
    assert!(F::stats().kvfree_blocks_sealed.timer >= 1);
    assert_eq!(counter.dropped(), 1);
    F::set_kvfree_drain_interval(std::time::Duration::from_secs(3600));
    barrier_collects_partial_blocks_of_idle_threads::<F>();
}
/// Owners pop cached blocks while another thread drops every cache
/// (`reclaim_now`) over and over: no block is used after it was freed (a
/// pop and a drop of the same cache must exclude each other) and no object
/// is lost.
pub fn cache_pops_race_with_reclaim_now<F: RcuFlavour>() {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let dropper = std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            F::reclaim_now();
        }
    });
    let counter = Arc::new(DropCounter::default());
    let owners: Vec<_> = (0..2)
        .map(|_| {
            let c = counter.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    for _ in 0..3 * 512 {
                        F::kvfree_rcu(Box::new(c.make()));
                    }
                    F::synchronize_rcu();
                }
            })
        })
        .collect();
    owners.into_iter().for_each(|o| o.join().unwrap());
    stop.store(true, Ordering::Relaxed);
    dropper.join().unwrap();
    F::rcu_barrier();
    assert_eq!(counter.dropped(), 2 * 50 * 3 * 512, "rcu_{}: objects lost or dropped twice", F::NAME);
}

/// A `kvfree_rcu` flood from threads that may block is held near
/// the kvfree limit (`ReclaimPacing::kvfree_backlog_hard`, default
/// `KVFREE_BACKLOG_HARD`) of objects waiting for reclaim (not the 200,000 of the
/// whole backlog's default hard limit). Reads process-wide statistics: run
/// it in a process of its own.
pub fn a_kvfree_flood_is_held_to_the_kvfree_limit<F: RcuFlavour>() {
    let limit = F::reclaim_pacing().kvfree_backlog_hard;
    let counter = Arc::new(DropCounter::default());
    let threads = 2u64;
    let per_thread = 200_000;
    let producers: Vec<_> = (0..threads)
        .map(|_| {
            let counter = counter.clone();
            std::thread::spawn(move || {
                for _ in 0..per_thread {
                    F::kvfree_rcu(Box::new(counter.make()));
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    F::rcu_barrier();
    assert_eq!(counter.dropped(), threads * per_thread, "rcu_{}: leak after rcu_barrier", F::NAME);
    let peak = F::stats().peak_callback_backlog;
    // A producer checks when it seals a block, so each may add one more
    // block (about 500 thin boxes) before it waits.
    let slack = threads * 1024;
    assert!(
        peak <= limit + slack,
        "rcu_{}: the kvfree backlog peaked at {peak} objects with a limit of {limit}",
        F::NAME
    );
}

/// Large objects fill blocks by the bytes they hold: 64 KiB boxed slices
/// and vectors seal a block about every `BLOCK_HELD_BYTES` (15 of them, or
/// fewer with their run headers), not every few hundred objects. Reads
/// process-wide statistics: run it in a process of its own.
pub fn large_objects_fill_blocks_by_the_bytes_they_hold<F: RcuFlavour>() {
    use rcu_core::kvfree::BLOCK_HELD_BYTES;
    const OBJECT_BYTES: usize = 64 << 10;
    let per_block = BLOCK_HELD_BYTES / OBJECT_BYTES;
    let objects = 8 * per_block;
    let counter = Arc::new(DropCounter::default());
    // No partial block may be drained while the producer fills it.
    F::set_kvfree_drain_interval(std::time::Duration::from_secs(3600));
    let full_before = F::stats().kvfree_blocks_sealed.full;
    let c = counter.clone();
    std::thread::spawn(move || {
        let elements = OBJECT_BYTES / std::mem::size_of::<crate::callbacks::Counted>();
        for i in 0..objects {
            let v: Vec<_> = (0..elements).map(|_| c.make()).collect();
            assert_eq!(v.capacity() * std::mem::size_of_val(&v[0]), OBJECT_BYTES);
            if i % 2 == 0 {
                F::kvfree_rcu(v.into_boxed_slice());
            } else {
                F::kvfree_rcu(v);
            }
        }
    })
    .join()
    .unwrap();
    F::rcu_barrier();
    assert_eq!(counter.dropped(), counter.created(), "rcu_{}: leak after rcu_barrier", F::NAME);
    let full = F::stats().kvfree_blocks_sealed.full - full_before;
    // Each full block holds `per_block` objects; the last one goes out
    // at thread exit instead.
    assert!(
        full >= (objects / per_block - 1) as u64,
        "rcu_{}: {objects} objects of {OBJECT_BYTES} bytes sealed only {full} full blocks \
         (expected one per {per_block})",
        F::NAME
    );
}

/// Where a destructor run by kvfree_rcu ran: on the thread that retired
/// the object, or elsewhere (counted per test).
#[derive(Default, Debug)]
pub struct WhereDropped {
    on_retirer: std::sync::atomic::AtomicU64,
    elsewhere: std::sync::atomic::AtomicU64,
}

impl WhereDropped {
    /// Drops counted on the retiring thread.
    pub fn on_retirer(&self) -> u64 {
        // Acquire pairs with the Release increments in the drops.
        self.on_retirer.load(Ordering::Acquire)
    }
    /// Drops counted elsewhere (the reclaim thread).
    pub fn elsewhere(&self) -> u64 {
        // Acquire: as in `on_retirer`.
        self.elsewhere.load(Ordering::Acquire)
    }
    /// All drops counted.
    pub fn total(&self) -> u64 {
        self.on_retirer() + self.elsewhere()
    }
}

/// An object that notes whether it is dropped on the thread that made it.
struct NotesWhere {
    retirer: std::thread::ThreadId,
    tally: &'static WhereDropped,
}

impl Drop for NotesWhere {
    fn drop(&mut self) {
        let c =
            if std::thread::current().id() == self.retirer { &self.tally.on_retirer } else { &self.tally.elsewhere };
        // Release pairs with the Acquire loads of the tally.
        c.fetch_add(1, Ordering::Release);
    }
}

/// Retires `rounds` rounds of `per_round` objects on the calling thread;
/// after each, waits (a liveness bound of a minute, not a speed check)
/// until the reclaim thread has freed or handed back a block since the
/// round began, so that ready blocks exist when the next round seals.
fn retire_in_rounds<F: RcuFlavour>(tally: &'static WhereDropped, rounds: usize, per_round: usize) {
    let me = std::thread::current().id();
    for _ in 0..rounds {
        let freed = F::stats().kvfree_blocks_freed;
        for _ in 0..per_round {
            let before = tally.on_retirer();
            F::kvfree_rcu(Box::new(NotesWhere { retirer: me, tally }));
            // The inline work of one call is bounded: a few drops, never a
            // whole block.
            let dropped = tally.on_retirer() - before;
            assert!(
                dropped <= OWN_FREE_PER_CALL as u64,
                "rcu_{}: one kvfree_rcu call dropped {dropped} objects (at most {OWN_FREE_PER_CALL})",
                F::NAME
            );
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while F::stats().kvfree_blocks_freed == freed {
            assert!(std::time::Instant::now() < deadline, "rcu_{}: no sealed block freed in a minute", F::NAME);
            std::thread::yield_now();
        }
    }
}

/// Producer-side frees (the default): a thread that keeps retiring frees
/// its own ready blocks, never before their grace period (readers of the
/// side table run meanwhile), and rcu_barrier still waits for every drop.
pub fn producers_free_their_own_ready_blocks<F: RcuFlavour>() {
    let tally: &'static WhereDropped = Box::leak(Box::default());
    let by_owner = F::stats().kvfree_objects_freed_by_owner;
    retire_in_rounds::<F>(tally, 8, 1_200);
    F::rcu_barrier();
    assert_eq!(tally.total(), 8 * 1_200, "rcu_{}: rcu_barrier returned before every drop", F::NAME);
    assert!(tally.on_retirer() > 0, "rcu_{}: no ready block was freed by the thread that retired it", F::NAME);
    assert_eq!(F::stats().kvfree_objects_freed_by_owner - by_owner, tally.on_retirer());
    // The same path against readers checking the side table (every free,
    // the owner's too, also asserts its block's grace period in debug
    // builds).
    crate::scenario::replace_while_reading_from::<F>(2, 2, crate::scenario::RetirePath::KvfreeBox, 20_000);
}

/// `set_kvfree_drop_on_caller(false)`: no destructor runs on the retiring
/// thread. Changes a setting of the flavour: run in a process of its own.
pub fn drop_on_caller_off_keeps_destructors_on_the_reclaim_thread<F: RcuFlavour>() {
    F::set_kvfree_drop_on_caller(false);
    let tally: &'static WhereDropped = Box::leak(Box::default());
    let by_owner = F::stats().kvfree_objects_freed_by_owner;
    retire_in_rounds::<F>(tally, 8, 1_200);
    F::rcu_barrier();
    assert_eq!(tally.total(), 8 * 1_200);
    assert_eq!(tally.on_retirer(), 0, "rcu_{}: a destructor ran on the retiring thread with the switch off", F::NAME);
    assert_eq!(F::stats().kvfree_objects_freed_by_owner, by_owner);
    F::set_kvfree_drop_on_caller(true);
}

/// Ready blocks handed back to a thread that then goes idle, or exits, are
/// freed without it and without rcu_barrier (the drain timer takes them
/// back; a liveness bound of a minute, not a speed check).
pub fn ready_blocks_of_idle_and_exited_owners_are_freed_without_them<F: RcuFlavour>() {
    for exits in [false, true] {
        let tally: &'static WhereDropped = Box::leak(Box::default());
        let (filled_tx, filled_rx) = mpsc::channel();
        let (finish_tx, finish_rx) = mpsc::channel::<()>();
        let mut owner = Some(std::thread::spawn(move || {
            retire_in_rounds::<F>(tally, 4, 1_200);
            filled_tx.send(()).unwrap();
            if !exits {
                finish_rx.recv().unwrap(); // alive and idle until told
            }
        }));
        filled_rx.recv().unwrap();
        if exits {
            owner.take().unwrap().join().unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while tally.total() < 4 * 1_200 {
            assert!(
                std::time::Instant::now() < deadline,
                "rcu_{}: {} of {} objects of an {} owner freed after a minute",
                F::NAME,
                tally.total(),
                4 * 1_200,
                if exits { "exited" } else { "idle" }
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let _ = finish_tx.send(());
        if let Some(owner) = owner {
            owner.join().unwrap();
        }
    }
}

/// rcu_barrier called from a destructor that its owner runs would wait for
/// itself: it panics with a message naming the fix (the panic is caught and
/// counted like any destructor's), instead of deadlocking.
pub fn barrier_inside_an_owner_run_destructor_panics<F: RcuFlavour>() {
    struct CallsBarrier<F: RcuFlavour>(&'static WhereDropped, std::thread::ThreadId, std::marker::PhantomData<F>);
    impl<F: RcuFlavour> Drop for CallsBarrier<F> {
        fn drop(&mut self) {
            if std::thread::current().id() == self.1 {
                let barrier = std::panic::catch_unwind(F::rcu_barrier);
                assert!(barrier.is_err(), "rcu_barrier() inside an owner-run destructor returned");
            }
            // Release pairs with the Acquire loads of the tally.
            self.0.on_retirer.fetch_add(u64::from(std::thread::current().id() == self.1), Ordering::Release);
            self.0.elsewhere.fetch_add(u64::from(std::thread::current().id() != self.1), Ordering::Release);
        }
    }
    let tally: &'static WhereDropped = Box::leak(Box::default());
    let me = std::thread::current().id();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while tally.on_retirer() == 0 {
        assert!(std::time::Instant::now() < deadline, "rcu_{}: no destructor ran on its owner", F::NAME);
        let freed = F::stats().kvfree_blocks_freed;
        for _ in 0..1_200 {
            F::kvfree_rcu(Box::new(CallsBarrier::<F>(tally, me, std::marker::PhantomData)));
        }
        while F::stats().kvfree_blocks_freed == freed {
            std::thread::yield_now();
        }
    }
    F::rcu_barrier();
}
