/*
 * pcapgen.c -- deterministic generator of test captures for netspectra.
 *
 * Writes a classic pcap file of synthetic traffic: Zipf-sized flows of TCP,
 * UDP, ICMP and SCTP over IPv4 and IPv6, optionally with VLAN and QinQ tags,
 * IPv4 fragments, IPv6 extension headers, header-only capture (snaplen),
 * scanners and deliberately malformed packets.  The same options and seed
 * always give the same bytes: all randomness comes from xoshiro256** seeded
 * through splitmix64, never from rand() or the clock.  A --truth file lists
 * what was sent, per flow and direction, for comparison with other tools.
 *
 * The file is produced in two passes.  The first decides, for every packet
 * slot, which flow sends it (scanners merged in order, the rest drawn from
 * a Zipf alias table) and whether it is broken; the second writes the
 * packets.  Knowing each flow's packet count up front is what lets a TCP
 * flow open with SYN and close with FIN.
 *
 * Addresses come from private and documentation ranges only (10.0.0.0/8,
 * 172.16.0.0/12, 192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32); nothing is
 * ever sent on a network.  IPv4 header, TCP, UDP and ICMP checksums and the
 * SCTP CRC32c are valid, even in header-only captures.
 */
#include <sys/types.h>

#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FRAME	2048		/* largest frame we build, with room */
#define PAT_LEN		2048		/* payload pattern; offsets stay below */
#define ETH_MIN		60		/* Ethernet minimum frame, without FCS */
#define SLOT_BROKEN	0x80000000u	/* slot flag: this packet is malformed */
#define MAX_FLOWS	((1u << 27) - 8) /* client addresses stay distinct */

enum { P_TCP, P_UDP, P_ICMP, P_SCTP, P_N };

/* IPv6 extension headers, in the order RFC 8200 recommends. */
enum { EXT_HOP = 1, EXT_DST = 2, EXT_RT = 4, EXT_FRAG = 8 };

/* Applications: they choose the server port and the payload shape. */
enum app {
	APP_HTTP, APP_HTTPS, APP_ALTHTTP, APP_IMAPS,
	APP_DNS, APP_NTP, APP_QUIC, APP_SYSLOG,
	APP_PING, APP_DIAMETER, APP_SIP,
};

/* Per-flow size profiles (TCP); the other protocols size by application. */
enum { PROF_SMALL, PROF_MEDIUM, PROF_BULK };

/* Ways to break a packet on purpose. */
enum { BAD_TRUNC_IP, BAD_VERSION, BAD_IHL, BAD_EXT_CHAIN, BAD_TRUNC_TCP };

struct opts {
	const char *out;
	const char *truth;
	uint64_t npkts;
	uint32_t nflows;
	double zipf;
	uint64_t seed;
	int dlt;
	double ipv6, vlan, qinq, frag, ext6, malformed;
	double mix[P_N];
	uint32_t snaplen;		/* 0: whole packets */
	uint32_t nscan, fanout;
	uint32_t start;
	double duration;
	int nsec;
};

struct rng {
	uint64_t s[4];
};

struct flow {
	uint32_t npkts;		/* sound packets this flow will send */
	uint32_t sent;		/* sound packets sent so far */
	uint32_t pkts[2];	/* truth, per direction (0: client to server) */
	uint64_t bytes[2];
	uint32_t seq[2];	/* TCP sequence, SCTP TSN, ICMP sequence */
	uint32_t cli, srv;	/* host parts of the client and server address */
	uint32_t hash;		/* varies ids, names and payload offsets */
	uint16_t sport, dport;
	uint16_t vlan[2];	/* outer and inner VLAN ID */
	uint16_t ipid;
	uint8_t ipver, proto, app, ntags, profile, bidir, scan, tos;
	/* the second half of an IPv4 packet sent as two fragments */
	uint8_t frag_pending, frag_dir;
	uint16_t frag_off, frag_len, frag_pat, frag_id;
};

/* One packet as planned, before it is laid out. */
struct pkt {
	int dir;
	uint8_t tcpflags;
	uint8_t ext;
	int frag;
	uint32_t paylen;	/* pattern bytes after the transport header */
	uint16_t pat;		/* pattern offset, even */
};

/* Where build_frame put things, for the malformer and the fragmenter. */
struct layout {
	uint32_t ip;		/* offset of the IP header */
	uint32_t iphl;		/* IP header plus extension headers */
	uint32_t exthl;		/* extension headers alone */
	uint32_t l4;		/* offset of the transport header */
	uint32_t hlen;		/* transport header and application bytes */
	uint32_t l4len;		/* whole transport segment */
};

struct gen {
	struct opts o;
	struct flow *flows;
	uint32_t nall;		/* regular plus scanner flows */
	uint32_t *slots;
	double *alias_p;
	uint32_t *alias_i;
	struct rng r;
	pcap_t *pcap;
	pcap_dumper_t *dump;
	uint64_t frames, bytes, broken, frags, ext6;
	struct layout lay;
	uint8_t buf[MAX_FRAME];
};

static uint8_t pat[PAT_LEN + MAX_FRAME];
static uint32_t patsum[(PAT_LEN + MAX_FRAME) / 2 + 1];
static uint32_t crc32c_tab[256];

/* ---------------------------------------------------------------- */
/* Random numbers: splitmix64 to seed, xoshiro256** to draw. */

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Independent streams per purpose keep flows stable when -n changes. */
static void
rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t
rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

static inline double
rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Lemire's multiply-shift; the tiny bias does not matter here. */
static inline uint32_t
rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static inline uint32_t
rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

/* ---------------------------------------------------------------- */
/* Byte helpers, checksums and the payload pattern. */

static inline void
put16(uint8_t *p, uint32_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t
csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t
csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * Printable text, so that dissectors keyed on well-known ports see
 * "continuation data" rather than a broken protocol header.  Prefix sums
 * of its 16-bit words make a payload's checksum O(1): checksums stay valid
 * even for bytes a header-only capture never writes.
 */
static void
pattern_init(void)
{
	static const char text[] =
	    "pcapgen synthetic payload: the quick brown fox jumps over the "
	    "lazy dog 0123456789 ";
	size_t i, n = sizeof(text) - 1;

	for (i = 0; i < sizeof(pat); i++)
		pat[i] = text[(i + i / (n * 3)) % n];
	patsum[0] = 0;
	for (i = 0; i < sizeof(pat) / 2; i++)
		patsum[i + 1] = patsum[i] + ((uint32_t)pat[2 * i] << 8 |
		    pat[2 * i + 1]);
}

/* Checksum of pat[off .. off+len); off is even. */
static uint32_t
pattern_csum(uint32_t off, uint32_t len)
{
	uint32_t sum = patsum[(off + len) / 2] - patsum[off / 2];

	if (len & 1)
		sum += (uint32_t)pat[off + len - 1] << 8;
	return sum;
}

static void
crc32c_init(void)
{
	uint32_t c, i;
	int k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78 : c >> 1;
		crc32c_tab[i] = c;
	}
}

static uint32_t
crc32c(uint32_t crc, const uint8_t *p, size_t len)
{
	while (len--)
		crc = crc32c_tab[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

/* ---------------------------------------------------------------- */
/* Options. */

static void __attribute__((noreturn))
usage(int status)
{
	FILE *fp = status ? stderr : stdout;

	fprintf(fp,
	    "usage: pcapgen -o FILE [options]\n"
	    "  -o, --output FILE       output capture, - for stdout (required)\n"
	    "  -n, --packets N         packets (frames) to write [10000]\n"
	    "  -f, --flows N           conversations, Zipf-ranked [1000]\n"
	    "  -z, --zipf S            Zipf exponent: flow i gets 1/i^S [1.1]\n"
	    "  -s, --seed N            random seed [1]\n"
	    "      --link en10mb|raw   Ethernet or raw IP frames [en10mb]\n"
	    "      --ipv6 FRACTION     flows over IPv6 [0.2]\n"
	    "      --proto-mix LIST    percent of flows, e.g. [tcp=70,udp=20,"
	    "icmp=5,sctp=5]\n"
	    "      --vlan FRACTION     flows with one 802.1Q tag [0]\n"
	    "      --qinq FRACTION     flows with 802.1ad + 802.1Q tags [0]\n"
	    "      --snaplen N         header-only capture of N bytes [off]\n"
	    "      --scanners N        scanning sources [0]\n"
	    "      --scan-fanout M     distinct destinations per scanner [100]\n"
	    "      --frag FRACTION     IPv4 packets sent as two fragments [0]\n"
	    "      --ext6 FRACTION     IPv6 packets with extension headers [0]\n"
	    "      --malformed FRACTION packets broken on purpose [0]\n"
	    "      --start SECONDS     first timestamp, UNIX time "
	    "[1767225600]\n"
	    "      --duration SECONDS  time the trace spans [10]\n"
	    "      --nsec              nanosecond timestamps\n"
	    "      --truth FILE        write per-flow ground truth\n"
	    "  -h, --help              this text\n");
	exit(status);
}

static double
parse_double(const char *s, const char *what, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !(v >= lo && v <= hi))
		errx(2, "%s: bad value '%s' (want %g..%g)", what, s, lo, hi);
	return v;
}

static uint64_t
parse_u64(const char *s, const char *what, uint64_t lo, uint64_t hi)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end != '\0' || *s == '-' || v < lo ||
	    v > hi)
		errx(2, "%s: bad value '%s' (want %" PRIu64 "..%" PRIu64 ")",
		    what, s, lo, hi);
	return v;
}

/* "tcp=70,udp=20,icmp=5,sctp=5": protocols left out get nothing. */
static void
parse_mix(const char *arg, double mix[P_N])
{
	static const char *names[P_N] = { "tcp", "udp", "icmp", "sctp" };
	char *copy, *tok, *save, *eq;
	double total = 0;
	int i;

	if ((copy = strdup(arg)) == NULL)
		err(1, "strdup");
	memset(mix, 0, sizeof(double) * P_N);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if ((eq = strchr(tok, '=')) == NULL)
			errx(2, "--proto-mix: '%s' is not NAME=PERCENT", tok);
		*eq = '\0';
		for (i = 0; i < P_N && strcmp(tok, names[i]) != 0; i++)
			;
		if (i == P_N)
			errx(2, "--proto-mix: unknown protocol '%s'", tok);
		mix[i] = parse_double(eq + 1, "--proto-mix", 0, 100);
		total += mix[i];
	}
	free(copy);
	if (total <= 0)
		errx(2, "--proto-mix: all protocols at zero");
	for (i = 0; i < P_N; i++)
		mix[i] /= total;
}

enum {
	OPT_LINK = 256, OPT_IPV6, OPT_MIX, OPT_VLAN, OPT_QINQ, OPT_SNAPLEN,
	OPT_SCAN, OPT_FANOUT, OPT_FRAG, OPT_EXT6, OPT_BAD, OPT_START,
	OPT_DURATION, OPT_NSEC, OPT_TRUTH,
};

static const struct option longopts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "packets", required_argument, NULL, 'n' },
	{ "flows", required_argument, NULL, 'f' },
	{ "zipf", required_argument, NULL, 'z' },
	{ "seed", required_argument, NULL, 's' },
	{ "help", no_argument, NULL, 'h' },
	{ "link", required_argument, NULL, OPT_LINK },
	{ "ipv6", required_argument, NULL, OPT_IPV6 },
	{ "proto-mix", required_argument, NULL, OPT_MIX },
	{ "vlan", required_argument, NULL, OPT_VLAN },
	{ "qinq", required_argument, NULL, OPT_QINQ },
	{ "snaplen", required_argument, NULL, OPT_SNAPLEN },
	{ "scanners", required_argument, NULL, OPT_SCAN },
	{ "scan-fanout", required_argument, NULL, OPT_FANOUT },
	{ "frag", required_argument, NULL, OPT_FRAG },
	{ "ext6", required_argument, NULL, OPT_EXT6 },
	{ "malformed", required_argument, NULL, OPT_BAD },
	{ "start", required_argument, NULL, OPT_START },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "nsec", no_argument, NULL, OPT_NSEC },
	{ "truth", required_argument, NULL, OPT_TRUTH },
	{ NULL, 0, NULL, 0 },
};

static void
opts_default(struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->npkts = 10000;
	o->nflows = 1000;
	o->zipf = 1.1;
	o->seed = 1;
	o->dlt = DLT_EN10MB;
	o->ipv6 = 0.2;
	o->mix[P_TCP] = 0.70;
	o->mix[P_UDP] = 0.20;
	o->mix[P_ICMP] = 0.05;
	o->mix[P_SCTP] = 0.05;
	o->fanout = 100;
	o->start = 1767225600;
	o->duration = 10;
}

static void
opts_long(struct opts *o, int ch, const char *arg)
{
	switch (ch) {
	case OPT_LINK:
		if (strcmp(arg, "en10mb") == 0 || strcmp(arg, "ether") == 0)
			o->dlt = DLT_EN10MB;
		else if (strcmp(arg, "raw") == 0)
			o->dlt = DLT_RAW;
		else
			errx(2, "--link: want en10mb or raw, not '%s'", arg);
		break;
	case OPT_IPV6: o->ipv6 = parse_double(arg, "--ipv6", 0, 1); break;
	case OPT_MIX: parse_mix(arg, o->mix); break;
	case OPT_VLAN: o->vlan = parse_double(arg, "--vlan", 0, 1); break;
	case OPT_QINQ: o->qinq = parse_double(arg, "--qinq", 0, 1); break;
	case OPT_SNAPLEN:
		o->snaplen = parse_u64(arg, "--snaplen", 64, 65535);
		break;
	case OPT_SCAN:
		o->nscan = parse_u64(arg, "--scanners", 0, 1u << 20);
		break;
	case OPT_FANOUT:
		o->fanout = parse_u64(arg, "--scan-fanout", 1, 1u << 24);
		break;
	case OPT_FRAG: o->frag = parse_double(arg, "--frag", 0, 1); break;
	case OPT_EXT6: o->ext6 = parse_double(arg, "--ext6", 0, 1); break;
	case OPT_BAD:
		o->malformed = parse_double(arg, "--malformed", 0, 1);
		break;
	case OPT_START:
		o->start = parse_u64(arg, "--start", 0, UINT32_MAX);
		break;
	case OPT_DURATION:
		o->duration = parse_double(arg, "--duration", 0, 1e9);
		break;
	case OPT_NSEC: o->nsec = 1; break;
	case OPT_TRUTH: o->truth = arg; break;
	default: usage(2);
	}
}

static void
opts_parse(struct opts *o, int argc, char **argv)
{
	int ch;

	opts_default(o);
	while ((ch = getopt_long(argc, argv, "o:n:f:z:s:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'o': o->out = optarg; break;
		case 'n':
			o->npkts = parse_u64(optarg, "-n", 1, UINT32_MAX >> 1);
			break;
		case 'f':
			o->nflows = parse_u64(optarg, "-f", 1, MAX_FLOWS);
			break;
		case 'z': o->zipf = parse_double(optarg, "-z", 0, 10); break;
		case 's': o->seed = parse_u64(optarg, "-s", 0, UINT64_MAX); break;
		case 'h': usage(0);
		default: opts_long(o, ch, optarg); break;
		}
	}
	if (optind != argc || o->out == NULL)
		usage(2);
	if (o->vlan + o->qinq > 1)
		errx(2, "--vlan plus --qinq exceeds 1");
	if (o->dlt == DLT_RAW && o->vlan + o->qinq > 0)
		warnx("--vlan and --qinq ignored with --link raw");
	if ((uint64_t)o->nscan * o->fanout > o->npkts)
		errx(2, "scanners need %" PRIu64 " packets, -n is %" PRIu64,
		    (uint64_t)o->nscan * o->fanout, o->npkts);
}

/* ---------------------------------------------------------------- */
/* Flows: who talks to whom, and how. */

/* Multiplying by an odd number is a bijection modulo 2^k: distinct hosts. */
static uint32_t
scramble(uint32_t x, int bits)
{
	return (x * 2654435761u) & (bits == 32 ? 0xffffffffu :
	    (1u << bits) - 1);
}

static int
pick_proto(const struct opts *o, struct rng *r)
{
	double u = rng_unit(r);
	int i;

	for (i = 0; i < P_N - 1; i++) {
		if (u < o->mix[i])
			return i;
		u -= o->mix[i];
	}
	return P_N - 1;
}

static const uint8_t proto_num[P_N] = { 6, 17, 1, 132 };

static void
flow_app(struct flow *f, struct rng *r)
{
	static const uint8_t tcp_apps[] = { APP_HTTPS, APP_HTTPS, APP_HTTPS,
	    APP_HTTP, APP_HTTP, APP_ALTHTTP, APP_IMAPS };
	static const uint8_t udp_apps[] = { APP_DNS, APP_DNS, APP_DNS,
	    APP_DNS, APP_QUIC, APP_QUIC, APP_QUIC, APP_NTP, APP_NTP,
	    APP_SYSLOG };
	static const uint16_t port[] = { 80, 443, 8080, 993, 53, 123, 443,
	    514, 0, 3868, 5060 };

	switch (f->proto) {
	case P_TCP:
		f->app = tcp_apps[rng_below(r, sizeof(tcp_apps))];
		break;
	case P_UDP:
		f->app = udp_apps[rng_below(r, sizeof(udp_apps))];
		break;
	case P_ICMP:
		f->app = APP_PING;
		break;
	default:
		f->app = rng_below(r, 2) ? APP_DIAMETER : APP_SIP;
		break;
	}
	f->dport = port[f->app];
	/* SCTP peers (Diameter, SIP trunks) commonly use the well-known
	 * port on both ends; an ephemeral one could also land on a port
	 * that dissectors claim for another protocol. */
	if (f->proto == P_SCTP)
		f->sport = f->dport;
}

/* Most conversations answer; syslog is one-way by nature. */
static int
flow_bidir(const struct flow *f, struct rng *r)
{
	static const double p[] = { 0.85, 0.85, 0.85, 0.85, 0.95, 0.8, 0.8,
	    0, 0.7, 0.6, 0.6 };

	return rng_unit(r) < p[f->app];
}

static void
flow_tags(const struct opts *o, struct flow *f, struct rng *r)
{
	double u = rng_unit(r);

	f->ntags = 0;
	if (o->dlt != DLT_EN10MB)
		return;
	if (u < o->qinq)
		f->ntags = 2;
	else if (u < o->qinq + o->vlan)
		f->ntags = 1;
	f->vlan[0] = rng_range(r, 2, 4000);
	f->vlan[1] = rng_range(r, 2, 4000);
}

/*
 * Flow i: client 10.x.y.z or 2001:db8:1::/64, up to eight flows per client
 * with distinct ports and servers, so every flow's 5-tuple is unique (and
 * so is every truth line).  Servers sit in 192.0.2.0/24 and
 * 198.51.100.0/24, or 2001:db8:ff::/64.
 */
static void
flow_init(const struct opts *o, struct flow *f, uint32_t i)
{
	static const uint8_t tos[] = { 0, 0, 0, 0, 0, 0, 0, 0x28, 0x48, 0xb8 };
	struct rng r;

	rng_seed(&r, o->seed, 0x100000000ULL + i);
	memset(f, 0, sizeof(*f));
	f->ipver = rng_unit(&r) < o->ipv6 ? 6 : 4;
	f->proto = pick_proto(o, &r);
	f->sport = 32768 + (i & 7) * 3500 + rng_below(&r, 3500);
	flow_app(f, &r);
	f->bidir = flow_bidir(f, &r);
	f->cli = scramble((i >> 3) + 1, f->ipver == 4 ? 24 : 32);
	/* A client's flows use distinct servers: ICMP has no ports to differ. */
	f->srv = 1 + rng_below(&r, 63) * 8 + (i & 7);
	f->hash = (uint32_t)rng_next(&r);
	f->seq[0] = (uint32_t)rng_next(&r);
	f->seq[1] = (uint32_t)rng_next(&r);
	f->ipid = f->hash >> 16;
	f->tos = tos[rng_below(&r, sizeof(tos))];
	f->profile = rng_unit(&r) < 0.4 ? PROF_SMALL :
	    rng_unit(&r) < 0.5 ? PROF_MEDIUM : PROF_BULK;
	if (f->proto == P_ICMP || f->proto == P_SCTP)
		f->seq[0] = f->seq[1] = f->hash & 0xffff;
	flow_tags(o, f, &r);
}

/*
 * Scanner j probing its k-th target: SYNs to one TCP port, or DNS/NTP
 * queries, from 172.16.0.0/12 (2001:db8:bad::/64) into 10.0.0.0/8
 * (2001:db8:1::/64).  Targets are distinct per scanner.
 */
static void
scan_init(const struct opts *o, struct flow *f, uint32_t j, uint32_t k)
{
	static const uint16_t tcp_ports[] = { 22, 23, 80, 443, 445, 3389,
	    8080 };
	struct rng r;

	rng_seed(&r, o->seed, 0x200000000ULL + j);
	memset(f, 0, sizeof(*f));
	f->scan = 1;
	f->ipver = rng_unit(&r) < o->ipv6 ? 6 : 4;
	f->proto = rng_unit(&r) < 0.7 ? P_TCP : P_UDP;
	f->app = rng_below(&r, 2) ? APP_DNS : APP_NTP;
	f->dport = f->proto == P_TCP ?
	    tcp_ports[rng_below(&r, sizeof(tcp_ports) / 2)] :
	    f->app == APP_DNS ? 53 : 123;
	f->sport = rng_range(&r, 1024, 65535);
	f->seq[0] = (uint32_t)rng_next(&r);
	f->cli = j + 1;
	f->srv = scramble(k, f->ipver == 4 ? 24 : 32) ^ (uint32_t)rng_next(&r);
	if (f->ipver == 4)
		f->srv &= 0xffffff;
	f->hash = (uint32_t)rng_next(&r) ^ k;
	f->ipid = f->hash;
	flow_tags(o, f, &r);
}

/* Address of one end; side 0 is the client (or scanner). */
static void
flow_addr(const struct flow *f, int side, uint8_t a[16])
{
	uint32_t h = side ? f->srv : f->cli;

	memset(a, 0, 16);
	if (f->ipver == 4) {
		if (side == 1 && !f->scan)
			put32(a, h <= 254 ? 0xc0000200 | h :
			    0xc6336400 | (h - 254));
		else if (side == 0 && f->scan)
			put32(a, 0xac100000 | (h & 0xfffff));
		else
			put32(a, 0x0a000000 | h);
		return;
	}
	put32(a, 0x20010db8);
	if (f->scan)
		put16(a + 4, side ? 0x0001 : 0x0bad);
	else
		put16(a + 4, side ? 0x00ff : 0x0001);
	put32(a + 12, h);
}

/* ---------------------------------------------------------------- */
/* Pass one: which flow sends each packet, and which packets break. */

/* Vose's alias method: O(1) per draw however many flows there are. */
static void
alias_build(struct gen *g)
{
	uint32_t n = g->o.nflows, i, ns = 0, nl = 0, s, l;
	uint32_t *small, *large;
	double *p, total = 0;

	p = g->alias_p = calloc(n, sizeof(double));
	g->alias_i = calloc(n, sizeof(uint32_t));
	small = calloc(n, sizeof(uint32_t));
	large = calloc(n, sizeof(uint32_t));
	if (!p || !g->alias_i || !small || !large)
		err(1, "alias table");
	for (i = 0; i < n; i++)
		total += p[i] = pow(i + 1.0, -g->o.zipf);
	for (i = 0; i < n; i++) {
		p[i] = p[i] * n / total;
		if (p[i] < 1)
			small[ns++] = i;
		else
			large[nl++] = i;
	}
	while (ns > 0 && nl > 0) {
		s = small[--ns];
		l = large[--nl];
		g->alias_i[s] = l;
		p[l] -= 1 - p[s];
		if (p[l] < 1)
			small[ns++] = l;
		else
			large[nl++] = l;
	}
	/* Leftovers are 1 up to rounding. */
	while (nl > 0)
		p[large[--nl]] = 1;
	while (ns > 0)
		p[small[--ns]] = 1;
	free(small);
	free(large);
}

static inline uint32_t
alias_draw(struct gen *g)
{
	uint32_t i = rng_below(&g->r, g->o.nflows);

	return rng_unit(&g->r) < g->alias_p[i] ? i : g->alias_i[i];
}

/* Scanner flows follow the regular ones, target-major: all scanners sweep
 * their targets side by side.  A quarter of the probes are retried. */
static uint64_t
scan_setup(struct gen *g)
{
	uint32_t j, k, id = g->o.nflows;
	uint64_t want = 0, budget = g->o.npkts;

	for (k = 0; k < g->o.fanout && g->o.nscan > 0; k++)
		for (j = 0; j < g->o.nscan; j++, id++) {
			scan_init(&g->o, &g->flows[id], j, k);
			g->flows[id].npkts = 1;
		}
	want = (uint64_t)g->o.nscan * g->o.fanout;
	for (id = g->o.nflows; id < g->nall && want < budget; id++)
		if (rng_unit(&g->r) < 0.25) {
			g->flows[id].npkts = 2;
			want++;
		}
	return want;
}

/*
 * Selection sampling merges the scanner sequence into the Zipf draws at
 * uniformly random places while keeping its order.
 */
static void
slots_build(struct gen *g)
{
	uint64_t n = g->o.npkts, k, scan_left;
	uint32_t cur = g->o.nflows, rep = 0, id;

	scan_left = scan_setup(g);
	for (k = 0; k < n; k++) {
		if (scan_left > 0 && rng_next(&g->r) % (n - k) < scan_left) {
			id = cur;
			if (++rep >= g->flows[cur].npkts) {
				cur++;
				rep = 0;
			}
			scan_left--;
		} else
			id = alias_draw(g);
		g->slots[k] = id;
	}
	/* Scanner npkts held the plan; recount below with the breakage. */
	for (id = g->o.nflows; id < g->nall; id++)
		g->flows[id].npkts = 0;
	for (k = 0; k < n; k++) {
		id = g->slots[k];
		if (g->o.malformed > 0 && rng_unit(&g->r) < g->o.malformed)
			g->slots[k] |= SLOT_BROKEN;
		else
			g->flows[id].npkts++;
	}
}

/* ---------------------------------------------------------------- */
/* Pass two, planning: direction, flags and sizes of the next packet. */

static uint32_t
ip_hdr_len(const struct flow *f, uint8_t ext)
{
	static const uint8_t extlen[16] = { 0, 8, 8, 16, 24, 32, 32, 40,
	    8, 16, 16, 24, 32, 40, 40, 48 };

	return f->ipver == 4 ? 20 : 40 + extlen[ext & 15];
}

/* Transport header length before any application bytes or pattern. */
static uint32_t
l4_base_len(const struct flow *f, const struct pkt *p)
{
	switch (f->proto) {
	case P_TCP: return p == NULL || p->tcpflags & 0x02 ? 28 : 20;
	case P_UDP: return 8;
	case P_ICMP: return 8;
	default: return 12 + 16;
	}
}

/* A packet of the given IP length: what is left for the payload. */
static uint32_t
fill_to(const struct flow *f, const struct pkt *p, uint32_t iplen)
{
	uint32_t hdr = ip_hdr_len(f, p->ext) + l4_base_len(f, p);

	return iplen > hdr ? iplen - hdr : 0;
}

/* IP lengths: 64-100 byte frames, about 576, or full 1500-byte MTU. */
static uint32_t
tcp_size(const struct flow *f, struct rng *r)
{
	switch (f->profile) {
	case PROF_SMALL: return rng_range(r, 50, 86);
	case PROF_MEDIUM: return rng_range(r, 540, 600);
	default: return rng_unit(r) < 0.85 ? 1500 : rng_range(r, 200, 1500);
	}
}

static void
plan_tcp(const struct flow *f, struct pkt *p, struct rng *r)
{
	uint32_t k = f->sent;

	if (f->scan || k == 0 || (k == 1 && p->dir == 1)) {
		p->tcpflags = k == 0 || f->scan ? 0x02 : 0x12;
		return;
	}
	if (k + 1 == f->npkts && k >= 2) {
		p->tcpflags = 0x11;
		return;
	}
	p->tcpflags = 0x10;
	/* The server sends the bulk; the client mostly acknowledges. */
	if (f->bidir && p->dir == 0 && f->profile == PROF_BULK &&
	    rng_unit(r) < 0.8)
		return;
	p->paylen = fill_to(f, p, tcp_size(f, r));
	if (p->paylen > 0 && rng_unit(r) < 0.4)
		p->tcpflags |= 0x08;
}

static void
plan_udp(const struct flow *f, struct pkt *p, struct rng *r)
{
	switch (f->app) {
	case APP_QUIC:
		p->paylen = f->sent < 2 || rng_unit(r) < 0.6 ?
		    rng_range(r, 1200, 1350) : rng_range(r, 30, 200);
		break;
	case APP_SYSLOG:
		p->paylen = rng_range(r, 60, 400) & ~1u;
		break;
	default:
		/* DNS and NTP messages are built whole, without pattern. */
		break;
	}
}

static void
plan_sctp(const struct flow *f, struct pkt *p, struct rng *r)
{
	/* INIT and INIT ACK open the association; the rest is DATA. */
	if (f->scan || f->sent == 0 || (f->sent == 1 && p->dir == 1))
		return;
	p->paylen = (f->app == APP_DIAMETER ? rng_range(r, 100, 700) :
	    rng_range(r, 40, 300)) & ~3u;
}

static int
plan_dir(const struct flow *f, struct rng *r)
{
	if (!f->bidir || f->scan || f->sent == 0)
		return 0;
	if (f->sent == 1)
		return 1;
	if (f->proto == P_TCP && f->sent + 1 == f->npkts)
		return 0;
	return rng_unit(r) < 0.5;
}

/*
 * Drop extension headers from the end of the chain until the transport
 * header fits the snaplen: a header-only capture should still show ports.
 */
static uint8_t
ext_fit(const struct gen *g, const struct flow *f, uint8_t ext)
{
	uint32_t link = g->o.dlt == DLT_EN10MB ? 14 + 4 * f->ntags : 0;

	if (g->o.snaplen == 0)
		return ext;
	while (ext != 0 && link + ip_hdr_len(f, ext) + l4_base_len(f, NULL) >
	    g->o.snaplen)
		ext &= ~(1u << (31 - __builtin_clz(ext)));
	return ext;
}

static void
plan_packet(struct gen *g, const struct flow *f, struct pkt *p)
{
	struct rng *r = &g->r;

	memset(p, 0, sizeof(*p));
	p->dir = plan_dir(f, r);
	/* Decide the extension headers first: payload sizes depend on them. */
	if (f->ipver == 6 && g->o.ext6 > 0 && rng_unit(r) < g->o.ext6)
		p->ext = ext_fit(g, f, rng_range(r, 1, 15));
	switch (f->proto) {
	case P_TCP: plan_tcp(f, p, r); break;
	case P_UDP: plan_udp(f, p, r); break;
	case P_ICMP:
		p->paylen = (f->hash & 1) ? 56 : 32;
		break;
	default: plan_sctp(f, p, r); break;
	}
	p->pat = (f->hash + f->sent * 38) % PAT_LEN & ~1u;
}

/* ---------------------------------------------------------------- */
/* Pass two, layout: transport headers and application messages. */

static uint32_t
put_tcp(const struct flow *f, const struct pkt *p, uint8_t *h)
{
	uint32_t len = p->tcpflags & 0x02 ? 28 : 20;
	int d = p->dir;

	put16(h, d ? f->dport : f->sport);
	put16(h + 2, d ? f->sport : f->dport);
	put32(h + 4, f->seq[d]);
	put32(h + 8, p->tcpflags & 0x10 ? f->seq[!d] : 0);
	h[12] = (len / 4) << 4;
	h[13] = p->tcpflags;
	put16(h + 14, f->scan ? 1024 : 64240);
	put32(h + 16, 0);
	if (len == 28) {
		/* MSS, NOP, NOP, SACK permitted: what a SYN usually says. */
		static const uint8_t opt[8] = { 2, 4, 0, 0, 1, 1, 4, 2 };

		memcpy(h + 20, opt, 8);
		put16(h + 22, f->ipver == 4 ? 1460 : 1440);
	}
	return len;
}

/* A query for hNNNN.example.com (A or AAAA), or its one-record answer. */
static uint32_t
put_dns(const struct flow *f, const struct pkt *p, uint8_t *m)
{
	static const char *zone[] = { "\007example\003com", "\007example\003net",
	    "\007example\003org" };
	uint32_t n = 12, name, qtype = f->hash & 4 ? 28 : 1;
	/* seq[0] counts queries; an answer goes with the latest one. */
	uint32_t q = p->dir ? f->seq[0] - 1 : f->seq[0];
	int labl = 4 + f->hash % 9 + q % 4;

	memset(m, 0, 12);
	put16(m, f->hash + q);
	put16(m + 2, p->dir ? 0x8180 : 0x0100);
	put16(m + 4, 1);
	put16(m + 6, p->dir);
	name = n;
	m[n++] = labl;
	m[n++] = 'h';
	snprintf((char *)m + n, labl, "%0*x", labl - 1,
	    (f->cli + q / 2) & 0x7fffffff);
	n += labl - 1;
	strcpy((char *)m + n, zone[f->hash % 3]);
	n += strlen(zone[f->hash % 3]) + 1;
	put16(m + n, qtype);
	put16(m + n + 2, 1);
	n += 4;
	if (p->dir == 0)
		return n;
	put16(m + n, 0xc000 | name);
	put16(m + n + 2, qtype);
	put16(m + n + 4, 1);
	put32(m + n + 6, 300);
	put16(m + n + 10, qtype == 1 ? 4 : 16);
	n += 12;
	memset(m + n, 0, qtype == 1 ? 4 : 16);
	if (qtype == 1)
		put32(m + n, 0xc6336400 | (f->hash & 0xff));
	else {
		put32(m + n, 0x20010db8);
		m[n + 15] = f->hash & 0xff;
	}
	return n + (qtype == 1 ? 4 : 16);
}

/* NTPv4 client request (mode 3) or server reply (mode 4). */
static uint32_t
put_ntp(const struct flow *f, const struct pkt *p, uint32_t start, uint8_t *m)
{
	/* NTP counts seconds from 1900, 2208988800 before the UNIX epoch. */
	uint32_t ntpsec = start + 2208988800u + f->sent;

	memset(m, 0, 48);
	m[0] = p->dir ? 0x24 : 0x23;
	m[1] = p->dir ? 2 : 0;
	m[2] = 6;
	m[3] = 0xe9;
	if (p->dir) {
		put32(m + 12, 0xc0000201);
		put32(m + 16, ntpsec - 64);
		put32(m + 32, ntpsec);
	}
	put32(m + 40, ntpsec);
	put32(m + 44, f->hash);
	return 48;
}

static uint32_t
put_udp(const struct gen *g, const struct flow *f, const struct pkt *p,
    uint8_t *h)
{
	uint32_t n = 8;

	put16(h, p->dir ? f->dport : f->sport);
	put16(h + 2, p->dir ? f->sport : f->dport);
	if (f->app == APP_DNS)
		n += put_dns(f, p, h + 8);
	else if (f->app == APP_NTP)
		n += put_ntp(f, p, g->o.start, h + 8);
	else if (f->app == APP_SYSLOG) {
		memcpy(h + 8, "<14>", 4);
		n += 4;
	}
	put16(h + 4, n + p->paylen);
	put16(h + 6, 0);
	return n;
}

static uint32_t
put_icmp(const struct flow *f, const struct pkt *p, uint8_t *h)
{
	if (f->ipver == 4)
		h[0] = p->dir ? 0 : 8;
	else
		h[0] = p->dir ? 129 : 128;
	h[1] = 0;
	put16(h + 2, 0);
	put16(h + 4, f->hash >> 8);
	/* A reply echoes the sequence of the request it answers. */
	put16(h + 6, p->dir ? f->seq[0] - 1 : f->seq[0]);
	return 8;
}

static uint32_t
put_sctp(const struct flow *f, const struct pkt *p, uint8_t *h)
{
	uint32_t vtag = f->hash ^ (p->dir ? 0x5a5a5a5a : 0);
	uint8_t *c = h + 12;

	put16(h, p->dir ? f->dport : f->sport);
	put16(h + 2, p->dir ? f->sport : f->dport);
	put32(h + 4, vtag);
	put32(h + 8, 0);
	if (p->paylen > 0) {
		c[0] = 0;			/* DATA, unfragmented */
		c[1] = 0x03;
		put16(c + 2, 16 + p->paylen);
		put32(c + 4, f->seq[p->dir]);
		put32(c + 8, 0);		/* stream 0, sequence 0 */
		put32(c + 12, 0);		/* no payload protocol id */
		return 28;
	}
	/* INIT (verification tag 0) or INIT ACK with a state cookie. */
	if (p->dir == 0)
		put32(h + 4, 0);
	c[0] = p->dir ? 2 : 1;
	c[1] = 0;
	put16(c + 2, p->dir ? 32 : 20);
	put32(c + 4, f->hash ^ (p->dir ? 0 : 0x5a5a5a5a));
	put32(c + 8, 65536);
	put16(c + 12, 10);
	put16(c + 14, 10);
	put32(c + 16, f->seq[p->dir]);
	if (!p->dir)
		return 32;
	put16(c + 20, 7);
	put16(c + 22, 12);
	put32(c + 24, f->hash);
	put32(c + 28, ~f->hash);
	return 44;
}

static uint32_t
put_l4(const struct gen *g, const struct flow *f, const struct pkt *p,
    uint8_t *h)
{
	switch (f->proto) {
	case P_TCP: return put_tcp(f, p, h);
	case P_UDP: return put_udp(g, f, p, h);
	case P_ICMP: return put_icmp(f, p, h);
	default: return put_sctp(f, p, h);
	}
}

/* Checksum over the pseudo header, the built bytes and the pattern. */
static void
l4_checksum(const struct flow *f, const struct pkt *p, uint8_t *h,
    uint32_t hlen, const uint8_t src[16], const uint8_t dst[16])
{
	uint32_t len = hlen + p->paylen, alen = f->ipver == 4 ? 4 : 16;
	uint8_t proto = proto_num[f->proto];
	uint64_t sum = 0;
	uint16_t c;

	if (f->proto == P_SCTP) {
		uint32_t crc = crc32c(0xffffffff, h, hlen);

		crc = ~crc32c(crc, pat + p->pat, p->paylen);
		/* CRC32c goes on the wire least significant byte first. */
		h[8] = crc;
		h[9] = crc >> 8;
		h[10] = crc >> 16;
		h[11] = crc >> 24;
		return;
	}
	if (f->proto == P_ICMP && f->ipver == 6)
		proto = 58;
	if (f->proto != P_ICMP || f->ipver == 6)
		sum = csum_add(csum_add(len + proto, src, alen), dst, alen);
	sum += csum_add(0, h, hlen) + pattern_csum(p->pat, p->paylen);
	c = csum_fold(sum);
	/* UDP sends a computed zero as all ones; zero means "none". */
	if (f->proto == P_UDP && c == 0)
		c = 0xffff;
	put16(h + (f->proto == P_TCP ? 16 : f->proto == P_UDP ? 6 : 2), c);
}

/* ---------------------------------------------------------------- */
/* Pass two, layout: IP, extension headers and link layer. */

static void
put_ipv4(const struct flow *f, uint8_t *ip, uint32_t iplen, uint16_t id,
    uint16_t fragfield, const uint8_t src[16], const uint8_t dst[16],
    int dir)
{
	ip[0] = 0x45;
	ip[1] = f->tos;
	put16(ip + 2, iplen);
	put16(ip + 4, id);
	put16(ip + 6, fragfield);
	ip[8] = dir ? 57 : 64;
	ip[9] = proto_num[f->proto];
	put16(ip + 10, 0);
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
}

/* Extension headers; returns the first next-header value of the chain. */
static uint8_t
put_ext6(uint8_t ext, uint8_t last, uint8_t *e, const uint8_t dst[16],
    uint32_t id)
{
	static const uint8_t type[4] = { 0, 60, 43, 44 };
	uint8_t *hdr[4] = { NULL }, first = last;
	int i, prev = -1;

	for (i = 0; i < 4; i++) {
		if (!(ext & (1 << i)))
			continue;
		hdr[i] = e;
		memset(e, 0, 8);
		if (i < 2) {
			e[2] = 1;		/* PadN of four bytes */
			e[3] = 4;
		} else if (i == 2) {
			/* Segment routing header, one segment: the dst. */
			e[1] = 2;
			e[2] = 4;
			memcpy(e + 8, dst, 16);
			e += 16;
		} else
			put32(e + 4, id);	/* atomic fragment */
		e += 8;
		if (prev < 0)
			first = type[i];
		else
			hdr[prev][0] = type[i];
		prev = i;
	}
	if (prev >= 0)
		hdr[prev][0] = last;
	return first;
}

static void
put_ipv6(const struct flow *f, const struct pkt *p, uint8_t *ip,
    uint32_t paylen, const uint8_t src[16], const uint8_t dst[16])
{
	uint8_t last = f->proto == P_ICMP ? 58 : proto_num[f->proto];

	put32(ip, 6u << 28 | (uint32_t)f->tos << 20 | (f->hash & 0xfffff));
	put16(ip + 4, paylen);
	ip[6] = put_ext6(p->ext, last, ip + 40, dst, f->hash + f->sent);
	ip[7] = p->dir ? 57 : 64;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
}

/* Ethernet header with its tags; returns the offset of the IP header. */
static uint32_t
put_link(const struct gen *g, const struct flow *f, int dir, uint8_t *b)
{
	uint32_t off = 12, i;

	if (g->o.dlt != DLT_EN10MB)
		return 0;
	/* Locally administered MACs named after the client and server. */
	b[0] = b[6] = 0x02;
	b[1] = b[7] = 0x00;
	put32(b + (dir ? 8 : 2), f->cli);
	put32(b + (dir ? 2 : 8), f->srv | 0x01000000);
	for (i = 0; i < f->ntags; i++, off += 4) {
		put16(b + off, f->ntags == 2 && i == 0 ? 0x88a8 : 0x8100);
		put16(b + off + 2, f->vlan[i]);
	}
	put16(b + off, f->ipver == 4 ? 0x0800 : 0x86dd);
	return off + 2;
}

/* Where the IPv4 packet splits: 8-byte aligned, after the L4 header. */
static uint32_t
frag_split(uint32_t hlen, uint32_t l4len)
{
	uint32_t split = (l4len / 2) & ~7u;

	if (split < hlen)
		split = (hlen + 7) & ~7u;
	return split < l4len ? split : 0;
}

/*
 * Lays out the packet in g->buf and returns its wire length.  The pattern
 * is copied only as far as the capture keeps it.
 */
static uint32_t
build_frame(struct gen *g, struct flow *f, struct pkt *p, uint32_t *caplen)
{
	struct layout *L = &g->lay;
	uint8_t src[16], dst[16], *b = g->buf;
	uint32_t ippay, wire, end, n;

	flow_addr(f, p->dir, src);
	flow_addr(f, !p->dir, dst);
	L->ip = put_link(g, f, p->dir, b);
	L->iphl = ip_hdr_len(f, p->ext);
	L->exthl = L->iphl - (f->ipver == 4 ? 20 : 40);
	L->l4 = L->ip + L->iphl;
	L->hlen = put_l4(g, f, p, b + L->l4);
	L->l4len = L->hlen + p->paylen;
	l4_checksum(f, p, b + L->l4, L->hlen, src, dst);
	ippay = L->l4len;
	if (p->frag && (ippay = frag_split(L->hlen, L->l4len)) == 0) {
		p->frag = 0;
		ippay = L->l4len;
	}
	if (f->ipver == 4)
		put_ipv4(f, b + L->ip, 20 + ippay, f->ipid,
		    p->frag ? 0x2000 : f->proto == P_TCP ? 0x4000 : 0,
		    src, dst, p->dir);
	else
		put_ipv6(f, p, b + L->ip, L->exthl + ippay, src, dst);
	end = L->l4 + ippay;
	wire = end;
	if (g->o.dlt == DLT_EN10MB && wire < ETH_MIN)
		wire = ETH_MIN;
	*caplen = g->o.snaplen && g->o.snaplen < wire ? g->o.snaplen : wire;
	if (*caplen > L->l4 + L->hlen) {
		n = (end < *caplen ? end : *caplen) - (L->l4 + L->hlen);
		memcpy(b + L->l4 + L->hlen, pat + p->pat, n);
	}
	if (*caplen > end)
		memset(b + end, 0, *caplen - end);
	return wire;
}

/* ---------------------------------------------------------------- */
/* Pass two: writing. */

/* Even spread with jitter inside each slot: monotonic, yet not rigid. */
static uint64_t
slot_time(struct gen *g, uint64_t k)
{
	uint64_t span = (uint64_t)(g->o.duration * 1e9);
	unsigned __int128 t;

	t = (unsigned __int128)span * (k * 1024 + rng_below(&g->r, 1024)) /
	    (g->o.npkts * 1024);
	return (uint64_t)g->o.start * 1000000000ULL + (uint64_t)t;
}

static void
write_frame(struct gen *g, uint64_t ts, uint32_t wire, uint32_t caplen)
{
	struct pcap_pkthdr h;

	h.ts.tv_sec = ts / 1000000000ULL;
	h.ts.tv_usec = ts % 1000000000ULL;
	if (!g->o.nsec)
		h.ts.tv_usec /= 1000;
	h.caplen = caplen;
	h.len = wire;
	pcap_dump((u_char *)g->dump, &h, g->buf);
	g->frames++;
	g->bytes += wire;
}

static void
flow_commit(struct gen *g, struct flow *f, const struct pkt *p,
    uint32_t wire)
{
	f->pkts[p->dir]++;
	f->bytes[p->dir] += wire;
	f->sent++;
	f->ipid++;
	switch (f->proto) {
	case P_TCP:
		f->seq[p->dir] += p->paylen + !!(p->tcpflags & 0x03);
		break;
	case P_UDP:
	case P_ICMP:
		f->seq[p->dir] += 1;
		break;
	case P_SCTP:
		f->seq[p->dir] += p->paylen > 0;
		break;
	}
	if (p->ext)
		g->ext6++;
}

/* The second fragment: the rest of the segment, pattern bytes only. */
static void
emit_frag2(struct gen *g, struct flow *f, uint64_t ts)
{
	uint8_t src[16], dst[16], *b = g->buf;
	uint32_t ip, wire, caplen, end;

	flow_addr(f, f->frag_dir, src);
	flow_addr(f, !f->frag_dir, dst);
	ip = put_link(g, f, f->frag_dir, b);
	put_ipv4(f, b + ip, 20 + f->frag_len, f->frag_id, f->frag_off / 8,
	    src, dst, f->frag_dir);
	end = ip + 20 + f->frag_len;
	wire = g->o.dlt == DLT_EN10MB && end < ETH_MIN ? ETH_MIN : end;
	caplen = g->o.snaplen && g->o.snaplen < wire ? g->o.snaplen : wire;
	if (caplen > ip + 20)
		memcpy(b + ip + 20, pat + f->frag_pat,
		    (end < caplen ? end : caplen) - (ip + 20));
	if (caplen > end)
		memset(b + end, 0, caplen - end);
	write_frame(g, ts, wire, caplen);
	f->frag_pending = 0;
	f->pkts[f->frag_dir]++;
	f->bytes[f->frag_dir] += wire;
	f->sent++;
}

/*
 * A fragment pair needs room for its second half (and TCP's FIN).  SCTP
 * is left whole: it sizes its own chunks to the path MTU, and a chunk cut
 * by fragmentation reads as malformed to dissectors that do not reassemble.
 */
static int
may_fragment(const struct gen *g, const struct flow *f)
{
	uint32_t room = f->proto == P_TCP ? 3 : 2;

	return f->ipver == 4 && !f->scan && f->proto != P_SCTP &&
	    g->o.frag > 0 && f->sent + room <= f->npkts;
}

static void
emit_packet(struct gen *g, struct flow *f, uint64_t ts)
{
	struct pkt p;
	uint32_t wire, caplen;

	if (f->frag_pending) {
		emit_frag2(g, f, ts);
		return;
	}
	plan_packet(g, f, &p);
	if (may_fragment(g, f) && rng_unit(&g->r) < g->o.frag)
		p.frag = 1;
	wire = build_frame(g, f, &p, &caplen);
	write_frame(g, ts, wire, caplen);
	if (p.frag) {
		f->frag_pending = 1;
		f->frag_dir = p.dir;
		f->frag_id = f->ipid;
		f->frag_off = frag_split(g->lay.hlen, g->lay.l4len);
		f->frag_len = g->lay.l4len - f->frag_off;
		f->frag_pat = p.pat + f->frag_off - g->lay.hlen;
		g->frags++;
	}
	flow_commit(g, f, &p, wire);
}

/* ---------------------------------------------------------------- */
/* Malformed packets: a sound packet first, then one thing broken. */

static int
pick_breakage(struct gen *g, const struct flow *f)
{
	int kinds[5], n = 0;

	kinds[n++] = BAD_TRUNC_IP;
	kinds[n++] = BAD_VERSION;
	if (f->ipver == 4)
		kinds[n++] = BAD_IHL;
	else
		kinds[n++] = BAD_EXT_CHAIN;
	if (f->proto == P_TCP)
		kinds[n++] = BAD_TRUNC_TCP;
	return kinds[rng_below(&g->r, n)];
}

/* Cut the frame (really short on the wire, not just captured short). */
static uint32_t
cut_frame(struct gen *g, uint32_t at, uint32_t *caplen)
{
	*caplen = g->o.snaplen && g->o.snaplen < at ? g->o.snaplen : at;
	return at;
}

static uint32_t
apply_breakage(struct gen *g, const struct flow *f, int kind,
    uint32_t wire, uint32_t *caplen)
{
	static const uint8_t badver[] = { 0, 1, 5, 7, 9, 15 };
	struct layout *L = &g->lay;
	uint8_t *ip = g->buf + L->ip;
	uint32_t n;

	switch (kind) {
	case BAD_TRUNC_IP:
		n = f->ipver == 4 ? rng_range(&g->r, 1, 19) :
		    rng_range(&g->r, 1, 39);
		return cut_frame(g, L->ip + n, caplen);
	case BAD_VERSION:
		ip[0] = (ip[0] & 0x0f) | badver[rng_below(&g->r, 6)] << 4;
		return wire;
	case BAD_IHL:
		ip[0] = 0x40 | rng_below(&g->r, 5);
		break;
	case BAD_EXT_CHAIN:
		n = rng_range(&g->r, 1, L->exthl - 1);
		return cut_frame(g, L->ip + 40 + n, caplen);
	default:
		/* The IP length agrees; only the TCP header is cut short. */
		n = rng_range(&g->r, 1, 19);
		if (f->ipver == 4)
			put16(ip + 2, L->iphl + n);
		else
			put16(ip + 4, L->exthl + n);
		wire = cut_frame(g, L->l4 + n, caplen);
		break;
	}
	if (f->ipver == 4) {
		put16(ip + 10, 0);
		put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	}
	return wire;
}

/*
 * Planned on a copy of the flow: a broken packet leaves no trace in the
 * flow's state, its fragments or the truth.
 */
static void
emit_malformed(struct gen *g, const struct flow *f, uint64_t ts)
{
	struct flow tmp = *f;
	struct pkt p;
	uint32_t wire, caplen;
	int kind;

	tmp.frag_pending = 0;
	kind = pick_breakage(g, &tmp);
	plan_packet(g, &tmp, &p);
	if (kind == BAD_EXT_CHAIN && p.ext == 0)
		p.ext = EXT_HOP | EXT_RT;
	wire = build_frame(g, &tmp, &p, &caplen);
	wire = apply_breakage(g, &tmp, kind, wire, &caplen);
	write_frame(g, ts, wire, caplen);
	g->broken++;
}

static void
generate(struct gen *g)
{
	uint64_t k;
	uint32_t s;

	for (k = 0; k < g->o.npkts; k++) {
		uint64_t ts = slot_time(g, k);

		s = g->slots[k];
		if (s & SLOT_BROKEN)
			emit_malformed(g, &g->flows[s & ~SLOT_BROKEN], ts);
		else
			emit_packet(g, &g->flows[s], ts);
	}
}

/* ---------------------------------------------------------------- */
/* Output files and the summary. */

static const char *
proto_name(const struct flow *f)
{
	static const char *names[P_N] = { "tcp", "udp", "icmp", "sctp" };

	return f->proto == P_ICMP && f->ipver == 6 ? "icmpv6" :
	    names[f->proto];
}

static void
truth_line(FILE *fp, const struct flow *f, int dir)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	uint8_t a[16], b[16];
	int af = f->ipver == 4 ? AF_INET : AF_INET6;
	int ports = f->proto != P_ICMP;

	flow_addr(f, dir, a);
	flow_addr(f, !dir, b);
	inet_ntop(af, a, s, sizeof(s));
	inet_ntop(af, b, d, sizeof(d));
	fprintf(fp, "%s %s %s %u %u %" PRIu32 " %" PRIu64 "\n",
	    proto_name(f), s, d,
	    ports ? (dir ? f->dport : f->sport) : 0,
	    ports ? (dir ? f->sport : f->dport) : 0,
	    f->pkts[dir], f->bytes[dir]);
}

/* One line per flow and direction that sent a sound packet. */
static uint64_t
truth_write(const struct gen *g)
{
	FILE *fp = NULL;
	uint64_t lines = 0;
	uint32_t i;
	int d;

	if (g->o.truth && (fp = fopen(g->o.truth, "w")) == NULL)
		err(1, "%s", g->o.truth);
	for (i = 0; i < g->nall; i++)
		for (d = 0; d < 2; d++) {
			if (g->flows[i].pkts[d] == 0)
				continue;
			lines++;
			if (fp)
				truth_line(fp, &g->flows[i], d);
		}
	if (fp && (ferror(fp) | fclose(fp)))
		err(1, "%s", g->o.truth);
	return lines;
}

static void
output_open(struct gen *g)
{
	int prec = g->o.nsec ? PCAP_TSTAMP_PRECISION_NANO :
	    PCAP_TSTAMP_PRECISION_MICRO;
	pcap_t *p;
	FILE *fp;

	p = g->pcap = pcap_open_dead_with_tstamp_precision(g->o.dlt,
	    g->o.snaplen ? g->o.snaplen : 262144, prec);
	if (p == NULL)
		errx(1, "pcap_open_dead failed");
	if (strcmp(g->o.out, "-") == 0)
		fp = stdout;
	else if ((fp = fopen(g->o.out, "wb")) == NULL)
		err(1, "%s", g->o.out);
	/* Big stdio buffer: pcap_dump does two small fwrites per packet. */
	setvbuf(fp, NULL, _IOFBF, 1 << 20);
	if ((g->dump = pcap_dump_fopen(p, fp)) == NULL)
		errx(1, "%s: %s", g->o.out, pcap_geterr(p));
}

static void
output_close(struct gen *g)
{
	if (pcap_dump_flush(g->dump) == -1)
		err(1, "%s", g->o.out);
	pcap_dump_close(g->dump);
	pcap_close(g->pcap);
}

static void
gen_init(struct gen *g, int argc, char **argv)
{
	uint64_t nscanflows;

	opts_parse(&g->o, argc, argv);
	nscanflows = (uint64_t)g->o.nscan * g->o.fanout;
	if (g->o.nflows + nscanflows >= SLOT_BROKEN)
		errx(2, "too many flows");
	g->nall = g->o.nflows + nscanflows;
	g->flows = calloc(g->nall, sizeof(*g->flows));
	g->slots = calloc(g->o.npkts, sizeof(*g->slots));
	if (g->flows == NULL || g->slots == NULL)
		err(1, "calloc");
	pattern_init();
	crc32c_init();
	rng_seed(&g->r, g->o.seed, 1);
}

int
main(int argc, char **argv)
{
	static struct gen g;
	uint32_t i;
	uint64_t lines;

	gen_init(&g, argc, argv);
	for (i = 0; i < g.o.nflows; i++)
		flow_init(&g.o, &g.flows[i], i);
	alias_build(&g);
	slots_build(&g);
	free(g.alias_p);
	free(g.alias_i);
	output_open(&g);
	generate(&g);
	output_close(&g);
	lines = truth_write(&g);
	fprintf(stderr, "pcapgen: packets %" PRIu64 ", flows %" PRIu64
	    ", bytes %" PRIu64 ", fragmented %" PRIu64 ", ext6 %" PRIu64
	    ", malformed %" PRIu64 "\n", g.frames, lines, g.bytes, g.frags,
	    g.ext6, g.broken);
	return 0;
}
