/*
 * An rcu_barrier()-bound workload, for running one binary on two
 * libraries (scripts/liburcu-compare.sh: Debian's liburcu, then rcu-capi):
 * each thread queues CALLBACKS call_rcu() callbacks and then waits for
 * them with rcu_barrier(), in a loop, for the given number of seconds.
 * This is what a server does when it tears down a table, unloads a module
 * or checks for leaks between test cases. Checks that every callback ran
 * by the time its thread's rcu_barrier() returned.
 *
 * Build: cc -O2 barrier_bench.c -lurcu-memb -lpthread   (-DUSE_QSBR: -lurcu-qsbr;
 *        -DUSE_MB: -lurcu-mb; -DUSE_BP: -lurcu-bp; flavour.h)
 * Run:   ./a.out [threads] [seconds] [callbacks per barrier]
 * Prints one line: SUMMARY barrier_bench ... nr_barriers N nr_callbacks M
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "flavour.h"
#include <urcu/compiler.h>

struct item {
	atomic_long *done;
	struct rcu_head head;
};

static atomic_int stop;
static unsigned int callbacks = 16;

struct worker {
	atomic_long done;
	long queued;
	long barriers;
};

static void free_item(struct rcu_head *head)
{
	struct item *item = caa_container_of(head, struct item, head);

	atomic_fetch_add_explicit(item->done, 1, memory_order_relaxed);
	free(item);
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	unsigned int i;

	rcu_register_thread();
	while (!atomic_load(&stop)) {
		for (i = 0; i < callbacks; i++) {
			struct item *item = malloc(sizeof(*item));

			if (!item)
				abort();
			item->done = &w->done;
			call_rcu(&item->head, free_item);
		}
		w->queued += callbacks;
		rcu_barrier();
		/* rcu_barrier() returns after every callback queued before it. */
		if (atomic_load(&w->done) != w->queued) {
			fprintf(stderr, "barrier_bench: rcu_barrier returned with %ld of %ld callbacks run\n",
				atomic_load(&w->done), w->queued);
			abort();
		}
		w->barriers++;
	}
	rcu_unregister_thread();
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned int threads = argc > 1 ? (unsigned int) atoi(argv[1]) : 2;
	unsigned int seconds = argc > 2 ? (unsigned int) atoi(argv[2]) : 2;
	struct worker *state;
	pthread_t *tids;
	long barriers = 0, queued = 0;
	unsigned int t;

	if (argc > 3)
		callbacks = (unsigned int) atoi(argv[3]);
	if (threads == 0 || callbacks == 0) {
		fprintf(stderr, "usage: %s [threads >= 1] [seconds] [callbacks per barrier >= 1]\n", argv[0]);
		return 1;
	}
	state = calloc(threads, sizeof(*state));
	tids = calloc(threads, sizeof(*tids));
	if (!state || !tids)
		abort();
	for (t = 0; t < threads; t++)
		if (pthread_create(&tids[t], NULL, worker, &state[t]))
			abort();
	sleep(seconds);
	atomic_store(&stop, 1);
	for (t = 0; t < threads; t++) {
		pthread_join(tids[t], NULL);
		barriers += state[t].barriers;
		queued += state[t].queued;
	}
	printf("SUMMARY barrier_bench_%s testdur %4u nr_threads %3u callbacks_per_barrier %4u "
	       "nr_barriers %12ld nr_callbacks %12ld\n",
	       FLAVOUR, seconds, threads, callbacks, barriers, queued);
	free(state);
	free(tids);
	return 0;
}
