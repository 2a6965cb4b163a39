//! The data readers reach and writers replace, shared by every
//! implementation (and laid out `repr(C)` so the liburcu shim reads the same
//! bytes).
//!
//! * [`Node`]: what `rcu-bench run` publishes, in the manner of liburcu's
//!   `test_urcu` (an `int` set to 8 there; a `u64` set to [`NODE_VALUE`]
//!   here). Dropping a node poisons it to [`NODE_POISON`] just before its
//!   memory is freed, as `test_urcu` does, whatever path retires it, so a
//!   reader that counts a mismatch has seen a node freed too early.
//! * [`Table`]: a read-mostly sorted key table for the lookup benchmark; the
//!   Rust [`Table::lookup`] and the shim's `table_lookup` are the same loop.
//! * [`RawNode`]: a node with an intrusive head, for `call_rcu_raw`.
//! * [`Config`]: the configuration value of `rcu-bench config`.

use rcu_core::RcuHead;
use std::ffi::c_void;
use std::ptr::NonNull;

/// The value of every live [`Node`].
pub const NODE_VALUE: u64 = 8;
/// What a writer stores into a node just before freeing it.
pub const NODE_POISON: u64 = 0;

/// Room for liburcu's `struct rcu_head` (a queue link and a callback), in
/// every node whatever the implementation, so all implementations allocate
/// nodes of the same size.
#[repr(C)]
#[derive(Debug)]
pub struct UrcuHead {
    next: *mut c_void,
    func: Option<unsafe extern "C" fn(*mut UrcuHead)>,
}

impl UrcuHead {
    /// An unqueued head.
    pub const fn new() -> Self {
        UrcuHead { next: std::ptr::null_mut(), func: None }
    }
}

impl Default for UrcuHead {
    fn default() -> Self {
        Self::new()
    }
}

/// The object readers dereference in `rcu-bench run` and the read benches.
#[repr(C)]
#[derive(Debug)]
pub struct Node {
    /// [`NODE_VALUE`] while reachable, [`NODE_POISON`] once freed.
    pub value: u64,
    /// Used only when liburcu's `call_rcu` retires the node.
    pub urcu_head: UrcuHead,
}

// SAFETY: the raw pointers in `urcu_head` are touched only by liburcu's
// call_rcu queue while it owns the node (between call_rcu and the callback);
// otherwise a Node is plain data.
unsafe impl Send for Node {}
// SAFETY: as above; shared readers only read `value`.
unsafe impl Sync for Node {}

impl Drop for Node {
    fn drop(&mut self) {
        // Poison before the memory goes back to the allocator, whichever
        // path retires the node (test_urcu does `*old = 0; free(old)`), so a
        // reader that still sees the node counts a mismatch. Volatile: a
        // store right before deallocation is otherwise a dead store the
        // compiler may remove.
        // SAFETY: `self.value` is a valid, aligned, exclusively borrowed u64.
        unsafe { std::ptr::write_volatile(&mut self.value, NODE_POISON) };
    }
}

impl Node {
    /// Byte offset of `urcu_head`, for liburcu callbacks that get the head.
    pub const HEAD_OFFSET: usize = std::mem::offset_of!(Node, urcu_head);

    /// A live node.
    pub fn new_boxed() -> Box<Node> {
        Box::new(Node { value: NODE_VALUE, urcu_head: UrcuHead::new() })
    }
}

/// A sorted table of keys (`repr(C)` with a trailing array of `len` keys,
/// as the shim's `struct rcubench_table`).
#[repr(C)]
#[derive(Debug)]
pub struct Table {
    /// Number of keys.
    pub len: u64,
    /// The keys, sorted ascending; `len` of them.
    pub keys: [u64; TABLE_LEN],
}

/// Keys per table in the lookup benchmark (8 KiB of keys: L1-resident on
/// most machines, so the figure is the read-side cost plus a short search).
pub const TABLE_LEN: usize = 1024;

impl Table {
    /// Keys `0, 2, 4, ...`: lookups of odd keys miss, of even keys hit.
    pub fn new_boxed() -> Box<Table> {
        let mut t = Box::new(Table { len: TABLE_LEN as u64, keys: [0; TABLE_LEN] });
        for (i, k) in t.keys.iter_mut().enumerate() {
            *k = 2 * i as u64;
        }
        t
    }

    /// Whether `key` is in the table: a branch-free lower-bound search,
    /// the same loop as the shim's `table_lookup` (see there for why it is
    /// branch-free), so each implementation does the same work per read.
    #[inline]
    pub fn lookup(&self, key: u64) -> bool {
        let keys = &self.keys[..self.len as usize];
        if keys.is_empty() {
            return false;
        }
        let (mut base, mut len) = (0usize, keys.len());
        while len > 1 {
            let half = len / 2;
            // select_unpredictable: asks for a conditional move, as the C
            // side's ternary gets from gcc; a branch here mispredicts on
            // about half the steps.
            base = std::hint::select_unpredictable(keys[base + half] < key, base + half, base);
            len -= half;
        }
        let idx = base + (keys[base] < key) as usize;
        idx < keys.len() && keys[idx] == key
    }

    /// The key space lookups walk: twice the table, so half the keys hit.
    pub const KEY_SPACE: u64 = 2 * TABLE_LEN as u64;
    /// Step between successive keys: odd and coprime with the key space,
    /// so every key is visited and successive searches take different paths.
    pub const KEY_STRIDE: u64 = 617;
}

/// A node with an intrusive head, for `call_rcu_raw`.
#[repr(C)]
#[derive(Debug)]
pub struct RawNode {
    /// The intrusive head (first field, so head and node share an address).
    pub head: RcuHead,
    /// Payload, the same size as [`crate::workload::Node`]'s.
    pub value: u64,
}

impl RawNode {
    /// A node with an unqueued head.
    pub fn new_boxed() -> Box<RawNode> {
        Box::new(RawNode { head: RcuHead::new(), value: NODE_VALUE })
    }
}

/// Frees a [`RawNode`] from its head: the `func` passed to `call_rcu_raw`.
///
/// # Safety
/// `head` is the head of a `Box<RawNode>` leaked with `Box::into_raw`, and
/// this runs once.
pub unsafe fn free_raw_node(head: NonNull<RcuHead>) {
    // SAFETY: `head` is the first field of a repr(C) RawNode leaked from a
    // Box (precondition), so the cast gives back that box.
    drop(unsafe { Box::from_raw(head.cast::<RawNode>().as_ptr()) });
}

/// Limits per configuration value (a power of two: picking one is a mask).
const LIMITS: usize = 8;
/// The configuration value: a generation, a few limits and a name (so
/// building and dropping one allocates, as a real configuration does).
#[derive(Debug)]
pub struct Config {
    generation: u64,
    /// `generation + k + 1`: never 0 while the value lives; `Drop` zeroes
    /// them.
    limits: [u64; LIMITS],
    name: String,
}

impl Config {
    /// Generation `generation`, every field derived from it.
    pub fn new(generation: u64) -> Self {
        let limits = std::array::from_fn(|k| generation + k as u64 + 1);
        Config { generation, limits, name: format!("config-{generation}") }
    }

    /// What a request reads: one limit (the `i`-th, modulo the count).
    /// False once the value was dropped. One load: a request reads a field
    /// or two of its configuration, so the read is mostly the cost of
    /// reaching the value, which is what this bench compares.
    #[inline]
    pub fn read_ok(&self, i: u64) -> bool {
        self.limits[(i as usize) & (LIMITS - 1)] != 0
    }

    /// The generation.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        // Poison, so a reader that still reaches the value counts a
        // mismatch. Volatile: stores right before deallocation are
        // otherwise dead stores.
        for limit in &mut self.limits {
            // SAFETY: `limit` is a valid, aligned, exclusively borrowed u64.
            unsafe { std::ptr::write_volatile(limit, 0) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_exactly_the_even_keys_of_the_table() {
        let table = Table::new_boxed();
        for k in 0..Table::KEY_SPACE + 3 {
            assert_eq!(table.lookup(k), k % 2 == 0 && k < Table::KEY_SPACE, "key {k}");
        }
    }

    #[test]
    fn the_key_walk_visits_every_key_once_per_key_space() {
        let mut seen = vec![false; Table::KEY_SPACE as usize];
        let mut key = 0;
        for _ in 0..Table::KEY_SPACE {
            assert!(!seen[key as usize], "key {key} visited twice");
            seen[key as usize] = true;
            key = (key + Table::KEY_STRIDE) % Table::KEY_SPACE;
        }
    }

    #[test]
    fn a_dropped_config_fails_its_check() {
        let mut c = std::mem::ManuallyDrop::new(Config::new(5));
        assert!((0..LIMITS as u64).all(|i| c.read_ok(i)));
        assert_eq!((c.generation(), c.name()), (5, "config-5"));
        // SAFETY: dropped in place once; only its fields are read after,
        // which Drop leaves initialised (the String's buffer is not read).
        unsafe { std::mem::ManuallyDrop::drop(&mut c) };
        assert!(!c.read_ok(0), "Drop must poison the value");
    }
}
