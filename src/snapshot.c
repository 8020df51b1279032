/*
 * snapshot.c -- a generation's flows, merged across workers' shards.
 */
#include "snapshot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

/* A private open-addressing map of merged flows. */
struct merge {
	struct ns_flow	*slot;
	uint8_t		*used;
	uint64_t	 mask;
};

uint64_t
ns_snapshot_count(const struct ns_engine *e, uint64_t g, unsigned t)
{
	uint64_t n = 0;
	unsigned w;

	for (w = 0; w < e->nworkers; w++)
		n += ns_table_count(ns_gen_shard(&e->seg, g, t, w));
	return n;
}

static void
merge_into(struct ns_flow *m, const struct ns_flow *f)
{
	m->packets += f->packets;
	m->bytes += f->bytes;
	m->tcp_flags |= f->tcp_flags;
	if (f->first_ns < m->first_ns)
		m->first_ns = f->first_ns;
	if (f->last_ns > m->last_ns)
		m->last_ns = f->last_ns;
}

static void
merge_add(struct merge *m, const struct ns_task *task, const struct ns_flow *f)
{
	uint64_t i = ns_task_key_hash(task, f->key) & m->mask;

	while (m->used[i]) {
		if (memcmp(m->slot[i].key, f->key, task->key_size) == 0) {
			merge_into(&m->slot[i], f);
			return;
		}
		i = (i + 1) & m->mask;
	}
	m->used[i] = 1;
	m->slot[i] = *f;
}

static int
snapshot_merged(const struct ns_engine *e, uint64_t g, unsigned t,
    ns_snapshot_fn fn, void *arg)
{
	const struct ns_task *task = &e->tasks[t];
	uint64_t n = ns_snapshot_count(e, g, t), size = 16, pos, i;
	struct merge m;
	struct ns_flow f;
	unsigned w;

	while (size < 2 * n)
		size <<= 1;
	m.mask = size - 1;
	m.slot = malloc(size * sizeof(*m.slot));
	m.used = calloc(size, 1);
	if (m.slot == NULL || m.used == NULL) {
		free(m.slot);
		free(m.used);
		return -ENOMEM;
	}
	for (w = 0; w < e->nworkers; w++)
		for (pos = 0; ns_table_next(ns_gen_shard(&e->seg, g, t, w),
		    &pos, &f); )
			merge_add(&m, task, &f);
	for (i = 0; i < size; i++)
		if (m.used[i])
			fn(arg, task, &m.slot[i]);
	free(m.slot);
	free(m.used);
	return 0;
}

int
ns_snapshot_task(const struct ns_engine *e, uint64_t g, unsigned t,
    ns_snapshot_fn fn, void *arg)
{
	const struct ns_task *task = &e->tasks[t];
	struct ns_flow f;
	uint64_t pos;
	unsigned w;

	/* Workers are picked by the 5-tuple: such keys live in one shard. */
	if (!task->full_tuple && e->nworkers > 1)
		return snapshot_merged(e, g, t, fn, arg);
	for (w = 0; w < e->nworkers; w++)
		for (pos = 0; ns_table_next(ns_gen_shard(&e->seg, g, t, w),
		    &pos, &f); )
			fn(arg, task, &f);
	return 0;
}
