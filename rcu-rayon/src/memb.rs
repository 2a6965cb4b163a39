//! Pools for the membarrier flavour.

/// A `ThreadPoolBuilder` whose workers register as memb readers when they
/// start and unregister when they exit. Further settings chain on it.
pub fn pool_builder() -> rayon::ThreadPoolBuilder {
    rayon::ThreadPoolBuilder::new()
        .start_handler(|_| rcu_memb::register_thread())
        .exit_handler(|_| rcu_memb::unregister_thread())
}

/// Runs `f` inside a read-side section of its own (nestable, any thread).
/// The guard, and what is loaded under it, cannot outlive `f`.
#[inline]
pub fn read<R>(f: impl FnOnce(&rcu_memb::ReadGuard) -> R) -> R {
    let guard = rcu_memb::read_lock();
    f(&guard)
}
