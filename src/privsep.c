/*
 * privsep.c -- dropping root in the daemon's children.
 *
 * When netspectrad starts as root, every child becomes daemon.user right
 * after the fork: workers and the exporter with no capability at all, a
 * capture process with CAP_NET_RAW and CAP_NET_ADMIN only (it opens its
 * interface after the drop, and again when it is re-forked).  Under
 * systemd the unit already starts it as that user with just those two
 * capabilities, and nothing here applies.
 */
#include "privsep.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "supervisor.h"

int
ns_privsep_init(struct ns_privsep *p, const char *user, const char *group)
{
	struct passwd *pw;
	struct group *gr;

	memset(p, 0, sizeof(*p));
	if (geteuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		log_info("user %s does not exist: the processes keep running "
		    "as root", user);
		return -ENOENT;
	}
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	if (group != NULL && group[0] != '\0' && (gr = getgrnam(group)) != NULL)
		p->gid = gr->gr_gid;
	snprintf(p->user, sizeof(p->user), "%s", user);
	p->drop = p->uid != 0;	/* daemon.user: root keeps root */
	return 0;
}

/* Permitted and effective: only what a capture needs. */
static int
keep_net_caps(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	uint32_t want = 1u << CAP_NET_RAW | 1u << CAP_NET_ADMIN;

	memset(d, 0, sizeof(d));
	d[0].permitted = d[0].effective = want;
	return (int)syscall(SYS_capset, &h, d);
}

void
ns_privsep_drop(const struct ns_privsep *p, int keep_capture)
{
	if (!p->drop)
		return;
	if (keep_capture && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
		goto fail;
	if (setgroups(1, &p->gid) != 0 || setresgid(p->gid, p->gid, p->gid) != 0 ||
	    setresuid(p->uid, p->uid, p->uid) != 0)
		goto fail;
	if (keep_capture && keep_net_caps() != 0)
		goto fail;
	/* No way back: a process that could regain root must not exist. */
	if (setuid(0) == 0)
		fatalx("could still become root after dropping to %s", p->user);
	return;
fail:
	log_warn("dropping privileges to %s", p->user);
	exit(NS_EXIT_NORESPAWN);
}
