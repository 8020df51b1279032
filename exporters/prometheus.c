/*
 * prometheus.c -- the /metrics exporter (ns-export-prometheus).
 *
 * Each scrape reads the segment: counters are 64-bit cells read whole.
 * The top-K flows per exact task come from a walk of the live generation
 * inside an epoch read section of this process's slot (so the exporter
 * that clears a closed generation waits for it), made once a second by
 * the main thread rather than per scrape: with a million flows the walk
 * takes longer than a scrape may.  Nothing
 * is copied between scrapes and the workers never notice.  Flow values
 * become labels only in the capped top-K series, so the number of series
 * does not grow with the number of flows.  Sketch tasks join the same
 * walk: their heaviest keys (heavy hitters by packets and bytes, spreaders
 * by distinct elements), top_k of each, as the file writers report them.
 */
#include "prometheus.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "alerter.h"
#include "atomic.h"
#include "clickhouse.h"
#include "gen.h"
#include "log.h"
#include "natsmsg.h"
#include "nats_writer.h"
#include "ring.h"
#include "slot.h"
#include "snapshot.h"
#include "supervisor.h"

struct prom {
	struct ns_engine	*e;
	struct ns_slot		*slot;
	struct ns_flow		*top;		/* top_k flows, reused */
	/*
	 * The top-K series, as text, made by the main thread once a second:
	 * finding them walks every entry of the live tables, which is what a
	 * scrape must not wait for with a million flows in them.
	 */
	pthread_mutex_t		 lock;
	char			*top_text;
	size_t			 top_len;
	/* Distinct keys of each task's current period, from the same walk:
	 * a key coarser than the 5-tuple sits in several workers' shards. */
	uint64_t		 period_flows[NS_CONFIG_MAX_TASKS];
	uint64_t		 period_flows_next[NS_CONFIG_MAX_TASKS];
	/* What the last walk saw (top_stamp): an idle daemon walks no more. */
	uint64_t		 top_gen, top_packets;
	int			 top_valid;
};

static void
help(FILE *fp, const char *name, const char *type, const char *text)
{
	fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/*
 * A key field's name as a Prometheus label name, in snake case as they
 * want: SrcIP -> src_ip, IPVersion -> ip_version, SrcNet/24/64 ->
 * src_net_24_64.
 */
static void
label_name(const char *in, char *out, size_t len)
{
	size_t o = 0;
	int i;

	for (i = 0; in[i] != '\0' && o + 2 < len; i++) {
		char ch = in[i];

		if (ch >= 'A' && ch <= 'Z') {
			if (i > 0 && o > 0 && out[o - 1] != '_' &&
			    ((in[i - 1] >= 'a' && in[i - 1] <= 'z') ||
			    (in[i + 1] >= 'a' && in[i + 1] <= 'z')))
				out[o++] = '_';
			out[o++] = (char)(ch - 'A' + 'a');
		} else {
			out[o++] = ch == '/' ? '_' : ch;
		}
	}
	out[o] = '\0';
}

/* The task's key fields as labels: src_ip="10.0.0.1",src_port="80". */
static void
key_labels(FILE *fp, const struct ns_task *t, const uint8_t *key)
{
	char *buf = NULL, *p, *q, lname[64];
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (m == NULL)
		return;
	ns_task_key_json(t, key, m);	/* "F":"v","G":80 */
	fclose(m);
	/* JSON members to label pairs: strip the names' quotes, quote
	 * numbers, and make the names label-safe ("SrcNet/24" -> SrcNet_24). */
	for (p = buf; *p != '\0'; p = q) {
		char *colon = strstr(p, "\":");
		char *name = p + 1, *val;

		if (colon == NULL)
			break;
		*colon = '\0';
		label_name(name, lname, sizeof(lname));
		val = colon + 2;
		q = strchr(val, ',');
		if (q != NULL && *val == '"')
			q = strchr(strchr(val + 1, '"'), ',');
		if (q != NULL)
			*q++ = '\0';
		else
			q = val + strlen(val);
		if (*val == '"')
			fprintf(fp, ",%s=%s", lname, val);
		else
			fprintf(fp, ",%s=\"%s\"", lname, val);
	}
	free(buf);
}

static void
m_tasks(struct prom *pr, FILE *fp, uint64_t g)
{
	const struct ns_engine *e = pr->e;
	static const char *const what[] = { "packets", "bytes", "flows" };
	unsigned t, w, k;

	for (k = 0; k < 3; k++) {
		char name[64];

		snprintf(name, sizeof(name), "netspectra_task_%s_total", what[k]);
		help(fp, name, "counter", k == 2 ? "Flow records created by "
		    "the task, every period, since the segment was made." :
		    "Counted by the task since the segment was made.");
		for (t = 0; t < e->ntasks; t++) {
			uint64_t v = 0;

			for (w = 0; w < e->nworkers; w++) {
				const struct ns_task_stats *s =
				    &ns_engine_wstats(e, w)->task[t];

				v += ns_load_relaxed(k == 0 ? &s->packets :
				    k == 1 ? &s->bytes : &s->flows);
			}
			fprintf(fp, "%s{task=\"%s\"} %" PRIu64 "\n", name,
			    e->tasks[t].name, v);
		}
	}
	(void)g;
	help(fp, "netspectra_task_period_flows", "gauge",
	    "Flows (distinct keys) of the current period, counted every second.");
	pthread_mutex_lock(&pr->lock);
	for (t = 0; t < e->ntasks; t++)
		fprintf(fp, "netspectra_task_period_flows{task=\"%s\"} %" PRIu64
		    "\n", e->tasks[t].name, pr->period_flows[t]);
	pthread_mutex_unlock(&pr->lock);
}

static void
m_top_walk(struct prom *pr, FILE *fp, uint64_t g)
{
	const struct ns_engine *e = pr->e;
	unsigned k = e->cfg->prometheus.top_k, t, i;
	uint64_t nflows;
	int n;

	for (t = 0; t < e->ntasks; t++) {
		/* Read section: the generation is not cleared under us. */
		ns_slot_enter(&e->seg, pr->slot);
		n = ns_snapshot_top(e, g, t, k, 0, pr->top, &nflows);
		ns_slot_exit(pr->slot);
		pr->period_flows_next[t] = n >= 0 ? nflows : 0;
		for (i = 0; n > 0 && i < (unsigned)n; i++) {
			fprintf(fp, "netspectra_top_flow_packets{task=\"%s\","
			    "rank=\"%u\"", e->tasks[t].name, i + 1);
			key_labels(fp, &e->tasks[t], pr->top[i].key);
			fprintf(fp, "} %" PRIu64 "\n", pr->top[i].packets);
			fprintf(fp, "netspectra_top_flow_bytes{task=\"%s\","
			    "rank=\"%u\"", e->tasks[t].name, i + 1);
			key_labels(fp, &e->tasks[t], pr->top[i].key);
			fprintf(fp, "} %" PRIu64 "\n", pr->top[i].bytes);
		}
	}
}

/* ---- sketch tasks --------------------------------------------------------- */

static const char *const m_sketch_metric[] = {
	[NS_SKETCH_COUNT] = "netspectra_sketch_packets",
	[NS_SKETCH_SIZE] = "netspectra_sketch_bytes",
	[NS_SKETCH_SPREAD] = "netspectra_sketch_spread",
};

struct m_sketch_emit {
	FILE		*fp;
	unsigned	 rank, max;
};

/* A key of a sketch report, largest first: the first max of them. */
static void
m_sketch_key(void *arg, const struct ns_sketch_task *t,
    enum ns_sketch_kind kind, const uint8_t *key, uint64_t value,
    uint64_t err_bound)
{
	struct m_sketch_emit *se = arg;

	(void)err_bound;
	if (se->rank >= se->max)
		return;
	se->rank++;
	fprintf(se->fp, "%s{task=\"%s\",rank=\"%u\"", m_sketch_metric[kind],
	    t->cfg->name, se->rank);
	key_labels(se->fp, &t->flow, key);
	fprintf(se->fp, "} %" PRIu64 "\n", value);
}

/* Each sketch task's report of generation g: its keys and what it left out. */
static void
m_sketch_walk(struct prom *pr, FILE *fp, uint64_t g)
{
	const struct ns_engine *e = pr->e;
	struct m_sketch_emit se;
	struct ns_sketch_report rep;
	unsigned k, kind;
	int n;

	for (k = 0; k < e->nsketches; k++)
		for (kind = NS_SKETCH_COUNT; kind <= NS_SKETCH_SPREAD; kind++) {
			if ((kind == NS_SKETCH_SPREAD) != (e->sketches[k].spread != 0))
				continue;
			se = (struct m_sketch_emit){ fp, 0, e->cfg->prometheus.top_k };
			/* Read section: the generation is not cleared under us. */
			ns_slot_enter(&e->seg, pr->slot);
			n = ns_snapshot_sketch_stats(e, g, k, kind, m_sketch_key,
			    &se, &rep);
			ns_slot_exit(pr->slot);
			if (n >= 0)
				fprintf(fp, "netspectra_sketch_unreported{task=\"%s\","
				    "kind=\"%s\"} %" PRIu64 "\n",
				    e->sketches[k].cfg->name, ns_sketch_kind_name(kind),
				    rep.unreported + (rep.reported > se.rank ?
				    rep.reported - se.rank : 0));
		}
}

/* Packets the workers have applied, over their lifetimes: any change to
 * a table moves it. */
static uint64_t
top_stamp(const struct ns_engine *e)
{
	uint64_t n = 0;
	unsigned w;

	for (w = 0; w < e->nworkers; w++)
		n += ns_load_relaxed(&ns_engine_wstats(e, w)->packets);
	return n;
}

/*
 * The main thread, once a second: the top-K series afresh, unless no
 * packet was applied since the last walk (then the tables are what they
 * were, and walking them cost an idle daemon 4% of a core).  A period
 * that began since then holds no packet either: its series are empty,
 * and walking its empty million-slot tables is what made an idle
 * daemon's period boundary cost 40 ticks.
 */
static void
top_refresh(struct prom *pr)
{
	uint64_t g = ns_gen_root(&pr->e->seg), packets = top_stamp(pr->e);
	int idle = pr->top_valid && packets == pr->top_packets;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	if (idle && g == pr->top_gen)
		return;
	if ((fp = open_memstream(&buf, &len)) == NULL)
		return;
	pr->top_gen = g;
	pr->top_packets = packets;
	pr->top_valid = 1;
	if (idle)
		memset(pr->period_flows_next, 0, sizeof(pr->period_flows_next));
	else {
		m_top_walk(pr, fp, g);
		m_sketch_walk(pr, fp, g);
	}
	if (fclose(fp) != 0) {
		free(buf);
		return;
	}
	pthread_mutex_lock(&pr->lock);
	free(pr->top_text);
	pr->top_text = buf;
	pr->top_len = len;
	memcpy(pr->period_flows, pr->period_flows_next,
	    sizeof(pr->period_flows));
	pthread_mutex_unlock(&pr->lock);
}

static void
m_top(struct prom *pr, FILE *fp)
{
	help(fp, "netspectra_top_flow_packets", "gauge", "Packets of the "
	    "current period's heaviest flows (top_k per task, refreshed every "
	    "second).");
	help(fp, "netspectra_top_flow_bytes", "gauge", "Bytes of the same "
	    "flows.");
	help(fp, "netspectra_sketch_packets", "gauge", "Heavy-hitter sketch "
	    "tasks: the current period's heaviest keys by packets, estimated "
	    "(top_k per task, refreshed every second).");
	help(fp, "netspectra_sketch_bytes", "gauge", "The same by bytes.");
	help(fp, "netspectra_sketch_spread", "gauge", "Spreader sketch tasks: "
	    "the current period's keys with the most distinct elements, "
	    "estimated.");
	help(fp, "netspectra_sketch_unreported", "gauge", "Keys of a sketch "
	    "task over its threshold that the series above leave out (past "
	    "top_k, or estimated to have no candidate slot).");
	pthread_mutex_lock(&pr->lock);
	if (pr->top_text != NULL)
		fwrite(pr->top_text, 1, pr->top_len, fp);
	pthread_mutex_unlock(&pr->lock);
}

static int
m_is_nats(const struct ns_engine *e, unsigned i)
{
	return i < e->cfg->ninputs &&
	    e->cfg->inputs[i].type == NS_CONFIG_INPUT_NATS;
}

/* NATS inputs: slow-consumer losses (a message is a packet in
 * Go2NetSpectra's format) are a drop layer of their own. */
static void
m_nats_drops(const struct ns_engine *e, FILE *fp)
{
	unsigned i;

	for (i = 0; i < e->ninputs; i++)
		if (m_is_nats(e, i))
			fprintf(fp, "netspectra_dropped_packets_total{layer="
			    "\"slow_consumer\",input=\"%u\"} %" PRIu64 "\n", i,
			    ns_load_relaxed(&ns_engine_input(e, i)->
			    slow_consumer));
}

/* NATS inputs: messages taken, and those refused by reason. */
static void
m_nats(const struct ns_engine *e, FILE *fp)
{
	const struct ns_input_state *st;
	unsigned i, r;

	help(fp, "netspectra_nats_messages_total", "counter",
	    "Messages a NATS input took (decoded or refused).");
	for (i = 0; i < e->ninputs; i++)
		if (m_is_nats(e, i))
			fprintf(fp, "netspectra_nats_messages_total{input=\"%u\"} %"
			    PRIu64 "\n", i, ns_load_relaxed(&ns_engine_input(e,
			    i)->nats.msgs));
	help(fp, "netspectra_nats_malformed_total", "counter",
	    "Messages (or packets of a batch) a NATS input refused, by "
	    "reason.");
	for (i = 0; i < e->ninputs; i++) {
		if (!m_is_nats(e, i))
			continue;
		st = ns_engine_input(e, i);
		for (r = 1; r < NS_NATSMSG_NREASONS; r++)
			fprintf(fp, "netspectra_nats_malformed_total{input=\"%u\","
			    "reason=\"%s\"} %" PRIu64 "\n", i,
			    ns_natsmsg_reason_name(r),
			    ns_load_relaxed(&st->nats.malformed[r]));
	}
	help(fp, "netspectra_nats_redelivered_total", "counter",
	    "JetStream messages delivered again and skipped (already "
	    "counted).");
	for (i = 0; i < e->ninputs; i++)
		if (m_is_nats(e, i))
			fprintf(fp, "netspectra_nats_redelivered_total{input=\"%u\"}"
			    " %" PRIu64 "\n", i, ns_load_relaxed(
			    &ns_engine_input(e, i)->redelivered));
}

static void
m_drops(const struct ns_engine *e, FILE *fp)
{
	uint64_t reasons[NS_PARSE_NREASONS];
	unsigned i, w, t, r;

	help(fp, "netspectra_input_packets_total", "counter",
	    "Packets the kernel delivered to the input (pcap_stats).");
	for (i = 0; i < e->ninputs; i++)
		fprintf(fp, "netspectra_input_packets_total{input=\"%u\"} %"
		    PRIu64 "\n", i, ns_load_relaxed(&ns_engine_input(e, i)->
		    kernel_recv));
	help(fp, "netspectra_input_bytes_total", "counter",
	    "Wire bytes of the packets the input read.");
	for (i = 0; i < e->ninputs; i++)
		fprintf(fp, "netspectra_input_bytes_total{input=\"%u\"} %"
		    PRIu64 "\n", i, ns_load_relaxed(&ns_engine_input(e, i)->
		    captured_bytes));
	help(fp, "netspectra_dropped_packets_total", "counter",
	    "Packets lost or refused, by layer: kernel, ring_full, parse "
	    "(malformed, by reason), table_full.");
	for (i = 0; i < e->ninputs; i++) {
		fprintf(fp, "netspectra_dropped_packets_total{layer=\"kernel\","
		    "input=\"%u\"} %" PRIu64 "\n", i, ns_load_relaxed(
		    &ns_engine_input(e, i)->kernel_drops));
		for (w = 0; w < e->nworkers; w++)
			fprintf(fp, "netspectra_dropped_packets_total{layer="
			    "\"ring_full\",input=\"%u\",worker=\"%u\"} %" PRIu64
			    "\n", i, w, ns_load_relaxed(&ns_engine_ring(e, i,
			    w)->full));
	}
	m_nats_drops(e, fp);
	memset(reasons, 0, sizeof(reasons));
	for (w = 0; w < e->nworkers; w++)
		for (r = 0; r < NS_PARSE_NREASONS; r++)
			reasons[r] += ns_load_relaxed(
			    &ns_engine_wstats(e, w)->reason_frames[r]);
	for (r = 1; r < NS_PARSE_NREASONS; r++)
		fprintf(fp, "netspectra_dropped_packets_total{layer=\"parse\","
		    "reason=\"%s\"} %" PRIu64 "\n", ns_parse_reason_name(r),
		    reasons[r]);
	for (t = 0; t < e->ntasks; t++) {
		uint64_t v = 0;

		for (w = 0; w < e->nworkers; w++)
			v += ns_load_relaxed(&ns_engine_wstats(e, w)->task[t].
			    table_full);
		fprintf(fp, "netspectra_dropped_packets_total{layer="
		    "\"table_full\",task=\"%s\"} %" PRIu64 "\n",
		    e->tasks[t].name, v);
	}
}

/* ClickHouse and NATS writers: what became of their rows. */
static void
m_writers(const struct ns_engine *e, FILE *fp)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} m[] = {
#define W(n, t, h, f) { n, t, h, offsetof(struct ns_ch_counts, f) }
		W("netspectra_export_spooled_rows_total", "counter",
		    "Rows a writer put into its spool.", spooled),
		W("netspectra_export_rows_total", "counter",
		    "Rows the server acknowledged (ClickHouse) or received "
		    "(NATS).", sent),
		W("netspectra_export_dropped_rows_total", "counter",
		    "Rows lost: the spool had no room for them, or the "
		    "server kept refusing them.", dropped),
		W("netspectra_export_skipped_snapshots_total", "counter",
		    "Live snapshots skipped while a backlog was delivered "
		    "(a later snapshot of the period holds their rows).",
		    skipped),
		W("netspectra_export_errors_total", "counter",
		    "Failed requests to ClickHouse, failed publications and "
		    "lost connections to NATS.", errors),
		W("netspectra_export_spool_bytes", "gauge",
		    "Bytes waiting in the spool.", spool_bytes),
		W("netspectra_export_spool_batches", "gauge",
		    "Batches waiting in the spool.", spool_files),
#undef W
	};
	struct ns_ch_counts c[NS_EXPORT_WRITERS];
	int have[NS_EXPORT_WRITERS], any = 0;
	char name[32];
	unsigned i, id;

	for (id = 0; id < NS_EXPORT_WRITERS; id++)
		any |= have[id] = ns_ch_counts(e, id, &c[id]) == 0 ||
		    ns_natsw_counts(e, id, &c[id]) == 0;
	for (i = 0; any && i < sizeof(m) / sizeof(m[0]); i++) {
		help(fp, m[i].name, m[i].type, m[i].help);
		for (id = 0; id < NS_EXPORT_WRITERS; id++)
			if (have[id])
				fprintf(fp, "%s{writer=\"%s\"} %" PRIu64 "\n",
				    m[i].name, ns_ch_writer_name(id, name,
				    sizeof(name)), *(const uint64_t *)(const void *)
				    ((const char *)&c[id] + m[i].off));
	}
}

static void
m_engine(const struct ns_engine *e, FILE *fp, uint64_t g)
{
	static const char *const roles[] = { "none", "supervisor", "capture",
	    "worker", "exporter", "api", "cli" };
	uint64_t restarts[7] = { 0 }, start;
	unsigned i, w, n = ns_slot_count(&e->seg);

	help(fp, "netspectra_build_info", "gauge", "Always 1.");
	fprintf(fp, "netspectra_build_info{version=\"%s\"} 1\n",
	    PACKAGE_VERSION);
	help(fp, "netspectra_ring_fill_ratio", "gauge",
	    "Records queued in the ring from an input to a worker, of its "
	    "capacity.");
	for (i = 0; i < e->ninputs; i++)
		for (w = 0; w < e->nworkers; w++) {
			const struct ns_ring *r = ns_engine_ring(e, i, w);
			uint64_t q = ns_load_relaxed(&r->head) -
			    NS_RING_TAIL(ns_load_relaxed(&r->commit));

			fprintf(fp, "netspectra_ring_fill_ratio{input=\"%u\","
			    "worker=\"%u\"} %.6f\n", i, w, (double)q /
			    (double)r->capacity);
		}
	for (i = 0; i < n; i++) {
		const struct ns_slot *s = ns_slot_get(&e->seg, i);

		if (s->role < 7)
			restarts[s->role] += ns_load_relaxed(&s->spare[0]);
	}
	help(fp, "netspectra_process_restarts_total", "counter",
	    "Processes re-forked after dying, by role.");
	for (i = 2; i < 6; i++)		/* capture, worker, exporter, api */
		fprintf(fp, "netspectra_process_restarts_total{role=\"%s\"} %"
		    PRIu64 "\n", roles[i], restarts[i]);
	start = ns_load_relaxed(&ns_gen_info(&e->seg, g)->period_start_ns);
	help(fp, "netspectra_period_start_seconds", "gauge",
	    "When the current period began (Unix time).");
	fprintf(fp, "netspectra_period_start_seconds %.3f\n",
	    start == NS_ENGINE_END ? 0.0 : (double)start / 1e9);
	help(fp, "netspectra_exporter_periods_total", "counter",
	    "Periods whose final snapshot the file exporter wrote.");
	fprintf(fp, "netspectra_exporter_periods_total{exporter=\"files\"} %"
	    PRIu64 "\n", ns_engine_export(e)->ckpt[ns_engine_export(e)->
	    ckpt_idx].periods);
	help(fp, "netspectra_exporter_last_success_seconds", "gauge",
	    "When the file exporter last finished a generation (Unix time; "
	    "a failure stops the daemon, with a log line).");
	fprintf(fp, "netspectra_exporter_last_success_seconds{exporter="
	    "\"files\"} %.3f\n", (double)ns_load_relaxed(
	    &ns_engine_export(e)->last_ok_ns) / 1e9);
}

static char *
metrics_text(struct prom *pr, size_t *len)
{
	char *buf = NULL;
	FILE *fp = open_memstream(&buf, len);
	uint64_t g;

	if (fp == NULL)
		return NULL;
	g = ns_gen_root(&pr->e->seg);
	m_engine(pr->e, fp, g);
	m_drops(pr->e, fp);
	m_nats(pr->e, fp);
	m_writers(pr->e, fp);
	ns_alerter_metrics(pr->e, fp);
	m_tasks(pr, fp, g);
	m_top(pr, fp);
	if (fclose(fp) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *type,
    char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, mode);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Basic auth when prometheus.basic_auth is set: 1 when allowed. */
static int
authorized(struct prom *pr, struct MHD_Connection *conn)
{
	const struct ns_config_prometheus *c = &pr->e->cfg->prometheus;
	char *pass = NULL, *user;
	int ok;

	if (c->username[0] == '\0')
		return 1;
	user = MHD_basic_auth_get_username_password(conn, &pass);
	ok = user != NULL && pass != NULL && strcmp(user, c->username) == 0 &&
	    strcmp(pass, c->password) == 0;
	MHD_free(user);
	MHD_free(pass);
	return ok;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **state)
{
	static const char home[] = "<html><head><title>netspectra</title></head>"
	    "<body><h1>netspectra</h1><p><a href=\"/metrics\">Metrics</a></p>"
	    "</body></html>\n";
	struct prom *pr = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *body;
	size_t len;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)state;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, 405, "text/plain", "GET only\n", 9,
		    MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/-/healthy") == 0)
		return reply(conn, 200, "text/plain", "OK\n", 3,
		    MHD_RESPMEM_PERSISTENT);
	if (!authorized(pr, conn)) {
		r = MHD_create_response_from_buffer(13, "unauthorized\n",
		    MHD_RESPMEM_PERSISTENT);
		ret = MHD_queue_basic_auth_fail_response(conn, "netspectra", r);
		MHD_destroy_response(r);
		return ret;
	}
	if (strcmp(url, "/") == 0)
		return reply(conn, 200, "text/html; charset=utf-8", (char *)home,
		    sizeof(home) - 1, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, 404, "text/plain", "not found\n", 10,
		    MHD_RESPMEM_PERSISTENT);
	if ((body = metrics_text(pr, &len)) == NULL)
		return reply(conn, 500, "text/plain", "out of memory\n", 14,
		    MHD_RESPMEM_PERSISTENT);
	return reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8",
	    body, len, MHD_RESPMEM_MUST_FREE);
}

/* "host:port" or "[v6]:port" into an address MHD can bind. */
static int
listen_addr(const char *spec, struct sockaddr_storage *ss)
{
	char host[128];
	const char *colon = strrchr(spec, ':');
	unsigned long port;
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	if (colon == NULL || (port = strtoul(colon + 1, NULL, 10)) == 0 ||
	    port > 65535 || (size_t)(colon - spec) >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		host[strlen(host) - 1] = '\0';
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host + 1, &in6->sin6_addr) == 1 ?
		    0 : -EINVAL;
	}
	in4->sin_family = AF_INET;
	in4->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host[0] ? host : "0.0.0.0",
	    &in4->sin_addr) == 1 ? 0 : -EINVAL;
}

/* A whole file, NUL-terminated, or NULL (logged). */
static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int ch;

	if (fp == NULL || (m = open_memstream(&buf, &len)) == NULL) {
		log_warn("%s", path);
		if (fp != NULL)
			fclose(fp);
		return NULL;
	}
	while ((ch = getc(fp)) != EOF)
		putc(ch, m);
	fclose(fp);
	fclose(m);
	return buf;
}

/* HTTPS with prometheus.tls, when libmicrohttpd was built with TLS. */
static struct MHD_Daemon *
start_tls(const struct ns_config_prometheus *cfg, struct sockaddr_storage *ss,
    unsigned flags, struct prom *pr)
{
	char *cert, *key;

	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		log_warnx("prometheus.tls: this libmicrohttpd has no TLS");
		exit(NS_EXIT_NORESPAWN);
	}
	if ((cert = slurp(cfg->cert_file)) == NULL ||
	    (key = slurp(cfg->key_file)) == NULL)
		exit(NS_EXIT_NORESPAWN);
	/* MHD keeps pointers to them: they live as long as we do. */
	return MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, handle, pr,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)ss,
	    MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
	    MHD_OPTION_END);
}

void
ns_prometheus_child(struct ns_engine *e, const struct ns_child *c)
{
	const struct ns_config_prometheus *cfg = &e->cfg->prometheus;
	static struct prom pr;
	struct sockaddr_storage ss;
	struct timespec ts = { 0, 100000000 };
	struct MHD_Daemon *d;
	unsigned tick = 0;

	pr.e = e;
	pthread_mutex_init(&pr.lock, NULL);
	pr.slot = ns_slot_get(&e->seg, c->slot);
	if ((pr.top = calloc(cfg->top_k ? cfg->top_k : 1,
	    sizeof(*pr.top))) == NULL)
		fatal("calloc");
	if (listen_addr(cfg->listen, &ss) != 0) {
		log_warnx("prometheus.listen %s: expected host:port", cfg->listen);
		exit(NS_EXIT_NORESPAWN);
	}
	if (cfg->cert_file[0] != '\0')
		d = start_tls(cfg, &ss, MHD_USE_INTERNAL_POLLING_THREAD |
		    (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), &pr);
	else
		d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
		    (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0, NULL,
		    NULL, handle, &pr, MHD_OPTION_SOCK_ADDR,
		    (struct sockaddr *)&ss, MHD_OPTION_END);
	if (d == NULL) {
		log_warnx("cannot serve /metrics on %s", cfg->listen);
		exit(NS_EXIT_NORESPAWN);
	}
	top_refresh(&pr);
	log_info("serving /metrics on %s%s", cfg->listen,
	    cfg->cert_file[0] != '\0' ? " (https)" : "");
	/* Until the run ends; the supervisor's death ends us too. */
	while (!ns_engine_inputs_done(e) && getppid() != 1) {
		nanosleep(&ts, NULL);
		if (++tick % 10 == 0)
			top_refresh(&pr);
	}
	MHD_stop_daemon(d);
	exit(0);
}
