/*
 * table.c -- open-addressing flow table shards: single writer, concurrent
 * readers, every writer store optionally journaled.
 */
#include "table.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "atomic.h"

uint64_t
ns_table_capacity(uint64_t max_flows)
{
	/* Load factor 0.75 at max_flows; always one empty slot. */
	return max_flows + (max_flows + 2) / 3 + 1;
}

uint32_t
ns_table_entry_size(uint32_t key_size)
{
	return (uint32_t)(sizeof(struct ns_table_entry) +
	    NS_ALIGN_UP(key_size, 8));
}

uint64_t
ns_table_shm_size(uint32_t key_size, uint64_t max_flows)
{
	return sizeof(struct ns_table) +
	    ns_table_capacity(max_flows) * ns_table_entry_size(key_size);
}

/* Bytes of shared memory per flow, slack and header included. */
double
ns_table_flow_cost(uint32_t key_size, uint64_t max_flows)
{
	return (double)ns_table_shm_size(key_size, max_flows) /
	    (double)max_flows;
}

int
ns_table_shm_init(struct ns_table *t, uint32_t key_size, uint64_t max_flows)
{
	if (key_size == 0 || key_size > NS_TABLE_KEY_MAX || max_flows == 0)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	t->capacity = ns_table_capacity(max_flows);
	t->max_flows = max_flows;
	t->key_size = key_size;
	t->entry_size = ns_table_entry_size(key_size);
	/* The entries are in a new segment, zero-filled by the kernel:
	 * writing zeros would only fault in pages nobody may ever use. */
	return 0;
}

static inline uint64_t
table_home(const struct ns_table *t, uint64_t hash)
{
	/* Multiply-shift maps the hash onto [0, capacity) without modulo. */
	return (uint64_t)(((unsigned __int128)hash * t->capacity) >> 64);
}

/*
 * Start loading the entry where hash's probe begins.  A worker prefetches
 * a whole batch before applying it, so that the cache misses of a large
 * table overlap instead of queueing one behind another.
 */
void
ns_table_prefetch(const struct ns_table *t, uint64_t hash)
{
	const char *e = (const char *)(t + 1) + table_home(t, hash) *
	    t->entry_size;

	ns_prefetch_w(e);
	ns_prefetch_w(e + t->entry_size - 1);
}

/*
 * Key equality without a call: 8-byte words, the last one overlapping the
 * one before it, so no byte past either key is read.
 */
static inline int
key_equal(const uint8_t *a, const uint8_t *b, uint32_t n)
{
	uint64_t x, y;
	uint32_t i;

	if (n < 8)
		return memcmp(a, b, n) == 0;
	for (i = 0; i + 8 < n; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return 0;
	}
	memcpy(&x, a + n - 8, 8);
	memcpy(&y, b + n - 8, 8);
	return x == y;
}

/*
 * Probe for key; returns its entry, or the empty entry where it would go.
 * Runs in the writer (relaxed loads of its own stores) and in readers,
 * where the acquire pairs with the release of state in table_insert().
 */
static struct ns_table_entry *
table_probe(const struct ns_table *t, uint64_t hash, const void *key,
    uint64_t *statep)
{
	uint64_t i = table_home(t, hash), tag = NS_TE_TAG(hash), st;
	struct ns_table_entry *e;

	for (;;) {
		e = ns_table_entry_at(t, i);
		/* Acquire, pairs with the release of state in table_insert(). */
		st = ns_load_acquire(&e->state);
		if (st == 0 || ((st & ~0xffffULL) == tag &&
		    key_equal(e->key, key, t->key_size)))
			break;
		if (++i == t->capacity)
			i = 0;
	}
	*statep = st;
	return e;
}

static int
table_insert(struct ns_table *t, struct ns_jctx *jc, struct ns_table_entry *e,
    uint64_t hash, const void *key, uint64_t ts, uint64_t bytes, uint8_t fl)
{
	/*
	 * The entry is unpublished, so its key and counters need no undo:
	 * rolling back the state word below hides them again, and a replay
	 * writes them afresh.
	 */
	memcpy(e->key, key, t->key_size);
	ns_store_relaxed(&e->packets, 1);
	ns_store_relaxed(&e->bytes, bytes);
	ns_store_relaxed(&e->first_ns, ts);
	ns_store_relaxed(&e->last_ns, ts);
	/*
	 * Release, pairs with the acquire of state in table_probe() and
	 * ns_table_next(): key and counters are complete before a reader
	 * can see the entry.
	 */
	ns_journal_set_rel(jc, &e->state,
	    NS_TE_TAG(hash) | (uint64_t)fl << 8 | NS_TE_USED);
	ns_journal_set(jc, &t->count, t->count + 1);
	return 1;
}

static void
table_update(struct ns_jctx *jc, struct ns_table_entry *e, uint64_t st,
    uint64_t ts, uint64_t bytes, uint8_t fl)
{
	ns_journal_set(jc, &e->packets, ns_load_relaxed(&e->packets) + 1);
	ns_journal_set(jc, &e->bytes, ns_load_relaxed(&e->bytes) + bytes);
	if (ts > ns_load_relaxed(&e->last_ns))
		ns_journal_set(jc, &e->last_ns, ts);
	if (ts < ns_load_relaxed(&e->first_ns))
		ns_journal_set(jc, &e->first_ns, ts);
	if ((NS_TE_FLAGS(st) | fl) != NS_TE_FLAGS(st))
		ns_journal_set(jc, &e->state, st | (uint64_t)fl << 8);
}

/*
 * Count one packet for key.  Returns 1 if a flow was created, 0 if one was
 * updated, -ENOSPC if the table holds max_flows flows already (counted in
 * full_drops, the task's table_full).  hash is xxHash of the key.
 */
int
ns_table_add_entry(struct ns_table *t, struct ns_jctx *jc, uint64_t hash,
    const void *key, uint64_t ts_ns, uint64_t bytes, uint8_t tcp_flags,
    struct ns_table_entry **entp)
{
	struct ns_table_entry *e;
	uint64_t st;

	*entp = e = table_probe(t, hash, key, &st);
	if (st != 0) {
		table_update(jc, e, st, ts_ns, bytes, tcp_flags);
		return 0;
	}
	if (t->count >= t->max_flows) {
		ns_journal_set(jc, &t->full_drops, t->full_drops + 1);
		*entp = NULL;
		return -ENOSPC;
	}
	return table_insert(t, jc, e, hash, key, ts_ns, bytes, tcp_flags);
}

int
ns_table_add(struct ns_table *t, struct ns_jctx *jc, uint64_t hash,
    const void *key, uint64_t ts_ns, uint64_t bytes, uint8_t tcp_flags)
{
	struct ns_table_entry *e;

	return ns_table_add_entry(t, jc, hash, key, ts_ns, bytes, tcp_flags,
	    &e);
}

/*
 * Empty the shard.  Only for a shard without writer and readers: the
 * standby generation after its grace period, or a fresh segment.
 */
void
ns_table_clear(struct ns_table *t)
{
	/* An empty shard's entries are all zero: leave its pages alone. */
	if (ns_load_relaxed(&t->count) != 0)
		memset(t + 1, 0, t->capacity * t->entry_size);
	ns_store_relaxed(&t->full_drops, 0);
	/* Release, for form: the next user starts after a grace period. */
	ns_store_release(&t->count, 0);
}

/*
 * Fault the shard's pages in now, in one system call, rather than one
 * page fault at a time under the packets: each fault costs microseconds
 * on a virtualized kernel, and a large table touched at random takes
 * nearly all of them.  Best effort: without MADV_POPULATE_WRITE (Linux
 * 5.14) the pages come in as they are touched, as before.
 */
void
ns_table_prefault(struct ns_table *t)
{
#ifdef MADV_POPULATE_WRITE
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	char *start = (char *)(t + 1), *end = start + t->capacity * t->entry_size;
	char *a = (char *)((uintptr_t)start & ~(pg - 1));

	(void)madvise(a, (size_t)(end - a), MADV_POPULATE_WRITE);
#else
	(void)t;
#endif
}

/*
 * Empty the shard and give its pages back (a private, memfd-backed
 * segment): the standby generation then costs no memory until it is
 * written again.  MADV_REMOVE punches the hole, so the pages read as zero
 * afterwards -- the same state as ns_table_clear() leaves.
 */
void
ns_table_release(struct ns_table *t)
{
	char *start = (char *)(t + 1), *end = start + t->capacity * t->entry_size;
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	char *a = (char *)(((uintptr_t)start + pg - 1) & ~(pg - 1));
	char *b = (char *)((uintptr_t)end & ~(pg - 1));

	if (ns_load_relaxed(&t->count) == 0 || b <= a ||
	    madvise(a, (size_t)(b - a), MADV_REMOVE) != 0) {
		ns_table_clear(t);
		return;
	}
	memset(start, 0, (size_t)(a - start));
	memset(b, 0, (size_t)(end - b));
	ns_store_relaxed(&t->full_drops, 0);
	/* Release, for form, as in ns_table_clear(). */
	ns_store_release(&t->count, 0);
}

static void
table_copy(const struct ns_table *t, const struct ns_table_entry *e,
    uint64_t st, struct ns_flow *out)
{
	memcpy(out->key, e->key, t->key_size);
	out->key_size = t->key_size;
	out->tcp_flags = NS_TE_FLAGS(st);
	out->packets = ns_load_relaxed(&e->packets);
	out->bytes = ns_load_relaxed(&e->bytes);
	out->first_ns = ns_load_relaxed(&e->first_ns);
	out->last_ns = ns_load_relaxed(&e->last_ns);
}

/* 1 and a copy of the flow if present, 0 if not. */
int
ns_table_lookup(const struct ns_table *t, uint64_t hash, const void *key,
    struct ns_flow *out)
{
	const struct ns_table_entry *e;
	uint64_t st;

	e = table_probe(t, hash, key, &st);
	if (st == 0)
		return 0;
	if (out != NULL)
		table_copy(t, e, st, out);
	return 1;
}

/*
 * Iterate: start with *pos = 0; each call copies the next published entry
 * and returns 1, or returns 0 at the end.
 */
int
ns_table_next(const struct ns_table *t, uint64_t *pos, struct ns_flow *out)
{
	const struct ns_table_entry *e;
	uint64_t st;

	/*
	 * An empty shard (ns_table_clear() relies on the same fact: no count,
	 * no entry) is not walked: the idle period boundary's walks of
	 * million-slot tables were most of an idle daemon's CPU.  On a live
	 * shard this reads the count before any entry, as if the walk had
	 * happened before the first insert.
	 */
	if (*pos == 0 && ns_load_relaxed(&t->count) == 0)
		*pos = t->capacity;
	while (*pos < t->capacity) {
		e = ns_table_entry_at(t, (*pos)++);
		/* Acquire, pairs with the release of state in table_insert(). */
		st = ns_load_acquire(&e->state);
		if (st != 0) {
			table_copy(t, e, st, out);
			return 1;
		}
	}
	return 0;
}

uint64_t
ns_table_count(const struct ns_table *t)
{
	return ns_load_relaxed(&t->count);
}

uint64_t
ns_table_full_drops(const struct ns_table *t)
{
	return ns_load_relaxed(&t->full_drops);
}
