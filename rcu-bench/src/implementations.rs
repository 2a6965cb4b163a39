//! The implementations under test, in report order: the one list the
//! workloads, the benches and the command line iterate. A flavour of this
//! workspace joins with one `Ours` entry.

use crate::peer::Peer;
use crate::peers::{Epoch, Ours};

/// An implementation under test: a handle on its [`Peer`].
#[derive(Clone, Copy)]
pub struct Implementation(&'static dyn Peer);

/// Every implementation built into this binary, in report order.
static ALL: &[Implementation] = &[
    Implementation(&Ours::<rcu_memb::Memb>::new("rcu-memb", "memb", rcu_rayon::memb::pool_builder, |f| {
        rcu_rayon::memb::read(|g| f(g))
    })),
    Implementation(&Ours::<rcu_qsbr::Qsbr>::new("rcu-qsbr", "qsbr", rcu_rayon::qsbr::pool_builder, |f| {
        rcu_rayon::qsbr::read(|g| f(g))
    })),
    Implementation(&Epoch),
    #[cfg(feature = "liburcu")]
    Implementation(&crate::liburcu::UrcuPeer::<crate::liburcu::LibMemb>::new()),
    #[cfg(feature = "liburcu")]
    Implementation(&crate::liburcu::UrcuPeer::<crate::liburcu::LibQsbr>::new()),
];

impl Implementation {
    /// Every implementation built into this binary, in report order.
    pub fn all() -> &'static [Implementation] {
        ALL
    }

    /// The implementations with a synchronous grace-period wait.
    pub fn with_synchronize() -> impl Iterator<Item = Implementation> {
        ALL.iter().copied().filter(|i| i.has_synchronize())
    }

    /// Parses a name or its alias (`memb`, `qsbr`, `epoch`, `urcu-memb`).
    pub fn from_name(name: &str) -> Result<Self, String> {
        ALL.iter().copied().find(|i| i.name() == name || i.alias() == name).ok_or_else(|| {
            let known: Vec<&str> = ALL.iter().map(|i| i.name()).collect();
            let hint = if name.starts_with("liburcu") || name.starts_with("urcu") {
                " (liburcu implementations need the `liburcu` feature: \
                 cargo run --release -p rcu-bench --features liburcu -- ...)"
            } else {
                ""
            };
            format!("unknown implementation `{name}`; known: {}{hint}", known.join(", "))
        })
    }

    /// The implementation named `name`.
    ///
    /// # Panics
    ///
    /// If none is (for tests and fixed lists).
    pub fn named(name: &str) -> Self {
        Self::from_name(name).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl std::ops::Deref for Implementation {
    type Target = dyn Peer + 'static;
    fn deref(&self) -> &(dyn Peer + 'static) {
        self.0
    }
}

impl PartialEq for Implementation {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Implementation {}

impl std::hash::Hash for Implementation {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl std::fmt::Debug for Implementation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for Implementation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
