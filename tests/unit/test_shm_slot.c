/*
 * test_shm_slot.c -- cross-process epochs: a reader in another process
 * holds a grace period, a killed reader blocks until the supervisor clears
 * its slot, a dead worker blocks until recovered, external leases are
 * reclaimed, and a reclaim-after-synchronize stress never lets a reader
 * see freed data.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "log.h"
#include "segment.h"
#include "slot.h"

/* Control words shared by the test and its children (STATS section). */
struct ctl {
	uint64_t	entered;
	uint64_t	release;
	uint64_t	stop;
	uint64_t	cur;		/* offset of the live buffer */
	uint64_t	violations;
	uint64_t	reads;
	uint64_t	spare[2];
	struct buf {
		uint64_t alive;		/* 1 while published or in grace */
		uint64_t value[7];
	} buf[2];
};

static struct ns_seg seg;
static struct ctl *ctl;

static void
setup(void)
{
	struct ns_seg_layout lay;

	log_init("test", "test", NS_LOG_WARN);
	ns_seg_layout_init(&lay, 1);
	ns_seg_layout_set(&lay, NS_SEG_SLOTS, ns_slot_shm_size(6, 2));
	ns_seg_layout_set(&lay, NS_SEG_STATS, sizeof(struct ctl));
	ns_seg_layout_finish(&lay);
	cr_assert_eq(ns_seg_create_private(&seg, &lay), 0);
	cr_assert_eq(ns_slot_shm_init(&seg, 6, 2), 0);
	ns_seg_publish(&seg);
	ctl = ns_seg_ptr(&seg, ns_seg_section(&seg, NS_SEG_STATS, NULL));
}

static void
teardown(void)
{
	ns_seg_detach(&seg);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Poll a control word with a deadline; never a bare sleep. */
static int
wait_word(uint64_t *w, uint64_t v, uint64_t ms)
{
	uint64_t deadline = now_ms() + ms;
	struct timespec ts = { 0, 100000 };

	while (ns_load_acquire(w) != v) {
		if (now_ms() > deadline)
			return 0;
		nanosleep(&ts, NULL);
	}
	return 1;
}

static pid_t
spawn_reader(unsigned idx, int die_inside)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	ns_slot_activate(&seg, idx);
	ns_slot_enter(&seg, ns_slot_get(&seg, idx));
	ns_store_release(&ctl->entered, 1);
	if (die_inside)
		for (;;)
			pause();
	wait_word(&ctl->release, 1, 20000);
	ns_slot_exit(ns_slot_get(&seg, idx));
	_exit(0);
}

TestSuite(slot, .init = setup, .fini = teardown);

Test(slot, synchronize_without_readers)
{
	uint64_t e = ns_seg_hdr(&seg)->epoch;

	cr_assert_eq(ns_slot_synchronize(&seg, 1000), 0);
	cr_assert_eq(ns_seg_hdr(&seg)->epoch, e + 1);
}

Test(slot, reader_in_other_process_holds_grace_period)
{
	int idx = ns_slot_assign(&seg, NS_ROLE_EXPORTER, 0), status;
	pid_t pid;

	cr_assert_geq(idx, 0);
	pid = spawn_reader((unsigned)idx, 0);
	cr_assert(wait_word(&ctl->entered, 1, 10000));
	cr_assert_eq(ns_slot_synchronize(&seg, 300), -ETIMEDOUT,
	    "synchronize returned while a reader was inside");
	ns_store_release(&ctl->release, 1);
	cr_assert_eq(ns_slot_synchronize(&seg, 10000), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(slot, killed_reader_blocks_until_cleared)
{
	int idx = ns_slot_assign(&seg, NS_ROLE_API, 0), status;
	pid_t pid;

	pid = spawn_reader((unsigned)idx, 1);
	cr_assert(wait_word(&ctl->entered, 1, 10000));
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status));
	cr_assert_eq(ns_slot_synchronize(&seg, 300), -ETIMEDOUT,
	    "a dead reader's slot must keep blocking");
	ns_slot_reader_died(&seg, (unsigned)idx);
	cr_assert_eq(ns_slot_get(&seg, idx)->state, NS_SLOT_ASSIGNED);
	cr_assert_eq(ns_slot_synchronize(&seg, 10000), 0);
}

Test(slot, dead_worker_blocks_until_recovered)
{
	int idx = ns_slot_assign(&seg, NS_ROLE_WORKER, 3);

	ns_slot_activate(&seg, (unsigned)idx);
	ns_slot_worker_died(&seg, (unsigned)idx);
	cr_assert_eq(ns_slot_get(&seg, idx)->state, NS_SLOT_DEAD_RECOVER);
	cr_assert_eq(ns_slot_synchronize(&seg, 200), -ETIMEDOUT);
	ns_slot_activate(&seg, (unsigned)idx);	/* successor rolled back */
	cr_assert_eq(ns_slot_synchronize(&seg, 10000), 0);
}

Test(slot, assign_runs_out)
{
	int i;

	for (i = 0; i < 6; i++)
		cr_assert_eq(ns_slot_assign(&seg, NS_ROLE_WORKER, i), i);
	cr_assert_eq(ns_slot_assign(&seg, NS_ROLE_WORKER, 6), -ENOSPC);
	ns_slot_release(&seg, 2);
	cr_assert_eq(ns_slot_assign(&seg, NS_ROLE_WORKER, 7), 2);
}

Test(slot, external_lease_reclaimed_after_death)
{
	char lockpath[64];
	struct ns_slot_lease lease;
	int lockfd, status;
	pid_t pid;

	snprintf(lockpath, sizeof(lockpath), "/tmp/ns-test-lock-%d",
	    (int)getpid());
	lockfd = open(lockpath, O_RDWR | O_CREAT, 0600);
	cr_assert_geq(lockfd, 0);
	if ((pid = fork()) == 0) {
		if (ns_slot_lease_external(&seg, lockpath, &lease) != 0)
			_exit(1);
		ns_slot_enter(&seg, lease.slot);
		ns_store_release(&ctl->entered, 1);
		for (;;)
			pause();
	}
	cr_assert(wait_word(&ctl->entered, 1, 10000));
	cr_assert_eq(ns_slot_get(&seg, 6)->state, NS_SLOT_EXTERNAL);
	cr_assert_eq(ns_slot_reap_external(&seg, lockfd), 0,
	    "a live tool's slot must not be reclaimed");
	cr_assert_eq(ns_slot_synchronize(&seg, 200), -ETIMEDOUT);
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(ns_slot_reap_external(&seg, lockfd), 1);
	cr_assert_eq(ns_slot_get(&seg, 6)->state, NS_SLOT_FREE);
	cr_assert_eq(ns_slot_synchronize(&seg, 10000), 0);
	/* Our own lease, released cleanly. */
	cr_assert_eq(ns_slot_lease_external(&seg, lockpath, &lease), 0);
	cr_assert_eq(lease.slot->state, NS_SLOT_EXTERNAL);
	ns_slot_lease_release(&lease);
	cr_assert_eq(ns_slot_get(&seg, lease.idx)->state, NS_SLOT_FREE);
	close(lockfd);
	unlink(lockpath);
}

/*
 * Reclamation stress: readers dereference the live buffer inside a read
 * section; the writer swaps buffers, synchronizes, then "frees" the old
 * one (alive = 0, values scribbled).  A reader that ever sees a freed
 * buffer counts a violation.
 */
static void
stress_reader(unsigned idx)
{
	struct ns_slot *s = ns_slot_get(&seg, idx);
	const struct buf *b;
	uint64_t v, n = 0;
	int k;

	ns_slot_activate(&seg, idx);
	__atomic_add_fetch(&ctl->entered, 1, __ATOMIC_RELEASE);
	while (!ns_load_acquire(&ctl->stop)) {
		ns_slot_enter(&seg, s);
		b = ns_seg_ptr(&seg, ns_load_acquire(&ctl->cur));
		for (k = 0; k < 20; k++) {
			v = ns_load_relaxed(&b->value[k % 7]);
			if (!ns_load_relaxed(&b->alive) || v == 0xdead)
				__atomic_add_fetch(&ctl->violations, 1,
				    __ATOMIC_RELAXED);
		}
		ns_slot_exit(s);
		/* Progress for the writer, which swaps until readers ran. */
		if ((++n & 255) == 0)
			__atomic_add_fetch(&ctl->reads, 256, __ATOMIC_RELAXED);
	}
	_exit(0);
}

Test(slot, reclaim_after_synchronize_stress, .timeout = 120)
{
	pid_t pids[2];
	int i, k, status, idx, swaps;
	unsigned cur = 0;
	struct buf *b;

	for (k = 0; k < 7; k++)
		ctl->buf[0].value[k] = k + 1;
	ctl->buf[0].alive = 1;
	ns_store_release(&ctl->cur, ns_seg_off(&seg, &ctl->buf[0]));
	for (i = 0; i < 2; i++) {
		idx = ns_slot_assign(&seg, NS_ROLE_EXPORTER, i);
		if ((pids[i] = fork()) == 0)
			stress_reader((unsigned)idx);
	}
	cr_assert(wait_word(&ctl->entered, 2, 10000), "readers did not start");
	for (i = 0; i < 2000 || ns_load_relaxed(&ctl->reads) < 100000; i++) {
		cr_assert_lt(i, 10000000, "readers make no progress");
		b = &ctl->buf[cur ^ 1];
		for (k = 0; k < 7; k++)
			ns_store_relaxed(&b->value[k], (uint64_t)i + k + 1);
		ns_store_relaxed(&b->alive, 1);
		/* Release: pairs with the readers' acquire of cur. */
		ns_store_release(&ctl->cur, ns_seg_off(&seg, b));
		cr_assert_eq(ns_slot_synchronize(&seg, 20000), 0);
		b = &ctl->buf[cur];
		ns_store_relaxed(&b->alive, 0);
		for (k = 0; k < 7; k++)
			ns_store_relaxed(&b->value[k], 0xdead);
		cur ^= 1;
	}
	swaps = i;
	ns_store_release(&ctl->stop, 1);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	cr_assert_eq(ctl->violations, 0, "%llu reads of freed data",
	    (unsigned long long)ctl->violations);
	cr_log_info("%d swaps, %llu reads", swaps,
	    (unsigned long long)ctl->reads);
}
