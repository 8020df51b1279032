/*
 * sketch_spread.c -- super-spreaders (skt_type 1): keys with many distinct
 * elements (SrcIP -> distinct DstIP), in one shared-memory region per
 * worker shard.
 *
 * A SpreadSketch (Tang, Huang, Lee: "SpreadSketch", INFOCOM 2020) with a
 * HyperLogLog as each bucket's distinct counter: depth rows of width
 * buckets; a key maps to one bucket per row.  The (key, element) pair is
 * hashed once; that hash picks an HLL register and its rank rho, the same
 * in every row.  Each bucket also keeps an owner: the key whose pair had
 * the highest rho seen there (on a tie the incumbent stays).  A key with many
 * distinct elements draws high ranks, so it owns its buckets, and the
 * owners are the candidates a query estimates.
 *
 * Estimate of a key: in every row its own pairs set the same registers,
 * and other keys add noise that differs from row to row; so the
 * register-wise minimum over its d buckets is an HLL of its own pairs
 * plus only the noise present in all rows at once, and that is what is
 * estimated (tighter than the minimum of d estimates).
 *
 * Merging is exact: the register-wise maximum over regions is the HLL of
 * the union of their pairs, so a pair seen by two workers counts once.
 *
 * Bucket: owner word, key words, registers (5 bits, 12 per cell).  Owner
 * word: 0 none, else rho << 59 | key_hash >> 5.  Rewriting it for a new
 * key stores 0 first and the new owner last, like hh slots (sketch_hh.c).
 */
#include "sketch.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <xxhash.h>

#include "atomic.h"
#include "journal.h"

#define SP_LEVEL_SHIFT	59
#define SP_TAG_MASK	((1ULL << SP_LEVEL_SHIFT) - 1)
#define SP_RHO_MAX	31		/* 5-bit registers */

/*
 * Buckets are packed, not aligned to cache lines: at a fixed memory the
 * width is what keeps the noise down, and aligning a 120-byte bucket
 * would cost 7% of it.
 */
static uint64_t
sp_stride(const struct ns_sketch_params *p)
{
	return 8 * (1 + NS_SKETCH_KEY_WORDS(p->key_size) +
	    (p->m + NS_SPREAD_REGS_PER_CELL - 1) / NS_SPREAD_REGS_PER_CELL);
}

uint64_t
ns_spread_shm_size(const struct ns_sketch_params *p)
{
	if (ns_sketch_check(p, 1) != 0)
		return 0;
	return NS_ALIGN_UP(sizeof(struct ns_sketch_hdr) +
	    (uint64_t)p->depth * p->width * sp_stride(p), NS_CACHELINE);
}

int
ns_spread_shm_init(void *mem, const struct ns_sketch_params *p)
{
	struct ns_sketch_hdr *h = mem;

	if (mem == NULL || ns_sketch_check(p, 1) != 0)
		return -EINVAL;
	ns_sketch_hdr_init(h, p, NS_SKETCH_MAGIC_SPREAD);
	h->m = p->m;
	h->reg_cells = (p->m + NS_SPREAD_REGS_PER_CELL - 1) /
	    NS_SPREAD_REGS_PER_CELL;
	h->off_rows = sizeof(struct ns_sketch_hdr);
	h->stride = sp_stride(p);
	h->size = ns_spread_shm_size(p);
	return 0;
}

unsigned
ns_spread_cells_per_update(const struct ns_sketch_params *p)
{
	return NS_SPREAD_CELLS_PER_UPDATE(p->depth, p->key_size);
}

void
ns_spread_clear(void *mem)
{
	struct ns_sketch_hdr *h = mem;

	memset((char *)mem + h->off_rows, 0, h->size - h->off_rows);
}

/* Bucket of tag (key_hash >> 5) in row r: owner, key words, registers. */
static inline uint64_t *
sp_bucket(const struct ns_sketch_hdr *h, unsigned r, uint64_t tag)
{
	uint64_t i = ns_sketch_range(ns_sketch_mix(tag ^ h->row_seed[r]),
	    h->width);

	return (uint64_t *)((char *)h + h->off_rows +
	    ((uint64_t)r * h->width + i) * h->stride);
}

/*
 * The register a pair sets (index j, rank rho), the same in every row:
 * the pair hash's low half picks the register, its high half is the rank.
 */
static inline void
sp_reg(const struct ns_sketch_hdr *h, uint64_t pair, unsigned *j,
    uint64_t *rho)
{
	*j = (unsigned)(((pair & 0xffffffffULL) * h->m) >> 32);
	*rho = (uint64_t)__builtin_clzll(pair | 1) + 1;
	if (*rho > SP_RHO_MAX)
		*rho = SP_RHO_MAX;
}

static inline uint64_t *
sp_reg_cell(const struct ns_sketch_hdr *h, uint64_t *bk, unsigned j)
{
	return bk + 1 + h->key_words + j / NS_SPREAD_REGS_PER_CELL;
}

/* ---- writer */

/*
 * Give the bucket to key when its pair outranks the owner's (not on a
 * tie).  Out of line: most updates stop at the level test before it.
 */
static __attribute__((noinline)) void
sp_own(const struct ns_sketch_hdr *h, struct ns_jctx *jc, uint64_t *bk,
    const uint8_t *key, uint64_t tag, uint64_t rho)
{
	uint64_t kw[NS_SKETCH_KEY_WORDS(NS_SKETCH_KEY_MAX)] = { 0 };
	uint64_t o = bk[0];
	unsigned i;

	memcpy(kw, key, h->key_size);
	if (o != 0 && (o & SP_TAG_MASK) == tag &&
	    ns_sketch_key_equal(bk + 1, kw, 8 * h->key_words)) {
		ns_journal_set(jc, bk, rho << SP_LEVEL_SHIFT | tag);
		return;
	}
	if (o != 0) {
		ns_journal_set(jc, bk, 0);
		/*
		 * Full fence, pairs with the ns_smp_mb() in sp_read_owner(): a
		 * reader that copied a word of the new key sees the owner
		 * word changed from the one it began with.
		 */
		ns_smp_mb();
	}
	for (i = 0; i < h->key_words; i++)
		if (bk[1 + i] != kw[i])
			ns_journal_set(jc, &bk[1 + i], kw[i]);
	/*
	 * Release, pairs with the acquire of the owner in sp_read_owner():
	 * the key is complete before a reader can see its owner word.
	 */
	if (jc != NULL)
		ns_journal_store64_rel(jc, bk, rho << SP_LEVEL_SHIFT | tag);
	else
		ns_store_release(bk, rho << SP_LEVEL_SHIFT | tag);
}

void
ns_spread_update(void *mem, struct ns_jctx *jc, const uint8_t *key,
    uint64_t key_hash, uint64_t elem_hash)
{
	ns_spread_add(mem, jc, key, key_hash,
	    ns_spread_pair(mem, key_hash, elem_hash));
}

#define SP_CHUNK	64	/* updates located together */
#define SP_AHEAD	4	/* updates between a prefetch and its use:
				 * each loads two lines per row */

/* Where a chunk's updates go, found before any store: buckets, register
 * and rank. */
struct sp_where {
	uint64_t	*bk[NS_SKETCH_DEPTH_MAX][SP_CHUNK];
	unsigned	 reg[SP_CHUNK];
	uint64_t	 rho[SP_CHUNK];
};

static void
sp_locate(const struct ns_sketch_hdr *h, const struct ns_spread_input *in,
    unsigned n, struct sp_where *w)
{
	unsigned r, j, depth = h->depth;

	for (j = 0; j < n; j++)
		sp_reg(h, in[j].pair, &w->reg[j], &w->rho[j]);
	for (r = 0; r < depth; r++)
		for (j = 0; j < n; j++)
			w->bk[r][j] = sp_bucket(h, r, in[j].key_hash >> 5);
}

/* Per row the lines of the owner word and of the register. */
static inline void
sp_prefetch(const struct ns_sketch_hdr *h, unsigned depth,
    const struct sp_where *w, unsigned j)
{
	unsigned r;

	for (r = 0; r < depth; r++) {
		ns_prefetch_w(w->bk[r][j]);
		ns_prefetch_w(sp_reg_cell(h, w->bk[r][j], w->reg[j]));
	}
}

static void
sp_apply(const struct ns_sketch_hdr *h, struct ns_jctx *jc,
    const struct ns_spread_input *in, unsigned n, const struct sp_where *w)
{
	uint64_t tag, rho, *bk, *cell, cur;
	unsigned r, j, reg, shift, depth = h->depth;

	for (j = 0; j < SP_AHEAD && j < n; j++)
		sp_prefetch(h, depth, w, j);
	for (j = 0; j < n; j++) {
		if (j + SP_AHEAD < n)
			sp_prefetch(h, depth, w, j + SP_AHEAD);
		reg = w->reg[j];
		rho = w->rho[j];
		shift = (reg % NS_SPREAD_REGS_PER_CELL) * 5;
		tag = in[j].key_hash >> 5;
		for (r = 0; r < depth; r++) {
			bk = w->bk[r][j];
			cell = sp_reg_cell(h, bk, reg);
			cur = (*cell >> shift) & SP_RHO_MAX;
			if (rho > cur)
				ns_journal_set(jc, cell, (*cell &
				    ~((uint64_t)SP_RHO_MAX << shift)) |
				    rho << shift);
			/*
			 * The incumbent keeps the bucket on a tie: owner
			 * levels only grow, so applying a pair again never
			 * changes the owner -- which makes the update
			 * idempotent, and lets a worker skip repeated pairs.
			 * Up to its level nothing changes, whoever the key.
			 */
			if (bk[0] == 0 || rho > bk[0] >> SP_LEVEL_SHIFT)
				sp_own(h, jc, bk, in[j].key, tag, rho);
		}
	}
}

void
ns_spread_add_batch(void *mem, struct ns_jctx *jc,
    const struct ns_spread_input *in, unsigned n)
{
	struct sp_where w;
	unsigned c;

	for (; n > 0; in += c, n -= c) {
		c = n < SP_CHUNK ? n : SP_CHUNK;
		sp_locate(mem, in, c, &w);
		sp_apply(mem, jc, in, c, &w);
	}
}

void
ns_spread_add(void *mem, struct ns_jctx *jc, const uint8_t *key,
    uint64_t key_hash, uint64_t pair)
{
	struct ns_spread_input in = { key, key_hash, pair };

	ns_spread_add_batch(mem, jc, &in, 1);
}

/* ---- readers */

/* Copy a bucket's owner and key; 0 if none or changing under us. */
static int
sp_read_owner(const struct ns_sketch_hdr *h, const uint64_t *bk,
    uint64_t *owner, uint64_t *kw)
{
	unsigned i, tries;

	for (tries = 0; tries < 64; tries++) {
		/* Acquire, pairs with the release of the owner in sp_own(). */
		if ((*owner = ns_load_acquire(bk)) == 0)
			return 0;
		for (i = 0; i < h->key_words; i++)
			kw[i] = ns_load_relaxed(&bk[1 + i]);
		/* Full fence, pairs with the ns_smp_mb() in sp_own(). */
		ns_smp_mb();
		if (ns_load_relaxed(bk) == *owner)
			return 1;
	}
	return 0;
}

/* Standard HyperLogLog estimate, linear counting in the small range. */
static double
sp_hll(const uint8_t *reg, unsigned m)
{
	double sum = 0, e, alpha = 0.7213 / (1 + 1.079 / m);
	unsigned j, zeros = 0;

	for (j = 0; j < m; j++) {
		sum += 1.0 / (double)(1ULL << reg[j]);
		zeros += reg[j] == 0;
	}
	e = alpha * m * m / sum;
	if (e <= 2.5 * m && zeros > 0)
		e = m * log((double)m / zeros);
	return e;
}

/*
 * The key's registers: max over regions (union of their pairs), then min
 * over rows (its own pairs are in every row, the noise is not).
 */
static double
sp_key_estimate(const void *const *regions, unsigned n, uint64_t tag)
{
	const struct ns_sketch_hdr *h = regions[0];
	uint8_t mn[NS_SPREAD_M_MAX], mx[NS_SPREAD_M_MAX];
	const uint64_t *cells;
	unsigned r, i, j;
	uint64_t v = 0;
	uint8_t x;

	memset(mn, SP_RHO_MAX, h->m);
	for (r = 0; r < h->depth; r++) {
		memset(mx, 0, h->m);
		for (i = 0; i < n; i++) {
			h = regions[i];
			cells = sp_bucket(h, r, tag) + 1 + h->key_words;
			for (j = 0; j < h->m; j++) {
				if (j % NS_SPREAD_REGS_PER_CELL == 0)
					v = ns_load_relaxed(&cells[j /
					    NS_SPREAD_REGS_PER_CELL]);
				x = (uint8_t)((v >> (j % NS_SPREAD_REGS_PER_CELL *
				    5)) & SP_RHO_MAX);
				if (x > mx[j])
					mx[j] = x;
			}
		}
		for (j = 0; j < h->m; j++)
			if (mx[j] < mn[j])
				mn[j] = mx[j];
	}
	return sp_hll(mn, h->m);
}

int
ns_spread_estimate(const void *const *regions, unsigned nregions,
    const uint8_t *key, uint64_t key_hash, double *distinct)
{
	(void)key;	/* buckets are found by hash; owners are not needed */
	if (ns_sketch_compat(regions, nregions, NS_SKETCH_MAGIC_SPREAD) != 0)
		return -EINVAL;
	*distinct = sp_key_estimate(regions, nregions, key_hash >> 5);
	return 0;
}

/* Every bucket owner of every region, once. */
static int
sp_collect(const void *const *regions, unsigned n, struct ns_sketch_set *set)
{
	const struct ns_sketch_hdr *h = regions[0];
	uint64_t kw[NS_SKETCH_KEY_WORDS(NS_SKETCH_KEY_MAX)], owner, b, nb;
	const uint64_t *bk;
	unsigned i;
	int rc;

	nb = (uint64_t)h->depth * h->width;
	if ((rc = ns_sketch_set_init(set, n * nb, h->key_size)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		h = regions[i];
		bk = (const uint64_t *)((const char *)h + h->off_rows);
		for (b = 0; b < nb; b++, bk += h->stride / 8)
			if (sp_read_owner(h, bk, &owner, kw))
				ns_sketch_set_add(set, owner & SP_TAG_MASK,
				    (const uint8_t *)kw);
	}
	return 0;
}

int
ns_spread_query(const void *const *regions, unsigned nregions,
    uint64_t threshold, ns_sketch_fn fn, void *arg)
{
	const struct ns_sketch_hdr *h = regions != NULL ? regions[0] : NULL;
	struct ns_sketch_set set;
	struct ns_sketch_cand *c;
	uint64_t i, keep = 0;
	double e, rse;
	int rc;

	if (fn == NULL ||
	    ns_sketch_compat(regions, nregions, NS_SKETCH_MAGIC_SPREAD) != 0)
		return -EINVAL;
	if ((rc = sp_collect(regions, nregions, &set)) != 0)
		return rc;
	rse = 1.04 / sqrt((double)h->m);
	for (i = 0; i < set.n; i++) {
		c = &set.c[i];
		e = sp_key_estimate(regions, nregions, c->hash);
		c->value = (uint64_t)llround(e);
		c->err = (uint64_t)ceil(2 * rse * e);
		if (c->value >= threshold && c->value > 0)
			set.c[keep++] = *c;
	}
	rc = ns_sketch_report(set.c, keep, h->key_size, fn, arg);
	ns_sketch_set_free(&set);
	return rc;
}
