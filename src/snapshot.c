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

/* ---- top-K --------------------------------------------------------------- */

struct top_pick {
	struct ns_flow	*best;		/* unsorted while collecting */
	unsigned	 k, have;
	int		 by_bytes;
	uint64_t	 flows;
};

static uint64_t
top_value(const struct top_pick *p, const struct ns_flow *f)
{
	return p->by_bytes ? f->bytes : f->packets;
}

/* Keep the k largest: replace the smallest when full. */
static void
top_offer(void *arg, const struct ns_task *t, const struct ns_flow *f)
{
	struct top_pick *p = arg;
	unsigned i, min = 0;

	(void)t;
	p->flows++;
	if (p->have < p->k) {
		p->best[p->have++] = *f;
		return;
	}
	for (i = 1; i < p->have; i++)
		if (top_value(p, &p->best[i]) < top_value(p, &p->best[min]))
			min = i;
	if (p->have > 0 && top_value(p, f) > top_value(p, &p->best[min]))
		p->best[min] = *f;
}

static int
top_cmp(const void *a, const void *b, void *arg)
{
	uint64_t x = top_value(arg, a), y = top_value(arg, b);

	return x < y ? 1 : x > y ? -1 : 0;
}

int
ns_snapshot_top(const struct ns_engine *e, uint64_t g, unsigned t, unsigned k,
    int by_bytes, struct ns_flow *out, uint64_t *nflows)
{
	struct top_pick p = { out, k, 0, by_bytes, 0 };
	int rc;

	if ((rc = ns_snapshot_task(e, g, t, top_offer, &p)) != 0)
		return rc;
	qsort_r(out, p.have, sizeof(*out), top_cmp, &p);
	*nflows = p.flows;
	return (int)p.have;
}

/* ---- sketches ---------------------------------------------------------- */

struct sketch_cb {
	const struct ns_sketch_task *t;
	enum ns_sketch_kind kind;
	ns_snapshot_sketch_fn fn;
	void *arg;
	uint64_t left;			/* still to report (the cap) */
	uint64_t threshold;
	uint64_t reported, cut;		/* cut: over the threshold, past it */
};

static void
sketch_one(void *arg, const uint8_t *key, uint64_t value, uint64_t err)
{
	struct sketch_cb *c = arg;

	if (c->left == 0) {
		/* Without a threshold nothing is "over" it. */
		c->cut += c->threshold > 0;
		return;
	}
	c->left--;
	c->reported++;
	c->fn(c->arg, c->t, c->kind, key, value, err);
}

const char *
ns_sketch_kind_name(enum ns_sketch_kind kind)
{
	static const char *const names[] = { "count", "size", "spread" };

	return names[kind];
}

uint64_t
ns_sketch_threshold(const struct ns_sketch_task *t, enum ns_sketch_kind kind)
{
	return kind == NS_SKETCH_SIZE ? t->cfg->size_threshold :
	    t->cfg->count_threshold;
}

/*
 * How many keys a snapshot of kind reports: top_k when the task sets it;
 * else, with a threshold, every key over it (the query is bounded by the
 * candidates anyway); else the 100 largest, lest a task without either
 * list every candidate.
 */
uint64_t
ns_sketch_report_cap(const struct ns_sketch_task *t, enum ns_sketch_kind kind)
{
	if (t->cfg->top_k != 0)
		return t->cfg->top_k;
	return ns_sketch_threshold(t, kind) != 0 ? UINT64_MAX :
	    NS_SKETCH_DEFAULT_TOP_K;
}

/* The workers' regions of task k (and linked tables) in generation g. */
static int
sketch_regions(const struct ns_engine *e, uint64_t g, unsigned k,
    const void **regions, const struct ns_table **tables)
{
	const struct ns_sketch_task *t = &e->sketches[k];
	unsigned w;

	if (e->nworkers > NS_SNAPSHOT_MAX_WORKERS)
		return -E2BIG;
	for (w = 0; w < e->nworkers; w++) {
		regions[w] = ns_engine_sketch(e, g, k, w);
		tables[w] = t->link >= 0 ? ns_gen_shard(&e->seg, g,
		    (unsigned)t->link, w) : NULL;
	}
	return 0;
}

int
ns_snapshot_sketch_stats(const struct ns_engine *e, uint64_t g, unsigned k,
    enum ns_sketch_kind kind, ns_snapshot_sketch_fn fn, void *arg,
    struct ns_sketch_report *rep)
{
	const struct ns_sketch_task *t = &e->sketches[k];
	const void *regions[NS_SNAPSHOT_MAX_WORKERS];
	const struct ns_table *tables[NS_SNAPSHOT_MAX_WORKERS];
	struct sketch_cb c = { t, kind, fn, arg, ns_sketch_report_cap(t, kind),
	    ns_sketch_threshold(t, kind), 0, 0 };
	uint64_t unseen = 0;
	int by_bytes = kind == NS_SKETCH_SIZE ? NS_HH_BY_BYTES : 0, rc;

	if ((rc = sketch_regions(e, g, k, regions, tables)) != 0)
		return rc;
	if (kind == NS_SKETCH_SPREAD)
		rc = ns_spread_query(regions, e->nworkers, c.threshold,
		    sketch_one, &c);
	else
		rc = ns_hh_query_linked(regions, tables, e->nworkers, by_bytes,
		    c.threshold, sketch_one, &c);
	if (rc < 0 || rep == NULL)
		return rc;
	/* Spread buckets keep no count of the keys they lost: only the
	 * cut is known there. */
	if (kind != NS_SKETCH_SPREAD && c.threshold > 0 &&
	    (rc = ns_hh_unreported(regions, tables, e->nworkers, by_bytes,
	    c.threshold, &unseen)) < 0)
		return rc;
	rep->reported = c.reported;
	rep->cut = c.cut;
	rep->unreported = c.cut + unseen;
	return (int)c.reported;
}

int
ns_snapshot_sketch(const struct ns_engine *e, uint64_t g, unsigned k,
    enum ns_sketch_kind kind, ns_snapshot_sketch_fn fn, void *arg)
{
	return ns_snapshot_sketch_stats(e, g, k, kind, fn, arg, NULL);
}
