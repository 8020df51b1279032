/*
 * api.h -- the query API (ns-api): Go2NetSpectra's HTTP endpoints and the
 * Grafana JSON datasource, answered from ClickHouse's history, plus the
 * live top-N straight from the shared-memory segment.
 */
#ifndef NS_API_H
#define NS_API_H

#include "engine.h"

struct ns_child;

/* A supervisor's child (ns_child_main); exits 0 once every input ended. */
void	 ns_api_child(struct ns_engine *, const struct ns_child *)
	    __attribute__((noreturn));

#endif /* NS_API_H */
