/*
 * status.c -- the state of a daemon, from its segment, mapped read-only.
 *
 * The segment carries the configuration that made it, so the engine's
 * description (tasks, workers, inputs) is rebuilt from there: status needs
 * no configuration file of its own beyond the segment's name.  Only
 * counters are read -- 64-bit cells, whole by construction -- so no read
 * section is needed.
 */
#include "status.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "alerter.h"
#include "atomic.h"
#include "clickhouse.h"
#include "engine.h"
#include "gen.h"
#include "log.h"
#include "natsmsg.h"
#include "nats_writer.h"
#include "ring.h"
#include "slot.h"
#include "snapshot.h"

/*
 * A slot's process by its name (ns-export-ch, ns-alert, ...): several
 * roles share the exporter role and its indexes, so "exporter 0" alone
 * does not say which.  "-" when the process is gone or not ours to see.
 */
static void
status_comm(uint64_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *fp;

	snprintf(buf, len, "-");
	snprintf(path, sizeof(path), "/proc/%" PRIu64 "/comm", pid);
	if (pid == 0 || (fp = fopen(path, "r")) == NULL)
		return;
	if (fgets(buf, (int)len, fp) == NULL)
		snprintf(buf, len, "-");
	buf[strcspn(buf, "\n")] = '\0';
	fclose(fp);
}

static void
status_processes(const struct ns_engine *e, FILE *out)
{
	unsigned i, n = ns_slot_count(&e->seg);
	char comm[32];

	fprintf(out, "processes:\n");
	for (i = 0; i < n; i++) {
		const struct ns_slot *s = ns_slot_get(&e->seg, i);
		uint64_t st = ns_load_relaxed(&s->state);
		uint64_t pid = ns_load_relaxed(&s->pid);

		if (st == NS_SLOT_FREE)
			continue;
		status_comm(pid, comm, sizeof(comm));
		fprintf(out, "  slot %-3u %-9s %-3u %-13s pid %-8" PRIu64 " %s\n",
		    i, ns_slot_role_name(s->role), s->index,
		    ns_slot_state_name(st), pid, comm);
	}
}

/* A NATS input's counts: messages, and what was lost or refused. */
static void
status_nats(const struct ns_input_state *st, FILE *out)
{
	unsigned r;

	fprintf(out, "  nats: %s, messages %" PRIu64 ", packets %" PRIu64
	    ", bytes %" PRIu64 ", slow_consumer drops %" PRIu64
	    ", redelivered %" PRIu64 ", acked up to %" PRIu64 "\n",
	    ns_load_relaxed(&st->connected) ? "connected" : "not connected",
	    ns_load_relaxed(&st->nats.msgs), ns_load_relaxed(&st->nats.packets),
	    ns_load_relaxed(&st->nats.bytes),
	    ns_load_relaxed(&st->slow_consumer),
	    ns_load_relaxed(&st->redelivered), ns_load_relaxed(&st->acked_seq));
	fprintf(out, "  nats malformed:");
	for (r = 1; r < NS_NATSMSG_NREASONS; r++)
		fprintf(out, " %s %" PRIu64, ns_natsmsg_reason_name(r),
		    ns_load_relaxed(&st->nats.malformed[r]));
	fputc('\n', out);
}

static void
status_inputs(const struct ns_engine *e, FILE *out)
{
	unsigned i, w;

	for (i = 0; i < e->ninputs; i++) {
		const struct ns_input_state *st = ns_engine_input(e, i);

		fprintf(out, "input %u: %s, kernel received %" PRIu64
		    ", kernel drops %" PRIu64 "\n", i,
		    ns_load_relaxed(&st->done) & NS_INPUT_DONE ? "ended" :
		    "capturing", ns_load_relaxed(&st->kernel_recv),
		    ns_load_relaxed(&st->kernel_drops));
		if (i < e->cfg->ninputs &&
		    e->cfg->inputs[i].type == NS_CONFIG_INPUT_NATS)
			status_nats(st, out);
		for (w = 0; w < e->nworkers; w++) {
			const struct ns_ring *r = ns_engine_ring(e, i, w);
			uint64_t head = ns_load_relaxed(&r->head);
			uint64_t tail = NS_RING_TAIL(ns_load_relaxed(&r->commit));

			fprintf(out, "  ring to worker %u: %" PRIu64 " of %" PRIu64
			    " records queued, ring_full drops %" PRIu64 "\n", w,
			    head - tail, r->capacity, ns_load_relaxed(&r->full));
		}
	}
}

/*
 * Distinct keys of the period: a key coarser than the 5-tuple sits in
 * several workers' shards, so the shards' counts would overcount.  Read
 * without a section: a table cleared under us gives a wrong count, not a
 * fault (the mapping stays).
 */
static uint64_t
status_period_flows(const struct ns_engine *e, uint64_t g, unsigned t)
{
	struct ns_flow none;
	uint64_t n = 0;

	if (e->tasks[t].full_tuple || e->nworkers == 1)
		return ns_snapshot_count(e, g, t);
	return ns_snapshot_top(e, g, t, 0, 0, &none, &n) < 0 ? 0 : n;
}

static void
status_tasks(const struct ns_engine *e, FILE *out)
{
	uint64_t g = ns_gen_root(&e->seg), start, reasons[NS_PARSE_NREASONS];
	char ts[NS_TIME_STRLEN];
	unsigned t, w, r;

	start = ns_load_relaxed(&ns_gen_info(&e->seg, g)->period_start_ns);
	fprintf(out, "period: generation %" PRIu64 ", started %s\n", g,
	    start == NS_ENGINE_END ? "(ended)" : start == 0 ? "(none yet)" :
	    ns_time_format(start, ts, sizeof(ts)));
	for (t = 0; t < e->ntasks; t++) {
		uint64_t p = 0, b = 0, f = 0, full = 0;

		for (w = 0; w < e->nworkers; w++) {
			const struct ns_task_stats *ts_ =
			    &ns_engine_wstats(e, w)->task[t];

			p += ns_load_relaxed(&ts_->packets);
			b += ns_load_relaxed(&ts_->bytes);
			f += ns_load_relaxed(&ts_->flows);
			full += ns_load_relaxed(&ts_->table_full);
		}
		fprintf(out, "task %s: lifetime packets %" PRIu64 ", bytes %"
		    PRIu64 ", flows %" PRIu64 ", table_full %" PRIu64
		    "; this period %" PRIu64 " flows\n", e->tasks[t].name, p, b,
		    f, full, status_period_flows(e, g, t));
	}
	memset(reasons, 0, sizeof(reasons));
	for (w = 0; w < e->nworkers; w++)
		for (r = 0; r < NS_PARSE_NREASONS; r++)
			reasons[r] += ns_load_relaxed(
			    &ns_engine_wstats(e, w)->reason_frames[r]);
	for (r = 1; r < NS_PARSE_NREASONS; r++)
		if (reasons[r] != 0)
			fprintf(out, "skipped %s: %" PRIu64 "\n",
			    ns_parse_reason_name(r), reasons[r]);
}

static void
status_writers(const struct ns_engine *e, FILE *out)
{
	struct ns_ch_counts c;
	char name[32], ts[NS_TIME_STRLEN];
	unsigned id;

	for (id = 0; id < NS_EXPORT_WRITERS; id++) {
		if (ns_ch_counts(e, id, &c) != 0)
			continue;
		fprintf(out, "clickhouse writer %s: rows spooled %" PRIu64
		    ", sent %" PRIu64 ", dropped %" PRIu64 "; errors %" PRIu64
		    "; spool %" PRIu64 " batch(es), %" PRIu64 " bytes; last "
		    "delivery %s\n", ns_ch_writer_name(id, name, sizeof(name)),
		    c.spooled, c.sent, c.dropped, c.errors, c.spool_files,
		    c.spool_bytes, c.last_ok_ns ? ns_time_format(c.last_ok_ns,
		    ts, sizeof(ts)) : "never");
	}
	for (id = 0; id < NS_EXPORT_WRITERS; id++) {
		if (ns_natsw_counts(e, id, &c) != 0)
			continue;
		fprintf(out, "nats writer %s: %s; records spooled %" PRIu64
		    ", sent %" PRIu64 ", dropped %" PRIu64 "; errors %" PRIu64
		    "; spool %" PRIu64 " snapshot(s), %" PRIu64 " bytes; last "
		    "delivery %s\n", ns_ch_writer_name(id, name, sizeof(name)),
		    ns_load_relaxed(&ns_engine_export(e)->writer[id].connected) ?
		    "connected" : "not connected", c.spooled, c.sent, c.dropped,
		    c.errors, c.spool_files, c.spool_bytes, c.last_ok_ns ?
		    ns_time_format(c.last_ok_ns, ts, sizeof(ts)) : "never");
	}
}

int
ns_status_run(const char *name, FILE *out)
{
	static struct ns_engine e;
	struct ns_config cfg;
	int rc;

	if ((rc = ns_engine_open_segment(&e, &cfg, name, 1)) != 0) {
		log_warnx("%s: %s", name, rc == -ENOENT ?
		    "no such segment: is netspectrad running (daemon.shm_name)?" :
		    ns_engine_open_strerror(rc));
		return rc;
	}
	fprintf(out, "segment %s: %" PRIu64 " bytes, %u input(s), %u "
	    "worker(s)\n", name, e.seg.size, e.ninputs, e.nworkers);
	status_processes(&e, out);
	status_inputs(&e, out);
	status_tasks(&e, out);
	status_writers(&e, out);
	ns_alerter_status(&e, out);
	ns_engine_close(&e);
	ns_config_free(&cfg);
	return ferror(out) ? -EIO : 0;
}
