/*
 * exporter.c -- the exporter role: final snapshots of closed generations.
 *
 * The boundary protocol (shm/gen.h): the capture advances the root and
 * puts a marker into every ring; each worker switches on reading it; once
 * all have, the old generation has no writer and its snapshot is final.
 * Then a grace period (ns_slot_synchronize) lets any reader still in it
 * leave before ns_gen_clear() makes it the standby for the capture's next
 * advance -- which waits for exactly that, so periods never overrun the
 * exporter.
 */
#include "exporter.h"

#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "gen.h"
#include "log.h"
#include "slot.h"
#include "supervisor.h"

/* The oldest generation not yet cleared: where a (re)started exporter
 * picks up. */
static uint64_t
exp_first_gen(const struct ns_engine *e)
{
	uint64_t root = ns_gen_root(&e->seg);

	if (root > 0 && ns_load_acquire(&ns_gen_info(&e->seg, root - 1)->
	    state) != NS_GEN_STANDBY)
		return root - 1;
	return root;
}

/* Wait until every worker has left generation g. */
static void
exp_wait_closed(struct ns_engine *e, uint64_t g)
{
	struct timespec ts = { 0, 200000 };

	while (ns_gen_root(&e->seg) <= g || ns_gen_close(&e->seg, g) != 0) {
		if (getppid() == 1)
			fatalx("supervisor gone");
		nanosleep(&ts, NULL);
	}
}

/*
 * A generation holds a period if a packet opened it: every one does but
 * generation 0 of an input without packets, whose start was never set.
 */
static int
exp_has_period(const struct ns_engine *e, uint64_t g)
{
	unsigned t, w;

	if (ns_load_relaxed(&ns_gen_info(&e->seg, g)->period_start_ns) != 0)
		return 1;
	for (t = 0; t < e->ntasks; t++)
		for (w = 0; w < e->nworkers; w++)
			if (ns_table_count(ns_gen_shard(&e->seg, g, t, w)) > 0)
				return 1;
	return 0;
}

void
ns_exporter_main(struct ns_engine *e, const struct ns_sink *sink)
{
	struct ns_gen_info *info;
	uint64_t g = exp_first_gen(e), next_start;
	int rc;

	/* A closed pipe is a write error here, not a death to restart. */
	signal(SIGPIPE, SIG_IGN);
	for (;; g++) {
		exp_wait_closed(e, g);
		info = ns_gen_info(&e->seg, g);
		if (exp_has_period(e, g) && (rc = sink->period(sink->arg, e, g,
		    ns_load_relaxed(&info->period_start_ns))) != 0) {
			log_warnx("period %" PRIu64 ": %s", g, strerror(-rc));
			exit(NS_EXIT_NORESPAWN);
		}
		/* The advance stored it before its release of root. */
		next_start = ns_load_relaxed(&ns_gen_info(&e->seg, g + 1)->
		    period_start_ns);
		if (next_start == NS_ENGINE_END)
			break;		/* nothing will use it again */
		ns_slot_synchronize(&e->seg, 0);
		/* Published with the tables by ns_gen_clear's release of
		 * STANDBY. */
		ns_engine_sketch_clear(e, g);
		if ((rc = ns_gen_clear(&e->seg, g)) != 0)
			fatalx("generation %" PRIu64 ": cannot clear (%s)", g,
			    strerror(-rc));
	}
	sink->end(sink->arg, e);
	exit(0);
}
