/*
 * The part of liburcu 0.13's ABI that stable Rust cannot define: the
 * thread-local reader records (`urcu_memb_reader`, `urcu_qsbr_reader`) and,
 * beside them, the global records (`urcu_memb_gp`, `urcu_qsbr_gp`,
 * `urcu_memb_has_sys_membarrier`), all with the layouts and initial values
 * of liburcu's headers (urcu/static/urcu-common.h, urcu-memb.h,
 * urcu-qsbr.h), plus the function-mode read side, which follows the same
 * counter protocol as the headers' inline code.
 *
 * Written for this project from the headers' declarations; no liburcu code
 * is copied. The grace periods that pair with these readers are rcu-core's
 * (gp/foreign.rs), reached through the accessors at the end: the Rust side
 * must find these objects through the dynamic symbol (GOT), since an
 * executable built with _LGPL_SOURCE may hold a copy-relocated
 * urcu_*_gp, and that copy is the live one.
 */
#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "rcu-capi: liburcu's layouts are reproduced for 64-bit Linux (x86_64, aarch64) only"
#endif

#if defined(__x86_64__)
#define RCU_CAPI_CACHE_LINE 128 /* CAA_CACHE_LINE_SIZE on x86 */
#else
#define RCU_CAPI_CACHE_LINE 64
#endif

struct rcu_capi_list_head {
	struct rcu_capi_list_head *next, *prev;
};

/* struct urcu_gp */
struct rcu_capi_gp {
	unsigned long ctr;
	int32_t futex;
} __attribute__((aligned(RCU_CAPI_CACHE_LINE)));

/* struct urcu_reader (memb) */
struct rcu_capi_memb_reader {
	unsigned long ctr;
	char need_mb;
	struct rcu_capi_list_head node __attribute__((aligned(RCU_CAPI_CACHE_LINE)));
	pthread_t tid;
	unsigned int registered:1;
};

/* struct urcu_qsbr_reader */
struct rcu_capi_qsbr_reader {
	unsigned long ctr;
	struct rcu_capi_list_head node __attribute__((aligned(RCU_CAPI_CACHE_LINE)));
	int waiting;
	pthread_t tid;
	unsigned int registered:1;
};

/* The memb counter encoding (urcu/static/urcu-common.h). */
#define MEMB_GP_COUNT 1UL
#define MEMB_PHASE (1UL << 32)
#define MEMB_NEST_MASK (MEMB_PHASE - 1)
/* The QSBR initial counter (URCU_QSBR_GP_ONLINE). */
#define QSBR_ONLINE 1UL

struct rcu_capi_gp urcu_memb_gp = { .ctr = MEMB_GP_COUNT };
struct rcu_capi_gp urcu_qsbr_gp = { .ctr = QSBR_ONLINE };
/* Set to 1 by the library constructor once the engine uses membarrier:
 * readers then need only a compiler barrier. 0 (a full fence in readers)
 * is always safe. */
int urcu_memb_has_sys_membarrier;

/* Initial-exec: these libraries are loaded with the program (as liburcu's
 * are), and the function-mode read side then costs no __tls_get_addr. */
__thread struct rcu_capi_memb_reader urcu_memb_reader __attribute__((tls_model("initial-exec")));
__thread struct rcu_capi_qsbr_reader urcu_qsbr_reader __attribute__((tls_model("initial-exec")));

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define COMPILER_BARRIER() __atomic_signal_fence(__ATOMIC_SEQ_CST)
#define FENCE() __atomic_thread_fence(__ATOMIC_SEQ_CST)

static void wake_writer(int32_t *futex)
{
	STORE(*futex, 0);
	(void) syscall(SYS_futex, futex, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* ---- memb: the reader's half of each barrier pair (gp/foreign.rs) ---- */

static inline void memb_light_barrier(void)
{
	if (__builtin_expect(LOAD(urcu_memb_has_sys_membarrier), 1))
		COMPILER_BARRIER(); /* the writer's membarrier stands for it */
	else
		FENCE();
}

/* In rcu-capi's Rust side: prints what went wrong and aborts. */
extern void rcu_capi_unregistered_reader(const char *what) __attribute__((noreturn, cold));

void urcu_memb_read_lock(void)
{
	unsigned long tmp = urcu_memb_reader.ctr;

	COMPILER_BARRIER();
	if (__builtin_expect(!(tmp & MEMB_NEST_MASK), 1)) {
		/* liburcu leaves an unregistered reader unprotected, silently;
		 * this check costs one thread-local load on the outermost lock. */
		if (__builtin_expect(!urcu_memb_reader.registered, 0))
			rcu_capi_unregistered_reader("urcu_memb_read_lock");
		/* Outermost: copy the phase; the barrier orders the copy
		 * before the section's loads (pairs with the writer's B1). */
		STORE(urcu_memb_reader.ctr, LOAD(urcu_memb_gp.ctr));
		memb_light_barrier();
	} else {
		STORE(urcu_memb_reader.ctr, tmp + MEMB_GP_COUNT);
	}
}

void urcu_memb_read_unlock(void)
{
	unsigned long tmp = urcu_memb_reader.ctr;

	if (__builtin_expect((tmp & MEMB_NEST_MASK) == MEMB_GP_COUNT, 1)) {
		/* Outermost: the section's loads before the store (pairs with
		 * the writer's B2); the store before the futex load (pairs
		 * with the writer's barrier before it re-reads the words). */
		memb_light_barrier();
		STORE(urcu_memb_reader.ctr, tmp - MEMB_GP_COUNT);
		memb_light_barrier();
		if (__builtin_expect(LOAD(urcu_memb_gp.futex) == -1, 0))
			wake_writer(&urcu_memb_gp.futex);
	} else {
		STORE(urcu_memb_reader.ctr, tmp - MEMB_GP_COUNT);
	}
	COMPILER_BARRIER();
}

int urcu_memb_read_ongoing(void)
{
	return (urcu_memb_reader.ctr & MEMB_NEST_MASK) != 0;
}

/* ---- QSBR ---- */

static inline void qsbr_wake_up_gp(void)
{
	if (__builtin_expect(LOAD(urcu_qsbr_reader.waiting), 0)) {
		STORE(urcu_qsbr_reader.waiting, 0);
		FENCE(); /* the flag, then the -1 the writer stored before it */
		if (LOAD(urcu_qsbr_gp.futex) != -1)
			return;
		wake_writer(&urcu_qsbr_gp.futex);
	}
}

void urcu_qsbr_read_lock(void)
{
}

void urcu_qsbr_read_unlock(void)
{
}

int urcu_qsbr_read_ongoing(void)
{
	return urcu_qsbr_reader.ctr != 0;
}

void urcu_qsbr_quiescent_state(void)
{
	unsigned long gp = LOAD(urcu_qsbr_gp.ctr);

	if (gp == urcu_qsbr_reader.ctr)
		return;
	FENCE(); /* earlier loads before the announcement */
	STORE(urcu_qsbr_reader.ctr, gp);
	FENCE(); /* the announcement before the flag load and later loads */
	qsbr_wake_up_gp();
	FENCE();
}

void urcu_qsbr_thread_offline(void)
{
	FENCE();
	STORE(urcu_qsbr_reader.ctr, 0);
	FENCE();
	qsbr_wake_up_gp();
	COMPILER_BARRIER();
}

void urcu_qsbr_thread_online(void)
{
	COMPILER_BARRIER();
	STORE(urcu_qsbr_reader.ctr, LOAD(urcu_qsbr_gp.ctr));
	FENCE(); /* online before the section's loads */
}

/* ---- accessors for the Rust side (not exported from the .so files) ---- */

struct rcu_capi_gp *rcu_capi_memb_gp(void) { return &urcu_memb_gp; }
struct rcu_capi_gp *rcu_capi_qsbr_gp(void) { return &urcu_qsbr_gp; }
unsigned long *rcu_capi_memb_ctr(void) { return &urcu_memb_reader.ctr; }
unsigned long *rcu_capi_qsbr_ctr(void) { return &urcu_qsbr_reader.ctr; }
int *rcu_capi_qsbr_waiting(void) { return &urcu_qsbr_reader.waiting; }
int *rcu_capi_memb_has_sys_membarrier(void) { return &urcu_memb_has_sys_membarrier; }

int rcu_capi_memb_registered(void) { return urcu_memb_reader.registered; }
int rcu_capi_qsbr_registered(void) { return urcu_qsbr_reader.registered; }

void rcu_capi_memb_set_registered(int registered)
{
	urcu_memb_reader.registered = registered != 0;
	urcu_memb_reader.tid = pthread_self();
}

void rcu_capi_qsbr_set_registered(int registered)
{
	urcu_qsbr_reader.registered = registered != 0;
	urcu_qsbr_reader.tid = pthread_self();
}

/* ---- liburcu's futex fallback (urcu/futex.h) ----
 * The headers' inline futex calls fall back to these when the syscall
 * reports ENOSYS; Linux always has the syscall, so they forward to it. */
#include <time.h>

int compat_futex_noasync(int32_t *uaddr, int op, int32_t val,
		const struct timespec *timeout, int32_t *uaddr2, int32_t val3)
{
	return (int) syscall(SYS_futex, uaddr, op, val, timeout, uaddr2, val3);
}

int compat_futex_async(int32_t *uaddr, int op, int32_t val,
		const struct timespec *timeout, int32_t *uaddr2, int32_t val3)
{
	return (int) syscall(SYS_futex, uaddr, op, val, timeout, uaddr2, val3);
}
