/*
 * sketch.c -- what the two sketch kinds share: parameter checks, the
 * region header, the compatibility check of regions to be merged, the
 * process-local set of candidate keys a query collects, and the sorted
 * report.  The sketches themselves are in sketch_hh.c and sketch_spread.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* qsort_r, when built outside autoconf */
#endif

#include "sketch.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"

int
ns_sketch_check(const struct ns_sketch_params *p, int spread)
{
	if (p == NULL || p->width == 0 || p->width > NS_SKETCH_WIDTH_MAX ||
	    p->depth == 0 || p->depth > NS_SKETCH_DEPTH_MAX ||
	    p->key_size == 0 || p->key_size > NS_SKETCH_KEY_MAX ||
	    (p->flags & ~(NS_SKETCH_F_PARTITIONED | NS_SKETCH_F_LINKED)) != 0 ||
	    (spread && (p->flags & NS_SKETCH_F_LINKED)))
		return -EINVAL;
	if (spread && (p->m < NS_SPREAD_M_MIN || p->m > NS_SPREAD_M_MAX))
		return -EINVAL;
	if (!spread && (p->top_k == 0 || p->top_k > NS_HH_TOPK_MAX))
		return -EINVAL;
	return 0;
}

uint32_t
ns_sketch_fit_width(struct ns_sketch_params *p, uint64_t budget, int spread)
{
	uint32_t lo = 0, hi = NS_SKETCH_WIDTH_MAX, mid;
	uint64_t size;

	/* Sizes grow with the width: bisect for the last that fits. */
	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		p->width = mid;
		size = spread ? ns_spread_shm_size(p) : ns_hh_shm_size(p);
		if (size != 0 && size <= budget)
			lo = mid;
		else
			hi = mid - 1;
	}
	p->width = lo;
	return lo;
}

/* splitmix64: the row and bucket seeds, all from the task's one seed. */
static uint64_t
sketch_next_seed(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ULL;
	return ns_sketch_mix(*state);
}

void
ns_sketch_hdr_init(struct ns_sketch_hdr *h, const struct ns_sketch_params *p,
    uint64_t magic)
{
	uint64_t s = p->seed;
	unsigned r;

	memset(h, 0, sizeof(*h));
	h->magic = magic;
	h->key_size = p->key_size;
	h->key_words = NS_SKETCH_KEY_WORDS(p->key_size);
	h->width = p->width;
	h->depth = p->depth;
	h->flags = p->flags;
	h->seed = p->seed;
	h->bucket_seed = sketch_next_seed(&s);
	for (r = 0; r < NS_SKETCH_DEPTH_MAX; r++)
		h->row_seed[r] = sketch_next_seed(&s);
}

/*
 * Regions merge only if they hash alike and are laid out alike: same
 * magic, geometry and seeds (the workers' shards of one task are).
 */
int
ns_sketch_compat(const void *const *regions, unsigned nregions, uint64_t magic)
{
	const struct ns_sketch_hdr *a, *b;
	unsigned i;

	if (regions == NULL || nregions == 0 || regions[0] == NULL)
		return -EINVAL;
	a = regions[0];
	if (a->magic != magic)
		return -EINVAL;
	/* Everything but the writer's packet count must agree. */
	for (i = 1; i < nregions; i++) {
		b = regions[i];
		if (b == NULL || memcmp(a, b, offsetof(struct ns_sketch_hdr,
		    packets)) != 0)
			return -EINVAL;
	}
	return 0;
}

int
ns_sketch_set_init(struct ns_sketch_set *s, uint64_t max, uint32_t key_size)
{
	memset(s, 0, sizeof(*s));
	s->key_size = key_size;
	s->cap = 16;
	while (s->cap < 2 * max)
		s->cap <<= 1;
	s->mask = s->cap - 1;
	s->c = malloc((max ? max : 1) * sizeof(*s->c));
	s->slot = calloc(s->cap, sizeof(*s->slot));
	if (s->c == NULL || s->slot == NULL) {
		ns_sketch_set_free(s);
		return -ENOMEM;
	}
	return 0;
}

/* Add (hash, key) unless present; the caller sized the set for every add. */
void
ns_sketch_set_add(struct ns_sketch_set *s, uint64_t hash, const uint8_t *key)
{
	uint64_t i = ns_sketch_mix(hash) & s->mask;
	struct ns_sketch_cand *c;

	for (; s->slot[i] != 0; i = (i + 1) & s->mask) {
		c = &s->c[s->slot[i] - 1];
		if (c->hash == hash && memcmp(c->key, key, s->key_size) == 0)
			return;
	}
	c = &s->c[s->n];
	memset(c, 0, sizeof(*c));
	c->hash = hash;
	memcpy(c->key, key, s->key_size);
	s->slot[i] = (uint32_t)++s->n;
}

void
ns_sketch_set_free(struct ns_sketch_set *s)
{
	free(s->c);
	free(s->slot);
	s->c = NULL;
	s->slot = NULL;
}

static int
sketch_cmp(const void *a, const void *b, void *ksp)
{
	const struct ns_sketch_cand *x = a, *y = b;

	if (x->value != y->value)
		return x->value > y->value ? -1 : 1;
	return memcmp(x->key, y->key, *(const uint32_t *)ksp);
}

/*
 * Report the candidates (those the caller kept) largest first, ties by key
 * bytes: the output is a function of the merged state alone, whatever the
 * order the regions were scanned in.
 */
int
ns_sketch_report(struct ns_sketch_cand *c, uint64_t n, uint32_t key_size,
    ns_sketch_fn fn, void *arg)
{
	uint64_t i;

	/* qsort_r (glibc): the key size travels as context, no global. */
	qsort_r(c, n, sizeof(*c), sketch_cmp, &key_size);
	for (i = 0; i < n; i++)
		fn(arg, c[i].key, c[i].value, c[i].err);
	return (int)n;
}
