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

/*
 * The k largest flows of task t in generation g, by packets (or bytes),
 * largest first, into out[k]; how many there are in all into *nflows.
 * Returns how many it put, or -errno.  Live generations: in a read section.
 */
int	 ns_snapshot_top(const struct ns_engine *, uint64_t g, unsigned t,
	    unsigned k, int by_bytes, struct ns_flow *out, uint64_t *nflows);

/* What a sketch snapshot reports. */
enum ns_sketch_kind { NS_SKETCH_COUNT = 0, NS_SKETCH_SIZE, NS_SKETCH_SPREAD };

typedef void (*ns_snapshot_sketch_fn)(void *arg,
    const struct ns_sketch_task *, enum ns_sketch_kind, const uint8_t *key,
    uint64_t value, uint64_t err_bound);

/* "count", "size", "spread". */
const char *ns_sketch_kind_name(enum ns_sketch_kind);

/*
 * Keys of sketch task k in generation g, merged over the workers: those
 * at or above the task's threshold for kind (count_threshold,
 * size_threshold; count_threshold for spread), largest first, at most
 * top_k.  Returns the number reported, or -errno.
 */
int	 ns_snapshot_sketch(const struct ns_engine *, uint64_t g, unsigned k,
	    enum ns_sketch_kind, ns_snapshot_sketch_fn fn, void *arg);

#endif /* NS_SNAPSHOT_H */
