/*
 * parse.c -- from a captured frame to a ring record: link layer (Ethernet
 * with VLAN stacks, raw IP, Linux cooked v1/v2, BSD loopback), IPv4 and
 * IPv6 (extension headers walked to the upper-layer protocol), and the
 * ports and flags of TCP, UDP and SCTP (DESIGN §3).
 *
 * Every step works on a view: a pointer and the number of bytes that may be
 * read from it.  The view only ever shrinks -- to caplen at the start, then
 * to what the IP length fields claim when that is less (Ethernet pads short
 * frames) -- so no length field in the packet can make us read further
 * than libpcap gave us.  Captures cut by a snaplen are normal: only the
 * header bytes actually read must be present.
 */
#include "parse.h"

#include <endian.h>
#include <pcap/dlt.h>
#include <string.h>

/* The part of the frame still to be parsed. */
struct view {
	const uint8_t	*p;
	uint32_t	 len;		/* captured bytes left */
	uint32_t	 declared;	/* bytes left per the IP length, >= len */
};

/* What the link layer says the network layer is. */
enum l3_kind { L3_ANY, L3_V4, L3_V6 };

#define ETH_HLEN	14
#define SLL_HLEN	16
#define SLL2_HLEN	20
#define NULL_HLEN	4
#define VLAN_TAG_LEN	4
#define IPV4_MINHLEN	20
#define IPV6_HLEN	40
#define TCP_HLEN	20
#define TCP_NEEDED	14	/* ports, seq, ack, data offset, flags */
#define UDP_HLEN	8
#define SCTP_HLEN	12

#define ETHERTYPE_IPV4	0x0800
#define ETHERTYPE_IPV6	0x86dd
#define ETHERTYPE_8021Q	0x8100
#define ETHERTYPE_8021AD 0x88a8
#define ETHERTYPE_QINQ	0x9100	/* pre-802.1ad vendor QinQ */

/* The file format's LINKTYPE_RAW; pcap_datalink() maps it to DLT_RAW, but
 * a caller passing a linktype straight from a file header may not. */
#define LINKTYPE_RAW	101

enum {
	PROTO_HOPOPTS = 0, PROTO_TCP = 6, PROTO_UDP = 17,
	PROTO_ROUTING = 43, PROTO_FRAGMENT = 44, PROTO_AH = 51,
	PROTO_NONE = 59, PROTO_DSTOPTS = 60, PROTO_SCTP = 132,
	PROTO_MH = 135, PROTO_HIP = 139, PROTO_SHIM6 = 140,
};

static const char *const reason_names[NS_PARSE_NREASONS] = {
	[NS_PARSE_OK] = "ok",
	[NS_PARSE_NOT_IP] = "not_ip",
	[NS_PARSE_UNSUPPORTED_LINK] = "unsupported_link",
	[NS_PERR_TRUNCATED_L2] = "truncated_l2",
	[NS_PERR_TRUNCATED_IP] = "truncated_ip",
	[NS_PERR_BAD_VERSION] = "bad_version",
	[NS_PERR_BAD_IHL] = "bad_header_length",
	[NS_PERR_BAD_TOTAL_LEN] = "bad_total_length",
	[NS_PERR_EXT_CHAIN] = "truncated_ext_chain",
	[NS_PERR_EXT_TOO_MANY] = "too_many_ext_headers",
	[NS_PERR_TRUNCATED_L4] = "truncated_l4",
	[NS_PERR_BAD_TCP_OFF] = "bad_tcp_offset",
	[NS_PERR_VLAN_TOO_DEEP] = "vlan_too_deep",
};

const char *
ns_parse_reason_name(enum ns_parse_result r)
{
	if ((unsigned)r >= NS_PARSE_NREASONS || reason_names[r] == NULL)
		return "unknown";
	return reason_names[r];
}

int
ns_parse_is_error(enum ns_parse_result r)
{
	return r >= NS_PERR_TRUNCATED_L2 && r < NS_PARSE_NREASONS;
}

int
ns_parse_dlt_supported(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_RAW:
	case LINKTYPE_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_NULL:
	case DLT_LOOP:
		return 1;
	default:
		return 0;
	}
}

/* ------------------------------------------------------------ helpers */

/* Big-endian loads byte by byte: packet data has no alignment promise. */
static inline uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Callers have checked n <= v->len. */
static inline void
skip(struct view *v, uint32_t n)
{
	v->p += n;
	v->len -= n;
	v->declared -= n;
}

/*
 * A length field may shrink the view (link padding), never grow it; it
 * also says how much of the packet was on the wire, whatever the snaplen.
 */
static inline void
clamp(struct view *v, uint32_t n)
{
	if (n < v->len)
		v->len = n;
	v->declared = n;
}

/* ----------------------------------------------------------- link layer */

static int
is_vlan_tpid(uint16_t type)
{
	return type == ETHERTYPE_8021Q || type == ETHERTYPE_8021AD ||
	    type == ETHERTYPE_QINQ;
}

/*
 * Skip a stack of VLAN tags starting at an ethertype that has been read;
 * the outermost tag's VID goes into the record.  libpcap puts tags that the
 * NIC stripped back into the frame, for cooked captures too, so this is
 * shared by Ethernet and SLL.
 */
static enum ns_parse_result
ethertype_walk(struct view *v, uint16_t type, struct ns_record *rec,
    enum l3_kind *l3)
{
	for (int depth = 0; is_vlan_tpid(type); depth++) {
		if (depth == NS_PARSE_MAX_VLAN)
			return NS_PERR_VLAN_TOO_DEEP;
		if (v->len < VLAN_TAG_LEN)
			return NS_PERR_TRUNCATED_L2;
		if (depth == 0)
			rec->vlan = get16(v->p) & 0x0fff;
		type = get16(v->p + 2);
		skip(v, VLAN_TAG_LEN);
	}
	/* Values below 0x600 are 802.3 lengths (LLC follows): not IP. */
	if (type == ETHERTYPE_IPV4)
		*l3 = L3_V4;
	else if (type == ETHERTYPE_IPV6)
		*l3 = L3_V6;
	else
		return NS_PARSE_NOT_IP;
	return NS_PARSE_OK;
}

static enum ns_parse_result
link_ether(struct view *v, struct ns_record *rec, enum l3_kind *l3)
{
	uint16_t type;

	if (v->len < ETH_HLEN)
		return NS_PERR_TRUNCATED_L2;
	type = get16(v->p + 12);
	skip(v, ETH_HLEN);
	return ethertype_walk(v, type, rec, l3);
}

/* Linux cooked v1: the protocol (an ethertype) is the header's last field. */
static enum ns_parse_result
link_sll(struct view *v, struct ns_record *rec, enum l3_kind *l3)
{
	uint16_t type;

	if (v->len < SLL_HLEN)
		return NS_PERR_TRUNCATED_L2;
	type = get16(v->p + 14);
	skip(v, SLL_HLEN);
	return ethertype_walk(v, type, rec, l3);
}

/* Linux cooked v2: the protocol is the header's first field. */
static enum ns_parse_result
link_sll2(struct view *v, struct ns_record *rec, enum l3_kind *l3)
{
	uint16_t type;

	if (v->len < SLL2_HLEN)
		return NS_PERR_TRUNCATED_L2;
	type = get16(v->p);
	skip(v, SLL2_HLEN);
	return ethertype_walk(v, type, rec, l3);
}

/* AF_INET is 2 everywhere; AF_INET6 is 10 on Linux, 24 on OpenBSD and
 * NetBSD, 28 on FreeBSD and 30 on macOS -- the writer's value is stored. */
static enum ns_parse_result
af_to_l3(uint32_t af, enum l3_kind *l3)
{
	switch (af) {
	case 2:
		*l3 = L3_V4;
		return NS_PARSE_OK;
	case 10: case 24: case 28: case 30:
		*l3 = L3_V6;
		return NS_PARSE_OK;
	default:
		return NS_PARSE_NOT_IP;
	}
}

/*
 * BSD loopback: a 4-byte address family.  DLT_LOOP has it in network
 * order; DLT_NULL in the byte order of the host that wrote the file, which
 * need not be ours: a family is small, so a value whose low half is zero
 * and high half is not was written by a host of the other byte order.
 */
static enum ns_parse_result
link_null(struct view *v, int network_order, enum l3_kind *l3)
{
	uint32_t af;

	if (v->len < NULL_HLEN)
		return NS_PERR_TRUNCATED_L2;
	if (network_order)
		af = get32(v->p);
	else {
		memcpy(&af, v->p, sizeof(af));
		if ((af & 0xffff) == 0 && af != 0)
			af = __builtin_bswap32(af);
	}
	skip(v, NULL_HLEN);
	return af_to_l3(af, l3);
}

static enum ns_parse_result
link_layer(int dlt, struct view *v, struct ns_record *rec, enum l3_kind *l3)
{
	*l3 = L3_ANY;
	switch (dlt) {
	case DLT_EN10MB:
		return link_ether(v, rec, l3);
	case DLT_RAW:
	case LINKTYPE_RAW:
		return NS_PARSE_OK;
	case DLT_IPV4:
		*l3 = L3_V4;
		return NS_PARSE_OK;
	case DLT_IPV6:
		*l3 = L3_V6;
		return NS_PARSE_OK;
	case DLT_LINUX_SLL:
		return link_sll(v, rec, l3);
	case DLT_LINUX_SLL2:
		return link_sll2(v, rec, l3);
	case DLT_NULL:
		return link_null(v, 0, l3);
	case DLT_LOOP:
		return link_null(v, 1, l3);
	default:
		return NS_PARSE_UNSUPPORTED_LINK;
	}
}

/* ------------------------------------------------------------ transport */

/*
 * Ports (and TCP flags) of the upper-layer header at v.  Only the bytes
 * read must be captured: TCP options may lie beyond a snaplen.  Other
 * protocols, ICMP and ICMPv6 among them, keep ports 0.
 */
static enum ns_parse_result
parse_l4(struct view *v, struct ns_record *rec)
{
	switch (rec->proto) {
	case PROTO_TCP:
		/* A segment shorter than a TCP header was cut on the wire;
		 * one cut only by the snaplen still gives its ports. */
		if (v->len < TCP_NEEDED || v->declared < TCP_HLEN)
			return NS_PERR_TRUNCATED_L4;
		if ((v->p[12] >> 4) < 5)
			return NS_PERR_BAD_TCP_OFF;
		rec->tcp_flags = v->p[13];
		break;
	case PROTO_UDP:
		if (v->len < UDP_HLEN)
			return NS_PERR_TRUNCATED_L4;
		break;
	case PROTO_SCTP:
		if (v->len < SCTP_HLEN)
			return NS_PERR_TRUNCATED_L4;
		break;
	default:
		return NS_PARSE_OK;
	}
	/* All three start with source and destination port. */
	rec->sport = get16(v->p);
	rec->dport = get16(v->p + 2);
	return NS_PARSE_OK;
}

/* ---------------------------------------------------- extension headers */

static int
is_ext_header(uint8_t nh, int v6)
{
	if (!v6)
		return nh == PROTO_AH;
	switch (nh) {
	case PROTO_HOPOPTS:
	case PROTO_ROUTING:
	case PROTO_FRAGMENT:
	case PROTO_AH:
	case PROTO_DSTOPTS:
	case PROTO_MH:
	case PROTO_HIP:
	case PROTO_SHIM6:
		return 1;
	default:
		return 0;
	}
}

/* Length of the extension header of type nh at p (2 bytes readable). */
static uint32_t
ext_header_len(uint8_t nh, const uint8_t *p)
{
	if (nh == PROTO_FRAGMENT)
		return 8;
	if (nh == PROTO_AH)		/* RFC 4302: 32-bit words, minus 2 */
		return ((uint32_t)p[1] + 2) * 4;
	return ((uint32_t)p[1] + 1) * 8;	/* RFC 8200: 8-octet units */
}

/*
 * Walk extension headers from rec->proto to the upper-layer protocol,
 * which is left in rec->proto with v at its header.  *later_frag is set at
 * a fragment header with a non-zero offset: what follows it is the middle
 * of a datagram, so the walk stops there.  ESP (50) and "no next header"
 * (59) end the walk as upper-layer protocols.  IPv4 only knows AH.
 */
static enum ns_parse_result
ext_walk(struct view *v, struct ns_record *rec, int v6, int *later_frag)
{
	for (int n = 0; is_ext_header(rec->proto, v6); n++) {
		uint8_t nh = rec->proto;
		uint32_t hlen;

		if (n == NS_PARSE_MAX_EXT)
			return NS_PERR_EXT_TOO_MANY;
		if (v->len < 8)		/* every one is at least 8 bytes */
			return NS_PERR_EXT_CHAIN;
		hlen = ext_header_len(nh, v->p);
		if (hlen > v->len)
			return NS_PERR_EXT_CHAIN;
		/*
		 * Mobility, HIP and shim6 headers carry their own message and
		 * normally announce nothing after it: then they are the
		 * upper-layer protocol, as tshark also shows them.
		 */
		if ((nh == PROTO_MH || nh == PROTO_HIP ||
		    nh == PROTO_SHIM6) && v->p[0] == PROTO_NONE)
			return NS_PARSE_OK;
		rec->proto = v->p[0];
		if (nh == PROTO_FRAGMENT && (get16(v->p + 2) & 0xfff8) != 0) {
			*later_frag = 1;
			return NS_PARSE_OK;
		}
		skip(v, hlen);
	}
	return NS_PARSE_OK;
}

/* ----------------------------------------------------------- IP layer */

static void
set_mapped_v4(uint8_t dst[16], const uint8_t *a)
{
	memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	memcpy(dst + 12, a, 4);
}

static enum ns_parse_result
parse_ipv4(struct view *v, struct ns_record *rec)
{
	const uint8_t *ip = v->p;
	uint32_t hlen, total;
	int later_frag;
	enum ns_parse_result res;

	if (v->len < IPV4_MINHLEN)
		return NS_PERR_TRUNCATED_IP;
	hlen = (uint32_t)(ip[0] & 0x0f) * 4;
	if (hlen < IPV4_MINHLEN)
		return NS_PERR_BAD_IHL;
	if (hlen > v->len)
		return NS_PERR_TRUNCATED_IP;
	/* Total length 0 is what segmentation offload leaves in packets
	 * captured on the sender: the length is unknown, not wrong. */
	total = get16(ip + 2);
	if (total != 0 && total < hlen)
		return NS_PERR_BAD_TOTAL_LEN;
	if (total != 0)
		clamp(v, total);

	rec->ipver = 4;
	rec->dscp = ip[1] >> 2;
	rec->proto = ip[9];
	set_mapped_v4(rec->src, ip + 12);
	set_mapped_v4(rec->dst, ip + 16);
	/* Only the first fragment (offset 0) holds the transport header. */
	later_frag = (get16(ip + 6) & 0x1fff) != 0;
	skip(v, hlen);
	if (later_frag)
		return NS_PARSE_OK;
	if ((res = ext_walk(v, rec, 0, &later_frag)) != NS_PARSE_OK)
		return res;
	return parse_l4(v, rec);
}

static enum ns_parse_result
parse_ipv6(struct view *v, struct ns_record *rec)
{
	const uint8_t *ip = v->p;
	uint32_t plen;
	int later_frag = 0;
	enum ns_parse_result res;

	if (v->len < IPV6_HLEN)
		return NS_PERR_TRUNCATED_IP;
	rec->ipver = 6;
	/* The traffic class straddles the first two bytes. */
	rec->dscp = (uint8_t)(((ip[0] & 0x0f) << 4 | ip[1] >> 4) >> 2);
	rec->proto = ip[6];
	memcpy(rec->src, ip + 8, 16);
	memcpy(rec->dst, ip + 24, 16);
	/* Payload length 0 means a jumbogram or offload: unknown length. */
	plen = get16(ip + 4);
	skip(v, IPV6_HLEN);
	if (plen != 0)
		clamp(v, plen);
	if ((res = ext_walk(v, rec, 1, &later_frag)) != NS_PARSE_OK)
		return res;
	if (later_frag)
		return NS_PARSE_OK;
	return parse_l4(v, rec);
}

/* The version nibble must agree with what the link layer announced. */
static enum ns_parse_result
parse_ip(struct view *v, enum l3_kind l3, struct ns_record *rec)
{
	unsigned ver;

	if (v->len < 1)
		return NS_PERR_TRUNCATED_IP;
	ver = v->p[0] >> 4;
	if (ver == 4 && l3 != L3_V6)
		return parse_ipv4(v, rec);
	if (ver == 6 && l3 != L3_V4)
		return parse_ipv6(v, rec);
	return NS_PERR_BAD_VERSION;
}

/* -------------------------------------------------------------- entry */

enum ns_parse_result
ns_parse_packet(int dlt, const uint8_t *pkt, uint32_t caplen,
    uint32_t wirelen, uint64_t ts_ns, struct ns_record *rec)
{
	struct view v = { pkt, caplen, UINT32_MAX };
	enum l3_kind l3;
	enum ns_parse_result res;

	memset(rec, 0, sizeof(*rec));
	rec->ts_ns = ts_ns;
	rec->wire_len = wirelen;
	rec->kind = NS_REC_PACKET;
	if (pkt == NULL)
		v.len = 0;
	if ((res = link_layer(dlt, &v, rec, &l3)) != NS_PARSE_OK)
		return res;
	/* No flow hash here: with one worker nobody needs it, and it cost
	 * a tenth of the capture (ns_engine_pick_packet() makes it). */
	return parse_ip(&v, l3, rec);
}

/* ---------------------------------------------------------- flow hash */

/*
 * The record's hash only picks the worker (the tables hash the task key
 * themselves), so it needs to be symmetric, spread well and be cheap: it
 * runs in the capture, once per packet, where it was a fifth of the
 * instructions as XXH3 over a canonically ordered key (124 per packet
 * under callgrind, against 125 for the whole parse).  Each endpoint is
 * folded to a word by odd multipliers, the two words are added (so
 * either direction gives one sum) and the sum, the protocol and the seed
 * go through splitmix64's finalizer.  A:1->B:2 and A:2->B:1 stay
 * different flows: an address is folded with its own port.
 */
#define FH_K1	0x9e3779b97f4a7c15ULL
#define FH_K2	0xc2b2ae3d27d4eb4fULL
#define FH_K3	0x165667b19e3779f9ULL
#define FH_K4	0xd6e8feb86659fd93ULL

/* Little-endian on every host, so a hash does not depend on the CPU. */
static inline uint64_t
fh_le64(const uint8_t *p)
{
	uint64_t x;

	memcpy(&x, p, 8);
	return le64toh(x);
}

static inline uint64_t
fh_endpoint(const uint8_t addr[16], uint16_t port)
{
	return (fh_le64(addr) * FH_K1) ^ (fh_le64(addr + 8) * FH_K2) ^
	    ((uint64_t)port * FH_K3);
}

static inline uint64_t
fh_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

uint64_t
ns_parse_flow_hash(const struct ns_record *rec, uint64_t seed)
{
	uint64_t sum = fh_endpoint(rec->src, rec->sport) +
	    fh_endpoint(rec->dst, rec->dport);

	return fh_mix(sum ^ ((uint64_t)rec->proto * FH_K4) ^ fh_mix(seed));
}
