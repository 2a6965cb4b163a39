#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

/// For code generic over the flavour: the interface both flavours
/// implement, and the cell, optional cell and retired value of any flavour
/// (`rcu::RcuCell<T, F>`; `rcu::memb::RcuCell<T>` names memb's).
pub use rcu_core::{RcuCell, RcuFlavour, RcuOption, ReadSection, Retired};
/// The membarrier flavour (see [`rcu_memb`]).
pub use rcu_memb as memb;
/// The QSBR flavour (see [`rcu_qsbr`]).
pub use rcu_qsbr as qsbr;
/// The sleepable flavour (see [`rcu_srcu`]).
pub use rcu_srcu as srcu;

#[cfg(test)]
mod tests {
    /// The flavour crates' docs include `docs/which_flavour.md`; README
    /// (this crate's docs) carries the same section verbatim, so the three
    /// cannot drift apart.
    #[test]
    fn readme_carries_the_which_flavour_section_verbatim() {
        let readme = include_str!("../README.md");
        let section = include_str!("../docs/which_flavour.md");
        assert!(readme.contains(section), "README.md must contain docs/which_flavour.md verbatim; copy it over");
    }
}
