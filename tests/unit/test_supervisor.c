/*
 * test_supervisor.c -- restarts: a child that dies is forked again until
 * it finishes, and, in a run with a crash_loop limit (an offline run),
 * one that dies at every start is given up, ending the run with an error
 * instead of being forked for ever -- unless it is killed from outside
 * (SIGKILL).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "engine.h"
#include "log.h"
#include "segment.h"
#include "slot.h"
#include "supervisor.h"

static struct ns_engine e;
static uint64_t *starts;	/* forks that ran, shared with the children */

static void
setup(void)
{
	struct ns_seg_layout lay;

	log_init("test", "test", NS_LOG_ERR);
	memset(&e, 0, sizeof(e));
	ns_seg_layout_init(&lay, 1);
	ns_seg_layout_set(&lay, NS_SEG_SLOTS, ns_slot_shm_size(4, 0));
	ns_seg_layout_finish(&lay);
	cr_assert_eq(ns_seg_create_private(&e.seg, &lay), 0);
	cr_assert_eq(ns_slot_shm_init(&e.seg, 4, 0), 0);
	ns_seg_publish(&e.seg);
	starts = mmap(NULL, sizeof(*starts), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(starts, MAP_FAILED);
	*starts = 0;
}

static void
teardown(void)
{
	munmap(starts, sizeof(*starts));
	ns_seg_detach(&e.seg);
}

/* Dies at every start. */
static __attribute__((noreturn)) void
die_always(struct ns_engine *eng, const struct ns_child *c)
{
	(void)eng;
	(void)c;
	ns_add_fetch(starts, 1);
	_exit(3);
}

/* Dies at its first three starts, then finishes. */
static __attribute__((noreturn)) void
die_thrice(struct ns_engine *eng, const struct ns_child *c)
{
	(void)eng;
	(void)c;
	_exit(ns_add_fetch(starts, 1) <= 3 ? 3 : 0);
}

/* Killed at its first eleven starts, then finishes. */
static __attribute__((noreturn)) void
killed_often(struct ns_engine *eng, const struct ns_child *c)
{
	(void)eng;
	(void)c;
	if (ns_add_fetch(starts, 1) <= 11)
		raise(SIGKILL);
	_exit(0);
}

/*
 * Lives 5.5 s at its first start, then dies at once nine times, then
 * finishes: the slow death only ends a run of quick ones.
 */
static __attribute__((noreturn)) void
slow_then_quick(struct ns_engine *eng, const struct ns_child *c)
{
	struct timespec ts = { 5, 500000000 };

	(void)eng;
	(void)c;
	switch (ns_add_fetch(starts, 1)) {
	case 1:
		nanosleep(&ts, NULL);
		_exit(3);
	case 11:
		_exit(0);
	default:
		_exit(3);
	}
}

static int
run_one(ns_child_main fn, struct ns_supervisor *s)
{
	ns_supervisor_init(s, &e);
	s->crash_loop = NS_SUP_CRASH_LOOP;
	cr_assert_eq(ns_supervisor_add(s, "ns-test-0", NS_ROLE_EXPORTER, 0,
	    fn, NULL), 0);
	return ns_supervisor_run(s);
}

/* The child finished with status after nstarts starts. */
static void
assert_ended(const struct ns_supervisor *s, int status, uint64_t nstarts)
{
	cr_assert(s->child[0].finished);
	cr_assert_eq(s->child[0].status, status);
	cr_assert_eq(s->child[0].pid, 0);
	cr_assert_eq(ns_load_relaxed(starts), nstarts);
	cr_assert_eq(s->child[0].restarts, nstarts - 1);
}

TestSuite(supervisor, .init = setup, .fini = teardown, .timeout = 60);

Test(supervisor, crash_loop_is_given_up)
{
	static struct ns_supervisor s;

	cr_assert_eq(run_one(die_always, &s), -EINVAL,
	    "a child dying at every start must end the run with an error");
	/* Ten deaths: the first start and nine restarts, no more. */
	assert_ended(&s, NS_EXIT_NORESPAWN, 10);
}

Test(supervisor, child_that_recovers_finishes)
{
	static struct ns_supervisor s;

	cr_assert_eq(run_one(die_thrice, &s), 0);
	assert_ended(&s, 0, 4);
}

Test(supervisor, sigkill_is_no_crash_loop)
{
	static struct ns_supervisor s;

	cr_assert_eq(run_one(killed_often, &s), 0,
	    "kill -9 from outside is not the child's failure");
	assert_ended(&s, 0, 12);
}

Test(supervisor, slow_death_starts_the_count_over)
{
	static struct ns_supervisor s;

	cr_assert_eq(run_one(slow_then_quick, &s), 0,
	    "a death after 5 s must not count as quick");
	assert_ended(&s, 0, 11);
}
