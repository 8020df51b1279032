/*
 * output.c -- flows as JSON lines and CSV.  Task names are checked by the
 * configuration loader to be plain identifiers, so they need no escaping.
 */
#include "output.h"

#include <inttypes.h>

#include "addr.h"

static void
counters_json(FILE *fp, const struct ns_flow *f)
{
	char a[NS_TIME_STRLEN], b[NS_TIME_STRLEN], fl[16];

	fprintf(fp, "\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
	    ",\"first_seen\":\"%s\",\"last_seen\":\"%s\",\"tcp_flags\":\"%s\"",
	    f->packets, f->bytes, ns_time_format(f->first_ns, a, sizeof(a)),
	    ns_time_format(f->last_ns, b, sizeof(b)),
	    ns_tcpflags_format(f->tcp_flags, fl, sizeof(fl)));
}

void
ns_output_flow_jsonl(FILE *fp, const struct ns_task *t, uint64_t period_start,
    const struct ns_flow *f)
{
	char p[NS_TIME_STRLEN];

	fprintf(fp, "{\"task\":\"%s\",\"period_start\":\"%s\",", t->name,
	    ns_time_format(period_start, p, sizeof(p)));
	ns_task_key_json(t, f->key, fp);
	fputc(',', fp);
	counters_json(fp, f);
	fputs("}\n", fp);
}

void
ns_output_flow_csv_header(FILE *fp, const struct ns_task *t)
{
	fputs("task,period_start,", fp);
	ns_task_key_csv_header(t, fp);
	fputs(",packets,bytes,first_seen,last_seen,tcp_flags\n", fp);
}

void
ns_output_flow_csv(FILE *fp, const struct ns_task *t, uint64_t period_start,
    const struct ns_flow *f)
{
	char p[NS_TIME_STRLEN], a[NS_TIME_STRLEN], b[NS_TIME_STRLEN], fl[16];

	fprintf(fp, "%s,%s,", t->name,
	    ns_time_format(period_start, p, sizeof(p)));
	ns_task_key_csv(t, f->key, fp);
	fprintf(fp, ",%" PRIu64 ",%" PRIu64 ",%s,%s,%s\n", f->packets,
	    f->bytes, ns_time_format(f->first_ns, a, sizeof(a)),
	    ns_time_format(f->last_ns, b, sizeof(b)),
	    ns_tcpflags_format(f->tcp_flags, fl, sizeof(fl)));
}

void
ns_output_sketch_jsonl(FILE *fp, const char *task, const struct ns_task *flow,
    uint64_t period_start, const char *type, const uint8_t *key,
    uint64_t value, uint64_t err)
{
	char p[NS_TIME_STRLEN];

	fprintf(fp, "{\"task\":\"%s\",\"period_start\":\"%s\",\"type\":\"%s\","
	    "\"flow\":{", task, ns_time_format(period_start, p, sizeof(p)),
	    type);
	ns_task_key_json(flow, key, fp);
	fprintf(fp, "},\"value\":%" PRIu64 ",\"error\":%" PRIu64 "}\n",
	    value, err);
}

void
ns_output_sketch_csv_header(FILE *fp, const struct ns_task *flow)
{
	fputs("task,period_start,type,", fp);
	ns_task_key_csv_header(flow, fp);
	fputs(",value,error\n", fp);
}

void
ns_output_sketch_csv(FILE *fp, const char *task, const struct ns_task *flow,
    uint64_t period_start, const char *type, const uint8_t *key,
    uint64_t value, uint64_t err)
{
	char p[NS_TIME_STRLEN];

	fprintf(fp, "%s,%s,%s,", task,
	    ns_time_format(period_start, p, sizeof(p)), type);
	ns_task_key_csv(flow, key, fp);
	fprintf(fp, ",%" PRIu64 ",%" PRIu64 "\n", value, err);
}
