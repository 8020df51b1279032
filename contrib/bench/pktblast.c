/*
 * pktblast.c -- benchmark traffic source: replays a capture file's frames
 * on an interface, at a set packet rate or as fast as the kernel takes
 * them.
 *
 * The live benchmark needs a sender faster than every tool it measures;
 * tcpreplay, one send() per packet, is not.  The whole trace is read into
 * memory first, then sent through an AF_PACKET socket in batches: by
 * default with sendmmsg() (one syscall per batch), or through a
 * PACKET_TX_RING (frames copied into a ring shared with the kernel, one
 * send() per batch) -- on a veth the ring was 10-20% slower, its copy into
 * the ring costing more than the syscall it saves.  PACKET_QDISC_BYPASS
 * is optional.  Pacing is per batch against CLOCK_MONOTONIC: batch k may
 * not start before t0 + k * batch / rate, so a late batch is caught up,
 * never lost, and no syscall is per packet.  Measured on a 2-core VM's
 * veth with no capture attached: 1.5-2 Mpps, tcpreplay --topspeed 0.3-0.4.
 *
 * A frame the kernel refuses for lack of room (ENOBUFS: the receiving
 * side's backlog is full) is counted as a send error and sent again, so
 * "sent" is what the interface really transmitted.  Only the captured
 * bytes of a frame are sent, as tcpreplay does.
 *
 * Filler frames (-f) may follow the trace: minimal frames of EtherType
 * 0x88B5 (local experimental), not IP.  A reader of a TPACKET_V3 ring that
 * polls with no block timeout (softflowd) sees the last, partly filled
 * block only once another fills it; the filler does, without adding to
 * what such a tool counts as IP.  They are not in "sent".
 *
 * The last line on stdout is for scripts:
 *   sent N errors E seconds S pps P
 *
 * Needs CAP_NET_RAW.  Build: gcc -O2 -Wall -Wextra -Werror pktblast.c -lpcap
 * Usage: pktblast -i IFACE [-r PPS] [-l LOOPS | -c COUNT] [-b BATCH]
 *                 [-m mmsg|ring] [-q] [-f FILLER] FILE
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* sendmmsg */
#endif
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH_MAX	1024
#define RING_FRAMES	8192	/* TX ring slots: a few batches in flight */
#define SNDBUF		(16 << 20)

/* The trace in memory: frame i is data[off[i] .. off[i] + len[i]). */
struct trace {
	unsigned char	*data;
	size_t		*off;
	uint32_t	*len;
	size_t		 n, maxlen;
};

struct blast {
	int		 fd;
	const struct trace *t;
	size_t		 next;		/* next frame of the trace */
	uint64_t	 sent, errors;
	/* ring mode */
	unsigned char	*ring;
	unsigned	 frame_size, frame_nr, cur;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_until(double t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR && !stop)
		;
}

/*
 * Every frame of FILE up to maxlen bytes, in one buffer.  Longer ones
 * could not leave through the interface; they are left out, and said so.
 */
static void
trace_load(struct trace *t, const char *file, size_t maxlen)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	size_t cap = 1 << 16, size = 0, bytes = 1 << 24, skipped = 0;
	pcap_t *p;
	int rc;

	if ((p = pcap_open_offline(file, errbuf)) == NULL)
		errx(1, "%s", errbuf);
	if (pcap_datalink(p) != DLT_EN10MB)
		errx(1, "%s: not an Ethernet capture", file);
	t->off = malloc(cap * sizeof(*t->off));
	t->len = malloc(cap * sizeof(*t->len));
	t->data = malloc(bytes);
	if (t->off == NULL || t->len == NULL || t->data == NULL)
		err(1, "malloc");
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		if (h->caplen < ETH_HLEN || h->caplen > maxlen) {
			skipped++;
			continue;
		}
		if (t->n == cap) {
			cap *= 2;
			t->off = realloc(t->off, cap * sizeof(*t->off));
			t->len = realloc(t->len, cap * sizeof(*t->len));
			if (t->off == NULL || t->len == NULL)
				err(1, "realloc");
		}
		if (size + h->caplen > bytes) {
			bytes *= 2;
			if ((t->data = realloc(t->data, bytes)) == NULL)
				err(1, "realloc");
		}
		memcpy(t->data + size, d, h->caplen);
		t->off[t->n] = size;
		t->len[t->n++] = h->caplen;
		size += h->caplen;
		if (h->caplen > t->maxlen)
			t->maxlen = h->caplen;
	}
	if (rc == PCAP_ERROR)
		errx(1, "%s: %s", file, pcap_geterr(p));
	pcap_close(p);
	if (skipped > 0)
		warnx("%s: %zu frames left out (shorter than a header or "
		    "longer than %zu bytes)", file, skipped, maxlen);
	if (t->n == 0)
		errx(1, "%s: no frame to send", file);
}

/* A raw socket bound to IFACE, sending only; its MTU in *mtu. */
static int
sock_open(const char *iface, int bypass, unsigned *mtu)
{
	struct sockaddr_ll sll;
	struct ifreq ifr;
	int fd, one = 1, sndbuf = SNDBUF;

	if ((fd = socket(AF_PACKET, SOCK_RAW, 0)) < 0)
		err(1, "socket(AF_PACKET)");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
	if (ioctl(fd, SIOCGIFMTU, &ifr) != 0)
		err(1, "%s", iface);
	*mtu = (unsigned)ifr.ifr_mtu;
	/* Protocol 0: this socket receives nothing, not even its own. */
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	if ((sll.sll_ifindex = (int)if_nametoindex(iface)) == 0)
		err(1, "%s", iface);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) != 0)
		err(1, "bind %s", iface);
	/* Frames in flight are charged to the send buffer: let many be. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf,
	    sizeof(sndbuf)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
		    sizeof(sndbuf));
	if (bypass && setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one,
	    sizeof(one)) != 0)
		err(1, "PACKET_QDISC_BYPASS");
	return fd;
}

/* ---- sendmmsg ------------------------------------------------------------ */

static void
mmsg_batch(struct blast *b, unsigned n)
{
	static struct mmsghdr msg[BATCH_MAX];
	static struct iovec iov[BATCH_MAX];
	const struct trace *t = b->t;
	unsigned i, done = 0;
	int rc;

	for (i = 0; i < n; i++) {
		iov[i].iov_base = t->data + t->off[b->next];
		iov[i].iov_len = t->len[b->next];
		memset(&msg[i], 0, sizeof(msg[i]));
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
		if (++b->next == t->n)
			b->next = 0;
	}
	/* What the kernel refused is sent again: "sent" means sent. */
	while (done < n && !stop) {
		rc = sendmmsg(b->fd, msg + done, n - done, 0);
		if (rc > 0) {
			done += (unsigned)rc;
			continue;
		}
		if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
			err(1, "sendmmsg");
		b->errors++;
		if (errno == ENOBUFS)
			sched_yield();
	}
	b->sent += done;
}

/* ---- PACKET_TX_RING ------------------------------------------------------ */

static struct tpacket2_hdr *
ring_frame(struct blast *b, unsigned i)
{
	return (struct tpacket2_hdr *)(b->ring + (size_t)i * b->frame_size);
}

static unsigned
pow2_at_least(size_t v)
{
	unsigned p = 256;

	while (p < v)
		p <<= 1;
	return p;
}

static void
ring_open(struct blast *b)
{
	struct tpacket_req req;
	int ver = TPACKET_V2, one = 1;
	size_t size;

	if (setsockopt(b->fd, SOL_PACKET, PACKET_VERSION, &ver,
	    sizeof(ver)) != 0)
		err(1, "PACKET_VERSION");
	/* A frame the kernel finds malformed is skipped, not retried. */
	if (setsockopt(b->fd, SOL_PACKET, PACKET_LOSS, &one, sizeof(one)) != 0)
		err(1, "PACKET_LOSS");
	b->frame_size = pow2_at_least(TPACKET2_HDRLEN + b->t->maxlen);
	b->frame_nr = RING_FRAMES;
	memset(&req, 0, sizeof(req));
	req.tp_frame_size = b->frame_size;
	req.tp_block_size = b->frame_size > 65536 ? b->frame_size : 65536;
	req.tp_block_nr = (unsigned)((size_t)b->frame_nr * b->frame_size /
	    req.tp_block_size);
	if (req.tp_block_nr == 0)
		req.tp_block_nr = 1;
	b->frame_nr = req.tp_frame_nr = req.tp_block_nr *
	    (req.tp_block_size / b->frame_size);
	if (setsockopt(b->fd, SOL_PACKET, PACKET_TX_RING, &req,
	    sizeof(req)) != 0)
		err(1, "PACKET_TX_RING");
	size = (size_t)req.tp_block_nr * req.tp_block_size;
	b->ring = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
	if (b->ring == MAP_FAILED)
		err(1, "mmap");
}

/* Hand the kernel every frame it was asked to send; wait if WAIT. */
static void
ring_kick(struct blast *b, int wait)
{
	while (send(b->fd, NULL, 0, wait ? 0 : MSG_DONTWAIT) < 0 && !stop) {
		if (errno == EAGAIN && !wait)
			return;
		if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
			err(1, "send");
		/* ENOBUFS: the frame stays requested; the kernel retries. */
		b->errors++;
		if (errno == ENOBUFS)
			sched_yield();
	}
}

/* Slot i once the kernel is done with it. */
static struct tpacket2_hdr *
ring_slot(struct blast *b, unsigned i)
{
	struct tpacket2_hdr *h = ring_frame(b, i);
	struct pollfd pfd = { .fd = b->fd, .events = POLLOUT };
	uint32_t st;

	while ((st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE)) !=
	    TP_STATUS_AVAILABLE && !stop) {
		if (st & TP_STATUS_SEND_REQUEST)
			ring_kick(b, 1);
		else if (st & TP_STATUS_SENDING)
			(void)poll(&pfd, 1, 10);
		else if (st & TP_STATUS_WRONG_FORMAT) {
			b->errors++;
			break;
		}
	}
	return h;
}

static void
ring_batch(struct blast *b, unsigned n)
{
	const struct trace *t = b->t;
	struct tpacket2_hdr *h;
	unsigned i;

	for (i = 0; i < n && !stop; i++) {
		h = ring_slot(b, b->cur);
		memcpy((unsigned char *)h + TPACKET2_HDRLEN -
		    sizeof(struct sockaddr_ll), t->data + t->off[b->next],
		    t->len[b->next]);
		h->tp_len = t->len[b->next];
		__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST,
		    __ATOMIC_RELEASE);
		if (++b->cur == b->frame_nr)
			b->cur = 0;
		if (++b->next == t->n)
			b->next = 0;
	}
	ring_kick(b, 0);
	b->sent += i;
}

/* The end: every frame requested has left. */
static void
ring_flush(struct blast *b)
{
	unsigned i;

	for (i = 0; i < b->frame_nr && !stop; i++)
		(void)ring_slot(b, i);
}

/* ---- main ---------------------------------------------------------------- */

/* N more frames of b->t, at PPS (0: flat out), BATCH at a time. */
static void
blast_run(struct blast *b, uint64_t n, unsigned batch, double pps)
{
	uint64_t base = b->sent, end = b->sent + n;
	double t0 = now();

	while (b->sent < end && !stop) {
		n = end - b->sent < batch ? end - b->sent : batch;
		if (pps > 0)
			sleep_until(t0 + (double)(b->sent - base) / pps);
		if (b->ring != NULL)
			ring_batch(b, (unsigned)n);
		else
			mmsg_batch(b, (unsigned)n);
	}
	if (b->ring != NULL)
		ring_flush(b);
}

/* One minimal frame that no flow meter takes for IP. */
static void
filler_trace(struct trace *f)
{
	static unsigned char frame[ETH_ZLEN];
	static size_t off;
	static uint32_t len = ETH_ZLEN;

	memset(frame, 0xff, ETH_ALEN);			/* broadcast */
	frame[ETH_ALEN] = 0x02;				/* local address */
	frame[ETH_ALEN + 5] = 0x01;
	frame[2 * ETH_ALEN] = 0x88;			/* 0x88B5 */
	frame[2 * ETH_ALEN + 1] = 0xb5;
	f->data = frame;
	f->off = &off;
	f->len = &len;
	f->n = 1;
	f->maxlen = ETH_ZLEN;
}

static void
usage(void)
{
	fprintf(stderr, "usage: pktblast -i IFACE [-r PPS] [-l LOOPS | "
	    "-c COUNT] [-b BATCH] [-m mmsg|ring] [-q] FILE\n"
	    "  -r PPS    packets per second (0: as fast as possible)\n"
	    "  -l LOOPS  times to send the whole trace [1]\n"
	    "  -c COUNT  packets to send, the trace repeated as needed\n"
	    "  -b BATCH  packets per syscall [rate / 10000, 256 flat out]\n"
	    "  -m MODE   mmsg (sendmmsg, default) or ring (PACKET_TX_RING)\n"
	    "  -q        PACKET_QDISC_BYPASS\n"
	    "  -f FILLER then FILLER non-IP frames, flat out, not counted\n");
	exit(2);
}

/* Packets per batch: about 100 us of traffic; flat out, the most that paid. */
static unsigned
auto_batch(double pps)
{
	double b = pps / 10000;

	if (pps <= 0)
		return 256;
	return b < 1 ? 1 : b > 256 ? 256 : (unsigned)b;
}

int
main(int argc, char **argv)
{
	const char *iface = NULL, *mode = "mmsg";
	struct trace t = { 0 }, fill;
	struct blast b = { 0 };
	double pps = 0, t0, secs;
	uint64_t loops = 1, count = 0, filler = 0, sent;
	unsigned batch = 0, mtu;
	int ch, bypass = 0;

	while ((ch = getopt(argc, argv, "i:r:l:c:b:m:qf:")) != -1) {
		switch (ch) {
		case 'i': iface = optarg; break;
		case 'r': pps = strtod(optarg, NULL); break;
		case 'l': loops = strtoull(optarg, NULL, 10); break;
		case 'c': count = strtoull(optarg, NULL, 10); break;
		case 'b': batch = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': mode = optarg; break;
		case 'q': bypass = 1; break;
		case 'f': filler = strtoull(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (iface == NULL || optind != argc - 1 || batch > BATCH_MAX ||
	    (strcmp(mode, "ring") != 0 && strcmp(mode, "mmsg") != 0))
		usage();
	if (batch == 0)
		batch = auto_batch(pps);
	b.fd = sock_open(iface, bypass, &mtu);
	/* The kernel takes MTU + Ethernet header + one VLAN tag at most. */
	trace_load(&t, argv[optind], (size_t)mtu + ETH_HLEN + 4);
	b.t = &t;
	if (strcmp(mode, "ring") == 0)
		ring_open(&b);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	t0 = now();
	blast_run(&b, count != 0 ? count : loops * t.n, batch, pps);
	secs = now() - t0;
	sent = b.sent;
	if (filler > 0) {
		filler_trace(&fill);
		b.t = &fill;
		b.next = 0;
		blast_run(&b, filler, auto_batch(0), 0);
	}
	printf("pktblast: %s, %s%s, batch %u, %zu frames in the trace, "
	    "%" PRIu64 " filler frames\n", iface, mode,
	    bypass ? " qdisc bypass" : "", batch, t.n, b.sent - sent);
	printf("sent %" PRIu64 " errors %" PRIu64 " seconds %.3f pps %.0f\n",
	    sent, b.errors, secs, secs > 0 ? (double)sent / secs : 0);
	free(t.data);
	free(t.off);
	free(t.len);
	return stop ? 1 : 0;
}
