/*
 * engine.c -- sizing and initialising the shared-memory segment of an
 * engine run, in PostgreSQL's XxxShmemSize/XxxShmemInit order, and finding
 * the statistics that src/ owns inside it.
 */
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "atomic.h"
#include "gen.h"
#include "journal.h"
#include "ring.h"
#include "slot.h"
#include "table.h"

#define NS_ENGINE_EXTERNAL_SLOTS 8	/* status/top readers at once */

/* STATS: input states, the exporter's state, the alerter's, then per
 * worker. */
static uint64_t
stats_inputs_size(const struct ns_engine *e)
{
	return e->ninputs * sizeof(struct ns_input_state) +
	    sizeof(struct ns_export_state) + sizeof(struct ns_alert_state);
}

/*
 * The exact task a heavy-hitter task is linked to: the first of the same
 * flow key that no earlier task is linked to (an entry has one bit for
 * it), or -1.
 */
static int
sketch_link(const struct ns_engine *e, const struct ns_sketch_task *k)
{
	unsigned t, j;
	int taken;

	for (t = 0; t < e->ntasks; t++) {
		if (!ns_task_same_key(&e->tasks[t], &k->flow))
			continue;
		for (j = 0, taken = 0; &e->sketches[j] < k; j++)
			taken |= e->sketches[j].link == (int)t;
		if (!taken)
			return (int)t;
	}
	return -1;
}

/* Sketch task k's parameters from its configuration. */
static int
sketch_init(struct ns_engine *e, struct ns_sketch_task *k,
    const struct ns_config_sketch_task *ct, char *err, size_t errlen)
{
	struct ns_sketch_params *p = &k->params;
	int rc;

	memset(k, 0, sizeof(*k));
	k->cfg = ct;
	k->link = -1;
	k->spread = ct->skt_type == NS_CONFIG_SKETCH_SUPER_SPREADERS;
	if ((rc = ns_task_init_fields(&k->flow, ct->name, &ct->flow_fields,
	    err, errlen)) != 0 ||
	    (k->spread && (rc = ns_task_init_fields(&k->elem, ct->name,
	    &ct->element_fields, err, errlen)) != 0))
		return rc;
	/* The configured width is the task's: its workers share it. */
	p->width = ct->width / e->nworkers ? ct->width / e->nworkers : 1;
	p->depth = ct->depth;
	/* Candidates per region: more than are reported, so that a heavy
	 * key is rarely evicted before it shows. */
	p->top_k = ct->top_k * 2 > 2048 ? ct->top_k * 2 : 2048;
	p->m = ct->m;
	p->key_size = k->flow.key_size;
	p->flags = k->flow.full_tuple ? NS_SKETCH_F_PARTITIONED : 0;
	p->seed = ct->seed;
	if (!k->spread && (k->link = sketch_link(e, k)) >= 0)
		p->flags |= NS_SKETCH_F_LINKED;
	k->region_size = k->spread ? ns_spread_shm_size(p) : ns_hh_shm_size(p);
	k->cells = k->spread ? ns_spread_cells_per_update(p) :
	    ns_hh_cells_per_update(p);
	if (k->region_size == 0) {
		snprintf(err, errlen, "sketch task %s: no sketch of depth %u "
		    "(1 to %u), width %u, m %u (%u to %u)", ct->name, p->depth,
		    NS_SKETCH_DEPTH_MAX, p->width, p->m, NS_SPREAD_M_MIN,
		    NS_SPREAD_M_MAX);
		return -EINVAL;
	}
	/* Regions one after another keep heavy-hitter buckets on 128 bytes. */
	k->region_size = NS_ALIGN_UP(k->region_size, NS_HH_BUCKET_BYTES);
	return 0;
}

static uint64_t
sketches_gen_size(const struct ns_engine *e)
{
	uint64_t n = 0;
	unsigned k;

	for (k = 0; k < e->nsketches; k++)
		n += e->sketches[k].region_size * e->nworkers;
	return n;
}

static uint64_t
stats_size(const struct ns_engine *e)
{
	return stats_inputs_size(e) + e->nworkers * e->wstats_stride;
}

uint64_t
ns_engine_stats_cells(const struct ns_engine *e)
{
	return (sizeof(struct ns_worker_stats) +
	    e->ntasks * sizeof(struct ns_task_stats)) / sizeof(uint64_t);
}

/* What makes two runs' segments interchangeable. */
static uint64_t
config_hash(const struct ns_engine *e)
{
	uint64_t h = ns_seg_hash(0, &e->nworkers, sizeof(e->nworkers));
	unsigned t;

	h = ns_seg_hash(h, &e->ninputs, sizeof(e->ninputs));
	h = ns_seg_hash(h, &e->ring_capacity, sizeof(e->ring_capacity));
	for (t = 0; t < e->ntasks; t++) {
		const struct ns_task *k = &e->tasks[t];

		h = ns_seg_hash(h, k->name, strlen(k->name));
		h = ns_seg_hash(h, &k->fields, sizeof(k->fields));
		h = ns_seg_hash(h, &k->max_flows, sizeof(k->max_flows));
	}
	for (t = 0; t < e->nsketches; t++) {
		const struct ns_sketch_task *k = &e->sketches[t];

		h = ns_seg_hash(h, k->flow.name, strlen(k->flow.name));
		h = ns_seg_hash(h, &k->flow.fields, sizeof(k->flow.fields));
		h = ns_seg_hash(h, &k->elem.fields, sizeof(k->elem.fields));
		h = ns_seg_hash(h, &k->params, sizeof(k->params));
	}
	return h;
}

static void
gen_tasks(const struct ns_engine *e, struct ns_gen_task *gt)
{
	unsigned t;

	memset(gt, 0, sizeof(*gt) * e->ntasks);
	for (t = 0; t < e->ntasks; t++) {
		gt[t].key_size = e->tasks[t].key_size;
		gt[t].max_flows = ns_engine_shard_flows(e, t);
	}
}

/*
 * A task's max_flows is shared by its workers' shards.  Flows spread over
 * workers by hash, binomially: 5% (and 64 flows) of headroom per shard
 * keeps table_full from striking one shard long before the others.
 */
uint64_t
ns_engine_shard_flows(const struct ns_engine *e, unsigned t)
{
	uint64_t share = (e->tasks[t].max_flows + e->nworkers - 1) / e->nworkers;

	if (e->nworkers == 1)
		return share;
	return share + share / 20 + 64;
}

/*
 * The configuration goes into the segment, so that a daemon restarted with
 * another one can still read the old state (and export it first).
 */
static int
engine_config_text(struct ns_engine *e)
{
	size_t len;
	FILE *fp = open_memstream(&e->config_text, &len);

	if (fp == NULL)
		return -errno;
	ns_config_dump(fp, e->cfg);
	return fclose(fp) == 0 ? 0 : -ENOMEM;
}

const char *
ns_engine_config_text(const struct ns_seg *seg)
{
	uint64_t size, off = ns_seg_section(seg, NS_SEG_CONFIG, &size);
	const char *text = ns_seg_ptr(seg, off);

	return off == 0 || size == 0 || memchr(text, '\0', size) == NULL ?
	    NULL : text;
}

int
ns_engine_init(struct ns_engine *e, const struct ns_config *cfg,
    unsigned ninputs, char *err, size_t errlen)
{
	const struct ns_config_aggregator *agg = &cfg->aggregator;
	unsigned t;
	int rc;

	memset(e, 0, sizeof(*e));
	e->seg.fd = -1;
	e->cfg = cfg;
	e->nworkers = agg->num_workers ? agg->num_workers : 1;
	e->ninputs = ninputs;
	e->period_ns = agg->period;
	e->ring_capacity = agg->size_of_packet_channel < 1024 ? 1024 :
	    agg->size_of_packet_channel;
	if (agg->types & NS_CONFIG_AGG_EXACT)
		e->ntasks = agg->exact.ntasks;
	if (agg->types & NS_CONFIG_AGG_SKETCH)
		e->nsketches = agg->sketch.ntasks;
	if (e->ntasks == 0 && e->nsketches == 0) {
		snprintf(err, errlen, "%s: no task to run "
		    "(aggregator.exact.tasks, aggregator.sketch.tasks)",
		    cfg->source);
		return -EINVAL;
	}
	for (t = 0; t < e->ntasks; t++)
		if ((rc = ns_task_init(&e->tasks[t], &agg->exact.tasks[t],
		    err, errlen)) != 0)
			return rc;
	for (t = 0; t < e->nsketches; t++)
		if ((rc = sketch_init(e, &e->sketches[t],
		    &agg->sketch.tasks[t], err, errlen)) != 0)
			return rc;
	/*
	 * Capture per input, workers, the exporters, the API; one for each
	 * writer that could be a ClickHouse or NATS one (a process each), so
	 * that a reload adding one keeps the layout; one for ns-alert, a
	 * reader of the live generation, whether or not the alerter is
	 * enabled (the layout must not depend on it).
	 */
	e->nslots = ninputs + e->nworkers + 5 + NS_EXPORT_WRITERS + 1;
	e->wstats_stride = NS_ALIGN_UP(sizeof(struct ns_worker_stats) +
	    e->ntasks * sizeof(struct ns_task_stats), NS_CACHELINE);
	if ((rc = engine_config_text(e)) != 0)
		return rc;
	e->max_undo = (uint64_t)NS_ENGINE_BATCH * NS_TABLE_CELLS_PER_RECORD *
	    e->ntasks + ns_engine_stats_cells(e) + 16;
	for (t = 0; t < e->nsketches; t++)
		e->max_undo += (uint64_t)NS_ENGINE_BATCH * e->sketches[t].cells;
	return 0;
}

static void
engine_layout(struct ns_engine *e, struct ns_seg_layout *l)
{
	struct ns_gen_task gt[NS_CONFIG_MAX_TASKS];

	gen_tasks(e, gt);
	ns_seg_layout_init(l, config_hash(e));
	ns_seg_layout_set(l, NS_SEG_SLOTS,
	    ns_slot_shm_size(e->nslots, NS_ENGINE_EXTERNAL_SLOTS));
	ns_seg_layout_set(l, NS_SEG_RINGS,
	    ns_ring_shm_size(e->ninputs * e->nworkers, e->ring_capacity));
	ns_seg_layout_set(l, NS_SEG_JOURNALS,
	    ns_journal_shm_size(e->nworkers, e->max_undo));
	e->table_bytes = ns_gen_shm_size(NS_ENGINE_NGENS, e->ntasks,
	    e->nworkers, gt);
	ns_seg_layout_set(l, NS_SEG_GENS, e->table_bytes);
	ns_seg_layout_set(l, NS_SEG_STATS, stats_size(e));
	ns_seg_layout_set(l, NS_SEG_SKETCHES,
	    NS_ENGINE_NGENS * sketches_gen_size(e) + NS_HH_BUCKET_BYTES);
	/* A fixed size: a new writer path must not change the layout. */
	ns_seg_layout_set(l, NS_SEG_CONFIG, NS_ENGINE_CONFIG_MAX);
	ns_seg_layout_finish(l);
	e->layout_hash = l->hash;
	e->shm_bytes = l->total;
}

static int
sketches_shm_init(struct ns_engine *e)
{
	unsigned g, k, w;
	int rc;

	for (g = 0; g < NS_ENGINE_NGENS; g++)
		for (k = 0; k < e->nsketches; k++)
			for (w = 0; w < e->nworkers; w++) {
				const struct ns_sketch_task *t = &e->sketches[k];
				void *mem = ns_engine_sketch(e, g, k, w);

				rc = t->spread ? ns_spread_shm_init(mem,
				    &t->params) : ns_hh_shm_init(mem,
				    &t->params);
				if (rc != 0)
					return rc;
			}
	return 0;
}

static int
engine_shm_init(struct ns_engine *e)
{
	struct ns_gen_task gt[NS_CONFIG_MAX_TASKS];
	uint64_t off;
	int rc;

	gen_tasks(e, gt);
	if ((rc = ns_slot_shm_init(&e->seg, e->nslots,
	    NS_ENGINE_EXTERNAL_SLOTS)) != 0 ||
	    (rc = ns_ring_shm_init(&e->seg, e->ninputs * e->nworkers,
	    e->ring_capacity)) != 0 ||
	    (rc = ns_journal_shm_init(&e->seg, e->nworkers, e->max_undo)) != 0 ||
	    (rc = ns_gen_shm_init(&e->seg, NS_ENGINE_NGENS, e->ntasks,
	    e->nworkers, gt)) != 0)
		return rc;
	/* A new segment is zero-filled: the statistics start at 0. */
	off = ns_seg_section(&e->seg, NS_SEG_STATS, NULL);
	if (off == 0)
		return -EINVAL;
	/* Too large a configuration is not kept: its state cannot be
	 * exported after a layout change, and nothing else depends on it. */
	off = ns_seg_section(&e->seg, NS_SEG_CONFIG, NULL);
	if (strlen(e->config_text) < NS_ENGINE_CONFIG_MAX)
		memcpy(ns_seg_ptr(&e->seg, off), e->config_text,
		    strlen(e->config_text) + 1);
	return sketches_shm_init(e);
}

int
ns_engine_create_private(struct ns_engine *e)
{
	struct ns_seg_layout l;
	int rc;

	engine_layout(e, &l);
	if ((rc = ns_seg_create_private(&e->seg, &l)) != 0)
		return rc;
	if ((rc = engine_shm_init(e)) != 0 ||
	    (rc = ns_seg_publish(&e->seg)) != 0) {
		ns_seg_detach(&e->seg);
		return rc;
	}
	return 0;
}

int
ns_engine_create_named(struct ns_engine *e, const char *name)
{
	struct ns_seg_layout l;
	int rc;

	engine_layout(e, &l);
	if ((rc = ns_seg_create(&e->seg, name, &l)) != 0)
		return rc;
	if ((rc = engine_shm_init(e)) != 0 ||
	    (rc = ns_seg_publish(&e->seg)) != 0) {
		ns_seg_detach(&e->seg);
		ns_seg_unlink(name);
		return rc;
	}
	return 0;
}

uint64_t
ns_engine_layout_hash(struct ns_engine *e)
{
	struct ns_seg_layout l;

	engine_layout(e, &l);
	return l.hash;
}

int
ns_engine_reattach(struct ns_engine *e, const char *name)
{
	struct ns_seg_layout l;
	unsigned i;
	int rc;

	engine_layout(e, &l);
	if ((rc = ns_seg_attach(&e->seg, name, e->layout_hash)) != 0)
		return rc;
	/* No process of the earlier run is left: slots start over. */
	if ((rc = ns_slot_shm_init(&e->seg, e->nslots,
	    NS_ENGINE_EXTERNAL_SLOTS)) != 0) {
		ns_seg_detach(&e->seg);
		return rc;
	}
	for (i = 0; i < e->ninputs; i++) {
		struct ns_input_state *st = ns_engine_input(e, i);

		st->done = 0;
		st->stop = 0;
	}
	ns_engine_export(e)->ckpt[ns_engine_export(e)->ckpt_idx].ended = 0;
	return 0;
}

int
ns_engine_open_segment(struct ns_engine *e, struct ns_config *cfg,
    const char *name, int rdonly)
{
	struct ns_seg seg;
	const char *text;
	char err[512];
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	rc = rdonly ? ns_seg_attach_ro(&seg, name, 0) : ns_seg_attach(&seg,
	    name, 0);
	if (rc != 0)
		return rc;
	if ((text = ns_engine_config_text(&seg)) == NULL ||
	    ns_config_load_string(text, name, cfg, err, sizeof(err)) != 0 ||
	    ns_engine_init(e, cfg, cfg->ninputs, err, sizeof(err)) != 0) {
		ns_seg_detach(&seg);
		ns_config_free(cfg);
		return -EBADMSG;
	}
	/* After the init, which starts from a blank engine. */
	e->seg = seg;
	return 0;
}

const char *
ns_engine_open_strerror(int rc)
{
	switch (rc) {
	case -EBADMSG:
		return "cannot read the configuration it was made with";
	case -EPROTO:
		return "written by another version of netspectra (segment ABI)";
	default:
		return strerror(-rc);
	}
}

int
ns_engine_inputs_done(const struct ns_engine *e)
{
	unsigned i;

	for (i = 0; i < e->ninputs; i++)
		/* Acquire, pairs with the capture's release of done. */
		if (!(ns_load_acquire(&ns_engine_input(e, i)->done) &
		    NS_INPUT_DONE))
			return 0;
	return 1;
}

void
ns_engine_close(struct ns_engine *e)
{
	if (e->seg.base != NULL)
		ns_seg_detach(&e->seg);
	free(e->config_text);
	e->config_text = NULL;
}

struct ns_input_state *
ns_engine_input(const struct ns_engine *e, unsigned i)
{
	char *stats = ns_seg_ptr(&e->seg,
	    ns_seg_section(&e->seg, NS_SEG_STATS, NULL));

	return (struct ns_input_state *)stats + i;
}

struct ns_export_state *
ns_engine_export(const struct ns_engine *e)
{
	return (struct ns_export_state *)ns_engine_input(e, e->ninputs);
}

/* The alerter's counters and rule states, after the exporter's state. */
struct ns_alert_state *
ns_engine_alert(const struct ns_engine *e)
{
	return (struct ns_alert_state *)(ns_engine_export(e) + 1);
}

struct ns_worker_stats *
ns_engine_wstats(const struct ns_engine *e, unsigned w)
{
	char *stats = ns_seg_ptr(&e->seg,
	    ns_seg_section(&e->seg, NS_SEG_STATS, NULL));

	return (struct ns_worker_stats *)(stats + stats_inputs_size(e) +
	    w * e->wstats_stride);
}

void *
ns_engine_sketch(const struct ns_engine *e, uint64_t g, unsigned k,
    unsigned w)
{
	char *base = ns_seg_ptr(&e->seg,
	    ns_seg_section(&e->seg, NS_SEG_SKETCHES, NULL));
	uint64_t off = (g % NS_ENGINE_NGENS) * sketches_gen_size(e);
	unsigned i;

	base = (char *)NS_ALIGN_UP((uintptr_t)base, NS_HH_BUCKET_BYTES);
	for (i = 0; i < k; i++)
		off += e->sketches[i].region_size * e->nworkers;
	return base + off + w * e->sketches[k].region_size;
}

void
ns_engine_sketch_clear(const struct ns_engine *e, uint64_t g)
{
	unsigned k, w;

	for (k = 0; k < e->nsketches; k++)
		for (w = 0; w < e->nworkers; w++) {
			void *mem = ns_engine_sketch(e, g, k, w);

			if (e->sketches[k].spread)
				ns_spread_clear(mem);
			else
				ns_hh_clear(mem);
		}
}

struct ns_ring *
ns_engine_ring(const struct ns_engine *e, unsigned input, unsigned worker)
{
	return ns_ring_get(&e->seg, input * e->nworkers + worker);
}
