/*
 * analyze.c -- `netspectra analyze`: the supervisor, capture, worker and
 * exporter roles run over capture files in a private shared-memory
 * segment (a memfd: nothing to remove, even after a crash), and the
 * exporter prints every period's final flows and the run's summary.
 * Also `netspectra dump`, the parser's view of a file, frame by frame.
 */
#include "analyze.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "capture.h"
#include "clickhouse.h"
#include "exporter.h"
#include "file.h"
#include "log.h"
#include "nats_writer.h"
#include "output.h"
#include "reader.h"
#include "slot.h"
#include "snapshot.h"
#include "supervisor.h"
#include "worker.h"

struct analyze_sink {
	const struct ns_analyze_opts *o;
	FILE *flows;			/* stdout */
	FILE *summary;			/* stdout, or stderr under --flows */
	uint64_t period_start;
	struct ns_sketch_report rep[NS_CONFIG_MAX_TASKS][3]; /* summed */
};

static void
sink_sketch_one(void *arg, const struct ns_sketch_task *t,
    enum ns_sketch_kind kind, const uint8_t *key, uint64_t value,
    uint64_t err)
{
	struct analyze_sink *s = arg;

	if (s->o->heavy == NS_FLOWS_NONE)
		return;
	if (s->o->heavy == NS_FLOWS_CSV)
		ns_output_sketch_csv(s->flows, t->cfg->name, &t->flow,
		    s->period_start, ns_sketch_kind_name(kind), key, value, err);
	else
		ns_output_sketch_jsonl(s->flows, t->cfg->name, &t->flow,
		    s->period_start, ns_sketch_kind_name(kind), key, value, err);
}

static void
sink_csv_headers(struct analyze_sink *s, const struct ns_engine *e)
{
	unsigned t;

	for (t = 0; s->o->flows == NS_FLOWS_CSV && t < e->ntasks; t++)
		ns_output_flow_csv_header(s->flows, &e->tasks[t]);
	for (t = 0; s->o->heavy == NS_FLOWS_CSV && t < e->nsketches; t++)
		ns_output_sketch_csv_header(s->flows, &e->sketches[t].flow);
}

/*
 * Heavy hitters by count and size, or spreaders, of every sketch task:
 * printed under --heavy-hitters, counted for the summary always.
 */
static int
sink_sketches(struct analyze_sink *s, const struct ns_engine *e, uint64_t g)
{
	struct ns_sketch_report r, *sum;
	enum ns_sketch_kind kind;
	unsigned k;
	int rc;

	for (k = 0; k < e->nsketches; k++) {
		const struct ns_sketch_task *t = &e->sketches[k];

		for (kind = t->spread ? NS_SKETCH_SPREAD : NS_SKETCH_COUNT;
		    kind <= (t->spread ? NS_SKETCH_SPREAD : NS_SKETCH_SIZE);
		    kind++) {
			if ((rc = ns_snapshot_sketch_stats(e, g, k, kind,
			    sink_sketch_one, s, &r)) < 0)
				return rc;
			sum = &s->rep[k][kind];
			sum->reported += r.reported;
			sum->cut += r.cut;
			sum->unreported += r.unreported;
		}
	}
	return 0;
}

static void
sink_flow(void *arg, const struct ns_task *t, const struct ns_flow *f)
{
	struct analyze_sink *s = arg;

	if (s->o->flows == NS_FLOWS_JSONL)
		ns_output_flow_jsonl(s->flows, t, s->period_start, f);
	else
		ns_output_flow_csv(s->flows, t, s->period_start, f);
}

static int
sink_period(void *arg, const struct ns_engine *e, uint64_t g,
    uint64_t period_start, int first)
{
	struct analyze_sink *s = arg;
	unsigned t;
	int rc;

	/* CSV headers: once, before the first period's rows, whatever
	 * exporter process writes it. */
	if (first)
		sink_csv_headers(s, e);
	/* Every configured writer gets every period's final snapshot, as
	 * the daemon's: ClickHouse and NATS through their spools. */
	ns_ch_spool_final_all(e, g, period_start);
	ns_natsw_spool_final_all(e, g, period_start);
	if ((rc = ns_file_write_all(e, g, period_start, 1, NULL)) != 0)
		return rc;
	s->period_start = period_start;
	if ((rc = sink_sketches(s, e, g)) != 0)
		return rc;
	if (s->o->flows == NS_FLOWS_NONE)
		return ferror(s->flows) ? -EIO : 0;
	for (t = 0; t < e->ntasks; t++) {
		if ((rc = ns_snapshot_task(e, g, t, sink_flow, s)) != 0)
			return rc;
	}
	return ferror(s->flows) ? -EIO : 0;
}

/* Sum the workers' journaled statistics. */
static void
totals_collect(const struct ns_engine *e, struct ns_analyze_totals *t)
{
	unsigned w, i, k;

	memset(t, 0, sizeof(*t));
	t->ntasks = e->ntasks;
	t->shm_bytes = e->shm_bytes;
	for (w = 0; w < e->nworkers; w++) {
		const struct ns_worker_stats *st = ns_engine_wstats(e, w);

		t->parsed += st->packets;
		t->parsed_bytes += st->bytes;
		t->ipv4 += st->ipv4;
		t->ipv6 += st->ipv6;
		if (st->packets && (t->first_ns == 0 || st->first_ns < t->first_ns))
			t->first_ns = st->first_ns;
		if (st->last_ns > t->last_ns)
			t->last_ns = st->last_ns;
		for (i = 0; i < 256; i++)
			t->proto[i] += st->proto[i];
		for (i = 0; i < NS_PARSE_NREASONS; i++) {
			t->reason[i] += st->reason_frames[i];
			t->packets += st->reason_frames[i];
			t->bytes += st->reason_bytes[i];
		}
		for (k = 0; k < e->ntasks; k++) {
			t->task[k].packets += st->task[k].packets;
			t->task[k].bytes += st->task[k].bytes;
			t->task[k].flows += st->task[k].flows;
			t->task[k].table_full += st->task[k].table_full;
		}
	}
	t->packets += t->parsed;
	t->bytes += t->parsed_bytes;
	t->reason[NS_PARSE_OK] = t->parsed;
	t->nsketches = e->nsketches;
	for (k = 0; k < e->nsketches; k++) {
		t->sketch_name[k] = e->sketches[k].cfg->name;
		t->sketch_kind[k] = e->sketches[k].spread ? "super-spreaders" :
		    "heavy hitters";
		t->sketch_bytes[k] = e->sketches[k].region_size * e->nworkers;
	}
	for (k = 0; k < e->ntasks; k++) {
		t->task_name[k] = e->tasks[k].name;
		t->task_max_flows[k] = e->tasks[k].max_flows;
		/* Every worker's shard, per flow of the task's max_flows. */
		t->task_bytes_per_flow[k] = ns_table_flow_cost(
		    e->tasks[k].key_size, ns_engine_shard_flows(e, k)) *
		    (double)ns_engine_shard_flows(e, k) * e->nworkers /
		    (double)e->tasks[k].max_flows;
	}
}

static int
sink_end(void *arg, const struct ns_engine *e)
{
	struct analyze_sink *s = arg;
	static struct ns_analyze_totals t;

	totals_collect(e, &t);
	for (unsigned k = 0; k < e->nsketches; k++)
		for (int kind = 0; kind < 3; kind++) {
			t.sketch_reported[k][kind] = s->rep[k][kind].reported;
			t.sketch_unreported[k][kind] = s->rep[k][kind].unreported;
		}
	ns_analyze_print(s->summary, &t, s->o->summary);
	return fflush(s->summary) != 0 ? -errno : 0;
}

/* ---- the roles of an offline run ------------------------------------- */

static void __attribute__((noreturn))
role_capture(struct ns_engine *e, const struct ns_child *c)
{
	ns_capture_files_main(e, c->index, c->arg);
}

/* ---- spools ------------------------------------------------------------ */

static int
analyze_has_spools(const struct ns_config *cfg)
{
	unsigned id;

	for (id = 0; id < NS_EXPORT_WRITERS; id++)
		if (ns_ch_writer(cfg, id) != NULL ||
		    ns_natsw_writer(cfg, id) != NULL)
			return 1;
	return 0;
}

int
ns_analyze_spool_begin(struct ns_config *cfg)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], *copy;

	if (!analyze_has_spools(cfg))
		return 0;
	snprintf(dir, sizeof(dir), "%s/netspectra-analyze.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL || (copy = strdup(dir)) == NULL) {
		log_warn("spool directory %s", dir);
		return -errno;
	}
	free(cfg->daemon.state_dir);
	cfg->daemon.state_dir = copy;
	return 0;
}

/* rmdir, and a word when something is left in it. */
static void
analyze_rmdir(const char *dir, int *kept)
{
	if (rmdir(dir) == 0 || errno == ENOENT)
		return;
	if (errno == ENOTEMPTY || errno == EEXIST) {
		if (!*kept)
			log_warnx("undelivered batches are kept in %s", dir);
		*kept = 1;
		return;
	}
	log_warn("rmdir %s", dir);
}

void
ns_analyze_spool_end(const struct ns_config *cfg)
{
	char dir[4096];
	unsigned id;
	int kept = 0;

	if (!analyze_has_spools(cfg))
		return;
	for (id = 0; id < NS_EXPORT_WRITERS; id++) {
		if (ns_ch_spool_dir(cfg, id, dir, sizeof(dir)) == 0 ||
		    ns_natsw_spool_dir(cfg, id, dir, sizeof(dir)) == 0)
			analyze_rmdir(dir, &kept);
	}
	snprintf(dir, sizeof(dir), "%s/spool", cfg->daemon.state_dir);
	analyze_rmdir(dir, &kept);
	analyze_rmdir(cfg->daemon.state_dir, &kept);
}

/* Every file must open before anything runs. */
static int
check_files(const struct ns_analyze_opts *o)
{
	struct ns_reader r;
	int i, rc = 0;

	for (i = 0; i < o->nfiles; i++) {
		if (ns_reader_open(&r, o->files[i]) < 0) {
			rc = -EINVAL;
			continue;
		}
		ns_reader_close(&r);
	}
	return rc;
}

static int
add_roles(struct ns_supervisor *sup, struct ns_engine *e,
    struct ns_capture_files *files, struct ns_sink *sink)
{
	char name[16];
	unsigned w;
	int rc;

	if ((rc = ns_supervisor_add(sup, "ns-capture-0", NS_ROLE_CAPTURE, 0,
	    role_capture, files)) != 0)
		return rc;
	for (w = 0; w < e->nworkers; w++) {
		snprintf(name, sizeof(name), "ns-worker-%u", w % 100000u);
		if ((rc = ns_supervisor_add(sup, name, NS_ROLE_WORKER, w,
		    ns_worker_child, NULL)) != 0)
			return rc;
	}
	/* ClickHouse and NATS writers: a process each, as in the daemon;
	 * each delivers its spool before it ends, and so before we do. */
	for (w = 0; w < NS_EXPORT_WRITERS; w++) {
		if ((w < NS_CONFIG_MAX_WRITERS ? e->ntasks : e->nsketches) == 0)
			continue;
		if (ns_ch_writer(e->cfg, w) != NULL && (rc = ns_supervisor_add(
		    sup, "ns-export-ch", NS_ROLE_EXPORTER, w, ns_ch_child,
		    NULL)) != 0)
			return rc;
		if (ns_natsw_writer(e->cfg, w) != NULL && (rc =
		    ns_supervisor_add(sup, "ns-export-nats", NS_ROLE_EXPORTER,
		    w, ns_natsw_child, NULL)) != 0)
			return rc;
	}
	return ns_supervisor_add(sup, "ns-export-flows", NS_ROLE_EXPORTER, 0,
	    ns_exporter_child, sink);
}

int
ns_analyze_run(const struct ns_config *cfg, const struct ns_analyze_opts *o,
    FILE *out)
{
	static struct ns_supervisor sup;
	struct ns_engine e;
	struct ns_capture_files files = { o->files, o->nfiles, o->progress };
	struct analyze_sink as = { .o = o, .flows = out,
	    .summary = o->flows != NS_FLOWS_NONE ||
	    o->heavy != NS_FLOWS_NONE ? stderr : out };
	struct ns_sink sink = { sink_period, sink_end, &as, out, NULL };
	char err[512];
	int rc;

	if ((rc = check_files(o)) != 0)
		return rc;
	ns_ch_spool_prepare(cfg, 0, 0, 0);
	ns_natsw_spool_prepare(cfg, 0, 0, 0);
	if ((rc = ns_engine_init(&e, cfg, 1, err, sizeof(err))) != 0) {
		log_warnx("%s", err);
		return rc;
	}
	if ((rc = ns_engine_create_private(&e)) != 0) {
		log_warnx("shared memory of %" PRIu64 " bytes: %s",
		    e.shm_bytes, strerror(-rc));
		return rc;
	}
	ns_supervisor_init(&sup, &e);
	sup.crash_loop = NS_SUP_CRASH_LOOP;
	if ((rc = add_roles(&sup, &e, &files, &sink)) == 0)
		rc = ns_supervisor_run(&sup);
	if (rc == 0 && (ns_engine_input(&e, 0)->done & NS_INPUT_FAILED))
		rc = -EIO;
	ns_engine_close(&e);
	return rc;
}

static const char *
proto_name(int p)
{
	switch (p) {
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 58: return "icmpv6";
	case 132: return "sctp";
	default: return NULL;
	}
}

/* Spread tasks count under NS_SKETCH_SPREAD, the others under COUNT, SIZE. */
static int
sketch_is_spread(const struct ns_analyze_totals *t, unsigned k)
{
	return strcmp(t->sketch_kind[k], "super-spreaders") == 0;
}

static void
print_sketch(FILE *out, const struct ns_analyze_totals *t, unsigned k)
{
	const uint64_t *r = t->sketch_reported[k], *u = t->sketch_unreported[k];

	fprintf(out, "sketch %s: %s, memory %" PRIu64 " bytes", t->sketch_name[k],
	    t->sketch_kind[k], t->sketch_bytes[k]);
	if (sketch_is_spread(t, k))
		fprintf(out, ", reported %" PRIu64 ", unreported %" PRIu64 "\n",
		    r[NS_SKETCH_SPREAD], u[NS_SKETCH_SPREAD]);
	else
		fprintf(out, ", reported %" PRIu64 "/%" PRIu64 ", unreported %"
		    PRIu64 "/%" PRIu64 " (count/size)\n", r[NS_SKETCH_COUNT],
		    r[NS_SKETCH_SIZE], u[NS_SKETCH_COUNT], u[NS_SKETCH_SIZE]);
}

static void
print_table(FILE *out, const struct ns_analyze_totals *t)
{
	char a[NS_TIME_STRLEN], b[NS_TIME_STRLEN];

	fprintf(out, "%-24s %15" PRIu64 "\n", "frames", t->packets);
	fprintf(out, "%-24s %15" PRIu64 "\n", "bytes", t->bytes);
	fprintf(out, "%-24s %15" PRIu64 "\n", "packets (IP)", t->parsed);
	fprintf(out, "%-24s %15" PRIu64 "\n", "bytes (IP)", t->parsed_bytes);
	fprintf(out, "%-24s %15" PRIu64 "\n", "ipv4", t->ipv4);
	fprintf(out, "%-24s %15" PRIu64 "\n", "ipv6", t->ipv6);
	for (int p = 0; p < 256; p++) {
		const char *n = proto_name(p);
		char other[16];

		if (t->proto[p] == 0)
			continue;
		if (n == NULL) {
			snprintf(other, sizeof(other), "proto %d", p);
			n = other;
		}
		fprintf(out, "%-24s %15" PRIu64 "\n", n, t->proto[p]);
	}
	for (int r = 1; r < NS_PARSE_NREASONS; r++)
		if (t->reason[r] != 0)
			fprintf(out, "%-24s %15" PRIu64 "\n",
			    ns_parse_reason_name(r), t->reason[r]);
	if (t->parsed != 0)
		fprintf(out, "%-24s %s .. %s\n", "time",
		    ns_time_format(t->first_ns, a, sizeof(a)),
		    ns_time_format(t->last_ns, b, sizeof(b)));
	for (unsigned k = 0; k < t->ntasks; k++)
		fprintf(out, "task %s: packets %" PRIu64 ", bytes %" PRIu64
		    ", flows %" PRIu64 ", table_full %" PRIu64 ", memory %.1f "
		    "bytes/flow (max_flows %" PRIu64 ")\n", t->task_name[k],
		    t->task[k].packets, t->task[k].bytes, t->task[k].flows,
		    t->task[k].table_full, t->task_bytes_per_flow[k],
		    t->task_max_flows[k]);
	for (unsigned k = 0; k < t->nsketches; k++)
		print_sketch(out, t, k);
	if (t->shm_bytes != 0)
		fprintf(out, "%-24s %15" PRIu64 "\n", "shared memory bytes",
		    t->shm_bytes);
}

/* {"name":..,"kind":..,"memory_bytes":..,"reported":{..},"unreported":{..}} */
static void
print_sketch_json(FILE *out, const struct ns_analyze_totals *t, unsigned k)
{
	const uint64_t *v[2] = { t->sketch_reported[k], t->sketch_unreported[k] };
	const char *names[2] = { "reported", "unreported" };

	fprintf(out, "%s{\"name\":\"%s\",\"kind\":\"%s\",\"memory_bytes\":%"
	    PRIu64, k ? "," : "", t->sketch_name[k], t->sketch_kind[k],
	    t->sketch_bytes[k]);
	for (int i = 0; i < 2; i++) {
		if (sketch_is_spread(t, k))
			fprintf(out, ",\"%s\":{\"spread\":%" PRIu64 "}",
			    names[i], v[i][NS_SKETCH_SPREAD]);
		else
			fprintf(out, ",\"%s\":{\"count\":%" PRIu64 ",\"size\":%"
			    PRIu64 "}", names[i], v[i][NS_SKETCH_COUNT],
			    v[i][NS_SKETCH_SIZE]);
	}
	fputc('}', out);
}

static void
print_json(FILE *out, const struct ns_analyze_totals *t)
{
	const char *sep = "";

	fprintf(out, "{\"frames\":%" PRIu64 ",\"bytes\":%" PRIu64
	    ",\"packets\":%" PRIu64 ",\"ip_bytes\":%" PRIu64
	    ",\"ipv4\":%" PRIu64 ",\"ipv6\":%" PRIu64 ",\"protocols\":{",
	    t->packets, t->bytes, t->parsed, t->parsed_bytes, t->ipv4, t->ipv6);
	for (int p = 0; p < 256; p++) {
		if (t->proto[p] == 0)
			continue;
		fprintf(out, "%s\"%d\":%" PRIu64, sep, p, t->proto[p]);
		sep = ",";
	}
	fprintf(out, "},\"skipped\":{");
	sep = "";
	for (int r = 1; r < NS_PARSE_NREASONS; r++) {
		fprintf(out, "%s\"%s\":%" PRIu64, sep, ns_parse_reason_name(r),
		    t->reason[r]);
		sep = ",";
	}
	fprintf(out, "},\"tasks\":[");
	for (unsigned k = 0; k < t->ntasks; k++)
		fprintf(out, "%s{\"name\":\"%s\",\"packets\":%" PRIu64
		    ",\"bytes\":%" PRIu64 ",\"flows\":%" PRIu64
		    ",\"table_full\":%" PRIu64 ",\"max_flows\":%" PRIu64
		    ",\"bytes_per_flow\":%.1f}", k ? "," : "", t->task_name[k],
		    t->task[k].packets, t->task[k].bytes, t->task[k].flows,
		    t->task[k].table_full, t->task_max_flows[k],
		    t->task_bytes_per_flow[k]);
	fprintf(out, "],\"sketches\":[");
	for (unsigned k = 0; k < t->nsketches; k++)
		print_sketch_json(out, t, k);
	fprintf(out, "],\"shm_bytes\":%" PRIu64 "}\n", t->shm_bytes);
}

void
ns_analyze_print(FILE *out, const struct ns_analyze_totals *t,
    enum ns_summary_fmt fmt)
{
	if (fmt == NS_SUMMARY_JSON)
		print_json(out, t);
	else
		print_table(out, t);
}

static void
dump_record(FILE *out, uint64_t frame, const struct ns_record *rec)
{
	char s[NS_ADDR_STRLEN], d[NS_ADDR_STRLEN];

	fprintf(out, "%" PRIu64 "\t%s\t%s\t%u\t%u\t%u\t%u\n", frame,
	    ns_addr_format(rec->src, rec->ipver, s, sizeof(s)),
	    ns_addr_format(rec->dst, rec->ipver, d, sizeof(d)),
	    rec->sport, rec->dport, rec->proto, rec->wire_len);
}

int
ns_dump_run(const char *path, FILE *out)
{
	struct ns_reader r;
	struct pcap_pkthdr *h;
	const u_char *data;
	struct ns_record rec;
	int rc;

	if ((rc = ns_reader_open(&r, path)) < 0)
		return rc;
	while ((rc = ns_reader_next(&r, &h, &data)) == 1) {
		enum ns_parse_result res = ns_parse_packet(r.dlt, data, h->caplen,
		    h->len, ns_reader_ts(&r, h), &rec);

		if (res == NS_PARSE_OK)
			dump_record(out, r.frame, &rec);
		else if (ns_parse_is_error(res))
			fprintf(out, "%" PRIu64 "\t!%s\n", r.frame,
			    ns_parse_reason_name(res));
	}
	ns_reader_close(&r);
	return rc;
}
