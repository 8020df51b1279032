/*
 * probe.c -- `netspectra probe`: capture live, parse with netspectra's
 * parser, publish the packets on NATS as Go2NetSpectra's ns-probe does
 * (one v1.PacketInfo per message), or as PacketBatch messages of
 * probe.batch packets; `--sub` subscribes and prints what arrives.
 *
 * One thread of ours, plus nats.c's: the capture loop polls a non-blocking
 * pcap handle, so a batch is flushed on a short timer on an idle link and
 * a signal is seen within PROBE_POLL_MS.  nats.c buffers what is published
 * while it reconnects, up to PROBE_RECONNECT_BUF bytes; past that a
 * publish fails, and the packets are counted as dropped by reason --
 * every captured frame ends up in exactly one counter.
 *
 * The probe's own traffic is not measured: the capture filter leaves out
 * the NATS servers' ports, or every published message would be captured
 * and published again.
 *
 * With probe.persistence, every captured frame is also handed to a
 * writer process through a shared ring (persist.h), which never makes
 * the capture loop wait; the writer is forked before nats.c starts its
 * threads, and reaped and restarted from the loop.
 */
#include "probe.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nats/nats.h>
#include <pcap/pcap.h>

#include "addr.h"
#include "capture.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "natsmsg.h"
#include "parse.h"
#include "persist.h"

#define PROBE_POLL_MS		50	/* pcap timeout, and signal latency */
#define PROBE_FLUSH_MS		100	/* longest a packet waits in a batch */
#define PROBE_RECONNECT_BUF	(8 * 1024 * 1024) /* bytes held while away */
#define PROBE_RECONNECT_WAIT	250	/* ms between reconnect attempts */
#define PROBE_PCAP_BUF		(32 * 1024 * 1024) /* as netspectrad inputs */
#define PROBE_DISPATCH		256	/* packets per pcap_dispatch */
#define PROBE_STATS_EVERY	10	/* seconds between -v reports */
#define PROBE_DRAIN_MS		5000	/* flush at exit, at most */

/* Why a parsed packet did not reach NATS. */
enum probe_drop {
	PROBE_DROP_BUFFER_FULL = 0,	/* reconnect buffer exhausted */
	PROBE_DROP_CLOSED,		/* connection closed for good */
	PROBE_DROP_NATS_ERROR,		/* any other publish failure */
	PROBE_DROP_ENCODE,		/* a record the encoder refused */
	PROBE_DROP_UNSENT,		/* still buffered when we exited */
	PROBE_NDROPS
};

static const char *const drop_names[PROBE_NDROPS] = {
	"reconnect_buffer_full", "connection_closed", "nats_error", "encode",
	"unsent_at_exit",
};

struct probe_opts {
	const char	*cfgpath;
	const char	*iface;		/* -i: overrides probe.interface */
	int		 sub;		/* --sub */
	int		 verbose;	/* -v: counters every stats_every s */
	unsigned	 stats_every;
	uint64_t	 max_msgs;	/* --sub -n: stop after this many */
};

struct probe_stats {
	uint64_t	 captured;	/* frames pcap handed us */
	uint64_t	 skipped[NS_PARSE_NREASONS]; /* parser did not take */
	uint64_t	 published;	/* packets nats.c took while connected */
	uint64_t	 messages;	/* their messages */
	uint64_t	 buffered;	/* packets it holds for a server to come */
	uint64_t	 buffered_msgs;	/* their messages */
	uint64_t	 dropped[PROBE_NDROPS];
	uint64_t	 failures;	/* failed publish calls */
	uint64_t	 kernel_recv, kernel_drops;
	unsigned	 last_recv, last_drop, last_ifdrop;
};

struct probe {
	const struct ns_config_probe *cfg;
	natsConnection	*nc;
	pcap_t		*p;
	int		 dlt;
	uint32_t	 batch;		/* packets per message */
	uint8_t		*buf;		/* the message being built */
	size_t		 cap, used;
	uint32_t	 pending;	/* packets in buf */
	double		 first_at;	/* when the first of them came */
	struct ns_persist *persist;	/* NULL: persistence off */
	struct probe_stats st;
};

static volatile sig_atomic_t probe_stop;

static void
probe_on_signal(int sig)
{
	(void)sig;
	probe_stop = 1;
}

/* ---- NATS connection ---------------------------------------------------- */

static void
probe_disconnected(natsConnection *nc, void *arg)
{
	(void)nc;
	(void)arg;
	log_warnx("NATS: disconnected; buffering up to %d bytes while reconnecting",
	    PROBE_RECONNECT_BUF);
}

static void
probe_reconnected(natsConnection *nc, void *arg)
{
	char url[256];

	(void)arg;
	if (natsConnection_GetConnectedUrl(nc, url, sizeof(url)) != NATS_OK)
		snprintf(url, sizeof(url), "?");
	log_info("NATS: connected to %s", url);
}

static void
probe_async_error(natsConnection *nc, natsSubscription *sub, natsStatus s,
    void *arg)
{
	(void)nc;
	(void)sub;
	(void)arg;
	log_warnx("NATS: %s", natsStatus_GetText(s));
}

static natsStatus
probe_nats_options(natsOptions **o, const char *url)
{
	natsStatus s;

	if ((s = natsOptions_Create(o)) != NATS_OK)
		return s;
	if ((s = natsOptions_SetURL(*o, url)) == NATS_OK &&
	    (s = natsOptions_SetName(*o, "netspectra-probe")) == NATS_OK &&
	    (s = natsOptions_SetMaxReconnect(*o, -1)) == NATS_OK &&
	    (s = natsOptions_SetReconnectWait(*o, PROBE_RECONNECT_WAIT)) == NATS_OK &&
	    (s = natsOptions_SetReconnectBufSize(*o, PROBE_RECONNECT_BUF)) == NATS_OK &&
	    (s = natsOptions_SetDisconnectedCB(*o, probe_disconnected, NULL)) == NATS_OK &&
	    (s = natsOptions_SetReconnectedCB(*o, probe_reconnected, NULL)) == NATS_OK &&
	    (s = natsOptions_SetErrorHandler(*o, probe_async_error, NULL)) == NATS_OK)
		/* A server not up yet is like one gone: buffer, keep trying. */
		s = natsOptions_SetRetryOnFailedConnect(*o, true,
		    probe_reconnected, NULL);
	if (s != NATS_OK)
		natsOptions_Destroy(*o);
	return s;
}

/*
 * Connect with SIGINT and SIGTERM blocked, so that nats.c's threads,
 * created now, inherit the mask and the signals come to our loop.
 */
static int
probe_connect(natsConnection **nc, const char *url)
{
	natsOptions *o;
	natsStatus s;
	sigset_t set, old;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	if ((s = probe_nats_options(&o, url)) == NATS_OK) {
		s = natsConnection_Connect(nc, o);
		natsOptions_Destroy(o);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (s == NATS_NOT_YET_CONNECTED) {
		log_warnx("NATS: %s not reachable yet; buffering and retrying",
		    url);
		return 0;
	}
	if (s != NATS_OK) {
		log_warnx("NATS: %s: %s", url, natsStatus_GetText(s));
		return -ECONNREFUSED;
	}
	log_info("NATS: connected to %s", url);
	return 0;
}

/* ---- capture ------------------------------------------------------------ */


/* Opened as netspectrad opens a pcap input with its defaults. */
static pcap_t *
probe_pcap_open(const char *iface, uint32_t snaplen)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *p;

	if ((p = pcap_create(iface, errbuf)) == NULL) {
		log_warnx("%s: %s", iface, errbuf);
		return NULL;
	}
	pcap_set_snaplen(p, (int)snaplen);
	pcap_set_promisc(p, 1);
	pcap_set_timeout(p, PROBE_POLL_MS);
	pcap_set_buffer_size(p, PROBE_PCAP_BUF);
	pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
	if (pcap_activate(p) < 0) {
		log_warnx("%s: %s", iface, pcap_geterr(p));
		pcap_close(p);
		return NULL;
	}
	return p;
}

/*
 * The port of one URL of length len ("nats://u:p@h:4222", "h", "[::1]:1"):
 * digits after the last ':' that end the URL; 4222 when there are none.
 */
static unsigned long
probe_url_port(const char *u, size_t len)
{
	unsigned long port;
	char *end;
	size_t i;

	for (i = len; i > 0 && u[i - 1] != ':'; i--)
		;
	if (i == 0 || i == len)
		return 4222;
	port = strtoul(u + i, &end, 10);
	if (end != u + len || port == 0 || port > 65535)
		return 4222;
	return port;
}

/* The port of every URL in "nats://h:p,tls://h2" as a filter. */
static void
probe_own_ports(const char *urls, char *out, size_t len)
{
	const char *u = urls, *end;
	size_t n = 0;
	unsigned long port;

	out[0] = '\0';
	while (*u != '\0' && n < len) {
		end = u + strcspn(u, ",");
		port = probe_url_port(u, (size_t)(end - u));
		n += (size_t)snprintf(out + n, len - n, "%stcp port %lu",
		    n ? " or " : "", port);
		u = *end == ',' ? end + 1 : end;
	}
}

/* probe.bpf, and not the traffic to and from NATS. */
static int
probe_filter(pcap_t *p, const char *iface, const char *bpf, const char *urls)
{
	char own[256], expr[1024];
	struct bpf_program prog;

	probe_own_ports(urls, own, sizeof(own));
	if (bpf == NULL || bpf[0] == '\0')
		snprintf(expr, sizeof(expr), "not (%s)", own);
	else
		snprintf(expr, sizeof(expr), "(%s) and not (%s)", bpf, own);
	if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
	    pcap_setfilter(p, &prog) != 0) {
		log_warnx("%s: filter \"%s\": %s", iface, expr, pcap_geterr(p));
		return -EINVAL;
	}
	pcap_freecode(&prog);
	log_info("%s: capture filter \"%s\"", iface, expr);
	return 0;
}

/* pcap's 32-bit counters, accumulated 64-bit. */
static void
probe_kernel_stats(struct probe *pr)
{
	struct probe_stats *st = &pr->st;
	struct pcap_stat ps;

	if (pcap_stats(pr->p, &ps) != 0)
		return;
	st->kernel_recv += (unsigned)(ps.ps_recv - st->last_recv);
	st->kernel_drops += (unsigned)(ps.ps_drop - st->last_drop) +
	    (unsigned)(ps.ps_ifdrop - st->last_ifdrop);
	st->last_recv = ps.ps_recv;
	st->last_drop = ps.ps_drop;
	st->last_ifdrop = ps.ps_ifdrop;
}

/* ---- publishing --------------------------------------------------------- */

static void
probe_count_publish(struct probe *pr, natsStatus s, uint32_t npkts)
{
	struct probe_stats *st = &pr->st;

	switch (s) {
	case NATS_OK:
		/*
		 * Taken while reconnecting, it sits in nats.c's reconnect
		 * buffer: published once a server has it (probe_settle).
		 */
		if (natsConnection_Status(pr->nc) == NATS_CONN_STATUS_CONNECTED) {
			st->published += npkts;
			st->messages++;
		} else {
			st->buffered += npkts;
			st->buffered_msgs++;
		}
		return;
	case NATS_INSUFFICIENT_BUFFER:
		st->dropped[PROBE_DROP_BUFFER_FULL] += npkts;
		break;
	case NATS_CONNECTION_CLOSED:
		st->dropped[PROBE_DROP_CLOSED] += npkts;
		break;
	default:
		st->dropped[PROBE_DROP_NATS_ERROR] += npkts;
		break;
	}
	/* At the 1st, 2nd, 4th, 8th... failure: a dead server must not
	 * flood the log. */
	st->failures++;
	if ((st->failures & (st->failures - 1)) == 0)
		log_warnx("NATS: publish failed %" PRIu64 " time%s: %s",
		    st->failures, st->failures == 1 ? "" : "s",
		    natsStatus_GetText(s));
}

/*
 * Connected again: nats.c wrote its reconnect buffer to the new server
 * before it said so (_doReconnect), so what it held is published.
 */
static void
probe_settle(struct probe *pr)
{
	struct probe_stats *st = &pr->st;

	if (st->buffered == 0 ||
	    natsConnection_Status(pr->nc) != NATS_CONN_STATUS_CONNECTED)
		return;
	st->published += st->buffered;
	st->messages += st->buffered_msgs;
	st->buffered = st->buffered_msgs = 0;
}

/* A batch goes out with the header that says it is one (natsmsg.h). */
static natsStatus
probe_publish_batch(struct probe *pr)
{
	natsMsg *m;
	natsStatus s;

	s = natsMsg_Create(&m, pr->cfg->subject, NULL, (const char *)pr->buf,
	    (int)pr->used);
	if (s != NATS_OK)
		return s;
	if ((s = natsMsgHeader_Set(m, NS_NATSMSG_HDR_TYPE,
	    NS_NATSMSG_CT_BATCH)) == NATS_OK)
		s = natsConnection_PublishMsg(pr->nc, m);
	natsMsg_Destroy(m);
	return s;
}

static void
probe_flush(struct probe *pr)
{
	natsStatus s;

	if (pr->pending == 0)
		return;
	if (pr->batch == 1)
		s = natsConnection_Publish(pr->nc, pr->cfg->subject, pr->buf,
		    (int)pr->used);
	else
		s = probe_publish_batch(pr);
	probe_count_publish(pr, s, pr->pending);
	pr->used = 0;
	pr->pending = 0;
}

static void
probe_add(struct probe *pr, const struct ns_record *rec)
{
	int rc;

	if (pr->batch == 1)
		rc = ns_natsmsg_encode_packet(rec, pr->buf, pr->cap, &pr->used);
	else
		rc = ns_natsmsg_batch_append(rec, pr->buf, pr->cap, &pr->used);
	if (rc != 0) {
		pr->st.dropped[PROBE_DROP_ENCODE]++;
		return;
	}
	if (pr->pending++ == 0)
		pr->first_at = ns_mono_now();
	if (pr->pending >= pr->batch)
		probe_flush(pr);
}

static void
probe_packet(u_char *arg, const struct pcap_pkthdr *h, const u_char *data)
{
	struct probe *pr = (struct probe *)arg;
	struct ns_record rec;
	enum ns_parse_result res;
	/* Opened with nanosecond stamps: tv_usec holds nanoseconds. */
	uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000u +
	    (uint64_t)h->ts.tv_usec;

	pr->st.captured++;
	res = ns_parse_packet(pr->dlt, data, h->caplen, h->len, ts, &rec);
	if (pr->persist != NULL)
		ns_persist_packet(pr->persist, ts, h->caplen, h->len, data,
		    res == NS_PARSE_OK ? &rec : NULL);
	if (res != NS_PARSE_OK) {
		pr->st.skipped[res]++;
		return;
	}
	probe_add(pr, &rec);
}

/* ---- counters ----------------------------------------------------------- */

/* "; persisted ..." (persist.h), or nothing when persistence is off. */
static void
probe_persist_stats(const struct probe *pr, char *buf, size_t len)
{
	struct ns_persist_stats ps;

	buf[0] = '\0';
	if (pr->persist == NULL)
		return;
	ns_persist_stats(pr->persist, &ps);
	snprintf(buf, len, "; ");
	ns_persist_stats_format(&ps, buf + 2, len - 2);
}

static void
probe_print_stats(const struct probe *pr, const char *when)
{
	const struct probe_stats *st = &pr->st;
	char skipped[1024] = "", dropped[256] = "", persisted[320];
	uint64_t nskip = 0, ndrop = 0;
	size_t n = 0, m = 0;
	unsigned i;

	for (i = 1; i < NS_PARSE_NREASONS; i++) {
		nskip += st->skipped[i];
		if (st->skipped[i] != 0 && n < sizeof(skipped))
			n += (size_t)snprintf(skipped + n, sizeof(skipped) - n,
			    " %s=%" PRIu64, ns_parse_reason_name(i),
			    st->skipped[i]);
	}
	for (i = 0; i < PROBE_NDROPS; i++) {
		ndrop += st->dropped[i];
		if (st->dropped[i] != 0 && m < sizeof(dropped))
			m += (size_t)snprintf(dropped + m, sizeof(dropped) - m,
			    " %s=%" PRIu64, drop_names[i], st->dropped[i]);
	}
	probe_persist_stats(pr, persisted, sizeof(persisted));
	/* Only while a server is away: ", buffered N" (nats.c holds them). */
	if (st->buffered != 0 && m < sizeof(dropped))
		snprintf(dropped + m, sizeof(dropped) - m, ", buffered %" PRIu64,
		    st->buffered);
	log_info("%s: captured %" PRIu64 ", published %" PRIu64
	    " packets in %" PRIu64 " messages, skipped %" PRIu64 "%s"
	    ", dropped %" PRIu64 "%s, kernel received %" PRIu64
	    ", kernel drops %" PRIu64 "%s", when, st->captured, st->published,
	    st->messages, nskip, skipped, ndrop, dropped, st->kernel_recv,
	    st->kernel_drops, persisted);
}

/* ---- the publishing loop ------------------------------------------------ */

static int
probe_open_capture(struct probe *pr, const struct ns_config *cfg,
    const char *want)
{
	char iface[64], errbuf[PCAP_ERRBUF_SIZE];

	snprintf(iface, sizeof(iface), "%s", want);
	if (strcmp(iface, "default") == 0 &&
	    ns_capture_default_iface(iface, sizeof(iface)) != 0) {
		log_warnx("no default route: name the interface (-i)");
		return -ENODEV;
	}
	if ((pr->p = probe_pcap_open(iface, cfg->probe.snaplen)) == NULL)
		return -ENODEV;
	if (probe_filter(pr->p, iface, cfg->probe.bpf,
	    cfg->probe.nats_url) != 0)
		return -EINVAL;
	/*
	 * Non-blocking, with our own poll: a blocking pcap_dispatch on a
	 * TPACKET_V3 ring need not return on an idle link, and the loop must
	 * flush batches and see signals there.
	 */
	if (pcap_setnonblock(pr->p, 1, errbuf) != 0) {
		log_warnx("%s: %s", iface, errbuf);
		return -EIO;
	}
	pr->dlt = pcap_datalink(pr->p);
	if (!ns_parse_dlt_supported(pr->dlt)) {
		log_warnx("%s: link type %s is not supported", iface,
		    pcap_datalink_val_to_name(pr->dlt));
		return -ENOTSUP;
	}
	log_info("capturing on %s, publishing on \"%s\" (%u packet%s a "
	    "message)", iface, cfg->probe.subject, pr->batch,
	    pr->batch == 1 ? "" : "s");
	return 0;
}

/* After a batch: wake the writer; now and then, look after it. */
static void
probe_persist_tick(struct probe *pr)
{
	if (pr->persist == NULL)
		return;
	ns_persist_kick(pr->persist);
	ns_persist_check(pr->persist);
}

static void
probe_loop(struct probe *pr, const struct probe_opts *o)
{
	struct pollfd pfd = { pcap_get_selectable_fd(pr->p), POLLIN, 0 };
	double stats_at = ns_mono_now(), now;
	int n;

	while (!probe_stop) {
		n = pcap_dispatch(pr->p, PROBE_DISPATCH, probe_packet,
		    (u_char *)pr);
		if (n == PCAP_ERROR)
			fatalx("capture: %s", pcap_geterr(pr->p));
		probe_persist_tick(pr);
		if (n == 0 && pfd.fd >= 0)
			(void)poll(&pfd, 1, PROBE_POLL_MS);
		probe_settle(pr);
		now = ns_mono_now();
		if (pr->pending != 0 &&
		    now - pr->first_at >= PROBE_FLUSH_MS / 1000.0)
			probe_flush(pr);
		if (now - stats_at >= (double)o->stats_every) {
			probe_kernel_stats(pr);
			if (o->verbose)
				probe_print_stats(pr, "counters");
			stats_at = now;
		}
	}
}

/*
 * What the kernel took before the stop is published too: read until a
 * few timeouts pass with nothing new (libpcap hands out a TPACKET_V3
 * block only once the kernel retires it).
 */
static void
probe_drain(struct probe *pr)
{
	struct pollfd pfd = { pcap_get_selectable_fd(pr->p), POLLIN, 0 };
	int n, idle = 0;

	while (idle < 3) {
		n = pcap_dispatch(pr->p, PROBE_DISPATCH, probe_packet,
		    (u_char *)pr);
		probe_persist_tick(pr);
		if (n > 0)
			idle = 0;
		else if (n < 0 || pfd.fd < 0 || poll(&pfd, 1, PROBE_POLL_MS) == 0)
			idle++;
	}
	probe_flush(pr);
}

static void
probe_close_nats(natsConnection *nc)
{
	natsStatus s = natsConnection_FlushTimeout(nc, PROBE_DRAIN_MS);

	if (s != NATS_OK)
		log_warnx("NATS: flush at exit: %s; %d bytes not sent",
		    natsStatus_GetText(s), natsConnection_Buffered(nc));
	natsConnection_Close(nc);
	natsConnection_Destroy(nc);
	nats_Close();
}

/*
 * At exit: flush to the server for up to PROBE_DRAIN_MS.  What nats.c
 * still holds for a server that never came back is dropped, and counted
 * (its byte count, natsConnection_Buffered(), is 0 while reconnecting).
 */
static void
probe_finish_nats(struct probe *pr)
{
	struct probe_stats *st = &pr->st;
	natsStatus s = natsConnection_FlushTimeout(pr->nc, PROBE_DRAIN_MS);

	probe_settle(pr);
	if (st->buffered != 0) {
		log_warnx("NATS: flush at exit: %s; %" PRIu64 " packets in %"
		    PRIu64 " messages not sent", natsStatus_GetText(s),
		    st->buffered, st->buffered_msgs);
		st->dropped[PROBE_DROP_UNSENT] += st->buffered;
		st->buffered = st->buffered_msgs = 0;
	} else if (s != NATS_OK)
		log_warnx("NATS: flush at exit: %s", natsStatus_GetText(s));
	natsConnection_Close(pr->nc);
	natsConnection_Destroy(pr->nc);
	nats_Close();
}

/* The writer writes what is left in the ring, closes its file, exits. */
static void
probe_persist_stop(struct probe *pr)
{
	if (pr->persist != NULL && ns_persist_stop(pr->persist) != 0)
		log_warnx("persistence: the writer did not finish in time; "
		    "the last packets are counted as writer_down");
}

static int
probe_publish_main(const struct ns_config *cfg, const struct probe_opts *o)
{
	static struct probe pr;
	const char *iface = o->iface ? o->iface : cfg->probe.interface;
	int rc;

	pr.cfg = &cfg->probe;
	pr.batch = cfg->probe.batch ? cfg->probe.batch : 1;
	pr.cap = (size_t)pr.batch * (NS_NATSMSG_PACKET_MAX + 3);
	if ((pr.buf = malloc(pr.cap)) == NULL)
		fatal("malloc");
	if ((rc = probe_open_capture(&pr, cfg, iface)) != 0)
		return 1;
	/* Before nats.c's threads: the writer is forked from one thread. */
	if (ns_persist_start(&pr.persist, &cfg->probe, pr.dlt) != 0)
		return 1;
	if ((rc = probe_connect(&pr.nc, cfg->probe.nats_url)) != 0) {
		probe_persist_stop(&pr);
		return 1;
	}
	probe_loop(&pr, o);
	probe_drain(&pr);
	probe_kernel_stats(&pr);
	probe_finish_nats(&pr);
	probe_persist_stop(&pr);
	probe_print_stats(&pr, "stopped");
	ns_persist_free(pr.persist);
	pcap_close(pr.p);
	free(pr.buf);
	return 0;
}

/* ---- --sub: print what arrives ----------------------------------------- */

static void
probe_print_record(const struct ns_record *r)
{
	char ts[NS_TIME_STRLEN], src[NS_ADDR_STRLEN], dst[NS_ADDR_STRLEN];

	printf("%s\t%s\t%s\t%u\t%u\t%u\t%u\n",
	    ns_time_format(r->ts_ns, ts, sizeof(ts)),
	    ns_addr_format(r->src, r->ipver, src, sizeof(src)),
	    ns_addr_format(r->dst, r->ipver, dst, sizeof(dst)),
	    r->sport, r->dport, r->proto, r->wire_len);
}

/* One message: its packets as lines, or the reason it was refused. */
static void
probe_print_msg(natsMsg *m, struct ns_record *recs, uint64_t *bad)
{
	const char *ct = NULL;
	uint64_t before[NS_NATSMSG_NREASONS];
	int n, i;

	if (natsMsgHeader_Get(m, NS_NATSMSG_HDR_TYPE, &ct) != NATS_OK)
		ct = NULL;
	memcpy(before, bad, sizeof(before));
	n = ns_natsmsg_decode(natsMsg_GetData(m),
	    (size_t)natsMsg_GetDataLength(m), ns_natsmsg_kind_of(ct), recs,
	    NS_NATSMSG_MAX_BATCH, bad);
	for (i = 0; i < n; i++)
		probe_print_record(&recs[i]);
	for (i = 1; i < NS_NATSMSG_NREASONS; i++)
		if (bad[i] != before[i])
			printf("!%s\n", ns_natsmsg_reason_name(i));
	fflush(stdout);
}

static int
probe_sub_main(const struct ns_config *cfg, const struct probe_opts *o)
{
	static struct ns_record recs[NS_NATSMSG_MAX_BATCH];
	uint64_t bad[NS_NATSMSG_NREASONS] = { 0 }, nmsgs = 0;
	natsConnection *nc;
	natsSubscription *sub;
	natsMsg *m;
	natsStatus s;

	if (probe_connect(&nc, cfg->probe.nats_url) != 0)
		return 1;
	if ((s = natsConnection_SubscribeSync(&sub, nc,
	    cfg->probe.subject)) != NATS_OK) {
		log_warnx("NATS: subscribe \"%s\": %s", cfg->probe.subject,
		    natsStatus_GetText(s));
		return 1;
	}
	log_info("subscribed to \"%s\"", cfg->probe.subject);
	while (!probe_stop && (o->max_msgs == 0 || nmsgs < o->max_msgs)) {
		s = natsSubscription_NextMsg(&m, sub, PROBE_POLL_MS * 4);
		if (s == NATS_TIMEOUT)
			continue;
		if (s != NATS_OK && s != NATS_SLOW_CONSUMER)
			fatalx("NATS: %s", natsStatus_GetText(s));
		if (s == NATS_SLOW_CONSUMER) {
			log_warnx("NATS: slow consumer: messages were lost");
			continue;
		}
		probe_print_msg(m, recs, bad);
		natsMsg_Destroy(m);
		nmsgs++;
	}
	natsSubscription_Destroy(sub);
	probe_close_nats(nc);
	return 0;
}

/* ---- command line ------------------------------------------------------- */

static void __attribute__((noreturn))
probe_usage(int code)
{
	fprintf(code == 0 ? stdout : stderr,
	    "usage: netspectra probe [-v] [-c CONFIG] [-i IFACE] [--interval SECS]\n"
	    "       netspectra probe --sub [-c CONFIG] [-n COUNT]\n");
	exit(code);
}

static void
probe_args(int argc, char **argv, struct probe_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "interface", required_argument, NULL, 'i' },
		{ "sub", no_argument, NULL, 's' },
		{ "interval", required_argument, NULL, 'I' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	char *end;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:i:n:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->cfgpath = optarg;
			break;
		case 'i':
			o->iface = optarg;
			break;
		case 's':
			o->sub = 1;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'n':
		case 'I':
			v = strtoul(optarg, &end, 10);
			if (*end != '\0' || v == 0 || v > 86400 * 365)
				fatalx("-%c: expected a positive number, got \"%s\"",
				    ch == 'n' ? 'n' : 'I', optarg);
			if (ch == 'n')
				o->max_msgs = v;
			else
				o->stats_every = (unsigned)v;
			break;
		case 'h':
			probe_usage(0);
		default:
			probe_usage(2);
		}
	}
	if (optind < argc)
		probe_usage(2);
}


int
ns_probe_main(int argc, char **argv, const char *default_config)
{
	struct probe_opts o = { .stats_every = PROBE_STATS_EVERY };
	struct ns_config cfg;
	struct sigaction sa;
	int rc;

	probe_args(argc, argv, &o);
	log_set_role("probe");
	if (ns_config_load_cli(o.cfgpath, default_config, &cfg) < 0)
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = probe_on_signal;	/* no SA_RESTART: poll returns */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = o.sub ? probe_sub_main(&cfg, &o) : probe_publish_main(&cfg, &o);
	ns_config_free(&cfg);
	return rc;
}
