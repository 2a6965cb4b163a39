//! The public functions both flavour crates export, written once.
//!
//! `define_flavour_api!` expands, inside a flavour crate, to the free
//! functions (docs/API.md) that behave the same in every flavour
//! (polling, call_rcu, rcu_barrier, stats...), each a one-line forward to
//! the flavour's [`Engine`](crate::Engine), with docs and doc tests naming
//! the flavour crate. What differs (the read side, `synchronize_rcu`'s
//! misuse rules) stays in the flavour crate.

/// Defines the flavour-independent public API in a flavour crate.
///
/// `define_flavour_api!(Flavour, ENGINE, "crate_name", "setup line for doc tests")`
#[macro_export]
macro_rules! define_flavour_api {
    ($flavour:ty, $engine:ident, $krate:literal, $reader_setup:literal) => {
        pub use $crate::{
            set_stall_timeout, stall_timeout, BarrierStrategy, BlocksSealed, CallbackFn, CallbackLimits, GpState, RcuFlavour,
            RcuFree, RcuHead, ReclaimPacing, Stats,
        };

        /// An RCU-protected owning pointer to a `T`, of this flavour.
        ///
        /// Readers call `load(&guard)` under a read-side guard of this
        /// flavour and get a `&T` that stays valid while the guard lives,
        /// whatever writers do meanwhile. Writers never wait for a grace
        /// period: `replace`, `update` (compare-and-swap, retried),
        /// `compare_exchange` and `swap` publish the new value at once; the
        /// old one is dropped only after a grace period (every read-side
        /// section that could still see it has ended), through
        /// [`kvfree_rcu`], except that `swap` hands it back as a
        /// [`Retired`]. [`rcu_barrier`] waits until the old values retired
        /// so far have been dropped. An old value's `Drop` may run on the
        /// retiring thread, at one of its later retirements, or on the
        /// reclaim thread ([`kvfree_rcu`], "Where `Drop` runs";
        /// [`set_kvfree_drop_on_caller`]).
        #[doc = concat!("```\nuse ", $krate, "::RcuCell;\n", $reader_setup, "\nlet cell = RcuCell::new(String::from(\"v1\"));\ncell.replace(String::from(\"v2\")); // \"v1\" is dropped after a grace period\n", $krate, "::rcu_barrier(); // ... by now\n```")]
        pub type RcuCell<T> = $crate::RcuCell<T, $flavour>;

        /// An RCU-protected owning pointer that may be empty: an
        /// [`RcuCell`] of `Option<T>` with `store` and `take`; removed
        /// values are dropped after a grace period, as `RcuCell`'s (on the
        /// retiring thread or the reclaim thread, see [`kvfree_rcu`]).
        pub type RcuOption<T> = $crate::RcuOption<T, $flavour>;

        /// A value unpublished from a cell (by `swap` or `take`) but not
        /// yet freed: readable; dropping it retires the value through
        /// [`kvfree_rcu`] (dropped after a grace period, on this thread or
        /// the reclaim thread), and
        /// `into_inner_after_grace_period` waits for one and gives it back.
        pub type Retired<T> = $crate::Retired<T, $flavour>;

        /// Starts a grace period if needed and returns a cookie for it. Never blocks.
        #[doc = concat!("```\nlet cookie = ", $krate, "::start_poll_synchronize_rcu();\n", $krate, "::cond_synchronize_rcu(cookie); // waits only if not yet complete\nassert!(", $krate, "::poll_state_synchronize_rcu(cookie));\n```")]
        pub fn start_poll_synchronize_rcu() -> GpState {
            $engine.start_poll()
        }

        /// A cookie for the grace period that would cover readers active now,
        /// without starting one (a later `synchronize_rcu`, polled request or
        /// callback batch completes it). Never blocks.
        #[doc = concat!("```\nlet cookie = ", $krate, "::get_state_synchronize_rcu();\n", $krate, "::start_poll_synchronize_rcu();\n", $krate, "::cond_synchronize_rcu(cookie);\nassert!(", $krate, "::poll_state_synchronize_rcu(cookie));\n```")]
        pub fn get_state_synchronize_rcu() -> GpState {
            $engine.sequence().snapshot()
        }

        /// Whether the grace period for `cookie` has completed. One load; never blocks.
        #[doc = concat!("```\nassert!(", $krate, "::poll_state_synchronize_rcu(", $krate, "::GpState::COMPLETED));\n```")]
        #[inline]
        pub fn poll_state_synchronize_rcu(cookie: GpState) -> bool {
            $engine.poll(cookie)
        }

        /// Waits for `cookie`'s grace period unless it has completed.
        ///
        /// # Panics
        ///
        /// If it must wait where the calling thread may not block (inside a
        /// read-side section, or an online QSBR thread).
        #[doc = concat!("```\nlet cookie = ", $krate, "::start_poll_synchronize_rcu();\n", $krate, "::cond_synchronize_rcu(cookie);\nassert!(", $krate, "::poll_state_synchronize_rcu(cookie));\n```")]
        #[track_caller]
        pub fn cond_synchronize_rcu(cookie: GpState) {
            $engine.cond_synchronize(cookie);
        }

        /// Runs `callback` on this flavour's reclaim thread after a grace
        /// period. Callable from any thread, registered or not, inside a
        /// read-side section or not. A closure capturing up to five words
        /// reuses a recycled slot (usually no allocation), a larger one is
        /// boxed (one allocation); never waits for a grace period, except that past the hard backlog limit
        /// ([`set_callback_limits`]) a caller that may block waits for
        /// reclaim to catch up. A panicking callback is reported and counted
        /// ([`Stats::callback_panics`]); the others still run.
        #[doc = concat!("```\nuse std::sync::atomic::{AtomicBool, Ordering};\nuse std::sync::Arc;\nlet ran = Arc::new(AtomicBool::new(false));\nlet r = ran.clone();\n", $krate, "::call_rcu(move || r.store(true, Ordering::SeqCst));\n", $krate, "::rcu_barrier();\nassert!(ran.load(Ordering::SeqCst));\n```")]
        #[inline]
        #[track_caller]
        pub fn call_rcu<C: FnOnce() + Send + 'static>(callback: C) {
            $engine.call_rcu(callback);
        }

        /// Runs `func(head)` on the reclaim thread after a grace period, with
        /// `head` embedded in the caller's object: no allocation.
        ///
        /// # Safety
        ///
        /// `head` must be valid, not already queued, and stay in place (not
        /// moved, freed or reused) until `func` runs; `func(head)` must be
        /// sound to run on another thread (what it touches must be `Send`).
        #[doc = concat!("```\nuse std::ptr::NonNull;\nuse ", $krate, "::RcuHead;\n#[repr(C)]\nstruct Node { head: RcuHead, value: u64 }\nunsafe fn free_node(head: NonNull<RcuHead>) {\n    // SAFETY: `head` is the first field of a leaked Box<Node>.\n    drop(unsafe { Box::from_raw(head.cast::<Node>().as_ptr()) });\n}\nlet node = Box::leak(Box::new(Node { head: RcuHead::new(), value: 7 }));\nassert_eq!(node.value, 7);\n// SAFETY: the node stays leaked until free_node reclaims it.\nunsafe { ", $krate, "::call_rcu_raw(NonNull::from(&node.head), free_node) };\n", $krate, "::rcu_barrier();\n```")]
        #[inline]
        pub unsafe fn call_rcu_raw(head: ::std::ptr::NonNull<RcuHead>, func: CallbackFn) {
            // SAFETY: forwarded contract.
            unsafe { $engine.call_rcu_raw(head, func) }
        }

        /// Returns once everything this flavour was asked, before the call and
        /// by any thread, to free or run after a grace period has been freed
        /// or run:
        ///
        /// * callbacks queued with [`call_rcu`] and [`call_rcu_raw`];
        /// * objects passed to [`kvfree_rcu`] (it seals every thread's
        ///   partial block, so nothing waits for a block to fill);
        /// * old values retired by an [`RcuCell`] or [`RcuOption`]
        ///   (`replace`, `replace_box`, `update`, `compare_exchange`,
        ///   `store`, `take`, and a [`Retired`] dropped before the call):
        ///   they go through `kvfree_rcu`.
        ///
        /// It does not wait for a `Retired` still held (its value is
        /// retired when it drops), for work queued after the call started
        /// (a callback that queues another while the barrier runs: call
        /// `rcu_barrier` again to drain chains), or for readers beyond the
        /// grace periods the work above needs. Needs no allocation. May
        /// block.
        ///
        /// # Panics
        ///
        /// Where the calling thread may not block (inside a read-side
        /// section, or an online QSBR thread), and from an RCU callback.
        #[doc = concat!("```\n", $krate, "::call_rcu(|| ());\n", $krate, "::rcu_barrier();\nassert_eq!(", $krate, "::stats().callback_backlog, 0);\n```")]
        #[track_caller]
        pub fn rcu_barrier() {
            $engine.barrier();
        }

        /// A future that completes after a grace period that starts after
        /// this call: every read-side section that began before the call
        /// has ended by then. Executor-agnostic: with no reader to wait
        /// for it is complete when made; otherwise the call runs the grace
        /// period itself if the readers it waits for leave within a short
        /// spin (no sleep), and else leaves it to the reclaim thread, which
        /// wakes the future's `Waker` (no thread waits per future). Never
        /// blocks, so calling and polling it is allowed anywhere, but it
        /// completes only when the grace period can: a guard held across
        /// the `.await` by this task, or an executor thread that stays an
        /// online QSBR reader without quiescent states, holds it up.
        /// Another task's guard on the same thread is fine: the future
        /// completes once that guard drops. Concurrent awaiters share grace
        /// periods; dropping it early is harmless.
        #[doc = concat!("```\nuse std::sync::Arc;\nuse std::task::{Context, Poll, Wake, Waker};\n/// A minimal `block_on`: any executor works the same way.\nstruct Unpark(std::thread::Thread);\nimpl Wake for Unpark {\n    fn wake(self: Arc<Self>) { self.0.unpark(); }\n}\nfn block_on<T>(f: impl std::future::Future<Output = T>) -> T {\n    let mut f = std::pin::pin!(f);\n    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));\n    loop {\n        if let Poll::Ready(v) = f.as_mut().poll(&mut Context::from_waker(&waker)) {\n            return v;\n        }\n        std::thread::park();\n    }\n}\nlet cookie = ", $krate, "::get_state_synchronize_rcu();\nblock_on(", $krate, "::synchronize_rcu_async());\nassert!(", $krate, "::poll_state_synchronize_rcu(cookie));\n```")]
        pub fn synchronize_rcu_async() -> impl ::std::future::Future<Output = ()> + Send + 'static {
            $engine.synchronize_async()
        }

        /// A future that completes after every callback and kvfree object
        /// queued before this call, by any thread, has run or been dropped
        /// (as [`rcu_barrier`], whose marker and rules it shares). Its
        /// marker is queued by the call itself, not by the first poll.
        /// Executor-agnostic; never blocks. Callable from an RCU callback
        /// (it cannot complete before that callback returns).
        #[doc = concat!("```\nuse std::future::Future;\nuse std::sync::atomic::{AtomicBool, Ordering};\nuse std::sync::Arc;\nuse std::task::{Context, Wake, Waker};\nstruct Unpark(std::thread::Thread);\nimpl Wake for Unpark {\n    fn wake(self: Arc<Self>) { self.0.unpark(); }\n}\nlet ran = Arc::new(AtomicBool::new(false));\nlet r = ran.clone();\n", $krate, "::call_rcu(move || r.store(true, Ordering::SeqCst));\nlet mut barrier = std::pin::pin!(", $krate, "::rcu_barrier_async());\nlet waker = Waker::from(Arc::new(Unpark(std::thread::current())));\nwhile barrier.as_mut().poll(&mut Context::from_waker(&waker)).is_pending() {\n    std::thread::park();\n}\nassert!(ran.load(Ordering::SeqCst));\n```")]
        pub fn rcu_barrier_async() -> impl ::std::future::Future<Output = ()> + Send + 'static {
            $engine.barrier_async()
        }

        /// Drops `object` (a `Box<T>`, also `Box<[T]>` and `Box<dyn Trait +
        /// Send>`, or a `Vec<T>`) after a grace period: headless, no
        /// `RcuHead` in it, no allocation per object. Objects go into the
        /// calling thread's bulk block (about a page: some 500 boxes, or
        /// about 1 MiB of the objects' own bytes,
        /// [`BLOCK_HELD_BYTES`](rcu_core::kvfree::BLOCK_HELD_BYTES), when
        /// they are large); a whole block waits for one grace period and is
        /// freed in one loop. Callable from any thread, inside a read-side
        /// section or not.
        ///
        /// Never blocks on the common path. If no block can be had (memory
        /// exhausted): a caller that may block waits for a grace period and
        /// drops inline; one that may not uses its thread's preallocated
        /// reserve; if that is exhausted too, the process aborts (as on any
        /// allocation failure). Past the hard backlog limit, or past 16,384
        /// kvfree objects waiting for reclaim
        /// ([`KVFREE_BACKLOG_HARD`](rcu_core::kvfree::KVFREE_BACKLOG_HARD)),
        /// a caller that may block waits for reclaim when it seals a block.
        ///
        /// **Where `Drop` runs.** After the grace period, on the calling
        /// thread (two objects at most per later `kvfree_rcu` call, once
        /// the reclaim thread has handed their block back) or on the
        /// flavour's reclaim thread. Freeing on the thread
        /// that allocated keeps the memory in that thread's allocator cache
        /// (crossbeam-epoch runs its deferred destructors on the thread
        /// that pins, too). A destructor that must not run on the caller
        /// (it takes a lock the caller may hold, it must not run inside
        /// the caller's read-side section, it calls `rcu_barrier`):
        /// [`set_kvfree_drop_on_caller`]`(false)` keeps every destructor on
        /// the reclaim thread. The same holds for the old values `RcuCell`
        /// and `RcuOption` retire.
        #[doc = concat!("```
let old_table: Box<[u64]> = vec![1, 2, 3].into_boxed_slice();
", $krate, "::kvfree_rcu(old_table);
", $krate, "::kvfree_rcu(vec![String::from(\"a vector, not reallocated\")]);
", $krate, "::rcu_barrier(); // waits until both were dropped
assert_eq!(", $krate, "::stats().kvfree_objects_freed, 2);
```")]
        #[inline]
        pub fn kvfree_rcu<P: RcuFree>(object: P) {
            $engine.kvfree(object);
        }

        /// [`kvfree_rcu`] for a `Vec<T>`: its buffer is freed after a grace
        /// period, without reallocation.
        #[doc = concat!("```
", $krate, "::kvfree_rcu_vec(vec![1u8; 4096]);
```")]
        #[inline]
        pub fn kvfree_rcu_vec<T: Send + 'static>(v: Vec<T>) {
            $engine.kvfree(v);
        }

        /// Sets how long a partial kvfree block may wait before it is sealed
        /// and handed to the reclaim thread (default 20 ms, the kernel's
        /// `KFREE_DRAIN_JIFFIES`): shorter costs more grace periods for
        /// sparse frees, longer holds memory longer.
        #[doc = concat!("```
", $krate, "::set_kvfree_drain_interval(std::time::Duration::from_millis(20));
```")]
        pub fn set_kvfree_drain_interval(interval: ::std::time::Duration) {
            $engine.set_kvfree_drain_interval(interval);
        }

        /// Whether a `Drop` run by [`kvfree_rcu`] (and for the old values
        /// `RcuCell`, `RcuOption` and `Retired` retire) may run on the
        /// thread that retired the object: `true` by default (ready blocks
        /// go back to the thread that filled them, which frees them at a
        /// later `kvfree_rcu` call, so memory returns to its allocator
        /// cache); `false` keeps every such destructor on the reclaim
        /// thread, as `call_rcu` callbacks always are. Blocks already
        /// handed back are still freed by their owners.
        #[doc = concat!("```
", $krate, "::set_kvfree_drop_on_caller(false); // destructors only on the reclaim thread
", $krate, "::kvfree_rcu(Box::new(1u64));
", $krate, "::rcu_barrier();
assert_eq!(", $krate, "::stats().kvfree_objects_freed_by_owner, 0);
", $krate, "::set_kvfree_drop_on_caller(true); // the default
```")]
        pub fn set_kvfree_drop_on_caller(on: bool) {
            $engine.set_kvfree_drop_on_caller(on);
        }

        /// Drops every cached empty kvfree block now (call under memory
        /// pressure; blocks are also not cached while the reclaim backlog is
        /// past the soft limit), and the spare slots of small `call_rcu`
        /// closures beyond a few thousand (kept for reuse after a flood).
        /// Returns how many kvfree blocks were freed.
        #[doc = concat!("```
let freed = ", $krate, "::reclaim_now();
assert_eq!(", $krate, "::stats().kvfree_cached_blocks, 0);
# let _ = freed;
```")]
        pub fn reclaim_now() -> usize {
            $engine.reclaim_now()
        }

        /// Sets the `call_rcu` backlog thresholds (see [`CallbackLimits`]).
        ///
        /// # Panics
        ///
        /// If `limits.soft > limits.hard`.
        #[doc = concat!("```\nlet old = ", $krate, "::callback_limits();\n", $krate, "::set_callback_limits(", $krate, "::CallbackLimits { soft: 1_000, hard: 50_000 });\n", $krate, "::set_callback_limits(old);\n```")]
        pub fn set_callback_limits(limits: CallbackLimits) {
            $engine.set_callback_limits(limits);
        }

        /// The `call_rcu` backlog thresholds in force.
        #[doc = concat!("```\nassert!(", $krate, "::callback_limits().soft <= ", $krate, "::callback_limits().hard);\n```")]
        pub fn callback_limits() -> CallbackLimits {
            $engine.callback_limits()
        }

        /// Sets how the reclaim thread paces its batches (see
        /// [`ReclaimPacing`]): e.g. liburcu's 10 ms between batches, with
        /// limits large enough that a stream does not cut the window short.
        #[doc = concat!("```\nlet old = ", $krate, "::reclaim_pacing();\n", $krate, "::set_reclaim_pacing(", $krate, "::ReclaimPacing { gather_window: std::time::Duration::from_millis(10), ..old });\n", $krate, "::set_reclaim_pacing(old);\n```")]
        pub fn set_reclaim_pacing(pacing: ReclaimPacing) {
            $engine.set_reclaim_pacing(pacing);
        }

        /// The reclaim pacing in force.
        #[doc = concat!("```\nassert_eq!(", $krate, "::reclaim_pacing(), ", $krate, "::ReclaimPacing::default());\n```")]
        pub fn reclaim_pacing() -> ReclaimPacing {
            $engine.reclaim_pacing()
        }

        /// Counters of this flavour.
        #[doc = concat!("```\n", $reader_setup, "\nlet s = ", $krate, "::stats();\nprintln!(\"{} grace periods, barrier strategy {:?}\", s.grace_periods, s.barrier_strategy);\n```")]
        pub fn stats() -> Stats {
            $engine.stats()
        }

        /// The grace-period state and every active reader (which thread holds
        /// a grace period up, and in which phase), for hang reports.
        #[doc = concat!("```\nassert!(", $krate, "::state_report().contains(\"grace periods completed\"));\n```")]
        pub fn state_report() -> String {
            $engine.state_report()
        }
    };
}
