//! What names a run (its flavour and seed) and how each thread derives its
//! own random decisions from the seed.

use rcu_testkit::rng::Rng;

/// The flavour and seed of a run: every failure message carries both.
#[derive(Copy, Clone, Debug)]
pub struct RunLabel {
    /// The flavour's name (`memb`, `qsbr`, `srcu`).
    pub flavour: &'static str,
    /// The run's `--seed`.
    pub seed: u64,
}

/// Role numbers mixed into each thread's seed, so threads of one run do
/// not share a sequence.
pub mod role {
    /// The writer.
    pub const WRITER: u64 = 1;
    /// The readers.
    pub const READER: u64 = 2;
    /// The extra updaters.
    pub const UPDATER: u64 = 3;
    /// The churn threads and their children.
    pub const CHURN: u64 = 4;
    /// The flood threads.
    pub const FLOOD: u64 = 5;
    /// The hand-off readers and their partners.
    pub const HANDOFF: u64 = 6;
    /// The async reader tasks.
    pub const ASYNC: u64 = 7;
}

impl RunLabel {
    /// The generator of thread `index` playing `role` in this run.
    pub fn rng(&self, role: u64, index: u64) -> Rng {
        Rng::for_thread(self.seed, role, index)
    }
}
