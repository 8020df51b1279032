/*
 * daemon.c -- netspectrad: pidfile, daemonizing, the named segment, the
 * roles of a live run, readiness, and the graceful stop.
 *
 * SIGTERM asks every capture to end (its input's stop word): each puts the
 * end of the input into its rings, the workers drain them, the exporter
 * writes the last period's final snapshot to every writer, and all exit
 * 0; so does the supervisor.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "alerter.h"
#include "analyze.h"
#include "api.h"
#include "atomic.h"
#include "capture.h"
#include "clickhouse.h"
#include "engine.h"
#include "exporter.h"
#include "file.h"
#include "gen.h"
#include "journal.h"
#include "clock.h"
#include "log.h"
#include "nats_input.h"
#include "nats_writer.h"
#include "privsep.h"
#include "prometheus.h"
#include "ring.h"
#include "slot.h"
#include "supervisor.h"
#include "worker.h"

/* ---- pidfile and daemonizing ------------------------------------------- */

/* Open, lock and fill the pidfile; the lock lives as long as we do. */
static int
pidfile_take(const char *path)
{
	char buf[32], dir[4096], *slash;
	int fd, n;

	/* Its directory (/run/netspectra) may be gone after a reboot. */
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		(void)mkdir(dir, 0755);
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1) {
		log_warn("pidfile %s", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		n = (int)read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		log_warnx("already running (pidfile %s, pid %s)", path,
		    strtok(buf, "\n") ? buf : "?");
		close(fd);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || write(fd, buf, (size_t)n) != n) {
		log_warn("pidfile %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

static int
daemonize(void)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) == -1)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (setsid() == -1)
		return -errno;
	if ((pid = fork()) == -1)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0)
		return -errno;
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return 0;
}

/* systemd's readiness protocol, when NOTIFY_SOCKET is set. */
static void
sd_notify_msg(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sa.sun_path))
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';	/* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	(void)sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa, len);
	close(fd);
}

/* ---- the exporter's sink: the configured file writers ----------------- */

static int
files_period(void *arg, const struct ns_engine *e, uint64_t g,
    uint64_t period_start, int first)
{
	(void)arg;
	(void)first;
	/* Spooled, not sent: the generation is released at once. */
	ns_ch_spool_final_all(e, g, period_start);
	ns_natsw_spool_final_all(e, g, period_start);
	return ns_file_write_all(e, g, period_start, 1, NULL);
}

/*
 * Between period ends: each writer whose snapshot_interval has passed
 * gets the live period so far (final: false), in the directory its final
 * snapshot will replace.
 */
static double files_last[2][NS_CONFIG_MAX_WRITERS];

static int
files_due(const struct ns_engine *e, const struct ns_config_writer *w,
    int sketch, unsigned i)
{
	const struct ns_config_aggregator *agg = &e->cfg->aggregator;
	double now = ns_mono_now();

	if (w->snapshot_interval >= agg->period ||
	    now - files_last[sketch][i] < (double)w->snapshot_interval / 1e9)
		return 0;
	files_last[sketch][i] = now;
	return 1;
}

static int
files_live(void *arg, const struct ns_engine *e, uint64_t g,
    uint64_t period_start)
{
	(void)arg;
	return ns_file_write_all(e, g, period_start, 0, files_due);
}

static int
files_end(void *arg, const struct ns_engine *e)
{
	(void)arg;
	(void)e;
	return 0;
}

/* ---- roles -------------------------------------------------------------- */

static void __attribute__((noreturn))
role_capture(struct ns_engine *e, const struct ns_child *c)
{
	const struct ns_config_input *in = c->arg;

	if (in->type == NS_CONFIG_INPUT_FILE) {
		struct ns_capture_files f = { &in->path, 1, 0 };

		ns_capture_files_main(e, c->index, &f);
	}
	if (in->type == NS_CONFIG_INPUT_NATS)
		ns_natsin_main(e, c->index, in);
	ns_capture_live_main(e, c->index, in, c->restarts);
}

static struct ns_privsep daemon_privsep;

/*
 * systemd's watchdog: WATCHDOG=1 at half the interval it asks for.  The
 * supervisor's loop turns at least once a second, so intervals down to
 * 2 s are kept.
 */
static void
daemon_tick(struct ns_supervisor *s)
{
	static double every = -1, last;
	const char *usec;
	double now = ns_mono_now();

	(void)s;
	if (every < 0) {
		usec = getenv("WATCHDOG_USEC");
		every = usec != NULL ? strtod(usec, NULL) / 2e6 : 0;
	}
	if (every > 0 && now - last >= every) {
		sd_notify_msg("WATCHDOG=1");
		last = now;
	}
}

/*
 * An input runs at a higher priority than the rest of the daemon (nice
 * DAEMON_INPUT_BOOST lower).  It drains the kernel's buffer, the smallest
 * store on the packet path (a 4 MiB buffer is 25 ms at 800 kpps), and
 * costs little; the workers behind it have their rings to ride out a
 * wait.  As equals, a worker's time slice on the capture's CPU overflowed
 * a small buffer: live-bench with 1 MiB at 800 kpps, 2 workers, lost
 * packets in 3 of 3 runs, none in 6 with the capture at nice -5 or -10.
 * Best effort: root may, another user needs RLIMIT_NICE (the systemd
 * unit's LimitNICE).
 */
#define DAEMON_INPUT_BOOST	10

static void
daemon_input_priority(void)
{
	int cur, want;

	errno = 0;
	cur = getpriority(PRIO_PROCESS, 0);
	if (cur == -1 && errno != 0)
		return;
	want = cur - DAEMON_INPUT_BOOST < -20 ? -20 : cur - DAEMON_INPUT_BOOST;
	if (setpriority(PRIO_PROCESS, 0, want) == -1)
		log_info("cannot raise the input's priority to nice %d: %s "
		    "(LimitNICE=%d in a systemd unit allows it)", want,
		    strerror(errno), want);
}

/*
 * In every child: an input's priority raised while it may, then become
 * daemon.user (a capture keeps its two caps).
 */
static void
daemon_child_init(struct ns_supervisor *s, const struct ns_child *c)
{
	(void)s;
	if (c->role == NS_ROLE_CAPTURE)
		daemon_input_priority();
	ns_privsep_drop(&daemon_privsep, c->role == NS_ROLE_CAPTURE);
}

/* SIGTERM: every input ends, the rest drains. */
static void
daemon_stop(struct ns_supervisor *s)
{
	unsigned i;

	sd_notify_msg("STOPPING=1");
	for (i = 0; i < s->e->ninputs; i++)
		ns_store_relaxed(&ns_engine_input(s->e, i)->stop, 1);
	for (i = 0; i < s->nchildren; i++)
		if (s->child[i].role == NS_ROLE_CAPTURE && s->child[i].pid > 0)
			kill(s->child[i].pid, SIGTERM);
}

static int
add_roles(struct ns_supervisor *sup, struct ns_engine *e,
    const struct ns_config *cfg, struct ns_sink *sink)
{
	char name[16];
	unsigned i;
	int rc;

	for (i = 0; i < cfg->ninputs; i++) {
		snprintf(name, sizeof(name), "ns-capture-%u", i % 1000u);
		if ((rc = ns_supervisor_add(sup, name, NS_ROLE_CAPTURE, i,
		    role_capture, (void *)&cfg->inputs[i])) != 0)
			return rc;
	}
	for (i = 0; i < e->nworkers; i++) {
		snprintf(name, sizeof(name), "ns-worker-%u", i % 100000u);
		if ((rc = ns_supervisor_add(sup, name, NS_ROLE_WORKER, i,
		    ns_worker_child, NULL)) != 0)
			return rc;
	}
	for (i = 0; i < NS_EXPORT_WRITERS; i++) {
		if (ns_ch_writer(cfg, i) == NULL || (i < NS_CONFIG_MAX_WRITERS ?
		    e->ntasks : e->nsketches) == 0)
			continue;
		if ((rc = ns_supervisor_add(sup, "ns-export-ch", NS_ROLE_EXPORTER,
		    i, ns_ch_child, NULL)) != 0)
			return rc;
	}
	for (i = 0; i < NS_EXPORT_WRITERS; i++) {
		if (ns_natsw_writer(cfg, i) == NULL ||
		    (i < NS_CONFIG_MAX_WRITERS ? e->ntasks : e->nsketches) == 0)
			continue;
		if ((rc = ns_supervisor_add(sup, "ns-export-nats",
		    NS_ROLE_EXPORTER, i, ns_natsw_child, NULL)) != 0)
			return rc;
	}
	if (cfg->api.enabled && (rc = ns_supervisor_add(sup, "ns-api",
	    NS_ROLE_API, 0, ns_api_child, NULL)) != 0)
		return rc;
	/* An exporter's role: a reload re-forks it with the new rules. */
	if (cfg->alerter.enabled && (rc = ns_supervisor_add(sup, "ns-alert",
	    NS_ROLE_EXPORTER, 0, ns_alerter_child, NULL)) != 0)
		return rc;
	if (cfg->prometheus.enabled && (rc = ns_supervisor_add(sup,
	    "ns-export-prom", NS_ROLE_EXPORTER, 1, ns_prometheus_child,
	    NULL)) != 0)
		return rc;
	return ns_supervisor_add(sup, "ns-export-files", NS_ROLE_EXPORTER, 0,
	    ns_exporter_child, sink);
}

/* Drops by layer, once more at the end: what an operator checks first. */
static void
daemon_report_drops(const struct ns_engine *e)
{
	uint64_t full = 0, table_full = 0;
	unsigned i, w, t;

	for (i = 0; i < e->ninputs; i++) {
		const struct ns_input_state *st = ns_engine_input(e, i);

		log_info("input %u: kernel received %" PRIu64 ", kernel drops %"
		    PRIu64, i, st->kernel_recv, st->kernel_drops);
		for (w = 0; w < e->nworkers; w++)
			full += ns_load_relaxed(&ns_engine_ring(e, i, w)->full);
	}
	for (w = 0; w < e->nworkers; w++)
		for (t = 0; t < e->ntasks; t++)
			table_full += ns_engine_wstats(e, w)->task[t].table_full;
	log_info("drops: ring_full %" PRIu64 ", table_full %" PRIu64, full,
	    table_full);
	for (t = 0; t < e->ntasks; t++) {
		uint64_t p = 0, b = 0;

		for (w = 0; w < e->nworkers; w++) {
			p += ns_engine_wstats(e, w)->task[t].packets;
			b += ns_engine_wstats(e, w)->task[t].bytes;
		}
		log_info("task %s: lifetime packets %" PRIu64 ", bytes %"
		    PRIu64, e->tasks[t].name, p, b);
	}
}

/*
 * A segment of another configuration: write what its live generation holds
 * to that configuration's writers, so a layout change loses nothing.
 */
static void
export_old_state(const char *name)
{
	static struct ns_engine old;
	struct ns_config ocfg;
	struct ns_jctx jc;
	uint64_t root, start;
	unsigned w;
	int rc;

	if ((rc = ns_engine_open_segment(&old, &ocfg, name, 0)) != 0) {
		if (rc == -EBADMSG || rc == -EPROTO)
			log_warnx("%s: %s; its state is dropped", name,
			    ns_engine_open_strerror(rc));
		return;
	}
	/* A killed worker's open batch first. */
	for (w = 0; w < old.nworkers; w++)
		if (ns_journal_attach(&jc, &old.seg, w) == 0)
			(void)ns_journal_recover(&jc);
	root = ns_gen_root(&old.seg);
	start = ns_gen_info(&old.seg, root)->period_start_ns;
	if (start != NS_ENGINE_END && start != 0 &&
	    files_period(NULL, &old, root, start, 0) == 0)
		log_info("layout changed: wrote the old configuration's "
		    "current period (generation %" PRIu64 ") to its writers",
		    root);
	else
		log_info("layout changed: the old state had nothing unwritten");
	ns_engine_close(&old);
	ns_config_free(&ocfg);
}

/*
 * The named segment: an earlier run's with this layout is taken over with
 * every counter in it; one of another configuration is exported first,
 * then replaced.
 */
static int
daemon_segment(struct ns_engine *e, const char *name)
{
	int rc = ns_engine_create_named(e, name);

	if (rc == -EEXIST) {
		if ((rc = ns_engine_reattach(e, name)) == 0) {
			log_info("reattached the shared memory segment %s: "
			    "counters continue", name);
			return 0;
		}
		log_info("shared memory segment %s has another layout (%s): "
		    "exporting its state, then starting afresh", name,
		    strerror(-rc));
		export_old_state(name);
		ns_seg_unlink(name);
		rc = ns_engine_create_named(e, name);
	}
	if (rc != 0)
		log_warnx("shared memory %s (%" PRIu64 " bytes): %s", name,
		    e->shm_bytes, strerror(-rc));
	return rc;
}

/*
 * SIGHUP: reopen the log, read the configuration again; one with the same
 * layout replaces the running one (writers, intervals: the exporter is
 * restarted to take them), one with another layout is refused.
 */
static void
daemon_reload(struct ns_supervisor *s)
{
	const struct ns_daemon_opts *o = s->arg;
	struct ns_config *cfg = (struct ns_config *)s->e->cfg, ncfg;
	static struct ns_engine probe;
	char err[8192];
	unsigned i;
	int rc;

	sd_notify_msg("RELOADING=1");
	if (!o->foreground)
		log_to_syslog(cfg->daemon.log_facility);
	log_info("reloading %s", o->config);
	if ((rc = ns_config_load(o->config, &ncfg, err, sizeof(err))) != 0) {
		/* Only a parse error fills err; a missing file said "?". */
		if (rc != -EINVAL)
			snprintf(err, sizeof(err), "%s: %s", o->config,
			    strerror(-rc));
		log_warnx("reload refused: %s is not valid: %s", o->config,
		    strtok(err, "\n") ? err : "?");
		sd_notify_msg("READY=1");
		return;
	}
	if (ns_engine_init(&probe, &ncfg, ncfg.ninputs, err, sizeof(err)) != 0 ||
	    ns_engine_layout_hash(&probe) != s->e->layout_hash) {
		log_warnx("reload refused: the new configuration changes the "
		    "layout (inputs, workers, tasks, sizes); restart "
		    "netspectrad to apply it");
	} else if (!ns_ch_same_writers(cfg, &ncfg)) {
		log_warnx("reload refused: the new configuration adds, removes "
		    "or retargets a clickhouse writer (server, database, "
		    "table_prefix, node, spool_dir); restart netspectrad to "
		    "apply it");
	} else if (!ns_natsw_same_writers(cfg, &ncfg)) {
		log_warnx("reload refused: the new configuration adds, removes "
		    "or moves a nats writer or its spool_dir; restart "
		    "netspectrad to apply it");
	} else {
		/* Same layout: same tasks at the same places; swap it in. */
		ns_config_free(cfg);
		*cfg = ncfg;
		memset(&ncfg, 0, sizeof(ncfg));
		for (i = 0; i < s->nchildren; i++)
			if (s->child[i].role == NS_ROLE_EXPORTER &&
			    s->child[i].pid > 0)
				kill(s->child[i].pid, SIGTERM);
		log_info("reloaded: writers and intervals apply from now");
	}
	free(probe.config_text);
	probe.config_text = NULL;
	ns_config_free(&ncfg);
	sd_notify_msg("READY=1");
}

int
ns_daemon_run(struct ns_config *cfg, const struct ns_daemon_opts *o)
{
	static struct ns_supervisor sup;
	static struct ns_engine e;
	struct ns_sink sink = { files_period, files_end, NULL, NULL,
	    files_live };
	const char *pidfile = o->pidfile ? o->pidfile : cfg->daemon.pidfile;
	char err[512];
	int rc, pfd;

	if ((rc = ns_engine_init(&e, cfg, cfg->ninputs, err, sizeof(err))) != 0) {
		log_warnx("%s", err);
		return 1;
	}
	if (!o->foreground) {
		log_to_syslog(cfg->daemon.log_facility);
		if ((rc = daemonize()) != 0) {
			log_warnx("daemonize: %s", strerror(-rc));
			return 1;
		}
	}
	/* From the pid file on, a SIGTERM means a clean stop (init_files.sh
	 * once sent one before the supervisor ran and got exit 143). */
	ns_supervisor_catch_signals();
	if ((pfd = pidfile_take(pidfile)) < 0)
		return 1;
	if (daemon_segment(&e, cfg->daemon.shm_name) != 0) {
		unlink(pidfile);
		return 1;
	}
	/*
	 * The daemon's group runs netspectra status and top; top writes its
	 * reader slot, so the group may write.  Keep that group to operators.
	 */
	if (fchmod(e.seg.fd, 0660) != 0)
		log_warn("chmod of the shared memory segment");
	ns_supervisor_init(&sup, &e);
	sup.child_init = daemon_child_init;
	if (ns_privsep_init(&daemon_privsep, cfg->daemon.user,
	    cfg->daemon.group) == 0 && daemon_privsep.drop) {
		/* The children map it already; this is for a later start
		 * as that user (systemd) and for its tools. */
		if (fchown(e.seg.fd, daemon_privsep.uid, daemon_privsep.gid) != 0)
			log_warn("chown of the shared memory segment");
		log_info("children run as %s", daemon_privsep.user);
	}
	ns_ch_spool_prepare(cfg, daemon_privsep.drop, daemon_privsep.uid,
	    daemon_privsep.gid);
	ns_natsw_spool_prepare(cfg, daemon_privsep.drop, daemon_privsep.uid,
	    daemon_privsep.gid);
	snprintf(err, sizeof(err), "/dev/shm%s.lock", cfg->daemon.shm_name);
	if ((sup.lockfd = open(err, O_RDWR | O_CREAT | O_CLOEXEC, 0660)) == -1 ||
	    fchmod(sup.lockfd, 0660) != 0)
		log_warn("%s: readers killed in a read section will not be "
		    "reclaimed", err);
	else if (daemon_privsep.drop &&
	    fchown(sup.lockfd, daemon_privsep.uid, daemon_privsep.gid) != 0)
		log_warn("chown %s", err);
	sup.stop = daemon_stop;
	sup.reload = daemon_reload;
	sup.tick = daemon_tick;
	sup.arg = (void *)o;
	if ((rc = add_roles(&sup, &e, cfg, &sink)) == 0) {
		sd_notify_msg("READY=1");
		log_info("started: %u input(s), %u worker(s), %u exact and %u "
		    "sketch task(s)", e.ninputs, e.nworkers, e.ntasks,
		    e.nsketches);
		rc = ns_supervisor_run(&sup);
	}
	daemon_report_drops(&e);
	log_info(rc == 0 ? "stopped" : "stopped with errors");
	/* The segment stays: the next start takes its counters over. */
	ns_engine_close(&e);
	unlink(pidfile);
	close(pfd);
	return rc == 0 ? 0 : 1;
}
