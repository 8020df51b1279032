/*
 * worker.h -- the worker role: the single writer of shard `worker` of
 * every task, fed by one ring per input.
 */
#ifndef NS_WORKER_H
#define NS_WORKER_H

#include "engine.h"

/*
 * Roll back a batch a killed predecessor left open, go ACTIVE in `slot`,
 * then apply records until every input is done and drained; exit 0.
 */
void	 ns_worker_main(struct ns_engine *, unsigned worker, unsigned slot)
	    __attribute__((noreturn));

struct ns_child;
/* The same, as a supervisor's child (ns_child_main). */
void	 ns_worker_child(struct ns_engine *, const struct ns_child *)
	    __attribute__((noreturn));

#endif /* NS_WORKER_H */
