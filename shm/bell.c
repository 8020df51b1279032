/*
 * bell.c -- the system-call half of the doorbell (bell.h): FUTEX_WAIT and
 * FUTEX_WAKE on a word of a MAP_SHARED mapping, so without
 * FUTEX_PRIVATE_FLAG (the sleeper and the ringer are different processes).
 */
#include "bell.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long
bell_futex(uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

void
ns_bell_wake(struct ns_bell *b)
{
	uint32_t one = 1;

	/* One wake per sleep: rings until the sleeper runs again are free. */
	if (!__atomic_compare_exchange_n(&b->sleeping, &one, 0, 0,
	    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		return;
	/* A new ticket first: a sleeper between its check and FUTEX_WAIT
	 * then finds the word changed and does not sleep. */
	__atomic_add_fetch(&b->seq, 1, __ATOMIC_SEQ_CST);
	bell_futex(&b->seq, FUTEX_WAKE, 1, NULL);
}

void
ns_bell_wait(struct ns_bell *b, uint32_t ticket, uint64_t timeout_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(timeout_ns / 1000000000u),
		.tv_nsec = (long)(timeout_ns % 1000000000u),
	};

	/* EAGAIN (stale ticket), EINTR and ETIMEDOUT all mean: look again. */
	bell_futex(&b->seq, FUTEX_WAIT, ticket, &ts);
	ns_store_relaxed(&b->sleeping, 0);
}
