/*
 * clickhouse.c -- the ClickHouse writer: snapshots into the spool, and
 * ns-export-ch, which delivers the spool (clickhouse.h).
 *
 * Why everything goes through the spool: the period exporter must release
 * a closed generation at once, whatever ClickHouse does, so the final
 * snapshot is written to local disk first; and one path for every batch
 * means one order of delivery and one place where losses are counted.
 * Rows are TabSeparated with times as unix seconds, which ClickHouse reads
 * the same in every server time zone.
 */
#include "clickhouse.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "chclient.h"
#include "chschema.h"
#include "clock.h"
#include "exporter.h"
#include "gen.h"
#include "log.h"
#include "slot.h"
#include "snapshot.h"
#include "spool.h"
#include "supervisor.h"

#define CH_PATH_MAX	4096
#define CH_BACKOFF_MIN	0.2		/* seconds before a retry */
#define CH_BACKOFF_MAX	5.0
#define CH_REFUSALS	5		/* of one batch before it is rejected */

/* ---- writers ------------------------------------------------------------ */

const struct ns_config_writer *
ns_ch_writer(const struct ns_config *cfg, unsigned id)
{
	const struct ns_config_aggregator *a = &cfg->aggregator;
	unsigned i = id % NS_CONFIG_MAX_WRITERS;
	const struct ns_config_writer *w;

	if (id >= NS_EXPORT_WRITERS)
		return NULL;
	if (id < NS_CONFIG_MAX_WRITERS)
		w = i < a->exact.nwriters ? &a->exact.writers[i] : NULL;
	else
		w = i < a->sketch.nwriters ? &a->sketch.writers[i] : NULL;
	return w != NULL && w->enabled &&
	    w->type == NS_CONFIG_WRITER_CLICKHOUSE ? w : NULL;
}

const char *
ns_ch_writer_name(unsigned id, char *buf, size_t len)
{
	snprintf(buf, len, "%s.%u", id < NS_CONFIG_MAX_WRITERS ? "exact" :
	    "sketch", id % NS_CONFIG_MAX_WRITERS);
	return buf;
}

int
ns_ch_spool_dir(const struct ns_config *cfg, unsigned id, char *buf,
    size_t len)
{
	const struct ns_config_writer *w = ns_ch_writer(cfg, id);
	char name[32];
	int n;

	if (w == NULL)
		return -EINVAL;
	ns_ch_writer_name(id, name, sizeof(name));
	if (w->clickhouse.spool_dir[0] != '\0')
		n = snprintf(buf, len, "%s/%s", w->clickhouse.spool_dir, name);
	else
		n = snprintf(buf, len, "%s/spool/%s", cfg->daemon.state_dir,
		    name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static struct ns_export_wstats *
ch_stats(const struct ns_engine *e, unsigned id)
{
	return &ns_engine_export(e)->writer[id];
}

/* A counter with one writing process: plain load, add, store. */
static void
ch_count(uint64_t *cell, uint64_t n)
{
	ns_store_relaxed(cell, ns_load_relaxed(cell) + n);
}

int
ns_ch_counts(const struct ns_engine *e, unsigned id, struct ns_ch_counts *c)
{
	if (ns_ch_writer(e->cfg, id) == NULL)
		return -ENOENT;
	ns_writer_counts(ch_stats(e, id), c);
	return 0;
}

void
ns_writer_counts(const struct ns_export_wstats *ws, struct ns_ch_counts *c)
{
	c->spooled = ns_load_relaxed(&ws->final_rows) +
	    ns_load_relaxed(&ws->live_rows);
	c->sent = ns_load_relaxed(&ws->sent_rows);
	c->dropped = ns_load_relaxed(&ws->final_dropped) +
	    ns_load_relaxed(&ws->live_dropped) +
	    ns_load_relaxed(&ws->rejected_rows);
	c->skipped = ns_load_relaxed(&ws->live_skipped);
	c->errors = ns_load_relaxed(&ws->errors);
	c->spool_bytes = ns_load_relaxed(&ws->spool_bytes);
	c->spool_files = ns_load_relaxed(&ws->spool_files);
	c->last_ok_ns = ns_load_relaxed(&ws->last_ok_ns);
}

/* ---- the spool directory ------------------------------------------------ */


void
ns_ch_spool_prepare(const struct ns_config *cfg, int drop, uid_t uid,
    gid_t gid)
{
	char dir[CH_PATH_MAX], *slash;
	unsigned id;
	int rc;

	for (id = 0; id < NS_EXPORT_WRITERS; id++) {
		if (ns_ch_spool_dir(cfg, id, dir, sizeof(dir)) != 0)
			continue;
		if ((rc = ns_spool_mkdirs(dir)) != 0) {
			log_warnx("clickhouse spool %s: %s", dir, strerror(-rc));
			continue;
		}
		if (!drop)
			continue;
		ns_spool_chown(dir, uid, gid);
		/* The spool root too, when we made it (not state_dir). */
		if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
			*slash = '\0';
			if (chown(dir, uid, gid) != 0)
				log_warn("chown %s", dir);
		}
	}
}

/* What makes a writer's rows go elsewhere: a reload must not change it. */
static int
ch_same_target(const struct ns_config_writer *a,
    const struct ns_config_writer *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a->clickhouse.host, b->clickhouse.host) == 0 &&
	    a->clickhouse.port == b->clickhouse.port &&
	    a->clickhouse.cloud == b->clickhouse.cloud &&
	    strcmp(a->clickhouse.database, b->clickhouse.database) == 0 &&
	    strcmp(a->clickhouse.table_prefix, b->clickhouse.table_prefix) ==
	    0 && strcmp(a->clickhouse.node, b->clickhouse.node) == 0 &&
	    strcmp(a->clickhouse.spool_dir, b->clickhouse.spool_dir) == 0;
}

int
ns_ch_same_writers(const struct ns_config *a, const struct ns_config *b)
{
	unsigned id;

	for (id = 0; id < NS_EXPORT_WRITERS; id++)
		if (!ch_same_target(ns_ch_writer(a, id), ns_ch_writer(b, id)))
			return 0;
	return strcmp(a->daemon.state_dir, b->daemon.state_dir) == 0;
}

/* ---- batches -------------------------------------------------------------- */

struct ch_batch {
	char		*buf;
	size_t		 len, cap;
	uint64_t	 rows;
	int		 nomem;
};

static void
ch_put(struct ch_batch *b, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap : (size_t)1 << 16;
		while (cap < b->len + n)
			cap *= 2;
		if ((p = realloc(b->buf, cap)) == NULL) {
			b->nomem = 1;
			return;
		}
		b->buf = p;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
}

/* A TabSeparated field: \t, \n and \ escaped, then the separator. */
static void
ch_put_str(struct ch_batch *b, const char *s, char sep)
{
	const char *run = s;
	char esc[2] = { '\\', 0 };

	for (; *s != '\0'; s++) {
		if (*s != '\t' && *s != '\n' && *s != '\\')
			continue;
		ch_put(b, run, (size_t)(s - run));
		esc[1] = *s == '\t' ? 't' : *s == '\n' ? 'n' : '\\';
		ch_put(b, esc, 2);
		run = s + 1;
	}
	ch_put(b, run, (size_t)(s - run));
	ch_put(b, &sep, 1);
}

static void
ch_put_u64(struct ch_batch *b, uint64_t v, char sep)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64 "%c", v, sep);

	ch_put(b, buf, (size_t)n);
}

/*
 * A DateTime as unix seconds, ten digits: 18.16 takes a field for a unix
 * time only when its fifth character is a digit.
 */
static void
ch_put_time(struct ch_batch *b, uint64_t secs, char sep)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%010" PRIu64 "%c", secs, sep);

	ch_put(b, buf, (size_t)n);
}

/* A Nullable column: \N when the key has no such field. */
static void
ch_put_opt(struct ch_batch *b, const char *text)
{
	if (text == NULL)
		ch_put(b, "\\N\t", 3);
	else
		ch_put_str(b, text, '\t');
}

/* ---- snapshots into the spool -------------------------------------------- */

struct ch_snap {
	const struct ns_engine		*e;
	const struct ns_config_writer	*w;
	char		 dir[CH_PATH_MAX];
	const char	*suffix;		/* "flows", "hh" */
	uint64_t	 now_s;			/* Timestamp */
	uint64_t	 version;		/* Version: ns */
	uint64_t	 period_s;		/* PeriodStart */
	char		 gen_id[48];		/* Generation */
	int		 final;
	/*
	 * A live snapshot is taken inside a read section, which must not
	 * wait on the disk: its batches are held and written after it.
	 */
	int		 defer;
	/* The spool cannot be written: count the rows, as dropped. */
	int		 count_only;
	uint64_t	 spool_used;		/* bytes, as of the start */
	uint64_t	 rows, dropped;
	int		 err;
	struct ch_batch	 b;
	struct ch_batch	*held;
	size_t		 nheld;
};

/* A batch file into the spool (spool.h): <sequence>.<flows|hh>.tsv. */
static int
ch_write_file(const struct ch_snap *s, const struct ch_batch *b)
{
	char suffix[32];

	snprintf(suffix, sizeof(suffix), "%s.tsv", s->suffix);
	return ns_spool_write(s->dir, suffix, b->buf, b->len);
}

/* A batch into the spool, or its rows counted as dropped. */
static void
ch_store(struct ch_snap *s, const struct ch_batch *b)
{
	int rc;

	if (s->count_only)
		rc = 0;
	else if (b->nomem)
		rc = -ENOMEM;
	else if (s->spool_used + b->len > s->w->clickhouse.spool_max)
		rc = -ENOSPC;
	else
		rc = ch_write_file(s, b);
	if (rc == 0 && !s->count_only) {
		s->spool_used += b->len;
		s->rows += b->rows;
	} else {
		s->dropped += b->rows;
		if (s->err == 0)
			s->err = rc;
	}
}

/* The rows so far: stored, or held for after the read section. */
static void
ch_flush(struct ch_snap *s)
{
	struct ch_batch *v;

	if (s->b.rows == 0)
		return;
	if (s->defer && !s->count_only && !s->b.nomem && (v = realloc(s->held,
	    (s->nheld + 1) * sizeof(*v))) != NULL) {
		s->held = v;
		s->held[s->nheld++] = s->b;
		memset(&s->b, 0, sizeof(s->b));
		return;
	}
	ch_store(s, &s->b);
	s->b.len = 0;
	s->b.rows = 0;
	s->b.nomem = 0;
}

/* The held batches, now that the read section is over. */
static void
ch_store_held(struct ch_snap *s)
{
	size_t i;

	for (i = 0; i < s->nheld; i++) {
		ch_store(s, &s->held[i]);
		free(s->held[i].buf);
	}
	free(s->held);
	s->held = NULL;
	s->nheld = 0;
}

static void
ch_row_done(struct ch_snap *s)
{
	if (++s->b.rows >= s->w->clickhouse.batch_rows)
		ch_flush(s);
}

/* The key's fields as text, by field kind; NULL for the absent ones. */
static void
ch_key_texts(const struct ns_task *t, const uint8_t *key,
    char buf[][NS_TASK_TEXT_MAX], const char *text[NS_CONFIG_NFIELDS])
{
	unsigned i;

	memset(text, 0, NS_CONFIG_NFIELDS * sizeof(text[0]));
	for (i = 0; i < t->fields.n; i++)
		if (ns_task_key_text(t, key, i, buf[i], NS_TASK_TEXT_MAX) == 0)
			text[t->fields.f[i].field] = buf[i];
}

static void
ch_flow_row(void *arg, const struct ns_task *t, const struct ns_flow *f)
{
	static const enum ns_config_field head[] = {
		NS_CONFIG_FIELD_SRCIP, NS_CONFIG_FIELD_DSTIP,
		NS_CONFIG_FIELD_SRCPORT, NS_CONFIG_FIELD_DSTPORT,
		NS_CONFIG_FIELD_PROTOCOL,
	}, tail[] = {
		NS_CONFIG_FIELD_SRCNET, NS_CONFIG_FIELD_DSTNET,
		NS_CONFIG_FIELD_VLAN, NS_CONFIG_FIELD_IPVERSION,
		NS_CONFIG_FIELD_DSCP,
	};
	struct ch_snap *s = arg;
	char buf[NS_CONFIG_MAX_FIELDS][NS_TASK_TEXT_MAX];
	const char *text[NS_CONFIG_NFIELDS];
	struct ch_batch *b = &s->b;
	unsigned i;

	ch_key_texts(t, f->key, buf, text);
	ch_put_time(b, s->now_s, '\t');
	ch_put_str(b, t->name, '\t');
	for (i = 0; i < sizeof(head) / sizeof(head[0]); i++)
		ch_put_opt(b, text[head[i]]);
	ch_put_time(b, f->first_ns / 1000000000u, '\t');
	ch_put_time(b, f->last_ns / 1000000000u, '\t');
	ch_put_u64(b, f->bytes, '\t');
	ch_put_u64(b, f->packets, '\t');
	ch_put_time(b, s->period_s, '\t');
	ch_put_u64(b, (uint64_t)s->final, '\t');
	ch_put_str(b, s->w->clickhouse.node, '\t');
	ch_put_u64(b, s->version, '\t');
	for (i = 0; i < sizeof(tail) / sizeof(tail[0]); i++)
		ch_put_opt(b, text[tail[i]]);
	ch_put_u64(b, f->tcp_flags, '\t');
	ch_put_str(b, s->gen_id, '\n');
	ch_row_done(s);
}

/* Flow: the key's fields joined by spaces, as Go2NetSpectra writes it. */
static void
ch_hh_row(void *arg, const struct ns_sketch_task *t, enum ns_sketch_kind kind,
    const uint8_t *key, uint64_t value, uint64_t err_bound)
{
	struct ch_snap *s = arg;
	struct ch_batch *b = &s->b;
	char text[NS_TASK_TEXT_MAX];
	unsigned i;

	ch_put_time(b, s->now_s, '\t');
	ch_put_str(b, t->cfg->name, '\t');
	for (i = 0; i < t->flow.fields.n; i++) {
		if (ns_task_key_text(&t->flow, key, i, text, sizeof(text)) != 0)
			text[0] = '\0';
		ch_put_str(b, text, i + 1 < t->flow.fields.n ? ' ' : '\t');
	}
	if (t->flow.fields.n == 0)
		ch_put(b, "\t", 1);
	ch_put_u64(b, value, '\t');
	ch_put_u64(b, (uint64_t)kind, '\t');
	ch_put_time(b, s->period_s, '\t');
	ch_put_u64(b, (uint64_t)s->final, '\t');
	ch_put_str(b, s->w->clickhouse.node, '\t');
	ch_put_u64(b, s->version, '\t');
	ch_put_u64(b, err_bound, '\t');
	ch_put_str(b, s->gen_id, '\n');
	ch_row_done(s);
}

static void
ch_snap_tasks(struct ch_snap *s, const struct ns_engine *e, uint64_t g,
    int sketch)
{
	enum ns_sketch_kind kind, last;
	unsigned t;
	int rc;

	for (t = 0; !sketch && t < e->ntasks; t++)
		if ((rc = ns_snapshot_task(e, g, t, ch_flow_row, s)) != 0 &&
		    s->err == 0)
			s->err = rc;
	for (t = 0; sketch && t < e->nsketches; t++) {
		kind = e->sketches[t].spread ? NS_SKETCH_SPREAD :
		    NS_SKETCH_COUNT;
		last = e->sketches[t].spread ? NS_SKETCH_SPREAD : NS_SKETCH_SIZE;
		for (; kind <= last; kind++)
			if ((rc = ns_snapshot_sketch(e, g, t, kind, ch_hh_row,
			    s)) < 0 && s->err == 0)
				s->err = rc;
	}
	ch_flush(s);
}

/*
 * The generation's identity: a daemon restarted within a period opens a
 * new generation with the same period start, and its rows must add to
 * the earlier run's, not compete with them for the largest.
 */
static void
ch_gen_id(const struct ns_engine *e, uint64_t g, char *buf, size_t len)
{
	snprintf(buf, len, "%" PRIu64 ".%" PRIu64,
	    ns_seg_hdr(&e->seg)->created_ns, g);
}

static int
ch_snap_init(struct ch_snap *s, const struct ns_engine *e, unsigned id,
    uint64_t g, uint64_t period_start, int final)
{
	uint64_t files;
	int rc;

	memset(s, 0, sizeof(*s));
	s->e = e;
	if ((s->w = ns_ch_writer(e->cfg, id)) == NULL)
		return -EINVAL;
	s->suffix = id >= NS_CONFIG_MAX_WRITERS ? "hh" : "flows";
	s->version = ns_real_now_ns();
	s->now_s = s->version / 1000000000u;
	s->period_s = period_start / 1000000000u;
	s->final = final;
	s->defer = !final;
	ch_gen_id(e, g, s->gen_id, sizeof(s->gen_id));
	if ((rc = ns_ch_spool_dir(e->cfg, id, s->dir, sizeof(s->dir))) != 0 ||
	    (rc = ns_spool_mkdirs(s->dir)) != 0) {
		s->count_only = 1;
		s->err = rc;
		return 0;
	}
	ns_spool_usage(s->dir, "tsv", &s->spool_used, &files);
	return 0;
}

/* Held batches stored, counters updated: the rows spooled, or -errno. */
static int64_t
ch_snap_finish(struct ch_snap *s, const struct ns_engine *e, unsigned id)
{
	struct ns_export_wstats *ws = ch_stats(e, id);

	free(s->b.buf);
	ch_store_held(s);
	ch_count(s->final ? &ws->final_rows : &ws->live_rows, s->rows);
	ch_count(s->final ? &ws->final_dropped : &ws->live_dropped,
	    s->dropped);
	return s->err != 0 ? s->err : (int64_t)s->rows;
}

int64_t
ns_ch_spool_final(const struct ns_engine *e, unsigned id, uint64_t g,
    uint64_t period_start)
{
	struct ch_snap s;
	int rc;

	if ((rc = ch_snap_init(&s, e, id, g, period_start, 1)) != 0)
		return rc;
	ch_snap_tasks(&s, e, g, id >= NS_CONFIG_MAX_WRITERS);
	return ch_snap_finish(&s, e, id);
}

void
ns_ch_spool_final_all(const struct ns_engine *e, uint64_t g,
    uint64_t period_start)
{
	char name[32];
	unsigned id;
	int64_t rc;

	for (id = 0; id < NS_EXPORT_WRITERS; id++) {
		if (ns_ch_writer(e->cfg, id) == NULL ||
		    (id < NS_CONFIG_MAX_WRITERS ? e->ntasks : e->nsketches) == 0)
			continue;
		if ((rc = ns_ch_spool_final(e, id, g, period_start)) < 0)
			log_warnx("clickhouse writer %s: final snapshot of "
			    "generation %" PRIu64 ": %s; its rows that did not "
			    "fit are counted as dropped", ns_ch_writer_name(id,
			    name, sizeof(name)), g, strerror((int)-rc));
	}
}

/* ---- ns-export-ch: delivery ------------------------------------------- */

struct ch_child {
	struct ns_engine		*e;
	const struct ns_config_writer	*w;
	unsigned		 id;
	char			 name[32];
	char			 dir[CH_PATH_MAX];
	struct ns_ch_client	 client;
	struct ns_slot		*slot;
	enum ns_ch_table	 table;
	char			 insert[1024];	/* INSERT INTO t (...) FORMAT */
	int			 schema_ok;
	int			 failing;	/* since the last success */
	char			 refused[256];	/* the batch refused last */
	int			 refusals;	/* in a row */
	double			 retry_at;
	double			 backoff;
	double			 last_live;
};

static uint64_t
ch_count_rows(const char *buf, size_t len)
{
	uint64_t n = 0;
	const char *p = buf, *end = buf + len;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* The server failed us: note it once, and wait longer each time. */
static void
ch_failed(struct ch_child *x, int rc)
{
	struct ns_export_wstats *ws = ch_stats(x->e, x->id);

	ch_count(&ws->errors, 1);
	ns_store_relaxed(&ws->last_error_ns, ns_real_now_ns());
	if (!x->failing)
		log_warnx("clickhouse writer %s: %s (%s); keeping batches in "
		    "%s until it answers", x->name, x->client.error,
		    strerror(-rc), x->dir);
	x->failing = 1;
	/* A table dropped under us, or never made: make it again. */
	if (rc == -EPROTO)
		x->schema_ok = 0;
	x->backoff = x->backoff < CH_BACKOFF_MIN ? CH_BACKOFF_MIN :
	    x->backoff * 2 > CH_BACKOFF_MAX ? CH_BACKOFF_MAX : x->backoff * 2;
	x->retry_at = ns_mono_now() + x->backoff;
}

static void
ch_recovered(struct ch_child *x)
{
	if (x->failing)
		log_info("clickhouse writer %s: delivering again", x->name);
	x->failing = 0;
	x->backoff = 0;
}

/*
 * A batch ClickHouse keeps refusing while it answers (rows it cannot
 * parse, a column of another type in a table made by hand) would stop
 * every later one: it goes to rejected/, its rows counted as dropped.
 */
static void
ch_reject(struct ch_child *x, const char *name, const char *why)
{
	struct ns_export_wstats *ws = ch_stats(x->e, x->id);
	char from[CH_PATH_MAX + 256], to[CH_PATH_MAX + 300];
	size_t len = 0;
	char *buf;

	snprintf(from, sizeof(from), "%s/%s", x->dir, name);
	snprintf(to, sizeof(to), "%s/rejected", x->dir);
	(void)mkdir(to, 0750);
	snprintf(to, sizeof(to), "%s/rejected/%s", x->dir, name);
	if ((buf = ns_spool_read(from, &len)) != NULL)
		ch_count(&ws->rejected_rows, ch_count_rows(buf, len));
	free(buf);
	ch_count(&ws->rejected_batches, 1);
	if (rename(from, to) != 0 && unlink(from) != 0)
		log_warn("clickhouse writer %s: removing %s", x->name, from);
	log_warnx("clickhouse writer %s: batch %s refused %d times (%s); "
	    "moved to %s/rejected, its rows counted as dropped", x->name,
	    name, x->refusals, why, x->dir);
	x->refusals = 0;
}

/* A refusal of this batch while the server answers: reject it at last? */
static int
ch_refused(struct ch_child *x, const char *name)
{
	char why[sizeof(x->client.error)];

	if (strcmp(x->refused, name) != 0) {
		snprintf(x->refused, sizeof(x->refused), "%s", name);
		x->refusals = 0;
	}
	snprintf(why, sizeof(why), "%s", x->client.error);
	if (++x->refusals < CH_REFUSALS || ns_ch_client_ping(&x->client) != 0)
		return 0;
	ch_reject(x, name, why);
	return 1;
}

/* One batch file to ClickHouse, then out of the spool. */
static int
ch_send_file(struct ch_child *x, const char *name)
{
	struct ns_export_wstats *ws = ch_stats(x->e, x->id);
	char path[CH_PATH_MAX + 256];
	size_t len;
	char *buf;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", x->dir, name);
	if ((buf = ns_spool_read(path, &len)) == NULL) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		snprintf(x->client.error, sizeof(x->client.error), "%.200s: %s",
		    name, strerror(-rc));
		ch_reject(x, name, x->client.error);
		return 0;
	}
	rc = ns_ch_client_exec(&x->client, x->insert, buf, len, NULL, NULL);
	if (rc == 0) {
		/*
		 * Acknowledged.  Killed before the unlink, our successor sends
		 * it again: the same rows, which change no maximum.
		 */
		ch_count(&ws->sent_rows, ch_count_rows(buf, len));
		ch_count(&ws->sent_batches, 1);
		ns_store_relaxed(&ws->last_ok_ns, ns_real_now_ns());
		if (unlink(path) != 0 && errno != ENOENT) {
			rc = -errno;
			snprintf(x->client.error, sizeof(x->client.error),
			    "%.200s: cannot remove a delivered batch: %s",
			    name, strerror(errno));
		}
	} else if (rc == -EPROTO && ch_refused(x, name)) {
		rc = 0;
	}
	free(buf);
	return rc;
}

static void
ch_update_gauges(struct ch_child *x)
{
	struct ns_export_wstats *ws = ch_stats(x->e, x->id);
	uint64_t bytes, files;

	ns_spool_usage(x->dir, "tsv", &bytes, &files);
	ns_store_relaxed(&ws->spool_bytes, bytes);
	ns_store_relaxed(&ws->spool_files, files);
}

/* Everything in the spool, oldest first, until a failure. */
static void
ch_deliver(struct ch_child *x, double deadline)
{
	size_t i, n;
	char **v;
	int rc = 0;

	if (ns_mono_now() < x->retry_at)
		return;
	if (!x->schema_ok) {
		if ((rc = ns_ch_schema_ensure(&x->client, x->w, x->table)) != 0) {
			ch_failed(x, rc == -EPROTO ? -EIO : rc);
			return;
		}
		x->schema_ok = 1;
	}
	v = ns_spool_list(x->dir, "tsv", &n);
	for (i = 0; i < n && rc == 0; i++) {
		if (ns_mono_now() >= deadline)
			rc = -ETIMEDOUT;
		else if ((rc = ch_send_file(x, v[i])) != 0)
			ch_failed(x, rc);
		else
			ch_recovered(x);
	}
	ns_spool_list_free(v, n);
	ch_update_gauges(x);
}

/* A live snapshot when one is due, unless a backlog would only grow. */
static void
ch_live(struct ch_child *x)
{
	const struct ns_config_writer *w = x->w;
	struct ns_engine *e = x->e;
	struct ns_export_wstats *ws = ch_stats(e, x->id);
	struct ch_snap s;
	uint64_t g, start;
	double now = ns_mono_now();

	if (w->snapshot_interval >= e->cfg->aggregator.period ||
	    now - x->last_live < (double)w->snapshot_interval / 1e9)
		return;
	x->last_live = now;
	/* A later snapshot of the period holds all this one would. */
	if (ns_load_relaxed(&ws->spool_files) > 0) {
		ch_count(&ws->live_skipped, 1);
		return;
	}
	ns_slot_enter(&e->seg, x->slot);
	g = ns_gen_root(&e->seg);
	start = ns_load_relaxed(&ns_gen_info(&e->seg, g)->period_start_ns);
	if (start == 0 || start == NS_ENGINE_END ||
	    ch_snap_init(&s, e, x->id, g, start, 0) != 0) {
		ns_slot_exit(x->slot);
		return;
	}
	ch_snap_tasks(&s, e, g, x->id >= NS_CONFIG_MAX_WRITERS);
	ns_slot_exit(x->slot);
	/* Out of the section: the batches may wait on the disk now. */
	(void)ch_snap_finish(&s, e, x->id);
	ch_update_gauges(x);
}


static void
ch_child_init(struct ch_child *x, struct ns_engine *e, const struct ns_child *c)
{
	int rc;

	memset(x, 0, sizeof(*x));
	x->e = e;
	x->id = c->index;
	x->slot = ns_slot_get(&e->seg, c->slot);
	ns_ch_writer_name(x->id, x->name, sizeof(x->name));
	if ((x->w = ns_ch_writer(e->cfg, x->id)) == NULL)
		fatalx("clickhouse writer %s: not in the configuration",
		    x->name);
	x->table = x->id < NS_CONFIG_MAX_WRITERS ? NS_CH_FLOWS :
	    NS_CH_HEAVY_HITTERS;
	if (ns_ch_schema_insert(x->w, x->table, x->insert,
	    sizeof(x->insert)) != 0)
		fatalx("clickhouse writer %s: table_prefix too long", x->name);
	if ((rc = ns_ch_client_init(&x->client, x->w)) != 0) {
		log_warnx("clickhouse writer %s: %s", x->name, rc == -EINVAL ?
		    x->client.error : strerror(-rc));
		exit(NS_EXIT_NORESPAWN);
	}
	if ((rc = ns_ch_spool_dir(e->cfg, x->id, x->dir, sizeof(x->dir))) !=
	    0 || (rc = ns_spool_mkdirs(x->dir)) != 0) {
		log_warnx("clickhouse writer %s: spool %s: %s", x->name, x->dir,
		    strerror(-rc));
		exit(NS_EXIT_NORESPAWN);
	}
	ns_spool_clean_tmp(x->dir);
	ch_update_gauges(x);
}

/*
 * At the end of the run, what is left goes out; a server that stays away
 * for the writer's timeout leaves it in the spool for the next start.
 */
static void __attribute__((noreturn))
ch_finish(struct ch_child *x)
{
	struct ns_export_wstats *ws = ch_stats(x->e, x->id);
	double until = ns_mono_now() + (double)x->w->clickhouse.timeout / 1e9;
	struct timespec ts = { 0, 20000000 };

	for (;;) {
		ch_deliver(x, until);
		ch_update_gauges(x);
		if (ns_load_relaxed(&ws->spool_files) == 0)
			break;
		if (ns_mono_now() >= until || getppid() == 1) {
			log_warnx("clickhouse writer %s: %" PRIu64 " batch(es) "
			    "left in %s; they go out at the next start",
			    x->name, ns_load_relaxed(&ws->spool_files), x->dir);
			break;
		}
		nanosleep(&ts, NULL);
	}
	ns_ch_client_free(&x->client);
	exit(0);
}

void
ns_ch_child(struct ns_engine *e, const struct ns_child *c)
{
	static struct ch_child x;
	struct timespec ts = { 0, 20000000 };

	/* A closed connection is a failed request, not a death. */
	signal(SIGPIPE, SIG_IGN);
	ch_child_init(&x, e, c);
	log_info("clickhouse writer %s: %s, spool %s", x.name, x.client.url,
	    x.dir);
	while (!ns_export_ended(e)) {
		if (getppid() == 1)
			fatalx("supervisor gone");
		ch_live(&x);
		ch_deliver(&x, INFINITY);
		nanosleep(&ts, NULL);
	}
	ch_finish(&x);
}
