//! Sealing the partial blocks of live owners (the drain timer,
//! `rcu_barrier`), through the steal of `defer/deferrals.rs`.

use super::state::Kvfree;
use crate::defer::deferrals::{Deferrals, Steal};
use crate::gp::sequence::GpSequence;

impl Kvfree {
    /// Takes the partial blocks `what` names from every slot and seals
    /// them (a steal, see `defer/deferrals.rs`). Returns the blocks and
    /// lists taken, and whether a block was sealed.
    pub(crate) fn steal(
        &self,
        defer: &Deferrals,
        gp: &GpSequence,
        what: Steal,
        under_pressure: impl Fn() -> bool,
    ) -> (usize, bool) {
        let mut sealed = false;
        let n = defer.steal(what, |b, reason| sealed |= self.seal_or_recycle(gp, b, reason, &under_pressure));
        (n, sealed)
    }
}
