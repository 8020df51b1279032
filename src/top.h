/*
 * top.h -- `netspectra top`: the heaviest flows of the running period,
 * live from the daemon's segment.
 */
#ifndef NS_TOP_H
#define NS_TOP_H

#include <stdio.h>

struct ns_top_opts {
	const char	*task;		/* NULL: the first exact task */
	unsigned	 n;		/* rows */
	int		 once;		/* one snapshot, then exit */
	int		 json;
	int		 by_bytes;
};

int	 ns_top_run(const char *shm_name, const struct ns_top_opts *, FILE *out);

#endif /* NS_TOP_H */
