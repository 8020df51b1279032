/*
 * ring.h -- single-producer/single-consumer rings of 64-byte records
 * (DESIGN §2.2), one per (input, worker) pair.
 *
 * head counts records published by the producer; the commit word counts
 * records the consumer has *committed* (fully applied, see journal.h), as
 * (tail << 1) | in_batch.  Both only grow.  The producer computes free
 * space from the committed tail, so records of a batch that a killed
 * worker had not committed are still in the ring when its successor
 * replays them.  The commit word lives in the ring's consumer cache line
 * and is named by the worker's journal while a batch is open.
 *
 * Producer and consumer keep process-local handles that cache the other
 * side's counter, so the shared lines are touched about once per batch.
 *
 * Waiting sides sleep on doorbells (bell.h) instead of polling: a
 * producer waiting for space on the ring's space bell, rung by commits; a
 * consumer reading several rings on one data bell that every producer
 * feeding it rings after a publication (ns_ring_prod_bell).  A worker's
 * data bell is the one in its first ring (input 0), in the read-mostly
 * line, so that a ring costs the producer one load of a line nobody
 * writes while the consumer is busy.
 */
#ifndef NS_RING_H
#define NS_RING_H

#include <signal.h>
#include <stdint.h>

#include "bell.h"
#include "record.h"
#include "segment.h"

struct ns_ring_resume {
	uint64_t	head;		/* head this position belongs to */
	uint64_t	pos;		/* producer's input position */
};

struct ns_ring {
	uint64_t	capacity;	/* records, a power of two */
	uint64_t	mask;
	struct ns_bell	data;		/* its consumer sleeps here (above) */
	uint64_t	spare0[5];
	/* Producer line. */
	uint64_t	head __attribute__((aligned(64)));
	uint64_t	full;		/* ring_full drops (live inputs) */
	struct ns_ring_resume resume[2];
	struct ns_bell	space;		/* its producer sleeps here */
	uint64_t	spare1;
	/* Consumer line. */
	uint64_t	commit __attribute__((aligned(64)));
	uint64_t	spare2[7];
	struct ns_record rec[];
} __attribute__((aligned(64)));

struct ns_ring_dir {
	uint64_t	nrings;
	uint64_t	capacity;
	uint64_t	stride;		/* bytes from one ring to the next */
	uint64_t	spare[5];
};

struct ns_ring_prod {
	struct ns_ring	*r;
	struct ns_bell	*bell;		/* the consumer's data bell, or NULL */
	uint64_t	 head;		/* == r->head: single producer */
	uint64_t	 tail;		/* committed tail last seen */
	unsigned	 resume_idx;	/* resume[] entry matching head */
};

struct ns_ring_cons {
	struct ns_ring	*r;
	uint64_t	 tail;		/* next record to read (uncommitted) */
	uint64_t	 head;		/* head last seen */
};

#define NS_RING_TAIL(word)	((word) >> 1)
#define NS_RING_IN_BATCH(word)	((word) & 1)

uint64_t	 ns_ring_shm_size(unsigned nrings, uint64_t capacity);
int		 ns_ring_shm_init(struct ns_seg *, unsigned nrings,
		    uint64_t capacity);
struct ns_ring	*ns_ring_get(const struct ns_seg *, unsigned idx);
unsigned	 ns_ring_count(const struct ns_seg *);

/* Producer. */
void		 ns_ring_prod_init(struct ns_ring_prod *, struct ns_ring *);
void		 ns_ring_prod_bell(struct ns_ring_prod *, struct ns_bell *);
int		 ns_ring_prod_resume_pos(const struct ns_ring_prod *,
		    uint64_t *posp);
unsigned	 ns_ring_reserve(struct ns_ring_prod *, unsigned want,
		    struct ns_record **recp);
int		 ns_ring_reserve_wait(struct ns_ring_prod *, unsigned want,
		    struct ns_record **recp, volatile sig_atomic_t *stop);
void		 ns_ring_publish(struct ns_ring_prod *, unsigned n);
void		 ns_ring_publish_pos(struct ns_ring_prod *, unsigned n,
		    uint64_t pos);
void		 ns_ring_count_full(struct ns_ring_prod *, uint64_t n);

/* Consumer. */
void		 ns_ring_cons_init(struct ns_ring_cons *, struct ns_ring *);
unsigned	 ns_ring_peek(struct ns_ring_cons *, unsigned max,
		    const struct ns_record **recp);
void		 ns_ring_consume(struct ns_ring_cons *, unsigned n);
void		 ns_ring_commit(struct ns_ring_cons *);
void		 ns_ring_committed(struct ns_ring_cons *);
uint64_t	*ns_ring_commit_word(struct ns_ring *);

#endif /* NS_RING_H */
