/*
 * test_parse.c -- unit tests of the packet parser (src/parse.c): every link
 * type, VLAN stacks, IPv4 options and fragments, IPv6 extension headers,
 * every transport, each malformed-packet reason, and the symmetric hash.
 *
 * Each packet is handed to the parser in a heap buffer of exactly caplen
 * bytes, so that under AddressSanitizer a read past caplen is a failure.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* ------------------------------------------------------------- helpers */

struct pkt {
	uint8_t b[1024];
	size_t len;
};

static void
put(struct pkt *p, const void *bytes, size_t n)
{
	cr_assert_leq(p->len + n, sizeof(p->b));
	memcpy(p->b + p->len, bytes, n);
	p->len += n;
}

#define PUT(p, ...) do {						\
	static const uint8_t b_[] = { __VA_ARGS__ };			\
	put((p), b_, sizeof(b_));					\
} while (0)

/* Parse the first caplen bytes of p, from a buffer of exactly that size. */
static enum ns_parse_result
parse_n(int dlt, const struct pkt *p, size_t caplen, struct ns_record *rec)
{
	uint8_t *copy = malloc(caplen ? caplen : 1);
	enum ns_parse_result r;

	cr_assert_not_null(copy);
	memcpy(copy, p->b, caplen);
	r = ns_parse_packet(dlt, copy, (uint32_t)caplen, (uint32_t)p->len,
	    1700000000123456789ull, rec);
	free(copy);
	return r;
}

static enum ns_parse_result
parse(int dlt, const struct pkt *p, struct ns_record *rec)
{
	return parse_n(dlt, p, p->len, rec);
}

static void
assert_addr(const uint8_t a[16], const char *text)
{
	uint8_t want[16];

	if (strchr(text, ':') == NULL) {
		memset(want, 0, 10);
		want[10] = want[11] = 0xff;
		cr_assert_eq(inet_pton(AF_INET, text, want + 12), 1);
	} else
		cr_assert_eq(inet_pton(AF_INET6, text, want), 1);
	cr_assert(memcmp(a, want, 16) == 0, "address is not %s", text);
}

static void
assert_flow(const struct ns_record *r, const char *src, const char *dst,
    unsigned sport, unsigned dport, unsigned proto)
{
	assert_addr(r->src, src);
	assert_addr(r->dst, dst);
	cr_assert_eq(r->sport, sport, "sport %u, want %u", r->sport, sport);
	cr_assert_eq(r->dport, dport, "dport %u, want %u", r->dport, dport);
	cr_assert_eq(r->proto, proto, "proto %u, want %u", r->proto, proto);
	cr_assert_eq(r->ipver, strchr(src, ':') ? 6 : 4);
}

/* ---- network-layer packets ---- */

/* IPv4 10.0.0.1:12345 -> 10.0.0.2:80 TCP SYN|ECE, DSCP 46 (EF), 4 bytes
 * of payload. */
static void
ip4_tcp(struct pkt *p)
{
	PUT(p, 0x45, 0xb8, 0x00, 0x2c,	/* v4, ihl 5, tos 0xb8, total 44 */
	    0x12, 0x34, 0x40, 0x00,	/* id, DF */
	    0x40, 0x06, 0x00, 0x00,	/* ttl, TCP, checksum */
	    10, 0, 0, 1, 10, 0, 0, 2,
	    0x30, 0x39, 0x00, 0x50,	/* 12345 -> 80 */
	    0, 0, 0, 1, 0, 0, 0, 0,	/* seq, ack */
	    0x50, 0x42, 0xff, 0xff,	/* doff 5, ECE|SYN, window */
	    0, 0, 0, 0,			/* checksum, urgent */
	    'd', 'a', 't', 'a');
}

/* IPv4 192.0.2.1:5353 -> 192.0.2.2:53 UDP, 4 bytes of payload. */
static void
ip4_udp(struct pkt *p)
{
	PUT(p, 0x45, 0x00, 0x00, 0x20, 0, 1, 0, 0, 64, 17, 0, 0,
	    192, 0, 2, 1, 192, 0, 2, 2,
	    0x14, 0xe9, 0x00, 0x35, 0x00, 0x0c, 0, 0,
	    'q', 'u', 'e', 'r');
}

/* IPv6 2001:db8::1 -> 2001:db8::2 with hop-by-hop, destination options,
 * a segment routing header and a first fragment, then TCP 443 -> 40000
 * ACK|PSH, traffic class 0xb8. */
static void
ip6_chain_tcp(struct pkt *p)
{
	PUT(p, 0x6b, 0x80, 0x00, 0x00,	/* v6, tc 0xb8 */
	    0x00, 0x44, 0x00, 0x40,	/* plen 68, next HBH, hop limit */
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
	    /* hop-by-hop: next dstopts, len 0, PadN */
	    60, 0, 1, 4, 0, 0, 0, 0,
	    /* destination options: next routing */
	    43, 0, 1, 4, 0, 0, 0, 0,
	    /* routing (SRH, type 4): next fragment, 24 bytes */
	    44, 2, 4, 0, 0, 0, 0, 0,
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
	    /* fragment: next TCP, offset 0, M set */
	    6, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef,
	    /* TCP */
	    0x01, 0xbb, 0x9c, 0x40, 0, 0, 0, 1, 0, 0, 0, 2,
	    0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0);
}

/* IPv6 fe80::1 -> ff02::fb UDP 5353 -> 5353, no extension headers. */
static void
ip6_udp(struct pkt *p)
{
	PUT(p, 0x60, 0, 0, 0, 0x00, 0x0c, 17, 255,
	    0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	    0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfb,
	    0x14, 0xe9, 0x14, 0xe9, 0x00, 0x0c, 0, 0, 'm', 'd', 'n', 's');
}

/* IPv4 SCTP 10.1.1.1:2905 -> 10.1.1.2:2906 (common header only). */
static void
ip4_sctp(struct pkt *p)
{
	PUT(p, 0x45, 0, 0, 32, 0, 0, 0, 0, 64, 132, 0, 0,
	    10, 1, 1, 1, 10, 1, 1, 2,
	    0x0b, 0x59, 0x0b, 0x5a, 0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 0);
}

/* ---- link-layer headers ---- */

static void
eth(struct pkt *p, uint16_t type)
{
	PUT(p, 0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1);
	put(p, (uint8_t[]){ type >> 8, type & 0xff }, 2);
}

static void
vlan_tag(struct pkt *p, uint16_t tci, uint16_t inner)
{
	put(p, (uint8_t[]){ tci >> 8, tci & 0xff, inner >> 8, inner & 0xff }, 4);
}

static void
sll(struct pkt *p, uint16_t proto)
{
	PUT(p, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06,	/* to us, ARPHRD_ETHER */
	    0x02, 0, 0, 0, 0, 1, 0, 0);
	put(p, (uint8_t[]){ proto >> 8, proto & 0xff }, 2);
}

static void
sll2(struct pkt *p, uint16_t proto)
{
	put(p, (uint8_t[]){ proto >> 8, proto & 0xff }, 2);
	PUT(p, 0, 0, 0, 0, 0, 2,	/* reserved, ifindex 2 */
	    0x00, 0x01, 0x00, 0x06,	/* ARPHRD_ETHER, to us, addr len */
	    0x02, 0, 0, 0, 0, 1, 0, 0);
}

static void
null_hdr(struct pkt *p, uint32_t af, int bigendian)
{
	uint8_t b[4];

	if (bigendian) {
		b[0] = af >> 24; b[1] = af >> 16; b[2] = af >> 8; b[3] = af;
	} else {
		b[3] = af >> 24; b[2] = af >> 16; b[1] = af >> 8; b[0] = af;
	}
	put(p, b, 4);
}

/*
 * Cut the packet at every shorter length: the parser must not crash or read
 * past caplen (ASan), must call it malformed, or -- when only a payload was
 * cut -- give exactly the record of the whole packet.  Returns the shortest
 * caplen that parsed.
 */
static size_t
check_prefixes(int dlt, const struct pkt *p)
{
	struct ns_record full, rec;
	size_t shortest = p->len;

	cr_assert_eq(parse(dlt, p, &full), NS_PARSE_OK);
	for (size_t c = p->len; c-- > 0; ) {
		enum ns_parse_result r = parse_n(dlt, p, c, &rec);

		if (r == NS_PARSE_OK) {
			cr_assert(memcmp(&rec, &full, sizeof(rec)) == 0,
			    "caplen %zu parsed to a different record", c);
			cr_assert_eq(shortest, c + 1, "OK after an error at %zu", c);
			shortest = c;
		} else
			cr_assert(ns_parse_is_error(r), "caplen %zu gave %s", c,
			    ns_parse_reason_name(r));
	}
	return shortest;
}

/* --------------------------------------------------------- link types */

Test(link, ethernet_ipv4_tcp)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	eth(&p, 0x0800);
	ip4_tcp(&p);
	cr_assert_eq(parse(DLT_EN10MB, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "10.0.0.1", "10.0.0.2", 12345, 80, 6);
	cr_assert_eq(r.tcp_flags, NS_TCP_SYN | NS_TCP_ECE);
	cr_assert_eq(r.dscp, 46);
	cr_assert_eq(r.vlan, 0);
	cr_assert_eq(r.wire_len, p.len);
	cr_assert_eq(r.ts_ns, 1700000000123456789ull);
	cr_assert_eq(r.kind, NS_REC_PACKET);
	cr_assert_eq(r.input, 0);
	cr_assert_eq(r.hash, 0);	/* made only to pick a worker */
	/* Ethernet 14 + IPv4 20 + the 14 TCP bytes read. */
	cr_assert_eq(check_prefixes(DLT_EN10MB, &p), 48);
}

Test(link, ethernet_ipv6)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	eth(&p, 0x86dd);
	ip6_chain_tcp(&p);
	cr_assert_eq(parse(DLT_EN10MB, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "2001:db8::1", "2001:db8::2", 443, 40000, 6);
	cr_assert_eq(r.dscp, 46);
	cr_assert_eq(r.tcp_flags, NS_TCP_ACK | NS_TCP_PSH);
	cr_assert_eq(check_prefixes(DLT_EN10MB, &p), 14 + 40 + 48 + 14);
}

Test(link, raw)
{
	struct pkt p4 = { .len = 0 }, p6 = { .len = 0 };
	struct ns_record r;

	ip4_udp(&p4);
	ip6_udp(&p6);
	cr_assert_eq(parse(DLT_RAW, &p4, &r), NS_PARSE_OK);
	assert_flow(&r, "192.0.2.1", "192.0.2.2", 5353, 53, 17);
	cr_assert_eq(parse(DLT_RAW, &p6, &r), NS_PARSE_OK);
	assert_flow(&r, "fe80::1", "ff02::fb", 5353, 5353, 17);
	/* The file format's LINKTYPE_RAW, should a caller pass it. */
	cr_assert_eq(parse(101, &p4, &r), NS_PARSE_OK);
	cr_assert_eq(check_prefixes(DLT_RAW, &p4), 28);
	cr_assert_eq(check_prefixes(DLT_RAW, &p6), 48);
}

Test(link, ipv4_ipv6)
{
	struct pkt p4 = { .len = 0 }, p6 = { .len = 0 };
	struct ns_record r;

	ip4_udp(&p4);
	ip6_udp(&p6);
	cr_assert_eq(parse(DLT_IPV4, &p4, &r), NS_PARSE_OK);
	cr_assert_eq(r.ipver, 4);
	cr_assert_eq(parse(DLT_IPV6, &p6, &r), NS_PARSE_OK);
	cr_assert_eq(r.ipver, 6);
	/* The link type and the version nibble must agree. */
	cr_assert_eq(parse(DLT_IPV4, &p6, &r), NS_PERR_BAD_VERSION);
	cr_assert_eq(parse(DLT_IPV6, &p4, &r), NS_PERR_BAD_VERSION);
}

Test(link, linux_sll)
{
	struct pkt p = { .len = 0 }, v = { .len = 0 }, arp = { .len = 0 };
	struct ns_record r;

	sll(&p, 0x0800);
	ip4_tcp(&p);
	cr_assert_eq(parse(DLT_LINUX_SLL, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "10.0.0.1", "10.0.0.2", 12345, 80, 6);
	cr_assert_eq(check_prefixes(DLT_LINUX_SLL, &p), 16 + 34);

	/* libpcap re-inserts a stripped VLAN tag after the cooked header. */
	sll(&v, 0x8100);
	vlan_tag(&v, 0x2064, 0x86dd);
	ip6_udp(&v);
	cr_assert_eq(parse(DLT_LINUX_SLL, &v, &r), NS_PARSE_OK);
	cr_assert_eq(r.vlan, 100);
	assert_flow(&r, "fe80::1", "ff02::fb", 5353, 5353, 17);

	sll(&arp, 0x0806);
	PUT(&arp, 0, 1, 8, 0, 6, 4, 0, 1);
	cr_assert_eq(parse(DLT_LINUX_SLL, &arp, &r), NS_PARSE_NOT_IP);
	/* Protocol 4 is 802.2 LLC in a cooked header. */
	arp.b[15] = 4;
	arp.b[14] = 0;
	cr_assert_eq(parse(DLT_LINUX_SLL, &arp, &r), NS_PARSE_NOT_IP);
}

Test(link, linux_sll2)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	sll2(&p, 0x86dd);
	ip6_chain_tcp(&p);
	cr_assert_eq(parse(DLT_LINUX_SLL2, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "2001:db8::1", "2001:db8::2", 443, 40000, 6);
	cr_assert_eq(check_prefixes(DLT_LINUX_SLL2, &p), 20 + 40 + 48 + 14);
}

Test(link, null_and_loop)
{
	static const uint32_t af6[] = { 10, 24, 28, 30 };
	struct ns_record r;

	for (int big = 0; big <= 1; big++) {
		struct pkt p = { .len = 0 };

		/* DLT_NULL is in the writer's byte order, whichever it was. */
		null_hdr(&p, 2, big);
		ip4_udp(&p);
		cr_assert_eq(parse(DLT_NULL, &p, &r), NS_PARSE_OK, "big %d", big);
		assert_flow(&r, "192.0.2.1", "192.0.2.2", 5353, 53, 17);
		check_prefixes(DLT_NULL, &p);
	}
	for (size_t i = 0; i < sizeof(af6) / sizeof(af6[0]); i++) {
		struct pkt n = { .len = 0 }, l = { .len = 0 };

		null_hdr(&n, af6[i], 0);
		ip6_udp(&n);
		cr_assert_eq(parse(DLT_NULL, &n, &r), NS_PARSE_OK, "af %u", af6[i]);
		cr_assert_eq(r.ipver, 6);
		/* DLT_LOOP is always network byte order. */
		null_hdr(&l, af6[i], 1);
		ip6_udp(&l);
		cr_assert_eq(parse(DLT_LOOP, &l, &r), NS_PARSE_OK, "af %u", af6[i]);
		cr_assert_eq(r.ipver, 6);
		check_prefixes(DLT_LOOP, &l);
	}
}

Test(link, null_other_family)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	null_hdr(&p, 7, 0);	/* AF_OSI on the BSDs */
	ip4_udp(&p);
	cr_assert_eq(parse(DLT_NULL, &p, &r), NS_PARSE_NOT_IP);
	/* Family 2 but an IPv6 packet. */
	p.len = 0;
	null_hdr(&p, 2, 1);
	ip6_udp(&p);
	cr_assert_eq(parse(DLT_LOOP, &p, &r), NS_PERR_BAD_VERSION);
}

Test(link, unsupported)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	ip4_udp(&p);
	cr_assert_eq(parse(DLT_IEEE802_11, &p, &r), NS_PARSE_UNSUPPORTED_LINK);
	cr_assert_eq(parse(-1, &p, &r), NS_PARSE_UNSUPPORTED_LINK);
	cr_assert_not(ns_parse_is_error(NS_PARSE_UNSUPPORTED_LINK));
	cr_assert_not(ns_parse_dlt_supported(DLT_IEEE802_11));
	cr_assert_not(ns_parse_dlt_supported(DLT_PPP));
	cr_assert_not(ns_parse_dlt_supported(-1));
	cr_assert(ns_parse_dlt_supported(DLT_EN10MB));
	cr_assert(ns_parse_dlt_supported(DLT_RAW));
	cr_assert(ns_parse_dlt_supported(101));
	cr_assert(ns_parse_dlt_supported(DLT_IPV4));
	cr_assert(ns_parse_dlt_supported(DLT_IPV6));
	cr_assert(ns_parse_dlt_supported(DLT_LINUX_SLL));
	cr_assert(ns_parse_dlt_supported(DLT_LINUX_SLL2));
	cr_assert(ns_parse_dlt_supported(DLT_NULL));
	cr_assert(ns_parse_dlt_supported(DLT_LOOP));
}

Test(link, ethernet_not_ip)
{
	struct pkt arp = { .len = 0 }, llc = { .len = 0 }, lldp = { .len = 0 };
	struct ns_record r;

	eth(&arp, 0x0806);
	PUT(&arp, 0, 1, 8, 0, 6, 4, 0, 1);
	cr_assert_eq(parse(DLT_EN10MB, &arp, &r), NS_PARSE_NOT_IP);
	cr_assert_not(ns_parse_is_error(NS_PARSE_NOT_IP));

	/* 802.3: a length, then LLC (here STP); the 0x45 must not fool us. */
	eth(&llc, 0x0026);
	PUT(&llc, 0x42, 0x42, 0x03, 0x45, 0, 0, 0, 0);
	cr_assert_eq(parse(DLT_EN10MB, &llc, &r), NS_PARSE_NOT_IP);

	eth(&lldp, 0x8100);
	vlan_tag(&lldp, 5, 0x88cc);
	PUT(&lldp, 0x02, 0x07, 0x04);
	cr_assert_eq(parse(DLT_EN10MB, &lldp, &r), NS_PARSE_NOT_IP);
}

/* ------------------------------------------------------------- VLANs */

Test(vlan, single_qinq_and_9100)
{
	static const uint16_t outer[] = { 0x8100, 0x88a8, 0x9100 };
	struct ns_record r;

	for (size_t i = 0; i < 3; i++) {
		struct pkt p = { .len = 0 };

		eth(&p, outer[i]);
		vlan_tag(&p, 0xe000 | 0x123, 0x8100);	/* PCP 7, VID 0x123 */
		vlan_tag(&p, 0x0456, 0x0800);
		ip4_tcp(&p);
		cr_assert_eq(parse(DLT_EN10MB, &p, &r), NS_PARSE_OK);
		cr_assert_eq(r.vlan, 0x123, "outermost VID, got %u", r.vlan);
		assert_flow(&r, "10.0.0.1", "10.0.0.2", 12345, 80, 6);
		cr_assert_eq(check_prefixes(DLT_EN10MB, &p), 14 + 8 + 34);
	}
}

Test(vlan, depth_limit)
{
	struct ns_record r;

	for (int n = 1; n <= NS_PARSE_MAX_VLAN + 1; n++) {
		struct pkt p = { .len = 0 };

		eth(&p, 0x88a8);
		for (int i = 1; i <= n; i++)
			vlan_tag(&p, (uint16_t)(100 + i), i == n ? 0x86dd : 0x8100);
		ip6_udp(&p);
		if (n <= NS_PARSE_MAX_VLAN) {
			cr_assert_eq(parse(DLT_EN10MB, &p, &r), NS_PARSE_OK);
			cr_assert_eq(r.vlan, 101);
		} else
			cr_assert_eq(parse(DLT_EN10MB, &p, &r),
			    NS_PERR_VLAN_TOO_DEEP);
	}
}

Test(vlan, truncated_tag)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	eth(&p, 0x8100);
	vlan_tag(&p, 7, 0x0800);
	ip4_udp(&p);
	cr_assert_eq(parse_n(DLT_EN10MB, &p, 16, &r), NS_PERR_TRUNCATED_L2);
	cr_assert_eq(parse_n(DLT_EN10MB, &p, 13, &r), NS_PERR_TRUNCATED_L2);
	cr_assert_eq(parse_n(DLT_EN10MB, &p, 18, &r), NS_PERR_TRUNCATED_IP);
}

/* -------------------------------------------------------------- IPv4 */

Test(ipv4, options)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	/* IHL 6: a Router Alert option, then UDP. */
	PUT(&p, 0x46, 0, 0, 32, 0, 0, 0, 0, 1, 17, 0, 0,
	    10, 9, 8, 7, 224, 0, 0, 22,
	    0x94, 0x04, 0x00, 0x00,
	    0x00, 0x44, 0x00, 0x43, 0x00, 0x08, 0, 0);
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "10.9.8.7", "224.0.0.22", 68, 67, 17);
	cr_assert_eq(check_prefixes(DLT_RAW, &p), 32);
}

Test(ipv4, max_options)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	/* IHL 15: 40 bytes of NOP options. */
	PUT(&p, 0x4f, 0, 0, 80, 0, 0, 0, 0, 64, 6, 0, 0,
	    10, 0, 0, 1, 10, 0, 0, 2);
	for (int i = 0; i < 40; i++)
		PUT(&p, 0x01);
	PUT(&p, 0x00, 0x16, 0xc0, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
	    0x50, 0x11, 0, 0, 0, 0, 0, 0);
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "10.0.0.1", "10.0.0.2", 22, 49152, 6);
	cr_assert_eq(r.tcp_flags, NS_TCP_FIN | NS_TCP_ACK);
	cr_assert_eq(check_prefixes(DLT_RAW, &p), 60 + 14);
}

Test(ipv4, first_fragment)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	ip4_udp(&p);
	p.b[6] = 0x20;		/* MF, offset 0 */
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "192.0.2.1", "192.0.2.2", 5353, 53, 17);
}

Test(ipv4, later_fragment)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	/* Offset 185 (1480 bytes), last fragment, 3 bytes of data: no
	 * transport header here, whatever the bytes look like. */
	PUT(&p, 0x45, 0, 0, 23, 0xab, 0xcd, 0x00, 0xb9, 64, 6, 0, 0,
	    10, 0, 0, 1, 10, 0, 0, 2, 0xff, 0xff, 0xff);
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "10.0.0.1", "10.0.0.2", 0, 0, 6);
	cr_assert_eq(r.tcp_flags, 0);
	cr_assert_eq(check_prefixes(DLT_RAW, &p), 20);

	/* A middle fragment (MF set) of UDP. */
	ip4_udp(&p);
	p.len = 0;
	ip4_udp(&p);
	p.b[6] = 0x20;
	p.b[7] = 0x01;
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "192.0.2.1", "192.0.2.2", 0, 0, 17);
}

Test(ipv4, tiny_first_fragment)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	/* A first fragment too short for the TCP fields (RFC 1858). */
	PUT(&p, 0x45, 0, 0, 28, 0, 1, 0x20, 0x00, 64, 6, 0, 0,
	    10, 0, 0, 1, 10, 0, 0, 2, 0, 80, 0, 81, 0, 0, 0, 0);
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PERR_TRUNCATED_L4);
}

Test(ipv4, ethernet_padding)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	/* A 20-byte IPv4 header claiming TCP, total length 20, in a frame
	 * padded to 60: the padding is not a TCP header. */
	eth(&p, 0x0800);
	PUT(&p, 0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0,
	    10, 0, 0, 1, 10, 0, 0, 2);
	while (p.len < 60)
		PUT(&p, 0x55);
	cr_assert_eq(parse(DLT_EN10MB, &p, &r), NS_PERR_TRUNCATED_L4);

	/* UDP with 2 bytes of payload, padded: parses. */
	p.len = 0;
	eth(&p, 0x0800);
	PUT(&p, 0x45, 0, 0, 30, 0, 0, 0, 0, 64, 17, 0, 0,
	    10, 0, 0, 1, 10, 0, 0, 2, 0, 7, 0, 7, 0, 10, 0, 0, 'h', 'i');
	while (p.len < 60)
		PUT(&p, 0);
	cr_assert_eq(parse(DLT_EN10MB, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "10.0.0.1", "10.0.0.2", 7, 7, 17);
	cr_assert_eq(r.wire_len, 60);
}

Test(ipv4, header_only_capture)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	/* Total length 1500, but a snaplen kept only the headers. */
	ip4_tcp(&p);
	p.b[2] = 0x05;
	p.b[3] = 0xdc;
	cr_assert_eq(parse_n(DLT_RAW, &p, 40, &r), NS_PARSE_OK);
	assert_flow(&r, "10.0.0.1", "10.0.0.2", 12345, 80, 6);
	cr_assert_eq(r.wire_len, p.len);
}

Test(ipv4, offload_zero_total_length)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	/* Captured on a sender with segmentation offload: length 0. */
	ip4_tcp(&p);
	p.b[2] = p.b[3] = 0;
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "10.0.0.1", "10.0.0.2", 12345, 80, 6);
}

Test(ipv4, bad_version)
{
	struct pkt p = { .len = 0 }, e = { .len = 0 };
	struct ns_record r;

	ip4_tcp(&p);
	p.b[0] = 0x55;
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PERR_BAD_VERSION);
	p.b[0] = 0x05;
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PERR_BAD_VERSION);
	/* Ethertype IPv4 carrying IPv6, and the other way round. */
	eth(&e, 0x0800);
	ip6_udp(&e);
	cr_assert_eq(parse(DLT_EN10MB, &e, &r), NS_PERR_BAD_VERSION);
	e.len = 0;
	eth(&e, 0x86dd);
	ip4_udp(&e);
	cr_assert_eq(parse(DLT_EN10MB, &e, &r), NS_PERR_BAD_VERSION);
}

Test(ipv4, bad_header_length)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	ip4_tcp(&p);
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		p.b[0] = 0x40 | ihl;
		cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PERR_BAD_IHL);
	}
	/* IHL 15 (60 bytes) in a 44-byte packet: the header is cut. */
	p.b[0] = 0x4f;
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PERR_TRUNCATED_IP);
}

Test(ipv4, bad_total_length)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	ip4_tcp(&p);
	p.b[3] = 19;
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PERR_BAD_TOTAL_LEN);
	/* Total length shorter than a header with options. */
	p.b[0] = 0x46;
	p.b[3] = 22;
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PERR_BAD_TOTAL_LEN);
	/* Longer than the packet is fine: a snaplen, or a lie we ignore. */
	p.b[0] = 0x45;
	p.b[2] = 0xff;
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
}

Test(ipv4, ah)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	/* IPv4 AH (24 bytes: 12 fixed, 12 ICV), then TCP. */
	PUT(&p, 0x45, 0, 0, 64, 0, 0, 0, 0, 64, 51, 0, 0,
	    10, 0, 0, 1, 10, 0, 0, 2,
	    6, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0x04, 0x00, 0x00, 0x19, 0, 0, 0, 0, 0, 0, 0, 0,
	    0x50, 0x10, 0, 0, 0, 0, 0, 0);
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "10.0.0.1", "10.0.0.2", 1024, 25, 6);
	cr_assert_eq(check_prefixes(DLT_RAW, &p), 20 + 24 + 14);
}

/* -------------------------------------------------------------- IPv6 */

Test(ipv6, extension_chain)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	ip6_chain_tcp(&p);
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "2001:db8::1", "2001:db8::2", 443, 40000, 6);
	cr_assert_eq(check_prefixes(DLT_RAW, &p), 40 + 48 + 14);
}

Test(ipv6, later_fragment)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	ip6_chain_tcp(&p);
	/* Fragment offset 1 (8 bytes), what follows is mid-datagram. */
	p.b[40 + 8 + 8 + 24 + 3] = 0x08;
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "2001:db8::1", "2001:db8::2", 0, 0, 6);
	cr_assert_eq(r.tcp_flags, 0);
	cr_assert_eq(check_prefixes(DLT_RAW, &p), 40 + 48);
}

Test(ipv6, ah_then_udp)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	PUT(&p, 0x60, 0, 0, 0, 0, 32, 51, 64,
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a,
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b,
	    17, 4, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1,
	    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
	    0x01, 0xf4, 0x01, 0xf4, 0, 8, 0, 0);
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "2001:db8::a", "2001:db8::b", 500, 500, 17);
	cr_assert_eq(check_prefixes(DLT_RAW, &p), 40 + 24 + 8);
}

Test(ipv6, terminal_headers)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	/* Hop-by-hop, then ESP: ESP is the upper layer, no ports. */
	PUT(&p, 0x60, 0, 0, 0, 0, 24, 0, 64,
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
	    50, 0, 1, 4, 0, 0, 0, 0,
	    0, 0, 0x10, 0x01, 0, 0, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd, 0, 0, 0, 0);
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "2001:db8::1", "2001:db8::2", 0, 0, 50);
	/* ... then "no next header". */
	p.b[40] = 59;
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	cr_assert_eq(r.proto, 59);
	/* ... then a mobility header announcing nothing after it. */
	p.b[40] = 135;
	p.b[48] = 59;
	p.b[49] = 0;		/* 8 bytes */
	p.b[50] = 5;		/* binding update */
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	cr_assert_eq(r.proto, 135);
}

Test(ipv6, icmpv6_after_hop_by_hop)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	/* An MLDv2 report: router alert in hop-by-hop, then ICMPv6 143. */
	PUT(&p, 0x60, 0, 0, 0, 0, 16, 0, 1,
	    0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	    0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16,
	    58, 0, 5, 2, 0, 0, 1, 0,
	    143, 0, 0, 0, 0, 0, 0, 0);
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "fe80::1", "ff02::16", 0, 0, 58);
}

Test(ipv6, chain_past_caplen)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	/* A hop-by-hop header claiming 88 bytes, 16 present. */
	PUT(&p, 0x60, 0, 0, 0, 0, 88, 0, 64,
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
	    6, 10, 1, 4, 0, 0, 0, 0, 1, 6, 0, 0, 0, 0, 0, 0);
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PERR_EXT_CHAIN);
	/* Less than the 8 bytes every extension header has. */
	cr_assert_eq(parse_n(DLT_RAW, &p, 44, &r), NS_PERR_EXT_CHAIN);
}

Test(ipv6, chain_past_payload_length)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	/* The chain is captured, but runs past the payload length. */
	ip6_chain_tcp(&p);
	p.b[5] = 40;
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PERR_EXT_CHAIN);
	/* ... or the TCP header does. */
	p.b[5] = 48 + 10;
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PERR_TRUNCATED_L4);
	/* Payload length 0 (jumbogram, offload): bounded by caplen only. */
	p.b[5] = 0;
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
}

Test(ipv6, too_many_ext_headers)
{
	struct ns_record r;

	for (int n = NS_PARSE_MAX_EXT; n <= NS_PARSE_MAX_EXT + 1; n++) {
		struct pkt p = { .len = 0 };

		PUT(&p, 0x60, 0, 0, 0, 0, 0, 60, 64,
		    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2);
		for (int i = 0; i < n; i++) {
			uint8_t next = i == n - 1 ? 17 : 60;

			put(&p, (uint8_t[]){ next, 0, 1, 4, 0, 0, 0, 0 }, 8);
		}
		PUT(&p, 0, 53, 0, 53, 0, 8, 0, 0);
		p.b[5] = (uint8_t)(p.len - 40);
		if (n <= NS_PARSE_MAX_EXT) {
			cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
			assert_flow(&r, "2001:db8::1", "2001:db8::2", 53, 53, 17);
		} else
			cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PERR_EXT_TOO_MANY);
	}
}

Test(ipv6, truncated_header)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	ip6_udp(&p);
	cr_assert_eq(parse_n(DLT_RAW, &p, 39, &r), NS_PERR_TRUNCATED_IP);
	cr_assert_eq(parse_n(DLT_RAW, &p, 0, &r), NS_PERR_TRUNCATED_IP);
	cr_assert_eq(parse_n(DLT_RAW, &p, 40, &r), NS_PERR_TRUNCATED_L4);
}

/* --------------------------------------------------------- transport */

Test(transport, tcp_needs_fourteen_bytes)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	ip4_tcp(&p);
	cr_assert_eq(parse_n(DLT_RAW, &p, 20 + 13, &r), NS_PERR_TRUNCATED_L4);
	cr_assert_eq(parse_n(DLT_RAW, &p, 20 + 14, &r), NS_PARSE_OK);
	cr_assert_eq(r.tcp_flags, NS_TCP_SYN | NS_TCP_ECE);
}

Test(transport, tcp_segment_shorter_than_header)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	/* The IP length leaves 19 bytes for TCP: cut on the wire, even though
	 * the ports and flags are all there. */
	ip4_tcp(&p);
	p.b[2] = 0;
	p.b[3] = 20 + 19;
	cr_assert_eq(parse_n(DLT_RAW, &p, 20 + 19, &r), NS_PERR_TRUNCATED_L4);
	p.b[3] = 20 + 20;
	cr_assert_eq(parse_n(DLT_RAW, &p, 20 + 20, &r), NS_PARSE_OK);
}

Test(transport, tcp_bad_offset)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	ip4_tcp(&p);
	for (uint8_t off = 0; off < 5; off++) {
		p.b[32] = (uint8_t)(off << 4);
		cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PERR_BAD_TCP_OFF);
	}
	/* An offset past the capture is not an error: options may be cut. */
	p.b[32] = 0xf0;
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
}

Test(transport, udp)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	ip4_udp(&p);
	cr_assert_eq(parse_n(DLT_RAW, &p, 27, &r), NS_PERR_TRUNCATED_L4);
	cr_assert_eq(parse_n(DLT_RAW, &p, 28, &r), NS_PARSE_OK);
	assert_flow(&r, "192.0.2.1", "192.0.2.2", 5353, 53, 17);
	cr_assert_eq(r.tcp_flags, 0);
}

Test(transport, sctp)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	ip4_sctp(&p);
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "10.1.1.1", "10.1.1.2", 2905, 2906, 132);
	cr_assert_eq(parse_n(DLT_RAW, &p, 31, &r), NS_PERR_TRUNCATED_L4);
	cr_assert_eq(check_prefixes(DLT_RAW, &p), 32);
}

Test(transport, icmp_ports_zero)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	/* Port unreachable quoting an IPv4/UDP header: ICMP, ports 0. */
	PUT(&p, 0x45, 0xc0, 0, 56, 0, 0, 0, 0, 64, 1, 0, 0,
	    10, 0, 0, 2, 10, 0, 0, 1,
	    3, 3, 0, 0, 0, 0, 0, 0,
	    0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0,
	    10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0x14, 0xe9, 0, 8, 0, 0);
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "10.0.0.2", "10.0.0.1", 0, 0, 1);
	cr_assert_eq(r.dscp, 48);
	/* ICMP needs no header bytes at all to be counted. */
	cr_assert_eq(check_prefixes(DLT_RAW, &p), 20);
}

Test(transport, icmpv6_ports_zero)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	PUT(&p, 0x60, 0, 0, 0, 0, 8, 58, 64,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	    128, 0, 0, 0, 0x12, 0x34, 0, 1);
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "::1", "::1", 0, 0, 58);
}

Test(transport, other_protocols)
{
	struct pkt p = { .len = 0 };
	struct ns_record r;

	/* GRE: counted with its protocol number, ports 0. */
	PUT(&p, 0x45, 0, 0, 24, 0, 0, 0, 0, 64, 47, 0, 0,
	    10, 0, 0, 1, 10, 0, 0, 2, 0, 0, 0x08, 0x00);
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	assert_flow(&r, "10.0.0.1", "10.0.0.2", 0, 0, 47);
}

/* ----------------------------------------------------------- reasons */

Test(reasons, names)
{
	for (int i = 0; i < NS_PARSE_NREASONS; i++) {
		const char *n = ns_parse_reason_name(i);

		cr_assert_not_null(n);
		cr_assert_neq(strcmp(n, "unknown"), 0, "reason %d unnamed", i);
		for (const char *c = n; *c; c++)
			cr_assert(islower((unsigned char)*c) || *c == '_' ||
			    isdigit((unsigned char)*c), "%s is not snake_case", n);
		for (int j = 0; j < i; j++)
			cr_assert_neq(strcmp(n, ns_parse_reason_name(j)), 0,
			    "%s twice", n);
	}
	cr_assert_str_eq(ns_parse_reason_name(NS_PERR_TRUNCATED_IP), "truncated_ip");
	cr_assert_str_eq(ns_parse_reason_name(NS_PERR_BAD_IHL), "bad_header_length");
	cr_assert_str_eq(ns_parse_reason_name(NS_PARSE_NREASONS), "unknown");
	cr_assert_str_eq(ns_parse_reason_name(-1), "unknown");
}

Test(reasons, is_error)
{
	cr_assert_not(ns_parse_is_error(NS_PARSE_OK));
	cr_assert_not(ns_parse_is_error(NS_PARSE_NOT_IP));
	cr_assert_not(ns_parse_is_error(NS_PARSE_UNSUPPORTED_LINK));
	for (int i = NS_PERR_TRUNCATED_L2; i < NS_PARSE_NREASONS; i++)
		cr_assert(ns_parse_is_error(i));
	cr_assert_not(ns_parse_is_error(NS_PARSE_NREASONS));
}

Test(reasons, every_link_type_truncated)
{
	static const int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2,
	    DLT_NULL, DLT_LOOP };
	struct ns_record r;

	/* Any frame shorter than its link header. */
	for (size_t i = 0; i < sizeof(dlts) / sizeof(dlts[0]); i++) {
		struct pkt p = { .len = 0 };

		PUT(&p, 1, 2, 3);
		cr_assert_eq(parse(dlts[i], &p, &r), NS_PERR_TRUNCATED_L2);
		cr_assert_eq(parse_n(dlts[i], &p, 0, &r), NS_PERR_TRUNCATED_L2);
	}
	cr_assert_eq(ns_parse_packet(DLT_RAW, NULL, 0, 0, 0, &r),
	    NS_PERR_TRUNCATED_IP);
}

/* Random bytes through every link type: no crash, no read past caplen. */
Test(reasons, random_frames)
{
	static const int dlts[] = { DLT_EN10MB, DLT_RAW, DLT_IPV4, DLT_IPV6,
	    DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP };
	struct ns_record r;
	unsigned seed = 1;

	for (int i = 0; i < 200000; i++) {
		struct pkt p = { .len = (size_t)(rand_r(&seed) % 160) };
		int dlt = dlts[rand_r(&seed) % 8];
		enum ns_parse_result res;

		for (size_t j = 0; j < p.len; j++)
			p.b[j] = (uint8_t)rand_r(&seed);
		/* Bias towards plausible headers so deeper code is reached. */
		if (p.len > 20 && dlt != DLT_EN10MB && dlt != DLT_NULL &&
		    dlt != DLT_LOOP && dlt != DLT_LINUX_SLL && dlt != DLT_LINUX_SLL2)
			p.b[0] = (uint8_t)((i & 1 ? 0x40 : 0x60) | (p.b[0] & 0x0f));
		res = parse(dlt, &p, &r);
		cr_assert_lt((int)res, NS_PARSE_NREASONS);
		if (res == NS_PARSE_OK)
			cr_assert(r.ipver == 4 || r.ipver == 6);
	}
}

/* -------------------------------------------------------------- hash */

static void
swap_direction(struct ns_record *r)
{
	uint8_t a[16];
	uint16_t port = r->sport;

	memcpy(a, r->src, 16);
	memcpy(r->src, r->dst, 16);
	memcpy(r->dst, a, 16);
	r->sport = r->dport;
	r->dport = port;
}

Test(hash, symmetric)
{
	struct pkt p4 = { .len = 0 }, p6 = { .len = 0 };
	struct ns_record r, s;

	ip4_tcp(&p4);
	ip6_chain_tcp(&p6);
	cr_assert_eq(parse(DLT_RAW, &p4, &r), NS_PARSE_OK);
	s = r;
	swap_direction(&s);
	cr_assert_eq(ns_parse_flow_hash(&r, 0), ns_parse_flow_hash(&s, 0));
	cr_assert_eq(ns_parse_flow_hash(&r, 77), ns_parse_flow_hash(&s, 77));
	cr_assert_neq(ns_parse_flow_hash(&r, 0), ns_parse_flow_hash(&r, 77));

	cr_assert_eq(parse(DLT_RAW, &p6, &r), NS_PARSE_OK);
	s = r;
	swap_direction(&s);
	cr_assert_eq(ns_parse_flow_hash(&r, 0), ns_parse_flow_hash(&s, 0));

	/* Same address both ways (loopback): the ports decide the order. */
	memcpy(r.dst, r.src, 16);
	s = r;
	swap_direction(&s);
	cr_assert_eq(ns_parse_flow_hash(&r, 0), ns_parse_flow_hash(&s, 0));
}

Test(hash, distinguishes_flows)
{
	struct pkt p = { .len = 0 };
	struct ns_record r, s;
	uint64_t h;

	ip4_tcp(&p);
	cr_assert_eq(parse(DLT_RAW, &p, &r), NS_PARSE_OK);
	h = ns_parse_flow_hash(&r, 0);

	s = r; s.sport++;
	cr_assert_neq(ns_parse_flow_hash(&s, 0), h);
	s = r; s.proto = 17;
	cr_assert_neq(ns_parse_flow_hash(&s, 0), h);
	s = r; s.dst[15] = 3;
	cr_assert_neq(ns_parse_flow_hash(&s, 0), h);
	/* A:1 -> B:2 and A:2 -> B:1 are different flows. */
	s = r; s.sport = r.dport; s.dport = r.sport;
	cr_assert_neq(ns_parse_flow_hash(&s, 0), h);
	/* Fields outside the flow key do not matter. */
	s = r; s.vlan = 9; s.dscp = 1; s.tcp_flags = 0x11; s.wire_len = 9;
	s.ts_ns = 1; s.input = 3;
	cr_assert_eq(ns_parse_flow_hash(&s, 0), h);
}

Test(hash, spreads)
{
	struct ns_record r;
	unsigned buckets[16] = { 0 };

	/* 16000 flows over 16 workers: none should be far from 1000. */
	memset(&r, 0, sizeof(r));
	r.proto = 6;
	r.dport = 443;
	for (unsigned i = 0; i < 16000; i++) {
		r.src[15] = (uint8_t)i;
		r.src[14] = (uint8_t)(i >> 8);
		r.sport = (uint16_t)(1024 + i);
		buckets[ns_parse_flow_hash(&r, 0) % 16]++;
	}
	for (int i = 0; i < 16; i++)
		cr_assert(buckets[i] > 850 && buckets[i] < 1150,
		    "bucket %d has %u", i, buckets[i]);
}
