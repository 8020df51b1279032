/*
 * bell.h -- a doorbell in shared memory: one process sleeps on it until
 * another rings, so that an idle side of a ring waits without a core and
 * without a system call per batch on the busy side.
 *
 * An event count on a futex word.  The sleeper takes a ticket
 * (ns_bell_prepare), checks its condition once more, and sleeps only if
 * the ticket is still current; the ringer changes its condition first and
 * then rings, which costs a store-load fence and a load while nobody
 * sleeps (no system call).  The two fences form a Dekker pair: either the
 * sleeper's check sees the ringer's change, or the ringer sees the
 * sleeper's flag and wakes it.  One sleeper per bell.
 *
 * Sleeps are bounded (timeout_ns), so a bell never replaces the checks a
 * sleeper makes for events nobody rings for (a parent gone, a signal).
 */
#ifndef NS_BELL_H
#define NS_BELL_H

#include <stdint.h>

#include "atomic.h"

struct ns_bell {
	uint32_t	seq;		/* the futex word: bumped by a ring */
	uint32_t	sleeping;	/* 1 from prepare to the end of wait */
};

void	ns_bell_wake(struct ns_bell *);

/* A ticket for ns_bell_wait; then check the condition, then wait. */
static inline uint32_t
ns_bell_prepare(struct ns_bell *b)
{
	uint32_t ticket = ns_load_relaxed(&b->seq);

	ns_store_relaxed(&b->sleeping, 1);
	/* Store-load, pairs with the fence in ns_bell_ring(): the flag is
	 * visible before the caller re-checks its condition. */
	ns_smp_mb();
	return ticket;
}

/*
 * Sleep until rung, the ticket is stale, timeout_ns passed or a signal
 * came; then clear the flag.  The caller re-checks its condition.
 */
void	ns_bell_wait(struct ns_bell *, uint32_t ticket, uint64_t timeout_ns);

/* The condition held after all: no sleep. */
static inline void
ns_bell_cancel(struct ns_bell *b)
{
	ns_store_relaxed(&b->sleeping, 0);
}

/* After making the sleeper's condition true: wake it if it sleeps. */
static inline void
ns_bell_ring(struct ns_bell *b)
{
	/* Store-load, pairs with the fence in ns_bell_prepare(): our
	 * condition's stores are visible before we read the flag. */
	ns_smp_mb();
	if (ns_load_relaxed(&b->sleeping))
		ns_bell_wake(b);
}

#endif /* NS_BELL_H */
