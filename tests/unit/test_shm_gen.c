/*
 * test_shm_gen.c -- generation swap under concurrent readers.
 *
 * The writer fills the standby generation, advances the root, switches
 * its worker, closes the old generation, synchronizes and clears it, round
 * after round.  Reader processes snapshot whatever generation the root
 * names, inside read sections, and must always find it complete: every
 * entry tagged with that generation and all of them present.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "atomic.h"
#include "gen.h"
#include "log.h"
#include "segment.h"
#include "slot.h"
#include "table.h"

#define NENT		200
#define ROUNDS		1500
#define NREADERS	2

struct ctl {
	uint64_t	stop;
	uint64_t	bad;
	uint64_t	snapshots;
};

static struct ns_seg seg;
static struct ctl *ctl;

static void
setup(void)
{
	struct ns_gen_task tasks[2] = {
		{ .key_size = 16, .max_flows = NENT },
		{ .key_size = 37, .max_flows = 10 },
	};
	struct ns_seg_layout lay;

	log_init("test", "test", NS_LOG_WARN);
	ns_seg_layout_init(&lay, 1);
	ns_seg_layout_set(&lay, NS_SEG_SLOTS, ns_slot_shm_size(NREADERS, 0));
	ns_seg_layout_set(&lay, NS_SEG_GENS, ns_gen_shm_size(2, 2, 3, tasks));
	ns_seg_layout_set(&lay, NS_SEG_STATS, sizeof(struct ctl));
	ns_seg_layout_finish(&lay);
	cr_assert_eq(ns_seg_create_private(&seg, &lay), 0);
	cr_assert_eq(ns_slot_shm_init(&seg, NREADERS, 0), 0);
	cr_assert_eq(ns_gen_shm_init(&seg, 2, 2, 3, tasks), 0);
	ns_seg_publish(&seg);
	ctl = ns_seg_ptr(&seg, ns_seg_section(&seg, NS_SEG_STATS, NULL));
}

static void
teardown(void)
{
	ns_seg_detach(&seg);
}

/* Generation g's data: NENT flows, each key and byte count naming g. */
static void
fill(uint64_t g)
{
	struct ns_table *t = ns_gen_shard(&seg, g, 0, 1);
	uint64_t key[2], i;

	for (i = 0; i < NENT; i++) {
		key[0] = g;
		key[1] = i;
		ns_table_add(t, NULL, XXH64(key, sizeof(key), 0), key, g + 1,
		    g + 1, 0);
	}
}

static int
snapshot_ok(uint64_t g)
{
	const struct ns_table *t = ns_gen_shard(&seg, g, 0, 1);
	struct ns_flow f;
	uint64_t pos = 0, n = 0, k0;

	while (ns_table_next(t, &pos, &f)) {
		memcpy(&k0, f.key, 8);
		if (k0 != g || f.bytes != g + 1 || f.first_ns != g + 1)
			return 0;
		n++;
	}
	return n == NENT;
}

static void
reader_main(unsigned idx)
{
	struct ns_slot *s = ns_slot_get(&seg, idx);
	uint64_t g, bad = 0, n = 0;

	ns_slot_activate(&seg, idx);
	while (!ns_load_acquire(&ctl->stop)) {
		ns_slot_enter(&seg, s);
		g = ns_gen_root(&seg);
		bad += !snapshot_ok(g);
		ns_slot_exit(s);
		n++;
	}
	__atomic_add_fetch(&ctl->bad, bad, __ATOMIC_RELAXED);
	__atomic_add_fetch(&ctl->snapshots, n, __ATOMIC_RELAXED);
	_exit(0);
}

TestSuite(gen, .init = setup, .fini = teardown);

Test(gen, layout_and_lookup)
{
	struct ns_gen_dir *d = ns_gen_dir(&seg);
	uint64_t off[2][2][3];
	unsigned g, t, w;

	cr_assert_eq(d->ngens, 2);
	cr_assert_eq(ns_gen_root(&seg), 0);
	cr_assert_eq(ns_gen_info(&seg, 0)->state, NS_GEN_LIVE);
	cr_assert_eq(ns_gen_info(&seg, 1)->state, NS_GEN_STANDBY);
	for (g = 0; g < 2; g++)
		for (t = 0; t < 2; t++)
			for (w = 0; w < 3; w++) {
				off[g][t][w] = ns_gen_shard_off(&seg, g, t, w);
				cr_assert_eq(off[g][t][w] % 64, 0);
				cr_assert_eq(ns_gen_shard(&seg, g + 2, t, w)
				    ->key_size, t == 0 ? 16 : 37);
			}
	cr_assert_neq(off[0][0][0], off[1][0][0]);
	cr_assert_neq(off[0][0][0], off[0][0][1]);
	cr_assert_eq(ns_gen_shard_off(&seg, 0, 2, 0), 0);
	cr_assert_eq(ns_gen_shard_off(&seg, 0, 0, 3), 0);
}

Test(gen, protocol_errors)
{
	cr_assert_eq(ns_gen_advance(&seg, 1, 0), -ESTALE);
	cr_assert_eq(ns_gen_close(&seg, 0), -EBUSY, "workers not switched");
	cr_assert_eq(ns_gen_clear(&seg, 0), -EBUSY, "live gen not closed");
	cr_assert_eq(ns_gen_advance(&seg, 0, 123), 0);
	cr_assert_eq(ns_gen_root(&seg), 1);
	cr_assert_eq(ns_gen_info(&seg, 1)->period_start_ns, 123);
	cr_assert_eq(ns_gen_advance(&seg, 1, 0), -EBUSY,
	    "standby not cleared yet");
	ns_gen_worker_switch(&seg, 0, 1);
	ns_gen_worker_switch(&seg, 1, 1);
	cr_assert_eq(ns_gen_all_switched(&seg, 1), 0);
	ns_gen_worker_switch(&seg, 2, 1);
	cr_assert_eq(ns_gen_all_switched(&seg, 1), 1);
	cr_assert_eq(ns_gen_close(&seg, 0), 0);
	cr_assert_eq(ns_gen_clear(&seg, 0), 0);
	cr_assert_eq(ns_gen_advance(&seg, 1, 0), 0);
}

Test(gen, swap_under_concurrent_readers, .timeout = 120)
{
	pid_t pids[NREADERS];
	uint64_t g;
	unsigned i, w;
	int status, idx;

	fill(0);
	for (i = 0; i < NREADERS; i++) {
		idx = ns_slot_assign(&seg, NS_ROLE_EXPORTER, i);
		if ((pids[i] = fork()) == 0)
			reader_main((unsigned)idx);
	}
	for (g = 0; g < ROUNDS; g++) {
		fill(g + 1);
		cr_assert_eq(ns_gen_advance(&seg, g, g), 0);
		for (w = 0; w < 3; w++)
			ns_gen_worker_switch(&seg, w, g + 1);
		cr_assert_eq(ns_gen_close(&seg, g), 0);
		/* The final snapshot of g: no writer left, plain reads. */
		cr_assert(snapshot_ok(g));
		cr_assert_eq(ns_slot_synchronize(&seg, 20000), 0);
		cr_assert_eq(ns_gen_clear(&seg, g), 0);
	}
	ns_store_release(&ctl->stop, 1);
	for (i = 0; i < NREADERS; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	cr_log_info("%llu reader snapshots",
	    (unsigned long long)ctl->snapshots);
	cr_assert_eq(ctl->bad, 0, "%llu snapshots saw an incomplete "
	    "or cleared generation", (unsigned long long)ctl->bad);
	cr_assert_gt(ctl->snapshots, 0);
}
