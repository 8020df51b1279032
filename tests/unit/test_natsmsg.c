/*
 * test_natsmsg.c -- the NATS packet messages (src/natsmsg.c): bytes equal
 * to what the protobuf wire rules give for Go2NetSpectra's PacketInfo,
 * round trips of IPv4, IPv6 and batches, the flow hash a capture would
 * have given, and every reason a message or packet is refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "natsmsg.h"
#include "parse.h"
#include "proto/netspectra.pb-c.h"
#include "proto/traffic.pb-c.h"

static void
set_v4(uint8_t a[16], uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	a[12] = b0, a[13] = b1, a[14] = b2, a[15] = b3;
}

static struct ns_record
rec_v4(void)
{
	struct ns_record r;

	memset(&r, 0, sizeof(r));
	r.kind = NS_REC_PACKET;
	r.ts_ns = 1700000000ULL * 1000000000ULL + 123456789;
	set_v4(r.src, 10, 0, 0, 1);
	set_v4(r.dst, 192, 168, 1, 2);
	r.sport = 443;
	r.dport = 51000;
	r.proto = 6;
	r.ipver = 4;
	r.wire_len = 1514;
	r.hash = ns_parse_flow_hash(&r, 0);
	return r;
}

static struct ns_record
rec_v6(void)
{
	static const uint8_t s[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t d[16] = { 0xfe, 0x80, [14] = 0xab, [15] = 0xcd };
	struct ns_record r;

	memset(&r, 0, sizeof(r));
	r.kind = NS_REC_PACKET;
	r.ts_ns = 1600000000ULL * 1000000000ULL;	/* nanos 0: omitted */
	memcpy(r.src, s, 16);
	memcpy(r.dst, d, 16);
	r.sport = 0;					/* ICMPv6: no ports */
	r.dport = 0;
	r.proto = 58;
	r.ipver = 6;
	r.wire_len = 70;
	r.hash = ns_parse_flow_hash(&r, 0);
	return r;
}

/* The fields a PacketInfo carries, and the hash made from them. */
static void
assert_same(const struct ns_record *a, const struct ns_record *b)
{
	cr_assert_eq(a->kind, NS_REC_PACKET);
	cr_assert_eq(a->ts_ns, b->ts_ns);
	cr_assert_arr_eq(a->src, b->src, 16);
	cr_assert_arr_eq(a->dst, b->dst, 16);
	cr_assert_eq(a->sport, b->sport);
	cr_assert_eq(a->dport, b->dport);
	cr_assert_eq(a->proto, b->proto);
	cr_assert_eq(a->ipver, b->ipver);
	cr_assert_eq(a->wire_len, b->wire_len);
	cr_assert_eq(ns_parse_flow_hash(a, 0), ns_parse_flow_hash(b, 0));
}

/*
 * The PacketInfo of rec_v4(), byte by byte from the protobuf encoding
 * rules (tag = field << 3 | wire type; varints 7 bits a byte, low first;
 * proto3 leaves zero values out; fields in number order), as Go's
 * proto.Marshal writes it -- not from our own decoder.
 */
static const uint8_t v4_wire[] = {
	0x0a, 0x0b,			/* 1 timestamp, LEN 11 */
	  0x08, 0x80, 0xe2, 0xcf, 0xaa, 0x06, /* 1 seconds 1700000000 */
	  0x10, 0x95, 0x9a, 0xef, 0x3a,	/* 2 nanos 123456789 */
	0x12, 0x15,			/* 2 five_tuple, LEN 21 */
	  0x0a, 0x04, 10, 0, 0, 1,	/* 1 src_ip, 4 bytes */
	  0x12, 0x04, 192, 168, 1, 2,	/* 2 dst_ip */
	  0x18, 0xbb, 0x03,		/* 3 src_port 443 */
	  0x20, 0xb8, 0x8e, 0x03,	/* 4 dst_port 51000 */
	  0x28, 0x06,			/* 5 protocol 6 */
	0x18, 0xea, 0x0b,		/* 3 length 1514 */
};

Test(natsmsg, encode_matches_wire_rules)
{
	struct ns_record r = rec_v4();
	uint8_t buf[NS_NATSMSG_PACKET_MAX];
	size_t n = 0;

	cr_assert_eq(ns_natsmsg_encode_packet(&r, buf, sizeof(buf), &n), 0);
	cr_assert_eq(n, sizeof(v4_wire));
	cr_assert_arr_eq(buf, v4_wire, sizeof(v4_wire));
}

Test(natsmsg, decode_hand_made_bytes)
{
	struct ns_record want = rec_v4(), got;

	cr_assert_eq(ns_natsmsg_decode(v4_wire, sizeof(v4_wire),
	    NS_NATSMSG_PACKET, &got, 1, NULL), 1);
	assert_same(&got, &want);
}

static void
round_trip(struct ns_record r)
{
	uint8_t buf[NS_NATSMSG_PACKET_MAX];
	uint64_t bad[NS_NATSMSG_NREASONS] = { 0 };
	struct ns_record got;
	size_t n;

	cr_assert_eq(ns_natsmsg_encode_packet(&r, buf, sizeof(buf), &n), 0);
	cr_assert_leq(n, NS_NATSMSG_PACKET_MAX);
	cr_assert_eq(ns_natsmsg_decode(buf, n, NS_NATSMSG_PACKET, &got, 1,
	    bad), 1);
	assert_same(&got, &r);
	for (int i = 0; i < NS_NATSMSG_NREASONS; i++)
		cr_assert_eq(bad[i], 0);
}

Test(natsmsg, round_trip_v4) { round_trip(rec_v4()); }
Test(natsmsg, round_trip_v6) { round_trip(rec_v6()); }

Test(natsmsg, v6_addresses_are_16_bytes)
{
	struct ns_record r = rec_v6();
	uint8_t buf[NS_NATSMSG_PACKET_MAX];
	V1__PacketInfo *pi;
	size_t n;

	cr_assert_eq(ns_natsmsg_encode_packet(&r, buf, sizeof(buf), &n), 0);
	pi = v1__packet_info__unpack(NULL, n, buf);
	cr_assert_not_null(pi);
	cr_assert_eq(pi->five_tuple->src_ip.len, 16);
	cr_assert_arr_eq(pi->five_tuple->dst_ip.data, r.dst, 16);
	cr_assert_eq(pi->timestamp->nanos, 0);
	v1__packet_info__free_unpacked(pi, NULL);
}

/* The largest record fits NS_NATSMSG_PACKET_MAX, in a batch too. */
Test(natsmsg, packet_max_is_enough)
{
	struct ns_record r = rec_v6();
	uint8_t buf[NS_NATSMSG_PACKET_MAX + 3];
	size_t n = 0;

	memset(r.src, 0xff, 16);
	memset(r.dst, 0xff, 16);
	r.ts_ns = UINT64_MAX;
	r.sport = r.dport = 65535;
	r.proto = 255;
	r.wire_len = UINT32_MAX;
	cr_assert_eq(ns_natsmsg_encode_packet(&r, buf, NS_NATSMSG_PACKET_MAX,
	    &n), 0);
	n = 0;
	cr_assert_eq(ns_natsmsg_batch_append(&r, buf, sizeof(buf), &n), 0);
}

/*
 * A real frame through the parser, then through a message: the record
 * that comes out goes to the same worker (same hash) with the same key.
 */
Test(natsmsg, same_hash_as_the_parser)
{
	static const uint8_t frame[] = {
		/* Ethernet */
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00,
		/* IPv4, 40 bytes, TCP */
		0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0,
		172, 16, 5, 9, 8, 8, 4, 4,
		/* TCP 40000 -> 53, SYN */
		0x9c, 0x40, 0x00, 0x35, 0, 0, 0, 1, 0, 0, 0, 0,
		0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
	};
	struct ns_record parsed, got;
	uint8_t buf[NS_NATSMSG_PACKET_MAX];
	size_t n;

	cr_assert_eq(ns_parse_packet(1 /* DLT_EN10MB */, frame, sizeof(frame),
	    sizeof(frame), 42, &parsed), NS_PARSE_OK);
	cr_assert_eq(ns_natsmsg_encode_packet(&parsed, buf, sizeof(buf), &n), 0);
	cr_assert_eq(ns_natsmsg_decode(buf, n, NS_NATSMSG_PACKET, &got, 1,
	    NULL), 1);
	assert_same(&got, &parsed);
}

Test(natsmsg, batch_round_trip)
{
	static struct ns_record in[300], out[300];
	static uint8_t buf[300 * (NS_NATSMSG_PACKET_MAX + 3)];
	size_t n;
	int i;

	for (i = 0; i < 300; i++) {
		in[i] = i % 3 ? rec_v4() : rec_v6();
		in[i].sport = (uint16_t)i;
		in[i].ts_ns += (uint64_t)i;
		in[i].hash = ns_parse_flow_hash(&in[i], 0);
	}
	cr_assert_eq(ns_natsmsg_encode_batch(in, 300, buf, sizeof(buf), &n), 0);
	cr_assert_eq(ns_natsmsg_decode(buf, n, NS_NATSMSG_BATCH, out, 300,
	    NULL), 300);
	for (i = 0; i < 300; i++)
		assert_same(&out[i], &in[i]);
}

/* A batch is what protobuf-c itself writes for PacketBatch.packets. */
Test(natsmsg, batch_equals_protobuf_c)
{
	struct ns_record r[2] = { rec_v4(), rec_v6() };
	uint8_t one[2][NS_NATSMSG_PACKET_MAX], ours[256], theirs[256];
	V1__PacketInfo *pi[2];
	Netspectra__PacketBatch b = NETSPECTRA__PACKET_BATCH__INIT;
	size_t n[2], len, tlen;

	for (int i = 0; i < 2; i++) {
		cr_assert_eq(ns_natsmsg_encode_packet(&r[i], one[i],
		    sizeof(one[i]), &n[i]), 0);
		pi[i] = v1__packet_info__unpack(NULL, n[i], one[i]);
	}
	b.n_packets = 2;
	b.packets = pi;
	tlen = netspectra__packet_batch__pack(&b, theirs);
	cr_assert_eq(ns_natsmsg_encode_batch(r, 2, ours, sizeof(ours), &len), 0);
	cr_assert_eq(len, tlen);
	cr_assert_arr_eq(ours, theirs, len);
	for (int i = 0; i < 2; i++)
		v1__packet_info__free_unpacked(pi[i], NULL);
}

Test(natsmsg, encode_errors)
{
	struct ns_record r = rec_v4();
	uint8_t buf[NS_NATSMSG_PACKET_MAX];
	size_t n = 0;

	cr_assert_eq(ns_natsmsg_encode_packet(&r, buf, 10, &n), -ENOBUFS);
	cr_assert_eq(ns_natsmsg_batch_append(&r, buf, 10, &n), -ENOBUFS);
	cr_assert_eq(n, 0, "a failed append leaves the batch as it was");
	r.kind = NS_REC_PERIOD;
	cr_assert_eq(ns_natsmsg_encode_packet(&r, buf, sizeof(buf), &n), -EINVAL);
	r = rec_v4();
	r.ipver = 5;
	cr_assert_eq(ns_natsmsg_encode_packet(&r, buf, sizeof(buf), &n), -EINVAL);
}

Test(natsmsg, kind_of_header)
{
	cr_assert_eq(ns_natsmsg_kind_of(NULL), NS_NATSMSG_PACKET);
	cr_assert_eq(ns_natsmsg_kind_of(""), NS_NATSMSG_PACKET);
	cr_assert_eq(ns_natsmsg_kind_of(NS_NATSMSG_CT_BATCH), NS_NATSMSG_BATCH);
	cr_assert_eq(ns_natsmsg_kind_of(NS_NATSMSG_CT_PACKET), NS_NATSMSG_PACKET);
	cr_assert_eq(ns_natsmsg_kind_of("application/json"), NS_NATSMSG_UNKNOWN);
}

Test(natsmsg, reason_names)
{
	cr_assert_str_eq(ns_natsmsg_reason_name(NS_NATSMSG_BAD_ADDRESS),
	    "bad_address");
	cr_assert_str_eq(ns_natsmsg_reason_name(NS_NATSMSG_NREASONS), "unknown");
	for (int i = 0; i < NS_NATSMSG_NREASONS; i++)
		cr_assert_str_neq(ns_natsmsg_reason_name(i), "unknown");
}

/* ---- refusals ----------------------------------------------------------- */

/* A PacketInfo from rec_v4(), for a test to spoil before packing. */
struct msg {
	V1__PacketInfo pi;
	V1__FiveTuple ft;
	V1__Timestamp ts;
	uint8_t src[16], dst[16];
};

static void
msg_init(struct msg *m)
{
	v1__packet_info__init(&m->pi);
	v1__five_tuple__init(&m->ft);
	v1__timestamp__init(&m->ts);
	m->ts.seconds = 1700000000;
	m->src[0] = 10, m->dst[0] = 11;
	m->ft.src_ip.data = m->src;
	m->ft.src_ip.len = 4;
	m->ft.dst_ip.data = m->dst;
	m->ft.dst_ip.len = 4;
	m->ft.src_port = 1;
	m->ft.dst_port = 2;
	m->ft.protocol = 17;
	m->pi.timestamp = &m->ts;
	m->pi.five_tuple = &m->ft;
	m->pi.length = 100;
}

/* Decode m as a single message: the reason it is refused for. */
static enum ns_natsmsg_reason
refusal(const struct msg *m)
{
	uint64_t bad[NS_NATSMSG_NREASONS] = { 0 };
	uint8_t buf[256];
	struct ns_record r;
	size_t n = v1__packet_info__pack(&m->pi, buf);
	int rc = ns_natsmsg_decode(buf, n, NS_NATSMSG_PACKET, &r, 1, bad);
	enum ns_natsmsg_reason why = NS_NATSMSG_OK;

	for (int i = 0; i < NS_NATSMSG_NREASONS; i++)
		if (bad[i] != 0) {
			cr_assert_eq(bad[i], 1);
			cr_assert_eq(why, NS_NATSMSG_OK, "one reason only");
			why = (enum ns_natsmsg_reason)i;
		}
	cr_assert_eq(rc, why == NS_NATSMSG_OK ? 1 : -EBADMSG);
	return why;
}

Test(natsmsg, accepts_the_edges)
{
	struct msg m;

	msg_init(&m);
	m.ft.src_port = m.ft.dst_port = 65535;
	m.ft.protocol = 255;
	m.pi.length = NS_NATSMSG_MAX_WIRELEN;
	m.ts.seconds = NS_NATSMSG_MAX_SECONDS;
	m.ts.nanos = 999999999;
	cr_assert_eq(refusal(&m), NS_NATSMSG_OK);
	m.ft.src_ip.len = m.ft.dst_ip.len = 16;
	m.pi.length = 1;
	m.ts.seconds = 0;
	m.ts.nanos = 0;
	cr_assert_eq(refusal(&m), NS_NATSMSG_OK);
}

Test(natsmsg, missing_fields)
{
	struct msg m;

	msg_init(&m);
	m.pi.timestamp = NULL;
	cr_assert_eq(refusal(&m), NS_NATSMSG_MISSING_FIELD);
	msg_init(&m);
	m.pi.five_tuple = NULL;
	cr_assert_eq(refusal(&m), NS_NATSMSG_MISSING_FIELD);
}

Test(natsmsg, bad_addresses)
{
	static const size_t lens[][2] = {
		{ 0, 0 }, { 5, 5 }, { 4, 16 }, { 16, 4 }, { 4, 0 }, { 8, 8 },
	};
	struct msg m;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		msg_init(&m);
		m.ft.src_ip.len = lens[i][0];
		m.ft.dst_ip.len = lens[i][1];
		cr_assert_eq(refusal(&m), NS_NATSMSG_BAD_ADDRESS,
		    "lengths %zu/%zu", lens[i][0], lens[i][1]);
	}
}

Test(natsmsg, out_of_range)
{
	struct msg m;

	msg_init(&m);
	m.ft.src_port = 65536;
	cr_assert_eq(refusal(&m), NS_NATSMSG_BAD_PORT);
	msg_init(&m);
	m.ft.dst_port = UINT32_MAX;
	cr_assert_eq(refusal(&m), NS_NATSMSG_BAD_PORT);
	msg_init(&m);
	m.ft.protocol = 256;
	cr_assert_eq(refusal(&m), NS_NATSMSG_BAD_PROTOCOL);
	msg_init(&m);
	m.pi.length = 0;
	cr_assert_eq(refusal(&m), NS_NATSMSG_BAD_LENGTH);
	msg_init(&m);
	m.pi.length = NS_NATSMSG_MAX_WIRELEN + 1;
	cr_assert_eq(refusal(&m), NS_NATSMSG_BAD_LENGTH);
}

Test(natsmsg, bad_timestamps)
{
	static const int64_t secs[] = { -1, -62135596800LL,
	    NS_NATSMSG_MAX_SECONDS + 1, INT64_MAX };
	struct msg m;

	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		msg_init(&m);
		m.ts.seconds = secs[i];
		cr_assert_eq(refusal(&m), NS_NATSMSG_BAD_TIMESTAMP);
	}
	msg_init(&m);
	m.ts.nanos = 1000000000;
	cr_assert_eq(refusal(&m), NS_NATSMSG_BAD_TIMESTAMP);
	msg_init(&m);
	m.ts.nanos = -1;
	cr_assert_eq(refusal(&m), NS_NATSMSG_BAD_TIMESTAMP);
}

static void
assert_refused(const void *buf, size_t len, enum ns_natsmsg_kind kind,
    size_t cap, enum ns_natsmsg_reason why)
{
	static struct ns_record r[8];
	uint64_t bad[NS_NATSMSG_NREASONS] = { 0 };

	cr_assert_eq(ns_natsmsg_decode(buf, len, kind, r, cap, bad), -EBADMSG);
	cr_assert_eq(bad[why], 1, "expected %s", ns_natsmsg_reason_name(why));
}

Test(natsmsg, malformed)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t wrong_type[] = { 0x08, 0x01 }; /* timestamp as varint */

	assert_refused(garbage, sizeof(garbage), NS_NATSMSG_PACKET, 1,
	    NS_NATSMSG_MALFORMED);
	assert_refused(garbage, sizeof(garbage), NS_NATSMSG_BATCH, 8,
	    NS_NATSMSG_MALFORMED);
	assert_refused(wrong_type, sizeof(wrong_type), NS_NATSMSG_PACKET, 1,
	    NS_NATSMSG_MALFORMED);
	/* Truncated: every proper prefix of a message that ends in a field. */
	for (size_t n = 1; n < sizeof(v4_wire); n++) {
		uint64_t bad[NS_NATSMSG_NREASONS] = { 0 };
		struct ns_record r;

		cr_assert_eq(ns_natsmsg_decode(v4_wire, n, NS_NATSMSG_PACKET, &r,
		    1, bad), -EBADMSG, "prefix of %zu bytes accepted", n);
		cr_assert_eq(bad[NS_NATSMSG_OK], 0);
	}
	/* An empty message is a PacketInfo with nothing in it. */
	assert_refused("", 0, NS_NATSMSG_PACKET, 1, NS_NATSMSG_MISSING_FIELD);
}

Test(natsmsg, oversize_and_kinds)
{
	static uint8_t big[NS_NATSMSG_MAX_MSG + 1];
	struct ns_record r[3] = { rec_v4(), rec_v4(), rec_v4() };
	uint8_t buf[512];
	size_t n;

	assert_refused(big, sizeof(big), NS_NATSMSG_PACKET, 1,
	    NS_NATSMSG_OVERSIZE);
	cr_assert_eq(ns_natsmsg_encode_batch(r, 3, buf, sizeof(buf), &n), 0);
	assert_refused(buf, n, NS_NATSMSG_BATCH, 2, NS_NATSMSG_OVERSIZE);
	assert_refused(buf, n, NS_NATSMSG_UNKNOWN, 8, NS_NATSMSG_BAD_TYPE);
	assert_refused("", 0, NS_NATSMSG_BATCH, 8, NS_NATSMSG_EMPTY_BATCH);
}

/* A batch keeps its good packets and counts each bad one. */
Test(natsmsg, batch_with_bad_packets)
{
	struct msg good, port, addr;
	V1__PacketInfo *pis[3] = { &good.pi, &port.pi, &addr.pi };
	Netspectra__PacketBatch b = NETSPECTRA__PACKET_BATCH__INIT;
	uint64_t bad[NS_NATSMSG_NREASONS] = { 0 };
	struct ns_record r[3];
	uint8_t buf[512];
	size_t n;

	msg_init(&good);
	msg_init(&port);
	msg_init(&addr);
	port.ft.src_port = 70000;
	addr.ft.src_ip.len = 7;
	b.n_packets = 3;
	b.packets = pis;
	n = netspectra__packet_batch__pack(&b, buf);
	cr_assert_eq(ns_natsmsg_decode(buf, n, NS_NATSMSG_BATCH, r, 3, bad), 1);
	cr_assert_eq(bad[NS_NATSMSG_BAD_PORT], 1);
	cr_assert_eq(bad[NS_NATSMSG_BAD_ADDRESS], 1);
	cr_assert_eq(r[0].sport, 1);
	cr_assert_eq(r[0].proto, 17);
}

/* The batch framing: other fields skipped, bad framing refused whole. */
Test(natsmsg, batch_framing)
{
	struct ns_record r = rec_v4(), out[4];
	uint8_t buf[256], extra[] = { 0x10, 0x05, 0x1d, 1, 2, 3, 4 };
	uint64_t bad[NS_NATSMSG_NREASONS] = { 0 };
	size_t n;

	/* Unknown varint and fixed32 fields after a packet: ignored. */
	cr_assert_eq(ns_natsmsg_encode_batch(&r, 1, buf, sizeof(buf), &n), 0);
	memcpy(buf + n, extra, sizeof(extra));
	cr_assert_eq(ns_natsmsg_decode(buf, n + sizeof(extra), NS_NATSMSG_BATCH,
	    out, 4, bad), 1);
	assert_same(&out[0], &r);
	/* A length past the end, a group, field number 0: malformed. */
	buf[1] = 0x7f;
	assert_refused(buf, n, NS_NATSMSG_BATCH, 4, NS_NATSMSG_MALFORMED);
	assert_refused("\x0b", 1, NS_NATSMSG_BATCH, 4, NS_NATSMSG_MALFORMED);
	assert_refused("\x00\x00", 2, NS_NATSMSG_BATCH, 4, NS_NATSMSG_MALFORMED);
	/* A packet whose own bytes are not protobuf: that packet only. */
	memset(bad, 0, sizeof(bad));
	cr_assert_eq(ns_natsmsg_encode_batch(&r, 1, buf, sizeof(buf), &n), 0);
	memcpy(buf + n, "\x0a\x02\xff\xff", 4);
	cr_assert_eq(ns_natsmsg_decode(buf, n + 4, NS_NATSMSG_BATCH, out, 4,
	    bad), 1);
	cr_assert_eq(bad[NS_NATSMSG_MALFORMED], 1);
}
