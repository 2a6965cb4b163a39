//! Pools for both flavours: a `par_iter` lookup over an RCU-protected table
//! reads correctly while a writer replaces the table, grace periods
//! complete while every worker is parked, nested scopes work, and reading
//! off the pool is refused with the fix named.

use rayon::prelude::*;
use rcu_testkit::versioned::check;
use std::sync::mpsc;
use std::time::Duration;

const N: usize = 10_000;

fn table(version: u64) -> Vec<u64> {
    rcu_testkit::versioned::table(version, N)
}

/// Runs `f` on another thread and fails if it does not return in 60 s
/// (a liveness bound, not a speed check).
fn completes(what: &str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| panic!("{what} did not complete in 60 s"));
}

#[test]
fn qsbr_par_iter_lookups_read_whole_tables_while_a_writer_replaces_them() {
    let cell: &'static rcu_qsbr::RcuCell<Vec<u64>> = Box::leak(Box::new(rcu_qsbr::RcuCell::new(table(0))));
    let pool = rcu_rayon::qsbr::pool_builder().num_threads(2).build().unwrap();
    let writer = std::thread::spawn(move || {
        for v in 1..50 {
            cell.replace(table(v));
            // Unregistered: may block. Completes because idle workers are
            // offline and busy ones leave their scope.
            rcu_qsbr::synchronize_rcu();
        }
    });
    for _ in 0..20 {
        let versions: u64 =
            pool.install(|| (0..64).into_par_iter().map(|_| rcu_rayon::qsbr::read(|g| check(cell.load(g)))).sum());
        assert!(versions < 64 * 50);
    }
    writer.join().unwrap();
}

#[test]
fn memb_par_iter_lookups_read_whole_tables_while_a_writer_replaces_them() {
    let cell: &'static rcu_memb::RcuCell<Vec<u64>> = Box::leak(Box::new(rcu_memb::RcuCell::new(table(0))));
    let pool = rcu_rayon::memb::pool_builder().num_threads(2).build().unwrap();
    let writer = std::thread::spawn(move || {
        for v in 1..50 {
            cell.replace(table(v));
            rcu_memb::synchronize_rcu();
        }
    });
    for _ in 0..20 {
        pool.install(|| {
            (0..64).into_par_iter().for_each(|_| {
                rcu_rayon::memb::read(|g| check(cell.load(g)));
            })
        });
    }
    writer.join().unwrap();
}

#[test]
fn qsbr_grace_periods_complete_while_every_worker_is_parked() {
    let pool = rcu_rayon::qsbr::pool_builder().num_threads(3).build().unwrap();
    // Make sure every worker has started (and registered).
    pool.broadcast(|_| ());
    assert!(rcu_qsbr::stats().registered_threads >= 3, "workers register when they start");
    let cell = rcu_qsbr::RcuCell::new(1u64);
    assert_eq!(pool.install(|| rcu_rayon::qsbr::read(|g| *cell.load(g))), 1);
    // Every worker is parked now, registered: the grace period must not
    // wait for them (it would, forever, if they stayed online).
    completes("synchronize_rcu with every worker parked", rcu_qsbr::synchronize_rcu);
    drop(pool);
}

#[test]
fn qsbr_nested_scopes_and_work_stealing_inside_a_scope() {
    let cell: &'static rcu_qsbr::RcuCell<Vec<u64>> = Box::leak(Box::new(rcu_qsbr::RcuCell::new(table(7))));
    let pool = rcu_rayon::qsbr::pool_builder().num_threads(2).build().unwrap();
    let total: u64 = pool.install(|| {
        rcu_rayon::qsbr::read(|g| {
            let outer = check(cell.load(g));
            // Jobs stolen while this scope waits run nested scopes.
            outer + (0..16).into_par_iter().map(|_| rcu_rayon::qsbr::read(|g| check(cell.load(g)))).sum::<u64>()
        })
    });
    assert_eq!(total, 7 * 17);
    completes("synchronize_rcu after nested scopes", rcu_qsbr::synchronize_rcu);
}

#[test]
fn qsbr_read_off_the_pool_names_the_fix() {
    let err = std::thread::spawn(|| rcu_rayon::qsbr::read(|_| ())).join().expect_err("must panic");
    let msg = err.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| err.downcast_ref::<String>().cloned());
    let msg = msg.unwrap_or_default();
    assert!(msg.contains("rcu_rayon::qsbr::pool_builder()"), "{msg}");
}
