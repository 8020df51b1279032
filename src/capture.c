/*
 * capture.c -- the capture role for capture files.
 *
 * Every record has a position: 2f for the period marker that may precede
 * frame f, 2f+1 for frame f itself.  Each ring is published together with
 * the position reached (ns_ring_publish_pos), so a ring says exactly which
 * records it already holds.  A restarted capture starts at its last
 * checkpoint -- the period boundaries and generation numbers come out the
 * same, being functions of packet timestamps -- and puts into each ring
 * only what lies at or past that ring's position: nothing is lost and
 * nothing is counted twice, whenever the previous process was killed.
 *
 * Files apply backpressure: a full ring is waited on, never dropped from;
 * live captures too, unless configured to drop (ring_full: drop).
 */
#include "capture.h"

#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "gen.h"
#include "clock.h"
#include "log.h"
#include "nats_writer.h"
#include "reader.h"
#include "ring.h"
#include "supervisor.h"

#define CAP_CHUNK	64	/* records reserved and published at a time */
#define CAP_CKPT_EVERY	(1u << 18)	/* frames between checkpoints */

static volatile sig_atomic_t cap_stop;

static void
cap_on_signal(int sig)
{
	(void)sig;
	cap_stop = 1;
}

/*
 * Tell the ring what it holds: every position below cur, and the one it
 * was just given if that is cur itself (a marker, while others still wait
 * for theirs).  A ring ahead of us (a replay after a restart) keeps its
 * position: positions never go back.
 */
static void
cap_publish(struct ns_capture *c, struct ns_cap_ring *r)
{
	uint64_t pos = r->upto > c->cur ? r->upto : c->cur;

	if (r->pending == 0 && r->pos >= pos)
		return;
	ns_ring_publish_pos(&r->prod, r->pending, pos);
	r->pos = pos;
	r->pending = 0;
}

static void
cap_publish_all(struct ns_capture *c)
{
	unsigned w;

	for (w = 0; w < c->e->nworkers; w++)
		cap_publish(c, &c->ring[w]);
}

static void
cap_reserve(struct ns_capture *c, struct ns_cap_ring *r)
{
	int n;

	cap_publish(c, r);
	if ((n = (int)ns_ring_reserve(&r->prod, CAP_CHUNK, &r->next)) == 0) {
		/* Full: let every worker see what we hold, then wait. */
		cap_publish_all(c);
		n = ns_ring_reserve_wait(&r->prod, CAP_CHUNK, &r->next,
		    &cap_stop);
		if (n < 0)
			fatalx("stopped while waiting for a worker");
	}
	r->avail = (unsigned)n;
}

/* Put the record of position p into worker w's ring. */
static void
cap_put(struct ns_capture *c, unsigned w, const struct ns_record *rec,
    uint64_t p)
{
	struct ns_cap_ring *r = &c->ring[w];

	if (r->avail == 0)
		cap_reserve(c, r);
	*r->next++ = *rec;
	r->avail--;
	r->pending++;
	r->upto = p + 1;
}

/*
 * The generations must not overtake the exporter: the next one is usable
 * once the exporter has written and cleared it (ns_gen_clear).
 */
static void
cap_advance(struct ns_capture *c, uint64_t gen, uint64_t start)
{
	struct ns_seg *seg = &c->e->seg;
	struct timespec ts = { 0, 100000 };
	int rc;

	cap_publish_all(c);
	/* Not even a stop request ends this wait: the end of a live input
	 * is itself a boundary, and must get through. */
	while ((rc = ns_gen_advance(seg, gen - 1, start)) == -EBUSY) {
		if (getppid() == 1)
			fatalx("supervisor gone while waiting for the exporter");
		nanosleep(&ts, NULL);
	}
	/*
	 * Another input crossed the same boundary and advanced first (both
	 * waited for the exporter; one compare-and-swap won): the
	 * generation is open, which is all this one wanted.
	 */
	if (rc == -ESTALE && ns_gen_root(seg) >= gen)
		rc = 0;
	if (rc != 0)
		fatalx("generation %" PRIu64 ": cannot advance (%s)", gen,
		    strerror(-rc));
}

/* A period boundary before frame f: open generation c->gen + 1. */
static void
cap_boundary(struct ns_capture *c, uint64_t f, uint64_t start)
{
	struct ns_record m;
	unsigned w;

	c->gen++;
	c->period = start;
	if (ns_gen_root(&c->e->seg) < c->gen)
		cap_advance(c, c->gen, start);
	memset(&m, 0, sizeof(m));
	m.kind = NS_REC_PERIOD;
	m.ts_ns = start;
	m.hash = c->gen;
	m.input = (uint8_t)c->input;
	for (w = 0; w < c->e->nworkers; w++)
		if (c->ring[w].pos <= 2 * f)
			cap_put(c, w, &m, 2 * f);
	c->cur = 2 * f + 1;
}

/*
 * Before frame f (the next record at offset in file fi): bring every ring
 * to position 2f, then record the point -- in the entry not in force,
 * switched to by one store, so a kill leaves one valid checkpoint.
 */
static void
cap_checkpoint(struct ns_capture *c, uint64_t f, uint64_t fi, uint64_t ff,
    uint64_t offset)
{
	struct ns_input_state *st = ns_engine_input(c->e, c->input);
	uint64_t idx = st->ckpt_idx ^ 1;
	struct ns_input_ckpt *k = &st->ckpt[idx];

	cap_publish_all(c);
	k->frame = f;
	k->file = fi;
	k->file_frame = ff;
	k->offset = offset;
	k->gen = c->gen;
	k->period = c->period;
	k->started = (uint64_t)c->started;
	k->failed = (uint64_t)c->failed;
	/* Compiler barrier (crash order): the entry is whole before it is
	 * named; the successor reads it after our death (waitpid, fork). */
	ns_compiler_barrier();
	ns_store_relaxed(&st->ckpt_idx, idx);
}

static uint64_t
period_of(const struct ns_capture *c, uint64_t ts)
{
	return ts - ts % c->e->period_ns;
}

/*
 * Period bookkeeping for frame f; the same on every replay.  Nearly every
 * frame falls in the current period, which a comparison tells: the
 * division of period_of() was a tenth of the capture's instructions.
 */
static void
cap_clock(struct ns_capture *c, uint64_t f, uint64_t ts)
{
	uint64_t p;

	if (c->started && c->period == c->clock_period && ts < c->clock_next)
		return;
	p = period_of(c, ts);
	if (!c->started) {
		c->started = 1;
		c->period = p;
		/* Idempotent: a replay stores the same start. */
		if (ns_gen_root(&c->e->seg) == 0)
			ns_store_relaxed(&ns_gen_info(&c->e->seg, 0)->
			    period_start_ns, p);
	} else if (p > c->period) {
		/* Out-of-order timestamps stay in the current period. */
		cap_boundary(c, f, p);
	}
	/* Whatever period starts (aligned or not, resumed or new), a later
	 * one begins at its aligned start plus a period; 0 when that
	 * overflows (the end): no shortcut. */
	c->clock_period = c->period;
	c->clock_next = period_of(c, c->period) + c->e->period_ns;
	if (c->clock_next < c->period)
		c->clock_next = 0;
}

/*
 * A frame the parser did not take travels as a record too: a worker counts
 * it, under its journal, so it is counted exactly once.
 */
static void
cap_skipped(struct ns_record *rec, enum ns_parse_result res, uint32_t len,
    uint64_t ts, uint64_t hash)
{
	memset(rec, 0, sizeof(*rec));
	rec->kind = NS_REC_SKIPPED;
	rec->proto = (uint8_t)res;
	rec->wire_len = len;
	rec->ts_ns = ts;
	rec->hash = hash;
}

static void
cap_frame(struct ns_capture *c, const struct ns_reader *rd, uint64_t f,
    const struct pcap_pkthdr *h, const u_char *data)
{
	struct ns_record rec;
	enum ns_parse_result res;
	uint64_t ts = ns_reader_ts(rd, h);
	unsigned w;

	cap_clock(c, f, ts);
	res = ns_parse_packet(rd->dlt, data, h->caplen, h->len, ts, &rec);
	if (res == NS_PARSE_OK) {
		w = ns_engine_pick_packet(c->e, &rec);
	} else {
		cap_skipped(&rec, res, h->len, ts, f);
		w = ns_engine_pick(c->e, rec.hash);
	}
	rec.input = (uint8_t)c->input;
	if (c->ring[w].pos <= 2 * f + 1)
		cap_put(c, w, &rec, 2 * f + 1);
	c->cur = 2 * f + 2;
}

static void
cap_progress(struct ns_capture *c, const struct ns_reader *rd, uint64_t f)
{
	double now = ns_mono_now(), el = now - c->t0;
	off_t off = ns_reader_offset(rd);
	double pct = off >= 0 && rd->size > 0 ? 100.0 * (double)off /
	    (double)rd->size : 0;

	ns_store_relaxed(&ns_engine_input(c->e, c->input)->frames, f);
	if (!c->progress || now - c->shown < 0.25)
		return;
	c->shown = now;
	fprintf(stderr, "\r%s: %" PRIu64 " packets, %.2f Mpps, %5.1f%%  ",
	    rd->path, f, el > 0 ? (double)f / el / 1e6 : 0.0, pct);
}

/* Open file fi, at the checkpoint if this process resumes inside it. */
static int
cap_open(struct ns_capture *c, struct ns_reader *rd, const char *path,
    uint64_t fi)
{
	int rc;

	if ((rc = ns_reader_open(rd, path)) < 0)
		return rc;
	if (fi == c->resume.file && c->resume.offset != 0 &&
	    (rc = ns_reader_seek(rd, c->resume.offset,
	    c->resume.file_frame)) != 0) {
		ns_reader_close(rd);
		return rc;
	}
	return 0;
}

/* Read file fi; 0 at its end, -errno if it could not be read to it. */
static int
cap_file(struct ns_capture *c, const char *path, uint64_t fi, uint64_t *f)
{
	struct ns_reader rd;
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;

	if ((rc = cap_open(c, &rd, path, fi)) < 0)
		return rc;
	if (rd.frame == 0)
		cap_checkpoint(c, *f, fi, 0, 0);
	while (!cap_stop && (rc = ns_reader_next(&rd, &h, &data)) == 1) {
		/* Frames every ring holds: keep time, nothing else. */
		if (2 * *f + 2 <= c->replay_end) {
			cap_clock(c, *f, ns_reader_ts(&rd, h));
			c->cur = 2 * *f + 2;
		} else
			cap_frame(c, &rd, *f, h, data);
		(*f)++;
		if ((*f & (CAP_CKPT_EVERY - 1)) == 0 && rd.map != NULL)
			cap_checkpoint(c, *f, fi, rd.frame,
			    (uint64_t)ns_reader_offset(&rd));
		if ((*f & 0xffff) == 0)
			cap_progress(c, &rd, *f);
	}
	if (c->progress)
		fprintf(stderr, "\r\033[K");
	ns_reader_close(&rd);
	return cap_stop ? -EINTR : rc;
}

static void
cap_init(struct ns_capture *c, struct ns_engine *e, unsigned input)
{
	unsigned w;

	memset(c, 0, sizeof(*c));
	c->e = e;
	c->input = input;
	if ((c->ring = calloc(e->nworkers, sizeof(*c->ring))) == NULL)
		fatal("calloc");
	for (w = 0; w < e->nworkers; w++) {
		struct ns_cap_ring *r = &c->ring[w];

		ns_ring_prod_init(&r->prod, ns_engine_ring(e, input, w));
		/* Worker w sleeps on the data bell of its first ring. */
		ns_ring_prod_bell(&r->prod, &ns_engine_ring(e, 0, w)->data);
		if (ns_ring_prod_resume_pos(&r->prod, &r->pos) != 0)
			r->pos = 0;
		if (w == 0 || r->pos < c->replay_end)
			c->replay_end = r->pos;
	}
	c->resume = ns_engine_input(e, input)->ckpt[
	    ns_engine_input(e, input)->ckpt_idx];
	c->gen = c->resume.gen;
	c->period = c->resume.period;
	c->started = (int)c->resume.started;
	c->failed = (int)c->resume.failed;
	c->cur = 2 * c->resume.frame;

	c->t0 = c->shown = ns_mono_now();
}

void
ns_capture_files_main(struct ns_engine *e, unsigned input,
    const struct ns_capture_files *files)
{
	struct ns_input_state *st = ns_engine_input(e, input);
	struct ns_capture c;
	uint64_t f, i;
	int rc;

	signal(SIGTERM, cap_on_signal);
	signal(SIGINT, SIG_IGN);
	cap_init(&c, e, input);
	if (c.replay_end > 0)
		log_info("input %u: resuming at frame %" PRIu64 " of file %"
		    PRIu64 " (rings hold up to position %" PRIu64 ")", input,
		    c.resume.file_frame, c.resume.file + 1, c.replay_end);
	c.progress = files->progress;
	f = c.resume.frame;
	for (i = c.resume.file; i < (uint64_t)files->npaths; i++) {
		rc = cap_file(&c, files->paths[i], i, &f);
		if (rc == -EINTR)
			fatalx("stopped");
		c.failed |= rc < 0;
	}
	/* The end is a boundary too: it closes the last period. */
	cap_boundary(&c, f, NS_ENGINE_END);
	cap_publish_all(&c);
	ns_store_relaxed(&st->frames, f);
	ns_capture_done(&c, c.failed ? NS_INPUT_DONE | NS_INPUT_FAILED :
	    NS_INPUT_DONE);
	exit(0);
}

void
ns_capture_done(struct ns_capture *c, uint64_t flags)
{
	unsigned w;

	/* Release, pairs with the acquire of done in the worker's drain
	 * check: every record is published before a worker reads done. */
	ns_store_release(&ns_engine_input(c->e, c->input)->done, flags);
	for (w = 0; w < c->e->nworkers; w++)
		if (c->ring[w].prod.bell != NULL)
			ns_bell_ring(c->ring[w].prod.bell);
}

/* ---- the machinery, for the other record inputs (nats_input.c) -------- */

void
ns_capture_init(struct ns_capture *c, struct ns_engine *e, unsigned input)
{
	cap_init(c, e, input);
}

void
ns_capture_put(struct ns_capture *c, unsigned w, const struct ns_record *rec,
    uint64_t p)
{
	cap_put(c, w, rec, p);
}

void
ns_capture_publish_all(struct ns_capture *c)
{
	cap_publish_all(c);
}

void
ns_capture_clock(struct ns_capture *c, uint64_t f, uint64_t ts)
{
	cap_clock(c, f, ts);
}

void
ns_capture_boundary(struct ns_capture *c, uint64_t f, uint64_t start)
{
	cap_boundary(c, f, start);
}

/* ---- live capture ------------------------------------------------------ */

#define LIVE_BATCH	256	/* packets per pcap_dispatch */
#define LIVE_TIMEOUT_MS	50	/* how stale a batch or a boundary can get */

struct live {
	struct ns_capture	 c;
	pcap_t		*p;
	int		 dlt;
	unsigned	 last_recv, last_drop, last_ifdrop;
	double		 stats_at;
	uint64_t	 bytes;		/* since this process started */
	uint64_t	 bytes_base;	/* the input's count when it did */
	int		 drop_on_full;	/* ring_full: drop */
	int		 behind;	/* the clock is before the period */
};

int
ns_capture_default_iface(char *buf, size_t len)
{
	char line[256], iface[64];
	unsigned long dst;
	FILE *fp = fopen("/proc/net/route", "r");

	if (fp == NULL)
		return -errno;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "%63s %lx", iface, &dst) == 2 && dst == 0) {
			fclose(fp);
			snprintf(buf, len, "%s", iface);
			return 0;
		}
	fclose(fp);
	return -ENOENT;
}

/*
 * A full ring is backpressure: the capture publishes what it holds and
 * waits for the worker, and the kernel's buffer (buffer_size) takes the
 * burst meanwhile; packets are lost only where the kernel drops them,
 * and counted there.  With ring_full: drop the packet is dropped at once
 * and counted as ring_full, as is one whose wait a stop request ended.
 */
static void
live_put(struct live *l, unsigned w, const struct ns_record *rec)
{
	struct ns_cap_ring *r = &l->c.ring[w];
	int n;

	if (r->avail == 0) {
		cap_publish(&l->c, r);
		n = (int)ns_ring_reserve(&r->prod, CAP_CHUNK, &r->next);
		if (n == 0 && !l->drop_on_full) {
			cap_publish_all(&l->c);
			n = ns_ring_reserve_wait(&r->prod, CAP_CHUNK, &r->next,
			    &cap_stop);
		}
		if (n <= 0) {
			ns_ring_count_full(&r->prod, 1);
			return;
		}
		r->avail = (unsigned)n;
	}
	*r->next++ = *rec;
	r->avail--;
	r->pending++;
}

static void
live_packet(u_char *arg, const struct pcap_pkthdr *h, const u_char *data)
{
	struct live *l = (struct live *)arg;
	struct ns_record rec;
	enum ns_parse_result res;
	unsigned w;
	uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000u +
	    (uint64_t)h->ts.tv_usec;	/* opened with nanosecond stamps */

	res = ns_parse_packet(l->dlt, data, h->caplen, h->len, ts, &rec);
	if (res == NS_PARSE_OK) {
		w = ns_engine_pick_packet(l->c.e, &rec);
	} else {	/* the frame count spreads them over the workers */
		cap_skipped(&rec, res, h->len, ts, l->c.cur++);
		w = ns_engine_pick(l->c.e, rec.hash);
	}
	rec.input = (uint8_t)l->c.input;
	live_put(l, w, &rec);
	l->bytes += h->len;
}

/*
 * Markers go to every ring, waiting for room if need be: a lost marker
 * would stop the generations.  Then the input says so, for a successor.
 */
static void
live_markers(struct live *l, uint64_t gen, uint64_t start)
{
	struct ns_record m;
	unsigned w;

	memset(&m, 0, sizeof(m));
	m.kind = NS_REC_PERIOD;
	m.ts_ns = start;
	m.hash = gen;
	m.input = (uint8_t)l->c.input;
	for (w = 0; w < l->c.e->nworkers; w++)
		cap_put(&l->c, w, &m, 0);
	cap_publish_all(&l->c);
	ns_store_relaxed(&ns_engine_input(l->c.e, l->c.input)->marked, gen);
}

static void
live_boundary(struct live *l, uint64_t start)
{
	struct ns_capture *c = &l->c;

	c->gen++;
	c->period = start;
	if (ns_gen_root(&c->e->seg) < c->gen)
		cap_advance(c, c->gen, start);
	live_markers(l, c->gen, start);
}

/* pcap's 32-bit counters, accumulated 64-bit. */
static void
live_stats(struct live *l)
{
	struct ns_input_state *st = ns_engine_input(l->c.e, l->c.input);
	struct pcap_stat ps;

	if (pcap_stats(l->p, &ps) != 0)
		return;
	ns_store_relaxed(&st->kernel_recv, st->kernel_recv +
	    (unsigned)(ps.ps_recv - l->last_recv));
	ns_store_relaxed(&st->kernel_drops, st->kernel_drops +
	    (unsigned)(ps.ps_drop - l->last_drop) +
	    (unsigned)(ps.ps_ifdrop - l->last_ifdrop));
	l->last_recv = ps.ps_recv;
	l->last_drop = ps.ps_drop;
	l->last_ifdrop = ps.ps_ifdrop;
	ns_store_relaxed(&st->captured_bytes, l->bytes_base + l->bytes);
}

static pcap_t *
live_open(const struct ns_config_input *in, const char *iface)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *p;

	if ((p = pcap_create(iface, errbuf)) == NULL) {
		log_warnx("%s: %s", iface, errbuf);
		return NULL;
	}
	pcap_set_snaplen(p, (int)in->snaplen);
	pcap_set_promisc(p, in->promisc);
	pcap_set_timeout(p, LIVE_TIMEOUT_MS);
	pcap_set_immediate_mode(p, in->immediate);
	if (in->buffer_size != 0)
		pcap_set_buffer_size(p, (int)in->buffer_size);
	pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
	if (pcap_activate(p) < 0) {
		log_warnx("%s: %s", iface, pcap_geterr(p));
		pcap_close(p);
		return NULL;
	}
	return p;
}

/* The port of "host:port" or "[v6]:port", 0 if none. */
static unsigned
port_of(const char *hostport)
{
	const char *c = hostport ? strrchr(hostport, ':') : NULL;
	unsigned long v;
	char *end;

	if (c == NULL)
		return 0;
	v = strtoul(c + 1, &end, 10);
	return *end == '\0' && v > 0 && v < 65536 ? (unsigned)v : 0;
}

static void
append(char *buf, size_t len, const char *fmt, unsigned a)
{
	size_t n = strlen(buf);

	if (n < len)
		snprintf(buf + n, len - n, fmt, a);
}

/* The ClickHouse ports of a writer list. */
static void
own_ch_ports(const struct ns_config_writer *ws, unsigned n, char *own,
    size_t len)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (ws[i].enabled && ws[i].type == NS_CONFIG_WRITER_CLICKHOUSE)
			append(own, len, " or tcp port %u", ws[i].clickhouse.port);
}

/*
 * The daemon's own traffic is not traffic to measure: the configured
 * filter, and not the ports it serves (Prometheus, the API) or writes to
 * (the exact and sketch ClickHouse writers, the NATS writers' servers).
 * The alerter's few messages go to ports (SMTP, HTTPS) that carry the
 * traffic being measured too: they are not left out.
 */
static void
live_own_filter(const struct ns_config *cfg, const char *bpf, char *out,
    size_t len)
{
	char own[512] = "";
	unsigned i, j, n, port, nats[8];

	if (cfg->prometheus.enabled && (port = port_of(cfg->prometheus.listen)))
		append(own, sizeof(own), " or tcp port %u", port);
	if (cfg->api.enabled && (port = port_of(cfg->api.http_listen_addr)))
		append(own, sizeof(own), " or tcp port %u", port);
	own_ch_ports(cfg->aggregator.exact.writers,
	    cfg->aggregator.exact.nwriters, own, sizeof(own));
	own_ch_ports(cfg->aggregator.sketch.writers,
	    cfg->aggregator.sketch.nwriters, own, sizeof(own));
	for (i = 0; i < NS_EXPORT_WRITERS; i++)
		for (j = 0, n = ns_natsw_ports(cfg, i, nats, 8); j < n; j++)
			append(own, sizeof(own), " or tcp port %u", nats[j]);
	if (own[0] == '\0')
		snprintf(out, len, "%s", bpf ? bpf : "");
	else if (bpf == NULL || bpf[0] == '\0')
		snprintf(out, len, "not (%s)", own + 4);
	else
		snprintf(out, len, "(%s) and not (%s)", bpf, own + 4);
}

static int
live_filter(pcap_t *p, const char *iface, const char *bpf)
{
	struct bpf_program prog;

	if (bpf == NULL || bpf[0] == '\0')
		return 0;
	if (pcap_compile(p, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
	    pcap_setfilter(p, &prog) != 0) {
		log_warnx("%s: filter \"%s\": %s", iface, bpf, pcap_geterr(p));
		return -EINVAL;
	}
	pcap_freecode(&prog);
	return 0;
}

/* Where the generations are: a successor re-sends a lost marker. */
static void
live_resume(struct live *l)
{
	struct ns_input_state *st = ns_engine_input(l->c.e, l->c.input);
	struct ns_seg *seg = &l->c.e->seg;
	uint64_t root = ns_gen_root(seg);

	l->bytes_base = ns_load_relaxed(&st->captured_bytes);
	l->c.gen = root;
	l->c.period = ns_load_relaxed(&ns_gen_info(seg, root)->period_start_ns);
	l->c.started = l->c.period != 0;
	if (root > 0 && ns_load_relaxed(&st->marked) < root)
		live_markers(l, root, l->c.period);
	/* An earlier run ended here: the next boundary opens a period. */
	if (l->c.period == NS_ENGINE_END)
		l->c.period = 0;
}

/*
 * A wall clock stepped back before the current period's start opens no
 * period: one with an earlier start would be written where an earlier
 * period already is (its directory, its ClickHouse rows).  The current
 * period stays open until the clock passes its end again, or steps
 * forward; said once per step.
 */
static void
live_clock_behind(struct live *l, uint64_t now)
{
	if (now >= l->c.period) {
		l->behind = 0;
		return;
	}
	if (!l->behind)
		log_warnx("the wall clock is %.3f s before the start of the "
		    "current period (stepped back?): the period stays open "
		    "until the clock passes its end",
		    (double)(l->c.period - now) / 1e9);
	l->behind = 1;
}

static void
live_clock(struct live *l)
{
	uint64_t now = ns_real_now_ns(), p = period_of(&l->c, now);

	if (!l->c.started) {
		l->c.started = 1;
		l->c.period = p;
		if (ns_gen_root(&l->c.e->seg) == 0)
			ns_store_relaxed(&ns_gen_info(&l->c.e->seg, 0)->
			    period_start_ns, p);
	} else if (p > l->c.period &&
	    !ns_load_relaxed(&ns_engine_input(l->c.e, l->c.input)->stop)) {
		/*
		 * Not once a stop is asked for: another input may already have
		 * ended the run, making the root the end generation, and a
		 * period opened now would land in it and never be written.
		 * What is still read belongs to the current period.
		 */
		live_boundary(l, p);
	}
	live_clock_behind(l, now);
}

/*
 * What the kernel took before the stop is counted too.  libpcap hands out
 * a TPACKET_V3 block only once the kernel retires it -- full, or after the
 * timeout -- so keep reading until a few timeouts pass with nothing new.
 */
static void
live_drain(struct live *l, struct pollfd *pfd)
{
	int n, idle = 0;

	while (idle < 3) {
		n = pcap_dispatch(l->p, LIVE_BATCH, live_packet, (u_char *)l);
		if (n > 0) {
			cap_publish_all(&l->c);
			idle = 0;
		} else if (n < 0 || pfd->fd < 0 ||
		    poll(pfd, 1, LIVE_TIMEOUT_MS) == 0) {
			idle++;
		}
	}
}

/* The interface exists and is up: worth opening (1), or not yet (0). */
static int
live_iface_up(const char *iface)
{
	struct ifreq ifr;
	int fd, up;

	if (strlen(iface) >= sizeof(ifr.ifr_name) ||
	    (fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return 1;	/* cannot tell: let pcap say */
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, iface, strlen(iface));
	up = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
	close(fd);
	return up;
}

/*
 * Open, filter and make non-blocking the handle on iface: 0, or -1 with
 * l->p NULL (the reason logged).
 */
static int
live_activate(struct live *l, const struct ns_config_input *in,
    const char *iface, const char *bpf, struct pollfd *pfd)
{
	char errbuf[PCAP_ERRBUF_SIZE];

	if ((l->p = live_open(in, iface)) == NULL)
		return -1;
	if (live_filter(l->p, iface, bpf) != 0)
		goto fail;
	/*
	 * Non-blocking, with our own poll: a blocking pcap_dispatch on a
	 * TPACKET_V3 ring need not return when nothing arrives, and the
	 * loop must see period boundaries and the stop word on an idle link.
	 */
	if (pcap_setnonblock(l->p, 1, errbuf) != 0) {
		log_warnx("%s: %s", iface, errbuf);
		goto fail;
	}
	l->dlt = pcap_datalink(l->p);
	pfd->fd = pcap_get_selectable_fd(l->p);
	/* A new handle's counters start from 0. */
	l->last_recv = l->last_drop = l->last_ifdrop = 0;
	log_info("capturing on %s", iface);
	return 0;
fail:
	pcap_close(l->p);
	l->p = NULL;
	return -1;
}

/*
 * Wait for iface to exist and be up, keeping the clock (periods go on
 * closing, empty), and open it then: 0, or -1 when a stop came first.
 */
static int
live_wait_iface(struct live *l, const struct ns_config_input *in,
    const char *iface, const char *bpf, struct pollfd *pfd)
{
	struct ns_input_state *st = ns_engine_input(l->c.e, l->c.input);
	double retry_at = 0;

	pfd->fd = -1;
	while (!cap_stop && !ns_load_relaxed(&st->stop)) {
		live_clock(l);
		if (ns_mono_now() >= retry_at && live_iface_up(iface)) {
			if (live_activate(l, in, iface, bpf, pfd) == 0)
				return 0;
			/* Up, yet it will not open: try (and log) once a
			 * second at most. */
			retry_at = ns_mono_now() + 1.0;
		}
		(void)poll(NULL, 0, LIVE_TIMEOUT_MS);
	}
	return -1;
}

/*
 * pcap failed on the handle: the interface disappeared (deleted, or taken
 * away with its veth peer or namespace).  Exiting would not help -- the
 * restarted capture could not open it either -- so close the handle and
 * wait for the interface of that name to be back and up.  0, or -1 when a
 * stop came first (l->p is NULL then).
 */
static int
live_reopen(struct live *l, const struct ns_config_input *in,
    const char *iface, const char *bpf, struct pollfd *pfd)
{
	log_warnx("%s: %s; capturing again once it is back", iface,
	    pcap_geterr(l->p));
	cap_publish_all(&l->c);
	live_stats(l);
	pcap_close(l->p);
	l->p = NULL;
	return live_wait_iface(l, in, iface, bpf, pfd);
}

/*
 * The first capture of a run that cannot open its interface ends the run
 * (a name mistyped is not going to appear); a restarted one (restarts > 0:
 * its predecessor crashed, maybe while the interface was gone) waits for
 * it as a running capture does.
 */
void
ns_capture_live_main(struct ns_engine *e, unsigned input,
    const struct ns_config_input *in, unsigned restarts)
{
	struct ns_input_state *st = ns_engine_input(e, input);
	static struct live l;
	char iface[64], bpf[1024];
	struct pollfd pfd = { .fd = -1, .events = POLLIN };
	int n;

	signal(SIGTERM, cap_on_signal);
	signal(SIGINT, SIG_IGN);
	cap_init(&l.c, e, input);
	l.drop_on_full = in->ring_full_drop;
	snprintf(iface, sizeof(iface), "%s", in->interface);
	if (strcmp(iface, "default") == 0 &&
	    ns_capture_default_iface(iface, sizeof(iface)) != 0) {
		log_warnx("no default route: name the interface to capture on");
		exit(NS_EXIT_NORESPAWN);
	}
	live_own_filter(e->cfg, in->bpf, bpf, sizeof(bpf));
	if (bpf[0] != '\0')
		log_info("%s: capture filter \"%s\"", iface, bpf);
	if (live_activate(&l, in, iface, bpf, &pfd) != 0 && restarts == 0)
		exit(NS_EXIT_NORESPAWN);
	live_resume(&l);
	if (l.p == NULL) {
		log_warnx("%s: cannot open it after a restart; capturing "
		    "again once it is back", iface);
		(void)live_wait_iface(&l, in, iface, bpf, &pfd);
	}
	while (l.p != NULL && !cap_stop && !ns_load_relaxed(&st->stop)) {
		n = pcap_dispatch(l.p, LIVE_BATCH, live_packet, (u_char *)&l);
		if (n == PCAP_ERROR && live_reopen(&l, in, iface, bpf,
		    &pfd) != 0)
			break;
		if (n == 0 && pfd.fd >= 0)
			(void)poll(&pfd, 1, LIVE_TIMEOUT_MS);
		/* Live records must not wait for a full chunk. */
		cap_publish_all(&l.c);
		live_clock(&l);
		if (ns_mono_now() - l.stats_at >= 1.0) {
			live_stats(&l);
			l.stats_at = ns_mono_now();
		}
	}
	if (l.p != NULL) {
		live_drain(&l, &pfd);
		live_stats(&l);
	}
	live_boundary(&l, NS_ENGINE_END);
	ns_capture_done(&l.c, NS_INPUT_DONE);
	exit(0);
}
