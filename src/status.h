/*
 * status.h -- `netspectra status`: a running (or stopped) daemon's state,
 * read from its shared-memory segment without touching it.
 */
#ifndef NS_STATUS_H
#define NS_STATUS_H

#include <stdio.h>

/* 0, or -errno after a message (no segment, no permission). */
int	 ns_status_run(const char *shm_name, FILE *out);

#endif /* NS_STATUS_H */
