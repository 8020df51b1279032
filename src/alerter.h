/*
 * alerter.h -- the alerter role (ns-alert): Go2NetSpectra's alerter.rules
 * evaluated every check_interval on the live period in shared memory,
 * notifications on each change (src/alert.c, src/alert_send.c), and its
 * counters for netspectra status and /metrics.
 */
#ifndef NS_ALERTER_H
#define NS_ALERTER_H

#include <stdio.h>

#include "engine.h"

struct ns_child;

/* A supervisor's child (ns_child_main); exits 0 once every input ended. */
void	 ns_alerter_child(struct ns_engine *, const struct ns_child *)
	    __attribute__((noreturn));

/* The netspectra_alert_* series, when the alerter is enabled. */
void	 ns_alerter_metrics(const struct ns_engine *, FILE *);
/* Its lines of netspectra status, when the alerter is enabled. */
void	 ns_alerter_status(const struct ns_engine *, FILE *);

#endif /* NS_ALERTER_H */
