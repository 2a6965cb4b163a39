/*
 * liburcu 0.14/0.15's polled grace periods, for one flavour chosen at
 * compile time, through the flavour's own calls and its rcu_flavor table:
 *
 *   start_poll_synchronize_rcu() -> struct urcu_gp_poll_state cookie
 *   poll_state_synchronize_rcu(cookie) -> true once a full grace period
 *                                         has elapsed since the cookie
 *
 * Checks, each bounded by a timeout that fails the program:
 *   1. a cookie completes (polled until true);
 *   2. a reader that entered its read-side section before a cookie keeps
 *      it incomplete while it stays inside, even once a grace period that
 *      was already under way when the cookie was taken has ended (it
 *      still sees the value retired before the cookie, unpoisoned), and
 *      the cookie completes once the reader has left;
 *   3. values retired one after another, each freed (poisoned) only once
 *      its own cookie polls true, are never seen poisoned by concurrent
 *      readers, and the cookies complete in the order they were taken;
 *   4. the same calls through the flavour table (urcu_<flavour>_flavor's
 *      update_start_poll_synchronize_rcu / update_poll_state_synchronize_rcu,
 *      0.14's two new trailing fields).
 *
 * Written against liburcu 0.15's headers (0.13's have no polled calls).
 * Build, one flavour per binary (-DFLAVOUR_MEMB, _MB, _QSBR or _BP):
 *   cc -DFLAVOUR_MEMB -I<0.15 include dir> poll_flavours.c -lurcu-memb -lpthread
 *   cc -DFLAVOUR_MEMB -D_LGPL_SOURCE ...   (inline read side)
 * Exits 0 when every check passes, else prints what failed and exits 1.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(FLAVOUR_MEMB)
#include <urcu/urcu-memb.h>
#define FLAVOUR "memb"
#define F(name) urcu_memb_##name
#elif defined(FLAVOUR_MB)
#include <urcu/urcu-mb.h>
#define FLAVOUR "mb"
#define F(name) urcu_mb_##name
#elif defined(FLAVOUR_QSBR)
#include <urcu/urcu-qsbr.h>
#define FLAVOUR "qsbr"
#define F(name) urcu_qsbr_##name
#define IS_QSBR 1
#elif defined(FLAVOUR_BP)
#include <urcu/urcu-bp.h>
#define FLAVOUR "bp"
#define F(name) urcu_bp_##name
#else
#error "define one of FLAVOUR_MEMB, FLAVOUR_MB, FLAVOUR_QSBR, FLAVOUR_BP"
#endif
#include <urcu/urcu-poll.h>

#ifndef IS_QSBR
#define IS_QSBR 0
#endif
#ifdef _LGPL_SOURCE
#define ABI "inline"
#else
#define ABI "function"
#endif

/* QSBR: an online thread that waits must announce quiescent states. */
#if IS_QSBR
#define QUIESCENT() urcu_qsbr_quiescent_state()
#define LEAVE_SECTION() urcu_qsbr_thread_offline()
#else
#define QUIESCENT() ((void)0)
#define LEAVE_SECTION() ((void)0)
#endif

#define TIMEOUT_NS (10LL * 1000000000LL)
#define HOLD_NS (300LL * 1000000LL)
#define LIVE 0x1ee71ee7u
#define DEAD 0xdeadbeefu

struct value {
	unsigned int magic;
	struct urcu_gp_poll_state cookie;
	unsigned long seq;
	struct value *next_retired;
};

static struct value *shared;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void fail(const char *what)
{
	fprintf(stderr, "poll_flavours[" FLAVOUR "/" ABI "]: FAIL: %s\n", what);
	exit(1);
}

static struct value *new_value(unsigned long seq)
{
	struct value *v = calloc(1, sizeof(*v));

	if (!v)
		fail("out of memory");
	v->magic = LIVE;
	v->seq = seq;
	return v;
}

typedef struct urcu_gp_poll_state (*start_fn)(void);
typedef bool (*poll_fn)(struct urcu_gp_poll_state);

/* Polls until the cookie completes; fails after TIMEOUT_NS. */
static void wait_cookie(poll_fn poll, struct urcu_gp_poll_state c, const char *what)
{
	long long deadline = now_ns() + TIMEOUT_NS;

	while (!poll(c)) {
		QUIESCENT();
		if (now_ns() > deadline) {
			char msg[200];

			snprintf(msg, sizeof(msg), "%s: cookie %lu not complete after 10 s",
				 what, c.grace_period_id);
			fail(msg);
		}
		usleep(1000);
	}
}

/* Check 1 (and 4 with the table's pointers). */
static void check_completes(start_fn start, poll_fn poll, const char *what)
{
	for (int i = 0; i < 3; i++) {
		struct urcu_gp_poll_state c = start();

		wait_cookie(poll, c, what);
		if (!poll(c))
			fail("a completed cookie polls false again");
	}
}

/*
 * Check 2: readers inside their sections hold cookies back. Reader A enters
 * first and cookie c0 is taken: a grace period for c0 can begin, and wait
 * on A. Reader B then enters and holds value V; V is retired and c1 taken.
 * While B stays inside, c1 must stay incomplete even after A has left (a
 * cookie that only waited for a grace period already under way when it
 * was taken would complete there), and B must find V intact.
 */
struct holder {
	atomic_int inside, release, saw_dead, done;
};

static void *holding_reader(void *arg)
{
	struct holder *h = arg;

	F(register_thread)();
	F(read_lock)();
	struct value *v = rcu_dereference(shared);
	atomic_store(&h->inside, 1);
	while (!atomic_load(&h->release))
		usleep(1000);
	/* The writer retired v before taking the cookie guarding it. */
	if (v->magic != LIVE)
		atomic_store(&h->saw_dead, 1);
	F(read_unlock)();
	LEAVE_SECTION();
	atomic_store(&h->done, 1);
	F(unregister_thread)();
	return NULL;
}

static void await_flag(atomic_int *flag, const char *what)
{
	long long deadline = now_ns() + TIMEOUT_NS;

	while (!atomic_load(flag)) {
		QUIESCENT();
		if (now_ns() > deadline)
			fail(what);
		usleep(1000);
	}
}

/* For HOLD_NS, the cookie must poll false (a reader older than it is inside). */
static void hold_false(struct urcu_gp_poll_state c, const char *what)
{
	long long hold_until = now_ns() + HOLD_NS;

	while (now_ns() < hold_until) {
		if (F(poll_state_synchronize_rcu)(c))
			fail(what);
		QUIESCENT();
		usleep(2000);
	}
}

static void check_readers_delay(void)
{
	static struct holder a, b;
	pthread_t ta, tb;
	struct value *v = new_value(0);

	rcu_set_pointer(&shared, v);
	if (pthread_create(&ta, NULL, holding_reader, &a))
		fail("pthread_create");
	await_flag(&a.inside, "reader A never entered its section");
	struct urcu_gp_poll_state c0 = F(start_poll_synchronize_rcu)();
	hold_false(c0, "cookie completed while reader A, older than it, was inside");

	if (pthread_create(&tb, NULL, holding_reader, &b))
		fail("pthread_create");
	await_flag(&b.inside, "reader B never entered its section");
	struct value *was = rcu_xchg_pointer(&shared, new_value(1));
	if (was != v)
		fail("rcu_xchg_pointer returned another pointer");
	struct urcu_gp_poll_state c1 = F(start_poll_synchronize_rcu)();

	atomic_store(&a.release, 1);
	await_flag(&a.done, "reader A did not leave its section");
	hold_false(c1, "cookie completed while reader B, older than it, was inside");

	atomic_store(&b.release, 1);
	wait_cookie(F(poll_state_synchronize_rcu), c0, "cookie c0 after both readers left");
	wait_cookie(F(poll_state_synchronize_rcu), c1, "cookie c1 after both readers left");
	if (!atomic_load(&b.done))
		fail("cookie completed before reader B had left its section");
	v->magic = DEAD;
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	if (atomic_load(&a.saw_dead) || atomic_load(&b.saw_dead))
		fail("a reader saw its value poisoned");
	free(v);
	free(rcu_xchg_pointer(&shared, NULL));
}

/* Check 3: poll-guarded reclamation under concurrent readers. */
#define READERS 2
#define ROUNDS 600
static atomic_int stop_readers;
static atomic_long poisoned_seen, reads;

static void *looping_reader(void *arg)
{
	(void)arg;
	F(register_thread)();
	while (!atomic_load(&stop_readers)) {
		F(read_lock)();
		struct value *v = rcu_dereference(shared);
		for (int spin = 0; spin < 64; spin++) {
			if (v->magic != LIVE) {
				atomic_fetch_add(&poisoned_seen, 1);
				break;
			}
			caa_cpu_relax();
		}
		F(read_unlock)();
		QUIESCENT();
		atomic_fetch_add(&reads, 1);
	}
	F(unregister_thread)();
	return NULL;
}

static void check_reclamation(void)
{
	pthread_t t[READERS];
	struct value *pending_head = NULL, **pending_tail = &pending_head;
	struct value *graveyard = NULL;
	unsigned long freed = 0;

	rcu_set_pointer(&shared, new_value(100));
	for (int i = 0; i < READERS; i++)
		if (pthread_create(&t[i], NULL, looping_reader, NULL))
			fail("pthread_create");

	long long deadline = now_ns() + 4 * TIMEOUT_NS;
	for (unsigned long round = 1; round <= ROUNDS || pending_head; round++) {
		if (round <= ROUNDS) {
			struct value *old = rcu_xchg_pointer(&shared, new_value(100 + round));
			old->cookie = F(start_poll_synchronize_rcu)();
			old->next_retired = NULL;
			*pending_tail = old;
			pending_tail = &old->next_retired;
		} else if (now_ns() > deadline) {
			fail("retired values still pending 40 s after the last retirement");
		}
		/* Free (poison) every value whose cookie completed, oldest first. */
		while (pending_head && F(poll_state_synchronize_rcu)(pending_head->cookie)) {
			struct value *v = pending_head;

			pending_head = v->next_retired;
			v->magic = DEAD; /* kept, not freed: a late reader reads DEAD */
			v->next_retired = graveyard;
			graveyard = v;
			freed++;
		}
		if (!pending_head) {
			pending_tail = &pending_head;
		} else {
			/*
			 * The oldest pending cookie had not completed. A later
			 * cookie that has completed implies the oldest has too
			 * (polled after it, as completion only ever comes true).
			 */
			for (struct value *w = pending_head->next_retired; w; w = w->next_retired)
				if (F(poll_state_synchronize_rcu)(w->cookie) &&
				    !F(poll_state_synchronize_rcu)(pending_head->cookie))
					fail("a later cookie completed while an earlier one had not");
		}
		QUIESCENT();
		usleep(round <= ROUNDS ? 500 : 2000);
	}
	atomic_store(&stop_readers, 1);
	for (int i = 0; i < READERS; i++)
		pthread_join(t[i], NULL);
	if (atomic_load(&poisoned_seen)) {
		char msg[120];

		snprintf(msg, sizeof(msg), "readers saw %ld poisoned values (freed before their cookie's grace period ended)",
			 atomic_load(&poisoned_seen));
		fail(msg);
	}
	if (freed != ROUNDS)
		fail("not every retired value was reclaimed");
	while (graveyard) {
		struct value *n = graveyard->next_retired;

		free(graveyard);
		graveyard = n;
	}
	free(rcu_xchg_pointer(&shared, NULL));
}

int main(void)
{
	const struct rcu_flavor_struct *fl = &F(flavor);

	F(register_thread)();
	check_completes(F(start_poll_synchronize_rcu), F(poll_state_synchronize_rcu),
			"start_poll/poll_state");
	check_readers_delay();
	check_reclamation();
	/* A table from a library with 0.13's shorter struct would end before these. */
	if (!fl->update_start_poll_synchronize_rcu || !fl->update_poll_state_synchronize_rcu)
		fail("the flavour table's poll fields are NULL (a 0.13-length rcu_flavor_struct?)");
	check_completes(fl->update_start_poll_synchronize_rcu,
			fl->update_poll_state_synchronize_rcu, "flavour table");
	if (IS_QSBR)
		fl->thread_offline();
	F(barrier)();
	if (IS_QSBR)
		fl->thread_online();
	F(unregister_thread)();
	printf("poll_flavours[" FLAVOUR "/" ABI "]: ok (%ld reads, %d retirements)\n",
	       atomic_load(&reads), ROUNDS);
	return 0;
}
