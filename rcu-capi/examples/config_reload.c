/*
 * A C server's configuration reload on rcu-capi, written against liburcu's
 * own headers: reader threads look the configuration up in read-side
 * critical sections while a writer replaces it, freeing each old version
 * with call_rcu (and, every few rounds, synchronize_rcu). Checks that no
 * reader ever sees a freed version (each is poisoned before free) and that
 * rcu_barrier() leaves nothing pending.
 *
 * Build (function ABI):  cc config_reload.c -lurcu-memb -lpthread
 * Build (inline ABI):    cc -D_LGPL_SOURCE config_reload.c -lurcu-memb -lpthread
 * With -DUSE_QSBR, -DUSE_MB or -DUSE_BP the same program uses that
 * flavour (-lurcu-qsbr, -lurcu-mb, -lurcu-bp; flavour.h).
 * Run against rcu-capi: LD_LIBRARY_PATH=OUTDIR/lib ./a.out
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flavour.h"
#include <urcu/compiler.h>

#define READERS 3
#define VERSIONS 2000
#define LIVE 0x11111111u
#define DEAD 0xdeaddeadu

struct config {
	unsigned int magic;
	unsigned long version;
	struct rcu_head head;
};

static struct config *current;
static atomic_int stop;
static atomic_long freed, reads;

static void free_config(struct rcu_head *head)
{
	struct config *c = caa_container_of(head, struct config, head);

	c->magic = DEAD;
	free(c);
	atomic_fetch_add(&freed, 1);
}

static void *reader(void *arg)
{
	unsigned long last = 0;

	(void) arg;
	rcu_register_thread();
	while (!atomic_load(&stop)) {
		rcu_read_lock();
		struct config *c = rcu_dereference(current);
		if (c->magic != LIVE) {
			fprintf(stderr, "reader saw a freed config (magic %#x)\n", c->magic);
			abort();
		}
		if (c->version < last) {
			fprintf(stderr, "version went back: %lu after %lu\n", c->version, last);
			abort();
		}
		last = c->version;
		rcu_read_unlock();
		reader_quiescent();
		atomic_fetch_add(&reads, 1);
	}
	rcu_unregister_thread();
	return NULL;
}

static struct config *new_config(unsigned long version)
{
	struct config *c = malloc(sizeof(*c));

	if (!c)
		abort();
	c->magic = LIVE;
	c->version = version;
	return c;
}

int main(void)
{
	pthread_t tids[READERS];

	rcu_assign_pointer(current, new_config(0));
	for (int i = 0; i < READERS; i++)
		if (pthread_create(&tids[i], NULL, reader, NULL))
			abort();
	for (unsigned long v = 1; v <= VERSIONS; v++) {
		struct config *old = rcu_xchg_pointer(&current, new_config(v));

		if (v % 100 == 0) {
			synchronize_rcu();
			free_config(&old->head);
		} else {
			call_rcu(&old->head, free_config);
		}
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < READERS; i++)
		pthread_join(tids[i], NULL);
	rcu_barrier();
	if (atomic_load(&freed) != VERSIONS) {
		fprintf(stderr, "rcu_barrier returned with %ld of %d versions freed\n",
			atomic_load(&freed), VERSIONS);
		return 1;
	}
	free(current);
	printf("config_reload (%s%s): %d versions replaced and freed, %ld reads\n", FLAVOUR,
#ifdef _LGPL_SOURCE
	       ", inline ABI",
#else
	       ", function ABI",
#endif
	       VERSIONS, atomic_load(&reads));
	return 0;
}
