/*
 * privsep.h -- dropping root in the daemon's children.
 */
#ifndef NS_PRIVSEP_H
#define NS_PRIVSEP_H

#include <stdint.h>
#include <sys/types.h>

struct ns_privsep {
	int	 drop;		/* started as root and the user exists */
	uid_t	 uid;
	gid_t	 gid;
	char	 user[64];
};

/*
 * Look the configured user and group up when running as root.  0, or
 * -ENOENT (logged) when the user does not exist: then nothing is dropped.
 */
int	 ns_privsep_init(struct ns_privsep *, const char *user,
	    const char *group);
/*
 * Become the user.  keep_capture: keep CAP_NET_RAW and CAP_NET_ADMIN (and
 * nothing else), for a capture process that opens its interface after.
 * Exits NS_EXIT_NORESPAWN if it cannot.
 */
void	 ns_privsep_drop(const struct ns_privsep *, int keep_capture);

#endif /* NS_PRIVSEP_H */
