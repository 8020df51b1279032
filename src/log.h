/*
 * log.h -- role-tagged logging for every netspectra process (DESIGN §8).
 *
 * Every line carries the role of the process that wrote it ("supervisor",
 * "capture-0", "worker-3", "cli", ...).  Output goes to stderr, or to syslog
 * once log_to_syslog() was called (daemon mode).
 */
#ifndef NS_LOG_H
#define NS_LOG_H

#include <stdarg.h>

enum ns_log_level { NS_LOG_ERR = 0, NS_LOG_WARN, NS_LOG_INFO, NS_LOG_DEBUG };

void log_init(const char *progname, const char *role, enum ns_log_level level);
void log_set_role(const char *role);
void log_set_level(enum ns_log_level level);
void log_to_syslog(int facility);
const char *log_role(void);

/* log_warn appends strerror(errno); log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fatal/fatalx log and exit(1); children rely on the supervisor to cope. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif /* NS_LOG_H */
