/*
 * test_shm_journal.c -- exactly-once under kill -9 (DESIGN §2.4).
 *
 * A producer process fills a ring with a deterministic record stream that
 * has a period marker in the middle.  A worker process applies it to a
 * table shard and to lifetime totals through the undo journal, and is
 * killed by NS_INJECT at every named kill point (and during recovery);
 * the test plays supervisor, marking it DEAD_RECOVER and starting a
 * successor that rolls back and continues.  At the end every flow of both
 * generations, and the totals, must equal the input exactly.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "atomic.h"
#include "gen.h"
#include "inject.h"
#include "journal.h"
#include "log.h"
#include "ring.h"
#include "segment.h"
#include "slot.h"
#include "table.h"

#define NREC		600000u		/* packets in the stream */
#define MARK_AT		300000u		/* period marker before this packet */
#define NFLOWS		5000u
#define RING_CAP	512
#define BATCH		64
#define CELLS		(NS_TABLE_CELLS_PER_RECORD + 2)	/* + totals */

struct totals {
	uint64_t	packets;
	uint64_t	bytes;
};

struct expect {
	uint64_t	packets, bytes, first, last;
	uint8_t		flags;
};

static struct ns_seg seg;
static struct totals *tot;
static int worker_slot;

static void
setup(void)
{
	struct ns_gen_task task = { .key_size = 8, .max_flows = NFLOWS };
	struct ns_seg_layout lay;

	log_init("test", "worker", NS_LOG_WARN);
	ns_seg_layout_init(&lay, 1);
	ns_seg_layout_set(&lay, NS_SEG_SLOTS, ns_slot_shm_size(2, 0));
	ns_seg_layout_set(&lay, NS_SEG_RINGS, ns_ring_shm_size(1, RING_CAP));
	ns_seg_layout_set(&lay, NS_SEG_JOURNALS,
	    ns_journal_shm_size(1, BATCH * CELLS));
	ns_seg_layout_set(&lay, NS_SEG_GENS, ns_gen_shm_size(2, 1, 1, &task));
	ns_seg_layout_set(&lay, NS_SEG_STATS, sizeof(struct totals));
	ns_seg_layout_finish(&lay);
	cr_assert_eq(ns_seg_create_private(&seg, &lay), 0);
	cr_assert_eq(ns_slot_shm_init(&seg, 2, 0), 0);
	cr_assert_eq(ns_ring_shm_init(&seg, 1, RING_CAP), 0);
	cr_assert_eq(ns_journal_shm_init(&seg, 1, BATCH * CELLS), 0);
	cr_assert_eq(ns_gen_shm_init(&seg, 2, 1, 1, &task), 0);
	ns_seg_publish(&seg);
	tot = ns_seg_ptr(&seg, ns_seg_section(&seg, NS_SEG_STATS, NULL));
	worker_slot = ns_slot_assign(&seg, NS_ROLE_WORKER, 0);
}

static void
teardown(void)
{
	ns_seg_detach(&seg);
}

/* Packet i of the stream. */
static void
mkrec(struct ns_record *r, uint32_t i)
{
	uint64_t flow = (i * 2654435761u) % NFLOWS;

	memset(r, 0, sizeof(*r));
	memcpy(r->src, &flow, sizeof(flow));
	/* Out-of-order times now and then, to exercise first_seen. */
	r->ts_ns = 1000000000ULL + i - (i % 97 == 0 ? 500 : 0);
	r->wire_len = 40 + i % 1460;
	r->tcp_flags = (uint8_t)(1u << (i % 8));
	r->kind = NS_REC_PACKET;
}

static void
producer_main(void)
{
	struct ns_ring_prod p;
	struct ns_record *w;
	uint32_t i = 0;
	int n, k;

	ns_ring_prod_init(&p, ns_ring_get(&seg, 0));
	while (i < NREC) {
		if (i == MARK_AT) {
			while (ns_gen_advance(&seg, 0, 1000000000ULL + i) != 0)
				sched_yield();
			ns_ring_reserve_wait(&p, 1, &w, NULL);
			memset(w, 0, sizeof(*w));
			w->kind = NS_REC_PERIOD;
			w->hash = 1;	/* the generation to switch to */
			ns_ring_publish(&p, 1);
		}
		n = ns_ring_reserve_wait(&p, 37, &w, NULL);
		for (k = 0; k < n && i < NREC && !(i == MARK_AT && k > 0);
		    k++, i++)
			mkrec(&w[k], i);
		ns_ring_publish(&p, (unsigned)k);
	}
	_exit(0);
}

static void
apply(struct ns_jctx *jc, struct ns_table *t, const struct ns_record *r)
{
	uint64_t h = XXH64(r->src, 8, 0);

	if (ns_table_add(t, jc, h, r->src, r->ts_ns, r->wire_len,
	    r->tcp_flags) < 0)
		_exit(4);
	ns_journal_store64(jc, &tot->packets, tot->packets + 1);
	ns_journal_store64(jc, &tot->bytes, tot->bytes + r->wire_len);
}

/* A batch ends before a period marker; a marker is a batch of its own. */
static unsigned
batch_len(const struct ns_record *r, unsigned n)
{
	unsigned i;

	if (r[0].kind == NS_REC_PERIOD)
		return 1;
	for (i = 1; i < n; i++)
		if (r[i].kind == NS_REC_PERIOD)
			return i;
	return n;
}

static void
worker_batch(struct ns_jctx *jc, struct ns_ring_cons *c,
    const struct ns_record *r, unsigned n, uint64_t *g)
{
	unsigned i;

	ns_journal_begin(jc, ns_ring_commit_word(c->r));
	NS_INJECT("worker.after_begin");
	if (r[0].kind == NS_REC_PERIOD) {
		*g = r[0].hash;
		ns_gen_worker_switch(&seg, 0, *g);
	} else {
		for (i = 0; i < n; i++) {
			apply(jc, ns_gen_shard(&seg, *g, 0, 0), &r[i]);
			if (i == n / 2)
				NS_INJECT("worker.mid_batch");
		}
	}
	ns_ring_consume(c, n);
	NS_INJECT("worker.before_commit");
	ns_journal_commit(jc, c->tail);
	NS_INJECT("worker.after_commit");
}

static void
worker_main(void)
{
	const struct ns_record *r;
	struct ns_ring_cons c;
	struct ns_jctx jc;
	uint64_t g, limit;
	unsigned n;

	if (ns_journal_attach(&jc, &seg, 0) != 0 ||
	    ns_journal_recover(&jc) < 0)
		_exit(3);
	ns_slot_activate(&seg, (unsigned)worker_slot);
	ns_ring_cons_init(&c, ns_ring_get(&seg, 0));
	g = ns_gen_worker_current(&seg, 0);
	limit = ns_journal_batch_limit(&jc, CELLS);
	while (c.tail < NREC + 1) {
		if ((n = ns_ring_peek(&c, (unsigned)limit, &r)) == 0) {
			sched_yield();
			continue;
		}
		worker_batch(&jc, &c, r, batch_len(r, n), &g);
	}
	_exit(0);
}

static pid_t
spawn_worker(const char *inject)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (inject != NULL)
			setenv("NS_INJECT", inject, 1);
		else
			unsetenv("NS_INJECT");
		worker_main();
	}
	return pid;
}

static void
expected(struct expect *e)
{
	struct ns_record r;
	struct expect *x;
	uint64_t flow;
	uint32_t i;

	memset(e, 0, 2 * NFLOWS * sizeof(*e));
	for (i = 0; i < NREC; i++) {
		mkrec(&r, i);
		memcpy(&flow, r.src, 8);
		x = &e[(i >= MARK_AT) * NFLOWS + flow];
		if (x->packets == 0 || r.ts_ns < x->first)
			x->first = r.ts_ns;
		if (r.ts_ns > x->last)
			x->last = r.ts_ns;
		x->packets++;
		x->bytes += r.wire_len;
		x->flags |= r.tcp_flags;
	}
}

static void
verify_generation(const struct expect *e, uint64_t g)
{
	struct ns_table *t = ns_gen_shard(&seg, g, 0, 0);
	struct ns_flow f;
	uint64_t flow, n = 0, want = 0, i;

	for (i = 0; i < NFLOWS; i++) {
		want += e[i].packets != 0;
		memcpy(&flow, &i, 8);
		if (e[i].packets == 0)
			continue;
		cr_assert_eq(ns_table_lookup(t, XXH64(&flow, 8, 0), &flow,
		    &f), 1, "gen %llu flow %llu missing",
		    (unsigned long long)g, (unsigned long long)i);
		cr_assert_eq(f.packets, e[i].packets, "gen %llu flow %llu",
		    (unsigned long long)g, (unsigned long long)i);
		cr_assert_eq(f.bytes, e[i].bytes);
		cr_assert_eq(f.first_ns, e[i].first);
		cr_assert_eq(f.last_ns, e[i].last);
		cr_assert_eq(f.tcp_flags, e[i].flags);
		n++;
	}
	cr_assert_eq(n, want);
	cr_assert_eq(ns_table_count(t), want, "spurious flows in gen %llu",
	    (unsigned long long)g);
}

TestSuite(journal, .init = setup, .fini = teardown);

Test(journal, rollback_at_every_kill_point, .timeout = 300)
{
	static const char *points[] = {
		"worker.after_begin", "journal.mid_recover",
		"journal.after_undo", "journal.mid_recover",
		"worker.mid_batch", "journal.mid_recover",
		"worker.before_commit", "worker.after_commit",
	};
	/* Kill on the Nth hit; recovery runs once per process, so :1. */
	static const unsigned hits[] = { 1, 7, 300, 1000 };
	static struct expect e[2 * NFLOWS];
	char sel[64];
	pid_t prod, w;
	unsigned p, h, kills = 0, blocked = 0, bytes = 0;
	int status;

	if ((prod = fork()) == 0)
		producer_main();
	for (h = 0; h < sizeof(hits) / sizeof(hits[0]); h++)
		for (p = 0; p < sizeof(points) / sizeof(points[0]); p++) {
			snprintf(sel, sizeof(sel), "%s:%u", points[p],
			    strstr(points[p], "recover") ? 1 : hits[h]);
			w = spawn_worker(sel);
			cr_assert_eq(waitpid(w, &status, 0), w);
			if (getenv("NS_TEST_DEBUG"))
				fprintf(stderr, "%s: %#x\n", sel, status);
			if (WIFEXITED(status)) {
				cr_assert_eq(WEXITSTATUS(status), 0);
				continue;	/* finished before the point */
			}
			cr_assert(WIFSIGNALED(status) &&
			    WTERMSIG(status) == SIGKILL, "%s", sel);
			kills++;
			ns_slot_worker_died(&seg, (unsigned)worker_slot);
			if (ns_slot_synchronize(&seg, 5) == -ETIMEDOUT)
				blocked++;
		}
	w = spawn_worker(NULL);
	cr_assert_eq(waitpid(w, &status, 0), w);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(waitpid(prod, &status, 0), prod);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(ns_slot_synchronize(&seg, 10000), 0);

	cr_log_info("%u kills, %llu rollbacks, %llu batches", kills,
	    (unsigned long long)ns_journal_get(&seg, 0)->rollbacks,
	    (unsigned long long)ns_journal_get(&seg, 0)->batches);
	cr_assert_eq(kills, 32, "only %u of 32 kill points hit", kills);
	cr_assert_eq(blocked, kills, "DEAD_RECOVER must block grace periods");
	/* Each kill inside a batch leaves exactly one batch to roll back. */
	cr_assert_eq(ns_journal_get(&seg, 0)->rollbacks, 16);
	cr_assert_eq(NS_RING_TAIL(ns_ring_get(&seg, 0)->commit), NREC + 1);
	cr_assert_eq(ns_gen_worker_current(&seg, 0), 1);
	expected(e);
	verify_generation(e, 0);
	verify_generation(e + NFLOWS, 1);
	for (p = 0; p < NREC; p++)
		bytes += 40 + p % 1460;
	cr_assert_eq(tot->packets, NREC);
	cr_assert_eq(tot->bytes, bytes);
}

Test(journal, recover_without_batch_is_noop)
{
	struct ns_jctx jc;

	cr_assert_eq(ns_journal_attach(&jc, &seg, 0), 0);
	cr_assert_eq(ns_journal_recover(&jc), 0);
	cr_assert_eq(ns_journal_batch_limit(&jc, CELLS), BATCH);
	cr_assert_eq(ns_journal_attach(&jc, &seg, 1), -ENOENT);
}

Test(journal, rollback_restores_oldest_value)
{
	struct ns_jctx jc;
	uint64_t *commit = ns_ring_commit_word(ns_ring_get(&seg, 0));

	ns_journal_attach(&jc, &seg, 0);
	tot->packets = 5;
	ns_journal_begin(&jc, commit);
	cr_assert_eq(*commit & 1, 1);
	ns_journal_store64(&jc, &tot->packets, 6);
	ns_journal_store64(&jc, &tot->packets, 7);
	ns_journal_store64(&jc, &tot->bytes, 100);
	/* "Crash": a successor recovers from the shared state alone. */
	ns_journal_attach(&jc, &seg, 0);
	cr_assert_eq(ns_journal_recover(&jc), 1);
	cr_assert_eq(tot->packets, 5);
	cr_assert_eq(tot->bytes, 0);
	cr_assert_eq(*commit, 0);
	cr_assert_eq(ns_journal_recover(&jc), 0, "recovery is idempotent");
	ns_journal_begin(&jc, commit);
	ns_journal_store64(&jc, &tot->packets, 9);
	ns_journal_commit(&jc, 3);
	cr_assert_eq(*commit, 3 << 1);
	cr_assert_eq(ns_journal_recover(&jc), 0);
	cr_assert_eq(tot->packets, 9);
}

Test(journal, corrupt_offset_detected)
{
	struct ns_jctx jc;
	uint64_t *commit = ns_ring_commit_word(ns_ring_get(&seg, 0));

	ns_journal_attach(&jc, &seg, 0);
	ns_journal_begin(&jc, commit);
	ns_journal_store64(&jc, &tot->packets, 1);
	jc.j->undo[0].off = seg.size + 64;
	cr_assert_eq(ns_journal_recover(&jc), -EBADMSG);
}
