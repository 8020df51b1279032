/*
 * test_shm_table.c -- exact flow table shards: insert, update, lookup,
 * table full, per-flow memory, clear, and a reader in another process
 * that must only ever see complete entries.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "atomic.h"
#include "log.h"
#include "segment.h"
#include "table.h"

/* The 5-tuple key as the exact task packs it: 37 bytes. */
struct key5 {
	uint8_t		src[16];
	uint8_t		dst[16];
	uint8_t		sport[2];
	uint8_t		dport[2];
	uint8_t		proto;
} __attribute__((packed));

static struct ns_seg seg;
static uint64_t *stop;

static struct ns_table *
mktable(uint64_t max_flows)
{
	struct ns_seg_layout lay;
	struct ns_table *t;

	log_init("test", "test", NS_LOG_WARN);
	ns_seg_layout_init(&lay, 1);
	ns_seg_layout_set(&lay, NS_SEG_GENS,
	    ns_table_shm_size(sizeof(struct key5), max_flows));
	ns_seg_layout_set(&lay, NS_SEG_STATS, 64);
	ns_seg_layout_finish(&lay);
	cr_assert_eq(ns_seg_create_private(&seg, &lay), 0);
	t = ns_seg_ptr(&seg, ns_seg_section(&seg, NS_SEG_GENS, NULL));
	cr_assert_eq(ns_table_shm_init(t, sizeof(struct key5), max_flows), 0);
	stop = ns_seg_ptr(&seg, ns_seg_section(&seg, NS_SEG_STATS, NULL));
	ns_seg_publish(&seg);
	return t;
}

static void
teardown(void)
{
	ns_seg_detach(&seg);
}

/* Key i: every byte derived from i, so a torn key is detectable. */
static void
mkkey(struct key5 *k, uint32_t i)
{
	uint8_t *p = (uint8_t *)k;
	size_t j;

	for (j = 0; j < sizeof(*k); j++)
		p[j] = (uint8_t)(i >> (8 * (j % 4))) ^ (uint8_t)(j * 7);
}

static int
key_index(const uint8_t *key, uint32_t *ip)
{
	struct key5 k;
	uint32_t i;

	memcpy(&i, key, 4);
	i ^= 0x150e0700;	/* undo the j * 7 of bytes 0..3 */
	mkkey(&k, i);
	*ip = i;
	return memcmp(&k, key, sizeof(k)) == 0;
}

static uint64_t
khash(const struct key5 *k)
{
	return XXH64(k, sizeof(*k), 0);
}

TestSuite(table, .fini = teardown);

Test(table, flow_cost_is_at_most_128_bytes)
{
	uint64_t m;

	cr_assert_eq(ns_table_entry_size(37), 80);
	for (m = 1000; m <= 100000000; m = m * 3 + 1)
		cr_assert_leq(ns_table_flow_cost(37, m), 128.0,
		    "max_flows %llu: %.1f bytes per flow",
		    (unsigned long long)m, ns_table_flow_cost(37, m));
	cr_assert_geq(ns_table_capacity(1000) * 3, 1000 * 4,
	    "load factor must stay at or below 0.75");
}

Test(table, insert_update_lookup)
{
	struct ns_table *t = mktable(1000);
	struct key5 k, other;
	struct ns_flow f;

	mkkey(&k, 1);
	mkkey(&other, 2);
	cr_assert_eq(ns_table_add(t, NULL, khash(&k), &k, 2000, 100, 0x02), 1);
	cr_assert_eq(ns_table_add(t, NULL, khash(&k), &k, 3000, 60, 0x10), 0);
	cr_assert_eq(ns_table_add(t, NULL, khash(&k), &k, 1000, 40, 0x10), 0);
	cr_assert_eq(ns_table_count(t), 1);
	cr_assert_eq(ns_table_lookup(t, khash(&k), &k, &f), 1);
	cr_assert_eq(f.packets, 3);
	cr_assert_eq(f.bytes, 200);
	cr_assert_eq(f.first_ns, 1000, "first_seen is the minimum");
	cr_assert_eq(f.last_ns, 3000, "last_seen is the maximum");
	cr_assert_eq(f.tcp_flags, 0x12);
	cr_assert_eq(f.key_size, 37);
	cr_assert_eq(memcmp(f.key, &k, sizeof(k)), 0);
	cr_assert_eq(ns_table_lookup(t, khash(&other), &other, &f), 0);
}

Test(table, colliding_hashes_probe)
{
	struct ns_table *t = mktable(100);
	struct key5 k[10];
	struct ns_flow f;
	int i;

	/* Same hash for every key: all land on one home slot. */
	for (i = 0; i < 10; i++) {
		mkkey(&k[i], (uint32_t)i);
		cr_assert_eq(ns_table_add(t, NULL, 42, &k[i], 1, i + 1, 0), 1);
	}
	for (i = 0; i < 10; i++) {
		cr_assert_eq(ns_table_lookup(t, 42, &k[i], &f), 1);
		cr_assert_eq(f.bytes, (uint64_t)i + 1);
	}
}

Test(table, full_table_returns_enospc)
{
	struct ns_table *t = mktable(100);
	struct key5 k;
	uint32_t i;

	for (i = 0; i < 100; i++) {
		mkkey(&k, i);
		cr_assert_eq(ns_table_add(t, NULL, khash(&k), &k, 1, 1, 0), 1);
	}
	mkkey(&k, 100);
	cr_assert_eq(ns_table_add(t, NULL, khash(&k), &k, 1, 1, 0), -ENOSPC);
	cr_assert_eq(ns_table_add(t, NULL, khash(&k), &k, 1, 1, 0), -ENOSPC);
	cr_assert_eq(ns_table_full_drops(t), 2);
	mkkey(&k, 5);
	cr_assert_eq(ns_table_add(t, NULL, khash(&k), &k, 1, 1, 0), 0,
	    "known flows keep counting when the table is full");
	cr_assert_eq(ns_table_count(t), 100);
}

Test(table, iterate_and_clear)
{
	struct ns_table *t = mktable(500);
	struct ns_flow f;
	struct key5 k;
	uint64_t pos = 0, n = 0, seen = 0;
	uint32_t i, idx;

	for (i = 0; i < 500; i++) {
		mkkey(&k, i);
		ns_table_add(t, NULL, khash(&k), &k, 10, i, 0);
	}
	while (ns_table_next(t, &pos, &f)) {
		cr_assert(key_index(f.key, &idx));
		cr_assert_eq(f.bytes, idx);
		seen += idx;
		n++;
	}
	cr_assert_eq(n, 500);
	cr_assert_eq(seen, 499 * 500 / 2);
	ns_table_clear(t);
	cr_assert_eq(ns_table_count(t), 0);
	pos = 0;
	cr_assert_eq(ns_table_next(t, &pos, &f), 0);
	mkkey(&k, 3);
	cr_assert_eq(ns_table_lookup(t, khash(&k), &k, &f), 0);
	cr_assert_eq(ns_table_add(t, NULL, khash(&k), &k, 1, 1, 0), 1);
}

#define STRESS_FLOWS	50000
#define STRESS_ROUNDS	4

static void
stress_writer(struct ns_table *t)
{
	struct key5 k;
	uint32_t i;
	int r;

	for (r = 0; r < STRESS_ROUNDS; r++)
		for (i = 0; i < STRESS_FLOWS; i++) {
			mkkey(&k, i);
			ns_table_add(t, NULL, khash(&k), &k,
			    1000 + (uint64_t)r * STRESS_FLOWS + i, 100, 0x10);
		}
	ns_store_release(stop, 1);
	_exit(0);
}

/* Every entry a reader can see must be complete and self-consistent. */
static int
check_flow(const struct ns_flow *f)
{
	uint32_t idx;

	return key_index(f->key, &idx) && idx < STRESS_FLOWS &&
	    f->packets >= 1 && f->packets <= STRESS_ROUNDS &&
	    f->bytes >= 100 && f->bytes % 100 == 0 &&
	    f->first_ns == 1000 + idx && f->last_ns >= f->first_ns &&
	    f->tcp_flags == 0x10;
}

Test(table, concurrent_reader_sees_complete_entries, .timeout = 120)
{
	struct ns_table *t = mktable(STRESS_FLOWS);
	struct ns_flow f;
	struct key5 k;
	uint64_t pos, bad = 0, scans = 0, hits = 0;
	uint32_t i = 0;
	pid_t pid;
	int status, done;

	if ((pid = fork()) == 0)
		stress_writer(t);
	do {
		done = ns_load_acquire(stop) != 0;
		for (pos = 0; ns_table_next(t, &pos, &f); hits++)
			bad += !check_flow(&f);
		for (i = 0; i < 2000; i++) {
			mkkey(&k, (i * 7919) % STRESS_FLOWS);
			if (ns_table_lookup(t, khash(&k), &k, &f))
				bad += !check_flow(&f);
		}
		scans++;
	} while (!done);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(bad, 0, "%llu incomplete entries seen",
	    (unsigned long long)bad);
	cr_assert_gt(scans, 1);
	cr_assert_eq(ns_table_count(t), STRESS_FLOWS);
	for (pos = 0; ns_table_next(t, &pos, &f);)
		cr_assert(f.packets == STRESS_ROUNDS && check_flow(&f));
}
