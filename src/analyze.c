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
#include "exporter.h"
#include "file.h"
#include "log.h"
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
};

static void
sink_sketch_one(void *arg, const struct ns_sketch_task *t,
    enum ns_sketch_kind kind, const uint8_t *key, uint64_t value,
    uint64_t err)
{
	struct analyze_sink *s = arg;

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

/* Heavy hitters by count and size, or spreaders, of every sketch task. */
static int
sink_sketches(struct analyze_sink *s, const struct ns_engine *e, uint64_t g)
{
	enum ns_sketch_kind kind;
	unsigned k;
	int rc;

	for (k = 0; k < e->nsketches; k++) {
		const struct ns_sketch_task *t = &e->sketches[k];

		for (kind = t->spread ? NS_SKETCH_SPREAD : NS_SKETCH_COUNT;
		    kind <= (t->spread ? NS_SKETCH_SPREAD : NS_SKETCH_SIZE);
		    kind++)
			if ((rc = ns_snapshot_sketch(e, g, k, kind,
			    sink_sketch_one, s)) < 0)
				return rc;
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
	/* The configured file writers get every period's final snapshot. */
	if ((rc = ns_file_write_all(e, g, period_start, 1, NULL)) != 0)
		return rc;
	s->period_start = period_start;
	if (s->o->heavy != NS_FLOWS_NONE && (rc = sink_sketches(s, e, g)) != 0)
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
	ns_analyze_print(s->summary, &t, s->o->summary);
	return fflush(s->summary) != 0 ? -errno : 0;
}

/* ---- the roles of an offline run ------------------------------------- */

static void __attribute__((noreturn))
role_capture(struct ns_engine *e, const struct ns_child *c)
{
	ns_capture_files_main(e, c->index, c->arg);
}

static void
warn_writers(const struct ns_config *cfg)
{
	const struct ns_config_exact *ex = &cfg->aggregator.exact;
	const struct ns_config_sketch *sk = &cfg->aggregator.sketch;
	unsigned i;

	for (i = 0; i < ex->nwriters; i++)
		if (ex->writers[i].enabled &&
		    !ns_file_writer_supported(&ex->writers[i]))
			log_info("%s writer: not used by analyze (files only)",
			    ns_config_writer_type_name(ex->writers[i].type));
	for (i = 0; i < sk->nwriters; i++)
		if (sk->writers[i].enabled &&
		    !ns_file_writer_supported(&sk->writers[i]))
			log_info("%s writer: not used by analyze (files only)",
			    ns_config_writer_type_name(sk->writers[i].type));
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
	warn_writers(cfg);
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
		fprintf(out, "sketch %s: %s, memory %" PRIu64 " bytes\n",
		    t->sketch_name[k], t->sketch_kind[k], t->sketch_bytes[k]);
	if (t->shm_bytes != 0)
		fprintf(out, "%-24s %15" PRIu64 "\n", "shared memory bytes",
		    t->shm_bytes);
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
		fprintf(out, "%s{\"name\":\"%s\",\"kind\":\"%s\","
		    "\"memory_bytes\":%" PRIu64 "}", k ? "," : "",
		    t->sketch_name[k], t->sketch_kind[k], t->sketch_bytes[k]);
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
