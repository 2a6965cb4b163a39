//! The `extern "C"` functions and objects of one flavour, written once:
//! `export_flavour!` expands them with the flavour's liburcu prefix
//! (`urcu_memb_*`, `urcu_mb_*`, `urcu_qsbr_*`, `urcu_bp_*`). The behaviour lives in `flavour.rs` and
//! `call_rcu_data.rs`; these are the names and the safety contracts.

/// liburcu's `struct rcu_head` (`cds_wfcq_node` link, then the function).
/// This ABI never writes it: a callback's function and head travel in the
/// calling thread's kvfree block instead.
#[repr(C)]
#[derive(Debug)]
pub struct RcuHead {
    /// liburcu's queue link (unused here).
    pub next: *mut RcuHead,
    /// liburcu's function slot (unused here).
    pub func: Option<unsafe extern "C" fn(*mut RcuHead)>,
}

/// liburcu's `struct urcu_atfork`: hooks `rculfhash` registers so that its
/// worker is stopped around `fork()`; run by the `call_rcu_*_fork` calls.
#[repr(C)]
#[derive(Debug)]
pub struct UrcuAtfork {
    /// Run by `call_rcu_before_fork`.
    pub before_fork: Option<unsafe extern "C" fn(*mut std::ffi::c_void)>,
    /// Run by `call_rcu_after_fork_parent`.
    pub after_fork_parent: Option<unsafe extern "C" fn(*mut std::ffi::c_void)>,
    /// Run by `call_rcu_after_fork_child`.
    pub after_fork_child: Option<unsafe extern "C" fn(*mut std::ffi::c_void)>,
    /// The hooks' argument.
    pub priv_: *mut std::ffi::c_void,
}

/// liburcu 0.14's `struct urcu_gp_poll_state`: a grace-period cookie,
/// passed and returned by value.
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct UrcuGpPollState {
    /// The engine's grace-period sequence value the cookie waits for.
    pub grace_period_id: std::ffi::c_ulong,
}

/// liburcu's `struct rcu_flavor_struct`: what `liburcu-cds` (rculfhash)
/// calls a flavour through. 0.14 appended the two poll fields; a program
/// built against 0.13's headers reads the prefix it knows.
#[repr(C)]
#[derive(Debug)]
pub struct RcuFlavorStruct {
    /// `rcu_read_lock`.
    pub read_lock: unsafe extern "C" fn(),
    /// `rcu_read_unlock`.
    pub read_unlock: unsafe extern "C" fn(),
    /// `rcu_read_ongoing`.
    pub read_ongoing: unsafe extern "C" fn() -> std::ffi::c_int,
    /// `rcu_quiescent_state` (a no-op for memb).
    pub read_quiescent_state: unsafe extern "C" fn(),
    /// `call_rcu`.
    pub update_call_rcu: unsafe extern "C" fn(*mut RcuHead, Option<unsafe extern "C" fn(*mut RcuHead)>),
    /// `synchronize_rcu`.
    pub update_synchronize_rcu: unsafe extern "C" fn(),
    /// `defer_rcu`.
    pub update_defer_rcu:
        unsafe extern "C" fn(Option<unsafe extern "C" fn(*mut std::ffi::c_void)>, *mut std::ffi::c_void),
    /// `rcu_thread_offline` (a no-op for memb).
    pub thread_offline: unsafe extern "C" fn(),
    /// `rcu_thread_online` (a no-op for memb).
    pub thread_online: unsafe extern "C" fn(),
    /// `rcu_register_thread`.
    pub register_thread: unsafe extern "C" fn(),
    /// `rcu_unregister_thread`.
    pub unregister_thread: unsafe extern "C" fn(),
    /// `rcu_barrier`.
    pub barrier: unsafe extern "C" fn(),
    /// `urcu_register_rculfhash_atfork`.
    pub register_rculfhash_atfork: unsafe extern "C" fn(*mut UrcuAtfork),
    /// `urcu_unregister_rculfhash_atfork`.
    pub unregister_rculfhash_atfork: unsafe extern "C" fn(*mut UrcuAtfork),
    /// `start_poll_synchronize_rcu` (liburcu 0.14).
    pub update_start_poll_synchronize_rcu: unsafe extern "C" fn() -> UrcuGpPollState,
    /// `poll_state_synchronize_rcu` (liburcu 0.14).
    pub update_poll_state_synchronize_rcu: unsafe extern "C" fn(UrcuGpPollState) -> bool,
}

// SAFETY: a table of function pointers, never written.
unsafe impl Sync for RcuFlavorStruct {}

/// The registered `urcu_atfork` hooks of one flavour.
#[derive(Debug)]
pub(crate) struct Atforks(std::sync::Mutex<Vec<usize>>);

impl Atforks {
    pub(crate) const fn new() -> Self {
        Atforks(std::sync::Mutex::new(Vec::new()))
    }

    fn list(&self) -> std::sync::MutexGuard<'_, Vec<usize>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn register(&self, a: *mut UrcuAtfork) {
        if !a.is_null() {
            self.list().push(a as usize);
        }
    }

    pub(crate) fn unregister(&self, a: *mut UrcuAtfork) {
        let mut l = self.list();
        if let Some(i) = l.iter().position(|&p| p == a as usize) {
            l.remove(i);
        }
    }

    /// Runs one hook of every registered set.
    ///
    /// # Safety
    ///
    /// The registered pointers are valid `urcu_atfork`s (their owner's
    /// contract with `urcu_*_register_rculfhash_atfork`).
    pub(crate) unsafe fn run(&self, pick: fn(&UrcuAtfork) -> Option<unsafe extern "C" fn(*mut std::ffi::c_void)>) {
        let hooks: Vec<usize> = self.list().clone();
        for a in hooks {
            // SAFETY: per the contract.
            let a = unsafe { &*(a as *const UrcuAtfork) };
            if let Some(f) = pick(a) {
                // SAFETY: the hook's owner registered it for this call.
                unsafe { f(a.priv_) };
            }
        }
    }
}

/// Expands the flavour-independent part of one flavour's C ABI.
macro_rules! export_flavour {
    ($prefix:ident, $flavour:ty, $quiescent:path, $offline:path, $online:path) => {
        paste::paste! {
            static [<$prefix:upper _HANDLES>]: $crate::call_rcu_data::Handles = $crate::call_rcu_data::Handles::new();
            static [<$prefix:upper _ATFORKS>]: $crate::exports::Atforks = $crate::exports::Atforks::new();
            ::std::thread_local! {
                static [<$prefix:upper _THREAD_HANDLE>]: ::std::cell::Cell<*mut $crate::call_rcu_data::CallRcuData> =
                    const { ::std::cell::Cell::new(::std::ptr::null_mut()) };
            }

            #[doc = concat!("`", stringify!($prefix), "_register_thread`: registers the calling thread as a reader (QSBR: online). Unregistered again at thread exit if the thread forgets.")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _register_thread>]() {
                $crate::flavour::register_thread::<$flavour>();
            }

            #[doc = concat!("`", stringify!($prefix), "_unregister_thread`: the calling thread stops being a reader.")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _unregister_thread>]() {
                $crate::flavour::unregister_thread::<$flavour>();
            }

            #[doc = concat!("`", stringify!($prefix), "_synchronize_rcu`: waits for a grace period. Aborts with a message where it would wait for the caller itself (memb, inside its own section); QSBR goes offline while waiting, as liburcu does.")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _synchronize_rcu>]() {
                $crate::flavour::synchronize_rcu::<$flavour>();
            }

            #[doc = concat!("`", stringify!($prefix), "_call_rcu`: `func(head)` on the reclaim thread after a grace period. Never blocks; no allocation per call; `head` is not written.")]
            #[doc = ""]
            #[doc = "# Safety"]
            #[doc = ""]
            #[doc = "`func(head)` must be sound to call once, on another thread, after a grace period; `func` must not be null."]
            #[no_mangle]
            pub unsafe extern "C" fn [<$prefix _call_rcu>](
                head: *mut $crate::exports::RcuHead,
                func: Option<unsafe extern "C" fn(*mut $crate::exports::RcuHead)>,
            ) {
                let what = concat!(stringify!($prefix), "_call_rcu");
                let Some(func) = func else {
                    $crate::misuse::die(concat!(stringify!($prefix), "_call_rcu() called with a NULL function"));
                };
                // SAFETY: `*mut RcuHead` and `*mut c_void` are passed alike
                // in the C ABI; the caller's contract is forwarded.
                unsafe {
                    let func = ::std::mem::transmute::<
                        unsafe extern "C" fn(*mut $crate::exports::RcuHead),
                        rcu_core::kvfree::CDeferredFn,
                    >(func);
                    $crate::flavour::defer_call::<$flavour>(what, func, head.cast());
                }
            }

            #[doc = concat!("`", stringify!($prefix), "_defer_rcu`: `fct(p)` after a grace period, on the reclaim thread. Never blocks (liburcu's may).")]
            #[doc = ""]
            #[doc = "# Safety"]
            #[doc = ""]
            #[doc = "`fct(p)` must be sound to call once, on another thread, after a grace period; `fct` must not be null."]
            #[no_mangle]
            pub unsafe extern "C" fn [<$prefix _defer_rcu>](
                fct: Option<unsafe extern "C" fn(*mut ::std::ffi::c_void)>,
                p: *mut ::std::ffi::c_void,
            ) {
                let what = concat!(stringify!($prefix), "_defer_rcu");
                let Some(fct) = fct else {
                    $crate::misuse::die(concat!(stringify!($prefix), "_defer_rcu() called with a NULL function"));
                };
                // SAFETY: forwarded contract.
                unsafe { $crate::flavour::defer_call::<$flavour>(what, fct, p) };
            }

            #[doc = concat!("`", stringify!($prefix), "_barrier`: returns once every `call_rcu`/`defer_rcu` queued before it, by any thread, has run (one grace period, not one per worker).")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _barrier>]() {
                $crate::flavour::barrier::<$flavour>(concat!(stringify!($prefix), "_barrier"));
            }

            #[doc = concat!("`", stringify!($prefix), "_defer_barrier`: as `", stringify!($prefix), "_barrier` (deferrals share the callback path).")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _defer_barrier>]() {
                $crate::flavour::barrier::<$flavour>(concat!(stringify!($prefix), "_defer_barrier"));
            }

            #[doc = concat!("`", stringify!($prefix), "_defer_barrier_thread`: as `", stringify!($prefix), "_defer_barrier`.")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _defer_barrier_thread>]() {
                $crate::flavour::barrier::<$flavour>(concat!(stringify!($prefix), "_defer_barrier_thread"));
            }

            #[doc = concat!("`", stringify!($prefix), "_defer_register_thread`: nothing to set up (deferrals use the thread's kvfree block, created on first use); returns 0.")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _defer_register_thread>]() -> ::std::ffi::c_int {
                0
            }

            #[doc = concat!("`", stringify!($prefix), "_defer_unregister_thread`: nothing to tear down (the block is sealed at thread exit).")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _defer_unregister_thread>]() {}

            #[doc = concat!("`", stringify!($prefix), "_defer_exit`: nothing to tear down.")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _defer_exit>]() {}

            #[doc = concat!("`", stringify!($prefix), "_create_call_rcu_data`: a new handle for the flavour's reclaim thread (see `call_rcu_data.rs`).")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _create_call_rcu_data>](
                flags: ::std::ffi::c_ulong,
                cpu_affinity: ::std::ffi::c_int,
            ) -> *mut $crate::call_rcu_data::CallRcuData {
                $crate::call_rcu_data::Handles::create(flags, cpu_affinity)
            }

            #[doc = concat!("`", stringify!($prefix), "_call_rcu_data_free`: frees a created handle; NULL and the default handle are ignored.")]
            #[doc = ""]
            #[doc = "# Safety"]
            #[doc = ""]
            #[doc = "`h` is NULL, the default handle, or a live handle from `create_call_rcu_data` not used after."]
            #[no_mangle]
            pub unsafe extern "C" fn [<$prefix _call_rcu_data_free>](h: *mut $crate::call_rcu_data::CallRcuData) {
                [<$prefix:upper _THREAD_HANDLE>].with(|t| if t.get() == h { t.set(::std::ptr::null_mut()) });
                // SAFETY: forwarded contract.
                unsafe { [<$prefix:upper _HANDLES>].free(h) };
            }

            #[doc = concat!("`", stringify!($prefix), "_get_default_call_rcu_data`: the default handle.")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _get_default_call_rcu_data>]() -> *mut $crate::call_rcu_data::CallRcuData {
                [<$prefix:upper _HANDLES>].default_handle()
            }

            #[doc = concat!("`", stringify!($prefix), "_get_cpu_call_rcu_data`: CPU `cpu`'s handle, or NULL.")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _get_cpu_call_rcu_data>](cpu: ::std::ffi::c_int) -> *mut $crate::call_rcu_data::CallRcuData {
                [<$prefix:upper _HANDLES>].cpu(cpu)
            }

            #[doc = concat!("`", stringify!($prefix), "_set_cpu_call_rcu_data`: sets CPU `cpu`'s handle: 0, or -1 with errno EINVAL / EEXIST as in liburcu.")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _set_cpu_call_rcu_data>](
                cpu: ::std::ffi::c_int,
                h: *mut $crate::call_rcu_data::CallRcuData,
            ) -> ::std::ffi::c_int {
                [<$prefix:upper _HANDLES>].set_cpu(cpu, h)
            }

            #[doc = concat!("`", stringify!($prefix), "_get_thread_call_rcu_data`: the calling thread's handle, or NULL.")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _get_thread_call_rcu_data>]() -> *mut $crate::call_rcu_data::CallRcuData {
                [<$prefix:upper _THREAD_HANDLE>].try_with(|t| t.get()).unwrap_or(::std::ptr::null_mut())
            }

            #[doc = concat!("`", stringify!($prefix), "_set_thread_call_rcu_data`: sets the calling thread's handle (NULL: none).")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _set_thread_call_rcu_data>](h: *mut $crate::call_rcu_data::CallRcuData) {
                let _ = [<$prefix:upper _THREAD_HANDLE>].try_with(|t| t.set(h));
            }

            #[doc = concat!("`", stringify!($prefix), "_get_call_rcu_data`: the thread's handle, else the CPU's, else the default.")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _get_call_rcu_data>]() -> *mut $crate::call_rcu_data::CallRcuData {
                [<$prefix:upper _THREAD_HANDLE>]
                    .try_with(|t| [<$prefix:upper _HANDLES>].current(t))
                    .unwrap_or_else(|_| [<$prefix:upper _HANDLES>].default_handle())
            }

            #[doc = concat!("`", stringify!($prefix), "_create_all_cpu_call_rcu_data`: a handle for every CPU: 0, or -1 with errno EEXIST if one had one.")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _create_all_cpu_call_rcu_data>](flags: ::std::ffi::c_ulong) -> ::std::ffi::c_int {
                [<$prefix:upper _HANDLES>].create_all_cpu(flags)
            }

            #[doc = concat!("`", stringify!($prefix), "_free_all_cpu_call_rcu_data`: frees every per-CPU handle.")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _free_all_cpu_call_rcu_data>]() {
                [<$prefix:upper _HANDLES>].free_all_cpu();
            }

            #[doc = concat!("`", stringify!($prefix), "_get_call_rcu_thread`: the flavour's reclaim thread (every handle names it), started if needed.")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _get_call_rcu_thread>](
                _h: *mut $crate::call_rcu_data::CallRcuData,
            ) -> ::libc::pthread_t {
                $crate::misuse::no_unwind(concat!(stringify!($prefix), "_get_call_rcu_thread"), || {
                    <$flavour as rcu_core::Flavour>::engine().reclaim_pthread() as ::libc::pthread_t
                })
            }

            #[doc = concat!("`", stringify!($prefix), "_call_rcu_before_fork`: runs the registered `urcu_atfork` before-hooks. The engine's own fork handling is automatic (`pthread_atfork`).")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _call_rcu_before_fork>]() {
                // SAFETY: the hooks' owners keep them valid while registered.
                unsafe { [<$prefix:upper _ATFORKS>].run(|a| a.before_fork) };
            }

            #[doc = concat!("`", stringify!($prefix), "_call_rcu_after_fork_parent`: runs the after-fork-parent hooks.")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _call_rcu_after_fork_parent>]() {
                // SAFETY: as above.
                unsafe { [<$prefix:upper _ATFORKS>].run(|a| a.after_fork_parent) };
            }

            #[doc = concat!("`", stringify!($prefix), "_call_rcu_after_fork_child`: runs the after-fork-child hooks (the reclaim thread restarts on demand in the child).")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _call_rcu_after_fork_child>]() {
                // SAFETY: as above.
                unsafe { [<$prefix:upper _ATFORKS>].run(|a| a.after_fork_child) };
            }

            #[doc = concat!("`", stringify!($prefix), "_register_rculfhash_atfork`: registers `rculfhash`'s fork hooks.")]
            #[doc = ""]
            #[doc = "# Safety"]
            #[doc = ""]
            #[doc = "`a` stays valid until unregistered."]
            #[no_mangle]
            pub unsafe extern "C" fn [<$prefix _register_rculfhash_atfork>](a: *mut $crate::exports::UrcuAtfork) {
                [<$prefix:upper _ATFORKS>].register(a);
            }

            #[doc = concat!("`", stringify!($prefix), "_unregister_rculfhash_atfork`: unregisters them.")]
            #[doc = ""]
            #[doc = "# Safety"]
            #[doc = ""]
            #[doc = "None beyond passing what was registered."]
            #[no_mangle]
            pub unsafe extern "C" fn [<$prefix _unregister_rculfhash_atfork>](a: *mut $crate::exports::UrcuAtfork) {
                [<$prefix:upper _ATFORKS>].unregister(a);
            }

            #[doc = concat!("`", stringify!($prefix), "_start_poll_synchronize_rcu` (liburcu 0.14): a cookie for a grace period that starts after the call, which the reclaim thread runs. Never blocks.")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _start_poll_synchronize_rcu>]() -> $crate::exports::UrcuGpPollState {
                let id = $crate::flavour::start_poll::<$flavour>(concat!(stringify!($prefix), "_start_poll_synchronize_rcu"));
                $crate::exports::UrcuGpPollState { grace_period_id: id }
            }

            #[doc = concat!("`", stringify!($prefix), "_poll_state_synchronize_rcu` (liburcu 0.14): whether the cookie's grace period has completed. One load; never blocks.")]
            #[no_mangle]
            pub extern "C" fn [<$prefix _poll_state_synchronize_rcu>](state: $crate::exports::UrcuGpPollState) -> bool {
                $crate::flavour::poll_state::<$flavour>(state.grace_period_id)
            }

            #[doc = concat!("`", stringify!($prefix), "_flavor`: the flavour table `liburcu-cds` calls through.")]
            #[no_mangle]
            pub static [<$prefix _flavor>]: $crate::exports::RcuFlavorStruct = $crate::exports::RcuFlavorStruct {
                read_lock: $crate::c_side::[<$prefix _read_lock>],
                read_unlock: $crate::c_side::[<$prefix _read_unlock>],
                read_ongoing: $crate::c_side::[<$prefix _read_ongoing>],
                read_quiescent_state: $quiescent,
                update_call_rcu: [<$prefix _call_rcu>],
                update_synchronize_rcu: [<$prefix _synchronize_rcu>],
                update_defer_rcu: [<$prefix _defer_rcu>],
                thread_offline: $offline,
                thread_online: $online,
                register_thread: [<$prefix _register_thread>],
                unregister_thread: [<$prefix _unregister_thread>],
                barrier: [<$prefix _barrier>],
                register_rculfhash_atfork: [<$prefix _register_rculfhash_atfork>],
                unregister_rculfhash_atfork: [<$prefix _unregister_rculfhash_atfork>],
                update_start_poll_synchronize_rcu: [<$prefix _start_poll_synchronize_rcu>],
                update_poll_state_synchronize_rcu: [<$prefix _poll_state_synchronize_rcu>],
            };
        }
    };
}

pub(crate) use export_flavour;
