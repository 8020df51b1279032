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

#define NS_SNAPSHOT_MAX_WORKERS	256
/* What a task with neither top_k nor a threshold reports, at most. */
#define NS_SKETCH_DEFAULT_TOP_K	100

/*
 * Keys of sketch task k in generation g, merged over the workers: those
 * at or above the task's threshold for kind (count_threshold,
 * size_threshold; count_threshold for spread), largest first, at most
 * ns_sketch_report_cap() of them.  Returns what the query found (before
 * the cap), or -errno.
 */
int	 ns_snapshot_sketch(const struct ns_engine *, uint64_t g, unsigned k,
	    enum ns_sketch_kind, ns_snapshot_sketch_fn fn, void *arg);

/* The threshold of kind: size_threshold for size, else count_threshold. */
uint64_t ns_sketch_threshold(const struct ns_sketch_task *,
	    enum ns_sketch_kind);
/*
 * The most keys of kind a snapshot reports: top_k when set; with a
 * threshold and no top_k, no cap (a query finds no more keys than the
 * workers' candidate slots hold); with neither, NS_SKETCH_DEFAULT_TOP_K.
 */
uint64_t ns_sketch_report_cap(const struct ns_sketch_task *,
	    enum ns_sketch_kind);

/*
 * What a snapshot reported, and what it could not: keys over the
 * threshold past the cap (cut, exact), plus, for heavy hitters, the
 * estimate of ns_hh_unreported() (keys over it without a candidate slot).
 * Both 0 when the kind has no threshold.
 */
struct ns_sketch_report {
	uint64_t	reported;
	uint64_t	cut;
	uint64_t	unreported;	/* cut + the estimate */
};

/* ns_snapshot_sketch(), filling *rep; returns the number reported. */
int	 ns_snapshot_sketch_stats(const struct ns_engine *, uint64_t g,
	    unsigned k, enum ns_sketch_kind, ns_snapshot_sketch_fn fn,
	    void *arg, struct ns_sketch_report *rep);

#endif /* NS_SNAPSHOT_H */
