/*
 * log.c -- role-tagged logging to stderr or syslog.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

static const char *log_progname = "netspectra";
static char log_rolebuf[32] = "main";
static enum ns_log_level log_level = NS_LOG_INFO;
static int log_syslog;

void
log_init(const char *progname, const char *role, enum ns_log_level level)
{
	log_progname = progname;
	log_set_role(role);
	log_level = level;
}

void
log_set_role(const char *role)
{
	snprintf(log_rolebuf, sizeof(log_rolebuf), "%s", role);
}

void
log_set_level(enum ns_log_level level)
{
	log_level = level;
}

void
log_to_syslog(int facility)
{
	openlog(log_progname, LOG_PID | LOG_NDELAY, facility);
	log_syslog = 1;
}

const char *
log_role(void)
{
	return log_rolebuf;
}

static void
log_vwrite(enum ns_log_level lvl, int with_errno, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char msg[1024];
	int saved = errno;

	if (lvl > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		size_t n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	if (log_syslog)
		syslog(prio[lvl], "[%s] %s", log_rolebuf, msg);
	else
		fprintf(stderr, "%s[%s]: %s\n", log_progname, log_rolebuf, msg);
	errno = saved;
}

#define LOG_FN(name, lvl, witherr)				\
void name(const char *fmt, ...)					\
{								\
	va_list ap;						\
	va_start(ap, fmt);					\
	log_vwrite(lvl, witherr, fmt, ap);			\
	va_end(ap);						\
}

LOG_FN(log_warn, NS_LOG_WARN, 1)
LOG_FN(log_warnx, NS_LOG_WARN, 0)
LOG_FN(log_info, NS_LOG_INFO, 0)
LOG_FN(log_debug, NS_LOG_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(NS_LOG_ERR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(NS_LOG_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
