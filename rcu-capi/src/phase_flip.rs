//! The memb and mb flavours' C ABI (liburcu's `liburcu-memb.so`, also its
//! default `liburcu.so`, and `liburcu-mb.so`): readers in `urcu_memb_reader`
//! / `urcu_mb_reader`, phase-flip grace periods on `urcu_memb_gp` /
//! `urcu_mb_gp`. They differ in one barrier: memb readers pay a compiler
//! barrier and the writer a membarrier; mb readers pay a full fence, so the
//! writer needs none ([`ForeignStyle::fenced_readers`]).

use crate::c_side::{self, Record};
use crate::flavour::{in_phase_flip_section, reader_record, CFlavour, ExitKey};
use crate::record;
use rcu_core::{ForeignGp, ForeignReaders, ForeignStyle, Protocol};
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

/// Defines one phase-flip C flavour: its engine, registry, exit key and
/// [`CFlavour`] implementation, and the hook its C read side calls on an
/// unregistered thread's first section.
macro_rules! phase_flip_flavour {
    ($flavour:ident, $prefix:literal, $record:expr, $gp:path, $style:expr, $lazy_hook:ident, $doc:literal) => {
        fn gp() -> &'static ForeignGp {
            // SAFETY: the C object (or the executable's copy of it) lives for
            // the whole process; `ForeignGp` has `struct urcu_gp`'s layout.
            unsafe { &*$gp() }
        }

        static READERS: ForeignReaders =
            ForeignReaders::with_style(gp, crate::flavour::current_word::<$flavour>, $style);
        static EXIT_KEY: ExitKey = ExitKey::new();

        rcu_core::define_flavour!($flavour, $prefix, Protocol::PhaseFlip, $doc, foreign = Some(&READERS));

        impl CFlavour for $flavour {
            const PREFIX: &'static str = $prefix;

            fn exit_key() -> &'static ExitKey {
                &EXIT_KEY
            }

            fn current_word() -> Option<NonNull<AtomicU64>> {
                record::current_word($record)
            }

            fn is_lazy() -> bool {
                record::is_lazy($record)
            }

            fn is_exiting() -> bool {
                record::is_exiting($record)
            }

            fn mark_exiting() {
                record::mark_exiting($record)
            }

            fn add_record(lazy: bool) -> bool {
                // SAFETY: the word is the calling thread's TLS; it stays valid
                // until `remove_record`, which the exit key's destructor runs at
                // the latest (key destructors run before TLS is freed, and no
                // lazy registration happens once it has run: `is_exiting`).
                unsafe { READERS.register(reader_record(record::word($record), None)) };
                record::mark($record, true, lazy);
                true
            }

            fn make_explicit() {
                record::mark($record, true, false);
            }

            fn remove_record() {
                READERS.unregister(record::word($record));
                record::mark($record, false, false);
            }

            fn in_own_section() -> bool {
                in_phase_flip_section(Self::current_word())
            }
        }

        /// Called by the C read side on an unregistered thread's first
        /// section (`flavour::register_lazily`).
        #[no_mangle]
        pub extern "C" fn $lazy_hook() {
            crate::flavour::register_lazily::<$flavour>();
        }
    };
}

/// memb: light readers, membarrier writer.
pub mod memb {
    use super::*;
    phase_flip_flavour!(
        Memb,
        "urcu_memb",
        Record::Memb,
        c_side::rcu_capi_memb_gp,
        ForeignStyle::STANDARD,
        rcu_capi_memb_register_lazily,
        "The C ABI's memb flavour (its engine serves `urcu_memb_*`)."
    );
}

/// mb: readers fence themselves; grace periods need no membarrier.
pub mod mb {
    use super::*;
    phase_flip_flavour!(
        Mb,
        "urcu_mb",
        Record::Mb,
        c_side::rcu_capi_mb_gp,
        ForeignStyle::fenced_readers(),
        rcu_capi_mb_register_lazily,
        "The C ABI's mb flavour (its engine serves `urcu_mb_*`)."
    );
}

/// Memb and bp have no quiescent states: liburcu's flavour tables hold
/// no-ops.
pub(crate) extern "C" fn no_op() {}

/// Publishes the engine's barrier strategy to light readers that read a
/// flag (`urcu_memb_has_sys_membarrier`, `urcu_bp_has_sys_membarrier`):
/// they then skip their fence (the writer's membarrier stands for it).
/// 0, the initial value, is safe with either strategy.
///
/// # Safety
///
/// `flag` points to one of those C objects (they live for the process).
pub(crate) unsafe fn publish_barrier_strategy(flag: *mut std::ffi::c_int) {
    let membarrier = rcu_core::sys::init() == rcu_core::BarrierStrategy::Membarrier;
    // SAFETY: per the contract. A plain int in liburcu's ABI; readers load
    // it with a relaxed atomic load.
    let flag = unsafe { &*flag.cast::<std::sync::atomic::AtomicI32>() };
    // Relaxed: a reader that still sees 0 issues a full fence, which is
    // correct with membarrier too; one that sees 1 pairs with membarrier,
    // which is in force from now on (the engine decided it above).
    flag.store(membarrier.into(), std::sync::atomic::Ordering::Relaxed);
}
