/*
 * gen.h -- generations of table shards (DESIGN §2.3).
 *
 * The GENS section holds ngens generations (2: current and standby), each
 * with one table shard per (task, worker).  The segment header's root word
 * holds the sequence number g of the current generation (index g % ngens).
 * A period boundary proceeds as:
 *
 *   1. the capture side calls ns_gen_advance(g) (standby becomes live,
 *      root = g + 1) and puts a period marker into every ring;
 *   2. each worker, on reading the marker, calls ns_gen_worker_switch()
 *      and writes into generation g + 1 from then on.  The marker must be
 *      the first record of its batch: everything before it is committed
 *      to generation g, so the switch word need not be journaled, and a
 *      replayed marker just switches again;
 *   3. once ns_gen_all_switched(g + 1), generation g has no writer: its
 *      final snapshot is taken with plain reads;
 *   4. ns_slot_synchronize() waits out readers still inside g, then
 *      ns_gen_clear(g) makes it the standby for g + 2.
 *
 * A task is only {key size, max_flows} here; the task layer owns the rest.
 */
#ifndef NS_GEN_H
#define NS_GEN_H

#include <stdint.h>

#include "journal.h"
#include "segment.h"
#include "table.h"

#define NS_GEN_MAX	4

enum ns_gen_state {
	NS_GEN_STANDBY = 0,	/* cleared, waiting to become live */
	NS_GEN_LIVE,		/* named by root (or being left by workers) */
	NS_GEN_CLOSED,		/* no writer left: final snapshot allowed */
};

struct ns_gen_task {
	uint32_t	key_size;
	uint32_t	spare;
	uint64_t	max_flows;	/* per worker shard */
};

struct ns_gen_info {
	uint64_t	state;		/* enum ns_gen_state */
	uint64_t	seq;		/* generation number g it holds */
	uint64_t	period_start_ns;
	uint64_t	spare[5];
};

/* Per-worker switch record: the generation it writes into. */
struct ns_gen_worker {
	uint64_t	gen;
	uint64_t	spare[7];
};

struct ns_gen_dir {
	uint32_t	ngens;
	uint32_t	ntasks;
	uint32_t	nworkers;
	uint32_t	spare0;
	uint64_t	tasks_off;	/* struct ns_gen_task[ntasks] */
	uint64_t	shards_off;	/* uint64_t [ngens][ntasks][nworkers] */
	uint64_t	workers_off;	/* struct ns_gen_worker[nworkers] */
	uint64_t	spare1[4];
	struct ns_gen_info gen[NS_GEN_MAX];
};

uint64_t	 ns_gen_shm_size(unsigned ngens, unsigned ntasks,
		    unsigned nworkers, const struct ns_gen_task *tasks);
int		 ns_gen_shm_init(struct ns_seg *, unsigned ngens,
		    unsigned ntasks, unsigned nworkers,
		    const struct ns_gen_task *tasks);
struct ns_gen_dir *ns_gen_dir(const struct ns_seg *);

uint64_t	 ns_gen_root(const struct ns_seg *);
uint64_t	 ns_gen_shard_off(const struct ns_seg *, uint64_t g,
		    unsigned task, unsigned worker);
struct ns_table	*ns_gen_shard(const struct ns_seg *, uint64_t g,
		    unsigned task, unsigned worker);
struct ns_gen_info *ns_gen_info(const struct ns_seg *, uint64_t g);

/* Boundary protocol, in order. */
int		 ns_gen_advance(struct ns_seg *, uint64_t g,
		    uint64_t period_start_ns);
uint64_t	 ns_gen_worker_current(const struct ns_seg *, unsigned worker);
void		 ns_gen_worker_switch(struct ns_seg *, unsigned worker,
		    uint64_t g);
int		 ns_gen_all_switched(const struct ns_seg *, uint64_t g);
int		 ns_gen_close(struct ns_seg *, uint64_t g);
int		 ns_gen_clear(struct ns_seg *, uint64_t g);

#endif /* NS_GEN_H */
