/*
 * nats_input.c -- the NATS input role: messages of probes decoded into
 * ring records (src/natsmsg.h), written like a capture file's frames with
 * the file input's machinery (ns_capture_*, src/capture.h).
 *
 * Core NATS is at-most-once: a (queue) subscription whose losses in the
 * client library are counted (slow_consumer); a restarted input goes on
 * from the rings' positions and the generation root, as a live capture.
 *
 * With JetStream the input is exact, because a stream is a file whose
 * frames are numbered by the server:
 *
 *  - Packet i of the message of stream sequence s is frame s << 16 | i
 *    (a batch holds at most NS_NATSMSG_MAX_BATCH < 65535 packets), so a
 *    record's position (2f + 1, its period marker's 2f) is a function of
 *    the stream, not of this process's history.
 *  - A durable pull consumer delivers in stream order.  After each fetch
 *    the input publishes every ring with its position, then writes a
 *    checkpoint -- the last sequence s taken, the frame every ring holds
 *    all positions below, the period state, the message counts -- into
 *    the entry not in force and switches to it with one store, and only
 *    then acknowledges s (AckAll: every sequence up to s).  So an
 *    acknowledged message is always in the rings (or consumed from them
 *    under a worker's journal), and the rings live in the segment.
 *  - A restarted input starts from the checkpoint: it re-creates the
 *    consumer at s + 1 if anything past s was delivered (a redelivery
 *    would come out of order), skips sequences <= s that come again, and
 *    gives each ring only what lies at or past its published position;
 *    boundaries come out the same, being functions of the timestamps.
 *  - The end of the input is not a function of the stream: a checkpoint
 *    that says "the end is due at frame s << 16 | 0xffff" comes first, so
 *    a successor finishes that end instead of re-deriving a state without
 *    it.
 *
 * One engine per durable: two engines pulling from one durable consumer
 * split the stream, and each one's checkpoint would skip the other's
 * redeliveries.  Engines scale out with core NATS queue groups, or with
 * one durable each on subjects of their own.
 */
#include "nats_input.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "atomic.h"
#include "capture.h"
#include "clock.h"
#include "gen.h"
#include "log.h"
#include "natsmsg.h"
#include "supervisor.h"

static_assert(NS_NATSMSG_NREASONS <= NS_INPUT_NATS_REASONS,
    "struct ns_input_nats has no room for the decoder's reasons");
static_assert(NS_NATSMSG_MAX_BATCH < 0xffff,
    "a message's frames must fit below its end-boundary frame");

#define NATSIN_SHIFT		16	/* frame = sequence << 16 | packet */
#define NATSIN_END_FRAME	0xffff	/* after a sequence's packets */
#define NATSIN_FETCH		256	/* messages per JetStream fetch */
#define NATSIN_CORE_BATCH	256	/* core messages between publications */
#define NATSIN_WAIT_MS		100	/* longest wait: how late a stop is seen */
#define NATSIN_PENDING_MSGS	(256 * 1024)	/* client queue, core NATS */
#define NATSIN_PENDING_BYTES	(64 * 1024 * 1024)
#define NATSIN_ACK_WAIT_NS	(30LL * 1000000000LL)

struct natsin {
	struct ns_capture	 c;
	const struct ns_config_input *in;
	struct ns_input_state	*st;
	natsConnection		*nc;
	natsSubscription	*sub;
	jsCtx			*js;
	int			 jetstream;
	uint64_t		 seq;		/* JetStream: last sequence taken */
	uint64_t		 cseq;		/* its consumer sequence, 0: none */
	uint64_t		 frame;		/* core: next frame */
	uint64_t		 marked_due;	/* core: gen whose markers are put */
	int64_t			 dropped_base;	/* slow_consumer at our start */
	double			 warned;	/* last fetch error logged */
	struct ns_input_nats	 cnt;		/* the input's counts */
	struct ns_record	 recs[NS_NATSMSG_MAX_BATCH];
};

static volatile sig_atomic_t natsin_stop;

static void
natsin_on_signal(int sig)
{
	(void)sig;
	natsin_stop = 1;
}

static int
natsin_stopping(const struct natsin *n)
{
	return natsin_stop || ns_load_relaxed(&n->st->stop);
}

static void
natsin_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The counts, for status and /metrics (single writer: this process). */
static void
natsin_flush(struct natsin *n)
{
	struct ns_input_nats *d = &n->st->nats;
	unsigned r;

	ns_store_relaxed(&d->msgs, n->cnt.msgs);
	ns_store_relaxed(&d->packets, n->cnt.packets);
	ns_store_relaxed(&d->bytes, n->cnt.bytes);
	for (r = 0; r < NS_INPUT_NATS_REASONS; r++)
		ns_store_relaxed(&d->malformed[r], n->cnt.malformed[r]);
	ns_store_relaxed(&n->st->captured_bytes, n->cnt.bytes);
}

/* ---- records -------------------------------------------------------------- */

static uint64_t
natsin_period_of(const struct natsin *n, uint64_t ts)
{
	return ts - ts % n->c.e->period_ns;
}

/* Packet record rec as frame f: like a capture file's frame. */
static void
natsin_packet(struct natsin *n, struct ns_record *rec, uint64_t f)
{
	struct ns_capture *c = &n->c;
	uint64_t ts = rec->ts_ns;
	unsigned w;

	/*
	 * A core input drains after a stop: no new period then (another
	 * input may have made the root the end generation already).  With
	 * JetStream only replays run after a stop, and they must re-derive
	 * the boundaries they crossed before.
	 */
	if (!n->jetstream && natsin_stopping(n) && c->started &&
	    natsin_period_of(n, ts) > c->period)
		ts = c->period;
	ns_capture_clock(c, f, ts);
	n->cnt.packets++;
	n->cnt.bytes += rec->wire_len;
	rec->input = (uint8_t)c->input;
	w = ns_engine_pick_packet(c->e, rec);
	if (c->ring[w].pos <= 2 * f + 1)
		ns_capture_put(c, w, rec, 2 * f + 1);
	c->cur = 2 * f + 2;
}

/* Decode message m into frames f0, f0 + 1, ...; the packets it held. */
static unsigned
natsin_message(struct natsin *n, natsMsg *m, uint64_t f0)
{
	uint64_t bad[NS_NATSMSG_NREASONS];
	const char *ct = NULL;
	unsigned r;
	int k, i;

	if (natsMsgHeader_Get(m, NS_NATSMSG_HDR_TYPE, &ct) != NATS_OK)
		ct = NULL;
	memset(bad, 0, sizeof(bad));
	k = ns_natsmsg_decode(natsMsg_GetData(m),
	    (size_t)natsMsg_GetDataLength(m), ns_natsmsg_kind_of(ct), n->recs,
	    NS_NATSMSG_MAX_BATCH, bad);
	n->cnt.msgs++;
	for (r = 0; r < NS_NATSMSG_NREASONS; r++)
		n->cnt.malformed[r] += bad[r];
	for (i = 0; i < k; i++)
		natsin_packet(n, &n->recs[i], f0 + (uint64_t)i);
	return k > 0 ? (unsigned)k : 0;
}

/*
 * Record the point reached -- in the entry not in force, switched to by
 * one store, so a kill leaves one valid checkpoint.  Every ring must hold
 * every position below c->cur (published) before this is called.
 */
static void
natsin_checkpoint(struct natsin *n, int ending)
{
	struct ns_input_state *st = n->st;
	uint64_t idx = st->ckpt_idx ^ 1;
	struct ns_input_ckpt *k = &st->ckpt[idx];

	memset(k, 0, sizeof(*k));
	k->frame = n->c.cur / 2;
	k->gen = n->c.gen;
	k->period = n->c.period;
	k->started = (uint64_t)n->c.started;
	k->seq = n->seq;
	k->ending = (uint64_t)ending;
	k->nats = n->cnt;
	/* Compiler barrier (crash order): the entry is whole before it is
	 * named; the successor reads it after our death (waitpid, fork), as
	 * with the file input's checkpoints (cap_checkpoint). */
	ns_compiler_barrier();
	ns_store_relaxed(&st->ckpt_idx, idx);
}

/* ---- connection ------------------------------------------------------------ */

static void
natsin_disconnected(natsConnection *nc, void *arg)
{
	struct natsin *n = arg;

	(void)nc;
	ns_store_relaxed(&n->st->connected, 0);
}

static void
natsin_reconnected(natsConnection *nc, void *arg)
{
	struct natsin *n = arg;

	(void)nc;
	ns_store_relaxed(&n->st->connected, 1);
}

static natsOptions *
natsin_options(struct natsin *n)
{
	natsOptions *o = NULL;
	char name[96];

	snprintf(name, sizeof(name), "netspectrad %s", log_role());
	if (natsOptions_Create(&o) != NATS_OK ||
	    natsOptions_SetURL(o, n->in->nats_url) != NATS_OK ||
	    natsOptions_SetName(o, name) != NATS_OK ||
	    natsOptions_SetTimeout(o, 2000) != NATS_OK ||
	    natsOptions_SetMaxReconnect(o, -1) != NATS_OK ||
	    natsOptions_SetReconnectWait(o, 250) != NATS_OK ||
	    natsOptions_SetDisconnectedCB(o, natsin_disconnected, n) != NATS_OK ||
	    natsOptions_SetReconnectedCB(o, natsin_reconnected, n) != NATS_OK)
		fatalx("input %s: NATS options: %s", n->in->name,
		    nats_GetLastError(NULL));
	return o;
}

/* Connect, retrying until a server answers; 0, or -EINTR on a stop. */
static int
natsin_connect(struct natsin *n)
{
	natsOptions *o = natsin_options(n);
	natsStatus s;
	int logged = 0;

	while ((s = natsConnection_Connect(&n->nc, o)) != NATS_OK) {
		if (!logged++)
			log_warnx("input %s: %s: %s; retrying", n->in->name,
			    n->in->nats_url, natsStatus_GetText(s));
		if (natsin_stopping(n)) {
			natsOptions_Destroy(o);
			return -EINTR;
		}
		if (getppid() == 1)
			fatalx("supervisor gone");
		natsin_sleep_ms(250);
	}
	natsOptions_Destroy(o);
	ns_store_relaxed(&n->st->connected, 1);
	log_info("input %s: connected to %s, subject %s", n->in->name,
	    n->in->nats_url, n->in->subject);
	return 0;
}

/* ---- JetStream ------------------------------------------------------------- */

/* The stream exists (created on the subject if not), and is not behind. */
static void
natsin_js_stream(struct natsin *n)
{
	const char *stream = n->in->js_stream, *subj[1] = { n->in->subject };
	jsStreamInfo *si = NULL;
	jsStreamConfig sc;
	jsErrCode jerr = 0;
	natsStatus s;

	s = js_GetStreamInfo(&si, n->js, stream, NULL, &jerr);
	if (s != NATS_OK && (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr)) {
		jsStreamConfig_Init(&sc);
		sc.Name = stream;
		sc.Subjects = subj;
		sc.SubjectsLen = 1;
		sc.Storage = js_FileStorage;
		if ((s = js_AddStream(&si, n->js, &sc, NULL, &jerr)) == NATS_OK)
			log_info("input %s: created JetStream stream %s on %s",
			    n->in->name, stream, subj[0]);
	}
	if (s != NATS_OK)
		fatalx("input %s: JetStream stream %s: %s (error %d)",
		    n->in->name, stream, nats_GetLastError(NULL), (int)jerr);
	if (si->State.LastSeq < n->seq) {
		log_warnx("input %s: stream %s ends at sequence %" PRIu64
		    ", before this input's checkpoint (%" PRIu64 "): it was "
		    "made anew; remove the segment or name another durable",
		    n->in->name, stream, si->State.LastSeq, n->seq);
		exit(NS_EXIT_NORESPAWN);
	}
	jsStreamInfo_Destroy(si);
}

static void
natsin_js_add_consumer(struct natsin *n, uint64_t start)
{
	jsConsumerInfo *ci = NULL;
	jsConsumerConfig cc;
	jsErrCode jerr = 0;

	jsConsumerConfig_Init(&cc);
	cc.Durable = n->in->js_durable;
	cc.FilterSubject = n->in->subject;
	cc.DeliverPolicy = js_DeliverByStartSequence;
	cc.OptStartSeq = start;
	/* Acknowledging s acknowledges every sequence up to s. */
	cc.AckPolicy = js_AckAll;
	cc.AckWait = NATSIN_ACK_WAIT_NS;
	if (js_AddConsumer(&ci, n->js, n->in->js_stream, &cc, NULL, &jerr) !=
	    NATS_OK)
		fatalx("input %s: consumer %s: %s (error %d)", n->in->name,
		    cc.Durable, nats_GetLastError(NULL), (int)jerr);
	jsConsumerInfo_Destroy(ci);
}

/*
 * The durable consumer, delivering from the checkpoint on in order.  One
 * that delivered past it (to a process killed since) is made anew there:
 * its redeliveries would come after later messages, out of order.
 */
static void
natsin_js_consumer(struct natsin *n)
{
	const char *stream = n->in->js_stream, *durable = n->in->js_durable;
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	uint64_t floor, dl;
	natsStatus s;
	int ours;

	s = js_GetConsumerInfo(&ci, n->js, stream, durable, NULL, &jerr);
	if (s != NATS_OK) {
		if (s != NATS_NOT_FOUND && jerr != JSConsumerNotFoundErr)
			fatalx("input %s: consumer %s: %s (error %d)",
			    n->in->name, durable, nats_GetLastError(NULL),
			    (int)jerr);
		natsin_js_add_consumer(n, n->seq + 1);
		return;
	}
	floor = ci->AckFloor.Stream;
	dl = ci->Delivered.Stream;
	ours = ci->Config->AckPolicy == js_AckAll &&
	    ci->Config->FilterSubject != NULL &&
	    strcmp(ci->Config->FilterSubject, n->in->subject) == 0;
	jsConsumerInfo_Destroy(ci);
	/* Acknowledged before this segment existed (or by another engine on
	 * the durable, which this input cannot be exact with). */
	if (floor > n->seq) {
		if (n->seq != 0)
			log_warnx("input %s: consumer %s acknowledged up to %"
			    PRIu64 ", past this input's checkpoint %" PRIu64
			    ": is another engine using it?", n->in->name,
			    durable, floor, n->seq);
		n->seq = floor;
	}
	if (ours && dl <= n->seq)
		return;
	log_info("input %s: consumer %s delivered up to %" PRIu64 "; resuming "
	    "it at stream sequence %" PRIu64, n->in->name, durable, dl,
	    n->seq + 1);
	if (js_DeleteConsumer(n->js, stream, durable, NULL, &jerr) != NATS_OK)
		fatalx("input %s: deleting consumer %s: %s", n->in->name,
		    durable, nats_GetLastError(NULL));
	natsin_js_add_consumer(n, n->seq + 1);
}

static void
natsin_js_subscribe(struct natsin *n)
{
	jsSubOptions so;
	jsErrCode jerr = 0;

	if (natsConnection_JetStream(&n->js, n->nc, NULL) != NATS_OK)
		fatalx("input %s: JetStream: %s", n->in->name,
		    nats_GetLastError(NULL));
	natsin_js_stream(n);
	natsin_js_consumer(n);
	jsSubOptions_Init(&so);
	so.Stream = n->in->js_stream;
	so.Consumer = n->in->js_durable;
	if (js_PullSubscribe(&n->sub, n->js, n->in->subject,
	    n->in->js_durable, NULL, &so, &jerr) != NATS_OK)
		fatalx("input %s: pull subscription on %s: %s (error %d)",
		    n->in->name, n->in->js_durable, nats_GetLastError(NULL),
		    (int)jerr);
}

/*
 * One message in stream order.  A message at or below the last sequence
 * taken was taken already (a redelivery); a gap in the consumer's
 * delivery sequence means a delivery this process never saw, which may
 * come back later, out of order: restart from the checkpoint then.
 */
static int
natsin_js_message(struct natsin *n, natsMsg *m, uint64_t *seqp)
{
	jsMsgMetaData *md = NULL;
	uint64_t seq, cseq;

	if (natsMsg_GetMetaData(&md, m) != NATS_OK)
		fatalx("input %s: a message without JetStream metadata",
		    n->in->name);
	seq = md->Sequence.Stream;
	cseq = md->Sequence.Consumer;
	jsMsgMetaData_Destroy(md);
	if (n->cseq != 0 && cseq != n->cseq + 1) {
		log_warnx("input %s: delivery %" PRIu64 " after %" PRIu64
		    ": a delivery was lost; resuming from the checkpoint",
		    n->in->name, cseq, n->cseq);
		return -EAGAIN;
	}
	n->cseq = cseq;
	*seqp = seq;
	if (seq <= n->seq) {
		ns_store_relaxed(&n->st->redelivered, n->st->redelivered + 1);
		return 0;
	}
	n->seq = seq;
	(void)natsin_message(n, m, seq << NATSIN_SHIFT);
	return 0;
}

/* Everything taken is in the rings: checkpoint it, then acknowledge. */
static void
natsin_js_commit(struct natsin *n, natsMsg *ack, uint64_t ackseq)
{
	ns_capture_publish_all(&n->c);
	natsin_checkpoint(n, 0);
	natsin_flush(n);
	if (ack == NULL)
		return;
	if (natsMsg_AckSync(ack, NULL, NULL) == NATS_OK)
		ns_store_relaxed(&n->st->acked_seq, ackseq);
	else	/* redelivered later, and skipped: the checkpoint has it */
		log_warnx("input %s: ack of %" PRIu64 ": %s", n->in->name,
		    ackseq, nats_GetLastError(NULL));
}

/* While stopping, only what the rings already hold is still taken. */
static int
natsin_js_more(const struct natsin *n)
{
	return !natsin_stopping(n) || n->c.cur < n->c.replay_end;
}

/* One fetch; 1 if it brought messages, 0 if none, -EAGAIN: restart. */
static int
natsin_js_fetch(struct natsin *n)
{
	natsMsgList list = { 0 };
	natsMsg *ack = NULL;
	uint64_t ackseq = 0, seq = 0;
	jsErrCode jerr = 0;
	natsStatus s;
	int i, rc = 0;

	s = natsSubscription_Fetch(&list, n->sub, NATSIN_FETCH, NATSIN_WAIT_MS,
	    &jerr);
	if (s == NATS_TIMEOUT)
		return 0;
	if (s != NATS_OK) {
		if (ns_mono_now() - n->warned > 10) {
			log_warnx("input %s: fetch: %s", n->in->name,
			    nats_GetLastError(NULL));
			n->warned = ns_mono_now();
		}
		natsin_sleep_ms(NATSIN_WAIT_MS);
		return 0;
	}
	/* Acknowledged: the highest sequence taken (AckAll covers the rest;
	 * a redelivery's is at most the checkpoint's). */
	for (i = 0; i < list.Count && rc == 0 && natsin_js_more(n); i++)
		if ((rc = natsin_js_message(n, list.Msgs[i], &seq)) == 0 &&
		    seq > ackseq) {
			ack = list.Msgs[i];
			ackseq = seq;
		}
	natsin_js_commit(n, ack, ackseq);
	natsMsgList_Destroy(&list);
	return rc < 0 ? rc : 1;
}

/*
 * The end of a JetStream input: first a checkpoint saying it is due (a
 * successor finishes it), then the boundary, then a checkpoint after it,
 * from which the next message opens a new period.
 */
static void
natsin_js_end(struct natsin *n)
{
	struct ns_capture *c = &n->c;
	uint64_t fend = n->seq << NATSIN_SHIFT | NATSIN_END_FRAME;

	if (c->cur < 2 * fend)	/* no record lies in between */
		c->cur = 2 * fend;
	ns_capture_publish_all(c);
	natsin_checkpoint(n, 1);
	ns_capture_boundary(c, fend, NS_ENGINE_END);
	c->cur = 2 * ((n->seq + 1) << NATSIN_SHIFT);
	ns_capture_publish_all(c);
	natsin_checkpoint(n, 0);
}

/* Where a JetStream input resumes: its checkpoint, with its counts. */
static void
natsin_js_resume(struct natsin *n)
{
	struct ns_capture *c = &n->c;

	n->seq = c->resume.seq;
	n->cnt = c->resume.nats;
	if (c->resume.ending) {
		log_info("input %s: finishing the end its predecessor began",
		    n->in->name);
		natsin_js_end(n);
	}
	/* An earlier run ended here: the next packet opens a period. */
	if (c->period == NS_ENGINE_END)
		c->period = 0;
	if (c->replay_end > 2 * c->resume.frame)
		log_info("input %s: resuming after stream sequence %" PRIu64
		    " (rings hold up to position %" PRIu64 ")", n->in->name,
		    n->seq, c->replay_end);
}

static void
natsin_js_run(struct natsin *n)
{
	int rc;

	natsin_js_resume(n);
	if (natsin_connect(n) != 0) {
		natsin_js_end(n);
		return;
	}
	natsin_js_subscribe(n);
	while (natsin_js_more(n)) {
		if ((rc = natsin_js_fetch(n)) < 0)
			exit(1);	/* a successor starts from the checkpoint */
		/* Stopping with replays owed that never come: end anyway. */
		if (rc == 0 && natsin_stopping(n))
			break;
	}
	natsin_js_end(n);
}

/* ---- core NATS ------------------------------------------------------------- */

/* Publish every ring; then the markers of a boundary are all out. */
static void
natsin_core_publish(struct natsin *n)
{
	ns_capture_publish_all(&n->c);
	if (n->marked_due != 0) {
		ns_store_relaxed(&n->st->marked, n->marked_due);
		n->marked_due = 0;
	}
}

/* The library's losses: messages it dropped from our pending queue. */
static void
natsin_core_dropped(struct natsin *n)
{
	int64_t d = 0;

	if (natsSubscription_GetDropped(n->sub, &d) == NATS_OK)
		ns_store_relaxed(&n->st->slow_consumer,
		    (uint64_t)(n->dropped_base + d));
}

static void
natsin_core_message(struct natsin *n, natsMsg *m)
{
	uint64_t gen = n->c.gen;

	n->frame += natsin_message(n, m, n->frame);
	if (n->c.gen != gen)
		n->marked_due = n->c.gen;
	natsMsg_Destroy(m);
}

/* Up to NATSIN_CORE_BATCH messages; 0 once none came in the wait. */
static int
natsin_core_batch(struct natsin *n, int64_t wait_ms)
{
	natsMsg *m = NULL;
	natsStatus s;
	int i;

	for (i = 0; i < NATSIN_CORE_BATCH; i++) {
		s = natsSubscription_NextMsg(&m, n->sub, i == 0 ? wait_ms : 0);
		if (s != NATS_OK)
			break;
		natsin_core_message(n, m);
	}
	natsin_core_publish(n);
	natsin_core_dropped(n);
	natsin_flush(n);
	return i;
}

static void
natsin_core_subscribe(struct natsin *n)
{
	const char *q = n->in->queue_group;
	natsStatus s;

	s = q[0] != '\0' ? natsConnection_QueueSubscribeSync(&n->sub, n->nc,
	    n->in->subject, q) : natsConnection_SubscribeSync(&n->sub, n->nc,
	    n->in->subject);
	if (s != NATS_OK || natsSubscription_SetPendingLimits(n->sub,
	    NATSIN_PENDING_MSGS, NATSIN_PENDING_BYTES) != NATS_OK)
		fatalx("input %s: subscribing to %s: %s", n->in->name,
		    n->in->subject, nats_GetLastError(NULL));
	if (q[0] != '\0')
		log_info("input %s: queue group %s", n->in->name, q);
}

/*
 * Where a core input resumes: past every ring's position, in the root's
 * period; a boundary whose markers not every ring got is put again
 * (workers drop a marker they have acted on).
 */
static void
natsin_core_resume(struct natsin *n)
{
	struct ns_capture *c = &n->c;
	struct ns_seg *seg = &c->e->seg;
	uint64_t root = ns_gen_root(seg), top = 0;
	struct ns_record m;
	unsigned w;

	for (w = 0; w < c->e->nworkers; w++)
		if (c->ring[w].pos > top)
			top = c->ring[w].pos;
	n->frame = top / 2 + 1;
	c->cur = 2 * n->frame;
	c->gen = root;
	c->period = ns_load_relaxed(&ns_gen_info(seg, root)->period_start_ns);
	c->started = c->period != 0;
	n->cnt = n->st->nats;
	n->dropped_base = (int64_t)ns_load_relaxed(&n->st->slow_consumer);
	if (root > 0 && ns_load_relaxed(&n->st->marked) < root) {
		memset(&m, 0, sizeof(m));
		m.kind = NS_REC_PERIOD;
		m.ts_ns = c->period;
		m.hash = root;
		m.input = (uint8_t)c->input;
		for (w = 0; w < c->e->nworkers; w++)
			ns_capture_put(c, w, &m, c->cur);
		n->frame++;
		c->cur = 2 * n->frame;
		n->marked_due = root;
		natsin_core_publish(n);
	}
	if (c->period == NS_ENGINE_END)
		c->period = 0;
}

static void
natsin_core_run(struct natsin *n)
{
	natsin_core_resume(n);
	if (natsin_connect(n) == 0) {
		natsin_core_subscribe(n);
		while (!natsin_stopping(n))
			(void)natsin_core_batch(n, NATSIN_WAIT_MS);
		/* What reached the library before the stop is counted. */
		if (natsSubscription_Drain(n->sub) == NATS_OK)
			while (natsin_core_batch(n, NATSIN_WAIT_MS) > 0)
				;
	}
	ns_capture_boundary(&n->c, n->frame, NS_ENGINE_END);
	n->marked_due = n->c.gen;
	natsin_core_publish(n);
}

/* ---- the role -------------------------------------------------------------- */

void
ns_natsin_main(struct ns_engine *e, unsigned input,
    const struct ns_config_input *cfg)
{
	static struct natsin n;
	struct ns_input_state *st = ns_engine_input(e, input);

	signal(SIGTERM, natsin_on_signal);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (nats_Open(-1) != NATS_OK)
		fatalx("nats_Open: %s", nats_GetLastError(NULL));
	ns_capture_init(&n.c, e, input);
	n.in = cfg;
	n.st = st;
	n.jetstream = cfg->js_stream[0] != '\0';
	if (n.jetstream)
		natsin_js_run(&n);
	else
		natsin_core_run(&n);
	natsin_flush(&n);
	ns_store_relaxed(&st->connected, 0);
	ns_capture_done(&n.c, NS_INPUT_DONE);
	log_info("input %s: ended: %" PRIu64 " messages, %" PRIu64 " packets",
	    cfg->name, n.cnt.msgs, n.cnt.packets);
	if (n.sub != NULL)
		natsSubscription_Destroy(n.sub);
	if (n.nc != NULL) {
		natsConnection_Close(n.nc);
		natsConnection_Destroy(n.nc);
	}
	exit(0);
}
