/*
 * persist.c -- probe persistence, the probe's side (persist.h): the
 * directory, the shared ring and state, the writer process's birth,
 * death and restarts, and the counters.
 *
 * The first writer is forked before the probe connects to NATS, while
 * the probe is still one thread.  A replacement is forked from the
 * running probe, whose nats.c threads do not follow into the child; the
 * child touches none of their state, and glibc's fork() leaves malloc
 * and stdio usable there.  The child closes every descriptor but the
 * ring's eventfd (the capture socket, NATS's sockets) and ends with
 * _exit(), so no atexit handler of the probe's libraries runs twice.
 */
#include "persist.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "clock.h"
#include "log.h"
#include "persist_file.h"
#include "persist_writer.h"
#include "pring.h"

#define PERSIST_RING_MIN	(1ull << 20)
#define PERSIST_RING_MAX	(1ull << 30)
#define PERSIST_CHECK_EVERY	0.1	/* s between waitpid()s */
#define PERSIST_BACKOFF_MIN	0.1	/* s before the first restart */
#define PERSIST_BACKOFF_MAX	5.0
#define PERSIST_CRASH_WINDOW	60.0	/* s */
#define PERSIST_CRASH_MAX	5	/* deaths in the window: turned off */
#define PERSIST_STOP_WAIT	20.0	/* s for the last drain at exit */

struct ns_persist {
	struct ns_persist_wcfg wcfg;
	char		*dir;
	struct ns_persist_shared *sh;
	struct ns_pring	*ring;
	int		 efd;
	struct ns_pring_prod prod;
	enum ns_config_encoding enc;
	uint32_t	 max_caplen;
	pid_t		 pid;		/* the writer; 0: none running */
	bool		 disabled, stopping, finished;
	double		 check_at, restart_at;
	double		 deaths[PERSIST_CRASH_MAX]; /* the last ones, a ring */
	unsigned	 ndeaths;
	uint64_t	 ring_full, writer_down, crashes;
};

/* ---- the writer process -------------------------------------------------- */

static void
persist_on_usr1(int sig)
{
	(void)sig;		/* the probe died: poll() returns, see getppid */
}

static void __attribute__((noreturn))
persist_child(struct ns_persist *pp)
{
	struct sigaction sa;
	sigset_t none;

	/* Told when the probe dies; it may have died before the prctl. */
	prctl(PR_SET_PDEATHSIG, SIGUSR1);
	prctl(PR_SET_NAME, "ns-probe-persist");
	log_set_role("probe-persist");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = persist_on_usr1;	/* no SA_RESTART */
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (pp->efd > 3)
		close_range(3, (unsigned)pp->efd - 1, 0);
	close_range((unsigned)pp->efd + 1, ~0u, 0);
	ns_persist_writer_main(pp->sh, pp->ring, pp->efd, &pp->wcfg);
}

static int
persist_fork(struct ns_persist *pp)
{
	pid_t pid;

	fflush(NULL);		/* no buffered output written twice */
	if ((pid = fork()) == -1) {
		log_warn("persistence: fork");
		return -errno;
	}
	if (pid == 0)
		persist_child(pp);
	pp->pid = pid;
	log_debug("persistence: writer started, pid %d", (int)pid);
	return 0;
}

/* Frames published but never committed by a writer that is gone. */
static uint64_t
persist_ring_left(struct ns_persist *pp)
{
	struct ns_pring_cons c;
	unsigned idx;
	uint64_t n = 0;

	/* Acquire, pairs with the release of commit_idx in pw_commit(). */
	idx = (unsigned)ns_load_acquire(&pp->sh->commit_idx) & 1;
	ns_pring_cons_init(&c, pp->ring, -1,
	    ns_load_relaxed(&pp->sh->commit[idx].tail));
	while (ns_pring_peek(&c) != NULL) {
		ns_pring_consume(&c);
		n++;
	}
	return n;
}

static void
persist_disable(struct ns_persist *pp, const char *why)
{
	uint64_t left = persist_ring_left(pp);

	pp->disabled = true;
	pp->writer_down += left;
	log_warnx("persistence: %s; turned off for the rest of this run "
	    "(publishing goes on; %" PRIu64 " packets in the ring lost)", why,
	    left);
}

static void
persist_describe(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
}

/*
 * A writer died: restart it after a backoff that doubles with each death
 * in the last minute, or give up at PERSIST_CRASH_MAX of them.
 */
static void
persist_died(struct ns_persist *pp, pid_t pid, int status, double now)
{
	char how[96], why[160];
	unsigned k = 0, i;
	double delay;

	persist_describe(status, how, sizeof(how));
	pp->crashes++;
	pp->deaths[pp->ndeaths++ % PERSIST_CRASH_MAX] = now;
	for (i = 0; i < PERSIST_CRASH_MAX && i < pp->ndeaths; i++)
		k += now - pp->deaths[i] < PERSIST_CRASH_WINDOW;
	if (WIFEXITED(status) && WEXITSTATUS(status) == NS_PERSIST_EXIT_CONFIG) {
		snprintf(why, sizeof(why), "writer (pid %d) %s: it cannot "
		    "write to %s", (int)pid, how, pp->dir);
		persist_disable(pp, why);
		return;
	}
	if (k >= PERSIST_CRASH_MAX) {
		snprintf(why, sizeof(why), "writer (pid %d) %s: %u deaths "
		    "in %.0f s", (int)pid, how, k, PERSIST_CRASH_WINDOW);
		persist_disable(pp, why);
		return;
	}
	delay = PERSIST_BACKOFF_MIN * (double)(1u << (k - 1));
	if (delay > PERSIST_BACKOFF_MAX)
		delay = PERSIST_BACKOFF_MAX;
	pp->restart_at = now + delay;
	log_warnx("persistence: writer (pid %d) %s; restarting in %.1f s "
	    "(%u death%s in the last minute)", (int)pid, how, delay, k,
	    k == 1 ? "" : "s");
}

static void
persist_reap(struct ns_persist *pp, double now)
{
	pid_t pid = pp->pid;
	int status;

	if (pid == 0 || waitpid(pid, &status, WNOHANG) != pid)
		return;
	pp->pid = 0;
	if (pp->stopping && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		pp->finished = true;
		return;
	}
	persist_died(pp, pid, status, now);
}

/* ---- start ---------------------------------------------------------------- */

/* mkdir -p, then: a directory we can write to. */
static int
persist_mkdirs(const char *path)
{
	char buf[PATH_MAX];
	struct stat sb;
	size_t i;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (i = 1; buf[i] != '\0'; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0750) != 0 && errno != EEXIST)
			return -errno;
		buf[i] = '/';
	}
	if (mkdir(buf, 0750) != 0 && errno != EEXIST)
		return -errno;
	if (stat(buf, &sb) != 0)
		return -errno;
	if (!S_ISDIR(sb.st_mode))
		return -ENOTDIR;
	return access(buf, W_OK | X_OK) != 0 ? -errno : 0;
}

static int
persist_shared(struct ns_persist *pp, const struct ns_config_probe *cfg,
    int dlt)
{
	const uint64_t n = cfg->persistence.channel_buffer_size;
	uint64_t size;
	int rc;

	pp->sh = mmap(NULL, sizeof(*pp->sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pp->sh == MAP_FAILED) {
		pp->sh = NULL;
		return -errno;
	}
	if (pp->enc == NS_CONFIG_ENC_PCAP && (rc = ns_persist_pcap_header(dlt,
	    cfg->snaplen, pp->sh->pcap_hdr)) != 0)
		return rc;
	size = ns_pring_size_for(n, pp->max_caplen, PERSIST_RING_MIN,
	    PERSIST_RING_MAX);
	if ((rc = ns_pring_create(size, &pp->ring, &pp->efd)) != 0)
		return rc;
	ns_pring_prod_init(&pp->prod, pp->ring, pp->efd);
	return 0;
}

static void
persist_log_start(const struct ns_persist *pp, const struct ns_config_probe *c)
{
	char size[32], every[32], ring[32];

	ns_config_format_size(c->persistence.rotate_size, size, sizeof(size));
	ns_config_format_duration(c->persistence.rotate_interval, every,
	    sizeof(every));
	ns_config_format_size(pp->ring->size, ring, sizeof(ring));
	log_info("persistence: %s files in %s, rotated at %s and every %s, "
	    "at most %u files (0: no limit); a %s ring; writer pid %d",
	    pp->enc == NS_CONFIG_ENC_TEXT ? "text" : "pcap", pp->dir,
	    c->persistence.rotate_size ? size : "no size",
	    c->persistence.rotate_interval ? every : "never",
	    c->persistence.max_files, ring, (int)pp->pid);
}

int
ns_persist_start(struct ns_persist **ppp, const struct ns_config_probe *cfg,
    int dlt)
{
	struct ns_persist *pp;
	int rc;

	*ppp = NULL;
	if (!cfg->persistence.enabled)
		return 0;
	if ((pp = calloc(1, sizeof(*pp))) == NULL ||
	    (pp->dir = strdup(cfg->persistence.path)) == NULL) {
		free(pp);
		return -ENOMEM;
	}
	pp->efd = -1;
	/* gob is read as pcap by the config loader; any other is pcap. */
	pp->enc = cfg->persistence.encoding == NS_CONFIG_ENC_TEXT ?
	    NS_CONFIG_ENC_TEXT : NS_CONFIG_ENC_PCAP;
	pp->max_caplen = pp->enc == NS_CONFIG_ENC_TEXT ?
	    (uint32_t)sizeof(struct ns_record) : cfg->snaplen;
	if ((rc = persist_mkdirs(pp->dir)) != 0)
		log_warnx("persistence: %s: %s", pp->dir, strerror(-rc));
	else if ((rc = persist_shared(pp, cfg, dlt)) != 0)
		log_warnx("persistence: setting up: %s", strerror(-rc));
	if (rc != 0) {
		ns_persist_free(pp);
		return rc;
	}
	pp->wcfg = (struct ns_persist_wcfg){
		.dir = pp->dir, .enc = pp->enc,
		.rot = { cfg->persistence.rotate_size,
		    cfg->persistence.rotate_interval },
		.max_files = cfg->persistence.max_files,
		.snaplen = cfg->snaplen, .parent = getpid(),
	};
	if ((rc = persist_fork(pp)) != 0) {
		ns_persist_free(pp);
		return rc;
	}
	persist_log_start(pp, cfg);
	*ppp = pp;
	return 0;
}

/* ---- the capture path ------------------------------------------------------ */

/*
 * One captured frame: its bytes (pcap) or its parsed record (text; NULL
 * for a frame the parser did not take).  Never waits.
 */
void
ns_persist_packet(struct ns_persist *pp, uint64_t ts_ns, uint32_t caplen,
    uint32_t wirelen, const uint8_t *data, const struct ns_record *rec)
{
	struct ns_pring_rec *r;
	const void *src;
	uint32_t n;

	if (pp->disabled) {
		pp->writer_down++;
		return;
	}
	if (pp->enc == NS_CONFIG_ENC_TEXT) {
		src = rec;
		n = rec != NULL ? (uint32_t)sizeof(*rec) : 0;
	} else {
		src = data;
		n = caplen < pp->max_caplen ? caplen : pp->max_caplen;
	}
	if ((r = ns_pring_reserve(&pp->prod, n)) == NULL) {
		pp->ring_full++;
		return;
	}
	r->ts_ns = ts_ns;
	r->wirelen = wirelen;
	if (n != 0)
		memcpy(r->data, src, n);
	ns_pring_publish(&pp->prod);
}

/* After a batch of packets: wake the writer if it sleeps. */
void
ns_persist_kick(struct ns_persist *pp)
{
	if (!pp->disabled)
		ns_pring_kick(&pp->prod);
}

/* From the probe's loop: reap a dead writer, start the next one. */
void
ns_persist_check(struct ns_persist *pp)
{
	double now = ns_mono_now();

	if (now < pp->check_at)
		return;
	pp->check_at = now + PERSIST_CHECK_EVERY;
	persist_reap(pp, now);
	if (pp->pid == 0 && !pp->disabled && !pp->finished &&
	    now >= pp->restart_at && persist_fork(pp) != 0)
		pp->restart_at = now + PERSIST_BACKOFF_MAX;
}

/* ---- stop --------------------------------------------------------------------- */

static void
persist_kill(struct ns_persist *pp)
{
	int status;

	log_warnx("persistence: writer (pid %d) still busy after %.0f s; "
	    "killing it", (int)pp->pid, PERSIST_STOP_WAIT);
	kill(pp->pid, SIGKILL);
	waitpid(pp->pid, &status, 0);
	pp->pid = 0;
	pp->crashes++;
	pp->writer_down += persist_ring_left(pp);
}

/*
 * At exit, after the last packet: the writer drains the ring, closes its
 * file and exits.  A writer that dies meanwhile is replaced as usual.
 * 0, or -ETIMEDOUT when it had to be killed.
 */
int
ns_persist_stop(struct ns_persist *pp)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	double deadline = ns_mono_now() + PERSIST_STOP_WAIT;

	pp->stopping = true;
	/*
	 * Release, pairs with the acquire load of stop in the writer's
	 * loop (ns_persist_writer_main): every record we published is
	 * visible to the drain it does after seeing stop.
	 */
	ns_store_release(&pp->sh->stop, 1);
	ns_pring_wake(&pp->prod);
	while (!pp->finished && !(pp->disabled && pp->pid == 0)) {
		if (ns_mono_now() > deadline) {
			if (pp->pid != 0)
				persist_kill(pp);
			else
				pp->writer_down += persist_ring_left(pp);
			return -ETIMEDOUT;
		}
		pp->check_at = 0;
		ns_persist_check(pp);
		nanosleep(&tick, NULL);
	}
	return 0;
}

/* ---- counters ----------------------------------------------------------------- */

/* While the writer runs the figures are a moment's; after stop, final. */
void
ns_persist_stats(const struct ns_persist *pp, struct ns_persist_stats *st)
{
	const struct ns_persist_commit *c;
	unsigned idx;

	/* Acquire, pairs with the release of commit_idx in pw_commit(). */
	idx = (unsigned)ns_load_acquire(&pp->sh->commit_idx) & 1;
	c = &pp->sh->commit[idx];
	memset(st, 0, sizeof(*st));
	st->written = ns_load_relaxed(&c->written);
	st->write_error = ns_load_relaxed(&c->lost);
	st->errors = ns_load_relaxed(&c->errors);
	st->rotated = ns_load_relaxed(&c->rotated);
	st->removed = ns_load_relaxed(&c->removed);
	st->ring_full = pp->ring_full;
	st->writer_down = pp->writer_down;
	st->crashes = pp->crashes;
	st->disabled = pp->disabled;
}

/*
 * "persisted W, persist dropped D ring_full=N, write errors E, files
 * rotated R, removed M, writer crashes C": drop reasons only when not 0,
 * as the probe's other drops.
 */
int
ns_persist_stats_format(const struct ns_persist_stats *st, char *buf,
    size_t len)
{
	const uint64_t drops[3] = {
		st->ring_full, st->write_error, st->writer_down
	};
	static const char *const names[3] = {
		"ring_full", "write_error", "writer_down"
	};
	char why[128] = "";
	size_t n = 0;
	int i;

	for (i = 0; i < 3; i++)
		if (drops[i] != 0 && n < sizeof(why))
			n += (size_t)snprintf(why + n, sizeof(why) - n,
			    " %s=%" PRIu64, names[i], drops[i]);
	return snprintf(buf, len, "persisted %" PRIu64 ", persist dropped %"
	    PRIu64 "%s, write errors %" PRIu64 ", files rotated %" PRIu64
	    ", removed %" PRIu64 ", writer crashes %" PRIu64 "%s",
	    st->written, drops[0] + drops[1] + drops[2], why, st->errors,
	    st->rotated, st->removed, st->crashes,
	    st->disabled ? ", persistence off" : "");
}

/* The writer process running now; 0 between a death and its restart. */
pid_t
ns_persist_writer_pid(const struct ns_persist *pp)
{
	return pp->pid;
}

void
ns_persist_free(struct ns_persist *pp)
{
	if (pp == NULL)
		return;
	if (pp->sh != NULL)
		munmap(pp->sh, sizeof(*pp->sh));
	ns_pring_destroy(pp->ring, pp->efd);
	free(pp->dir);
	free(pp);
}
