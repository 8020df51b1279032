/*
 * exporter.h -- the exporter role's loop: take each generation once every
 * worker has left it, hand its final snapshot to a sink, wait out readers,
 * clear it for reuse.  Sinks are the outputs: analyze's stdout, files,
 * and (later) ClickHouse and NATS.
 */
#ifndef NS_EXPORTER_H
#define NS_EXPORTER_H

#include "engine.h"

struct ns_sink {
	/*
	 * The final snapshot of a closed generation: plain reads are exact.
	 * first: no period has been written yet (CSV headers are due).
	 */
	int	(*period)(void *arg, const struct ns_engine *, uint64_t gen,
		    uint64_t period_start, int first);
	/* The input ended and its last period has been written. */
	int	(*end)(void *arg, const struct ns_engine *);
	void	*arg;
	/*
	 * The stream the sink writes, or NULL.  The exporter flushes it after
	 * each period and, when it is a regular file, records where the
	 * period ended: a restarted exporter cuts off what its predecessor
	 * wrote past that and writes the period again, so the file holds
	 * every period exactly once.  A pipe cannot be taken back: there a
	 * killed exporter's last period may appear partly twice.
	 */
	FILE	*out;
	/*
	 * Or NULL: called about once a second while a generation is live,
	 * inside a read section, for snapshots between period ends
	 * (writers' snapshot_interval); not marked final.
	 */
	int	(*live)(void *arg, const struct ns_engine *, uint64_t gen,
		    uint64_t period_start);
};

/* Never returns: exits 0 after the end, NS_EXIT_NORESPAWN if the sink
 * failed. */
void	 ns_exporter_main(struct ns_engine *, const struct ns_sink *,
	    unsigned slot) __attribute__((noreturn));

/* The period exporter has written the run's last final snapshot (the
 * ClickHouse and NATS writers then drain their spools and exit). */
int	 ns_export_ended(const struct ns_engine *);

struct ns_child;
/* The same, as a supervisor's child whose arg is the sink. */
void	 ns_exporter_child(struct ns_engine *, const struct ns_child *)
	    __attribute__((noreturn));

#endif /* NS_EXPORTER_H */
