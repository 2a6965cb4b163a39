//! Runtimes for the membarrier flavour.
//!
//! Any thread may read memb-protected data, so every runtime already
//! works; these builders register each runtime thread when it starts (so
//! its first read takes no slow path) and unregister it when it stops, so
//! a dropped runtime leaves no registration behind. That covers the
//! scheduler's workers and the blocking pool's threads (`spawn_blocking`),
//! which tokio starts through the same hooks. The thread that calls
//! `block_on` (where a current-thread runtime runs its tasks) is not started
//! by tokio: it registers at its first read and stays registered until it
//! exits, as any memb reader does.

/// A multi-thread `tokio::runtime::Builder` whose threads register as memb
/// readers when they start and unregister when they stop. Further settings
/// chain on it (`enable_all()`, `worker_threads(n)`...).
pub fn runtime_builder_multi_thread() -> tokio::runtime::Builder {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    install(&mut builder);
    builder
}

/// A current-thread `tokio::runtime::Builder` whose blocking-pool threads
/// register as memb readers when they start and unregister when they stop;
/// tasks run on the thread that calls `block_on`, which registers at its
/// first read.
pub fn runtime_builder_current_thread() -> tokio::runtime::Builder {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    install(&mut builder);
    builder
}

fn install(builder: &mut tokio::runtime::Builder) {
    builder.on_thread_start(rcu_memb::register_thread).on_thread_stop(rcu_memb::unregister_thread);
}

/// Runs `f` inside a read-side section of its own (nestable, any thread).
/// The guard, and what is loaded under it, cannot outlive `f`, so it cannot
/// be held across an `.await`.
#[inline]
pub fn read<R>(f: impl FnOnce(&rcu_memb::ReadGuard) -> R) -> R {
    let guard = rcu_memb::read_lock();
    f(&guard)
}
