//! The table holders: one interface ([`TableHolder`]), one implementation
//! per way a server holds its routing table, and the list the server bench
//! runs ([`HOLDERS`]).
//!
//! A lookup hands back the route's body as an owner ([`TableHolder::Held`])
//! that the response body keeps until hyper has written it, so whatever the
//! owner holds (a cloned body, an `Arc` of the table, a read guard) is held
//! across the response write's `.await`:
//!
//! * [`MembCell`]: `rcu_memb::RcuCell<Table>`; its guard is `!Send`, so
//!   the route's body (a reference-counted `Bytes`) is cloned out and the
//!   guard dropped before any `.await`; `replace` retires the old table
//!   through `kvfree_rcu`;
//! * [`SrcuCell`]: `rcu_srcu::RcuCell<Table>`; its guard is `Send`, so
//!   the guard itself is held across the write, and the body is read in
//!   place; `replace` retires the old table through `kvfree_rcu`;
//! * [`ArcSwapFull`]: `ArcSwap<Table>` read with `load_full`, the `Arc` of
//!   the table held across the write; reloaded with `store`;
//! * [`StdRwLockArc`]: `std::sync::RwLock<Arc<Table>>`, the `Arc` cloned
//!   under the read lock and held across the write;
//! * [`TokioRwLock`]: `tokio::sync::RwLock<Table>`, the owned read guard
//!   held across the write, so a reload waits for every response in
//!   flight.

use super::table::Table;
use std::future::{ready, Future};
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::{Arc, RwLock};

/// What a lookup found: the table's generation and the route's body.
pub struct Found<O> {
    /// Generation of the table the body came from.
    pub generation: u64,
    /// The body, as an owner that keeps it valid.
    pub body: O,
}

/// A way of holding the routing table, read by every request and replaced
/// by the admin task.
pub trait TableHolder: Send + Sync + Sized + 'static {
    /// Name in reports and on the command line.
    const NAME: &'static str;
    /// What a response keeps until it has been written.
    type Held: AsRef<[u8]> + Send + 'static;
    /// A holder of `table`.
    fn new(table: Table) -> Self;
    /// The route at `path` in the current table, if there is one.
    fn lookup(&self, path: &str) -> impl Future<Output = Option<Found<Self::Held>>> + Send;
    /// Publishes `table` and retires the current one.
    fn replace(&self, table: Table) -> impl Future<Output = ()> + Send;
}

/// A route's body reached through a handle on its table (an `Arc`, a read
/// guard): the handle stays alive as long as the body is used.
pub struct RouteIn<T> {
    table: T,
    index: usize,
}

impl<T: Deref<Target = Table>> RouteIn<T> {
    /// The route at `path` in the table behind `table`.
    fn find(table: T, path: &str) -> Option<Found<Self>> {
        let index = table.index_of(path)?;
        Some(Found { generation: table.generation(), body: RouteIn { table, index } })
    }
}

impl<T: Deref<Target = Table>> AsRef<[u8]> for RouteIn<T> {
    fn as_ref(&self) -> &[u8] {
        self.table.body(self.index)
    }
}

/// `rcu_memb::RcuCell<Table>`.
pub struct MembCell(rcu_memb::RcuCell<Table>);

impl TableHolder for MembCell {
    const NAME: &'static str = "rcu-memb-cell";
    type Held = bytes::Bytes;
    fn new(table: Table) -> Self {
        MembCell(rcu_memb::RcuCell::new(table))
    }
    fn lookup(&self, path: &str) -> impl Future<Output = Option<Found<bytes::Bytes>>> + Send {
        // The guard is `!Send` and must not live across an `.await`: the
        // body is cloned out (a reference count) and the guard dropped
        // before the (already complete) future is returned.
        let found = {
            let guard = rcu_memb::read_lock();
            let table = self.0.load(&guard);
            table.index_of(path).map(|i| Found { generation: table.generation(), body: table.body_bytes(i) })
        };
        ready(found)
    }
    fn replace(&self, table: Table) -> impl Future<Output = ()> + Send {
        self.0.replace(table);
        ready(())
    }
}

/// `rcu_srcu::RcuCell<Table>`, its `Send` guard held across the response
/// write.
pub struct SrcuCell(Arc<rcu_srcu::RcuCell<Table>>);

/// A route's body read in place under an srcu guard held with it.
pub struct SrcuRoute {
    /// The table the body is in, loaded under `_guard` from `_cell`.
    table: std::ptr::NonNull<Table>,
    index: usize,
    /// Keeps the table from being freed: a table replaced while the guard
    /// lives is freed only after a grace period, which waits for it.
    _guard: rcu_srcu::ReadGuard,
    /// Keeps the cell, whose drop frees its current table, alive.
    _cell: Arc<rcu_srcu::RcuCell<Table>>,
}

// SAFETY: `table` points into a `Table`, which is `Sync`, and is only read;
// the guard and the cell's `Arc` are `Send`.
unsafe impl Send for SrcuRoute {}

impl AsRef<[u8]> for SrcuRoute {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `table` came from `_cell.load(&_guard)`; the guard's
        // section lasts while `self` does, so the table is not freed (a
        // replaced one waits for a grace period), and `_cell` keeps the
        // cell, whose drop would free its current table, alive.
        unsafe { self.table.as_ref() }.body(self.index)
    }
}

impl TableHolder for SrcuCell {
    const NAME: &'static str = "rcu-srcu-cell";
    type Held = SrcuRoute;
    fn new(table: Table) -> Self {
        SrcuCell(Arc::new(rcu_srcu::RcuCell::new(table)))
    }
    fn lookup(&self, path: &str) -> impl Future<Output = Option<Found<SrcuRoute>>> + Send {
        let guard = rcu_srcu::read_lock();
        let table = self.0.load(&guard);
        let (generation, table_ptr) = (table.generation(), std::ptr::NonNull::from(table));
        let found = table.index_of(path).map(|index| Found {
            generation,
            body: SrcuRoute { table: table_ptr, index, _guard: guard, _cell: Arc::clone(&self.0) },
        });
        ready(found)
    }
    fn replace(&self, table: Table) -> impl Future<Output = ()> + Send {
        self.0.replace(table);
        ready(())
    }
}

/// `arc_swap::ArcSwap<Table>`, read with `load_full`.
pub struct ArcSwapFull(arc_swap::ArcSwap<Table>);

impl TableHolder for ArcSwapFull {
    const NAME: &'static str = "arc-swap-load_full";
    type Held = RouteIn<Arc<Table>>;
    fn new(table: Table) -> Self {
        ArcSwapFull(arc_swap::ArcSwap::from_pointee(table))
    }
    fn lookup(&self, path: &str) -> impl Future<Output = Option<Found<Self::Held>>> + Send {
        ready(RouteIn::find(self.0.load_full(), path))
    }
    fn replace(&self, table: Table) -> impl Future<Output = ()> + Send {
        self.0.store(Arc::new(table));
        ready(())
    }
}

/// `std::sync::RwLock<Arc<Table>>`, the `Arc` cloned under the read lock.
pub struct StdRwLockArc(RwLock<Arc<Table>>);

impl TableHolder for StdRwLockArc {
    const NAME: &'static str = "std-rwlock-arc";
    type Held = RouteIn<Arc<Table>>;
    fn new(table: Table) -> Self {
        StdRwLockArc(RwLock::new(Arc::new(table)))
    }
    fn lookup(&self, path: &str) -> impl Future<Output = Option<Found<Self::Held>>> + Send {
        let table = Arc::clone(&self.0.read().expect("table lock poisoned"));
        ready(RouteIn::find(table, path))
    }
    fn replace(&self, table: Table) -> impl Future<Output = ()> + Send {
        let next = Arc::new(table);
        let old = std::mem::replace(&mut *self.0.write().expect("table lock poisoned"), next);
        // Dropped outside the lock: freed here unless a response holds it.
        drop(old);
        ready(())
    }
}

/// `tokio::sync::RwLock<Table>`, the owned read guard held across the
/// response write.
pub struct TokioRwLock(Arc<tokio::sync::RwLock<Table>>);

impl TableHolder for TokioRwLock {
    const NAME: &'static str = "tokio-rwlock";
    type Held = RouteIn<tokio::sync::OwnedRwLockReadGuard<Table>>;
    fn new(table: Table) -> Self {
        TokioRwLock(Arc::new(tokio::sync::RwLock::new(table)))
    }
    async fn lookup(&self, path: &str) -> Option<Found<Self::Held>> {
        RouteIn::find(Arc::clone(&self.0).read_owned().await, path)
    }
    async fn replace(&self, table: Table) {
        let old = std::mem::replace(&mut *self.0.write().await, table);
        drop(old);
    }
}

/// A holder as the list holds it: its name and how to start a server on it.
pub trait HolderKind: Sync {
    /// Name in reports and on the command line.
    fn name(&self) -> &'static str;
    /// Starts a server holding `table` on `runtime` (see
    /// [`Server::start`](super::http::Server::start)).
    fn start(
        &self,
        runtime: &tokio::runtime::Runtime,
        table: Table,
        reload_period: Option<std::time::Duration>,
    ) -> std::io::Result<super::http::Server>;
}

impl std::fmt::Debug for dyn HolderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The [`HolderKind`] of holder `H`.
pub struct Kind<H>(PhantomData<fn() -> H>);

impl<H> Kind<H> {
    /// The kind of `H`.
    pub const NEW: Self = Kind(PhantomData);
}

impl<H: TableHolder> HolderKind for Kind<H> {
    fn name(&self) -> &'static str {
        H::NAME
    }
    fn start(
        &self,
        runtime: &tokio::runtime::Runtime,
        table: Table,
        reload_period: Option<std::time::Duration>,
    ) -> std::io::Result<super::http::Server> {
        super::http::Server::start::<H>(runtime, table, reload_period)
    }
}

/// Every holder, in report order. A holder joins with one entry.
pub static HOLDERS: &[&dyn HolderKind] = &[
    &Kind::<MembCell>::NEW,
    &Kind::<SrcuCell>::NEW,
    &Kind::<ArcSwapFull>::NEW,
    &Kind::<StdRwLockArc>::NEW,
    &Kind::<TokioRwLock>::NEW,
];

/// The holder named `name`.
pub fn holder_named(name: &str) -> Result<&'static dyn HolderKind, String> {
    HOLDERS.iter().copied().find(|h| h.name() == name).ok_or_else(|| {
        let known: Vec<&str> = HOLDERS.iter().map(|h| h.name()).collect();
        format!("unknown holder `{name}`; known: {}", known.join(", "))
    })
}
