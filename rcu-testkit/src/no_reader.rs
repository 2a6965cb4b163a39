//! `synchronize_rcu` with no reader to wait for returns at once: it
//! completes an empty grace period itself (no barrier, futex or lock
//! hand-off) and is counted as such. Needs a process where no reader holds
//! a grace period up, so a flavour runs it in a test binary of its own.

use rcu_core::{GpState, Stats};

/// The flavour's functions the scenario calls.
pub struct Api {
    /// `synchronize_rcu`.
    pub synchronize: fn(),
    /// `stats`.
    pub stats: fn() -> Stats,
    /// `get_state_synchronize_rcu`.
    pub get_state: fn() -> GpState,
    /// `poll_state_synchronize_rcu`.
    pub poll: fn(GpState) -> bool,
}

/// While the flavour's idle set-up holds (memb: nothing registered; QSBR:
/// every registered thread offline): 1,000 calls each take the fast path
/// and complete one grace period; a cookie taken before a call is satisfied
/// by it; 4 threads calling at once all return.
pub fn synchronize_without_readers_takes_the_fast_path(api: &Api) {
    let before = (api.stats)();
    for _ in 0..1_000 {
        let cookie = (api.get_state)();
        (api.synchronize)();
        assert!((api.poll)(cookie), "a cookie taken before synchronize_rcu is not satisfied by it");
    }
    let after = (api.stats)();
    assert_eq!(after.synchronize_without_readers - before.synchronize_without_readers, 1_000);
    assert_eq!(after.grace_periods - before.grace_periods, 1_000, "one empty grace period per call");

    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| (0..1_000).for_each(|_| (api.synchronize)()));
        }
    });
    let end = (api.stats)();
    assert_eq!(end.synchronize_calls - after.synchronize_calls, 4_000);
    assert!(end.synchronize_without_readers > after.synchronize_without_readers);
}
