/*
 * daemon.h -- netspectrad's run: the engine over the configured inputs in
 * a named shared-memory segment, supervised until SIGTERM.
 */
#ifndef NS_DAEMON_H
#define NS_DAEMON_H

#include "config.h"

struct ns_daemon_opts {
	int		 foreground;	/* -f: no fork, log to stderr */
	const char	*pidfile;	/* -p, else the config's */
	const char	*config;	/* the file, read again on SIGHUP */
};

/*
 * The exit status: 0 after a clean stop, 1 on errors.  cfg is replaced by
 * a SIGHUP that reloads it.
 */
int	 ns_daemon_run(struct ns_config *, const struct ns_daemon_opts *);

#endif /* NS_DAEMON_H */
