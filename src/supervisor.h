/*
 * supervisor.h -- the supervisor: forks every role into a fixed slot of the
 * slot table and re-forks whatever dies, into the same slot, with backoff.
 *
 * It owns nothing but the children and their slots: it never reads or
 * writes flow data (PostgreSQL's postmaster rule), so a bug in data
 * handling cannot take it down.
 */
#ifndef NS_SUPERVISOR_H
#define NS_SUPERVISOR_H

#include <sys/types.h>

#include "engine.h"

#define NS_EXIT_NORESPAWN	2	/* a child's "configuration error" */

struct ns_child;
typedef void (*ns_child_main)(struct ns_engine *, const struct ns_child *)
    __attribute__((noreturn));

struct ns_child {
	char		 name[16];	/* process name: "ns-worker-0" */
	uint32_t	 role;		/* enum ns_slot_role */
	unsigned	 index;
	unsigned	 slot;
	ns_child_main	 main;
	void		*arg;
	/* supervisor state */
	pid_t		 pid;
	int		 finished;	/* exited 0 or 2, or given up */
	int		 status;	/* its exit code when finished (a child
					 * given up: NS_EXIT_NORESPAWN) */
	unsigned	 restarts;
	unsigned	 quick;		/* deaths in a row soon after a start */
	unsigned	 quick_killed;	/* of them by SIGKILL, counted apart */
	double		 started;	/* monotonic seconds */
	double		 backoff;	/* seconds before the next fork */
	double		 due;		/* when to fork again */
};

struct ns_supervisor {
	struct ns_engine *e;
	struct ns_child	 child[NS_CONFIG_MAX_INPUTS + 64];
	unsigned	 nchildren;
	/*
	 * Set for a graceful stop (the daemon): the first SIGTERM or SIGINT
	 * calls it and lets the children drain and finish; a second one
	 * kills them.  NULL: the first one kills them (an offline run).
	 */
	void		(*stop)(struct ns_supervisor *);
	int		 stopping;
	/* Called first in every child, when set (dropping privileges). */
	void		(*child_init)(struct ns_supervisor *, const struct ns_child *);
	/* SIGHUP, when set: reload what can change live. */
	void		(*reload)(struct ns_supervisor *);
	void		*arg;		/* the caller's, for stop and reload */
	int		 lockfd;	/* external slots' lock file, or -1 */
	/* Called at every turn of the loop (at least once a second). */
	void		(*tick)(struct ns_supervisor *);
	/*
	 * Quick deaths in a row (each within 5 s of the start) after which
	 * a child is given up, ending the run (SIGKILLs: three times as
	 * many); 0: never, until a graceful stop begins.  An offline run
	 * sets it, as a child dying at every start (a corrupt trace record
	 * that crashes every worker) would keep it from ever ending.  The
	 * daemon does not: it keeps re-forking every 2 s, as other inputs
	 * may still be monitored, and /metrics counts the restarts.
	 */
	unsigned	 crash_loop;
};

#define NS_SUP_CRASH_LOOP	10	/* an offline run's crash_loop */

void	 ns_supervisor_init(struct ns_supervisor *, struct ns_engine *);
/* Give a role a slot; 0 or -ENOSPC. */
int	 ns_supervisor_add(struct ns_supervisor *, const char *name,
	    uint32_t role, unsigned index, ns_child_main, void *arg);
/*
 * Fork every child and supervise until all have finished.  0 when each
 * exited 0; -EINVAL when one exited NS_EXIT_NORESPAWN or was given up
 * (the others are killed); -EINTR on SIGINT or SIGTERM (the children
 * are killed: an offline run keeps nothing).
 */
int	 ns_supervisor_run(struct ns_supervisor *);
/*
 * Install the supervisor's handlers now (ns_supervisor_run does too): a
 * stop or reload asked for while the caller is still setting up is then
 * remembered, and acted on when the run starts, not fatal.
 */
void	 ns_supervisor_catch_signals(void);

#endif /* NS_SUPERVISOR_H */
