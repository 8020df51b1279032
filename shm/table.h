/*
 * table.h -- exact flow tables (DESIGN §2.3): one shard per (generation,
 * task, worker), open addressing with linear probing, fixed capacity.
 *
 * The shard's worker is its only writer; readers run concurrently inside
 * epoch read sections.  An entry is published by a release store of its
 * state word after its key and counters are written; a reader acquires
 * the state word before reading anything else.  Key bytes never change
 * while an entry is published.  Counters are 64-bit, written with plain
 * atomic stores by the single writer (no read-modify-write), read with
 * plain atomic loads: a reader may see packets and bytes of two adjacent
 * updates, never a torn value.
 *
 * The capacity is max_flows * 4/3 (load factor 0.75 when full) and not a
 * power of two: the home slot is a multiply-shift of the 64-bit hash,
 * which keeps the per-flow cost under 128 bytes (see ns_table_flow_cost).
 */
#ifndef NS_TABLE_H
#define NS_TABLE_H

#include <stdint.h>

#include "journal.h"

#define NS_TABLE_KEY_MAX	72	/* 4 addresses, 2 ports, proto, VLAN, ipver */

/*
 * Upper bound of journaled cells one ns_table_add() stores, for sizing a
 * batch against the journal (ns_journal_batch_limit).
 */
#define NS_TABLE_CELLS_PER_RECORD	5

/*
 * State word: 0 empty; else USED | tcp_flags << 8 | hash tag << 32, and
 * HH while a heavy-hitter task linked to the table holds the flow as a
 * candidate (sketch.h, ns_hh_update_linked()).
 */
#define NS_TE_USED		0x1ULL
#define NS_TE_HH		0x2ULL
#define NS_TE_FLAGS(st)		((uint8_t)((st) >> 8))
#define NS_TE_TAG(hash)		((hash) & 0xffffffff00000000ULL)

struct ns_table_entry {
	uint64_t	state;
	uint64_t	packets;
	uint64_t	bytes;
	uint64_t	first_ns;	/* minimum packet time */
	uint64_t	last_ns;	/* maximum packet time */
	uint8_t		key[];		/* key_size bytes, padded to 8 */
};

struct ns_table {
	uint64_t	capacity;	/* entries */
	uint64_t	max_flows;	/* inserts beyond: -ENOSPC */
	uint32_t	key_size;
	uint32_t	entry_size;
	uint64_t	spare0[5];
	/* Writer line. */
	uint64_t	count __attribute__((aligned(64)));
	uint64_t	full_drops;	/* table_full: inserts refused */
	uint64_t	spare1[6];
	/* Entries follow. */
} __attribute__((aligned(64)));

/* A reader's copy of one entry. */
struct ns_flow {
	uint8_t		key[NS_TABLE_KEY_MAX];
	uint32_t	key_size;
	uint8_t		tcp_flags;
	uint64_t	packets;
	uint64_t	bytes;
	uint64_t	first_ns;
	uint64_t	last_ns;
};

uint64_t	 ns_table_capacity(uint64_t max_flows);
uint32_t	 ns_table_entry_size(uint32_t key_size);
uint64_t	 ns_table_shm_size(uint32_t key_size, uint64_t max_flows);
double		 ns_table_flow_cost(uint32_t key_size, uint64_t max_flows);
/* On zero-filled memory (a new segment): only the header is written. */
int		 ns_table_shm_init(struct ns_table *, uint32_t key_size,
		    uint64_t max_flows);

/* Entry i of t, and back: a reference to an entry kept in the segment. */
static inline struct ns_table_entry *
ns_table_entry_at(const struct ns_table *t, uint64_t i)
{
	return (struct ns_table_entry *)((char *)(t + 1) + i * t->entry_size);
}

static inline uint64_t
ns_table_entry_index(const struct ns_table *t, const struct ns_table_entry *e)
{
	return (uint64_t)((const char *)e - (const char *)(t + 1)) /
	    t->entry_size;
}

/* Writer (jc NULL: unjournaled, e.g. a private run or a test). */
int		 ns_table_add(struct ns_table *, struct ns_jctx *jc,
		    uint64_t hash, const void *key, uint64_t ts_ns,
		    uint64_t bytes, uint8_t tcp_flags);
/* Same, and the flow's entry in *entp (NULL with -ENOSPC). */
int		 ns_table_add_entry(struct ns_table *, struct ns_jctx *jc,
		    uint64_t hash, const void *key, uint64_t ts_ns,
		    uint64_t bytes, uint8_t tcp_flags,
		    struct ns_table_entry **entp);
void		 ns_table_clear(struct ns_table *);
void		 ns_table_release(struct ns_table *);
void		 ns_table_prefetch(const struct ns_table *, uint64_t hash);

/* Readers. */
int		 ns_table_lookup(const struct ns_table *, uint64_t hash,
		    const void *key, struct ns_flow *out);
int		 ns_table_next(const struct ns_table *, uint64_t *pos,
		    struct ns_flow *out);
uint64_t	 ns_table_count(const struct ns_table *);
/* Fault the shard's pages in ahead of use (best effort). */
void		 ns_table_prefault(struct ns_table *);
uint64_t	 ns_table_full_drops(const struct ns_table *);

#endif /* NS_TABLE_H */
