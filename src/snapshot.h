/*
 * snapshot.h -- reading a generation's flows out of shared memory, one
 * record per key: shards of tasks coarser than the 5-tuple hold the same
 * key in several workers' shards, and are merged here (sum counters, min
 * first_seen, max last_seen, OR of TCP flags).
 */
#ifndef NS_SNAPSHOT_H
#define NS_SNAPSHOT_H

#include "engine.h"
#include "table.h"

typedef void (*ns_snapshot_fn)(void *arg, const struct ns_task *,
    const struct ns_flow *);

/*
 * Call fn for every flow of task t in generation g.  For a live generation
 * the caller holds an epoch read section; for a closed one (the period's
 * final snapshot) plain reads are exact.  0 or -ENOMEM.
 */
int	 ns_snapshot_task(const struct ns_engine *, uint64_t g, unsigned t,
	    ns_snapshot_fn fn, void *arg);
/* Flows of task t in generation g, before merging. */
uint64_t ns_snapshot_count(const struct ns_engine *, uint64_t g, unsigned t);

#endif /* NS_SNAPSHOT_H */
