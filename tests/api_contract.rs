//! docs/API.md, checked by the compiler: every item of the contract named
//! with its signature, for both flavours through the facade. A rename or a
//! narrowed signature fails to compile here.

use rcu_core::{CallbackFn, GpState, RcuFlavour, RcuFree, RcuHead};
use std::ptr::NonNull;
use std::time::Duration;

/// The free functions both flavours export (`define_flavour_api!`).
macro_rules! both_flavours {
    ($f:ident, $flavour:ty) => {{
        use rcu::$f as fl;
        let _: fn() = fl::synchronize_rcu;
        let _: fn(fn()) = fl::call_rcu::<fn()>;
        let _: unsafe fn(NonNull<RcuHead>, CallbackFn) = fl::call_rcu_raw;
        let _: fn(Box<[u8]>) = fl::kvfree_rcu::<Box<[u8]>>;
        let _: fn(Box<dyn Send>) = fl::kvfree_rcu::<Box<dyn Send>>;
        let _: fn(Vec<u8>) = fl::kvfree_rcu_vec::<u8>;
        let _: fn() = fl::rcu_barrier;
        awaitable(fl::synchronize_rcu_async);
        awaitable(fl::rcu_barrier_async);
        let _: fn() -> GpState = fl::start_poll_synchronize_rcu;
        let _: fn() -> GpState = fl::get_state_synchronize_rcu;
        let _: fn(GpState) -> bool = fl::poll_state_synchronize_rcu;
        let _: fn(GpState) = fl::cond_synchronize_rcu;
        let _: fn() -> fl::Stats = fl::stats;
        let _: fn() -> String = fl::state_report;
        let _: fn() -> fl::CallbackLimits = fl::callback_limits;
        let _: fn(fl::CallbackLimits) = fl::set_callback_limits;
        let _: fn() -> fl::ReclaimPacing = fl::reclaim_pacing;
        let _: fn(fl::ReclaimPacing) = fl::set_reclaim_pacing;
        let _: fn(Duration) = fl::set_kvfree_drain_interval;
        let _: fn(bool) = fl::set_kvfree_drop_on_caller;
        let _: fn() -> usize = fl::reclaim_now;
        let _: fn() -> Option<Duration> = fl::stall_timeout;
        let _: fn(Option<Duration>) = fl::set_stall_timeout;
        let _: fn(u64) -> fl::RcuCell<u64> = fl::RcuCell::new;
        let _: fn(Box<u64>) -> fl::RcuCell<u64> = fl::RcuCell::from_box;
        let _: fn(&fl::RcuCell<u64>, u64) = fl::RcuCell::replace;
        let _: fn(&fl::RcuCell<u64>, Box<u64>) = fl::RcuCell::replace_box;
        let _: fn(&fl::RcuCell<u64>, u64) -> fl::Retired<u64> = fl::RcuCell::swap;
        let _: fn(&fl::RcuCell<u64>, &u64, u64) -> Result<(), u64> = fl::RcuCell::compare_exchange;
        let _: fn(fl::RcuCell<u64>) -> u64 = fl::RcuCell::into_inner;
        let _: fn(fl::Retired<u64>) -> Box<u64> = fl::Retired::into_inner_after_grace_period;
        let _: fn(Option<u64>) -> fl::RcuOption<u64> = fl::RcuOption::new;
        let _: fn(&fl::RcuOption<u64>, Option<u64>) = fl::RcuOption::store;
        let _: fn(&fl::RcuOption<u64>) -> Option<fl::Retired<u64>> = fl::RcuOption::take;
        let _: fn(&fl::RcuOption<u64>) -> bool = fl::RcuOption::is_none;
        assert!(fl::poll_state_synchronize_rcu(GpState::COMPLETED));
        generic::<$flavour>();
    }};
}

/// A function returning an executor-agnostic future of `()` that may move
/// between threads and outlive the caller's borrows.
fn awaitable<Fut: std::future::Future<Output = ()> + Send + 'static>(_: fn() -> Fut) {}

/// `RcuFlavour`'s associated items, as generic code names them.
fn generic<F: RcuFlavour>() {
    let _: fn() -> F::Thread = F::register_thread;
    let _: fn(F::Thread) = F::unregister_thread;
    let _: for<'t> fn(&'t F::Thread) -> F::Guard<'t> = F::read_lock;
    let _: fn(&mut F::Thread) = F::quiescent_state;
    type Blocking = fn() -> u8;
    let _: fn(&mut F::Thread, Blocking) -> u8 = F::offline_scope::<u8>;
    let _: fn() = F::synchronize_rcu;
    let _: fn() -> GpState = F::start_poll_synchronize_rcu;
    let _: fn(GpState) -> bool = F::poll_state_synchronize_rcu;
    let _: fn(fn()) = F::call_rcu::<fn()>;
    let _: fn(Box<u8>) = F::kvfree_rcu::<Box<u8>>;
    let _: fn() = F::rcu_barrier;
    awaitable(F::synchronize_rcu_async);
    awaitable(F::rcu_barrier_async);
    let _ = F::NEEDS_QUIESCENT_STATES;
    fn free<P: RcuFree>(_: P) {}
    free(Vec::<u8>::new());
}

#[test]
fn both_flavours_have_the_shared_api() {
    both_flavours!(memb, rcu::memb::Memb);
    both_flavours!(qsbr, rcu::qsbr::Qsbr);
    both_flavours!(srcu, rcu::srcu::Srcu);
}

#[test]
fn srcu_read_side() {
    use rcu::srcu;
    fn send_sync_static<T: Send + Sync + 'static>() {}
    let _: fn() -> srcu::ReadGuard = srcu::read_lock;
    let _: fn() -> bool = srcu::in_read_section;
    send_sync_static::<srcu::ReadGuard>();
    send_sync_static::<srcu::DomainGuard>();
    static DOMAIN: srcu::Domain = srcu::Domain::new();
    static NAMED: srcu::Domain = srcu::Domain::named("contract");
    drop(NAMED.read_lock());
    let _: fn(&'static srcu::Domain) -> srcu::DomainGuard = srcu::Domain::read_lock;
    let _: fn(&'static srcu::Domain) = srcu::Domain::synchronize_rcu;
    // `synchronize_rcu` takes any `&Domain`, static or not.
    let _: for<'a> fn(&'a srcu::Domain) = srcu::Domain::synchronize_rcu;
    srcu::Domain::new().synchronize_rcu();
    let _: fn(&'static srcu::Domain) = srcu::Domain::rcu_barrier;
    let _: fn(&'static srcu::Domain, fn()) = srcu::Domain::call_rcu::<fn()>;
    let _: fn(&'static srcu::Domain, Box<u8>) = srcu::Domain::kvfree_rcu::<Box<u8>>;
    awaitable_on(&DOMAIN, srcu::Domain::synchronize_rcu_async);
    awaitable_on(&DOMAIN, srcu::Domain::rcu_barrier_async);
    drop(DOMAIN.read_lock());
    DOMAIN.synchronize_rcu();
    let cell = srcu::RcuCell::new(1u64);
    let guard = srcu::read_lock();
    assert_eq!(*cell.load(&guard), 1);
}

#[test]
fn memb_read_side() {
    use rcu::memb;
    let _: fn() -> memb::ReadGuard = memb::read_lock;
    let _: fn() = memb::register_thread;
    let _: fn() = memb::unregister_thread;
    let _: fn() -> bool = memb::in_read_section;
    let cell = memb::RcuCell::new(1u64);
    let guard = memb::read_lock();
    let value: &u64 = cell.load(&guard);
    assert_eq!(*value, 1);
    assert_eq!(*cell.update(&guard, |v| v + 1), 1);
}

#[test]
fn qsbr_read_side() {
    use rcu::qsbr::{self, QsbrThread};
    let _: fn() -> QsbrThread = qsbr::register_thread;
    let _: for<'t> fn(&'t QsbrThread) -> qsbr::ReadGuard<'t> = QsbrThread::read_lock;
    let _: fn(&mut QsbrThread) = QsbrThread::quiescent_state;
    let _: fn(&mut QsbrThread) = QsbrThread::offline;
    let _: fn(&mut QsbrThread) = QsbrThread::online;
    let _: fn(&QsbrThread) -> bool = QsbrThread::is_online;
    let _: fn(&mut QsbrThread) = QsbrThread::synchronize_rcu;
    let mut thread = qsbr::register_thread();
    let cell = qsbr::RcuCell::new(1u64);
    assert_eq!(*cell.load(&thread.read_lock()), 1);
    thread.offline_scope(|| cell.replace(2));
    thread.quiescent_state();
}

/// `f` returns a `Send + 'static` future for a `'static` domain.
fn awaitable_on<D: 'static, Fut: std::future::Future<Output = ()> + Send + 'static>(
    d: &'static D,
    f: fn(&'static D) -> Fut,
) {
    drop(f(d));
}

#[test]
fn rayon_pools() {
    let _ = rcu_rayon::memb::pool_builder;
    let _ = rcu_rayon::qsbr::pool_builder;
    let _ = rcu::rayon::memb::pool_builder;
    let _ = rcu::rayon::qsbr::pool_builder;
    assert_eq!(rcu::rayon::memb::read(|_guard: &rcu::memb::ReadGuard| 1), 1);
}

#[test]
fn tokio_runtimes() {
    let _: fn() -> tokio::runtime::Builder = rcu_tokio::memb::runtime_builder_multi_thread;
    let _: fn() -> tokio::runtime::Builder = rcu_tokio::memb::runtime_builder_current_thread;
    let _: fn() -> tokio::runtime::Builder = rcu_tokio::qsbr::runtime_builder_multi_thread;
    let _: fn() -> tokio::runtime::Builder = rcu_tokio::qsbr::runtime_builder_current_thread;
    let _: fn() -> tokio::runtime::Builder = rcu_tokio::qsbr::runtime_builder_multi_thread_online_until_park;
    assert_eq!(rcu_tokio::memb::read(|_guard: &rcu_memb::ReadGuard| 1), 1);
    std::thread::spawn(|| assert_eq!(rcu_tokio::qsbr::read(|_guard: &rcu_qsbr::ReadGuard<'_>| 1), 1)).join().unwrap();
    let _: fn() -> tokio::runtime::Builder = rcu::tokio::memb::runtime_builder_multi_thread;
    let _: fn() -> tokio::runtime::Builder = rcu::tokio::qsbr::runtime_builder_multi_thread;
    let _: fn() -> tokio::runtime::Builder = rcu::tokio::qsbr::runtime_builder_multi_thread_online_until_park;
}

#[test]
fn stall_timeout_environment_name() {
    assert_eq!(rcu_core::STALL_TIMEOUT_ENV, "RCU_STALL_TIMEOUT");
}
