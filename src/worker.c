/*
 * worker.c -- the worker role.
 *
 * Records are applied in batches under the journal (shm/journal.h): begin,
 * every shared store logged, one store of the ring's commit word.  A
 * successor of a killed worker rolls the open batch back and applies the
 * same records again, so every packet is counted exactly once.
 *
 * Lifetime statistics are summed in process memory during a batch and
 * stored (journaled) once at its end: a few cells per batch instead of a
 * dozen per packet.
 *
 * A period marker is applied alone, as the first record of its own batch,
 * so that everything before it is committed to the old generation when the
 * worker switches (the switch word is not journaled; a replayed marker
 * switches again, to the same generation).  With several inputs the worker
 * switches once every input's ring has brought it the marker.
 */
#include "worker.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <urcu/arch.h>

#include "atomic.h"
#include "gen.h"
#include "inject.h"
#include "journal.h"
#include "log.h"
#include "ring.h"
#include "slot.h"
#include "supervisor.h"
#include "table.h"

#define WK_PREFETCH	8	/* records between prefetch and use */

/*
 * How a worker applies a sketch task (wk_plan()), in a pass of its own
 * after the exact updates of the batch (wk_hh_pass(), wk_spread_pass()):
 *   WK_HH      heavy hitters: key and hash made up front with the exact
 *              tasks' (or taken from the exact task of the same key);
 *              linked to that task (sketch.h, ns_hh_update_linked()), in
 *              wk_packet() right after its exact update instead;
 *   WK_SPREAD  super-spreaders: keys, hashes and pair hash made in the
 *              pass, for every packet -- or, when an exact task's key
 *              implies the pair (via), for the flows new to that task.
 */
enum wk_mode { WK_HH, WK_SPREAD, WK_NMODES };

static_assert(NS_ENGINE_BATCH <= 65536, "record indices fit wk_sketch.todo");

struct wk_sketch {
	enum wk_mode	 mode;
	unsigned	 task;		/* index in e->sketches */
	unsigned	 key_slot;	/* key and hash slot of the flow key */
	int		 own_key;	/* the flow key is made for it */
	int		 via;		/* spread: the exact task, or -1 */
	int		 linked;	/* hh: counted with its exact task */
	uint64_t	*seen;		/* spread: the pairs applied lately */
	uint16_t	*todo;		/* spread: the records to apply */
	unsigned	 ntodo;
};

struct worker {
	struct ns_engine	*e;
	unsigned		 w;
	unsigned		 slot;
	struct ns_jctx		 jc;
	struct ns_ring_cons	*cons;		/* one per input */
	uint8_t			*parked;	/* ring waits at a marker */
	uint64_t		 gen;
	struct ns_table		*shard[NS_CONFIG_MAX_TASKS];
	void			*sketch[NS_CONFIG_MAX_TASKS];
	struct ns_worker_stats	*st;		/* shared, journaled */
	struct ns_worker_stats	*acc;		/* this batch's deltas */
	uint64_t		 ncells;
	/* Keys and hashes of a batch, made before it is applied so that the
	 * entries can be prefetched: per record nkeys keys and hashes, of
	 * the exact tasks, then of the sketch tasks that make their own
	 * (heavy hitters only fill theirs). */
	uint8_t			*keys;
	uint64_t		*hashes;
	unsigned		 nkeys;
	/* The spread pass's flow and element keys, a batch each. */
	uint8_t			(*sp_fkey)[NS_TABLE_KEY_MAX];
	uint8_t			(*sp_ekey)[NS_TABLE_KEY_MAX];
	struct wk_sketch	 sk[NS_CONFIG_MAX_TASKS];
	/* The sketch tasks by mode, and the heavy hitters that make their
	 * own keys up front. */
	struct wk_sketch	*mode[WK_NMODES][NS_CONFIG_MAX_TASKS];
	unsigned		 nmode[WK_NMODES];
	struct wk_sketch	*upfront[NS_CONFIG_MAX_TASKS];
	unsigned		 nupfront;
	unsigned		 nvia;		/* spread tasks with via */
	/* Per exact task, the heavy-hitter task linked to it, or -1. */
	int			 link[NS_CONFIG_MAX_TASKS];
};

/*
 * A spread update is idempotent: the same (key, element) pair sets the
 * same register to the same value and leaves the bucket's owner as it
 * was.  So a pair applied lately in this generation can be skipped: the
 * region ends up exactly as if it were not, crashes included -- a new
 * process starts with an empty cache, and a rolled-back batch dies with
 * the process whose cache saw it.  Most packets repeat a pair.  A slot
 * holds a pair hash (0 is empty: a pair hashing to 0 is never cached).
 * Skipping is exact even for two pairs of equal hash: the hash alone
 * decides the register and rank, and an equal rank never takes a bucket.
 *
 * For the same reason a packet of a flow already in an exact task whose
 * key implies the pair (SrcIP -> DstIP under a 5-tuple task) is skipped
 * without even making its keys: the flow's first packet in this
 * generation applied the pair.  A packet the full table has no room for
 * (-ENOSPC) is applied.  The entry and the update are in the same
 * batch, so a rollback takes both back and the replay applies the pair
 * again.
 */
#define WK_SEEN_SLOTS	4096	/* per spread task, a power of two */

static volatile sig_atomic_t wk_stop;

static void
wk_on_signal(int sig)
{
	(void)sig;
	wk_stop = 1;
}

static void
wk_set_gen(struct worker *wk, uint64_t g)
{
	unsigned t;

	wk->gen = g;
	for (t = 0; t < wk->e->ntasks; t++)
		wk->shard[t] = ns_gen_shard(&wk->e->seg, g, t, wk->w);
	for (t = 0; t < wk->e->nsketches; t++) {
		wk->sketch[t] = ns_engine_sketch(wk->e, g, t, wk->w);
		/* A new generation's regions are empty: forget every pair. */
		if (wk->sk[t].seen != NULL)
			memset(wk->sk[t].seen, 0,
			    WK_SEEN_SLOTS * sizeof(uint64_t));
	}
}

/* ---- statistics ------------------------------------------------------- */

static void
wk_acc_reset(struct worker *wk)
{
	memset(wk->acc, 0, wk->e->wstats_stride);
	wk->acc->first_ns = UINT64_MAX;
}

/* Store the batch's deltas, journaled: a rollback takes them back. */
static void
wk_acc_flush(struct worker *wk)
{
	uint64_t *src = (uint64_t *)wk->acc, *dst = (uint64_t *)wk->st;
	const size_t first = offsetof(struct ns_worker_stats, first_ns) / 8;
	const size_t last = offsetof(struct ns_worker_stats, last_ns) / 8;
	uint64_t i, cur;

	for (i = 0; i < wk->ncells; i++) {
		cur = ns_load_relaxed(&dst[i]);
		if (i == first) {
			if (src[i] < cur || (cur == 0 && src[i] != UINT64_MAX))
				ns_journal_store64(&wk->jc, &dst[i], src[i]);
		} else if (i == last) {
			if (src[i] > cur)
				ns_journal_store64(&wk->jc, &dst[i], src[i]);
		} else if (src[i] != 0)
			ns_journal_store64(&wk->jc, &dst[i], cur + src[i]);
	}
	wk_acc_reset(wk);
}

/* ---- keys ------------------------------------------------------------- */

/* The key of slot s of record i. */
static uint8_t *
wk_key(const struct worker *wk, unsigned i, unsigned s)
{
	return wk->keys + ((size_t)i * wk->nkeys + s) * NS_TABLE_KEY_MAX;
}

static uint64_t *
wk_hash(const struct worker *wk, unsigned i, unsigned s)
{
	return &wk->hashes[(size_t)i * wk->nkeys + s];
}

/* The pair cache slot of a spread task for a pair hash. */
static uint64_t *
wk_seen(const struct wk_sketch *sk, uint64_t pair)
{
	return &sk->seen[pair & (WK_SEEN_SLOTS - 1)];
}

/* The flow key of the k-th sketch task that makes its key up front. */
static const struct ns_task *
wk_upfront_key(const struct worker *wk, unsigned k)
{
	return &wk->e->sketches[wk->upfront[k]->task].flow;
}

/*
 * Keys and hashes of records [0, n): per record, one key per exact task,
 * and those of the sketch tasks that make theirs up front.  Keys first,
 * hashes in a second pass: hashing a key right after writing it byte by
 * byte waits for store forwarding that cannot happen.
 */
static void
wk_prepare(struct worker *wk, const struct ns_record *recs, unsigned n)
{
	const struct ns_engine *e = wk->e;
	unsigned i, t, k;

	for (i = 0; i < n; i++) {
		if (recs[i].kind != NS_REC_PACKET)
			continue;
		for (t = 0; t < e->ntasks; t++)
			ns_task_key_build(&e->tasks[t], &recs[i],
			    wk_key(wk, i, t));
		for (k = 0; k < wk->nupfront; k++)
			ns_task_key_build(wk_upfront_key(wk, k), &recs[i],
			    wk_key(wk, i, wk->upfront[k]->key_slot));
	}
	for (i = 0; i < n; i++) {
		if (recs[i].kind != NS_REC_PACKET)
			continue;
		for (t = 0; t < e->ntasks; t++)
			*wk_hash(wk, i, t) = ns_task_key_hash(&e->tasks[t],
			    wk_key(wk, i, t));
		for (k = 0; k < wk->nupfront; k++)
			*wk_hash(wk, i, wk->upfront[k]->key_slot) =
			    ns_task_key_hash(wk_upfront_key(wk, k),
			    wk_key(wk, i, wk->upfront[k]->key_slot));
	}
}

/* ---- applying records ------------------------------------------------- */

/*
 * Start loading the entries of record i, a few records ahead of the one
 * being applied: far enough to hide a miss, near enough not to queue more
 * misses than the core has fill buffers for.
 */
static void
wk_prefetch(struct worker *wk, const struct ns_record *recs, unsigned i)
{
	unsigned t;

	if (recs[i].kind != NS_REC_PACKET)
		return;
	for (t = 0; t < wk->e->ntasks; t++) {
		ns_table_prefetch(wk->shard[t], *wk_hash(wk, i, t));
		if (wk->link[t] >= 0)
			ns_hh_prefetch(wk->sketch[wk->link[t]],
			    *wk_hash(wk, i, t));
	}
}

/* Record i made a flow in exact task t (or found it full). */
static void
wk_note_new(struct worker *wk, unsigned t, unsigned i)
{
	struct wk_sketch *sk;
	unsigned k;

	for (k = 0; k < wk->nmode[WK_SPREAD]; k++) {
		sk = wk->mode[WK_SPREAD][k];
		if (sk->via == (int)t)
			sk->todo[sk->ntodo++] = (uint16_t)i;
	}
}

static void
wk_packet(struct worker *wk, const struct ns_record *r, unsigned i)
{
	struct ns_worker_stats *a = wk->acc;
	struct ns_table_entry *ent;
	unsigned t, nt = wk->e->ntasks;
	int rc;

	a->packets++;
	a->bytes += r->wire_len;
	if (r->ipver == 4)
		a->ipv4++;
	else
		a->ipv6++;
	a->proto[r->proto]++;
	if (r->ts_ns < a->first_ns)
		a->first_ns = r->ts_ns;
	if (r->ts_ns > a->last_ns)
		a->last_ns = r->ts_ns;
	for (t = 0; t < nt; t++) {
		rc = ns_table_add_entry(wk->shard[t], &wk->jc,
		    *wk_hash(wk, i, t), wk_key(wk, i, t), r->ts_ns,
		    r->wire_len, r->tcp_flags, &ent);
		if (wk->link[t] >= 0)
			ns_hh_update_linked(wk->sketch[wk->link[t]], &wk->jc,
			    wk->shard[t], ent, wk_key(wk, i, t),
			    *wk_hash(wk, i, t), r->wire_len);
		/* A new flow, or no room: its via spread updates are due. */
		if (rc != 0 && wk->nvia != 0)
			wk_note_new(wk, t, i);
		if (rc == -ENOSPC) {
			a->task[t].table_full++;
			continue;
		}
		a->task[t].flows += rc == 1;
		a->task[t].packets++;
		a->task[t].bytes += r->wire_len;
	}
}

/*
 * The spread updates of records rec[0, n) (indices in the batch), in
 * order, after the batch's records: only they touch the task's region,
 * so applying them later in the same journaled batch leaves it as
 * applying them in turn would.  A pair applied lately is skipped (see
 * WK_SEEN_SLOTS); the others go to ns_spread_add_batch().
 */
static void
wk_spread_apply(struct worker *wk, const struct wk_sketch *sk,
    const struct ns_record *recs, const uint16_t *rec, unsigned n)
{
	const struct ns_sketch_task *st = &wk->e->sketches[sk->task];
	struct ns_spread_input in[NS_ENGINE_BATCH];
	uint8_t (*fk)[NS_TABLE_KEY_MAX] = wk->sp_fkey;
	uint8_t (*ek)[NS_TABLE_KEY_MAX] = wk->sp_ekey;
	void *mem = wk->sketch[sk->task];
	uint64_t kh, *slot;
	unsigned j, nin = 0;

	/* Keys first, hashes after (see wk_prepare()). */
	for (j = 0; j < n; j++) {
		if (sk->own_key)
			ns_task_key_build(&st->flow, &recs[rec[j]], fk[j]);
		ns_task_key_build(&st->elem, &recs[rec[j]], ek[j]);
	}
	/* The pairs, and their cache slots loaded: out of the first-level
	 * cache by now, a slot read at once stalled the pass. */
	for (j = 0; j < n; j++) {
		kh = sk->own_key ? ns_task_key_hash(&st->flow, fk[j]) :
		    *wk_hash(wk, rec[j], sk->key_slot);
		in[j] = (struct ns_spread_input){ .key = sk->own_key ? fk[j] :
		    wk_key(wk, rec[j], sk->key_slot), .key_hash = kh,
		    .pair = ns_spread_pair(mem, kh, ns_task_key_hash(&st->elem,
		    ek[j])) };
		ns_prefetch_w(wk_seen(sk, in[j].pair));
	}
	for (j = 0; j < n; j++) {
		slot = wk_seen(sk, in[j].pair);
		if (in[j].pair != 0 && *slot == in[j].pair)
			continue;
		*slot = in[j].pair;
		in[nin++] = in[j];
	}
	ns_spread_add_batch(mem, &wk->jc, in, nin);
}

/* Every spread task's updates of records [0, m). */
static void
wk_spread_pass(struct worker *wk, const struct ns_record *recs, unsigned m)
{
	struct wk_sketch *sk;
	unsigned k, i;

	for (k = 0; k < wk->nmode[WK_SPREAD]; k++) {
		sk = wk->mode[WK_SPREAD][k];
		/* Without via, every packet's; with it, as wk_note_new()
		 * listed them. */
		if (sk->via < 0)
			for (i = sk->ntodo = 0; i < m; i++)
				if (recs[i].kind == NS_REC_PACKET)
					sk->todo[sk->ntodo++] = (uint16_t)i;
		wk_spread_apply(wk, sk, recs, sk->todo, sk->ntodo);
		sk->ntodo = 0;
	}
}

/*
 * The heavy-hitter updates of records [0, m), after the exact updates: a
 * loop of its own, with its own prefetch, touches one region only.  The
 * records are taken in order, in the same journaled batch, so the region
 * ends as if each packet had updated it in turn.
 */
static void
wk_hh_pass(struct worker *wk, const struct ns_record *recs, unsigned m)
{
	const struct wk_sketch *sk;
	struct ns_hh_batch b;
	unsigned k, i, j;

	for (k = 0; k < wk->nmode[WK_HH]; k++) {
		sk = wk->mode[WK_HH][k];
		if (sk->linked)
			continue;	/* counted by wk_packet() */
		/* Runs of packets: a skipped frame has no key. */
		for (i = 0; i < m; i = j + 1) {
			for (j = i; j < m && recs[j].kind == NS_REC_PACKET; j++)
				;
			if (j == i)
				continue;
			b = (struct ns_hh_batch){
				.hash = wk_hash(wk, i, sk->key_slot),
				.key = wk_key(wk, i, sk->key_slot),
				.bytes = &recs[i].wire_len,
				.hash_stride = wk->nkeys,
				.key_stride = (size_t)wk->nkeys *
				    NS_TABLE_KEY_MAX,
				.bytes_stride = sizeof(*recs),
				.n = j - i,
			};
			ns_hh_update_batch(wk->sketch[sk->task], &wk->jc, &b);
		}
	}
}

static void
wk_apply(struct worker *wk, const struct ns_record *r, unsigned i)
{
	if (r->kind == NS_REC_PACKET)
		wk_packet(wk, r, i);
	else if (r->kind == NS_REC_SKIPPED && r->proto < NS_PARSE_NREASONS) {
		wk->acc->reason_frames[r->proto]++;
		wk->acc->reason_bytes[r->proto] += r->wire_len;
	}
}

/*
 * Apply up to the next marker, as one journaled batch.  Not inlined: it
 * is where a profile finds the worker's work apart from its waiting.
 */
static __attribute__((noinline)) void
wk_batch(struct worker *wk, struct ns_ring_cons *c,
    const struct ns_record *recs, unsigned n)
{
	unsigned i, m;

	for (m = 0; m < n && recs[m].kind != NS_REC_PERIOD; m++)
		;
	wk_prepare(wk, recs, m);
	for (i = 0; i < WK_PREFETCH && i < m; i++)
		wk_prefetch(wk, recs, i);
	ns_journal_begin(&wk->jc, ns_ring_commit_word(c->r));
	for (i = 0; i < wk->nmode[WK_HH]; i++)
		ns_hh_begin(wk->sketch[wk->mode[WK_HH][i]->task], &wk->jc);
	NS_INJECT("worker.after_begin");
	for (i = 0; i < m; i++) {
		if (i + WK_PREFETCH < m)
			wk_prefetch(wk, recs, i + WK_PREFETCH);
		wk_apply(wk, &recs[i], i);
		if (i == m / 2)
			NS_INJECT("worker.mid_batch");
	}
	wk_hh_pass(wk, recs, m);
	wk_spread_pass(wk, recs, m);
	wk_acc_flush(wk);
	ns_ring_consume(c, i);
	NS_INJECT("worker.before_commit");
	ns_journal_commit(&wk->jc, c->tail);
	NS_INJECT("worker.after_commit");
	ns_ring_committed(c);
}

/* Consume a marker already acted on: a batch of one, nothing stored. */
static void
wk_drop_marker(struct worker *wk, struct ns_ring_cons *c)
{
	ns_journal_begin(&wk->jc, ns_ring_commit_word(c->r));
	ns_ring_consume(c, 1);
	ns_journal_commit(&wk->jc, c->tail);
	ns_ring_committed(c);
}

/* Input i has finished and its ring holds nothing more. */
static int
wk_drained(struct worker *wk, unsigned i)
{
	struct ns_ring_cons *c = &wk->cons[i];

	/* Acquire, pairs with the capture's release of done: its last
	 * head store is visible once done is. */
	if (!(ns_load_acquire(&ns_engine_input(wk->e, i)->done) &
	    NS_INPUT_DONE))
		return 0;
	/* Acquire, pairs with the release of head in ns_ring_publish(). */
	return ns_load_acquire(&c->r->head) == c->tail;
}

/* Switch once every input's ring waits at a marker for gen (or is done). */
static void
wk_try_switch(struct worker *wk, uint64_t gen)
{
	unsigned i;

	for (i = 0; i < wk->e->ninputs; i++)
		if (!wk->parked[i] && !wk_drained(wk, i))
			return;
	/* Release (in ns_gen_worker_switch), pairs with the exporter's
	 * acquire in ns_gen_all_switched(). */
	ns_gen_worker_switch(&wk->e->seg, wk->w, gen);
	wk_set_gen(wk, gen);
	ns_store_relaxed(&ns_slot_get(&wk->e->seg, wk->slot)->gen, gen);
	for (i = 0; i < wk->e->ninputs; i++)
		if (wk->parked[i]) {
			wk_drop_marker(wk, &wk->cons[i]);
			wk->parked[i] = 0;
		}
}

/* 1 if ring i had work. */
static int
wk_ring(struct worker *wk, unsigned i)
{
	struct ns_ring_cons *c = &wk->cons[i];
	const struct ns_record *recs;
	unsigned n;

	if (wk->parked[i] || (n = ns_ring_peek(c, NS_ENGINE_BATCH, &recs)) == 0)
		return 0;
	if (recs[0].kind != NS_REC_PERIOD) {
		wk_batch(wk, c, recs, n);
		return 1;
	}
	if (recs[0].hash <= wk->gen) {
		wk_drop_marker(wk, c);	/* replayed: switched already */
		return 1;
	}
	wk->parked[i] = 1;
	wk_try_switch(wk, recs[0].hash);
	return 1;
}

/* Every input finished and every ring drained. */
static int
wk_finished(struct worker *wk)
{
	unsigned i;

	for (i = 0; i < wk->e->ninputs; i++)
		if (!wk_drained(wk, i))
			return 0;
	return 1;
}

#define WK_SPINS	256		/* cpu_relax turns before a sleep */
#define WK_SLEEP_NS	100000000u	/* a sleep's bound: the parent check */

/* Records to read in a ring not parked at a marker, or the run ended. */
static int
wk_has_work(struct worker *wk)
{
	unsigned i;

	for (i = 0; i < wk->e->ninputs; i++)
		/* Acquire, pairs with the release of head in
		 * ns_ring_publish(), as in ns_ring_peek(). */
		if (!wk->parked[i] &&
		    ns_load_acquire(&wk->cons[i].r->head) != wk->cons[i].tail)
			return 1;
	return wk_finished(wk);
}

/*
 * Nothing to read: spin a little, then sleep on the data bell of our
 * first ring, which every producer feeding us rings after publishing and
 * when its input ends.
 */
static void
wk_idle(struct worker *wk, unsigned *spins)
{
	struct ns_bell *bell = &wk->cons[0].r->data;
	uint32_t ticket;

	if ((*spins)++ < WK_SPINS) {
		caa_cpu_relax();
		return;
	}
	ticket = ns_bell_prepare(bell);
	if (wk_has_work(wk)) {
		ns_bell_cancel(bell);
		return;
	}
	ns_bell_wait(bell, ticket, WK_SLEEP_NS);
	if (getppid() == 1)
		fatalx("supervisor gone");
}

/* An exact task whose key implies the spread task's pair, or -1. */
static int
wk_pair_via(const struct ns_engine *e, const struct ns_sketch_task *st)
{
	unsigned t;

	for (t = 0; t < e->ntasks; t++)
		if (ns_task_key_implies(&e->tasks[t], &st->flow) &&
		    ns_task_key_implies(&e->tasks[t], &st->elem))
			return (int)t;
	return -1;
}

/* Decide how each sketch task is applied (enum wk_mode) and its slots. */
static void
wk_plan(struct worker *wk)
{
	const struct ns_engine *e = wk->e;
	unsigned k, t;

	wk->nkeys = e->ntasks + e->nsketches;
	for (t = 0; t < NS_CONFIG_MAX_TASKS; t++)
		wk->link[t] = -1;
	for (k = 0; k < e->nsketches; k++) {
		const struct ns_sketch_task *st = &e->sketches[k];
		struct wk_sketch *sk = &wk->sk[k];

		sk->task = k;
		sk->key_slot = e->ntasks + k;
		sk->own_key = 1;
		for (t = 0; t < e->ntasks && sk->own_key; t++)
			if (ns_task_same_key(&e->tasks[t], &st->flow)) {
				sk->key_slot = t;
				sk->own_key = 0;
			}
		sk->via = st->spread ? wk_pair_via(e, st) : -1;
		if ((sk->linked = st->link >= 0))
			wk->link[st->link] = (int)k;
		sk->mode = st->spread ? WK_SPREAD : WK_HH;
		wk->nvia += sk->via >= 0;
		wk->mode[sk->mode][wk->nmode[sk->mode]++] = sk;
		if (sk->mode == WK_HH && sk->own_key)
			wk->upfront[wk->nupfront++] = sk;
		if (st->spread && (sk->seen = calloc(WK_SEEN_SLOTS,
		    sizeof(uint64_t))) == NULL)
			fatal("calloc");
		if (st->spread && (sk->todo = calloc(
		    NS_ENGINE_BATCH, sizeof(*sk->todo))) == NULL)
			fatal("calloc");
	}
}

/*
 * Map the worker's shards in before its first batch: one system call per
 * shard, not a fault per page in the middle of a burst.  Faults cost
 * microseconds on virtualized kernels, and a daemon hit by many new flows
 * at once (live-bench, 200k flows at 800 kpps) took enough of them on
 * first touch to stall the worker, fill its ring and overflow the kernel
 * buffer behind it.  A daemon's segment is preallocated (posix_fallocate),
 * so this maps pages without allocating any: every generation, and again
 * in a restarted worker.  An offline run (a private segment) allocates as
 * it goes: its first generation only, since the standby's pages are given
 * back between periods (ns_table_release).
 */
static void
wk_prefault(struct worker *wk)
{
	const struct ns_seg *seg = &wk->e->seg;
	uint64_t g, ngens = ns_gen_dir(seg)->ngens;
	unsigned t;

	if (seg->flags & NS_SEG_F_PRIVATE)
		ngens = 1;
	for (g = wk->gen; g < wk->gen + ngens; g++)
		for (t = 0; t < wk->e->ntasks; t++)
			ns_table_prefault(ns_gen_shard(seg, g, t, wk->w));
}

static void
wk_init(struct worker *wk, struct ns_engine *e, unsigned w, unsigned slot)
{
	unsigned i;
	int rc;

	memset(wk, 0, sizeof(*wk));
	wk->e = e;
	wk->w = w;
	wk->slot = slot;
	wk->st = ns_engine_wstats(e, w);
	wk->ncells = ns_engine_stats_cells(e);
	wk->acc = calloc(1, e->wstats_stride);
	wk->cons = calloc(e->ninputs, sizeof(*wk->cons));
	wk->parked = calloc(e->ninputs, 1);
	wk_plan(wk);
	wk->keys = malloc((size_t)NS_ENGINE_BATCH * wk->nkeys *
	    NS_TABLE_KEY_MAX);
	wk->hashes = malloc((size_t)NS_ENGINE_BATCH * wk->nkeys * 8);
	wk->sp_fkey = malloc(NS_ENGINE_BATCH * sizeof(*wk->sp_fkey));
	wk->sp_ekey = malloc(NS_ENGINE_BATCH * sizeof(*wk->sp_ekey));
	if (wk->acc == NULL || wk->cons == NULL || wk->parked == NULL ||
	    wk->keys == NULL || wk->hashes == NULL || wk->sp_fkey == NULL ||
	    wk->sp_ekey == NULL)
		fatal("calloc");
	wk_acc_reset(wk);
	if ((rc = ns_journal_attach(&wk->jc, &e->seg, w)) != 0)
		fatalx("journal %u: %s", w, strerror(-rc));
	/* Logs "journal: rolled back a batch ..." when it did. */
	if ((rc = ns_journal_recover(&wk->jc)) < 0)
		fatalx("journal %u: cannot roll back: %s", w, strerror(-rc));
	for (i = 0; i < e->ninputs; i++)
		ns_ring_cons_init(&wk->cons[i], ns_engine_ring(e, i, w));
	wk_set_gen(wk, ns_gen_worker_current(&e->seg, w));
	wk_prefault(wk);
}

void
ns_worker_main(struct ns_engine *e, unsigned w, unsigned slot)
{
	struct worker wk;
	unsigned i, spins = 0;
	int busy;

	signal(SIGTERM, wk_on_signal);
	signal(SIGINT, SIG_IGN);
	wk_init(&wk, e, w, slot);
	ns_slot_activate(&e->seg, slot);
	while (!wk_stop) {
		for (busy = 0, i = 0; i < e->ninputs; i++)
			busy |= wk_ring(&wk, i);
		if (busy) {
			spins = 0;
			continue;
		}
		if (wk_finished(&wk))
			exit(0);
		wk_idle(&wk, &spins);
	}
	/* Stopped before its rings drained: not finished, so not exit 0. */
	exit(1);
}

void
ns_worker_child(struct ns_engine *e, const struct ns_child *c)
{
	ns_worker_main(e, c->index, c->slot);
}
