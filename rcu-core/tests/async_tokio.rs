//! `synchronize_rcu_async` and `rcu_barrier_async` on tokio: a
//! multi-thread runtime with many tasks, and a current-thread runtime
//! where the awaiting task shares its thread with a task holding a read
//! guard across `.await` (the grace period is run by the reclaim thread,
//! so it ends when that guard drops, and the awaiting thread never blocks).
//! The tests share one process: they run one at a time (`SERIAL`), as
//! they compare statistics and waiter counts before and after.

use rcu_core::RcuFlavour;
use rcu_testkit::async_gp::HeldReader;
use rcu_testkit::callbacks::DropCounter;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().unwrap()
}

/// One task holds a memb guard across `yield_now` and a sleep; another on
/// the same thread awaits a grace period: it completes, after the guard
/// drops.
#[test]
fn memb_local_set_awaiter_completes_when_the_other_tasks_guard_drops() {
    let _s = serial();
    let rt = current_thread();
    let local = tokio::task::LocalSet::new();
    let inside = Rc::new(std::cell::Cell::new(false));
    let dropped = Rc::new(std::cell::Cell::new(false));
    local.block_on(&rt, async {
        let (i, d) = (inside.clone(), dropped.clone());
        let holder = tokio::task::spawn_local(async move {
            let guard = rcu_memb::read_lock();
            i.set(true);
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            d.set(true);
            drop(guard);
        });
        let (i, d) = (inside.clone(), dropped.clone());
        let awaiter = tokio::task::spawn_local(async move {
            while !i.get() {
                tokio::task::yield_now().await;
            }
            rcu_memb::synchronize_rcu_async().await;
            assert!(d.get(), "the grace period ended while the other task's guard was held");
        });
        awaiter.await.unwrap();
        holder.await.unwrap();
    });
    assert_eq!(<rcu_memb::Memb as rcu_core::Flavour>::engine().async_waiters(), 0);
}

/// Awaiting a grace period inside this task's own memb section cannot
/// complete (it waits for that section) but blocks nothing: a timeout
/// fires, and after the guard drops the next await completes.
#[test]
fn memb_await_inside_its_own_section_blocks_no_thread() {
    let _s = serial();
    let rt = multi_thread();
    rt.block_on(async {
        let guard = rcu_memb::read_lock();
        let waited = tokio::time::timeout(Duration::from_millis(100), rcu_memb::synchronize_rcu_async()).await;
        assert!(waited.is_err(), "a grace period ended inside a section that began before it");
        drop(guard);
        rcu_memb::synchronize_rcu_async().await;
    });
    assert_eq!(
        <rcu_memb::Memb as rcu_core::Flavour>::engine().async_waiters(),
        0,
        "the timed-out future left its waker"
    );
}

/// QSBR on a current-thread runtime whose thread is registered but
/// offline (an unregistered one is the same for grace periods): a task
/// awaits a grace period held up by a reader on another thread; it
/// completes after that reader leaves, and a task on the executor keeps
/// running meanwhile.
#[test]
fn qsbr_offline_executor_awaits_a_reader_elsewhere() {
    let _s = serial();
    let mut me = rcu_qsbr::register_thread();
    me.offline();
    let rt = current_thread();
    let local = tokio::task::LocalSet::new();
    let left = Arc::new(AtomicBool::new(false));
    local.block_on(&rt, async {
        let reader = HeldReader::enter::<rcu_qsbr::Qsbr>();
        let l = left.clone();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            // Release pairs with the Acquire load after the await.
            l.store(true, Ordering::Release);
            reader.release();
        });
        let ticks = Rc::new(std::cell::Cell::new(0u32));
        let t = ticks.clone();
        let ticker = tokio::task::spawn_local(async move {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(5)).await;
                t.set(t.get() + 1);
            }
        });
        rcu_qsbr::synchronize_rcu_async().await;
        // Acquire pairs with the Release store in the releaser.
        assert!(left.load(Ordering::Acquire), "completed before the reader left");
        assert!(ticks.get() > 0, "the executor thread was blocked");
        ticker.await.unwrap();
        releaser.join().unwrap();
    });
    me.online();
    drop(me);
}

/// 1,000 tasks on a multi-thread runtime await grace periods made while a
/// reader holds them up: all complete, sharing a few grace periods, and
/// no waker stays registered.
fn many_tasks_share_grace_periods<F: RcuFlavour>() {
    let _s = serial();
    let rt = multi_thread();
    let reader = HeldReader::enter::<F>();
    let before = F::stats().grace_periods;
    let tasks: Vec<_> = (0..1000).map(|_| rt.spawn(F::synchronize_rcu_async())).collect();
    std::thread::sleep(Duration::from_millis(50));
    assert!(tasks.iter().all(|t| !t.is_finished()), "rcu_{}: a task completed while the reader was inside", F::NAME);
    reader.release();
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    let ran = F::stats().grace_periods - before;
    assert!(ran <= 10, "rcu_{}: 1,000 tasks cost {ran} grace periods", F::NAME);
    assert_eq!(F::engine().async_waiters(), 0, "rcu_{}: wakers left registered", F::NAME);
}

#[test]
fn memb_many_tasks_share_grace_periods() {
    many_tasks_share_grace_periods::<rcu_memb::Memb>();
}

#[test]
fn qsbr_many_tasks_share_grace_periods() {
    many_tasks_share_grace_periods::<rcu_qsbr::Qsbr>();
}

/// Tasks queue callbacks and kvfree objects, then each awaits
/// `rcu_barrier_async`: everything it queued has been dropped.
fn barrier_async_on_a_multi_thread_runtime<F: RcuFlavour>() {
    let _s = serial();
    let rt = multi_thread();
    let counter = Arc::new(DropCounter::default());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let counter = counter.clone();
            rt.spawn(async move {
                let mine = Arc::new(DropCounter::default());
                for i in 0..100 {
                    let (a, b) = (counter.make(), mine.make());
                    if i % 2 == 0 {
                        F::call_rcu(move || drop((a, b)));
                    } else {
                        F::kvfree_rcu(Box::new((a, b)));
                    }
                }
                F::rcu_barrier_async().await;
                assert_eq!(mine.dropped(), 100, "rcu_{}: rcu_barrier_async returned early", F::NAME);
            })
        })
        .collect();
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(counter.dropped(), counter.created());
}

#[test]
fn memb_barrier_async_on_a_multi_thread_runtime() {
    barrier_async_on_a_multi_thread_runtime::<rcu_memb::Memb>();
}

#[test]
fn qsbr_barrier_async_on_a_multi_thread_runtime() {
    barrier_async_on_a_multi_thread_runtime::<rcu_qsbr::Qsbr>();
}
