/*
 * clock.h -- monotonic time in seconds, for rates, backoff and progress;
 * wall-clock time in nanoseconds.
 */
#ifndef NS_CLOCK_H
#define NS_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline double
ns_mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall-clock nanoseconds since the epoch: live periods, timestamps. */
static inline uint64_t
ns_real_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif /* NS_CLOCK_H */
