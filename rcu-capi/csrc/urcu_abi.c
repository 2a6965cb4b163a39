/*
 * The part of liburcu's ABI (0.13 to 0.15) that stable Rust cannot define:
 * the thread-local reader records (`urcu_memb_reader`, `urcu_mb_reader`,
 * `urcu_qsbr_reader`, and bp's `urcu_bp_reader` pointer) and, beside them,
 * the global records (`urcu_*_gp`, `urcu_memb_has_sys_membarrier`,
 * `urcu_bp_has_sys_membarrier`), all with the layouts and initial values of
 * liburcu's headers (urcu/static/urcu-common.h, urcu-memb.h, urcu-mb.h,
 * urcu-qsbr.h, urcu-bp.h), plus the function-mode read side, which follows
 * the same counter protocol as the headers' inline code.
 *
 * Written for this project from the headers' declarations; no liburcu code
 * is copied. The grace periods that pair with these readers are rcu-core's
 * (gp/foreign.rs), reached through the accessors at the end: the Rust side
 * must find these objects through the dynamic symbol (GOT), since an
 * executable built with _LGPL_SOURCE may hold a copy-relocated
 * urcu_*_gp, and that copy is the live one.
 *
 * Unregistered readers (function ABI): liburcu leaves a memb, mb or QSBR
 * section on an unregistered thread unprotected. Here the first such
 * section registers the thread (rcu-capi's `flavour::register_lazily`):
 * memb and mb stay registered until the thread exits (as bp does); a QSBR
 * thread registered this way is online only inside its sections, since it
 * never announces quiescent states. RCU_CAPI_STRICT=1 makes both abort
 * with a message instead (a debugging aid).
 */
#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sched.h>

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

/* struct urcu_gp (memb, mb, QSBR) */
struct rcu_capi_gp {
	unsigned long ctr;
	int32_t futex;
} __attribute__((aligned(RCU_CAPI_CACHE_LINE)));

/* struct urcu_bp_gp: no futex word (bp's writer polls) */
struct rcu_capi_bp_gp {
	unsigned long ctr;
} __attribute__((aligned(RCU_CAPI_CACHE_LINE)));

/*
 * struct urcu_reader (memb and mb). The fields after `registered` live in
 * the padding liburcu's layout leaves before the next cache line: the
 * inline read side never touches them, and this library defines the
 * object, so its size is ours.
 */
struct rcu_capi_reader {
	unsigned long ctr;
	char need_mb;
	struct rcu_capi_list_head node __attribute__((aligned(RCU_CAPI_CACHE_LINE)));
	pthread_t tid;
	unsigned int registered:1;
	unsigned int lazy:1; /* registered by its first section, not by the program */
	unsigned int exiting:1; /* its exit destructor ran: no more lazy registration */
};

/* struct urcu_qsbr_reader, with the same kind of private tail. */
struct rcu_capi_qsbr_reader {
	unsigned long ctr;
	struct rcu_capi_list_head node __attribute__((aligned(RCU_CAPI_CACHE_LINE)));
	int waiting;
	pthread_t tid;
	unsigned int registered:1;
	unsigned int lazy:1;
	unsigned int exiting:1;
	unsigned int lazy_depth; /* nesting of a lazily registered thread's sections */
};

/* struct urcu_bp_reader, allocated by rcu_capi_bp_new_record. */
struct rcu_capi_bp_reader {
	unsigned long ctr;
	struct rcu_capi_list_head node __attribute__((aligned(RCU_CAPI_CACHE_LINE)));
	pthread_t tid;
	int alloc;
};

/* The phase-flip counter encoding (urcu/static/urcu-common.h, urcu-bp.h). */
#define GP_COUNT 1UL
#define PHASE (1UL << 32)
#define NEST_MASK (PHASE - 1)
/* The QSBR initial counter (URCU_QSBR_GP_ONLINE). */
#define QSBR_ONLINE 1UL

struct rcu_capi_gp urcu_memb_gp = { .ctr = GP_COUNT };
struct rcu_capi_gp urcu_mb_gp = { .ctr = GP_COUNT };
struct rcu_capi_gp urcu_qsbr_gp = { .ctr = QSBR_ONLINE };
struct rcu_capi_bp_gp urcu_bp_gp = { .ctr = GP_COUNT };
/* Set to 1 by the library constructor once the engine uses membarrier:
 * readers then need only a compiler barrier. 0 (a full fence in readers)
 * is always safe. */
int urcu_memb_has_sys_membarrier;
int urcu_bp_has_sys_membarrier;

/* Initial-exec: these libraries are loaded with the program (as liburcu's
 * are), and the function-mode read side then costs no __tls_get_addr. */
#define TLS_IE __attribute__((tls_model("initial-exec")))
__thread struct rcu_capi_reader urcu_memb_reader TLS_IE;
__thread struct rcu_capi_reader urcu_mb_reader TLS_IE;
__thread struct rcu_capi_qsbr_reader urcu_qsbr_reader TLS_IE;
__thread struct rcu_capi_bp_reader *urcu_bp_reader TLS_IE;

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define COMPILER_BARRIER() __atomic_signal_fence(__ATOMIC_SEQ_CST)
#define FENCE() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* The reader's half of the futex protocol (gp/foreign.rs): it saw the -1 a
 * sleeping writer stored; 0 spares later unlocks the wake-up (relaxed: the
 * writer re-scans after any wake-up, and its FUTEX_WAIT compares the word
 * in the kernel, so a lost 0 costs one spurious scan, never a lost wake). */
static void wake_writer(int32_t *futex)
{
	STORE(*futex, 0);
	(void) syscall(SYS_futex, futex, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* In rcu-capi's Rust side (flavour.rs): registers the calling thread for
 * its first section (or, with RCU_CAPI_STRICT=1, prints and aborts). */
extern void rcu_capi_memb_register_lazily(void) __attribute__((cold));
extern void rcu_capi_mb_register_lazily(void) __attribute__((cold));
extern void rcu_capi_qsbr_register_lazily(void) __attribute__((cold));
/* bp's registration, exported under liburcu's name (bp.rs). */
extern void urcu_bp_register(void);

/* ---- the phase-flip read side (memb, mb, bp), once ----
 * `barrier` is the reader's half of each pair with the writer's B1/B2
 * (gp/grace_period.rs): a compiler barrier when the writer's membarrier
 * stands for it, a fence otherwise. */

static inline void phase_flip_lock(unsigned long *ctr, const unsigned long *gp_ctr, void (*barrier)(void),
		void (*outermost)(void))
{
	unsigned long tmp = *ctr;

	if (LIKELY(!(tmp & NEST_MASK))) {
		outermost();
		/* Outermost: copy the phase; the barrier orders the copy
		 * before the section's loads (pairs with the writer's B1). */
		STORE(*ctr, LOAD(*gp_ctr));
		barrier();
	} else {
		STORE(*ctr, tmp + GP_COUNT);
	}
}

/* Returns whether the outermost section ended (the caller may then have a
 * writer to wake). */
static inline int phase_flip_unlock(unsigned long *ctr, void (*barrier)(void))
{
	unsigned long tmp = *ctr;

	if (LIKELY((tmp & NEST_MASK) == GP_COUNT)) {
		/* Outermost: the section's loads before the store (pairs with
		 * the writer's B2); the store before the futex load (pairs
		 * with the writer's barrier before it re-reads the words). */
		barrier();
		STORE(*ctr, tmp - GP_COUNT);
		barrier();
		return 1;
	}
	STORE(*ctr, tmp - GP_COUNT);
	return 0;
}

static inline void memb_light_barrier(void)
{
	if (LIKELY(LOAD(urcu_memb_has_sys_membarrier)))
		COMPILER_BARRIER(); /* the writer's membarrier stands for it */
	else
		FENCE();
}

static inline void bp_light_barrier(void)
{
	if (LIKELY(LOAD(urcu_bp_has_sys_membarrier)))
		COMPILER_BARRIER();
	else
		FENCE();
}

static inline void full_fence(void)
{
	FENCE();
}

static inline void nothing(void)
{
}

/* ---- memb ---- */

/* On the outermost lock, one thread-local load: a thread's first section
 * registers it (liburcu would leave it unprotected). */
static inline void memb_registered(void)
{
	if (UNLIKELY(!urcu_memb_reader.registered))
		rcu_capi_memb_register_lazily();
}

void urcu_memb_read_lock(void)
{
	COMPILER_BARRIER();
	phase_flip_lock(&urcu_memb_reader.ctr, &urcu_memb_gp.ctr, memb_light_barrier, memb_registered);
}

void urcu_memb_read_unlock(void)
{
	if (phase_flip_unlock(&urcu_memb_reader.ctr, memb_light_barrier)
	    && UNLIKELY(LOAD(urcu_memb_gp.futex) == -1))
		wake_writer(&urcu_memb_gp.futex);
	COMPILER_BARRIER();
}

int urcu_memb_read_ongoing(void)
{
	return (urcu_memb_reader.ctr & NEST_MASK) != 0;
}

/* ---- mb: readers fence themselves; the writer needs no membarrier ---- */

static inline void mb_registered(void)
{
	if (UNLIKELY(!urcu_mb_reader.registered))
		rcu_capi_mb_register_lazily();
}

void urcu_mb_read_lock(void)
{
	COMPILER_BARRIER();
	phase_flip_lock(&urcu_mb_reader.ctr, &urcu_mb_gp.ctr, full_fence, mb_registered);
}

void urcu_mb_read_unlock(void)
{
	if (phase_flip_unlock(&urcu_mb_reader.ctr, full_fence)
	    && UNLIKELY(LOAD(urcu_mb_gp.futex) == -1))
		wake_writer(&urcu_mb_gp.futex);
	COMPILER_BARRIER();
}

int urcu_mb_read_ongoing(void)
{
	return (urcu_mb_reader.ctr & NEST_MASK) != 0;
}

/* ---- bp: the first section registers (liburcu-bp's own semantics) ---- */

void urcu_bp_read_lock(void)
{
	if (UNLIKELY(!urcu_bp_reader))
		urcu_bp_register();
	COMPILER_BARRIER();
	phase_flip_lock(&urcu_bp_reader->ctr, &urcu_bp_gp.ctr, bp_light_barrier, nothing);
}

void urcu_bp_read_unlock(void)
{
	/* No futex: bp's writer polls (rcu-core's ForeignStyle::polled). */
	(void) phase_flip_unlock(&urcu_bp_reader->ctr, bp_light_barrier);
	COMPILER_BARRIER();
}

int urcu_bp_read_ongoing(void)
{
	if (UNLIKELY(!urcu_bp_reader))
		urcu_bp_register();
	return (urcu_bp_reader->ctr & NEST_MASK) != 0;
}

/* ---- QSBR ---- */

static inline void qsbr_wake_up_gp(void)
{
	if (UNLIKELY(LOAD(urcu_qsbr_reader.waiting))) {
		STORE(urcu_qsbr_reader.waiting, 0);
		FENCE(); /* the flag, then the -1 the writer stored before it */
		if (LOAD(urcu_qsbr_gp.futex) != -1)
			return;
		wake_writer(&urcu_qsbr_gp.futex);
	}
}

void urcu_qsbr_thread_offline(void)
{
	/* The section's loads before the offline store: pairs with the
	 * writer's fence after its scan (gp/grace_period.rs, Increment). */
	FENCE();
	STORE(urcu_qsbr_reader.ctr, 0);
	/* The offline store before the `waiting` load: a store-buffering pair
	 * with the writer's announce-then-fence before it re-scans. */
	FENCE();
	qsbr_wake_up_gp();
	COMPILER_BARRIER();
}

/* Online: the store before the section's loads; pairs with the writer's
 * fence after its increment (either its scan sees this thread online, or
 * this thread's loads see what the writer unpublished). */
static inline void qsbr_online(void)
{
	COMPILER_BARRIER();
	STORE(urcu_qsbr_reader.ctr, LOAD(urcu_qsbr_gp.ctr));
	FENCE();
}

/* A lazily registered thread between its sections stays offline: it never
 * announces quiescent states, so online it would hold grace periods up
 * forever (liburcu ignores such calls too: the thread is not registered).
 * Inline (_LGPL_SOURCE) calls do not pass here: they are the program's. */
#define QSBR_LAZY_OUTSIDE_SECTION() \
	(UNLIKELY(urcu_qsbr_reader.lazy) && !urcu_qsbr_reader.lazy_depth)

void urcu_qsbr_thread_online(void)
{
	if (QSBR_LAZY_OUTSIDE_SECTION())
		return;
	qsbr_online();
}

/* A section of a thread the program did not register: register it (once),
 * and be online for the section only. Online before the depth counts it,
 * and again after if a signal handler's section ran in between and took
 * the thread offline at its end: a handler that sees the depth counted
 * finds the thread online already. */
static void __attribute__((noinline, cold)) qsbr_lazy_read_lock(void)
{
	if (!urcu_qsbr_reader.registered)
		rcu_capi_qsbr_register_lazily();
	if (!urcu_qsbr_reader.lazy)
		return; /* registered by the program meanwhile, or refused */
	if (urcu_qsbr_reader.lazy_depth == 0)
		qsbr_online();
	urcu_qsbr_reader.lazy_depth++;
	COMPILER_BARRIER();
	if (LOAD(urcu_qsbr_reader.ctr) == 0)
		qsbr_online();
}

void urcu_qsbr_read_lock(void)
{
	/* An explicitly registered thread's section costs nothing, as in
	 * liburcu; the test reads one word of the thread's own record. */
	if (UNLIKELY(!urcu_qsbr_reader.registered || urcu_qsbr_reader.lazy))
		qsbr_lazy_read_lock();
}

void urcu_qsbr_read_unlock(void)
{
	if (UNLIKELY(urcu_qsbr_reader.lazy_depth) && --urcu_qsbr_reader.lazy_depth == 0
	    && urcu_qsbr_reader.lazy)
		urcu_qsbr_thread_offline();
}

int urcu_qsbr_read_ongoing(void)
{
	return urcu_qsbr_reader.ctr != 0;
}

void urcu_qsbr_quiescent_state(void)
{
	unsigned long gp = LOAD(urcu_qsbr_gp.ctr);

	if (gp == urcu_qsbr_reader.ctr || QSBR_LAZY_OUTSIDE_SECTION())
		return;
	/* Earlier loads before the announcement: pairs with the writer's
	 * fence after its scan. */
	FENCE();
	STORE(urcu_qsbr_reader.ctr, gp);
	/* The announcement before the `waiting` load and the later loads:
	 * pairs with the writer's fence after its increment. */
	FENCE();
	qsbr_wake_up_gp();
	/* The wake-up's loads before the next section's loads (liburcu's
	 * barrier at the end of the quiescent state). */
	FENCE();
}

/* ---- accessors for the Rust side (not exported from the .so files) ---- */

struct rcu_capi_gp *rcu_capi_memb_gp(void) { return &urcu_memb_gp; }
struct rcu_capi_gp *rcu_capi_mb_gp(void) { return &urcu_mb_gp; }
struct rcu_capi_gp *rcu_capi_qsbr_gp(void) { return &urcu_qsbr_gp; }
struct rcu_capi_bp_gp *rcu_capi_bp_gp(void) { return &urcu_bp_gp; }
int *rcu_capi_memb_has_sys_membarrier(void) { return &urcu_memb_has_sys_membarrier; }
int *rcu_capi_bp_has_sys_membarrier(void) { return &urcu_bp_has_sys_membarrier; }

/* The reader records of memb (0), mb (1) and QSBR (2), by number, so that
 * the Rust side handles them with one set of functions. */
static struct rcu_capi_reader *phase_flip_record(int flavour)
{
	return flavour == 0 ? &urcu_memb_reader : &urcu_mb_reader;
}

unsigned long *rcu_capi_ctr(int flavour)
{
	return flavour == 2 ? &urcu_qsbr_reader.ctr : &phase_flip_record(flavour)->ctr;
}

int *rcu_capi_qsbr_waiting(void) { return &urcu_qsbr_reader.waiting; }

int rcu_capi_registered(int flavour)
{
	return flavour == 2 ? urcu_qsbr_reader.registered : phase_flip_record(flavour)->registered;
}

int rcu_capi_lazy(int flavour)
{
	return flavour == 2 ? urcu_qsbr_reader.lazy : phase_flip_record(flavour)->lazy;
}

void rcu_capi_set_registered(int flavour, int registered, int lazy)
{
	if (flavour == 2) {
		urcu_qsbr_reader.registered = registered != 0;
		urcu_qsbr_reader.lazy = lazy != 0;
		urcu_qsbr_reader.tid = pthread_self();
		if (!registered)
			urcu_qsbr_reader.lazy_depth = 0;
	} else {
		struct rcu_capi_reader *r = phase_flip_record(flavour);

		r->registered = registered != 0;
		r->lazy = lazy != 0;
		r->tid = pthread_self();
	}
}

int rcu_capi_exiting(int flavour)
{
	return flavour == 2 ? urcu_qsbr_reader.exiting : phase_flip_record(flavour)->exiting;
}

void rcu_capi_set_exiting(int flavour)
{
	if (flavour == 2)
		urcu_qsbr_reader.exiting = 1;
	else
		phase_flip_record(flavour)->exiting = 1;
}

/* bp: the calling thread's record pointer (NULL: unregistered), a new
 * record (zeroed: inactive), and setting the pointer. */
struct rcu_capi_bp_reader *rcu_capi_bp_record(void) { return urcu_bp_reader; }

/*
 * bp's records come from an arena of mmap()ed chunks, never from malloc: a
 * thread's first section may be in a signal handler that interrupted
 * malloc (liburcu-bp allocates from mmap for the same reason). Freed
 * records go back to a free list (linked through `node.next`), guarded by
 * a spin lock that callers take with signals blocked (bp.rs), held across
 * fork() by the atfork handlers below.
 */
#include <sys/mman.h>
#define BP_CHUNK 64
static struct rcu_capi_bp_reader *bp_free;
static char bp_arena_lock;

static void bp_arena_acquire(void)
{
	/* Acquire: pairs with the release in bp_arena_release, so the list
	 * the last holder left is the one this holder reads. */
	while (__atomic_test_and_set(&bp_arena_lock, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void bp_arena_release(void)
{
	__atomic_clear(&bp_arena_lock, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void bp_arena_atfork(void)
{
	(void) pthread_atfork(bp_arena_acquire, bp_arena_release, bp_arena_release);
}

struct rcu_capi_bp_reader *rcu_capi_bp_new_record(void)
{
	struct rcu_capi_bp_reader *r;

	bp_arena_acquire();
	if (!bp_free) {
		struct rcu_capi_bp_reader *chunk = mmap(NULL, BP_CHUNK * sizeof(*chunk),
				PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int i;

		if (chunk == MAP_FAILED) {
			bp_arena_release();
			return NULL;
		}
		for (i = 0; i < BP_CHUNK; i++) {
			chunk[i].node.next = (struct rcu_capi_list_head *) bp_free;
			bp_free = &chunk[i];
		}
	}
	r = bp_free;
	bp_free = (struct rcu_capi_bp_reader *) r->node.next;
	bp_arena_release();
	memset(r, 0, sizeof(*r));
	return r;
}

void rcu_capi_bp_free_record(struct rcu_capi_bp_reader *r)
{
	bp_arena_acquire();
	r->node.next = (struct rcu_capi_list_head *) bp_free;
	bp_free = r;
	bp_arena_release();
}

void rcu_capi_bp_set_record(struct rcu_capi_bp_reader *r)
{
	if (r) {
		r->tid = pthread_self();
		r->alloc = 1;
	}
	urcu_bp_reader = r;
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
