/*
 * nats_writer.c -- the NATS writer: snapshots into the spool, and
 * ns-export-nats, which publishes the spool on NATS (nats_writer.h).
 *
 * Why a spool, as for ClickHouse: the period exporter must release a
 * closed generation at once whatever the server does, so the final
 * snapshot goes to local disk first; one path for every snapshot gives
 * one order of publication and one place where losses are counted.  Why
 * chunk at publication and not in the spool: a file may wait through
 * reconnections to other servers of a cluster, whose max_payload may
 * differ.
 *
 * Delivery is at least once up to the server: a file is deleted after a
 * flush (PING/PONG) has confirmed every chunk, so a connection lost in
 * between re-sends chunks the server may already have had.  Beyond the
 * server, core NATS is at most once to each subscriber.
 */
#include "nats_writer.h"

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

#include <nats/nats.h>

#include "atomic.h"
#include "clock.h"
#include "exporter.h"
#include "gen.h"
#include "log.h"
#include "natsenc.h"
#include "slot.h"
#include "snapshot.h"
#include "spool.h"
#include "supervisor.h"

#define NW_PATH_MAX		4096
#define NW_SUBJECT_MAX		1024
#define NW_BACKOFF_MIN		0.2	/* seconds before a retry */
#define NW_BACKOFF_MAX		5.0
#define NW_RECONNECT_WAIT	250	/* ms between reconnect attempts */
#define NW_TICK_NS		20000000L /* the child's loop: 20 ms */

/* ---- writers ------------------------------------------------------------ */

static int
natsw_sketch(unsigned id)
{
	return id >= NS_CONFIG_MAX_WRITERS;
}

static enum ns_natsenc_kind
natsw_kind(unsigned id)
{
	return natsw_sketch(id) ? NS_NATSENC_HH : NS_NATSENC_FLOWS;
}

/* The spool files' suffix, which also names their message. */
static const char *
natsw_suffix(unsigned id)
{
	return natsw_sketch(id) ? "hh.pb" : "flows.pb";
}

const struct ns_config_writer *
ns_natsw_writer(const struct ns_config *cfg, unsigned id)
{
	const struct ns_config_aggregator *a = &cfg->aggregator;
	unsigned i = id % NS_CONFIG_MAX_WRITERS;
	const struct ns_config_writer *w;

	if (id >= NS_EXPORT_WRITERS)
		return NULL;
	if (!natsw_sketch(id))
		w = i < a->exact.nwriters ? &a->exact.writers[i] : NULL;
	else
		w = i < a->sketch.nwriters ? &a->sketch.writers[i] : NULL;
	return w != NULL && w->enabled && w->type == NS_CONFIG_WRITER_NATS ?
	    w : NULL;
}

int
ns_natsw_spool_dir(const struct ns_config *cfg, unsigned id, char *buf,
    size_t len)
{
	const struct ns_config_writer *w = ns_natsw_writer(cfg, id);
	char name[32];
	int n;

	if (w == NULL)
		return -EINVAL;
	ns_ch_writer_name(id, name, sizeof(name));
	if (w->nats.spool_dir[0] != '\0')
		n = snprintf(buf, len, "%s/%s", w->nats.spool_dir, name);
	else
		n = snprintf(buf, len, "%s/spool/%s", cfg->daemon.state_dir,
		    name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * The port of one URL of length len ("nats://u:p@h:4222", "h", "[::1]:1"):
 * the digits after the last ':' when they end it; else NATS's 4222.
 */
static unsigned
natsw_url_port(const char *u, size_t len)
{
	unsigned long port;
	char *end;
	size_t i;

	for (i = len; i > 0 && u[i - 1] != ':'; i--)
		;
	if (i == 0 || i == len || u[i] < '0' || u[i] > '9')
		return 4222;
	port = strtoul(u + i, &end, 10);
	return end == u + len && port > 0 && port < 65536 ? (unsigned)port :
	    4222;
}

unsigned
ns_natsw_ports(const struct ns_config *cfg, unsigned id, unsigned *ports,
    unsigned max)
{
	const struct ns_config_writer *w = ns_natsw_writer(cfg, id);
	const char *u, *end;
	unsigned n = 0;

	for (u = w != NULL ? w->nats.url : ""; *u != '\0' && n < max; u = end) {
		end = u + strcspn(u, ",");
		ports[n++] = natsw_url_port(u, (size_t)(end - u));
		if (*end == ',')
			end++;
	}
	return n;
}

static struct ns_export_wstats *
natsw_stats(const struct ns_engine *e, unsigned id)
{
	return &ns_engine_export(e)->writer[id];
}

/* A counter with one writing process (and thread): load, add, store. */
static void
natsw_count(uint64_t *cell, uint64_t n)
{
	ns_store_relaxed(cell, ns_load_relaxed(cell) + n);
}

int
ns_natsw_counts(const struct ns_engine *e, unsigned id,
    struct ns_ch_counts *c)
{
	if (ns_natsw_writer(e->cfg, id) == NULL)
		return -ENOENT;
	ns_writer_counts(natsw_stats(e, id), c);
	return 0;
}

void
ns_natsw_spool_prepare(const struct ns_config *cfg, int drop, uid_t uid,
    gid_t gid)
{
	char dir[NW_PATH_MAX], *slash;
	unsigned id;
	int rc;

	for (id = 0; id < NS_EXPORT_WRITERS; id++) {
		if (ns_natsw_spool_dir(cfg, id, dir, sizeof(dir)) != 0)
			continue;
		if ((rc = ns_spool_mkdirs(dir)) != 0) {
			log_warnx("nats spool %s: %s", dir, strerror(-rc));
			continue;
		}
		if (!drop)
			continue;
		ns_spool_chown(dir, uid, gid);
		/* The spool root too, where we made it (not state_dir). */
		if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
			*slash = '\0';
			if (chown(dir, uid, gid) != 0)
				log_warn("chown %s", dir);
		}
	}
}

int
ns_natsw_same_writers(const struct ns_config *a, const struct ns_config *b)
{
	const struct ns_config_writer *wa, *wb;
	unsigned id;

	for (id = 0; id < NS_EXPORT_WRITERS; id++) {
		wa = ns_natsw_writer(a, id);
		wb = ns_natsw_writer(b, id);
		if ((wa == NULL) != (wb == NULL))
			return 0;
		if (wa != NULL && strcmp(wa->nats.spool_dir,
		    wb->nats.spool_dir) != 0)
			return 0;
	}
	return strcmp(a->daemon.state_dir, b->daemon.state_dir) == 0;
}

/* ---- snapshots into the spool -------------------------------------------- */

struct natsw_snap {
	const struct ns_engine		*e;
	const struct ns_config_writer	*w;
	unsigned		 id;
	char			 dir[NW_PATH_MAX];
	char			 gen_id[48];
	struct ns_natsenc_hdr	 hdr;
	/* The spool cannot be written: count the records, as dropped. */
	int			 count_only;
	uint64_t		 spool_used;	/* bytes, as of the start */
	uint64_t		 rows, dropped;
	int			 err;
	/*
	 * A live snapshot is encoded inside a read section, which must not
	 * wait on the disk: its encodings are held and stored after it.
	 */
	struct ns_natsenc	*held;
	size_t			 nheld;
};

/* Everything but the generation: done outside any read section. */
static int
natsw_snap_init(struct natsw_snap *s, const struct ns_engine *e, unsigned id,
    int final)
{
	uint64_t files;
	int rc;

	memset(s, 0, sizeof(*s));
	s->e = e;
	s->id = id;
	if ((s->w = ns_natsw_writer(e->cfg, id)) == NULL)
		return -EINVAL;
	s->hdr.node = s->w->nats.node;
	s->hdr.generation = s->gen_id;
	s->hdr.final = final;
	s->hdr.snapshot_ns = ns_real_now_ns();
	if ((rc = ns_natsw_spool_dir(e->cfg, id, s->dir, sizeof(s->dir))) !=
	    0 || (rc = ns_spool_mkdirs(s->dir)) != 0) {
		s->count_only = 1;
		s->err = rc;
		return 0;
	}
	ns_spool_usage(s->dir, natsw_suffix(id), &s->spool_used, &files);
	return 0;
}

/*
 * The generation's identity: a daemon restarted within a period opens a
 * new generation with the same period start, whose snapshots add to the
 * earlier run's.
 */
static void
natsw_snap_gen(struct natsw_snap *s, uint64_t g, uint64_t period_start)
{
	snprintf(s->gen_id, sizeof(s->gen_id), "%" PRIu64 ".%" PRIu64,
	    ns_seg_hdr(&s->e->seg)->created_ns, g);
	s->hdr.period_start_ns = period_start;
}

/* One encoded snapshot into the spool, or its records counted dropped. */
static void
natsw_store(struct natsw_snap *s, struct ns_natsenc *enc)
{
	int rc;

	if (s->count_only)
		rc = s->err != 0 ? s->err : -EIO;
	else if (enc->nomem)
		rc = -ENOMEM;
	else if (s->spool_used + enc->len > s->w->nats.spool_max)
		rc = -ENOSPC;
	else
		rc = ns_spool_write(s->dir, natsw_suffix(s->id), enc->buf,
		    enc->len);
	if (rc == 0) {
		s->spool_used += enc->len;
		s->rows += enc->records;
	} else {
		s->dropped += enc->records;
		if (s->err == 0)
			s->err = rc;
	}
	ns_natsenc_free(enc);
}

/* A final is stored at once; a live one is held for after the section. */
static void
natsw_keep(struct natsw_snap *s, struct ns_natsenc *enc)
{
	struct ns_natsenc *v;

	if (s->hdr.final) {
		natsw_store(s, enc);
		return;
	}
	if ((v = realloc(s->held, (s->nheld + 1) * sizeof(*v))) == NULL) {
		enc->nomem = 1;
		v = s->held;
	} else {
		s->held = v;
	}
	if (enc->nomem) {
		/* Counted now: no file will be written for it. */
		s->dropped += enc->records;
		if (s->err == 0)
			s->err = -ENOMEM;
		ns_natsenc_free(enc);
		return;
	}
	s->held[s->nheld++] = *enc;
}

static void
natsw_flow(void *arg, const struct ns_task *t, const struct ns_flow *f)
{
	(void)ns_natsenc_flow(arg, t, f);
}

static void
natsw_hitter(void *arg, const struct ns_sketch_task *t,
    enum ns_sketch_kind kind, const uint8_t *key, uint64_t value,
    uint64_t err_bound)
{
	(void)kind;
	(void)ns_natsenc_hitter(arg, &t->flow, key, value, err_bound);
}

static void
natsw_snap_exact(struct natsw_snap *s, uint64_t g)
{
	const struct ns_engine *e = s->e;
	struct ns_natsenc enc;
	unsigned t;

	for (t = 0; t < e->ntasks; t++) {
		s->hdr.task = e->tasks[t].name;
		s->hdr.key_fields = &e->tasks[t].fields;
		if (ns_natsenc_begin(&enc, NS_NATSENC_FLOWS, &s->hdr) != 0) {
			s->err = -ENOMEM;
			continue;
		}
		/* Half a snapshot would pass for a whole one. */
		if (ns_snapshot_task(e, g, t, natsw_flow, &enc) != 0)
			enc.nomem = 1;
		natsw_keep(s, &enc);
	}
}

static void
natsw_snap_sketch(struct natsw_snap *s, uint64_t g)
{
	const struct ns_engine *e = s->e;
	const struct ns_sketch_task *st;
	enum ns_sketch_kind kind, last;
	struct ns_natsenc enc;
	unsigned t;

	for (t = 0; t < e->nsketches; t++) {
		st = &e->sketches[t];
		kind = st->spread ? NS_SKETCH_SPREAD : NS_SKETCH_COUNT;
		last = st->spread ? NS_SKETCH_SPREAD : NS_SKETCH_SIZE;
		s->hdr.task = st->cfg->name;
		s->hdr.key_fields = &st->flow.fields;
		s->hdr.element_fields = st->spread ? &st->elem.fields : NULL;
		for (; kind <= last; kind++) {
			s->hdr.hh_kind = kind;
			if (ns_natsenc_begin(&enc, NS_NATSENC_HH,
			    &s->hdr) != 0) {
				s->err = -ENOMEM;
				continue;
			}
			if (ns_snapshot_sketch(e, g, t, kind, natsw_hitter,
			    &enc) < 0)
				enc.nomem = 1;
			natsw_keep(s, &enc);
		}
	}
}

static void
natsw_snap_tasks(struct natsw_snap *s, uint64_t g)
{
	if (natsw_sketch(s->id))
		natsw_snap_sketch(s, g);
	else
		natsw_snap_exact(s, g);
}

/* Held encodings stored, counters updated: the records spooled, or -errno. */
static int64_t
natsw_snap_finish(struct natsw_snap *s)
{
	struct ns_export_wstats *ws = natsw_stats(s->e, s->id);
	size_t i;

	for (i = 0; i < s->nheld; i++)
		natsw_store(s, &s->held[i]);
	free(s->held);
	s->held = NULL;
	s->nheld = 0;
	natsw_count(s->hdr.final ? &ws->final_rows : &ws->live_rows, s->rows);
	natsw_count(s->hdr.final ? &ws->final_dropped : &ws->live_dropped,
	    s->dropped);
	return s->err != 0 ? s->err : (int64_t)s->rows;
}

/* A live snapshot not to be stored after all. */
static void
natsw_snap_discard(struct natsw_snap *s)
{
	size_t i;

	for (i = 0; i < s->nheld; i++)
		ns_natsenc_free(&s->held[i]);
	free(s->held);
	s->held = NULL;
	s->nheld = 0;
}

int64_t
ns_natsw_spool_final(const struct ns_engine *e, unsigned id, uint64_t g,
    uint64_t period_start)
{
	struct natsw_snap s;
	int rc;

	if ((rc = natsw_snap_init(&s, e, id, 1)) != 0)
		return rc;
	natsw_snap_gen(&s, g, period_start);
	natsw_snap_tasks(&s, g);
	return natsw_snap_finish(&s);
}

void
ns_natsw_spool_final_all(const struct ns_engine *e, uint64_t g,
    uint64_t period_start)
{
	char name[32];
	unsigned id;
	int64_t rc;

	for (id = 0; id < NS_EXPORT_WRITERS; id++) {
		if (ns_natsw_writer(e->cfg, id) == NULL ||
		    (natsw_sketch(id) ? e->nsketches : e->ntasks) == 0)
			continue;
		if ((rc = ns_natsw_spool_final(e, id, g, period_start)) < 0)
			log_warnx("nats writer %s: final snapshot of "
			    "generation %" PRIu64 ": %s; its records that did "
			    "not fit are counted as dropped", ns_ch_writer_name(
			    id, name, sizeof(name)), g, strerror((int)-rc));
	}
}

/* ---- ns-export-nats ------------------------------------------------------ */

struct natsw_child {
	struct ns_engine		*e;
	const struct ns_config_writer	*w;
	unsigned		 id;
	char			 name[32];
	char			 dir[NW_PATH_MAX];
	struct ns_slot		*slot;
	natsConnection		*nc;
	int			 connected;
	int			 failing;	/* since the last delivery */
	char			 error[256];	/* why the last one failed */
	double			 retry_at;
	double			 backoff;
	double			 last_live;
	double			 gauges_at;	/* spool gauges last read */
};

/* The error handler of nats.c's threads: they only log. */
static void
natsw_async_error(natsConnection *nc, natsSubscription *sub, natsStatus s,
    void *arg)
{
	struct natsw_child *x = arg;

	(void)nc;
	(void)sub;
	log_warnx("nats writer %s: %s", x->name, natsStatus_GetText(s));
}

/*
 * Given so that a first connection that fails returns at once instead of
 * blocking (nats.c's rule); the loop polls the connection's state.
 */
static void
natsw_connected_cb(natsConnection *nc, void *arg)
{
	(void)nc;
	(void)arg;
}

static natsStatus
natsw_options(struct natsw_child *x, natsOptions **o)
{
	const struct ns_config_writer *w = x->w;
	char name[64];
	natsStatus s;

	snprintf(name, sizeof(name), "netspectra-%s", x->name);
	if ((s = natsOptions_Create(o)) != NATS_OK)
		return s;
	if ((s = natsOptions_SetURL(*o, w->nats.url)) == NATS_OK &&
	    (s = natsOptions_SetName(*o, name)) == NATS_OK &&
	    (s = natsOptions_SetTimeout(*o,
	    (int64_t)(w->nats.timeout / 1000000u))) == NATS_OK &&
	    (s = natsOptions_SetMaxReconnect(*o, -1)) == NATS_OK &&
	    (s = natsOptions_SetReconnectWait(*o, NW_RECONNECT_WAIT)) ==
	    NATS_OK &&
	    (s = natsOptions_SetReconnectBufSize(*o,
	    (int)w->nats.reconnect_buffer)) == NATS_OK &&
	    (s = natsOptions_SetErrorHandler(*o, natsw_async_error, x)) ==
	    NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(*o, true,
		    natsw_connected_cb, NULL);
	if (s != NATS_OK)
		natsOptions_Destroy(*o);
	return s;
}

/* The server failed us: count it, note it once, wait longer each time. */
static void
natsw_failed(struct natsw_child *x, int rc)
{
	struct ns_export_wstats *ws = natsw_stats(x->e, x->id);

	natsw_count(&ws->errors, 1);
	ns_store_relaxed(&ws->last_error_ns, ns_real_now_ns());
	if (!x->failing)
		log_warnx("nats writer %s: %s (%s); keeping snapshots in %s "
		    "until it takes them", x->name, x->error, strerror(-rc),
		    x->dir);
	x->failing = 1;
	x->backoff = x->backoff < NW_BACKOFF_MIN ? NW_BACKOFF_MIN :
	    x->backoff * 2 > NW_BACKOFF_MAX ? NW_BACKOFF_MAX : x->backoff * 2;
	x->retry_at = ns_mono_now() + x->backoff;
}

static void
natsw_recovered(struct natsw_child *x)
{
	if (x->failing)
		log_info("nats writer %s: publishing again", x->name);
	x->failing = 0;
	x->backoff = 0;
}

static void
natsw_connect(struct natsw_child *x)
{
	natsOptions *o;
	natsStatus s;

	if ((s = natsw_options(x, &o)) != NATS_OK)
		fatalx("nats writer %s: options: %s", x->name,
		    natsStatus_GetText(s));
	s = natsConnection_Connect(&x->nc, o);
	natsOptions_Destroy(o);
	if (s == NATS_NOT_YET_CONNECTED) {
		snprintf(x->error, sizeof(x->error), "%s not reachable yet",
		    x->w->nats.url);
		natsw_failed(x, -ENOTCONN);
		return;
	}
	if (s != NATS_OK)
		fatalx("nats writer %s: %s: %s", x->name, x->w->nats.url,
		    natsStatus_GetText(s));
}

/* The connection's state, polled: nats.c's callbacks run on its threads. */
static void
natsw_poll_conn(struct natsw_child *x)
{
	struct ns_export_wstats *ws = natsw_stats(x->e, x->id);
	char url[256];
	int up = natsConnection_Status(x->nc) == NATS_CONN_STATUS_CONNECTED;

	if (up == x->connected)
		return;
	x->connected = up;
	ns_store_relaxed(&ws->connected, (uint64_t)up);
	if (up) {
		if (natsConnection_GetConnectedUrl(x->nc, url, sizeof(url)) !=
		    NATS_OK)
			snprintf(url, sizeof(url), "?");
		log_info("nats writer %s: connected to %s (max_payload %" PRId64
		    ")", x->name, url, natsConnection_GetMaxPayload(x->nc));
		return;
	}
	snprintf(x->error, sizeof(x->error), "disconnected from %s",
	    x->w->nats.url);
	natsw_failed(x, -ENOTCONN);
}

/* ---- delivery ---------------------------------------------------------- */

static void
natsw_update_gauges(struct natsw_child *x)
{
	struct ns_export_wstats *ws = natsw_stats(x->e, x->id);
	uint64_t bytes, files;

	ns_spool_usage(x->dir, natsw_suffix(x->id), &bytes, &files);
	ns_store_relaxed(&ws->spool_bytes, bytes);
	ns_store_relaxed(&ws->spool_files, files);
	x->gauges_at = ns_mono_now();
}

/*
 * While nothing is delivered the period exporter still adds finals: the
 * gauges (and the live snapshots' backlog test) read the spool anew at
 * least every half second.
 */
static void
natsw_tick_gauges(struct natsw_child *x)
{
	if (ns_mono_now() - x->gauges_at >= 0.5)
		natsw_update_gauges(x);
}

/*
 * A file that can never go out (not a snapshot; a record larger than the
 * server's max_payload) would stop every later one: it goes to rejected/,
 * its records counted as dropped.
 */
static void
natsw_reject(struct natsw_child *x, const char *name, uint64_t rows,
    const char *why)
{
	struct ns_export_wstats *ws = natsw_stats(x->e, x->id);
	char from[NW_PATH_MAX + 256], to[NW_PATH_MAX + 300];

	snprintf(from, sizeof(from), "%s/%s", x->dir, name);
	snprintf(to, sizeof(to), "%s/rejected", x->dir);
	(void)mkdir(to, 0750);
	snprintf(to, sizeof(to), "%s/rejected/%s", x->dir, name);
	natsw_count(&ws->rejected_rows, rows);
	natsw_count(&ws->rejected_batches, 1);
	if (rename(from, to) != 0 && unlink(from) != 0)
		log_warn("nats writer %s: removing %s", x->name, from);
	log_warnx("nats writer %s: %s: %s; moved to %s/rejected, its %" PRIu64
	    " record(s) counted as dropped", x->name, name, why, x->dir, rows);
}

struct natsw_pub {
	natsConnection	*nc;
	char		 subject[NW_SUBJECT_MAX];
	natsStatus	 s;
};

static int
natsw_publish_chunk(void *arg, const void *chunk, size_t len, unsigned index,
    unsigned count)
{
	struct natsw_pub *p = arg;

	(void)index;
	(void)count;
	p->s = natsConnection_Publish(p->nc, p->subject, chunk, (int)len);
	return p->s == NATS_OK ? 0 : -EIO;
}

/* Every chunk published and flushed: the number of chunks, or -errno. */
static int
natsw_publish(struct natsw_child *x, const void *buf, size_t len,
    const struct ns_natsenc_info *info)
{
	struct natsw_pub p;
	int64_t max = natsConnection_GetMaxPayload(x->nc);
	natsStatus s;
	int n;

	p.nc = x->nc;
	p.s = NATS_OK;
	snprintf(p.subject, sizeof(p.subject), "%s.%s.%s", x->w->nats.subject,
	    natsw_sketch(x->id) ? "hh" : "flows", info->task);
	if (max <= 0)
		return -ENOTCONN;
	n = ns_natsenc_split(natsw_kind(x->id), buf, len, (size_t)max,
	    natsw_publish_chunk, &p);
	if (n == -EIO)
		snprintf(x->error, sizeof(x->error), "publish on %.160s: %s",
		    p.subject, natsStatus_GetText(p.s));
	if (n < 0)
		return n;
	if ((s = natsConnection_FlushTimeout(x->nc,
	    (int64_t)(x->w->nats.timeout / 1000000u))) != NATS_OK) {
		snprintf(x->error, sizeof(x->error), "flush: %s",
		    natsStatus_GetText(s));
		return -ETIMEDOUT;
	}
	return n;
}

static void
natsw_sent(struct natsw_child *x, uint64_t rows, int chunks)
{
	struct ns_export_wstats *ws = natsw_stats(x->e, x->id);

	natsw_count(&ws->sent_rows, rows);
	natsw_count(&ws->sent_batches, 1);
	natsw_count(&ws->messages, (uint64_t)chunks);
	ns_store_relaxed(&ws->last_ok_ns, ns_real_now_ns());
}

/* One spool file to the server, then out of the spool: 0 or -errno. */
static int
natsw_send_file(struct natsw_child *x, const char *name)
{
	char path[NW_PATH_MAX + 256], why[128];
	struct ns_natsenc_info info;
	size_t len = 0;
	void *buf;
	int n;

	snprintf(path, sizeof(path), "%s/%s", x->dir, name);
	if ((buf = ns_spool_read(path, &len)) == NULL) {
		if (errno != ENOENT)
			natsw_reject(x, name, 0, strerror(errno));
		return 0;
	}
	if (ns_natsenc_info(natsw_kind(x->id), buf, len, &info) != 0) {
		natsw_reject(x, name, 0, "not a snapshot of this writer");
		free(buf);
		return 0;
	}
	n = natsw_publish(x, buf, len, &info);
	free(buf);
	if (n == -EMSGSIZE) {
		snprintf(why, sizeof(why), "a record does not fit in the "
		    "server's max_payload of %" PRId64 " bytes",
		    natsConnection_GetMaxPayload(x->nc));
		natsw_reject(x, name, info.records, why);
		return 0;
	}
	if (n < 0)
		return n;
	/* Received.  Killed before the unlink, our successor sends it
	 * again: the same chunks, which receivers keep once. */
	if (unlink(path) != 0 && errno != ENOENT)
		log_warn("nats writer %s: cannot remove %s", x->name, path);
	natsw_sent(x, info.records, n);
	return 0;
}

/* The spool, oldest first, until a failure or the deadline. */
static void
natsw_deliver(struct natsw_child *x, double deadline)
{
	size_t i, n;
	char **v;
	int rc = 0;

	if (!x->connected || ns_mono_now() < x->retry_at)
		return;
	v = ns_spool_list(x->dir, natsw_suffix(x->id), &n);
	for (i = 0; i < n && rc == 0 && ns_mono_now() < deadline; i++) {
		if ((rc = natsw_send_file(x, v[i])) != 0)
			natsw_failed(x, rc);
		else
			natsw_recovered(x);
	}
	ns_spool_list_free(v, n);
	natsw_update_gauges(x);
}

/* A live snapshot when one is due, unless a backlog would only grow. */
static void
natsw_live(struct natsw_child *x)
{
	struct ns_engine *e = x->e;
	struct ns_export_wstats *ws = natsw_stats(e, x->id);
	struct natsw_snap s;
	uint64_t g, start;
	double now = ns_mono_now();

	if (x->w->snapshot_interval >= e->cfg->aggregator.period ||
	    now - x->last_live < (double)x->w->snapshot_interval / 1e9)
		return;
	x->last_live = now;
	/* A later snapshot of the period holds all this one would. */
	if (ns_load_relaxed(&ws->spool_files) > 0) {
		natsw_count(&ws->live_skipped, 1);
		return;
	}
	if (natsw_snap_init(&s, e, x->id, 0) != 0)
		return;
	ns_slot_enter(&e->seg, x->slot);
	g = ns_gen_root(&e->seg);
	start = ns_load_relaxed(&ns_gen_info(&e->seg, g)->period_start_ns);
	if (start != 0 && start != NS_ENGINE_END) {
		natsw_snap_gen(&s, g, start);
		natsw_snap_tasks(&s, g);
	}
	ns_slot_exit(x->slot);
	/*
	 * The period ended meanwhile: its final is on its way, and this
	 * would only follow it out.  (Should it slip through, its earlier
	 * snapshot_ns still orders it before the final.)
	 */
	if (ns_gen_root(&e->seg) != g) {
		natsw_snap_discard(&s);
		natsw_count(&ws->live_skipped, 1);
		return;
	}
	/* Out of the section: the files may wait on the disk now. */
	(void)natsw_snap_finish(&s);
	natsw_update_gauges(x);
}

static void
natsw_child_init(struct natsw_child *x, struct ns_engine *e,
    const struct ns_child *c)
{
	int rc;

	memset(x, 0, sizeof(*x));
	x->e = e;
	x->id = c->index;
	x->slot = ns_slot_get(&e->seg, c->slot);
	ns_ch_writer_name(x->id, x->name, sizeof(x->name));
	if ((x->w = ns_natsw_writer(e->cfg, x->id)) == NULL)
		fatalx("nats writer %s: not in the configuration", x->name);
	if (strlen(x->w->nats.subject) + sizeof(".flows.") +
	    NS_CONFIG_NAME_MAX > NW_SUBJECT_MAX) {
		log_warnx("nats writer %s: subject too long", x->name);
		exit(NS_EXIT_NORESPAWN);
	}
	if ((rc = ns_natsw_spool_dir(e->cfg, x->id, x->dir, sizeof(x->dir))) !=
	    0 || (rc = ns_spool_mkdirs(x->dir)) != 0) {
		log_warnx("nats writer %s: spool %s: %s", x->name, x->dir,
		    strerror(-rc));
		exit(NS_EXIT_NORESPAWN);
	}
	ns_spool_clean_tmp(x->dir);
	ns_store_relaxed(&natsw_stats(e, x->id)->connected, 0);
	natsw_update_gauges(x);
	natsw_connect(x);
}

static void
natsw_close(struct natsw_child *x)
{
	natsConnection_Close(x->nc);
	natsConnection_Destroy(x->nc);
	nats_Close();
	ns_store_relaxed(&natsw_stats(x->e, x->id)->connected, 0);
}

/*
 * At the end of the run, what is left goes out; a server that stays away
 * for the writer's timeout leaves it in the spool for the next start.
 */
static void __attribute__((noreturn))
natsw_finish(struct natsw_child *x)
{
	struct ns_export_wstats *ws = natsw_stats(x->e, x->id);
	double until = ns_mono_now() + (double)x->w->nats.timeout / 1e9;
	struct timespec ts = { 0, NW_TICK_NS };

	for (;;) {
		natsw_poll_conn(x);
		/* Fresh: the last final may have come just now. */
		natsw_update_gauges(x);
		natsw_deliver(x, until);
		if (ns_load_relaxed(&ws->spool_files) == 0)
			break;
		if (ns_mono_now() >= until || getppid() == 1) {
			log_warnx("nats writer %s: %" PRIu64 " snapshot(s) "
			    "left in %s; they go out at the next start",
			    x->name, ns_load_relaxed(&ws->spool_files), x->dir);
			break;
		}
		nanosleep(&ts, NULL);
	}
	natsw_close(x);
	exit(0);
}

void
ns_natsw_child(struct ns_engine *e, const struct ns_child *c)
{
	static struct natsw_child x;
	struct timespec ts = { 0, NW_TICK_NS };

	/* A closed connection is a failed publish, not a death. */
	signal(SIGPIPE, SIG_IGN);
	natsw_child_init(&x, e, c);
	log_info("nats writer %s: %s, subject %s.%s.<task>, spool %s", x.name,
	    x.w->nats.url, x.w->nats.subject, natsw_sketch(x.id) ? "hh" :
	    "flows", x.dir);
	while (!ns_export_ended(e)) {
		if (getppid() == 1)
			fatalx("supervisor gone");
		natsw_poll_conn(&x);
		natsw_tick_gauges(&x);
		natsw_live(&x);
		natsw_deliver(&x, INFINITY);
		nanosleep(&ts, NULL);
	}
	natsw_finish(&x);
}
