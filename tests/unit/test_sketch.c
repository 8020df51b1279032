/*
 * test_sketch.c -- the sketch regions (src/sketch*.c): parameter checks,
 * exact answers while everything fits, overestimates and error bounds
 * when it does not, merging of several workers' regions, determinism
 * under a seed, the cells-per-update bound, and rollback through the
 * undo journal, also with the writer killed at every kind of point.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "atomic.h"
#include "journal.h"
#include "log.h"
#include "segment.h"
#include "sketch.h"
#include "table.h"

#define KS	13		/* an odd key size: exercises the padding */

static void *
region(uint64_t size)
{
	/* Heavy-hitter regions must start on NS_HH_BUCKET_BYTES. */
	void *m = aligned_alloc(NS_HH_BUCKET_BYTES, NS_ALIGN_UP(size,
	    NS_HH_BUCKET_BYTES));

	cr_assert_not_null(m);
	memset(m, 0, size);
	return m;
}

static struct ns_sketch_params
hh_params(void)
{
	return (struct ns_sketch_params){ .width = 512, .depth = 2,
	    .top_k = 1024, .key_size = KS, .seed = 7 };
}

static struct ns_sketch_params
sp_params(void)
{
	return (struct ns_sketch_params){ .width = 256, .depth = 3, .m = 128,
	    .key_size = KS, .seed = 7 };
}

/* Key i: its bytes and hash. */
static uint64_t
mkkey(uint32_t i, uint8_t *k)
{
	memset(k, 0, KS);
	memcpy(k, &i, sizeof(i));
	k[KS - 1] = 0x5a;
	return XXH3_64bits(k, KS);
}

/* ---- collecting query output */

struct hit {
	uint32_t	id;
	uint64_t	value, err;
};

struct hits {
	struct hit	h[4096];
	unsigned	n;
};

static void
collect(void *arg, const uint8_t *key, uint64_t value, uint64_t err)
{
	struct hits *hs = arg;
	uint32_t id;

	cr_assert_lt(hs->n, 4096);
	memcpy(&id, key, sizeof(id));
	hs->h[hs->n++] = (struct hit){ id, value, err };
}

static const struct hit *
find(const struct hits *hs, uint32_t id)
{
	for (unsigned i = 0; i < hs->n; i++)
		if (hs->h[i].id == id)
			return &hs->h[i];
	return NULL;
}

/* ---- parameters */

Test(sketch, invalid_params)
{
	struct ns_sketch_params p;
	uint8_t mem[4096] __attribute__((aligned(64))) = { 0 };

	p = hh_params(); p.width = 0;
	cr_assert_eq(ns_hh_shm_size(&p), 0);
	cr_assert_eq(ns_hh_shm_init(mem, &p), -EINVAL);
	p = hh_params(); p.depth = 0;
	cr_assert_eq(ns_hh_shm_size(&p), 0);
	p = hh_params(); p.depth = NS_SKETCH_DEPTH_MAX + 1;
	cr_assert_eq(ns_hh_shm_size(&p), 0);
	p = hh_params(); p.key_size = 0;
	cr_assert_eq(ns_hh_shm_size(&p), 0);
	p = hh_params(); p.key_size = NS_SKETCH_KEY_MAX + 1;
	cr_assert_eq(ns_hh_shm_size(&p), 0);
	p = hh_params(); p.top_k = 0;
	cr_assert_eq(ns_hh_shm_size(&p), 0);
	cr_assert_eq(ns_hh_shm_init(mem, &p), -EINVAL);
	p = hh_params(); p.flags = 0x80;
	cr_assert_eq(ns_hh_shm_size(&p), 0);
	cr_assert_eq(ns_hh_shm_size(NULL), 0);
	p = sp_params(); p.m = NS_SPREAD_M_MIN - 1;
	cr_assert_eq(ns_spread_shm_size(&p), 0);
	cr_assert_eq(ns_spread_shm_init(mem, &p), -EINVAL);
	p = sp_params(); p.m = NS_SPREAD_M_MAX + 1;
	cr_assert_eq(ns_spread_shm_size(&p), 0);
	p = sp_params(); p.width = 0;
	cr_assert_eq(ns_spread_shm_size(&p), 0);
	/* top_k means nothing to a spread sketch. */
	p = sp_params(); p.top_k = 0;
	cr_assert_gt(ns_spread_shm_size(&p), 0);
}

Test(sketch, sizes)
{
	struct ns_sketch_params p = hh_params();
	uint64_t kw = NS_SKETCH_KEY_WORDS(KS);

	/* Header to 256, two lines per 4 slots, bodies (prior bytes, key;
	 * linked: and entry, packet offset), 16-byte cells. */
	cr_assert_eq(ns_hh_shm_size(&p), NS_ALIGN_UP(256 + 256 * 128 +
	    1024 * (8 + 8 * kw), 64) + 2 * 512 * 16);
	p.flags = NS_SKETCH_F_LINKED;
	cr_assert_eq(ns_hh_shm_size(&p), NS_ALIGN_UP(256 + 256 * 128 +
	    1024 * (24 + 8 * kw), 64) + 2 * 512 * 16);
	p = sp_params();
	/* Header, 3 rows of 256 packed buckets. */
	cr_assert_eq(ns_spread_shm_size(&p), 192 + 3 * 256 *
	    8 * (1 + kw + 11));
	cr_assert_eq(ns_hh_cells_per_update(&(struct ns_sketch_params){
	    .depth = 4, .key_size = 38 }), 28);	/* 2·4 + 15 + 5 */
	cr_assert_eq(ns_spread_cells_per_update(&(struct ns_sketch_params){
	    .depth = 3, .key_size = 17 }), 18);
	p = hh_params();
	cr_assert_gt(ns_sketch_fit_width(&p, 1 << 20, 0), 0);
	cr_assert_leq(ns_hh_shm_size(&p), 1 << 20);
	p.width++;
	cr_assert_gt(ns_hh_shm_size(&p), 1 << 20);
	p = hh_params();
	cr_assert_eq(ns_sketch_fit_width(&p, 100, 0), 0);
}

/* ---- heavy hitters */

Test(sketch, hh_exact_when_it_fits)
{
	struct ns_sketch_params p = hh_params();
	void *r = region(ns_hh_shm_size(&p));
	const void *rr[1] = { r };
	struct hits hs = { .n = 0 };
	uint8_t k[KS];
	uint64_t h;
	uint32_t i, j;

	cr_assert_eq(ns_hh_shm_init(r, &p), 0);
	/* Key i: i * 10 packets of 100 + i bytes. */
	for (j = 0; j < 200; j++)
		for (i = 1; i <= 20; i++)
			if (j < i * 10) {
				h = mkkey(i, k);
				ns_hh_update(r, NULL, k, h, 100 + i);
			}
	cr_assert_eq(ns_hh_query(rr, 1, 0, 150, collect, &hs), 6);
	for (i = 0; i < hs.n; i++) {
		cr_assert_eq(hs.h[i].id, 20 - i);	/* largest first */
		cr_assert_eq(hs.h[i].value, hs.h[i].id * 10);
		cr_assert_eq(hs.h[i].err, 0);
	}
	hs.n = 0;
	cr_assert_eq(ns_hh_query(rr, 1, 1, 10 * 20 * 120, collect, &hs), 1);
	cr_assert_eq(hs.h[0].id, 20);
	cr_assert_eq(hs.h[0].value, 200 * 120);
	ns_hh_clear(r);
	hs.n = 0;
	cr_assert_eq(ns_hh_query(rr, 1, 0, 0, collect, &hs), 0);
	free(r);
}

/* A skewed stream of nkeys keys over n packets: key of packet i. */
static uint32_t
skewed(uint32_t i, uint32_t nkeys)
{
	uint64_t x = XXH3_64bits(&i, sizeof(i));

	/* About half the packets go to 32 heavy keys. */
	if (x & 1)
		return (uint32_t)((x >> 8) % 32);
	return 32 + (uint32_t)((x >> 8) % (nkeys - 32));
}

/*
 * A table too small for the keys: every reported value is an
 * overestimate within its bound, and every key's estimate is at least its
 * truth, merged over four regions fed by key (the engine's dispatch of a
 * coarse key: by the 5-tuple, so here at random per packet).
 */
Test(sketch, hh_overestimates_within_bounds)
{
	struct ns_sketch_params p = { .width = 2048, .depth = 2, .top_k = 256,
	    .key_size = KS, .seed = 3 };
	enum { NK = 5000, NP = 200000, NR = 4 };
	static uint64_t truth_p[NK], truth_b[NK];
	void *r[NR];
	struct hits hs = { .n = 0 };
	uint64_t h, ep, eb, errp, errb;
	uint8_t k[KS];
	uint32_t i, id;
	double are = 0;

	for (i = 0; i < NR; i++) {
		r[i] = region(ns_hh_shm_size(&p));
		cr_assert_eq(ns_hh_shm_init(r[i], &p), 0);
	}
	for (i = 0; i < NP; i++) {
		id = skewed(i, NK);
		h = mkkey(id, k);
		ns_hh_update(r[XXH3_64bits(&i, 4) % NR], NULL, k, h,
		    60 + id % 1400);
		truth_p[id]++;
		truth_b[id] += 60 + id % 1400;
	}
	for (id = 0; id < NK; id++) {
		h = mkkey(id, k);
		cr_assert_eq(ns_hh_estimate((const void *const *)r, NR, k, h,
		    &ep, &eb, &errp, &errb), 0);
		cr_assert_geq(ep, truth_p[id], "key %u", id);
		cr_assert_geq(eb, truth_b[id], "key %u", id);
	}
	cr_assert_geq(ns_hh_query((const void *const *)r, NR, 0, 2000,
	    collect, &hs), 32);
	for (id = 0; id < 32; id++)
		cr_assert_not_null(find(&hs, id), "heavy key %u missed", id);
	for (i = 0; i < hs.n; i++) {
		id = hs.h[i].id;
		cr_assert_geq(hs.h[i].value, truth_p[id]);
		cr_assert_leq(hs.h[i].value - truth_p[id], hs.h[i].err);
		if (id < 32)
			are += (double)(hs.h[i].value - truth_p[id]) /
			    (double)truth_p[id] / 32;
	}
	/* Heavy keys are counted nearly exactly (a few share a bucket). */
	cr_assert_lt(are, 0.02, "average relative error %f", are);
	for (i = 0; i < NR; i++)
		free(r[i]);
}

/*
 * Partitioned keys (the 5-tuple): each key lives in one region; merging
 * adds nothing from the others, so while the keys fit, the merge of four
 * regions answers exactly what one region fed everything does.
 */
Test(sketch, hh_merge_partitioned_equals_union)
{
	struct ns_sketch_params p = hh_params();
	enum { NR = 4 };
	void *r[NR], *one;
	struct hits a = { .n = 0 }, b = { .n = 0 };
	uint8_t k[KS];
	uint64_t h;
	uint32_t i, id;

	p.flags = NS_SKETCH_F_PARTITIONED;
	one = region(ns_hh_shm_size(&p));
	cr_assert_eq(ns_hh_shm_init(one, &p), 0);
	for (i = 0; i < NR; i++) {
		r[i] = region(ns_hh_shm_size(&p));
		cr_assert_eq(ns_hh_shm_init(r[i], &p), 0);
	}
	for (i = 0; i < 50000; i++) {
		id = skewed(i, 100);
		h = mkkey(id, k);
		ns_hh_update(r[h % NR], NULL, k, h, 100);
		ns_hh_update(one, NULL, k, h, 100);
	}
	cr_assert_gt(ns_hh_query((const void *const *)r, NR, 1, 1, collect,
	    &a), 0);
	cr_assert_eq(ns_hh_query((const void *const *)&one, 1, 1, 1, collect,
	    &b), (int)a.n);
	for (i = 0; i < a.n; i++) {
		cr_assert_eq(a.h[i].id, b.h[i].id);
		cr_assert_eq(a.h[i].value, b.h[i].value);
	}
	for (i = 0; i < NR; i++)
		free(r[i]);
	free(one);
}

/* A coarse key seen by every worker: the merge sums the regions. */
Test(sketch, hh_merge_sums_regions)
{
	struct ns_sketch_params p = hh_params();
	enum { NR = 3 };
	void *r[NR];
	struct hits hs = { .n = 0 };
	uint8_t k[KS];
	uint64_t h = mkkey(42, k);
	uint32_t i;

	for (i = 0; i < NR; i++) {
		r[i] = region(ns_hh_shm_size(&p));
		cr_assert_eq(ns_hh_shm_init(r[i], &p), 0);
	}
	for (i = 0; i < 3000; i++)
		ns_hh_update(r[i % NR], NULL, k, h, 10);
	cr_assert_eq(ns_hh_query((const void *const *)r, NR, 0, 1, collect,
	    &hs), 1);
	cr_assert_eq(hs.h[0].id, 42);
	cr_assert_eq(hs.h[0].value, 3000);
	cr_assert_eq(hs.h[0].err, 0);
	/* Regions of different parameters do not merge. */
	free(r[2]);
	p.seed++;
	r[2] = region(ns_hh_shm_size(&p));
	cr_assert_eq(ns_hh_shm_init(r[2], &p), 0);
	cr_assert_eq(ns_hh_query((const void *const *)r, NR, 0, 1, collect,
	    &hs), -EINVAL);
	cr_assert_eq(ns_spread_query((const void *const *)r, 1, 1, collect,
	    &hs), -EINVAL);
	for (i = 0; i < NR; i++)
		free(r[i]);
}

/* Same seed and input: the same bytes.  Another seed: other bytes. */
Test(sketch, deterministic)
{
	struct ns_sketch_params p = { .width = 64, .depth = 3, .top_k = 32,
	    .key_size = KS, .seed = 99 };
	struct ns_sketch_params q = sp_params();
	uint64_t size = ns_hh_shm_size(&p), ssize = ns_spread_shm_size(&q);
	void *a = region(size), *b = region(size), *c = region(size);
	void *sa = region(ssize), *sb = region(ssize);
	uint8_t k[KS];
	uint64_t h;
	uint32_t i;

	ns_hh_shm_init(a, &p);
	ns_hh_shm_init(b, &p);
	p.seed = 100;
	ns_hh_shm_init(c, &p);
	ns_spread_shm_init(sa, &q);
	ns_spread_shm_init(sb, &q);
	for (i = 0; i < 20000; i++) {
		h = mkkey(skewed(i, 1000), k);
		ns_hh_update(a, NULL, k, h, i % 1500);
		ns_hh_update(b, NULL, k, h, i % 1500);
		ns_hh_update(c, NULL, k, h, i % 1500);
		ns_spread_update(sa, NULL, k, h, i % 777);
		ns_spread_update(sb, NULL, k, h, i % 777);
	}
	cr_assert_eq(memcmp(a, b, size), 0);
	cr_assert_neq(memcmp((char *)a + 192, (char *)c + 192, size - 192),
	    0);
	cr_assert_eq(memcmp(sa, sb, ssize), 0);
	free(a);
	free(b);
	free(c);
	free(sa);
	free(sb);
}

/* Two query results alike: the same keys, values and bounds, in order. */
static void
assert_same_hits(const struct hits *a, const struct hits *b, const char *what)
{
	cr_assert_eq(a->n, b->n, "%s: %u keys, linked %u", what, a->n, b->n);
	for (unsigned i = 0; i < a->n; i++)
		cr_assert(a->h[i].id == b->h[i].id &&
		    a->h[i].value == b->h[i].value &&
		    a->h[i].err == b->h[i].err, "%s: key %u differs", what, i);
}

/*
 * A region linked to a table reports what a plain region fed the same
 * packets does, at every point of the stream -- also for the flows the
 * table had no room for, whose packets the linked region counts itself.
 * Few slots and a narrow sketch, so that admissions, evictions of linked
 * and of self-counting slots and lower-bound refreshes all happen.
 */
Test(sketch, hh_linked_equals_plain)
{
	struct ns_sketch_params p = { .width = 64, .depth = 2, .top_k = 16,
	    .key_size = KS, .seed = 5 };
	struct ns_sketch_params pl = { .width = 64, .depth = 2, .top_k = 16,
	    .key_size = KS, .seed = 5, .flags = NS_SKETCH_F_LINKED };
	void *plain = region(ns_hh_shm_size(&p));
	void *linked = region(ns_hh_shm_size(&pl));
	struct ns_table *t = region(ns_table_shm_size(KS, 600));
	const struct ns_table *tt[1] = { t };
	const void *rp[1] = { plain }, *rl[1] = { linked };
	struct hits *hp = calloc(1, sizeof(*hp)), *hl = calloc(1, sizeof(*hl));
	struct ns_table_entry *e, *heavy = NULL;
	uint64_t h, full = 0;
	uint32_t i, id, bytes, by;
	uint8_t k[KS];

	cr_assert(hp != NULL && hl != NULL);
	cr_assert_eq(ns_hh_shm_init(plain, &p), 0);
	cr_assert_eq(ns_hh_shm_init(linked, &pl), 0);
	cr_assert_eq(ns_table_shm_init(t, KS, 600), 0);
	for (i = 0; i < 60000; i++) {
		id = skewed(i, 2000);
		h = mkkey(id, k);
		bytes = 40 + XXH3_64bits(&i, 4) % 1400;
		ns_hh_update(plain, NULL, k, h, bytes);
		/* TCP flags: the table rewrites state words, HH bit and all. */
		full += ns_table_add_entry(t, NULL, h, k, i, bytes,
		    (uint8_t)(1u << i % 8), &e) == -ENOSPC;
		ns_hh_update_linked(linked, NULL, t, e, k, h, bytes);
		if (id == 0)
			heavy = e;
		if (i % 5000 != 4999)
			continue;
		for (by = 0; by < 2; by++) {
			hp->n = hl->n = 0;
			cr_assert_geq(ns_hh_query(rp, 1, (int)by, 1, collect,
			    hp), 1);
			cr_assert_geq(ns_hh_query_linked(rl, tt, 1, (int)by, 1,
			    collect, hl), 1);
			assert_same_hits(hp, hl, by ? "bytes" : "packets");
		}
	}
	cr_assert_gt(full, 1000, "the table never filled up");
	cr_assert_not_null(heavy);
	cr_assert(ns_load_relaxed(&heavy->state) & NS_TE_HH,
	    "the heaviest flow is not a linked candidate");
	/* A linked region read without its table: refused, not misread. */
	cr_assert_eq(ns_hh_query(rl, 1, 0, 1, collect, hl), -EINVAL);
	free(plain);
	free(linked);
	free(t);
	free(hp);
	free(hl);
}

/* The length of the batch that starts at update i of np: 1 to max, at
 * random (but the same in every run). */
static uint32_t
batch_len(uint32_t i, uint32_t max, uint32_t np)
{
	uint32_t n = 1 + (uint32_t)(XXH3_64bits(&i, 4) % max);

	return n < np - i ? n : np - i;
}

/*
 * Batches of any size, their packets kept at strides as the worker keeps
 * them, leave the region byte for byte as one update per packet does:
 * also across the batch's internal chunks, with admissions and evictions
 * (a small table, a low floor) between hits of one bucket.
 */
Test(sketch, hh_batch_equals_single_updates)
{
	struct ns_sketch_params p = { .width = 128, .depth = 3, .top_k = 64,
	    .key_size = KS, .seed = 11 };
	enum { NP = 30000, KSTRIDE = 40 };
	uint64_t size = ns_hh_shm_size(&p), hash[2 * 700];
	void *one = region(size), *bat = region(size);
	static uint8_t keys[700 * KSTRIDE];
	/* Byte counts inside a record-like stride, as the worker's. */
	struct { uint64_t pad; uint32_t bytes; uint32_t pad2; } rec[700];
	struct ns_hh_batch b;
	uint32_t i, j, n, batches = 0;

	ns_hh_shm_init(one, &p);
	ns_hh_shm_init(bat, &p);
	for (i = 0; i < NP; i += n, batches++) {
		/* 1 to 700 packets: one chunk, several, and a partial one. */
		n = batch_len(i, 700, NP);
		for (j = 0; j < n; j++) {
			hash[2 * j] = mkkey(skewed(i + j, 2000),
			    &keys[j * KSTRIDE]);
			rec[j].bytes = 40 + (i + j) % 1460;
			ns_hh_update(one, NULL, &keys[j * KSTRIDE],
			    hash[2 * j], rec[j].bytes);
		}
		b = (struct ns_hh_batch){ .hash = hash, .key = keys,
		    .bytes = &rec[0].bytes, .hash_stride = 2,
		    .key_stride = KSTRIDE, .bytes_stride = sizeof(rec[0]),
		    .n = n };
		ns_hh_update_batch(bat, NULL, &b);
		cr_assert_eq(memcmp(one, bat, size), 0, "after batch %u", batches);
	}
	free(one);
	free(bat);
}

/* The same for spread updates: batches equal one update at a time. */
Test(sketch, spread_batch_equals_single_updates)
{
	struct ns_sketch_params p = sp_params();
	enum { NP = 30000 };
	uint64_t size = ns_spread_shm_size(&p);
	void *one = region(size), *bat = region(size);
	static uint8_t keys[200][KS];
	struct ns_spread_input in[200];
	uint32_t i, j, n, batches = 0;
	uint64_t h;

	ns_spread_shm_init(one, &p);
	ns_spread_shm_init(bat, &p);
	for (i = 0; i < NP; i += n, batches++) {
		/* 1 to 200 updates: one chunk, several, and a partial one. */
		n = batch_len(i, 200, NP);
		for (j = 0; j < n; j++) {
			h = mkkey(skewed(i + j, 300), keys[j]);
			in[j] = (struct ns_spread_input){ keys[j], h,
			    ns_spread_pair(one, h, (i + j) % 4000) };
			ns_spread_add(one, NULL, keys[j], h, in[j].pair);
		}
		ns_spread_add_batch(bat, NULL, in, n);
		cr_assert_eq(memcmp(one, bat, size), 0, "after batch %u", batches);
	}
	free(one);
	free(bat);
}

/* ---- super-spreaders */

Test(sketch, spread_counts_distinct)
{
	struct ns_sketch_params p = sp_params();
	void *r = region(ns_spread_shm_size(&p));
	const void *rr[1] = { r };
	struct hits hs = { .n = 0 };
	const struct hit *x;
	uint8_t k[KS];
	uint64_t h;
	uint32_t i, e, rep;

	cr_assert_eq(ns_spread_shm_init(r, &p), 0);
	/* Key 1: 2000 distinct, each 3 times; key 2: 400; 300 keys: 1-5. */
	for (rep = 0; rep < 3; rep++)
		for (e = 0; e < 2000; e++) {
			h = mkkey(1, k);
			ns_spread_update(r, NULL, k, h, XXH3_64bits(&e, 4));
			if (e < 400) {
				h = mkkey(2, k);
				ns_spread_update(r, NULL, k, h,
				    XXH3_64bits(&e, 4) ^ 1);
			}
		}
	for (i = 10; i < 310; i++)
		for (e = 0; e < i % 5 + 1; e++) {
			h = mkkey(i, k);
			ns_spread_update(r, NULL, k, h, e);
		}
	cr_assert_eq(ns_spread_query(rr, 1, 300, collect, &hs), 2);
	/* HLL with m = 128: 9.2% standard error; allow three. */
	cr_assert_not_null(x = find(&hs, 1));
	cr_assert(x->value > 2000 * 0.72 && x->value < 2000 * 1.28,
	    "estimate %lu", (unsigned long)x->value);
	cr_assert_geq(x->err, x->value / 10);
	cr_assert_not_null(x = find(&hs, 2));
	cr_assert(x->value > 400 * 0.72 && x->value < 400 * 1.28,
	    "estimate %lu", (unsigned long)x->value);
	ns_spread_clear(r);
	hs.n = 0;
	cr_assert_eq(ns_spread_query(rr, 1, 1, collect, &hs), 0);
	free(r);
}

/*
 * Registers merge by maximum: regions fed parts of a stream, even
 * overlapping parts, estimate exactly what one region fed the whole does.
 */
Test(sketch, spread_merge_equals_union)
{
	struct ns_sketch_params p = sp_params();
	enum { NR = 4 };
	void *r[NR], *one;
	uint8_t k[KS];
	uint64_t h;
	uint32_t i, id, e;
	double a, b;

	one = region(ns_spread_shm_size(&p));
	ns_spread_shm_init(one, &p);
	for (i = 0; i < NR; i++) {
		r[i] = region(ns_spread_shm_size(&p));
		ns_spread_shm_init(r[i], &p);
	}
	for (i = 0; i < 100000; i++) {
		id = skewed(i, 2000);
		e = (uint32_t)(XXH3_64bits(&i, 4) % 3000);
		h = mkkey(id, k);
		ns_spread_update(r[i % NR], NULL, k, h, e);
		if (i % 7 == 0)		/* a pair seen by two workers */
			ns_spread_update(r[(i + 1) % NR], NULL, k, h, e);
		ns_spread_update(one, NULL, k, h, e);
	}
	for (id = 0; id < 2000; id += 7) {
		h = mkkey(id, k);
		cr_assert_eq(ns_spread_estimate((const void *const *)r, NR, k,
		    h, &a), 0);
		cr_assert_eq(ns_spread_estimate((const void *const *)&one, 1,
		    k, h, &b), 0);
		cr_assert_float_eq(a, b, 1e-9, "key %u: %f != %f", id, a, b);
	}
	for (i = 0; i < NR; i++)
		free(r[i]);
	free(one);
}

/*
 * Applying a pair again changes nothing (the worker skips repeats on that
 * ground): a stream with every pair repeated at random later points leaves
 * the region byte for byte as the stream without the repeats.
 */
Test(sketch, spread_update_is_idempotent)
{
	struct ns_sketch_params p = sp_params();
	uint64_t size = ns_spread_shm_size(&p), h;
	void *once = region(size), *twice = region(size);
	uint8_t k[KS];
	uint32_t i, id, e, j;

	p.width = 8;		/* crowded buckets: many owner contests */
	size = ns_spread_shm_size(&p);
	ns_spread_shm_init(once, &p);
	ns_spread_shm_init(twice, &p);
	for (i = 0; i < 20000; i++) {
		id = skewed(i, 300);
		e = (uint32_t)(XXH3_64bits(&i, 4) % 500);
		h = mkkey(id, k);
		ns_spread_update(once, NULL, k, h, e);
		ns_spread_update(twice, NULL, k, h, e);
		/* Now and then, a pair seen before, again. */
		if (i % 3 == 0) {
			j = i / 2;
			id = skewed(j, 300);
			e = (uint32_t)(XXH3_64bits(&j, 4) % 500);
			h = mkkey(id, k);
			ns_spread_update(twice, NULL, k, h, e);
		}
	}
	cr_assert(memcmp(once, twice, size) == 0,
	    "repeating pairs changed the region");
	free(once);
	free(twice);
}

/* ---- the journal */

static struct ns_seg seg;

struct jarea {
	uint64_t	commit;		/* commit word of the test's batches */
	uint64_t	pad[7];
	uint8_t		region[];	/* hh region, then spread region */
};

static struct jarea *
jsetup(uint64_t hsize, uint64_t ssize, uint64_t max_undo)
{
	struct ns_seg_layout lay;

	log_init("test", "sketch", NS_LOG_WARN);
	ns_seg_layout_init(&lay, 1);
	ns_seg_layout_set(&lay, NS_SEG_JOURNALS,
	    ns_journal_shm_size(1, max_undo));
	ns_seg_layout_set(&lay, NS_SEG_STATS, sizeof(struct jarea) + hsize +
	    ssize + NS_HH_BUCKET_BYTES);
	ns_seg_layout_finish(&lay);
	cr_assert_eq(ns_seg_create_private(&seg, &lay), 0);
	cr_assert_eq(ns_journal_shm_init(&seg, 1, max_undo), 0);
	ns_seg_publish(&seg);
	return ns_seg_ptr(&seg, ns_seg_section(&seg, NS_SEG_STATS, NULL));
}

/* The journal tests' regions: the hh region on NS_HH_BUCKET_BYTES. */
static void *
jregion(struct jarea *ja)
{
	return (void *)NS_ALIGN_UP((uintptr_t)ja->region, NS_HH_BUCKET_BYTES);
}

/* A batch begins: the hh region logs its update count once (ns_hh_begin). */
static void
jbegin(struct ns_jctx *jc, struct jarea *ja, void *hh)
{
	ns_journal_begin(jc, &ja->commit);
	ns_hh_begin(hh, jc);
}

/* Update i of the journal tests' stream: both sketches, one packet. */
static void
jupdate(void *hh, void *sp, struct ns_jctx *jc, uint32_t i)
{
	uint8_t k[KS];
	uint32_t id = skewed(i, 3000);
	uint64_t h = mkkey(id, k);

	ns_hh_update(hh, jc, k, h, 40 + i % 1400);
	ns_spread_update(sp, jc, k, h, i % 5000);
}

/* Update i of a journal test's stream, of hh and the other region. */
typedef void jupdate_fn(void *hh, void *other, struct ns_jctx *jc,
    uint32_t i);

/*
 * Updates [0, 30000), in committed batches of 1000, and the same
 * unjournaled on the twins: each within bound cells.  Returns the most
 * cells an update stored.
 */
static uint64_t
jrun(jupdate_fn *up, struct jarea *ja, struct ns_jctx *jc, void *hh,
    void *other, void *refh, void *refo, unsigned bound)
{
	uint64_t before, most = 0;
	uint32_t i;

	for (i = 0; i < 30000; i++) {
		if (i % 1000 == 0)
			jbegin(jc, ja, hh);
		before = jc->n;
		up(hh, other, jc, i);
		up(refh, refo, NULL, i);
		if (jc->n - before > most)
			most = jc->n - before;
		cr_assert_leq(jc->n - before, bound, "update %u: %lu cells", i,
		    (unsigned long)(jc->n - before));
		if (i % 1000 == 999)
			ns_journal_commit(jc, i + 1);
	}
	return most;
}

/* Updates [30000, 31000) as one batch, left open; on the twins too
 * unless refh is NULL. */
static void
jbatch(jupdate_fn *up, struct jarea *ja, struct ns_jctx *jc, void *hh,
    void *other, void *refh, void *refo)
{
	uint32_t i;

	jbegin(jc, ja, hh);
	for (i = 30000; i < 31000; i++) {
		up(hh, other, jc, i);
		if (refh != NULL)
			up(refh, refo, NULL, i);
	}
}

/*
 * Every store goes through the journal, within the bound: a rolled-back
 * batch restores the region byte for byte, and the replay gives what an
 * unjournaled run gives.
 */
Test(sketch, journal_rollback)
{
	struct ns_sketch_params hp = { .width = 256, .depth = 3,
	    .top_k = 128, .key_size = KS, .seed = 5 };
	struct ns_sketch_params spp = sp_params();
	uint64_t hs = ns_hh_shm_size(&hp), ss = ns_spread_shm_size(&spp);
	unsigned bound = ns_hh_cells_per_update(&hp) +
	    ns_spread_cells_per_update(&spp);
	struct jarea *ja = jsetup(hs, ss, 1000 * bound);
	void *hh = jregion(ja), *sp = (char *)hh + hs;
	void *refh = region(hs), *refs = region(ss);
	void *snap = region(hs + ss);
	struct ns_jctx jc;

	ns_hh_shm_init(hh, &hp);
	ns_spread_shm_init(sp, &spp);
	ns_hh_shm_init(refh, &hp);
	ns_spread_shm_init(refs, &spp);
	cr_assert_eq(ns_journal_attach(&jc, &seg, 0), 0);
	cr_assert_gt(jrun(jupdate, ja, &jc, hh, sp, refh, refs, bound), 2);
	memcpy(snap, hh, hs + ss);
	jbatch(jupdate, ja, &jc, hh, sp, NULL, NULL);
	cr_assert_neq(memcmp(snap, hh, hs + ss), 0);
	cr_assert_eq(ns_journal_recover(&jc), 1);
	cr_assert_eq(memcmp(snap, hh, hs + ss), 0, "rollback incomplete");
	/* Replay, and go on: same as the unjournaled twin. */
	jbatch(jupdate, ja, &jc, hh, sp, refh, refs);
	ns_journal_commit(&jc, 31000);
	cr_assert_eq(memcmp(hh, refh, hs), 0);
	cr_assert_eq(memcmp(sp, refs, ss), 0);
	free(refh);
	free(refs);
	free(snap);
	ns_seg_detach(&seg);
}

/* Update i of the linked journal test: the table, then the region. */
static void
jupdate_linked(void *hh, void *t, struct ns_jctx *jc, uint32_t i)
{
	struct ns_table_entry *e;
	uint8_t k[KS];
	uint64_t h = mkkey(skewed(i, 3000), k);
	uint32_t bytes = 40 + i % 1400;

	ns_table_add_entry(t, jc, h, k, i, bytes, (uint8_t)(1u << i % 8), &e);
	ns_hh_update_linked(hh, jc, t, e, k, h, bytes);
}

/* t and u alike: header counts, state words and published entries. */
static void
assert_same_table(const struct ns_table *t, const struct ns_table *u)
{
	const struct ns_table_entry *a, *b;
	uint64_t x;

	cr_assert_eq(ns_table_count(t), ns_table_count(u));
	cr_assert_eq(ns_table_full_drops(t), ns_table_full_drops(u));
	for (x = 0; x < t->capacity; x++) {
		a = ns_table_entry_at(t, x);
		b = ns_table_entry_at(u, x);
		cr_assert_eq(a->state, b->state, "entry %lu", (unsigned long)x);
		if (b->state != 0)
			cr_assert_eq(memcmp(a, b, t->entry_size), 0,
			    "entry %lu", (unsigned long)x);
	}
}

/*
 * The same for a linked region and its table: the table fills up on the
 * way (so that self-counting slots come and go too), and TCP flags have
 * it rewrite the state words the HH bit lives in.  An unpublished entry
 * may keep what a rolled-back insert wrote: only state words and
 * published entries must match.
 */
Test(sketch, journal_rollback_linked)
{
	struct ns_sketch_params hp = { .width = 64, .depth = 3, .top_k = 32,
	    .key_size = KS, .seed = 5, .flags = NS_SKETCH_F_LINKED };
	uint64_t hs = ns_hh_shm_size(&hp), ts = ns_table_shm_size(KS, 1500);
	unsigned bound = ns_hh_cells_per_update(&hp) +
	    NS_TABLE_CELLS_PER_RECORD;
	struct jarea *ja = jsetup(hs, ts, 1000 * bound);
	void *hh = jregion(ja), *refh = region(hs), *snap = region(hs);
	struct ns_table *t = (struct ns_table *)((char *)hh + hs);
	struct ns_table *reft = region(ts), *snapt = region(ts);
	struct ns_jctx jc;

	cr_assert_eq(ns_hh_shm_init(hh, &hp), 0);
	cr_assert_eq(ns_table_shm_init(t, KS, 1500), 0);
	cr_assert_eq(ns_hh_shm_init(refh, &hp), 0);
	cr_assert_eq(ns_table_shm_init(reft, KS, 1500), 0);
	cr_assert_eq(ns_journal_attach(&jc, &seg, 0), 0);
	cr_assert_gt(jrun(jupdate_linked, ja, &jc, hh, t, refh, reft, bound),
	    NS_TABLE_CELLS_PER_RECORD, "no admission seen");
	cr_assert_gt(ns_table_full_drops(t), 1000, "the table never filled");
	memcpy(snap, hh, hs);
	memcpy(snapt, t, ts);
	jbatch(jupdate_linked, ja, &jc, hh, t, NULL, NULL);
	cr_assert_neq(memcmp(snap, hh, hs), 0);
	cr_assert_eq(ns_journal_recover(&jc), 1);
	cr_assert_eq(memcmp(snap, hh, hs), 0, "region rollback incomplete");
	assert_same_table(t, snapt);
	/* Replay, and go on: same as the unjournaled twins. */
	jbatch(jupdate_linked, ja, &jc, hh, t, refh, reft);
	ns_journal_commit(&jc, 31000);
	cr_assert_eq(memcmp(hh, refh, hs), 0);
	assert_same_table(t, reft);
	free(refh);
	free(snap);
	free(reft);
	free(snapt);
	ns_seg_detach(&seg);
}

#ifdef NS_TEST_INJECT
/*
 * The writer killed at its n-th journaled store (journal.after_undo: the
 * old value is logged, the cell not yet written), for n early, late and
 * in between: the successor's recovery restores the batch-start state.
 */
Test(sketch, journal_kill)
{
	struct ns_sketch_params hp = { .width = 64, .depth = 2, .top_k = 32,
	    .key_size = KS, .seed = 5 };
	struct ns_sketch_params spp = sp_params();
	uint64_t hs = ns_hh_shm_size(&hp), ss = ns_spread_shm_size(&spp);
	unsigned bound = ns_hh_cells_per_update(&hp) +
	    ns_spread_cells_per_update(&spp);
	struct jarea *ja = jsetup(hs, ss, 500 * bound);
	void *hh = jregion(ja), *sp = (char *)hh + hs;
	void *snap = region(hs + ss), *done = region(hs + ss);
	static const unsigned nth[] = { 1, 2, 17, 333, 1500 };
	struct ns_jctx jc;
	char sel[64];
	unsigned t;
	uint32_t i;
	pid_t pid;
	int st;

	ns_hh_shm_init(hh, &hp);
	ns_spread_shm_init(sp, &spp);
	cr_assert_eq(ns_journal_attach(&jc, &seg, 0), 0);
	jbegin(&jc, ja, hh);
	for (i = 0; i < 5000; i++)
		jupdate(hh, sp, NULL, i);
	ns_journal_commit(&jc, 1);
	memcpy(snap, hh, hs + ss);
	for (t = 0; t < sizeof(nth) / sizeof(nth[0]); t++) {
		if ((pid = fork()) == 0) {
			snprintf(sel, sizeof(sel), "journal.after_undo:%u",
			    nth[t]);
			setenv("NS_INJECT", sel, 1);
			ns_journal_attach(&jc, &seg, 0);
			jbegin(&jc, ja, hh);
			for (i = 5000; i < 5400; i++)
				jupdate(hh, sp, &jc, i);
			_exit(0);	/* not killed: the batch stays open */
		}
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		    "kill point %u not reached", nth[t]);
		cr_assert_eq(ns_journal_attach(&jc, &seg, 0), 0);
		cr_assert_eq(ns_journal_recover(&jc), 1);
		cr_assert_eq(memcmp(snap, hh, hs + ss), 0, "kill at %u",
		    nth[t]);
	}
	/* The replay after the last kill completes as a clean run would. */
	jbegin(&jc, ja, hh);
	for (i = 5000; i < 5400; i++)
		jupdate(hh, sp, &jc, i);
	ns_journal_commit(&jc, 2);
	memcpy(done, hh, hs + ss);
	memcpy(hh, snap, hs + ss);
	for (i = 5000; i < 5400; i++)
		jupdate(hh, sp, NULL, i);
	cr_assert_eq(memcmp(done, hh, hs + ss), 0);
	free(snap);
	free(done);
	ns_seg_detach(&seg);
}
#endif

/* ---- keys over a threshold without a candidate slot (issue 18) */

/* keys [first, first + n) with pkts packets each, interleaved; a tail. */
static void
hh_feed(void *m, uint32_t first, uint32_t n, unsigned pkts, uint32_t tail)
{
	uint8_t k[KS];
	uint64_t h;

	for (unsigned r = 0; r < pkts; r++)
		for (uint32_t i = first; i < first + n; i++) {
			h = mkkey(i, k);
			ns_hh_update(m, NULL, k, h, 100);
		}
	for (uint32_t i = 0; i < tail; i++) {
		h = mkkey(100000 + first * 10000 + i, k);
		ns_hh_update(m, NULL, k, h, 100);
	}
}

Test(sketch, hh_unreported_estimate)
{
	struct ns_sketch_params p = { .width = 4096, .depth = 2, .top_k = 4,
	    .key_size = KS, .seed = 3 };
	void *m = region(ns_hh_shm_size(&p)), *big;
	const void *rs[1] = { m };
	struct hits hs = { .n = 0 };
	uint64_t n = 99;

	/* Ten keys of 1000 packets for one bucket of four slots. */
	cr_assert_eq(ns_hh_shm_init(m, &p), 0);
	hh_feed(m, 0, 10, 1000, 2000);
	cr_assert_eq(ns_hh_query(rs, 1, 0, 500, collect, &hs), 4);
	cr_assert_eq(ns_hh_unreported(rs, NULL, 1, 0, 500, &n), 0);
	cr_assert_eq(n, 6, "estimate %llu, 6 keys have no slot",
	    (unsigned long long)n);
	/* By bytes the same keys. */
	cr_assert_eq(ns_hh_unreported(rs, NULL, 1, NS_HH_BY_BYTES, 50000, &n),
	    0);
	cr_assert_eq(n, 6);
	/* Over every key: nothing there. */
	cr_assert_eq(ns_hh_unreported(rs, NULL, 1, 0, 1000000, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(ns_hh_unreported(rs, NULL, 1, 0, 0, &n), -EINVAL);

	/* Room for all: the slots' priors taken out, nothing is left. */
	p.top_k = 64;
	big = region(ns_hh_shm_size(&p));
	cr_assert_eq(ns_hh_shm_init(big, &p), 0);
	hh_feed(big, 0, 10, 1000, 2000);
	rs[0] = big;
	cr_assert_eq(ns_hh_unreported(rs, NULL, 1, 0, 500, &n), 0);
	cr_assert_eq(n, 0);
	free(m);
	free(big);
}

/* Partitioned regions count apart; others add up cell by cell. */
Test(sketch, hh_unreported_merged)
{
	struct ns_sketch_params p = { .width = 4096, .depth = 2, .top_k = 4,
	    .key_size = KS, .seed = 5, .flags = NS_SKETCH_F_PARTITIONED };
	void *a = region(ns_hh_shm_size(&p)), *b = region(ns_hh_shm_size(&p));
	const void *rs[2] = { a, b };
	uint64_t n = 0;

	cr_assert_eq(ns_hh_shm_init(a, &p), 0);
	cr_assert_eq(ns_hh_shm_init(b, &p), 0);
	hh_feed(a, 0, 6, 800, 500);
	hh_feed(b, 10, 7, 800, 500);
	cr_assert_eq(ns_hh_unreported(rs, NULL, 2, 0, 500, &n), 0);
	cr_assert_eq(n, 2 + 3, "%llu", (unsigned long long)n);
	free(a);
	free(b);

	/* Not partitioned: keys of 300 packets in each of two regions are
	 * over 500 only together. */
	p.flags = 0;
	a = region(ns_hh_shm_size(&p));
	b = region(ns_hh_shm_size(&p));
	rs[0] = a;
	rs[1] = b;
	cr_assert_eq(ns_hh_shm_init(a, &p), 0);
	cr_assert_eq(ns_hh_shm_init(b, &p), 0);
	hh_feed(a, 0, 12, 300, 500);
	hh_feed(b, 0, 12, 300, 500);
	cr_assert_eq(ns_hh_unreported(rs, NULL, 2, 0, 500, &n), 0);
	/* Four slots per region: each holds four of the twelve, not
	 * necessarily the same four, so 4 to 8 keys are named. */
	cr_assert(n >= 4 && n <= 8, "%llu", (unsigned long long)n);
	free(a);
	free(b);
}
