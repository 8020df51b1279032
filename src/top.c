/*
 * top.c -- the heaviest flows of the running period, read from the
 * daemon's segment inside epoch read sections.
 *
 * The segment is mapped read-only but for the slot table: top leases an
 * external slot (an fcntl lock on a byte of <shm>.lock in /dev/shm, which
 * dies with the process, so the supervisor can reclaim the slot of a top
 * that was killed) and holds a read section while it walks the live
 * generation, so the exporter's grace period waits for it before that
 * generation is cleared.  A section never blocks: the flows are copied out
 * and printed after it.
 */
#include "top.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "atomic.h"
#include "engine.h"
#include "gen.h"
#include "log.h"
#include "output.h"
#include "slot.h"
#include "snapshot.h"

struct top_pick {
	const struct ns_top_opts *o;
	struct ns_flow	*best;
	unsigned	 have;
	uint64_t	 flows;
};

static void
top_print(const struct ns_engine *e, unsigned t, const struct top_pick *p,
    uint64_t start, FILE *out)
{
	const struct ns_task *task = &e->tasks[t];
	char ts[NS_TIME_STRLEN];
	unsigned i;

	if (p->o->json) {
		fprintf(out, "{\"task\":\"%s\",\"period_start\":\"%s\",\"flows\":%"
		    PRIu64 ",\"top\":[", task->name, ns_time_format(start, ts,
		    sizeof(ts)), p->flows);
		for (i = 0; i < p->have; i++) {
			fprintf(out, "%s{", i ? "," : "");
			ns_task_key_json(task, p->best[i].key, out);
			fprintf(out, ",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
			    "}", p->best[i].packets, p->best[i].bytes);
		}
		fprintf(out, "]}\n");
		return;
	}
	fprintf(out, "task %s, period from %s, %" PRIu64 " flows; top %u by "
	    "%s\n", task->name, ns_time_format(start, ts, sizeof(ts)),
	    p->flows, p->have, p->o->by_bytes ? "bytes" : "packets");
	for (i = 0; i < p->have; i++) {
		fprintf(out, "%12" PRIu64 " pkts %14" PRIu64 " bytes  ",
		    p->best[i].packets, p->best[i].bytes);
		ns_task_key_csv(task, p->best[i].key, out);
		fputc('\n', out);
	}
}

/* One pass over the live generation, inside a read section. */
static int
top_once(const struct ns_engine *e, struct ns_slot *slot, unsigned t,
    struct top_pick *p, uint64_t *start)
{
	uint64_t g;
	int rc;

	ns_slot_enter(&e->seg, slot);
	g = ns_gen_root(&e->seg);
	*start = ns_load_relaxed(&ns_gen_info(&e->seg, g)->period_start_ns);
	rc = ns_snapshot_top(e, g, t, p->o->n, p->o->by_bytes, p->best,
	    &p->flows);
	ns_slot_exit(slot);
	p->have = rc > 0 ? (unsigned)rc : 0;
	return rc < 0 ? rc : 0;
}

static int
top_task(const struct ns_engine *e, const char *name)
{
	unsigned t;

	for (t = 0; t < e->ntasks; t++)
		if (name == NULL || strcmp(e->tasks[t].name, name) == 0)
			return (int)t;
	return -1;
}

static int
top_loop(struct ns_engine *e, struct ns_slot *slot, unsigned t,
    const struct ns_top_opts *o, FILE *out)
{
	struct top_pick p = { o, calloc(o->n ? o->n : 1, sizeof(struct ns_flow)),
	    0, 0 };
	struct timespec second = { 1, 0 };
	uint64_t start;
	int rc, tty = !o->once && isatty(fileno(out));

	if (p.best == NULL)
		return -ENOMEM;
	for (;;) {
		if ((rc = top_once(e, slot, t, &p, &start)) != 0)
			break;
		if (tty)
			fputs("\033[H\033[2J", out);	/* refresh in place */
		top_print(e, t, &p, start, out);
		fflush(out);
		if (o->once || ferror(out))
			break;
		nanosleep(&second, NULL);
	}
	free(p.best);
	return rc != 0 ? rc : ferror(out) ? -EIO : 0;
}

int
ns_top_run(const char *name, const struct ns_top_opts *o, FILE *out)
{
	static struct ns_engine e;
	struct ns_slot_lease lease;
	struct ns_config cfg;
	char lockpath[128];
	int t, rc;

	if ((rc = ns_engine_open_segment(&e, &cfg, name, 1)) != 0) {
		log_warnx("%s: %s", name, ns_engine_open_strerror(rc));
		return rc;
	}
	snprintf(lockpath, sizeof(lockpath), "/dev/shm%s.lock", name);
	if ((t = top_task(&e, o->task)) < 0) {
		log_warnx("no exact task %s", o->task ? o->task : "at all");
		rc = -ENOENT;
	} else if ((rc = ns_slot_lease_external(&e.seg, lockpath,
	    &lease)) != 0) {
		log_warnx("%s: no reader slot: %s", lockpath, strerror(-rc));
	} else {
		rc = top_loop(&e, lease.slot, (unsigned)t, o, out);
		ns_slot_lease_release(&lease);
	}
	ns_engine_close(&e);
	ns_config_free(&cfg);
	return rc;
}
