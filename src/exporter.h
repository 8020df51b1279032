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
	/* The final snapshot of a closed generation: plain reads are exact. */
	int	(*period)(void *arg, const struct ns_engine *, uint64_t gen,
		    uint64_t period_start);
	/* The input ended and its last period has been written. */
	void	(*end)(void *arg, const struct ns_engine *);
	void	*arg;
};

/* Never returns: exits 0 after the end, 1 if the sink failed. */
void	 ns_exporter_main(struct ns_engine *, const struct ns_sink *)
	    __attribute__((noreturn));

#endif /* NS_EXPORTER_H */
