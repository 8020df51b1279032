/*
 * exporter.c -- the exporter role: final snapshots of closed generations.
 *
 * The boundary protocol (shm/gen.h): the capture advances the root and
 * puts a marker into every ring; each worker switches on reading it; once
 * all have, the old generation has no writer and its snapshot is final.
 * Then a grace period (ns_slot_synchronize) lets any reader still in it
 * leave before ns_gen_clear() makes it the standby for the capture's next
 * advance -- which waits for exactly that, so periods never overrun the
 * exporter.
 */
#include "exporter.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "gen.h"
#include "clock.h"
#include "log.h"
#include "slot.h"
#include "supervisor.h"

/* The oldest generation not yet cleared: where a (re)started exporter
 * picks up. */
static uint64_t
exp_first_gen(const struct ns_engine *e)
{
	uint64_t root = ns_gen_root(&e->seg);

	if (root > 0 && ns_load_acquire(&ns_gen_info(&e->seg, root - 1)->
	    state) != NS_GEN_STANDBY)
		return root - 1;
	return root;
}

/*
 * A snapshot of live generation g, when the sink wants them: inside a read
 * section, so that g is not cleared under it.
 */
static void
exp_live(struct ns_engine *e, const struct ns_sink *sink, unsigned slot,
    uint64_t g)
{
	struct ns_slot *s = ns_slot_get(&e->seg, slot);
	uint64_t start;
	int rc;

	ns_slot_enter(&e->seg, s);
	start = ns_load_relaxed(&ns_gen_info(&e->seg, g)->period_start_ns);
	rc = ns_gen_root(&e->seg) == g && start != 0 && start != NS_ENGINE_END ?
	    sink->live(sink->arg, e, g, start) : 0;
	ns_slot_exit(s);
	if (rc != 0) {
		log_warnx("snapshot of the live period: %s", strerror(-rc));
		exit(NS_EXIT_NORESPAWN);
	}
}

/*
 * Generation g is the end of an earlier run and this run's inputs have
 * ended without a packet past it: a daemon restarted on the segment of a
 * file it had read to the end.  Nothing will close g.
 */
static int
exp_ends_at(const struct ns_engine *e, uint64_t g)
{
	return ns_gen_root(&e->seg) == g && ns_load_relaxed(&ns_gen_info(
	    &e->seg, g)->period_start_ns) == NS_ENGINE_END &&
	    ns_engine_inputs_done(e);
}

/*
 * How often the exporter looks for a closed generation.  The capture
 * needs the generation cleared only by the next boundary, a period away
 * (1 s at least), so 20 ms costs nothing there; 200 us polls cost an idle
 * daemon 5000 wake-ups a second (5 ms: still 0.9% of a core here).
 */
#define EXP_POLL_NS	20000000

/*
 * Wait until every worker has left generation g: 0.  1 if the run ends
 * at g instead (exp_ends_at()).
 */
static int
exp_wait_closed(struct ns_engine *e, const struct ns_sink *sink, unsigned slot,
    uint64_t g)
{
	struct timespec ts = { 0, EXP_POLL_NS };
	double last = ns_mono_now();

	while (ns_gen_root(&e->seg) <= g || ns_gen_close(&e->seg, g) != 0) {
		if (exp_ends_at(e, g))
			return 1;
		if (getppid() == 1)
			fatalx("supervisor gone");
		if (sink->live != NULL && ns_mono_now() - last >= 1.0) {
			exp_live(e, sink, slot, g);
			last = ns_mono_now();
		}
		nanosleep(&ts, NULL);
	}
	return 0;
}

/*
 * A generation holds a period if a packet opened it: every one does but
 * generation 0 of an input without packets, whose start was never set.
 */
static int
exp_has_period(const struct ns_engine *e, uint64_t g)
{
	uint64_t start = ns_load_relaxed(&ns_gen_info(&e->seg, g)->
	    period_start_ns);
	unsigned t, w;

	/* The end of an earlier run, which a restarted daemon goes on from. */
	if (start == NS_ENGINE_END)
		return 0;
	if (start != 0)
		return 1;
	for (t = 0; t < e->ntasks; t++)
		for (w = 0; w < e->nworkers; w++)
			if (ns_table_count(ns_gen_shard(&e->seg, g, t, w)) > 0)
				return 1;
	return 0;
}

/* A sink failed: the run cannot go on. */
static void __attribute__((noreturn))
exp_fail(const char *what, int rc)
{
	log_warnx("%s: %s", what, strerror(-rc));
	exit(NS_EXIT_NORESPAWN);
}

/*
 * Where the output stream ends now, if it is a regular file (an O_APPEND
 * descriptor's offset says nothing until it is written: take the size).
 */
static uint64_t
exp_out_end(const struct ns_sink *sink)
{
	struct stat st;
	off_t off;
	int fd;

	if (sink->out == NULL || (fd = fileno(sink->out)) < 0 ||
	    fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	if (fcntl(fd, F_GETFL) & O_APPEND)
		return (uint64_t)st.st_size;
	off = ftello(sink->out);
	return off < 0 ? 0 : (uint64_t)off;
}

/* Where a predecessor's committed output ends: cut off what follows. */
static void
exp_rewind(const struct ns_sink *sink, const struct ns_export_ckpt *k)
{
	struct stat st;
	int fd;

	if (!k->valid || sink->out == NULL || (fd = fileno(sink->out)) < 0 ||
	    fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size <= k->out_off)
		return;
	if (ftruncate(fd, (off_t)k->out_off) != 0 ||
	    fseeko(sink->out, (off_t)k->out_off, SEEK_SET) != 0)
		exp_fail("cutting off a killed exporter's output", -errno);
	log_info("cut the output back to %" PRIu64 " bytes, where the last "
	    "complete period ended", k->out_off);
}

/* Make what the sink wrote durable in the stream, then record it. */
static void
exp_commit(struct ns_engine *e, const struct ns_sink *sink, uint64_t exported,
    uint64_t periods, int ended)
{
	struct ns_export_state *st = ns_engine_export(e);
	uint64_t idx = st->ckpt_idx ^ 1;
	struct ns_export_ckpt *k = &st->ckpt[idx];

	if (sink->out != NULL && fflush(sink->out) != 0)
		exp_fail("writing the output", -errno);
	k->exported = exported;
	k->periods = periods;
	k->out_off = exp_out_end(sink);
	k->ended = (uint64_t)ended;
	k->valid = 1;
	/*
	 * Release: the entry is whole before it is named -- for a successor
	 * that reads it after our death (waitpid and fork order it already)
	 * and for the writers polling it while we run: pairs with the acquire
	 * in ns_export_ended().
	 */
	ns_store_release(&st->ckpt_idx, idx);
	ns_store_relaxed(&st->last_ok_ns, ns_real_now_ns());
}

int
ns_export_ended(const struct ns_engine *e)
{
	const struct ns_export_state *st = ns_engine_export(e);
	/* Acquire: pairs with the release of ckpt_idx in exp_commit(). */
	const struct ns_export_ckpt *k = &st->ckpt[ns_load_acquire(
	    &st->ckpt_idx) & 1];

	return ns_load_relaxed(&k->valid) && ns_load_relaxed(&k->ended);
}

/*
 * Generation g is an end: of this run (every input done: finish), or of an
 * earlier run of the daemon that this one has gone on from (the root moves
 * past it: carry on).  The inputs say they are done just after the end's
 * markers, so wait for one or the other.
 */
static int
exp_run_ended(const struct ns_engine *e, uint64_t g)
{
	struct timespec ts = { 0, EXP_POLL_NS };

	for (;;) {
		if (ns_engine_inputs_done(e))
			return 1;
		if (ns_gen_root(&e->seg) > g)
			return 0;
		if (getppid() == 1)
			fatalx("supervisor gone");
		nanosleep(&ts, NULL);
	}
}

void
ns_exporter_main(struct ns_engine *e, const struct ns_sink *sink,
    unsigned slot)
{
	struct ns_export_state *st = ns_engine_export(e);
	struct ns_export_ckpt k = st->ckpt[st->ckpt_idx];
	struct ns_gen_info *info;
	uint64_t g = exp_first_gen(e), next_start;
	int rc;

	/* A closed pipe is a write error here, not a death to restart. */
	signal(SIGPIPE, SIG_IGN);
	/* The first exporter records where the output began. */
	if (!k.valid)
		exp_commit(e, sink, 0, 0, 0);
	exp_rewind(sink, &k);
	for (;; g++) {
		if (exp_wait_closed(e, sink, slot, g) != 0)
			break;
		info = ns_gen_info(&e->seg, g);
		/* A generation written before a kill is only cleared again. */
		if (g >= k.exported && exp_has_period(e, g)) {
			if ((rc = sink->period(sink->arg, e, g,
			    ns_load_relaxed(&info->period_start_ns),
			    k.periods == 0)) != 0)
				exp_fail("writing a period", rc);
			k.periods++;
		}
		if (g >= k.exported) {
			k.exported = g + 1;
			exp_commit(e, sink, k.exported, k.periods, 0);
		}
		/* The advance stored it before its release of root. */
		next_start = ns_load_relaxed(&ns_gen_info(&e->seg, g + 1)->
		    period_start_ns);
		/*
		 * Cleared even when it is the last: a daemon restarted on this
		 * segment advances into it, and waits for it to be standby.
		 */
		ns_slot_synchronize(&e->seg, 0);
		/* Published with the tables by ns_gen_clear's release of
		 * STANDBY. */
		ns_engine_sketch_clear(e, g);
		if ((rc = ns_gen_clear(&e->seg, g)) != 0)
			fatalx("generation %" PRIu64 ": cannot clear (%s)", g,
			    strerror(-rc));
		if (next_start == NS_ENGINE_END && exp_run_ended(e, g + 1))
			break;
	}
	if (!k.ended) {
		if ((rc = sink->end(sink->arg, e)) != 0)
			exp_fail("writing the summary", rc);
		exp_commit(e, sink, k.exported, k.periods, 1);
	}
	exit(0);
}

void
ns_exporter_child(struct ns_engine *e, const struct ns_child *c)
{
	ns_exporter_main(e, c->arg, c->slot);
}
