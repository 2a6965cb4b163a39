//! liburcu's C ABI (0.13 to 0.15) for its four flavours, memb, mb, QSBR
//! and bp, on rcu-core.
//!
//! C programs link it as they link liburcu (`-lurcu-memb`, `-lurcu-qsbr`,
//! `-lurcu`, `-lurcu-mb`, `-lurcu-bp`), or run unchanged with
//! `scripts/liburcu-dropin.sh`'s libraries first in `LD_LIBRARY_PATH`:
//! both the function ABI (a program built without `_LGPL_SOURCE` calls
//! `urcu_memb_read_lock` and friends) and the inline ABI (with
//! `_LGPL_SOURCE` the program reads and writes `urcu_memb_reader` and
//! `urcu_memb_gp` itself, with liburcu's layouts, counter encoding and
//! futex protocol) are served.
//!
//! * `csrc/urcu_abi.c`: the thread-local reader records and global records
//!   (stable Rust cannot define a TLS symbol) and the function-mode read
//!   side; `c_side`: their Rust declarations; `record`: the memb, mb and
//!   QSBR records as Rust marks them;
//! * `phase_flip` (memb, mb), `qsbr`, `bp`: each flavour's engine, whose
//!   foreign readers (`rcu_core::ForeignReaders`) are the C threads, and
//!   what differs between the flavours (`flavour::CFlavour`);
//! * `flavour`: registration (explicit and lazy), blocking calls, deferred
//!   calls and polls, once, with the misuse rules (which calls abort, which
//!   do what liburcu does);
//! * `exports`: the exported names, expanded per flavour, and the
//!   `rcu_flavor_struct` tables `liburcu-cds` uses;
//! * `call_rcu_data`: liburcu's worker handles, mapped onto the one reclaim
//!   thread; `pointer`: the `rcu_*_pointer_sym` helpers; `misuse`: messages
//!   and `RCU_CAPI_STRICT`.
//!
//! Differences from liburcu, and why: `call_rcu` never writes the
//! `rcu_head` (the function and head go to the caller's kvfree block, so no
//! per-call allocation and one grace period per batch); `rcu_barrier` costs
//! one grace period; `defer_rcu` never blocks; a function-ABI section on an
//! unregistered thread registers it (liburcu leaves it unprotected);
//! `synchronize_rcu` inside the caller's own section, a double
//! registration and unregistering an unregistered thread print a message
//! and abort (liburcu deadlocks or fails an assertion); a thread that exits
//! registered is unregistered for it; the reclaim thread is paced as
//! liburcu's worker ([`LIBURCU_PACING`]), not as the Rust flavours'
//! default.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod c_side;
pub mod call_rcu_data;
pub mod exports;
mod flavour;
pub use flavour::{LIBURCU_LIMITS, LIBURCU_PACING};
mod bp;
pub mod misuse;
mod phase_flip;
pub mod pointer;
mod qsbr;
mod record;

pub use bp::Bp;
pub use phase_flip::{mb::Mb, memb::Memb};
pub use qsbr::Qsbr;

use phase_flip::no_op;

exports::export_flavour!(urcu_memb, Memb, no_op, no_op, no_op);
exports::export_flavour!(urcu_mb, Mb, no_op, no_op, no_op);
exports::export_flavour!(urcu_bp, Bp, no_op, no_op, no_op);
exports::export_flavour!(
    urcu_qsbr,
    Qsbr,
    c_side::urcu_qsbr_quiescent_state,
    c_side::urcu_qsbr_thread_offline,
    c_side::urcu_qsbr_thread_online
);

/// `urcu_memb_init`: decides the barrier strategy and publishes it to the
/// readers (`urcu_memb_has_sys_membarrier`). Runs as a library constructor
/// too; calling it again is harmless.
#[no_mangle]
pub extern "C" fn urcu_memb_init() {
    misuse::no_unwind("urcu_memb_init", || {
        // SAFETY: the accessor returns the C object's address.
        unsafe { phase_flip::publish_barrier_strategy(c_side::rcu_capi_memb_has_sys_membarrier()) }
    });
}

/// `urcu_mb_init`: nothing to decide (mb readers fence themselves); runs
/// the engine's set-up. Calling it again is harmless.
#[no_mangle]
pub extern "C" fn urcu_mb_init() {
    misuse::no_unwind("urcu_mb_init", || {
        rcu_core::sys::init();
    });
}

/// `urcu_qsbr_exit`: nothing to tear down (the reclaim thread ends with
/// the process).
#[no_mangle]
pub extern "C" fn urcu_qsbr_exit() {}

/// `urcu_memb_exit` (exported by liburcu 0.15, its library destructor):
/// nothing to tear down.
#[no_mangle]
pub extern "C" fn urcu_memb_exit() {}

/// `urcu_mb_exit` (exported by liburcu 0.15): nothing to tear down.
#[no_mangle]
pub extern "C" fn urcu_mb_exit() {}

/// The library constructor (liburcu's `urcu_memb_init` runs as one too):
/// light readers must see `urcu_memb_has_sys_membarrier` /
/// `urcu_bp_has_sys_membarrier` before their first section to skip their
/// fence; every engine takes liburcu's pacing ([`LIBURCU_PACING`]) before
/// any callback is queued; the exit keys are created and `RCU_CAPI_STRICT`
/// read before a first section (maybe in a signal handler) needs them.
extern "C" fn library_init() {
    urcu_memb_init();
    misuse::no_unwind("rcu-capi's library constructor", || {
        // SAFETY: the accessor returns the C object's address.
        unsafe { phase_flip::publish_barrier_strategy(c_side::rcu_capi_bp_has_sys_membarrier()) };
        flavour::set_up::<Memb>();
        flavour::set_up::<Mb>();
        flavour::set_up::<Qsbr>();
        flavour::set_up::<Bp>();
        misuse::strict();
    });
}

#[used]
#[link_section = ".init_array"]
static CONSTRUCTOR: extern "C" fn() = library_init;
