/*
 * supervisor.c -- forking, reaping and re-forking the roles.
 *
 * Signal handlers only set flags; the loop sleeps in pselect() with the
 * signals unblocked only there, and reaps with waitpid(WNOHANG).  A child
 * that dies is forked again into the same slot: a worker's slot is first
 * marked DEAD_RECOVER, so grace periods wait until its successor has
 * rolled back the batch it left open.
 */
#include "supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "atomic.h"
#include "log.h"
#include "slot.h"

#define BACKOFF_MIN	0.01	/* seconds */
#define BACKOFF_MAX	2.0
#define STABLE_AFTER	5.0	/* a child up this long starts backoff over */

static volatile sig_atomic_t sup_chld, sup_stop, sup_hup;

static void
sup_on_signal(int sig)
{
	if (sig == SIGCHLD)
		sup_chld = 1;
	else if (sig == SIGHUP)
		sup_hup = 1;
	else
		sup_stop = 1;
}

void
ns_supervisor_init(struct ns_supervisor *s, struct ns_engine *e)
{
	memset(s, 0, sizeof(*s));
	s->e = e;
	s->lockfd = -1;
}

int
ns_supervisor_add(struct ns_supervisor *s, const char *name, uint32_t role,
    unsigned index, ns_child_main fn, void *arg)
{
	struct ns_child *c;
	int slot;

	if (s->nchildren == sizeof(s->child) / sizeof(s->child[0]))
		return -ENOSPC;
	if ((slot = ns_slot_assign(&s->e->seg, role, index)) < 0)
		return slot;
	c = &s->child[s->nchildren++];
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->role = role;
	c->index = index;
	c->slot = (unsigned)slot;
	c->main = fn;
	c->arg = arg;
	return 0;
}

/* In the child: become the role. */
static void
sup_child(struct ns_supervisor *s, struct ns_child *c, pid_t parent,
    const sigset_t *mask)
{
	/* Die with the supervisor; it may have died before the prctl. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(1);
	prctl(PR_SET_NAME, c->name);
	log_set_role(c->name + 3);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	/* Ctrl-C reaches the whole process group: stopping is the
	 * supervisor's business, as is SIGHUP. */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigprocmask(SIG_SETMASK, mask, NULL);
	if (s->child_init != NULL)
		s->child_init(s, c);
	/* A worker goes active only after rolling back its journal. */
	if (c->role != NS_ROLE_WORKER)
		ns_slot_activate(&s->e->seg, c->slot);
	c->main(s->e, c);
}

static int
sup_fork(struct ns_supervisor *s, struct ns_child *c, const sigset_t *mask)
{
	pid_t parent = getpid(), pid;

	fflush(NULL);		/* no buffered output written twice */
	if ((pid = fork()) == -1) {
		log_warn("fork %s", c->name);
		return -errno;
	}
	if (pid == 0)
		sup_child(s, c, parent, mask);
	c->pid = pid;
	c->started = ns_mono_now();
	return 0;
}

static struct ns_child *
sup_find(struct ns_supervisor *s, pid_t pid)
{
	unsigned i;

	for (i = 0; i < s->nchildren; i++)
		if (s->child[i].pid == pid)
			return &s->child[i];
	return NULL;
}

/* "ns-worker-0 (pid 42) killed by signal 11" and what follows. */
static void
sup_log_death(const struct ns_child *c, pid_t pid, int status,
    const char *then)
{
	if (WIFSIGNALED(status))
		log_warnx("%s (pid %d) killed by signal %d%s", c->name,
		    (int)pid, WTERMSIG(status), then);
	else
		log_warnx("%s (pid %d) exited with %d%s", c->name, (int)pid,
		    WEXITSTATUS(status), then);
}

/*
 * A quick death of c (within STABLE_AFTER of its start): 1 if it makes a
 * crash loop, and c is given up -- finished with NS_EXIT_NORESPAWN, which
 * ends the run.  The limit is s->crash_loop, and NS_SUP_CRASH_LOOP once
 * a graceful stop has begun: a worker dying at every start would never
 * drain its ring, and the stop never end.  Deaths of the child's own
 * making (an exit status, a signal other than SIGKILL) count against the
 * limit; SIGKILLs come from outside (an operator, the kill tests, the
 * OOM killer) and count apart, against three times the limit, so that a
 * child the OOM killer takes at every start still ends an offline run.
 * The slot stays as the death left it: the run ends, and the next one
 * resets the slots.
 */
static int
sup_crash_loop(struct ns_supervisor *s, struct ns_child *c, pid_t pid,
    int status)
{
	char then[96];
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	unsigned limit = s->crash_loop != 0 ? s->crash_loop :
	    s->stopping ? NS_SUP_CRASH_LOOP : 0;

	if (sig == SIGKILL)
		c->quick_killed++;
	else
		c->quick++;
	if (limit == 0 || (c->quick < limit && c->quick_killed < 3 * limit))
		return 0;
	snprintf(then, sizeof(then), ", %u times in a row within %.0f s of "
	    "its start: giving up", sig == SIGKILL ? c->quick_killed :
	    c->quick, STABLE_AFTER);
	sup_log_death(c, pid, status, then);
	c->finished = 1;
	c->status = NS_EXIT_NORESPAWN;
	return 1;
}

/* A child died: finished, or due for a new fork into its slot. */
static void
sup_reaped(struct ns_supervisor *s, struct ns_child *c, int status)
{
	double now = ns_mono_now();
	pid_t pid = c->pid;

	c->pid = 0;
	if (WIFEXITED(status) && (WEXITSTATUS(status) == 0 ||
	    WEXITSTATUS(status) == NS_EXIT_NORESPAWN)) {
		c->finished = 1;
		c->status = WEXITSTATUS(status);
		ns_slot_release(&s->e->seg, c->slot);
		return;
	}
	if (c->role == NS_ROLE_WORKER)
		ns_slot_worker_died(&s->e->seg, c->slot);
	else
		ns_slot_reader_died(&s->e->seg, c->slot);
	if (now - c->started > STABLE_AFTER)
		c->backoff = c->quick = c->quick_killed = 0;
	else if (sup_crash_loop(s, c, pid, status))
		return;
	sup_log_death(c, pid, status, "; restarting");
	c->backoff = c->backoff == 0 ? BACKOFF_MIN : c->backoff * 2;
	if (c->backoff > BACKOFF_MAX)
		c->backoff = BACKOFF_MAX;
	c->due = now + c->backoff;
	c->restarts++;
	/* Control data, for the metrics: not flow data. */
	ns_store_relaxed(&ns_slot_get(&s->e->seg, c->slot)->spare[0],
	    c->restarts);
}

/* NS_CPU_REPORT set: each process's CPU time, for the benchmarks. */
static void
sup_cpu_report(const struct ns_child *c, const struct rusage *ru)
{
	if (getenv("NS_CPU_REPORT") == NULL)
		return;
	fprintf(stderr, "cpu %s: user %.3f s, sys %.3f s\n", c->name,
	    (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6,
	    (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6);
}

static void
sup_reap(struct ns_supervisor *s)
{
	struct ns_child *c;
	pid_t pid;
	int status;

	struct rusage ru;

	while ((pid = wait4(-1, &status, WNOHANG, &ru)) > 0)
		if ((c = sup_find(s, pid)) != NULL) {
			sup_cpu_report(c, &ru);
			sup_reaped(s, c, status);
		}
}

/* Fork what is due; how long until the next one is (or 1 s). */
static double
sup_spawn_due(struct ns_supervisor *s, const sigset_t *mask)
{
	double now = ns_mono_now(), wait = 1.0;
	unsigned i;

	for (i = 0; i < s->nchildren; i++) {
		struct ns_child *c = &s->child[i];

		if (c->finished || c->pid != 0)
			continue;
		if (c->due <= now) {
			if (sup_fork(s, c, mask) != 0)
				c->due = now + BACKOFF_MAX;
		} else if (c->due - now < wait)
			wait = c->due - now;
	}
	return wait;
}

static int
sup_all_finished(const struct ns_supervisor *s, int *failed)
{
	unsigned i;

	*failed = 0;
	for (i = 0; i < s->nchildren; i++) {
		if (!s->child[i].finished)
			return 0;
		*failed |= s->child[i].status != 0;
	}
	return 1;
}

/* A child that must not be re-forked failed: the run cannot go on. */
static int
sup_gave_up(const struct ns_supervisor *s)
{
	unsigned i;

	for (i = 0; i < s->nchildren; i++)
		if (s->child[i].finished &&
		    s->child[i].status == NS_EXIT_NORESPAWN)
			return 1;
	return 0;
}

static void
sup_kill_all(struct ns_supervisor *s)
{
	unsigned i;
	int status;

	for (i = 0; i < s->nchildren; i++)
		if (s->child[i].pid > 0) {
			kill(s->child[i].pid, SIGKILL);
			waitpid(s->child[i].pid, &status, 0);
			s->child[i].pid = 0;
		}
}

void
ns_supervisor_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sup_on_signal;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int
ns_supervisor_run(struct ns_supervisor *s)
{
	sigset_t block, orig;
	struct timespec ts;
	double wait;
	int failed;

	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &orig);
	ns_supervisor_catch_signals();
	for (;;) {
		sup_reap(s);
		/* A tool killed in a read section must not stall the grace
		 * periods: its lock is gone, so its slot is freed. */
		if (s->lockfd >= 0)
			ns_slot_reap_external(&s->e->seg, s->lockfd);
		if (s->tick != NULL)
			s->tick(s);
		if (sup_hup) {
			sup_hup = 0;
			if (s->reload != NULL && !s->stopping)
				s->reload(s);
		}
		if (sup_stop && s->stop != NULL && !s->stopping) {
			log_info("stopping: draining the rings, writing the "
			    "final snapshots");
			s->stopping = 1;
			sup_stop = 0;
			s->stop(s);
		}
		if (sup_stop) {
			sup_kill_all(s);
			sigprocmask(SIG_SETMASK, &orig, NULL);
			return -EINTR;
		}
		if (sup_all_finished(s, &failed) || sup_gave_up(s)) {
			sup_kill_all(s);
			failed |= sup_gave_up(s);
			break;
		}
		wait = sup_spawn_due(s, &orig);
		ts.tv_sec = (time_t)wait;
		ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
		sup_chld = 0;
		/* Signals are deliverable only inside pselect: no lost wakeup. */
		pselect(0, NULL, NULL, NULL, &ts, &orig);
	}
	sigprocmask(SIG_SETMASK, &orig, NULL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	return failed ? -EINVAL : 0;
}
