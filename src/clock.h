/*
 * clock.h -- monotonic time in seconds, for rates, backoff and progress.
 */
#ifndef NS_CLOCK_H
#define NS_CLOCK_H

#include <time.h>

static inline double
ns_mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif /* NS_CLOCK_H */
