//! Headless kvfree_rcu: thread exit, every emergency branch, every object
//! shape, destructor panics, block caches, and RcuCell::replace on top.

use rcu_memb::Memb;
use rcu_testkit::kvfree as kv;
use rcu_testkit::{Arena, Element, ReaderChecks, Token};
use std::sync::atomic::{AtomicBool, Ordering};

fn in_read_section(f: &mut dyn FnMut()) {
    let _g = rcu_memb::read_lock();
    f();
}

#[test]
fn thread_exit_hands_over_its_partial_block() {
    kv::thread_exit_hands_over_its_partial_block::<Memb>();
}

#[test]
fn no_block_and_may_block_synchronizes_then_frees_inline() {
    kv::no_block_and_may_block_synchronizes_then_frees_inline::<Memb>();
}

#[test]
fn no_block_inside_a_read_section_uses_the_reserve() {
    kv::no_block_inside_a_read_section_uses_the_reserve::<Memb>(in_read_section);
}

#[test]
fn reserve_exhausted_aborts_with_a_message() {
    kv::reserve_exhausted_aborts_with_a_message::<Memb>(in_read_section);
}

#[test]
fn every_object_shape_is_dropped_once() {
    kv::every_object_shape_is_dropped_once::<Memb>();
}

#[test]
fn a_panicking_destructor_does_not_lose_the_others() {
    kv::a_panicking_destructor_does_not_lose_the_others::<Memb>();
}

#[test]
fn block_caches_are_bounded_and_dropped_on_demand() {
    kv::block_caches_are_bounded_and_dropped_on_demand::<Memb>();
}

/// A cell value pointing at an arena element; dropping it marks the
/// element freed.
struct Held {
    element: &'static Element,
    _token: Token,
}

/// RcuCell::replace retires through kvfree_rcu: readers never see a value
/// marked freed, nothing leaks, and replace never waits (it is called here
/// from a read-side section).
#[test]
fn rcu_cell_replace_never_frees_early_and_never_leaks() {
    const REPLACEMENTS: usize = 5_000;
    let arena = Arena::leak(REPLACEMENTS + 1);
    let (e, t) = arena.create();
    let cell: &'static rcu_memb::RcuCell<Held> =
        Box::leak(Box::new(rcu_memb::RcuCell::new(Held { element: e, _token: t })));
    let checks: &'static ReaderChecks = Box::leak(Box::default());
    let stop: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let g = rcu_memb::read_lock();
                    checks.check(cell.load(&g).element);
                }
            })
        })
        .collect();
    in_read_section(&mut || {
        for _ in 0..REPLACEMENTS {
            let (e, t) = arena.create();
            cell.replace(Held { element: e, _token: t });
        }
    });
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    rcu_memb::rcu_barrier();
    assert_eq!(checks.early_frees(), 0, "readers reached {} freed cell values", checks.early_frees());
    assert_eq!(arena.dropped(), REPLACEMENTS as u64);
}
