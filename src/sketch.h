/*
 * sketch.h -- sketch tasks (DESIGN §4, issue 4): heavy hitters by packets
 * and by bytes (skt_type 0) and super-spreaders (skt_type 1), each kept in
 * one fixed-size shared-memory region per (worker shard, generation).
 *
 * Heavy hitters (ns_hh_): a set-associative table of candidate keys with
 * exact counts since admission, in front of a Count-Min sketch with
 * conservative update that holds everything else.  Super-spreaders
 * (ns_spread_): a SpreadSketch whose buckets keep a HyperLogLog of the
 * (key, element) pairs and the key of highest HLL level.  The choice, the
 * memory formulas and the measured accuracy are in doc/ARCHITECTURE.md
 * ("Sketch tasks").
 *
 * A region holds no pointers, only offsets from its own start, and is
 * laid out once from the parameters: ns_*_shm_size() is the task's memory,
 * ns_*_shm_init() writes only the header into zero-filled memory.  The
 * region's worker is its only writer; every store goes through the undo
 * journal (jc NULL: plain relaxed stores, for private runs and tests), at
 * most NS_*_CELLS_PER_UPDATE cells per update.  Readers in other
 * processes query concurrently (every 64-bit cell is read torn-free, key
 * bytes under a seqlock-like check of the slot's state word), or read a
 * closed generation with no writer.  Queries merge any number of regions
 * made with equal parameters: one per worker.
 *
 * Updates are deterministic functions of the seed, the region and the
 * input: no rand(), no clock.
 */
#ifndef NS_SKETCH_H
#define NS_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#include "atomic.h"
#include "table.h"

#define NS_SKETCH_KEY_MAX	72	/* == NS_TABLE_KEY_MAX */
#define NS_SKETCH_DEPTH_MAX	8	/* rows of a Count-Min / SpreadSketch */
#define NS_SKETCH_WIDTH_MAX	(1u << 26)
#define NS_HH_WAYS		4	/* candidate slots per bucket */
#define NS_HH_BUCKET_BYTES	128	/* a bucket: two lines, 128-aligned */
#define NS_HH_TOPK_MAX		(1u << 24)
#define NS_SPREAD_M_MIN		16	/* HLL registers per bucket */
#define NS_SPREAD_M_MAX		1024
#define NS_SPREAD_REGS_PER_CELL	12	/* 5-bit registers in a 64-bit cell */

#define NS_SKETCH_KEY_WORDS(ks)	(((ks) + 7u) / 8u)

/*
 * Journaled cells one update stores, at most; the journal is sized from
 * it times the batch size (ns_journal_batch_limit).
 *   heavy hitters: the packet count (logged once per batch by
 *     ns_hh_begin(), still counted here), then: a hit stores 2; a miss
 *     at most 2 per row (conservative update of packets and bytes); an
 *     admission stores the evicted key's counts back into the rows (2 per
 *     row), the slot's state twice, its 4 counters, entry words and key
 *     words, and (linked) the entry bits of the two flows and the
 *     bucket's 4 lower bounds.
 *   spread: per row one register cell, and, when the key takes the
 *     bucket over, the owner word twice and the key words.
 * 5-tuple key (38 bytes), depth 4: 28 (hh); SrcIP key (17 bytes), depth
 * 3: 18 (spread).
 */
#define NS_HH_CELLS_PER_UPDATE(depth, ks) \
	(2u * (depth) + 15u + NS_SKETCH_KEY_WORDS(ks))
#define NS_SPREAD_CELLS_PER_UPDATE(depth, ks) \
	((depth) * (3u + NS_SKETCH_KEY_WORDS(ks)))

/* Set when every key lives in one region (its key holds the 5-tuple). */
#define NS_SKETCH_F_PARTITIONED	0x1u
/* Heavy hitters linked to an exact task (ns_hh_update_linked()). */
#define NS_SKETCH_F_LINKED	0x2u

/*
 * A task's sketch parameters, per region.  Go2NetSpectra's size, base and
 * b (the sampling of its SuperSpread) have no meaning here and are not
 * carried; its m is the HLL register count per spread bucket.
 */
struct ns_sketch_params {
	uint32_t	width;		/* buckets per row */
	uint32_t	depth;		/* rows, 1..NS_SKETCH_DEPTH_MAX */
	uint32_t	top_k;		/* hh: candidate slots (rounded up to
					 * NS_HH_WAYS) */
	uint32_t	m;		/* spread: HLL registers per bucket */
	uint32_t	key_size;	/* flow key bytes, 1..NS_SKETCH_KEY_MAX */
	uint32_t	flags;		/* NS_SKETCH_F_* */
	uint64_t	seed;
};

/*
 * The widest sketch (p->width) whose region fits budget bytes, other
 * parameters as given: how a task's memory, split over its workers, turns
 * into a width.  Returns the width, 0 if not even width 1 fits.
 */
uint32_t	 ns_sketch_fit_width(struct ns_sketch_params *p, uint64_t budget,
		    int spread);

/* Query flags (ns_hh_query's by_bytes: 0 and 1 keep their meaning). */
#define NS_HH_BY_BYTES		0x1

/* Called once per reported key, largest value first, then by key bytes. */
typedef void	(*ns_sketch_fn)(void *arg, const uint8_t *key, uint64_t value,
		    uint64_t err_bound);

/* ---- heavy hitters (skt_type 0) */

/* Region bytes (a multiple of 64), or 0 if the parameters are invalid. */
uint64_t	 ns_hh_shm_size(const struct ns_sketch_params *);
/* 0 or -EINVAL; mem is zero-filled and ns_hh_shm_size() bytes. */
int		 ns_hh_shm_init(void *mem, const struct ns_sketch_params *);
unsigned	 ns_hh_cells_per_update(const struct ns_sketch_params *);
/* No writer, no reader (after a grace period): back to the empty state. */
void		 ns_hh_clear(void *mem);

/*
 * A journaled writer calls ns_hh_begin() once per batch, before its first
 * update: the region's update count is logged there and then stored
 * plainly by the batch's updates (one undo entry, not one each).
 */
void		 ns_hh_begin(void *mem, struct ns_jctx *jc);

/*
 * n packets, as the caller keeps them: packet i's key hash at
 * hash[i * hash_stride], its key at key + i * key_stride, its byte count
 * (a uint32_t) at (const char *)bytes + i * bytes_stride.  table: of a
 * linked region, the table it is linked to; else NULL.
 */
struct ns_hh_batch {
	const uint64_t	*hash;
	const uint8_t	*key;
	const uint32_t	*bytes;
	size_t		 hash_stride, key_stride, bytes_stride;
	unsigned	 n;
	const struct ns_table *table;
};

/*
 * The packets of b, in order: the region ends as ns_hh_update() of each
 * in turn leaves it (that is this with n = 1), for much less.
 */
void		 ns_hh_update_batch(void *mem, struct ns_jctx *jc,
		    const struct ns_hh_batch *b);
/* One packet of bytes (< 2^32, as a batch's byte counts). */
void		 ns_hh_update(void *mem, struct ns_jctx *jc, const uint8_t *key,
		    uint64_t key_hash, uint32_t bytes);

/*
 * Linked heavy hitters: a region whose flow key is that of an exact task,
 * written by the worker that writes the task's shard t, in the same
 * batches.  A candidate's slot does not count its packets: it takes them
 * from the flow's entry in t, which counts them anyway, and the entry's
 * NS_TE_HH bit says it has a slot.  So a packet of a candidate costs the
 * test of a bit already in the cache; the others take the Count-Min path
 * as in ns_hh_update().  The region's values are the same as
 * ns_hh_update() of the same packets would leave.  Made with
 * NS_SKETCH_F_LINKED; readers pass the tables (ns_hh_query_linked()).
 *
 * Call for every packet, in order, right after ns_table_add_entry()
 * counted it in entry e of t (e NULL: t had no room; the packet is then
 * counted in the region as ns_hh_update() counts it).
 */
void		 ns_hh_linked_miss(void *mem, struct ns_jctx *jc,
		    const struct ns_table *t, struct ns_table_entry *e,
		    const uint8_t *key, uint64_t key_hash, uint32_t bytes);
static inline void ns_hh_update_linked(void *mem, struct ns_jctx *jc,
		    const struct ns_table *t, struct ns_table_entry *e,
		    const uint8_t *key, uint64_t key_hash, uint32_t bytes);

/*
 * Keys whose merged packets (bytes with NS_HH_BY_BYTES) are at least
 * threshold; err_bound is the most the value may exceed the truth by.
 * Returns the number reported, -EINVAL if the regions differ in
 * parameters (or are linked: see below), -ENOMEM.
 */
int		 ns_hh_query(const void *const *regions, unsigned nregions,
		    int by_bytes, uint64_t threshold, ns_sketch_fn fn,
		    void *arg);
/* Merged estimate of one key: 0, or -EINVAL. */
int		 ns_hh_estimate(const void *const *regions, unsigned nregions,
		    const uint8_t *key, uint64_t key_hash, uint64_t *packets,
		    uint64_t *bytes, uint64_t *pkt_err, uint64_t *byte_err);
/* Same, of linked regions: tables[i] is the table region i is linked to. */
int		 ns_hh_query_linked(const void *const *regions,
		    const struct ns_table *const *tables, unsigned nregions,
		    int by_bytes, uint64_t threshold, ns_sketch_fn fn,
		    void *arg);
/*
 * An estimate of the keys at or above threshold (> 0) that the query
 * cannot report: those with no candidate slot in any region, which the
 * Count-Min counts but cannot name.  In the row that shows fewest, the
 * cells at or above the threshold once every slot's prior is taken out
 * (summed over the regions unless partitioned).  Collisions can hide a
 * key and light keys add up to a false one: an estimate, 0 the usual
 * answer when the candidates have room.  tables as ns_hh_query_linked()
 * (NULL: none linked).  0, -EINVAL or -ENOMEM.
 */
int		 ns_hh_unreported(const void *const *regions,
		    const struct ns_table *const *tables, unsigned nregions,
		    int by_bytes, uint64_t threshold, uint64_t *out);

/* ---- super-spreaders (skt_type 1) */

uint64_t	 ns_spread_shm_size(const struct ns_sketch_params *);
int		 ns_spread_shm_init(void *mem, const struct ns_sketch_params *);
unsigned	 ns_spread_cells_per_update(const struct ns_sketch_params *);
void		 ns_spread_clear(void *mem);

/*
 * The pair hash of (key, element): which register a pair sets and to
 * what.  Equal pairs have equal pair hashes in every region of a task, so
 * a writer may use it to recognise a pair it applied lately.
 */
static inline uint64_t ns_spread_pair(const void *mem, uint64_t key_hash,
		    uint64_t elem_hash);

/* One update: a key, its hash, and the pair hash of (key, element). */
struct ns_spread_input {
	const uint8_t	*key;
	uint64_t	 key_hash;
	uint64_t	 pair;
};

/*
 * The updates of in[0, n), in order: the region ends as ns_spread_add()
 * of each in turn leaves it (that is this with n = 1), for less.
 */
void		 ns_spread_add_batch(void *mem, struct ns_jctx *jc,
		    const struct ns_spread_input *in, unsigned n);
void		 ns_spread_add(void *mem, struct ns_jctx *jc, const uint8_t *key,
		    uint64_t key_hash, uint64_t pair);
/* ns_spread_add() of ns_spread_pair(). */
void		 ns_spread_update(void *mem, struct ns_jctx *jc,
		    const uint8_t *key, uint64_t key_hash, uint64_t elem_hash);

/*
 * Keys with an estimated number of distinct elements of at least
 * threshold; err_bound is two standard errors of the estimate
 * (probabilistic, see doc/ARCHITECTURE.md).  Returns as ns_hh_query().
 */
int		 ns_spread_query(const void *const *regions, unsigned nregions,
		    uint64_t threshold, ns_sketch_fn fn, void *arg);
/* Merged estimate of one key's distinct elements: 0, or -EINVAL. */
int		 ns_spread_estimate(const void *const *regions,
		    unsigned nregions, const uint8_t *key, uint64_t key_hash,
		    double *distinct);

/* ---- shared by sketch*.c: not for callers */

/* Region header, first in every region; read-only after init but for
 * packets, the writer's count. */
struct ns_sketch_hdr {
	uint64_t	magic;		/* NS_SKETCH_MAGIC_HH / _SPREAD */
	uint64_t	size;		/* region bytes */
	uint32_t	key_size;
	uint32_t	key_words;
	uint32_t	width;
	uint32_t	depth;
	uint32_t	nbuckets;	/* hh: candidate buckets */
	uint32_t	m;		/* spread: registers per bucket */
	uint32_t	reg_cells;	/* spread: cells of registers */
	uint32_t	flags;		/* NS_SKETCH_F_* */
	uint64_t	seed;
	uint64_t	bucket_seed;	/* hh candidates; spread pair hash */
	uint64_t	row_seed[NS_SKETCH_DEPTH_MAX];
	uint64_t	off_lines;	/* hh: candidate lines */
	uint64_t	off_bodies;	/* hh: candidate bodies */
	uint64_t	off_rows;	/* Count-Min cells / spread buckets */
	uint64_t	stride;		/* hh body / spread bucket bytes */
	uint64_t	packets;	/* hh: updates so far (the writer's) */
	uint64_t	spare;
} __attribute__((aligned(64)));

/* The difference of the 8-byte words of a and b at offset o. */
static inline uint64_t
ns_sketch_word_diff(const unsigned char *a, const unsigned char *b,
    uint32_t o)
{
	uint64_t u, v;

	__builtin_memcpy(&u, a + o, 8);
	__builtin_memcpy(&v, b + o, 8);
	return u ^ v;
}

/*
 * Key equality without a call or a loop: 8-byte words, the last one
 * overlapping the one before it, unrolled for every key size; the
 * differences are or-ed together and tested once, since the keys compared
 * are nearly always equal (their hashes matched).
 */
static inline int
ns_sketch_key_equal(const void *a, const void *b, uint32_t n)
{
	const unsigned char *x = a, *y = b;
	uint64_t d = 0;
	uint32_t i;

	if (n < 8) {
		for (i = 0; i < n; i++)
			d |= (uint64_t)(x[i] ^ y[i]);
		return d == 0;
	}
	/* The whole words before the last, overlapping, one. */
	switch ((n - 1) / 8) {
	case 8: d |= ns_sketch_word_diff(x, y, 56);	/* FALLTHROUGH */
	case 7: d |= ns_sketch_word_diff(x, y, 48);	/* FALLTHROUGH */
	case 6: d |= ns_sketch_word_diff(x, y, 40);	/* FALLTHROUGH */
	case 5: d |= ns_sketch_word_diff(x, y, 32);	/* FALLTHROUGH */
	case 4: d |= ns_sketch_word_diff(x, y, 24);	/* FALLTHROUGH */
	case 3: d |= ns_sketch_word_diff(x, y, 16);	/* FALLTHROUGH */
	case 2: d |= ns_sketch_word_diff(x, y, 8);	/* FALLTHROUGH */
	case 1: d |= ns_sketch_word_diff(x, y, 0);	/* FALLTHROUGH */
	default: break;
	}
	return (d | ns_sketch_word_diff(x, y, n - 8)) == 0;
}

#define NS_SKETCH_MAGIC_HH	0x4e53534b48483032ULL	/* "NSSKHH02" */
#define NS_SKETCH_MAGIC_SPREAD	0x4e53534b53503031ULL	/* "NSSKSP01" */

/* A distinct key met while collecting candidates (process memory). */
struct ns_sketch_cand {
	uint64_t	hash;		/* the sketch's canonical key hash */
	uint64_t	value;
	uint64_t	err;
	uint8_t		key[NS_SKETCH_KEY_MAX];
};

struct ns_sketch_set {
	struct ns_sketch_cand *c;	/* insertion order */
	uint32_t	*slot;		/* open addressing: index + 1, 0 empty */
	uint64_t	 n, cap, mask;
	uint32_t	 key_size;
};

int	 ns_sketch_check(const struct ns_sketch_params *, int spread);
void	 ns_sketch_hdr_init(struct ns_sketch_hdr *,
	    const struct ns_sketch_params *, uint64_t magic);
int	 ns_sketch_compat(const void *const *regions, unsigned nregions,
	    uint64_t magic);
int	 ns_sketch_set_init(struct ns_sketch_set *, uint64_t max,
	    uint32_t key_size);
void	 ns_sketch_set_add(struct ns_sketch_set *, uint64_t hash,
	    const uint8_t *key);
void	 ns_sketch_set_free(struct ns_sketch_set *);
int	 ns_sketch_report(struct ns_sketch_cand *, uint64_t n,
	    uint32_t key_size, ns_sketch_fn fn, void *arg);

/* splitmix64's finalizer: a bijective 64-bit mix. */
static inline uint64_t
ns_sketch_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Multiply-shift onto [0, n): no modulo, no power-of-two constraint. */
static inline uint64_t
ns_sketch_range(uint64_t x, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)x * n) >> 64);
}

/*
 * Index in [0, n) of key hash x for the row (or table) of seed s.  x is
 * already a strong hash of the key, so a multiply by the odd seed is
 * enough to make the rows' indices of a key unrelated; no remix needed.
 */
static inline uint64_t
ns_sketch_index(uint64_t x, uint64_t s, uint64_t n)
{
	return ns_sketch_range(x * (s | 1), n);
}

/* Inline: a worker makes one for every spread update. */
static inline uint64_t
ns_spread_pair(const void *mem, uint64_t key_hash, uint64_t elem_hash)
{
	const struct ns_sketch_hdr *h = mem;

	return ns_sketch_mix(key_hash ^ ns_sketch_mix(elem_hash ^
	    h->bucket_seed));
}

#define NS_HH_CELL_BYTES	16	/* a Count-Min cell: packets, bytes */

/*
 * The Count-Min cell of canonical hash hc (key_hash | 1) in a row,
 * counted from the first row's first cell.
 */
static inline uint64_t
ns_hh_cell_index(const struct ns_sketch_hdr *h, unsigned row, uint64_t hc)
{
	return (uint64_t)row * h->width + ns_sketch_index(hc,
	    h->row_seed[row], h->width);
}

/*
 * Start loading the Count-Min cells of a linked region's key a few
 * packets ahead: a miss reads them right after its exact update, and
 * which packets miss is only known then.
 */
static inline void
ns_hh_prefetch(const void *mem, uint64_t key_hash)
{
	const struct ns_sketch_hdr *h = mem;
	unsigned r;

	for (r = 0; r < h->depth; r++)
		ns_prefetch_w((const char *)h + h->off_rows + NS_HH_CELL_BYTES *
		    ns_hh_cell_index(h, r, key_hash | 1));
}

/*
 * Inline: called for every packet.  A candidate's packet is counted by its
 * entry already; only the region's packet count moves.
 */
static inline void
ns_hh_update_linked(void *mem, struct ns_jctx *jc, const struct ns_table *t,
    struct ns_table_entry *e, const uint8_t *key, uint64_t key_hash,
    uint32_t bytes)
{
	struct ns_sketch_hdr *h = mem;

	if (e != NULL && (ns_load_relaxed(&e->state) & NS_TE_HH)) {
		/* Logged once per batch by ns_hh_begin(). */
		ns_store_relaxed(&h->packets, h->packets + 1);
		return;
	}
	ns_hh_linked_miss(mem, jc, t, e, key, key_hash, bytes);
}

#endif /* NS_SKETCH_H */
