/*
 * persist_writer.c -- the probe's persistence writer process: ring in,
 * files out, a commit after every write (persist_writer.h says why).
 *
 * It ignores SIGINT and SIGTERM: stopping is the probe's business (a
 * Ctrl-C reaches the whole process group, and the probe still has
 * packets to hand over when it gets one).  The probe asks with the stop
 * word; a probe that dies unasked is noticed through PR_SET_PDEATHSIG
 * and getppid().  Either way the writer drains the ring, writes, closes
 * its file and exits 0.
 */
#include "persist_writer.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "clock.h"
#include "inject.h"
#include "log.h"

#define PW_BUF		(256 * 1024)	/* whole records per write, at most */
#define PW_WAIT_MS	200		/* longest sleep: idle and parent checks */
#define PW_OPEN_RETRY	1.0		/* s without a new file after a failure */

static_assert(sizeof(struct ns_persist_commit) % sizeof(uint64_t) == 0,
    "the commit entry is copied as 64-bit words");

struct pw {
	struct ns_persist_shared *sh;
	const struct ns_persist_wcfg *cfg;
	struct ns_pring_cons cons;
	struct ns_persist_commit cur;	/* the state the next commit stores */
	unsigned	 idx;		/* commit entry in use */
	int		 dirfd, fd;
	char		 name[NS_PERSIST_NAME_MAX]; /* of fd */
	uint8_t		*buf, *rec;	/* whole records to write; one record */
	size_t		 cap, used, reccap;
	uint64_t	 nbuf;		/* records in buf */
	uint64_t	 hdrlen;	/* a file's header bytes */
	double		 open_after;	/* monotonic: no new file before */
	struct ns_persist_files files;
};

/* ---- commit ------------------------------------------------------------ */

/* Everything consumed is in the files (or counted lost): say so. */
static void
pw_commit(struct pw *w)
{
	unsigned next = w->idx ^ 1, i;
	uint64_t *dst = (uint64_t *)&w->sh->commit[next];
	const uint64_t *src = (const uint64_t *)&w->cur;

	w->cur.tail = w->cons.tail;
	for (i = 0; i < sizeof(w->cur) / sizeof(uint64_t); i++)
		ns_store_relaxed(&dst[i], src[i]);
	/*
	 * Release, pairs with the acquire load of commit_idx in
	 * ns_persist_stats(): the entry is complete before the probe reads
	 * it.  (A successor writer reads it after waitpid() and fork(),
	 * which order everything; for a writer killed here, this store is
	 * also a compiler barrier, so the entry's stores come first in
	 * program order -- shm/atomic.h.)
	 */
	ns_store_release(&w->sh->commit_idx, next);
	w->idx = next;
	NS_INJECT("persist.after_commit");
	ns_pring_release(&w->cons, w->cur.tail);
}

/* ---- files ------------------------------------------------------------- */

static void
pw_error(struct pw *w, const char *what, const char *name, int err)
{
	uint64_t n = ++w->cur.errors;

	/* At the 1st, 2nd, 4th... error: a full disk must not flood logs. */
	if ((n & (n - 1)) == 0)
		log_warnx("persistence: %s %s: %s (%" PRIu64 " error%s)", what,
		    name, strerror(-err), n, n == 1 ? "" : "s");
}

static int
pw_write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		if ((k = write(fd, p, n)) == -1 && errno == EINTR)
			continue;
		if (k == -1)
			return -errno;
		if (k == 0)
			return -ENOSPC;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Remove the oldest files beyond max_files. */
static void
pw_trim(struct pw *w)
{
	unsigned n = ns_persist_files_excess(&w->files, w->cfg->max_files);

	for (unsigned i = 0; i < n; i++) {
		if (unlinkat(w->dirfd, w->files.f[i].name, 0) == 0)
			w->cur.removed++;
		else if (errno != ENOENT)
			log_warn("persistence: remove %s", w->files.f[i].name);
	}
	ns_persist_files_drop(&w->files, n);
}

static int
pw_create(struct pw *w, uint64_t t0, uint64_t *seqp)
{
	uint64_t seq = w->cur.next_seq;
	int fd = -1;

	/* A name taken (by hand, or a clock far behind) moves us on. */
	for (int tries = 0; tries < 100; tries++, seq++) {
		if (ns_persist_name(w->name, sizeof(w->name), t0, seq,
		    w->cfg->enc) != 0)
			return -EINVAL;
		fd = openat(w->dirfd, w->name,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	*seqp = seq;
	return fd >= 0 ? fd : -errno;
}

/* A new file for a record of time t0: created, headed, committed. */
static int
pw_open(struct pw *w, uint64_t t0)
{
	uint64_t seq;
	int fd, rc = 0;

	if (ns_mono_now() < w->open_after)
		return -EAGAIN;
	if ((fd = pw_create(w, t0, &seq)) < 0 ||
	    (rc = pw_write_all(fd, w->sh->pcap_hdr, w->hdrlen)) != 0) {
		rc = fd < 0 ? fd : rc;
		pw_error(w, "create", w->name, rc);
		if (fd >= 0) {
			close(fd);
			unlinkat(w->dirfd, w->name, 0);
		}
		w->open_after = ns_mono_now() + PW_OPEN_RETRY;
		return rc;
	}
	NS_INJECT("persist.after_create");
	w->fd = fd;
	w->cur.file_seq = seq;
	w->cur.file_t0 = t0;
	w->cur.file_off = w->hdrlen;
	w->cur.next_seq = seq + 1;
	if (ns_persist_files_add(&w->files, seq, w->name) != 0)
		log_warnx("persistence: out of memory: %s not counted for "
		    "max_files", w->name);
	pw_trim(w);
	pw_commit(w);
	log_info("persistence: writing %s", w->name);
	return 0;
}

/* A failed write: its records are lost, the file cut back to whole ones. */
static void
pw_write_failed(struct pw *w, int err)
{
	w->cur.lost += w->nbuf;
	pw_error(w, "write", w->name, err);
	if (ftruncate(w->fd, (off_t)w->cur.file_off) == 0 &&
	    lseek(w->fd, (off_t)w->cur.file_off, SEEK_SET) >= 0)
		return;
	log_warn("persistence: %s: cannot cut back to %" PRIu64 " bytes; "
	    "closing it", w->name, w->cur.file_off);
	close(w->fd);
	w->fd = -1;
	w->cur.file_off = 0;
}

/* Write the buffer, then commit what was consumed. */
static void
pw_flush(struct pw *w)
{
	int rc;

	if (w->used != 0) {
		if ((rc = pw_write_all(w->fd, w->buf, w->used)) == 0) {
			NS_INJECT("persist.after_write");
			w->cur.file_off += w->used;
			w->cur.written += w->nbuf;
		} else
			pw_write_failed(w, rc);
		w->used = 0;
		w->nbuf = 0;
	}
	if (w->cur.tail != w->cons.tail)
		pw_commit(w);
}

/* Close the current file (complete: only whole records were written). */
static void
pw_close(struct pw *w, bool rotation)
{
	pw_flush(w);
	if (w->fd < 0)
		return;
	if (close(w->fd) != 0)
		log_warn("persistence: close %s", w->name);
	NS_INJECT("persist.after_close");
	w->fd = -1;
	w->cur.file_off = 0;
	if (rotation)
		w->cur.rotated++;
	pw_commit(w);
}

/* ---- records ----------------------------------------------------------- */

static bool
pw_has_records(const struct pw *w)
{
	return w->cur.file_off + w->used > w->hdrlen;
}

static void
pw_put(struct pw *w, const struct ns_pring_rec *r)
{
	size_t n = ns_persist_encode(w->cfg->enc, r, w->rec, w->reccap);

	if (n == 0) {			/* longer than snaplen: a bug */
		w->cur.lost++;
		return;
	}
	if (w->fd >= 0 && ns_persist_rotate_due(&w->cfg->rot,
	    w->cur.file_off + w->used, pw_has_records(w), w->cur.file_t0, n,
	    r->ts_ns))
		pw_close(w, true);
	if (w->fd < 0 && pw_open(w, r->ts_ns) != 0) {
		w->cur.lost++;
		return;
	}
	if (w->used + n > w->cap)
		pw_flush(w);
	if (w->fd < 0) {		/* the flush failed and gave it up */
		w->cur.lost++;
		return;
	}
	memcpy(w->buf + w->used, w->rec, n);
	w->used += n;
	w->nbuf++;
}

/*
 * Records are consumed after they are put: a commit made while putting
 * one (a flush, a rotation) must not count it as written yet.
 */
static void
pw_drain(struct pw *w)
{
	const struct ns_pring_rec *r;

	while ((r = ns_pring_peek(&w->cons)) != NULL) {
		pw_put(w, r);
		ns_pring_consume(&w->cons);
	}
}

/* rotate_interval on an idle link: the file is closed all the same. */
static void
pw_idle(struct pw *w)
{
	struct ns_persist_rot rot = { 0, w->cfg->rot.interval };

	if (w->fd >= 0 && rot.interval != 0 &&
	    ns_persist_rotate_due(&rot, 0, pw_has_records(w), w->cur.file_t0,
	    0, ns_real_now_ns()))
		pw_close(w, true);
}

/* ---- start: take over from the committed state ------------------------- */

/* Files created after the last commit hold nothing committed. */
static void
pw_remove_orphans(struct pw *w)
{
	struct ns_persist_files *fl = &w->files;

	while (fl->n > 0 && fl->f[fl->n - 1].seq >= w->cur.next_seq) {
		if (unlinkat(w->dirfd, fl->f[fl->n - 1].name, 0) == 0)
			log_info("persistence: removed %s, created by the "
			    "writer before, never committed",
			    fl->f[fl->n - 1].name);
		fl->n--;
	}
}

/* The committed current file, cut back to its committed length. */
static void
pw_reopen(struct pw *w)
{
	off_t off = (off_t)w->cur.file_off;
	struct stat sb;
	int fd;

	if (ns_persist_name(w->name, sizeof(w->name), w->cur.file_t0,
	    w->cur.file_seq, w->cfg->enc) != 0 ||
	    (fd = openat(w->dirfd, w->name, O_WRONLY | O_CLOEXEC)) == -1) {
		log_warn("persistence: reopen %s", w->name);
		w->cur.file_off = 0;
		return;
	}
	if (fstat(fd, &sb) != 0 || sb.st_size < off ||
	    ftruncate(fd, off) != 0 || lseek(fd, off, SEEK_SET) != off) {
		log_warnx("persistence: %s is shorter than the %" PRIu64
		    " bytes written to it, or cannot be cut back; starting "
		    "a new file", w->name, w->cur.file_off);
		close(fd);
		w->cur.file_off = 0;
		return;
	}
	w->fd = fd;
	log_info("persistence: resuming %s at %" PRIu64 " bytes", w->name,
	    w->cur.file_off);
}

static void
pw_recover(struct pw *w, struct ns_pring *ring, int efd)
{
	const uint64_t *src;
	uint64_t *dst = (uint64_t *)&w->cur;
	unsigned i;
	int rc;

	/*
	 * Acquire, pairs with the release store of commit_idx in
	 * pw_commit() (a predecessor's; waitpid() and fork() order it too).
	 */
	w->idx = (unsigned)ns_load_acquire(&w->sh->commit_idx) & 1;
	src = (const uint64_t *)&w->sh->commit[w->idx];
	for (i = 0; i < sizeof(w->cur) / sizeof(uint64_t); i++)
		dst[i] = ns_load_relaxed(&src[i]);
	if ((rc = ns_persist_files_scan(&w->files, w->dirfd)) != 0)
		log_warnx("persistence: listing %s: %s; max_files counts "
		    "new files only", w->cfg->dir, strerror(-rc));
	if (w->cur.next_seq == 0)
		w->cur.next_seq = ns_persist_files_next_seq(&w->files);
	else
		pw_remove_orphans(w);
	if (w->cur.file_off != 0)
		pw_reopen(w);
	ns_pring_cons_init(&w->cons, ring, efd, w->cur.tail);
	pw_commit(w);
}

static void
pw_init(struct pw *w, struct ns_persist_shared *sh,
    const struct ns_persist_wcfg *cfg)
{
	memset(w, 0, sizeof(*w));
	w->sh = sh;
	w->cfg = cfg;
	w->fd = -1;
	w->hdrlen = cfg->enc == NS_CONFIG_ENC_TEXT ? 0 : NS_PERSIST_PCAP_HDR;
	w->reccap = cfg->enc == NS_CONFIG_ENC_TEXT ? NS_PERSIST_TEXT_MAX :
	    NS_PERSIST_PCAP_REC + (size_t)cfg->snaplen;
	w->cap = PW_BUF > 2 * w->reccap ? PW_BUF : 2 * w->reccap;
	if ((w->buf = malloc(w->cap)) == NULL ||
	    (w->rec = malloc(w->reccap)) == NULL) {
		log_warnx("persistence: out of memory");
		_exit(1);
	}
	w->dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd == -1) {
		log_warn("persistence: %s", cfg->dir);
		_exit(NS_PERSIST_EXIT_CONFIG);
	}
}

void
ns_persist_writer_main(struct ns_persist_shared *sh, struct ns_pring *ring,
    int efd, const struct ns_persist_wcfg *cfg)
{
	struct pw w;
	bool stop;

	pw_init(&w, sh, cfg);
	pw_recover(&w, ring, efd);
	do {
		/*
		 * Acquire, pairs with the release store of stop in
		 * ns_persist_stop(): every record published before it is
		 * visible to the drain below, which is then the last.
		 */
		stop = ns_load_acquire(&sh->stop) != 0 ||
		    getppid() != cfg->parent;
		pw_drain(&w);
		pw_flush(&w);
		pw_idle(&w);
		if (!stop)
			ns_pring_wait(&w.cons, PW_WAIT_MS);
	} while (!stop);
	pw_close(&w, false);
	_exit(0);
}
