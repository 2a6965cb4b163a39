//! liburcu 0.13's C ABI for the memb and QSBR flavours, on rcu-core.
//!
//! C programs link it as they link liburcu (`-lurcu-memb`, `-lurcu-qsbr`,
//! `-lurcu`), or run unchanged with `scripts/liburcu-dropin.sh`'s libraries
//! first in `LD_LIBRARY_PATH`: both the function ABI (a program built
//! without `_LGPL_SOURCE` calls `urcu_memb_read_lock` and friends) and the
//! inline ABI (with `_LGPL_SOURCE` the program reads and writes
//! `urcu_memb_reader` and `urcu_memb_gp` itself, with liburcu's layouts,
//! counter encoding and futex protocol) are served.
//!
//! * `csrc/urcu_abi.c`: the thread-local reader records and global records
//!   (stable Rust cannot define a TLS symbol) and the function-mode read
//!   side; `c_side`: their Rust declarations;
//! * `memb`, `qsbr`: each flavour's engine, whose foreign readers
//!   (`rcu_core::ForeignReaders`) are the C threads, and what differs
//!   between the flavours (`flavour::CFlavour`);
//! * `flavour`: registration, blocking calls and deferred calls, once;
//! * `exports`: the exported names, expanded per flavour, and the
//!   `rcu_flavor_struct` tables `liburcu-cds` uses;
//! * `call_rcu_data`: liburcu's worker handles, mapped onto the one reclaim
//!   thread; `pointer`: the `rcu_*_pointer_sym` helpers; `misuse`: messages.
//!
//! Differences from liburcu, and why: `call_rcu` never writes the
//! `rcu_head` (the function and head go to the caller's kvfree block, so no
//! per-call allocation and one grace period per batch); `rcu_barrier` costs
//! one grace period; `defer_rcu` never blocks; `synchronize_rcu` inside the
//! caller's own memb read-side section, an unregistered memb reader, and a
//! double registration print a message and abort instead of deadlocking or
//! silently going unprotected; a thread that exits registered is
//! unregistered for it; the reclaim thread is paced as liburcu's worker
//! ([`LIBURCU_PACING`]), not as the Rust flavours' default. Polled grace periods are not in liburcu 0.13's
//! headers, so not here.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod c_side;
pub mod call_rcu_data;
pub mod exports;
mod flavour;
pub use flavour::{LIBURCU_LIMITS, LIBURCU_PACING};
mod memb;
mod misuse;
pub mod pointer;
mod qsbr;

pub use memb::Memb;
pub use qsbr::Qsbr;

/// A thread-local whose destructor runs a flavour's thread-exit
/// unregistration (armed by registration).
pub(crate) struct ExitGuard(fn());

impl Drop for ExitGuard {
    fn drop(&mut self) {
        (self.0)();
    }
}

exports::export_flavour!(urcu_memb, memb::Memb, memb::no_op, memb::no_op, memb::no_op);
exports::export_flavour!(
    urcu_qsbr,
    qsbr::Qsbr,
    c_side::urcu_qsbr_quiescent_state,
    c_side::urcu_qsbr_thread_offline,
    c_side::urcu_qsbr_thread_online
);

/// `urcu_memb_init`: decides the barrier strategy and publishes it to the
/// readers (`urcu_memb_has_sys_membarrier`). Runs as a library constructor
/// too; calling it again is harmless.
#[no_mangle]
pub extern "C" fn urcu_memb_init() {
    misuse::no_unwind("urcu_memb_init", memb::publish_barrier_strategy);
}

/// `urcu_qsbr_exit`: nothing to tear down (the reclaim thread ends with
/// the process).
#[no_mangle]
pub extern "C" fn urcu_qsbr_exit() {}

/// The library constructor (liburcu's `urcu_memb_init` runs as one too):
/// readers must see `urcu_memb_has_sys_membarrier` before their first
/// section to skip their fence; both engines take liburcu's pacing
/// ([`LIBURCU_PACING`]) before any callback is queued.
extern "C" fn library_init() {
    urcu_memb_init();
    misuse::no_unwind("rcu-capi's library constructor", || {
        flavour::pace_like_liburcu::<Memb>();
        flavour::pace_like_liburcu::<Qsbr>();
    });
}

#[used]
#[link_section = ".init_array"]
static CONSTRUCTOR: extern "C" fn() = library_init;
