//! Headless kvfree_rcu: thread exit, every emergency branch, every object
//! shape, destructor panics, block caches, and RcuCell::replace on top.

mod common;

rcu_testkit::kvfree_tests!(rcu_memb::Memb, common::in_read_section, common::cell_reader);
