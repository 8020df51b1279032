/*
 * prometheus.h -- the /metrics exporter: a process serving Prometheus'
 * text exposition format straight from the shared-memory segment.
 */
#ifndef NS_PROMETHEUS_H
#define NS_PROMETHEUS_H

#include "engine.h"

struct ns_child;

/* A supervisor's child (ns_child_main); exits 0 once every input ended. */
void	 ns_prometheus_child(struct ns_engine *, const struct ns_child *)
	    __attribute__((noreturn));

#endif /* NS_PROMETHEUS_H */
