/*
 * liburcu's lock-free resizable hash table (rculfhash, Debian's prebuilt
 * liburcu-cds) on rcu-capi's grace periods, memb flavour by default:
 * reader threads look keys up and walk the whole table inside read-side
 * critical sections while writer threads add, replace and delete nodes
 * (freed with call_rcu, poisoned first) and the table is resized
 * explicitly (and, on memb, resizes itself too). Checks that no reader ever reaches a freed node,
 * that every add/replace/delete returns what the writer's own bookkeeping
 * predicts, that the final node count matches, and that rcu_barrier()
 * leaves every node freed.
 *
 * A program of ours beside liburcu's test_urcu_hash (which
 * scripts/liburcu-suite.sh runs on both flavours): it checks what that
 * benchmark does not, that no reader sees a freed node and that every
 * update returns what the writer predicts. With -DUSE_QSBR, -DUSE_MB or
 * -DUSE_BP, on that flavour (flavour.h).
 *
 * Build (function ABI):  cc lfht_stress.c -lurcu-memb -lurcu-cds -lpthread
 * Build (inline ABI):    cc -D_LGPL_SOURCE lfht_stress.c -lurcu-memb -lurcu-cds -lpthread
 * Run against rcu-capi: LD_LIBRARY_PATH=OUTDIR/lib ./a.out [seconds]
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flavour.h"
#ifdef USE_QSBR
/*
 * No CDS_LFHT_AUTO_RESIZE on QSBR: rculfhash's resize worker registers
 * (QSBR: comes online) and then waits for the resize mutex, which an
 * explicit cds_lfht_resize() holds across synchronize_rcu(), and that
 * grace period waits for the online worker. liburcu deadlocks there as
 * well; on rcu-capi the stall warning names the worker thread.
 */
#define TABLE_FLAGS CDS_LFHT_ACCOUNTING
#else
#define TABLE_FLAGS (CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING)
#endif
#include <urcu/compiler.h>
#include <urcu/rculfhash.h>

#define READERS 2
#define WRITERS 2
#define KEYS 4096
#define LIVE 0x11111111u
#define DEAD 0xdeaddeadu

struct item {
	unsigned int magic;
	unsigned long key;
	struct cds_lfht_node node;
	struct rcu_head head;
};

static struct cds_lfht *table;
static atomic_int stop;
static atomic_long allocated, freed, lookups, walks;

static unsigned long hash_key(unsigned long key)
{
	return key * 0x9e3779b97f4a7c15ul;
}

static int match_key(struct cds_lfht_node *node, const void *key)
{
	struct item *it = caa_container_of(node, struct item, node);

	return it->key == *(const unsigned long *) key;
}

static void free_item(struct rcu_head *head)
{
	struct item *it = caa_container_of(head, struct item, head);

	it->magic = DEAD;
	free(it);
	atomic_fetch_add(&freed, 1);
}

static struct item *new_item(unsigned long key)
{
	struct item *it = malloc(sizeof(*it));

	if (!it)
		abort();
	it->magic = LIVE;
	it->key = key;
	cds_lfht_node_init(&it->node);
	atomic_fetch_add(&allocated, 1);
	return it;
}

static struct item *check_live(struct cds_lfht_node *node)
{
	struct item *it = caa_container_of(node, struct item, node);

	if (it->magic != LIVE) {
		fprintf(stderr, "lfht_stress: reader reached a freed node (key %lu)\n", it->key);
		abort();
	}
	return it;
}

static void *reader(void *arg)
{
	unsigned int seed = (unsigned int) (unsigned long) arg;
	long n = 0, w = 0;

	rcu_register_thread();
	while (!atomic_load(&stop)) {
		struct cds_lfht_iter iter;
		struct cds_lfht_node *node;
		unsigned long key = (unsigned long) rand_r(&seed) % KEYS;

		rcu_read_lock();
		cds_lfht_lookup(table, hash_key(key), match_key, &key, &iter);
		node = cds_lfht_iter_get_node(&iter);
		if (node && check_live(node)->key != key)
			abort();
		if (++n % 1024 == 0) {
			cds_lfht_for_each(table, &iter, node)
				check_live(node);
			w++;
		}
		rcu_read_unlock();
		reader_quiescent();
	}
	rcu_unregister_thread();
	atomic_fetch_add(&lookups, n);
	atomic_fetch_add(&walks, w);
	return NULL;
}

/* Writer `id` owns the keys k with k % WRITERS == id, so `present` predicts
 * exactly what each table operation must return. */
struct writer {
	unsigned int id;
	unsigned char present[KEYS];
	long ops;
};

static void writer_step(struct writer *wr, unsigned int *seed)
{
	unsigned long key = ((unsigned long) rand_r(seed) % (KEYS / WRITERS)) * WRITERS + wr->id;
	struct cds_lfht_iter iter;
	struct cds_lfht_node *old;
	struct item *it;

	rcu_read_lock();
	switch (rand_r(seed) % 3) {
	case 0: /* add_unique: returns the node already there, else ours */
		it = new_item(key);
		old = cds_lfht_add_unique(table, hash_key(key), match_key, &key, &it->node);
		if ((old != &it->node) != wr->present[key])
			abort();
		if (old != &it->node) {
			it->magic = DEAD;
			free(it);
			atomic_fetch_add(&freed, 1);
		}
		wr->present[key] = 1;
		break;
	case 1: /* add_replace: returns the node it replaced, if any */
		it = new_item(key);
		old = cds_lfht_add_replace(table, hash_key(key), match_key, &key, &it->node);
		if ((old != NULL) != wr->present[key])
			abort();
		if (old)
			call_rcu(&check_live(old)->head, free_item);
		wr->present[key] = 1;
		break;
	default: /* del */
		cds_lfht_lookup(table, hash_key(key), match_key, &key, &iter);
		old = cds_lfht_iter_get_node(&iter);
		if ((old != NULL) != wr->present[key])
			abort();
		if (old) {
			if (cds_lfht_del(table, old) != 0)
				abort();
			call_rcu(&check_live(old)->head, free_item);
		}
		wr->present[key] = 0;
		break;
	}
	rcu_read_unlock();
}

static void *writer(void *arg)
{
	struct writer *wr = arg;
	unsigned int seed = 1000 + wr->id;

	rcu_register_thread();
	while (!atomic_load(&stop)) {
		writer_step(wr, &seed);
		reader_quiescent();
		if (++wr->ops % 4096 == 0 && wr->id == 0) {
			/* cds_lfht_resize: registered, outside read sections. */
			cds_lfht_resize(table, 1ul << (rand_r(&seed) % 12));
			synchronize_rcu();
		}
	}
	rcu_unregister_thread();
	return NULL;
}

static long remove_all(void)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	long removed = 0;

	rcu_read_lock();
	cds_lfht_for_each(table, &iter, node) {
		if (cds_lfht_del(table, node) != 0)
			abort();
		call_rcu(&check_live(node)->head, free_item);
		removed++;
	}
	rcu_read_unlock();
	return removed;
}

int main(int argc, char **argv)
{
	pthread_t readers[READERS], writers[WRITERS];
	static struct writer state[WRITERS];
	unsigned int seconds = argc > 1 ? (unsigned int) atoi(argv[1]) : 2;
	long expected = 0, before, after;
	unsigned long count;
	long ops = 0;
	unsigned long i;
	int t;

	table = cds_lfht_new(1, 1, 0, TABLE_FLAGS, NULL);
	if (!table)
		abort();
	for (t = 0; t < READERS; t++)
		if (pthread_create(&readers[t], NULL, reader, (void *) (unsigned long) (t + 1)))
			abort();
	for (t = 0; t < WRITERS; t++) {
		state[t].id = (unsigned int) t;
		if (pthread_create(&writers[t], NULL, writer, &state[t]))
			abort();
	}
	sleep(seconds);
	atomic_store(&stop, 1);
	for (t = 0; t < READERS; t++)
		pthread_join(readers[t], NULL);
	for (t = 0; t < WRITERS; t++) {
		pthread_join(writers[t], NULL);
		ops += state[t].ops;
		for (i = 0; i < KEYS; i++)
			expected += state[t].present[i];
	}

	/* Registered only now: a QSBR thread online through the sleep
	 * above would hold every grace period back. */
	rcu_register_thread();

	rcu_read_lock();
	cds_lfht_count_nodes(table, &before, &count, &after);
	rcu_read_unlock();
	if ((long) count != expected || remove_all() != expected) {
		fprintf(stderr, "lfht_stress: %lu nodes in the table, writers expect %ld\n", count, expected);
		abort();
	}
	rcu_barrier();
	if (atomic_load(&freed) != atomic_load(&allocated)) {
		fprintf(stderr, "lfht_stress: %ld nodes allocated, %ld freed after rcu_barrier\n",
			atomic_load(&allocated), atomic_load(&freed));
		abort();
	}
	/* Unregistered first: destroy waits for the table's resize worker,
	 * whose grace periods an online QSBR thread here would hold back. */
	rcu_unregister_thread();
	if (cds_lfht_destroy(table, NULL) != 0)
		abort();
	printf("lfht_stress (%s): %ld lookups, %ld table walks, %ld updates, %ld nodes at the end, all %ld freed\n",
	       FLAVOUR, atomic_load(&lookups), atomic_load(&walks), ops, expected, atomic_load(&freed));
	return 0;
}
