//! `RcuCell` on a QSBR thread that is offline (the shared cell suites are
//! in `tests/suites.rs`).

/// An offline registered thread comes online only for `Debug`'s read and
/// is offline again after it (grace periods do not wait for it).
#[test]
fn debug_on_an_offline_thread_leaves_it_offline() {
    let cell = rcu_qsbr::RcuCell::new(String::from("offline"));
    let mut me = rcu_qsbr::register_thread();
    me.offline();
    assert!(format!("{cell:?}").contains("offline"));
    assert!(!me.is_online());
    assert!(<rcu_qsbr::Qsbr as rcu_core::Flavour>::engine().may_block(), "Debug left the thread online");
    std::thread::spawn(rcu_qsbr::synchronize_rcu).join().unwrap();
}
