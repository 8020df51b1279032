/*
 * gen.c -- layout of the generations section and the period-boundary
 * helpers (protocol in gen.h, ordering argument in ARCHITECTURE-shm.md).
 */
#include "gen.h"

#include <errno.h>
#include <string.h>

#include "atomic.h"

/* Section-relative layout; both sizing and init walk it the same way. */
struct gen_layout {
	uint64_t	tasks, shards, workers, tables, end;
	uint64_t	table_size[64];
};

static int
gen_layout(struct gen_layout *l, unsigned ngens, unsigned ntasks,
    unsigned nworkers, const struct ns_gen_task *tasks)
{
	unsigned t;

	if (ngens < 2 || ngens > NS_GEN_MAX ||
	    ntasks > sizeof(l->table_size) / sizeof(l->table_size[0]) ||
	    nworkers == 0)
		return -EINVAL;
	l->tasks = NS_ALIGN_UP(sizeof(struct ns_gen_dir), NS_CACHELINE);
	l->shards = NS_ALIGN_UP(l->tasks + ntasks * sizeof(*tasks), 8);
	l->workers = NS_ALIGN_UP(l->shards +
	    (uint64_t)ngens * ntasks * nworkers * 8, NS_CACHELINE);
	l->tables = l->workers + nworkers * sizeof(struct ns_gen_worker);
	l->end = l->tables;
	for (t = 0; t < ntasks; t++) {
		if (tasks[t].key_size == 0 ||
		    tasks[t].key_size > NS_TABLE_KEY_MAX ||
		    tasks[t].max_flows == 0)
			return -EINVAL;
		l->table_size[t] = NS_ALIGN_UP(ns_table_shm_size(
		    tasks[t].key_size, tasks[t].max_flows), NS_CACHELINE);
		l->end += (uint64_t)ngens * nworkers * l->table_size[t];
	}
	return 0;
}

uint64_t
ns_gen_shm_size(unsigned ngens, unsigned ntasks, unsigned nworkers,
    const struct ns_gen_task *tasks)
{
	struct gen_layout l;

	if (gen_layout(&l, ngens, ntasks, nworkers, tasks) != 0)
		return 0;
	return l.end;
}

struct ns_gen_dir *
ns_gen_dir(const struct ns_seg *seg)
{
	return ns_seg_ptr(seg, ns_seg_section(seg, NS_SEG_GENS, NULL));
}

static uint64_t *
gen_shard_slot(const struct ns_seg *seg, const struct ns_gen_dir *d,
    unsigned gi, unsigned task, unsigned worker)
{
	uint64_t *shards = ns_seg_ptr(seg, d->shards_off);

	return &shards[((uint64_t)gi * d->ntasks + task) * d->nworkers +
	    worker];
}

static int
gen_init_tables(struct ns_seg *seg, struct ns_gen_dir *d,
    const struct gen_layout *l, const struct ns_gen_task *tasks)
{
	uint64_t off = ns_seg_off(seg, d) + l->tables;
	unsigned gi, t, w;
	int rc;

	for (gi = 0; gi < d->ngens; gi++)
		for (t = 0; t < d->ntasks; t++)
			for (w = 0; w < d->nworkers; w++) {
				rc = ns_table_shm_init(ns_seg_ptr(seg, off),
				    tasks[t].key_size, tasks[t].max_flows);
				if (rc != 0)
					return rc;
				*gen_shard_slot(seg, d, gi, t, w) = off;
				off += l->table_size[t];
			}
	return 0;
}

int
ns_gen_shm_init(struct ns_seg *seg, unsigned ngens, unsigned ntasks,
    unsigned nworkers, const struct ns_gen_task *tasks)
{
	struct gen_layout l;
	struct ns_gen_dir *d;
	uint64_t size, off;
	int rc;

	if ((rc = gen_layout(&l, ngens, ntasks, nworkers, tasks)) != 0)
		return rc;
	off = ns_seg_section(seg, NS_SEG_GENS, &size);
	if (off == 0 || size < l.end)
		return -EINVAL;
	d = ns_seg_ptr(seg, off);
	memset(d, 0, l.tables);
	d->ngens = ngens;
	d->ntasks = ntasks;
	d->nworkers = nworkers;
	d->tasks_off = off + l.tasks;
	d->shards_off = off + l.shards;
	d->workers_off = off + l.workers;
	memcpy(ns_seg_ptr(seg, d->tasks_off), tasks, ntasks * sizeof(*tasks));
	if ((rc = gen_init_tables(seg, d, &l, tasks)) != 0)
		return rc;
	/* Generation 0 is live from the start; root (header) is 0. */
	d->gen[0].state = NS_GEN_LIVE;
	ns_seg_hdr(seg)->root = 0;
	return 0;
}

uint64_t
ns_gen_root(const struct ns_seg *seg)
{
	/*
	 * Acquire, pairs with the release of root in ns_gen_advance(): the
	 * generation it names is cleared and marked live before we use it.
	 */
	return ns_load_acquire(&ns_seg_hdr(seg)->root);
}

struct ns_gen_info *
ns_gen_info(const struct ns_seg *seg, uint64_t g)
{
	struct ns_gen_dir *d = ns_gen_dir(seg);

	return &d->gen[g % d->ngens];
}

uint64_t
ns_gen_shard_off(const struct ns_seg *seg, uint64_t g, unsigned task,
    unsigned worker)
{
	struct ns_gen_dir *d = ns_gen_dir(seg);

	if (task >= d->ntasks || worker >= d->nworkers)
		return 0;
	return *gen_shard_slot(seg, d, (unsigned)(g % d->ngens), task, worker);
}

struct ns_table *
ns_gen_shard(const struct ns_seg *seg, uint64_t g, unsigned task,
    unsigned worker)
{
	return ns_seg_ptr(seg, ns_gen_shard_off(seg, g, task, worker));
}

/*
 * Make generation g + 1 current.  -ESTALE if root is not g, -EBUSY if the
 * standby has not been cleared yet (the previous period is still being
 * exported): the caller retries, and its rings apply backpressure.
 */
int
ns_gen_advance(struct ns_seg *seg, uint64_t g, uint64_t period_start_ns)
{
	struct ns_gen_info *next = ns_gen_info(seg, g + 1);
	uint64_t expect = g;

	if (ns_gen_root(seg) != g)
		return -ESTALE;
	/* Acquire, pairs with the release of STANDBY in ns_gen_clear(). */
	if (ns_load_acquire(&next->state) != NS_GEN_STANDBY)
		return -EBUSY;
	ns_store_relaxed(&next->seq, g + 1);
	ns_store_relaxed(&next->period_start_ns, period_start_ns);
	ns_store_relaxed(&next->state, NS_GEN_LIVE);
	/*
	 * Sequentially consistent CAS (a release), pairs with the acquire in
	 * ns_gen_root(): the cleared shards and the info above are visible
	 * to whoever sees the new root.
	 */
	if (!ns_cas(&ns_seg_hdr(seg)->root, &expect, g + 1))
		return -ESTALE;
	return 0;
}

static struct ns_gen_worker *
gen_worker(const struct ns_seg *seg, unsigned worker)
{
	struct ns_gen_dir *d = ns_gen_dir(seg);
	struct ns_gen_worker *w = ns_seg_ptr(seg, d->workers_off);

	return worker < d->nworkers ? &w[worker] : NULL;
}

/* The generation a (re)started worker writes into. */
uint64_t
ns_gen_worker_current(const struct ns_seg *seg, unsigned worker)
{
	return ns_load_relaxed(&gen_worker(seg, worker)->gen);
}

void
ns_gen_worker_switch(struct ns_seg *seg, unsigned worker, uint64_t g)
{
	/*
	 * Release, pairs with the acquire in ns_gen_all_switched(): every
	 * store this worker made to the previous generation is visible to
	 * the process that then takes its final snapshot.
	 */
	ns_store_release(&gen_worker(seg, worker)->gen, g);
}

/* 1 if every worker writes into generation g or later. */
int
ns_gen_all_switched(const struct ns_seg *seg, uint64_t g)
{
	struct ns_gen_dir *d = ns_gen_dir(seg);
	unsigned w;

	for (w = 0; w < d->nworkers; w++)
		/* Acquire, pairs with the release in ns_gen_worker_switch(). */
		if (ns_load_acquire(&gen_worker(seg, w)->gen) < g)
			return 0;
	return 1;
}

/* Generation g has lost its last writer: its final snapshot may begin. */
int
ns_gen_close(struct ns_seg *seg, uint64_t g)
{
	if (!ns_gen_all_switched(seg, g + 1))
		return -EBUSY;
	ns_store_relaxed(&ns_gen_info(seg, g)->state, NS_GEN_CLOSED);
	return 0;
}

/*
 * Clear closed generation g into the standby.  The caller has taken the
 * final snapshot and run ns_slot_synchronize() since the root moved on,
 * so no reader is left inside g.
 */
int
ns_gen_clear(struct ns_seg *seg, uint64_t g)
{
	struct ns_gen_dir *d = ns_gen_dir(seg);
	struct ns_gen_info *gi = ns_gen_info(seg, g);
	unsigned t, w;

	if (ns_load_relaxed(&gi->state) != NS_GEN_CLOSED)
		return -EBUSY;
	/* A private segment is not preallocated: its pages may go back. */
	for (t = 0; t < d->ntasks; t++)
		for (w = 0; w < d->nworkers; w++)
			if (seg->flags & NS_SEG_F_PRIVATE)
				ns_table_release(ns_gen_shard(seg, g, t, w));
			else
				ns_table_clear(ns_gen_shard(seg, g, t, w));
	/*
	 * Release, pairs with the acquire of the standby's state in
	 * ns_gen_advance(): the cleared shards are visible before the
	 * generation can be made live again.
	 */
	ns_store_release(&gi->state, NS_GEN_STANDBY);
	return 0;
}
