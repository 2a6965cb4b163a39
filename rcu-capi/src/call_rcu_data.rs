//! liburcu's `call_rcu_data` family, mapped onto the one reclaim thread
//! each flavour's engine has.
//!
//! In liburcu a `struct call_rcu_data` is a worker thread with its own
//! queue, and `call_rcu` picks one (the thread's, the CPU's, or the
//! default). Here every callback of a flavour goes to the calling thread's
//! kvfree block and the flavour's one reclaim thread, whatever handle is in
//! force: handles are names for that thread, kept so that programs written
//! for liburcu run unchanged. What each call means here:
//!
//! * `create_call_rcu_data(flags, cpu)`: a new handle (flags and affinity
//!   recorded, no thread created);
//! * `get_default_call_rcu_data()`: the flavour's default handle;
//! * `get/set_thread_call_rcu_data`, `get/set_cpu_call_rcu_data`: the
//!   per-thread and per-CPU handles, with liburcu's return values;
//! * `create_all_cpu_call_rcu_data` / `free_all_cpu_call_rcu_data`: fill or
//!   empty the per-CPU table;
//! * `get_call_rcu_data()`: thread's, else CPU's, else the default handle;
//! * `get_call_rcu_thread(h)`: the reclaim thread's `pthread_t`;
//! * `call_rcu_data_free(h)`: frees a created handle (nothing is queued on
//!   it to move; the default handle and NULL are ignored, as in liburcu).

use std::cell::Cell;
use std::ffi::{c_int, c_ulong};
use std::sync::Mutex;

/// liburcu's opaque `struct call_rcu_data`.
#[derive(Debug)]
pub struct CallRcuData {
    /// `URCU_CALL_RCU_*` flags given at creation (recorded only).
    pub flags: c_ulong,
    /// CPU affinity given at creation, -1 for none (recorded only).
    pub cpu_affinity: c_int,
}

/// One flavour's handles.
pub(crate) struct Handles {
    default: CallRcuData,
    /// Per-CPU handles, by CPU number; null where none is set. `usize`s so
    /// the table is `Send` (the handles are plain data).
    per_cpu: Mutex<Vec<usize>>,
}

impl Handles {
    pub(crate) const fn new() -> Self {
        Handles { default: CallRcuData { flags: 0, cpu_affinity: -1 }, per_cpu: Mutex::new(Vec::new()) }
    }

    pub(crate) fn default_handle(&'static self) -> *mut CallRcuData {
        std::ptr::from_ref(&self.default).cast_mut()
    }

    pub(crate) fn create(flags: c_ulong, cpu_affinity: c_int) -> *mut CallRcuData {
        Box::into_raw(Box::new(CallRcuData { flags, cpu_affinity }))
    }

    /// # Safety
    ///
    /// `h` is null, the default handle, or came from `create` and is not
    /// used after.
    pub(crate) unsafe fn free(&'static self, h: *mut CallRcuData) {
        if h.is_null() || h == self.default_handle() {
            return;
        }
        let mut table = self.table();
        for slot in table.iter_mut().filter(|s| **s == h as usize) {
            *slot = 0;
        }
        drop(table);
        // SAFETY: per the contract, a handle from `create`.
        drop(unsafe { Box::from_raw(h) });
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Vec<usize>> {
        let mut t = self.per_cpu.lock().unwrap_or_else(|e| e.into_inner());
        if t.is_empty() {
            t.resize(cpu_count(), 0);
        }
        t
    }

    pub(crate) fn cpu(&'static self, cpu: c_int) -> *mut CallRcuData {
        let t = self.table();
        usize::try_from(cpu).ok().and_then(|c| t.get(c).copied()).unwrap_or(0) as *mut CallRcuData
    }

    /// liburcu's `set_cpu_call_rcu_data`: 0, or -1 with `errno` EINVAL
    /// (no such CPU) or EEXIST (one set already and `h` not null).
    pub(crate) fn set_cpu(&'static self, cpu: c_int, h: *mut CallRcuData) -> c_int {
        let mut t = self.table();
        let Some(slot) = usize::try_from(cpu).ok().and_then(|c| t.get_mut(c)) else {
            return set_errno(libc::EINVAL);
        };
        if *slot != 0 && !h.is_null() {
            return set_errno(libc::EEXIST);
        }
        *slot = h as usize;
        0
    }

    /// liburcu's `create_all_cpu_call_rcu_data`: a handle for every CPU
    /// that has none; 0, or -1 with `errno` EEXIST if one had one.
    pub(crate) fn create_all_cpu(&'static self, flags: c_ulong) -> c_int {
        let mut t = self.table();
        let mut existed = false;
        for (cpu, slot) in t.iter_mut().enumerate() {
            if *slot != 0 {
                existed = true;
                continue;
            }
            *slot = Self::create(flags, cpu as c_int) as usize;
        }
        if existed {
            return set_errno(libc::EEXIST);
        }
        0
    }

    pub(crate) fn free_all_cpu(&'static self) {
        let handles: Vec<usize> = std::mem::take(&mut *self.table());
        for h in handles.into_iter().filter(|&h| h != 0) {
            // SAFETY: per-CPU handles come from `create` and were just
            // taken out of the table.
            drop(unsafe { Box::from_raw(h as *mut CallRcuData) });
        }
    }

    /// liburcu's `get_call_rcu_data`.
    pub(crate) fn current(&'static self, thread: &Cell<*mut CallRcuData>) -> *mut CallRcuData {
        if !thread.get().is_null() {
            return thread.get();
        }
        // SAFETY: plain syscall wrapper.
        let cpu = unsafe { libc::sched_getcpu() };
        let h = self.cpu(cpu);
        if h.is_null() {
            self.default_handle()
        } else {
            h
        }
    }
}

fn cpu_count() -> usize {
    // SAFETY: plain libc query.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
    usize::try_from(n).unwrap_or(1).max(1)
}

fn set_errno(e: c_int) -> c_int {
    // SAFETY: the calling thread's errno.
    unsafe { *libc::__errno_location() = e };
    -1
}
