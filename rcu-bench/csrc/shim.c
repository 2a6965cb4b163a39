/*
 * rcu-bench's window onto liburcu (urcu-memb and urcu-qsbr).
 *
 * Built by build.rs twice, once per flavour (-DSHIM_FLAVOUR_MEMB or
 * -DSHIM_FLAVOUR_QSBR): each liburcu flavour keeps its reader state in
 * thread-local variables of its own and must be included in a translation
 * unit of its own. Every exported symbol is prefixed rcubench_memb_ or
 * rcubench_qsbr_ accordingly.
 *
 * Compiled with _LGPL_SOURCE so that liburcu's read-side fast paths
 * (read_lock, read_unlock, quiescent_state, rcu_dereference) are inlined,
 * as liburcu's performance users build it. An FFI call per read would add
 * a call and a return to each read and make liburcu look slower than it is,
 * so the loops whose cost per iteration is the figure (read pair, lookup,
 * quiescent state, the harness's reader loop) run here, in C; the Rust side
 * calls them once per batch. Operations that cost a grace period or a queue
 * insertion (synchronize_rcu, call_rcu, defer_rcu, rcu_barrier) are exported
 * one call at a time: an FFI call is noise beside them.
 */
#define _LGPL_SOURCE
#include <stddef.h>
#include <stdint.h>

#if defined(SHIM_FLAVOUR_MEMB)
#include <urcu/urcu-memb.h>
#define URCU(name) urcu_memb_##name
#define SHIM(name) rcubench_memb_##name
#define SHIM_IS_QSBR 0
#elif defined(SHIM_FLAVOUR_QSBR)
#include <urcu/urcu-qsbr.h>
#define URCU(name) urcu_qsbr_##name
#define SHIM(name) rcubench_qsbr_##name
#define SHIM_IS_QSBR 1
#else
#error "define SHIM_FLAVOUR_MEMB or SHIM_FLAVOUR_QSBR"
#endif

/* QSBR readers announce a quiescent state every this many reads, as
 * liburcu's own test_urcu_qsbr does (and the Rust harness does too). */
#define QS_EVERY_MASK ((UINT64_C(1) << 10) - 1)

/* ---- single operations -------------------------------------------------- */

void SHIM(register_thread)(void) { URCU(register_thread)(); }
void SHIM(unregister_thread)(void) { URCU(unregister_thread)(); }
void SHIM(read_lock)(void) { URCU(read_lock)(); }
void SHIM(read_unlock)(void) { URCU(read_unlock)(); }
int SHIM(read_ongoing)(void) { return URCU(read_ongoing)(); }
void SHIM(quiescent_state)(void) { URCU(quiescent_state)(); }
void SHIM(thread_offline)(void) { URCU(thread_offline)(); }
void SHIM(thread_online)(void) { URCU(thread_online)(); }
void SHIM(synchronize_rcu)(void) { URCU(synchronize_rcu)(); }

void SHIM(call_rcu)(struct rcu_head *head, void (*func)(struct rcu_head *head))
{
	URCU(call_rcu)(head, func);
}

void SHIM(rcu_barrier)(void) { URCU(barrier)(); }

int SHIM(defer_register_thread)(void) { return URCU(defer_register_thread)(); }
void SHIM(defer_unregister_thread)(void) { URCU(defer_unregister_thread)(); }
void SHIM(defer_rcu)(void (*fct)(void *p), void *p) { URCU(defer_rcu)(fct, p); }
void SHIM(defer_barrier)(void) { URCU(defer_barrier)(); }

/* sizeof(struct rcu_head), checked against the Rust mirror by a test. */
size_t SHIM(rcu_head_size)(void) { return sizeof(struct rcu_head); }

/* ---- loops whose per-iteration cost is the figure ----------------------- */

/* What every published node starts with (the Rust `Node`'s first field). */
struct rcubench_node {
	uint64_t value;
};

/* A read-mostly table: `len` sorted keys (the Rust `Table`). */
struct rcubench_table {
	uint64_t len;
	uint64_t keys[];
};

/*
 * `iters` read-side sections, each dereferencing the node published in
 * `*slot` once. Returns the sum of the values read so the compiler keeps
 * every load. The calling thread must be registered (and online, QSBR).
 */
uint64_t SHIM(read_loop)(uint64_t iters, struct rcubench_node *const *slot)
{
	uint64_t sum = 0;

	while (iters--) {
		URCU(read_lock)();
		sum += rcu_dereference(*(struct rcubench_node **)slot)->value;
		URCU(read_unlock)();
	}
	return sum;
}

/*
 * Whether `key` is in `t`: a branch-free lower-bound search (the loop
 * compiles to a conditional move), the same loop as rcu-bench's Rust
 * `Table::lookup`. Written branch-free on both sides so that neither
 * compiler's choice between branches and cmov for a plain binary search
 * decides the comparison: the figure is meant to be the read-side cost
 * around a fixed amount of work.
 */
static inline int table_lookup(const struct rcubench_table *t, uint64_t key)
{
	uint64_t base = 0, len = t->len, idx;

	if (len == 0)
		return 0;
	while (len > 1) {
		uint64_t half = len / 2;

		base = t->keys[base + half] < key ? base + half : base;
		len -= half;
	}
	idx = base + (t->keys[base] < key);
	return idx < t->len && t->keys[idx] == key;
}

/*
 * `iters` lookups, each in its own read-side section over the table
 * published in `*slot`; key i is `(i * stride) % key_space`. QSBR announces
 * a quiescent state every 1,024 lookups (a writer may be waiting). Returns
 * the number of keys found.
 */
uint64_t SHIM(lookup_loop)(uint64_t iters, struct rcubench_table *const *slot,
			   uint64_t stride, uint64_t key_space)
{
	uint64_t found = 0, key = 0, i;

	for (i = 1; i <= iters; i++) {
		const struct rcubench_table *t;

		URCU(read_lock)();
		t = rcu_dereference(*(struct rcubench_table **)slot);
		found += table_lookup(t, key);
		URCU(read_unlock)();
		key += stride;
		if (key >= key_space)
			key -= key_space;
		if (SHIM_IS_QSBR && (i & QS_EVERY_MASK) == 0)
			URCU(quiescent_state)();
	}
	return found;
}

/* `iters` quiescent states (QSBR; a no-op loop for memb). */
void SHIM(quiescent_loop)(uint64_t iters)
{
	while (iters--) {
		URCU(quiescent_state)();
		cmm_barrier();
	}
}

/* The harness's reader thread (the Rust `ReaderParams`). */
struct rcubench_reader {
	struct rcubench_node *const *slot; /* the published node */
	const int32_t *stop;		     /* nonzero: leave the loop */
	uint64_t *progress;		     /* reads so far, own cache line */
	uint64_t read_cs_len;		     /* cpu_relax loops inside a section */
	uint64_t expected;		     /* the value every live node holds */
	uint64_t mismatches;		     /* out: other values seen */
};

/*
 * test_urcu's reader loop: read-side section, dereference, check the value,
 * optional busy loop inside the section, count; QSBR announces a quiescent
 * state every 1,024 reads. The count is published after every read (a plain
 * store to the reader's own cache line, as test_urcu's per-thread counter)
 * so the Rust side can discard a warm-up period. The thread must be
 * registered; returns the number of reads.
 */
uint64_t SHIM(reader_run)(struct rcubench_reader *r)
{
	uint64_t reads = 0, mismatches = 0;

	for (;;) {
		struct rcubench_node *node;

		URCU(read_lock)();
		node = rcu_dereference(*(struct rcubench_node **)r->slot);
		if (caa_unlikely(node->value != r->expected))
			mismatches++;
		if (caa_unlikely(r->read_cs_len)) {
			uint64_t loops = r->read_cs_len;

			while (loops--)
				caa_cpu_relax();
		}
		URCU(read_unlock)();
		reads++;
		/* Relaxed: a statistic, read by the sampler. */
		__atomic_store_n(r->progress, reads, __ATOMIC_RELAXED);
		if (SHIM_IS_QSBR && caa_unlikely((reads & QS_EVERY_MASK) == 0))
			URCU(quiescent_state)();
		/* Relaxed, as test_urcu's test_duration_read(). */
		if (caa_unlikely(__atomic_load_n(r->stop, __ATOMIC_RELAXED)))
			break;
	}
	r->mismatches = mismatches;
	return reads;
}

/* ---- grace-period count (QSBR only: memb's counter only flips) ---------- */

/* Grace periods completed so far: urcu_qsbr_gp.ctr advances by
 * URCU_QSBR_GP_CTR once per grace period. memb returns UINT64_MAX (its
 * counter flips a phase bit; count its membarriers instead). */
uint64_t SHIM(grace_periods)(void)
{
#if SHIM_IS_QSBR
	return CMM_LOAD_SHARED(urcu_qsbr_gp.ctr) / URCU_QSBR_GP_CTR;
#else
	return UINT64_MAX;
#endif
}
