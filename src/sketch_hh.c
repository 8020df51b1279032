/*
 * sketch_hh.c -- heavy hitters by packets and by bytes (skt_type 0) in one
 * shared-memory region per worker shard.
 *
 * Two parts.  The candidate table is set-associative: buckets of
 * NS_HH_WAYS slots in two adjacent cache lines (state words, packet
 * counts, byte counts, packet priors: all a hit touches), each slot's body
 * (byte prior, key) apart.  A key in
 * the table is counted exactly from its admission on.  Every other key is
 * counted in a Count-Min sketch with conservative update (CM-CU) of
 * {packets, bytes} cells.  A key missing the table is admitted when its
 * bucket has a free slot or when its CM-CU estimate plus this packet
 * exceeds the smallest slot of the bucket; the slot's key is then evicted
 * and its counts since admission go back into the CM-CU, so no count is
 * ever lost and every estimate stays an overestimate (barring two keys of
 * equal 63-bit hash: see the state word below).  Because table keys
 * bypass the CM-CU, the sketch holds only the light tail, whose noise on
 * the admission estimate is small.
 *
 * A slot's value is prior + exact, where the prior is the CM-CU estimate at
 * admission (an overestimate of what the key had before): the truth lies
 * in [exact, prior + exact], so the prior is the error bound reported.
 *
 * Slot state word: 0 empty, else the key's canonical hash (key_hash | 1).
 * The writer matches candidates by it alone, without comparing keys: two
 * keys of one region and period sharing those 63 bits of XXH3 (odds about
 * n^2 / 2^64: 10^-8 for 500,000 random keys; a crafted key would need a
 * second preimage of a given key's hash) would be counted as the first of
 * them, and the second's estimate, found by key, would be low.  Next to a
 * sketch's own error that is nothing, and it keeps a hit to the bucket's
 * two lines.  Readers compare keys.
 * Rewriting an occupied slot stores 0 first and the new hash last (a
 * seqlock whose sequence is the hash), so a concurrent reader that copies
 * the key between two equal loads of the state word has a whole key.
 *
 * Linked regions (ns_hh_update_linked()): when an exact task has the
 * same flow key, its table counts every packet of a candidate anyway.  A
 * slot admitted for a flow with an entry then counts nothing itself: it
 * keeps the entry's index and the offsets that turn the entry's counts
 * into its values (hh_entry()), and the entry's NS_TE_HH bit tells the
 * worker, which has the entry at hand, that the packet needs nothing
 * more.  A packet of any other flow takes the Count-Min path here, one at
 * a time right after its exact update, so that an entry holds exactly
 * the packets the slot would have counted when a victim is chosen or a
 * slot evicted.  A flow the table has no room for is counted by its slot
 * as in a plain region.  Values, admissions and evictions are those of a
 * plain region fed the same packets (tests: hh_linked_equals_plain,
 * journal_rollback_linked, kill_sketch.sh) -- barring, again, two keys of
 * equal 63-bit hash, which a linked region tells apart by their entries
 * where a plain one counts them as one.
 */
#include "sketch.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "journal.h"

/*
 * A bucket is two adjacent cache lines, on a 128-byte boundary: what a
 * candidate hit reads and writes.  The first holds the state words and
 * packet counts, the second the byte counts and packet priors.
 */
struct hh_bucket {
	uint64_t	state[NS_HH_WAYS];
	uint64_t	pkts[NS_HH_WAYS];	/* prior + exact packets */
	uint64_t	bytes[NS_HH_WAYS];	/* prior + exact bytes */
	uint64_t	prior_pkts[NS_HH_WAYS];	/* CM-CU estimate at admission */
};

/* What only admissions, evictions and readers touch. */
struct hh_body {
	uint64_t	prior_bytes;
	uint64_t	key[];			/* key_words, zero-padded */
};

/* After the key of a linked region's slot (hh_link()). */
struct hh_link {
	/* The flow's entry index + 1 in the table; 0: the slot counts for
	 * itself. */
	uint64_t	entry;
	uint64_t	off_pkts;		/* see hh_entry() */
};

struct hh_cell {
	uint64_t	pkts;
	uint64_t	bytes;
};

/* A reader's copy of a slot. */
struct hh_slot {
	uint64_t	state, pkts, prior_pkts, bytes, prior_bytes, entry;
	uint64_t	off_pkts;
	uint64_t	key[NS_SKETCH_KEY_WORDS(NS_SKETCH_KEY_MAX)];
};

static_assert(sizeof(struct hh_bucket) == NS_HH_BUCKET_BYTES,
    "two lines per bucket");
static_assert(sizeof(struct hh_cell) == NS_HH_CELL_BYTES,
    "ns_hh_prefetch() knows the cells");

static uint64_t
hh_body_size(uint32_t key_size, uint32_t flags)
{
	return sizeof(struct hh_body) + 8 * NS_SKETCH_KEY_WORDS(key_size) +
	    (flags & NS_SKETCH_F_LINKED ? sizeof(struct hh_link) : 0);
}

/* Offsets of the parts; the region's size. */
static uint64_t
hh_layout(const struct ns_sketch_params *p, struct ns_sketch_hdr *h)
{
	uint64_t nb = (p->top_k + NS_HH_WAYS - 1) / NS_HH_WAYS;
	uint64_t lines = NS_ALIGN_UP(sizeof(struct ns_sketch_hdr),
	    NS_HH_BUCKET_BYTES);
	uint64_t bodies = lines + nb * sizeof(struct hh_bucket);
	uint64_t rows = NS_ALIGN_UP(bodies + nb * NS_HH_WAYS *
	    hh_body_size(p->key_size, p->flags), NS_CACHELINE);
	uint64_t end = rows + (uint64_t)p->depth * p->width *
	    sizeof(struct hh_cell);

	if (h != NULL) {
		h->nbuckets = (uint32_t)nb;
		h->off_lines = lines;
		h->off_bodies = bodies;
		h->off_rows = rows;
		h->stride = hh_body_size(p->key_size, p->flags);
		h->size = NS_ALIGN_UP(end, NS_CACHELINE);
	}
	return NS_ALIGN_UP(end, NS_CACHELINE);
}

uint64_t
ns_hh_shm_size(const struct ns_sketch_params *p)
{
	if (ns_sketch_check(p, 0) != 0)
		return 0;
	return hh_layout(p, NULL);
}

int
ns_hh_shm_init(void *mem, const struct ns_sketch_params *p)
{
	struct ns_sketch_hdr *h = mem;

	/* Buckets start 256 bytes in: on 128 only if the region is. */
	if (mem == NULL || ns_sketch_check(p, 0) != 0 ||
	    (uintptr_t)mem % NS_HH_BUCKET_BYTES != 0)
		return -EINVAL;
	ns_sketch_hdr_init(h, p, NS_SKETCH_MAGIC_HH);
	hh_layout(p, h);
	/* The rest is zero: empty slots, zero counters. */
	return 0;
}

unsigned
ns_hh_cells_per_update(const struct ns_sketch_params *p)
{
	return NS_HH_CELLS_PER_UPDATE(p->depth, p->key_size);
}

void
ns_hh_clear(void *mem)
{
	struct ns_sketch_hdr *h = mem;

	memset((char *)mem + h->off_lines, 0, h->size - h->off_lines);
	h->packets = 0;
}

/*
 * The least estimate worth a candidate slot: a key below a quarter of an
 * even share of the region's packets per slot cannot be among the heaviest
 * keys the slots are for, and letting it in would only evict another
 * light key -- about fifteen journaled stores per packet of the light
 * tail, for nothing.  Heavy keys pass it long before they matter.
 */
static inline uint64_t
hh_floor_div(const struct ns_sketch_hdr *h)
{
	return 4ull * h->nbuckets * NS_HH_WAYS;
}

/* x >= floor(packets / d) iff (x + 1) * d > packets: no division. */
static inline int
hh_above_floor(uint64_t d, uint64_t packets, uint64_t x)
{
	return (unsigned __int128)(x + 1) * d > packets;
}

/*
 * ---- addressing: of canonical hash hc, key_hash | 1.  The writer's
 * batch (hh_locate()) takes the same indices; readers must agree with it.
 */

static inline struct hh_bucket *
hh_lines(const struct ns_sketch_hdr *h)
{
	return (struct hh_bucket *)((char *)h + h->off_lines);
}

static inline struct hh_cell *
hh_rows(const struct ns_sketch_hdr *h)
{
	return (struct hh_cell *)((char *)h + h->off_rows);
}

static inline uint64_t
hh_bucket_index(const struct ns_sketch_hdr *h, uint64_t hc)
{
	return ns_sketch_index(hc, h->bucket_seed, h->nbuckets);
}

static inline struct hh_bucket *
hh_bucket(const struct ns_sketch_hdr *h, uint64_t hc)
{
	return hh_lines(h) + hh_bucket_index(h, hc);
}

static inline struct hh_cell *
hh_cell(const struct ns_sketch_hdr *h, unsigned row, uint64_t hc)
{
	return hh_rows(h) + ns_hh_cell_index(h, row, hc);
}

static inline struct hh_body *
hh_body(const struct ns_sketch_hdr *h, const struct hh_bucket *l,
    unsigned way)
{
	uint64_t slot = (uint64_t)(l - hh_lines(h)) * NS_HH_WAYS + way;

	return (struct hh_body *)((char *)h + h->off_bodies + slot * h->stride);
}

/* The link words of slot body b, or NULL: the region is not linked. */
static inline struct hh_link *
hh_link(const struct ns_sketch_hdr *h, const struct hh_body *b)
{
	if (!(h->flags & NS_SKETCH_F_LINKED))
		return NULL;
	return (struct hh_link *)(void *)&b->key[h->key_words];
}

/*
 * The entry a linked slot takes its counts from, or NULL.  Its counts are
 * the flow's; the slot keeps what makes them its values (prior + counts
 * since admission), modulo 2^64: off_pkts, and in the place of its byte
 * count the like for bytes.  In the place of its packet count it keeps
 * its value as last worked out: only a lower bound, as the entry counts
 * on, but one hh_victim() can compare without loading the entry.
 */
static inline const struct ns_table_entry *
hh_entry(const struct ns_table *t, const struct hh_link *lk)
{
	uint64_t i = lk != NULL ? ns_load_relaxed(&lk->entry) : 0;

	return i != 0 ? ns_table_entry_at(t, i - 1) : NULL;
}

/* ---- writer */

/* Slot way's values: prior + exact packets and bytes. */
static inline void
hh_values(const struct ns_sketch_hdr *h, const struct ns_table *t,
    const struct hh_bucket *l, unsigned way, uint64_t *pkts, uint64_t *bytes)
{
	const struct hh_link *lk = hh_link(h, hh_body(h, l, way));
	const struct ns_table_entry *e = hh_entry(t, lk);

	*pkts = e != NULL ? lk->off_pkts + e->packets : l->pkts[way];
	*bytes = l->bytes[way] + (e != NULL ? e->bytes : 0);
}

void
ns_hh_begin(void *mem, struct ns_jctx *jc)
{
	struct ns_sketch_hdr *h = mem;

	if (jc != NULL)
		ns_journal_log(jc, &h->packets);
}

/* The CM-CU estimate of a key of the given cells: the row minimum. */
static inline void
hh_cm_min(unsigned depth, struct hh_cell *const *cells, uint64_t *ep,
    uint64_t *eb)
{
	uint64_t p = UINT64_MAX, b = UINT64_MAX, v;
	const struct hh_cell *c;
	unsigned r;

	for (r = 0; r < depth; r++) {
		c = cells[r];
		if ((v = ns_load_relaxed(&c->pkts)) < p)
			p = v;
		if ((v = ns_load_relaxed(&c->bytes)) < b)
			b = v;
	}
	*ep = p;
	*eb = b;
}

/* The CM-CU estimate of key hc, and its cells. */
static inline void
hh_cm_estimate(const struct ns_sketch_hdr *h, uint64_t hc,
    struct hh_cell **cells, uint64_t *ep, uint64_t *eb)
{
	unsigned r, depth = h->depth;

	for (r = 0; r < depth; r++)
		cells[r] = hh_cell(h, r, hc);
	hh_cm_min(depth, cells, ep, eb);
}

/*
 * Conservative update: raise each row only as far as the new estimate,
 * min + add.  Rows already above it are left alone, which is what keeps
 * the noise of CM-CU far below plain Count-Min's.
 */
static inline void
hh_cm_add(unsigned depth, struct ns_jctx *jc, struct hh_cell *const *cells,
    uint64_t ep, uint64_t eb, uint64_t ap, uint64_t ab)
{
	struct hh_cell *c;
	unsigned r;

	for (r = 0; r < depth; r++) {
		c = cells[r];
		if (c->pkts < ep + ap)
			ns_journal_set(jc, &c->pkts, ep + ap);
		if (c->bytes < eb + ab)
			ns_journal_set(jc, &c->bytes, eb + ab);
	}
}

/*
 * Put an evicted slot's counts since admission back into the CM-CU; a
 * linked flow's entry no longer has a slot.
 */
static void
hh_evict(const struct ns_sketch_hdr *h, struct ns_jctx *jc,
    const struct ns_table *t, struct hh_bucket *l, unsigned way)
{
	struct hh_cell *cells[NS_SKETCH_DEPTH_MAX];
	struct hh_body *b = hh_body(h, l, way);
	struct ns_table_entry *e =
	    (struct ns_table_entry *)hh_entry(t, hh_link(h, b));
	uint64_t ep, eb, p, by;

	hh_values(h, t, l, way, &p, &by);
	hh_cm_estimate(h, l->state[way], cells, &ep, &eb);
	hh_cm_add(h->depth, jc, cells, ep, eb, p - l->prior_pkts[way],
	    by - b->prior_bytes);
	if (e != NULL)
		ns_journal_set(jc, &e->state, e->state & ~NS_TE_HH);
	ns_journal_set(jc, &l->state[way], 0);
	/*
	 * Full fence, pairs with the ns_smp_mb() in hh_read_slot(): a reader
	 * that copied any of the new key's words sees the state word no
	 * longer equal to the old hash it began with.
	 */
	ns_smp_mb();
}

/*
 * Key hc takes slot way with this packet, estimate ep packets and eb
 * bytes before it.  e: the flow's entry, linked (it counted the packet
 * already); NULL: the slot counts for itself.
 */
static void
hh_admit(const struct ns_sketch_hdr *h, struct ns_jctx *jc,
    const struct ns_table *t, struct hh_bucket *l, unsigned way,
    const uint8_t *key, uint64_t hc, uint64_t ep, uint64_t eb,
    uint64_t bytes, struct ns_table_entry *e)
{
	struct hh_body *b = hh_body(h, l, way);
	struct hh_link *lk = hh_link(h, b);
	uint64_t w[NS_SKETCH_KEY_WORDS(NS_SKETCH_KEY_MAX)] = { 0 };
	uint64_t entry = 0, p = ep + 1, by = eb + bytes;
	unsigned i;

	if (l->state[way] != 0)
		hh_evict(h, jc, t, l, way);
	memcpy(w, key, h->key_size);
	for (i = 0; i < h->key_words; i++)
		if (b->key[i] != w[i])
			ns_journal_set(jc, &b->key[i], w[i]);
	if (e != NULL) {
		entry = ns_table_entry_index(t, e) + 1;
		ns_journal_set(jc, &lk->off_pkts, p - e->packets);
		by -= e->bytes;
		ns_journal_set(jc, &e->state, e->state | NS_TE_HH);
	}
	if (lk != NULL && lk->entry != entry)
		ns_journal_set(jc, &lk->entry, entry);
	ns_journal_set(jc, &l->prior_pkts[way], ep);
	ns_journal_set(jc, &l->bytes[way], by);
	ns_journal_set(jc, &b->prior_bytes, eb);
	ns_journal_set(jc, &l->pkts[way], p);
	/*
	 * Release, pairs with the acquire of state in hh_read_slot(): body
	 * and count are complete before a reader can match the slot.
	 */
	ns_journal_set_rel(jc, &l->state[way], hc);
}

/* The first slot of the smallest packet count, or a free one. */
static unsigned
hh_smallest(const struct hh_bucket *l)
{
	unsigned i, v = 0;

	for (i = 0; i < NS_HH_WAYS; i++) {
		if (l->state[i] == 0)
			return i;
		if (l->pkts[i] < l->pkts[v])
			v = i;
	}
	return v;
}

/*
 * The slot to admit a key of need packets into: a free one, else the
 * smallest, if it is smaller than need.  The bucket's packet counts are
 * exact, or lower bounds of linked slots (hh_entry()): when even they
 * are at least need, the answer is no without loading an entry.  Else
 * the bounds are brought up to date (a linked flow's entry and the slot's
 * body are two misses each) and the bucket looked at again.
 */
static int
hh_victim(const struct ns_sketch_hdr *h, struct ns_jctx *jc,
    const struct ns_table *t, struct hh_bucket *l, uint64_t need,
    unsigned *way)
{
	uint64_t p, by;
	unsigned i = hh_smallest(l);

	if (l->state[i] != 0 && l->pkts[i] < need && t != NULL) {
		for (i = 0; i < NS_HH_WAYS; i++) {
			hh_values(h, t, l, i, &p, &by);
			if (l->pkts[i] != p)
				ns_journal_set(jc, &l->pkts[i], p);
		}
		i = hh_smallest(l);
	}
	*way = i;
	return l->state[i] == 0 || l->pkts[i] < need;
}

/*
 * A key that is not a candidate but is above the floor, estimate ep
 * packets and eb bytes before this one: admitted, into a free slot or in
 * place of the bucket's smallest if it now outweighs it.  Returns 1 if it
 * was; else the caller adds the packet to the Count-Min.  Out of line: it
 * is rare, and would weigh down the loop's frame.
 */
static __attribute__((noinline)) int
hh_take(const struct ns_sketch_hdr *h, struct ns_jctx *jc,
    const struct ns_table *t, struct hh_bucket *l, const uint8_t *key,
    uint64_t hc, uint64_t ep, uint64_t eb, uint64_t bytes,
    struct ns_table_entry *e)
{
	unsigned i;

	if (!hh_victim(h, jc, t, l, ep + 1, &i))
		return 0;
	hh_admit(h, jc, t, l, i, key, hc, ep, eb, bytes, e);
	return 1;
}

#define HH_CHUNK	256	/* updates located together */
#define HH_AHEAD	8	/* updates between a second-line prefetch and
				 * its use */
#define HH_MISS_AHEAD	12	/* misses between a Count-Min prefetch and
				 * its use */

/*
 * Where the updates of a chunk go, as indices: found in tight loops,
 * the region's geometry in registers, before any store (a store to a
 * shared cell could alias the header, and reload it).  And which slot
 * holds each key: a hit needs neither its Count-Min cells nor a search
 * of its bucket, and the misses are a list.  Only an admission changes
 * which slot holds a key, so after one the rest of the chunk is looked
 * up again (hh_guess()); admissions are rare (a few chunks in a hundred).
 */
struct hh_where {
	uint64_t	hc[HH_CHUNK];
	/* Then HH_AHEAD copies of the last: prefetched past the end. */
	uint32_t	bucket[HH_CHUNK + HH_AHEAD];
	/* Of the misses only (hh_prefetch_cells()): in the rows. */
	uint32_t	cell[NS_SKETCH_DEPTH_MAX][HH_CHUNK];
	uint16_t	way[HH_CHUNK];	/* NS_HH_WAYS: not a candidate */
	/* The misses in order, then n: none after. */
	uint16_t	miss[HH_CHUNK + 1];
	unsigned	nmiss;
};

/* The slot of bucket l holding hc, or NS_HH_WAYS: no branch per way. */
static inline unsigned
hh_way(const struct hh_bucket *l, uint64_t hc)
{
	unsigned i, m = 0;

#pragma GCC unroll 4
	for (i = 0; i < NS_HH_WAYS; i++)
		m |= (unsigned)(l->state[i] == hc) << i;
	return m != 0 ? (unsigned)__builtin_ctz(m) : NS_HH_WAYS;
}

/*
 * The slots of updates [from, n), and the misses among them, listed from
 * w->miss[m] on.
 */
static void
hh_guess(const struct ns_sketch_hdr *h, struct hh_where *restrict w,
    unsigned from, unsigned n, unsigned m)
{
	const struct hh_bucket *lines = hh_lines(h);
	unsigned j, way;

	for (j = from; j < n; j++) {
		w->way[j] = (uint16_t)(way = hh_way(&lines[w->bucket[j]],
		    w->hc[j]));
		w->miss[m] = (uint16_t)j;
		m += way == NS_HH_WAYS;
	}
	w->miss[m] = (uint16_t)n;
	w->nmiss = m;
}

/* Where packets [o, o + n) of b go. */
static void
hh_locate(const struct ns_sketch_hdr *h, const struct ns_hh_batch *b,
    unsigned o, unsigned n, struct hh_where *restrict w)
{
	const struct hh_bucket *lines = hh_lines(h);
	const uint64_t *hash = b->hash + o * b->hash_stride;
	uint64_t hs = b->hash_stride, hc;
	unsigned j;

	/*
	 * Two passes, so that the candidate lines, hot but not always in
	 * the first-level cache, arrive while the chunk is indexed: a load
	 * of one right away stalled the search.
	 */
	for (j = 0; j < n; j++) {
		w->hc[j] = hc = hash[j * hs] | 1;
		w->bucket[j] = (uint32_t)hh_bucket_index(h, hc);
		ns_prefetch_w(&lines[w->bucket[j]]);
	}
	for (j = n; j < n + HH_AHEAD; j++)
		w->bucket[j] = w->bucket[n - 1];
	hh_guess(h, w, 0, n, 0);
}

/*
 * The Count-Min cells of the m-th miss: indexed, and loaded a dozen
 * misses ahead of their use -- they are anywhere in the rows, a fixed
 * number of updates ahead would leave a miss after a run of hits too
 * little time, and a hit needs no cells at all.  Every miss has its
 * cells indexed here before hh_miss() reads them.
 */
static inline void
hh_prefetch_cells(const struct ns_sketch_hdr *h, struct hh_cell *rows,
    unsigned depth, struct hh_where *w, unsigned m)
{
	unsigned r, j;

	if (m >= w->nmiss)
		return;
	j = w->miss[m];
	/* depth * width < 2^29: the indices fit. */
	for (r = 0; r < depth; r++) {
		w->cell[r][j] = (uint32_t)ns_hh_cell_index(h, r, w->hc[j]);
		ns_prefetch_w(&rows[w->cell[r][j]]);
	}
}

/*
 * The hits [j, end), in order.  A bucket's first line was loaded by the
 * search in hh_locate(); its second (byte counts, packet priors) comes a
 * few updates ahead.  The writer reads its own cells: plain loads
 * suffice.  A candidate is known by its 64-bit hash here (see the top of
 * the file): a hit touches the bucket's two lines and nothing else.
 */
static inline void
hh_hits(struct hh_bucket *lines, struct ns_jctx *jc,
    const struct hh_where *w, const char *bytes, uint64_t bs, unsigned j,
    unsigned end)
{
	struct hh_bucket *l;
	unsigned i;
	uint64_t v;

	for (; j < end; j++) {
		ns_prefetch_w((char *)&lines[w->bucket[j + HH_AHEAD]] +
		    NS_CACHELINE);
		l = &lines[w->bucket[j]];
		i = w->way[j];
		v = *(const uint32_t *)(bytes + j * bs);
		ns_journal_set(jc, &l->pkts[i], l->pkts[i] + 1);
		ns_journal_set(jc, &l->bytes[i], l->bytes[i] + v);
	}
}

/*
 * Miss j: into the bucket (hh_take()), or into the Count-Min.  packets
 * counts this one.  Returns 1 if it took a slot.
 */
static inline int
hh_miss(struct ns_sketch_hdr *h, struct ns_jctx *jc, const struct ns_table *t,
    struct hh_bucket *lines, struct hh_cell *rows, const struct hh_where *w,
    unsigned j, uint64_t fd, uint64_t packets, const uint8_t *key,
    uint64_t bytes)
{
	struct hh_cell *cells[NS_SKETCH_DEPTH_MAX];
	unsigned r, depth = h->depth;
	uint64_t ep, eb;

	for (r = 0; r < depth; r++)
		cells[r] = &rows[w->cell[r][j]];
	hh_cm_min(depth, cells, &ep, &eb);
	/* Most misses are light keys under the floor: no victim to find. */
	if (hh_above_floor(fd, packets, ep + 1) &&
	    hh_take(h, jc, t, &lines[w->bucket[j]], key, w->hc[j], ep, eb,
	    bytes, NULL))
		return 1;
	hh_cm_add(depth, jc, cells, ep, eb, 1, bytes);
	return 0;
}

/*
 * Packets [o, o + n) of b, in order: the hits up to each miss, then the
 * miss.
 */
static void
hh_apply(struct ns_sketch_hdr *h, struct ns_jctx *jc,
    const struct ns_hh_batch *b, unsigned o, unsigned n,
    struct hh_where *restrict w)
{
	struct hh_bucket *lines = hh_lines(h);
	struct hh_cell *rows = hh_rows(h);
	const uint8_t *key = b->key + o * b->key_stride;
	const char *bytes = (const char *)b->bytes + o * b->bytes_stride;
	uint64_t packets = h->packets, fd = hh_floor_div(h);
	uint64_t ks = b->key_stride, bs = b->bytes_stride;
	unsigned j, m, k, depth = h->depth;

	for (j = 0; j < HH_AHEAD && j < n; j++)
		ns_prefetch_w((char *)&lines[w->bucket[j]] + NS_CACHELINE);
	for (m = 0; m < HH_MISS_AHEAD; m++)
		hh_prefetch_cells(h, rows, depth, w, m);
	for (j = 0, m = 0;; m++) {
		hh_hits(lines, jc, w, bytes, bs, j, w->miss[m]);
		if ((j = w->miss[m]) == n)
			break;
		hh_prefetch_cells(h, rows, depth, w, m + HH_MISS_AHEAD);
		if (hh_miss(h, jc, b->table, lines, rows, w, j, fd,
		    packets + j + 1, key + j * ks,
		    *(const uint32_t *)(bytes + j * bs))) {
			hh_guess(h, w, j + 1, n, m + 1);
			for (k = 1; k <= HH_MISS_AHEAD; k++)
				hh_prefetch_cells(h, rows, depth, w, m + k);
		}
		j++;
	}
	/* Logged once per batch by ns_hh_begin(). */
	ns_store_relaxed(&h->packets, packets + n);
}

void
ns_hh_update_batch(void *mem, struct ns_jctx *jc, const struct ns_hh_batch *b)
{
	const struct ns_sketch_hdr *h = mem;
	struct hh_where w;
	unsigned o, c;

	/* A linked region's slots take counts from the table. */
	assert(b->table != NULL || !(h->flags & NS_SKETCH_F_LINKED));
	for (o = 0; o < b->n; o += c) {
		c = b->n - o < HH_CHUNK ? b->n - o : HH_CHUNK;
		hh_locate(mem, b, o, c, &w);
		hh_apply(mem, jc, b, o, c, &w);
	}
}

void
ns_hh_update(void *mem, struct ns_jctx *jc, const uint8_t *key,
    uint64_t key_hash, uint32_t bytes)
{
	struct ns_hh_batch b = { &key_hash, key, &bytes, 0, 0, 0, 1, NULL };

	ns_hh_update_batch(mem, jc, &b);
}

/*
 * A packet of a linked region's flow that is not a candidate: the
 * Count-Min path of hh_miss(), one packet at a time, in the order the
 * exact task sees them -- so a candidate's entry holds just the packets
 * the slot would have counted.  Without an entry, as ns_hh_update().
 */
void
ns_hh_linked_miss(void *mem, struct ns_jctx *jc, const struct ns_table *t,
    struct ns_table_entry *e, const uint8_t *key, uint64_t key_hash,
    uint32_t bytes)
{
	struct ns_hh_batch b = { &key_hash, key, &bytes, 0, 0, 0, 1, t };
	struct ns_sketch_hdr *h = mem;
	struct hh_cell *cells[NS_SKETCH_DEPTH_MAX];
	uint64_t hc = key_hash | 1, packets = h->packets + 1, ep, eb;

	assert((h->flags & NS_SKETCH_F_LINKED) && t != NULL);
	if (e == NULL) {
		ns_hh_update_batch(mem, jc, &b);
		return;
	}
	/* Logged once per batch by ns_hh_begin(). */
	ns_store_relaxed(&h->packets, packets);
	hh_cm_estimate(h, hc, cells, &ep, &eb);
	if (hh_above_floor(hh_floor_div(h), packets, ep + 1) &&
	    hh_take(h, jc, t, hh_bucket(h, hc), key, hc, ep, eb, bytes, e))
		return;
	hh_cm_add(h->depth, jc, cells, ep, eb, 1, bytes);
}

/* ---- readers */

/*
 * Copy slot way of line l, with its values (of a linked slot: with its
 * entry's counts, from table t).  Returns 0 if it is empty, or changed
 * under every attempt (a writer replacing it; a crash mid-rewrite leaves
 * it 0).
 */
static int
hh_read_slot(const struct ns_sketch_hdr *h, const struct ns_table *t,
    const struct hh_bucket *l, unsigned way, struct hh_slot *s)
{
	const struct ns_table_entry *e;
	const struct hh_body *b = hh_body(h, l, way);
	const struct hh_link *lk = hh_link(h, b);
	unsigned i, tries;

	for (tries = 0; tries < 64; tries++) {
		/* Acquire, pairs with the release of state in hh_admit(). */
		if ((s->state = ns_load_acquire(&l->state[way])) == 0)
			return 0;
		s->pkts = ns_load_relaxed(&l->pkts[way]);
		s->prior_pkts = ns_load_relaxed(&l->prior_pkts[way]);
		s->bytes = ns_load_relaxed(&l->bytes[way]);
		s->prior_bytes = ns_load_relaxed(&b->prior_bytes);
		s->entry = lk != NULL ? ns_load_relaxed(&lk->entry) : 0;
		s->off_pkts = lk != NULL ? ns_load_relaxed(&lk->off_pkts) : 0;
		for (i = 0; i < h->key_words; i++)
			s->key[i] = ns_load_relaxed(&b->key[i]);
		/* Full fence, pairs with the ns_smp_mb() in hh_evict(). */
		ns_smp_mb();
		if (ns_load_relaxed(&l->state[way]) != s->state)
			continue;
		/* The flow's entry stays its own for the generation: its
		 * counts now are those of this admission, later. */
		if (s->entry != 0) {
			e = ns_table_entry_at(t, s->entry - 1);
			s->pkts = s->off_pkts + ns_load_relaxed(&e->packets);
			s->bytes += ns_load_relaxed(&e->bytes);
		}
		return 1;
	}
	return 0;
}

/* Find key hc in one region's table: 1 and its slot, or 0. */
static int
hh_find(const struct ns_sketch_hdr *h, const struct ns_table *t, uint64_t hc,
    const uint8_t *key, struct hh_slot *s)
{
	const struct hh_bucket *l = hh_bucket(h, hc);
	unsigned i;

	for (i = 0; i < NS_HH_WAYS; i++)
		if (ns_load_relaxed(&l->state[i]) == hc &&
		    hh_read_slot(h, t, l, i, s) && s->state == hc &&
		    memcmp(s->key, key, h->key_size) == 0)
			return 1;
	return 0;
}

/* Region i's table, if the regions have any. */
static inline const struct ns_table *
hh_table(const struct ns_table *const *tables, unsigned i)
{
	return tables != NULL ? tables[i] : NULL;
}

/* Regions alike, and each linked one with its table. */
static int
hh_check(const void *const *regions, const struct ns_table *const *tables,
    unsigned n)
{
	const struct ns_sketch_hdr *h;
	unsigned i;

	if (ns_sketch_compat(regions, n, NS_SKETCH_MAGIC_HH) != 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		h = regions[i];
		if ((h->flags & NS_SKETCH_F_LINKED) &&
		    hh_table(tables, i) == NULL)
			return -EINVAL;
	}
	return 0;
}

struct hh_est {
	uint64_t	pkts, bytes;		/* merged overestimates */
	uint64_t	pkts_lo, bytes_lo;	/* what is surely the key's */
};

/*
 * Merge one key over the regions.  In a region that holds it as a
 * candidate the value is prior + exact; elsewhere the CM-CU estimate
 * (per region, then summed: a sum of minima is at most the minimum of
 * the summed rows, and each term is still an overestimate).  With
 * NS_SKETCH_F_PARTITIONED a key lives in one region only, so the other
 * regions' noise is left out.
 */
static void
hh_merge_key(const void *const *regions, const struct ns_table *const *tables,
    unsigned n, uint64_t hc, const uint8_t *key, struct hh_est *e)
{
	const struct ns_sketch_hdr *h = regions[0];
	int part = (h->flags & NS_SKETCH_F_PARTITIONED) != 0;
	struct hh_cell *cells[NS_SKETCH_DEPTH_MAX];
	struct hh_slot s;
	uint64_t ep, eb;
	unsigned i;

	memset(e, 0, sizeof(*e));
	for (i = 0; i < n; i++) {
		h = regions[i];
		if (hh_find(h, hh_table(tables, i), hc, key, &s)) {
			e->pkts += s.pkts;
			e->bytes += s.bytes;
			e->pkts_lo += s.pkts - s.prior_pkts;
			e->bytes_lo += s.bytes - s.prior_bytes;
		} else if (!part) {
			hh_cm_estimate(h, hc, cells, &ep, &eb);
			e->pkts += ep;
			e->bytes += eb;
		}
	}
}

int
ns_hh_estimate(const void *const *regions, unsigned nregions,
    const uint8_t *key, uint64_t key_hash, uint64_t *packets, uint64_t *bytes,
    uint64_t *pkt_err, uint64_t *byte_err)
{
	const struct ns_sketch_hdr *h;
	struct hh_cell *cells[NS_SKETCH_DEPTH_MAX];
	struct hh_est e;
	uint64_t ep, eb;
	unsigned i;

	if (hh_check(regions, NULL, nregions) != 0)
		return -EINVAL;
	hh_merge_key(regions, NULL, nregions, key_hash | 1, key, &e);
	if (e.pkts == 0 && (((const struct ns_sketch_hdr *)regions[0])->flags &
	    NS_SKETCH_F_PARTITIONED)) {
		/* Not a candidate anywhere: the regions' CM-CU is all there is. */
		for (i = 0; i < nregions; i++) {
			h = regions[i];
			hh_cm_estimate(h, key_hash | 1, cells, &ep, &eb);
			e.pkts += ep;
			e.bytes += eb;
		}
	}
	*packets = e.pkts;
	*bytes = e.bytes;
	*pkt_err = e.pkts - e.pkts_lo;
	*byte_err = e.bytes - e.bytes_lo;
	return 0;
}

/* Every candidate key of every region, once. */
static int
hh_collect(const void *const *regions, const struct ns_table *const *tables,
    unsigned n, struct ns_sketch_set *set)
{
	const struct ns_sketch_hdr *h = regions[0];
	const struct hh_bucket *l;
	struct hh_slot s;
	uint64_t b;
	unsigned i, w;
	int rc;

	if ((rc = ns_sketch_set_init(set, (uint64_t)n * h->nbuckets *
	    NS_HH_WAYS, h->key_size)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		h = regions[i];
		l = hh_lines(h);
		for (b = 0; b < h->nbuckets; b++, l++)
			for (w = 0; w < NS_HH_WAYS; w++)
				if (hh_read_slot(h, hh_table(tables, i), l,
				    w, &s))
					ns_sketch_set_add(set, s.state,
					    (const uint8_t *)s.key);
	}
	return 0;
}

int
ns_hh_query(const void *const *regions, unsigned nregions, int by_bytes,
    uint64_t threshold, ns_sketch_fn fn, void *arg)
{
	return ns_hh_query_linked(regions, NULL, nregions, by_bytes, threshold,
	    fn, arg);
}

int
ns_hh_query_linked(const void *const *regions,
    const struct ns_table *const *tables, unsigned nregions, int by_bytes,
    uint64_t threshold, ns_sketch_fn fn, void *arg)
{
	const struct ns_sketch_hdr *h = regions != NULL ? regions[0] : NULL;
	struct ns_sketch_set set;
	struct ns_sketch_cand *c;
	struct hh_est e;
	uint64_t i, keep = 0;
	int rc;

	if (fn == NULL || hh_check(regions, tables, nregions) != 0)
		return -EINVAL;
	if ((rc = hh_collect(regions, tables, nregions, &set)) != 0)
		return rc;
	for (i = 0; i < set.n; i++) {
		c = &set.c[i];
		hh_merge_key(regions, tables, nregions, c->hash, c->key, &e);
		c->value = by_bytes & NS_HH_BY_BYTES ? e.bytes : e.pkts;
		c->err = by_bytes & NS_HH_BY_BYTES ? e.bytes - e.bytes_lo :
		    e.pkts - e.pkts_lo;
		if (c->value >= threshold && c->value > 0)
			set.c[keep++] = *c;
	}
	rc = ns_sketch_report(set.c, keep, h->key_size, fn, arg);
	ns_sketch_set_free(&set);
	return rc;
}

/*
 * ---- keys over the threshold a query cannot name.  A key with no
 * candidate slot lives in the Count-Min alone, which holds counts, not
 * keys.  What the Count-Min does show: such a key's cell is at or above
 * the threshold in every row.  A slot's prior (the Count-Min's estimate
 * when its key was admitted) stays in the cells too, so it is taken out
 * first; then, in the row that shows fewest, the cells still at or above
 * the threshold estimate how many keys over it have no slot.
 */

/* Region h's cells (packets or bytes) less its slots' priors, into res. */
static void
hh_residual(const struct ns_sketch_hdr *h, const struct ns_table *t,
    int by_bytes, uint64_t *res)
{
	const struct hh_cell *c = hh_rows(h);
	const struct hh_bucket *l = hh_lines(h);
	uint64_t n = (uint64_t)h->depth * h->width, i, b, prior, *x;
	struct hh_slot s;
	unsigned w, r;

	for (i = 0; i < n; i++)
		res[i] = by_bytes ? ns_load_relaxed(&c[i].bytes) :
		    ns_load_relaxed(&c[i].pkts);
	for (b = 0; b < h->nbuckets; b++, l++)
		for (w = 0; w < NS_HH_WAYS; w++) {
			if (!hh_read_slot(h, t, l, w, &s))
				continue;
			prior = by_bytes ? s.prior_bytes : s.prior_pkts;
			for (r = 0; r < h->depth; r++) {
				x = &res[ns_hh_cell_index(h, r, s.state)];
				*x -= *x < prior ? *x : prior;
			}
		}
}

/* The fewest cells at or above threshold in any row of res. */
static uint64_t
hh_fewest_over(const struct ns_sketch_hdr *h, const uint64_t *res,
    uint64_t threshold)
{
	uint64_t best = UINT64_MAX, n, j;
	unsigned r;

	for (r = 0; r < h->depth; r++) {
		for (n = 0, j = 0; j < h->width; j++)
			n += res[(uint64_t)r * h->width + j] >= threshold;
		if (n < best)
			best = n;
	}
	return best;
}

int
ns_hh_unreported(const void *const *regions,
    const struct ns_table *const *tables, unsigned nregions, int by_bytes,
    uint64_t threshold, uint64_t *out)
{
	const struct ns_sketch_hdr *h = regions != NULL ? regions[0] : NULL;
	uint64_t *res, *sum, n, i;
	unsigned k;
	int part;

	if (hh_check(regions, tables, nregions) != 0 || threshold == 0)
		return -EINVAL;
	part = (h->flags & NS_SKETCH_F_PARTITIONED) != 0;
	n = (uint64_t)h->depth * h->width;
	res = malloc(n * sizeof(*res));
	sum = part ? NULL : calloc(n, sizeof(*sum));
	if (res == NULL || (!part && sum == NULL)) {
		free(res);
		free(sum);
		return -ENOMEM;
	}
	/* A partitioned key is in one region: count there.  Else the rows
	 * line up across regions (same seeds), and a key's counts add up. */
	for (*out = 0, k = 0; k < nregions; k++) {
		hh_residual(regions[k], hh_table(tables, k), by_bytes & 1, res);
		if (part)
			*out += hh_fewest_over(regions[k], res, threshold);
		else
			for (i = 0; i < n; i++)
				sum[i] = res[i] > UINT64_MAX - sum[i] ?
				    UINT64_MAX : sum[i] + res[i];
	}
	if (!part)
		*out = hh_fewest_over(h, sum, threshold);
	free(res);
	free(sum);
	return 0;
}
