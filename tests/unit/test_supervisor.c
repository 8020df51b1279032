/*
 * test_supervisor.c -- restarts: a child that dies is forked again until
 * it finishes.  In a run with a crash_loop limit (an offline run), or
 * once a graceful stop has begun, one that dies at every start is given
 * up, ending the run with an error and killing the others; SIGKILLs,
 * which come from outside, count apart against three times the limit.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "clock.h"
#include "engine.h"
#include "log.h"
#include "segment.h"
#include "slot.h"
#include "supervisor.h"

static struct ns_engine e;
static uint64_t *starts;	/* forks of the first child that ran */

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

/* ---- children: each counts its start, then dies or finishes */

#define ALWAYS	((void *)UINTPTR_MAX)	/* a child's arg: every start */

/* Exits 3 at its first c->arg starts, then finishes. */
static __attribute__((noreturn)) void
die_first(struct ns_engine *eng, const struct ns_child *c)
{
	(void)eng;
	_exit(ns_add_fetch(starts, 1) <= (uintptr_t)c->arg ? 3 : 0);
}

/* Killed at its first c->arg starts, then finishes. */
static __attribute__((noreturn)) void
killed_first(struct ns_engine *eng, const struct ns_child *c)
{
	(void)eng;
	if (ns_add_fetch(starts, 1) <= (uintptr_t)c->arg)
		raise(SIGKILL);
	_exit(0);
}

/* Exits 3 at every start but the sixth, where it is killed. */
static __attribute__((noreturn)) void
killed_between(struct ns_engine *eng, const struct ns_child *c)
{
	(void)eng;
	(void)c;
	if (ns_add_fetch(starts, 1) == 6)
		raise(SIGKILL);
	_exit(3);
}

/*
 * Lives 6.5 s at its first start (well past the 5 s that make a death
 * quick), then dies at once nine times, then finishes: the slow death
 * only ends a run of quick ones.
 */
static __attribute__((noreturn)) void
slow_then_quick(struct ns_engine *eng, const struct ns_child *c)
{
	struct timespec ts = { 6, 500000000 };

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

/* Asks its supervisor to stop, then dies at every start. */
static __attribute__((noreturn)) void
stop_then_die(struct ns_engine *eng, const struct ns_child *c)
{
	(void)eng;
	(void)c;
	if (ns_add_fetch(starts, 1) == 1)
		kill(getppid(), SIGTERM);
	_exit(3);
}

/* A healthy child: runs until killed. */
static __attribute__((noreturn)) void
run_forever(struct ns_engine *eng, const struct ns_child *c)
{
	(void)eng;
	(void)c;
	for (;;)
		pause();
}

/* ---- runs */

/* A graceful stop that lets the children go on: a daemon's, draining. */
static void
stop_noop(struct ns_supervisor *s)
{
	(void)s;
}

static int
run_limit(ns_child_main fn, void *arg, struct ns_supervisor *s,
    unsigned crash_loop)
{
	ns_supervisor_init(s, &e);
	s->crash_loop = crash_loop;
	cr_assert_eq(ns_supervisor_add(s, "ns-test-0", NS_ROLE_EXPORTER, 0,
	    fn, arg), 0);
	return ns_supervisor_run(s);
}

/* The first child finished with status after nstarts starts. */
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

/* A child alone under a limit: how the run ends, after how many starts. */
static const struct sup_case {
	const char	*what;
	ns_child_main	 fn;
	void		*arg;		/* the child's */
	unsigned	 crash_loop;
	int		 rc;		/* of ns_supervisor_run() */
	int		 status;	/* the child's, finished */
	uint64_t	 nstarts;
} cases[] = {
	{ "a child dying at every start is given up after ten starts",
	    die_first, ALWAYS, NS_SUP_CRASH_LOOP, -EINVAL, NS_EXIT_NORESPAWN,
	    10 },
	{ "a child that recovers finishes", die_first, (void *)3,
	    NS_SUP_CRASH_LOOP, 0, 0, 4 },
	{ "crash_loop 0 (the daemon) never gives a child up", die_first,
	    (void *)11, 0, 0, 0, 12 },
	{ "eleven kill -9 from outside are not ten failures", killed_first,
	    (void *)11, NS_SUP_CRASH_LOOP, 0, 0, 12 },
	{ "SIGKILLs have their own limit, three times crash_loop",
	    killed_first, ALWAYS, 3, -EINVAL, NS_EXIT_NORESPAWN, 9 },
	{ "a SIGKILL does not break a run of failures: the tenth failure, "
	    "the eleventh start, gives up", killed_between, NULL,
	    NS_SUP_CRASH_LOOP, -EINVAL, NS_EXIT_NORESPAWN, 11 },
	{ "a death after 5 s starts the count of quick ones over",
	    slow_then_quick, NULL, NS_SUP_CRASH_LOOP, 0, 0, 11 },
};

/* Indices, not the cases: the runner may start the test in a fresh
 * process, where pointers of this one mean nothing. */
ParameterizedTestParameters(supervisor, one_child)
{
	static unsigned idx[sizeof(cases) / sizeof(cases[0])];
	unsigned i;

	for (i = 0; i < sizeof(idx) / sizeof(idx[0]); i++)
		idx[i] = i;
	return cr_make_param_array(unsigned, idx,
	    sizeof(idx) / sizeof(idx[0]));
}

ParameterizedTest(unsigned *i, supervisor, one_child)
{
	static struct ns_supervisor s;
	const struct sup_case *c = &cases[*i];

	cr_assert_eq(run_limit(c->fn, c->arg, &s, c->crash_loop), c->rc,
	    "%s", c->what);
	assert_ended(&s, c->status, c->nstarts);
}

Test(supervisor, giving_up_kills_the_others)
{
	static struct ns_supervisor s;
	double t0 = ns_mono_now();

	ns_supervisor_init(&s, &e);
	s.crash_loop = NS_SUP_CRASH_LOOP;
	cr_assert_eq(ns_supervisor_add(&s, "ns-test-0", NS_ROLE_EXPORTER, 0,
	    die_first, ALWAYS), 0);
	cr_assert_eq(ns_supervisor_add(&s, "ns-test-1", NS_ROLE_CAPTURE, 0,
	    run_forever, NULL), 0);
	cr_assert_eq(ns_supervisor_run(&s), -EINVAL);
	assert_ended(&s, NS_EXIT_NORESPAWN, 10);
	/* Killed and reaped, not finished, and not waited for. */
	cr_assert_eq(s.child[1].pid, 0);
	cr_assert_not(s.child[1].finished);
	cr_assert_lt(ns_mono_now() - t0, 30.0);
}

Test(supervisor, stopping_gives_a_crash_loop_up)
{
	static struct ns_supervisor s;

	/* No limit (the daemon), but a stop has begun: a child dying at
	 * every start would keep the stop from ever ending. */
	ns_supervisor_init(&s, &e);
	s.stop = stop_noop;
	cr_assert_eq(ns_supervisor_add(&s, "ns-test-0", NS_ROLE_EXPORTER, 0,
	    stop_then_die, NULL), 0);
	cr_assert_eq(ns_supervisor_run(&s), -EINVAL);
	cr_assert(s.stopping);
	/* Its first start asked for the stop; ten deaths after that, at
	 * most, counted from the one it was in. */
	assert_ended(&s, NS_EXIT_NORESPAWN, 10);
}
