/*
 * natsmsg.c -- ring records to and from the packet messages on NATS
 * (natsmsg.h): v1.PacketInfo, one packet per message as Go2NetSpectra
 * sends them, and netspectra.PacketBatch.
 *
 * Encoding goes through protobuf-c for one PacketInfo; a batch is those
 * encodings each behind the tag and length of PacketBatch.packets, which
 * is exactly what protobuf-c would write for the repeated field, built
 * without an array of message structs.  Decoding is protobuf-c's unpack
 * of each PacketInfo with a small arena on the stack, so that a packet --
 * hundreds of thousands a second -- costs no malloc; a batch's framing is
 * walked here (decode_batch).
 */
#include "natsmsg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "proto/traffic.pb-c.h"

#define NSEC_PER_SEC	1000000000ULL
/* PacketBatch.packets: field 1, wire type 2 (length-delimited). */
#define BATCH_TAG	0x0a

static const char *const reason_names[NS_NATSMSG_NREASONS] = {
	[NS_NATSMSG_OK] = "ok",
	[NS_NATSMSG_MALFORMED] = "malformed",
	[NS_NATSMSG_OVERSIZE] = "oversize",
	[NS_NATSMSG_BAD_TYPE] = "bad_type",
	[NS_NATSMSG_MISSING_FIELD] = "missing_field",
	[NS_NATSMSG_BAD_ADDRESS] = "bad_address",
	[NS_NATSMSG_BAD_PORT] = "bad_port",
	[NS_NATSMSG_BAD_PROTOCOL] = "bad_protocol",
	[NS_NATSMSG_BAD_TIMESTAMP] = "bad_timestamp",
	[NS_NATSMSG_BAD_LENGTH] = "bad_length",
	[NS_NATSMSG_EMPTY_BATCH] = "empty_batch",
};

const char *
ns_natsmsg_reason_name(enum ns_natsmsg_reason r)
{
	if ((unsigned)r >= NS_NATSMSG_NREASONS || reason_names[r] == NULL)
		return "unknown";
	return reason_names[r];
}

/*
 * Only the proto= parameter decides, so that a producer adding a charset
 * or spacing differently is still understood.
 */
enum ns_natsmsg_kind
ns_natsmsg_kind_of(const char *ct)
{
	if (ct == NULL || ct[0] == '\0')
		return NS_NATSMSG_PACKET;
	if (strstr(ct, "proto=netspectra.PacketBatch") != NULL)
		return NS_NATSMSG_BATCH;
	if (strstr(ct, "proto=v1.PacketInfo") != NULL)
		return NS_NATSMSG_PACKET;
	return NS_NATSMSG_UNKNOWN;
}

/* ---- encoding ----------------------------------------------------------- */

/* The message structs of one packet, pointing into the record. */
struct pi_msg {
	V1__PacketInfo	pi;
	V1__FiveTuple	ft;
	V1__Timestamp	ts;
};

static int
pi_fill(struct pi_msg *m, const struct ns_record *rec)
{
	size_t off, alen;

	if (rec->kind != NS_REC_PACKET || (rec->ipver != 4 && rec->ipver != 6))
		return -EINVAL;
	/* IPv4 travels as 4 bytes: the mapped form's last four. */
	off = rec->ipver == 4 ? 12 : 0;
	alen = rec->ipver == 4 ? 4 : 16;
	v1__packet_info__init(&m->pi);
	v1__five_tuple__init(&m->ft);
	v1__timestamp__init(&m->ts);
	m->ts.seconds = (int64_t)(rec->ts_ns / NSEC_PER_SEC);
	m->ts.nanos = (int32_t)(rec->ts_ns % NSEC_PER_SEC);
	m->ft.src_ip.data = (uint8_t *)(uintptr_t)(rec->src + off);
	m->ft.src_ip.len = alen;
	m->ft.dst_ip.data = (uint8_t *)(uintptr_t)(rec->dst + off);
	m->ft.dst_ip.len = alen;
	m->ft.src_port = rec->sport;
	m->ft.dst_port = rec->dport;
	m->ft.protocol = rec->proto;
	m->pi.timestamp = &m->ts;
	m->pi.five_tuple = &m->ft;
	m->pi.length = rec->wire_len;
	return 0;
}

int
ns_natsmsg_encode_packet(const struct ns_record *rec, void *buf, size_t len,
    size_t *outlen)
{
	struct pi_msg m;
	size_t n;
	int rc;

	if ((rc = pi_fill(&m, rec)) != 0)
		return rc;
	if ((n = v1__packet_info__get_packed_size(&m.pi)) > len)
		return -ENOBUFS;
	*outlen = v1__packet_info__pack(&m.pi, buf);
	return 0;
}

/* A base-128 varint; how many bytes it took. */
static size_t
put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

int
ns_natsmsg_batch_append(const struct ns_record *rec, void *buf, size_t len,
    size_t *used)
{
	uint8_t *p = (uint8_t *)buf + *used;
	struct pi_msg m;
	size_t n, hdr;
	int rc;

	if ((rc = pi_fill(&m, rec)) != 0)
		return rc;
	n = v1__packet_info__get_packed_size(&m.pi);
	hdr = 1 + (n < 0x80 ? 1 : 2);	/* n < NS_NATSMSG_PACKET_MAX */
	if (*used > len || len - *used < hdr + n)
		return -ENOBUFS;
	p[0] = BATCH_TAG;
	put_varint(p + 1, n);
	v1__packet_info__pack(&m.pi, p + hdr);
	*used += hdr + n;
	return 0;
}

int
ns_natsmsg_encode_batch(const struct ns_record *recs, size_t n, void *buf,
    size_t len, size_t *outlen)
{
	size_t i, used = 0;
	int rc;

	for (i = 0; i < n; i++)
		if ((rc = ns_natsmsg_batch_append(&recs[i], buf, len, &used)) != 0)
			return rc;
	*outlen = used;
	return 0;
}

/* ---- decoding ----------------------------------------------------------- */

/*
 * A bump allocator over a buffer on the decoder's stack, falling back to
 * malloc once it is used up: protobuf-c makes four or five allocations per
 * packet, all freed together when the message is.
 */
#define ARENA_SIZE	2048

struct arena {
	size_t		used;
	_Alignas(16) uint8_t buf[ARENA_SIZE];
};

static void *
arena_alloc(void *data, size_t size)
{
	struct arena *a = data;
	size_t need = (size + 15) & ~(size_t)15;

	if (need >= size && need <= ARENA_SIZE - a->used) {
		void *p = a->buf + a->used;

		a->used += need;
		return p;
	}
	return malloc(size);
}

static void
arena_free(void *data, void *p)
{
	struct arena *a = data;

	if ((uint8_t *)p >= a->buf && (uint8_t *)p < a->buf + ARENA_SIZE)
		return;
	free(p);
}

static void
count(uint64_t *bad, enum ns_natsmsg_reason r)
{
	if (bad != NULL)
		bad[r]++;
}

static enum ns_natsmsg_reason
check_addresses(const V1__FiveTuple *ft)
{
	size_t l = ft->src_ip.len;

	if ((l != 4 && l != 16) || ft->dst_ip.len != l)
		return NS_NATSMSG_BAD_ADDRESS;
	return NS_NATSMSG_OK;
}

static enum ns_natsmsg_reason
check_packet(const V1__PacketInfo *pi)
{
	const V1__FiveTuple *ft = pi->five_tuple;
	const V1__Timestamp *ts = pi->timestamp;

	if (ts == NULL || ft == NULL)
		return NS_NATSMSG_MISSING_FIELD;
	if (check_addresses(ft) != NS_NATSMSG_OK)
		return NS_NATSMSG_BAD_ADDRESS;
	if (ft->src_port > 65535 || ft->dst_port > 65535)
		return NS_NATSMSG_BAD_PORT;
	if (ft->protocol > 255)
		return NS_NATSMSG_BAD_PROTOCOL;
	if (ts->seconds < 0 || ts->seconds > NS_NATSMSG_MAX_SECONDS ||
	    ts->nanos < 0 || ts->nanos >= (int32_t)NSEC_PER_SEC)
		return NS_NATSMSG_BAD_TIMESTAMP;
	if (pi->length < 1 || pi->length > NS_NATSMSG_MAX_WIRELEN)
		return NS_NATSMSG_BAD_LENGTH;
	return NS_NATSMSG_OK;
}

/* An address of 4 bytes becomes the mapped form ::ffff:a.b.c.d. */
static void
put_addr(uint8_t dst[16], const ProtobufCBinaryData *a)
{
	if (a->len == 4) {
		memset(dst, 0, 10);
		dst[10] = 0xff;
		dst[11] = 0xff;
		memcpy(dst + 12, a->data, 4);
	} else
		memcpy(dst, a->data, 16);
}

/* A checked packet as a record, as the parser would have made it. */
static void
to_record(const V1__PacketInfo *pi, struct ns_record *rec)
{
	const V1__FiveTuple *ft = pi->five_tuple;

	memset(rec, 0, sizeof(*rec));
	rec->kind = NS_REC_PACKET;
	rec->ts_ns = (uint64_t)pi->timestamp->seconds * NSEC_PER_SEC +
	    (uint64_t)pi->timestamp->nanos;
	rec->ipver = ft->src_ip.len == 4 ? 4 : 6;
	put_addr(rec->src, &ft->src_ip);
	put_addr(rec->dst, &ft->dst_ip);
	rec->sport = (uint16_t)ft->src_port;
	rec->dport = (uint16_t)ft->dst_port;
	rec->proto = (uint8_t)ft->protocol;
	rec->wire_len = (uint32_t)pi->length;
}

static int
decode_packet(const uint8_t *buf, size_t len, ProtobufCAllocator *al,
    struct ns_record *rec, uint64_t *bad)
{
	V1__PacketInfo *pi;
	enum ns_natsmsg_reason r;

	if ((pi = v1__packet_info__unpack(al, len, buf)) == NULL) {
		count(bad, NS_NATSMSG_MALFORMED);
		return -EBADMSG;
	}
	if ((r = check_packet(pi)) == NS_NATSMSG_OK)
		to_record(pi, rec);
	v1__packet_info__free_unpacked(pi, al);
	if (r != NS_NATSMSG_OK) {
		count(bad, r);
		return -EBADMSG;
	}
	return 1;
}

/*
 * A batch is walked here, field by field, and each packet unpacked on its
 * own with the stack arena: unpacking the whole PacketBatch at once
 * outgrows the arena and costs a malloc per field (4.5 times slower per
 * packet, measured).  What protobuf-c would refuse is refused here too:
 * a truncated or overlong varint, a length past the end, a field number 0,
 * the group wire types.
 */
struct pb_cursor {
	const uint8_t	*p, *end;
};

static int
get_varint(struct pb_cursor *c, uint64_t *v)
{
	unsigned shift;

	*v = 0;
	for (shift = 0; shift < 64 && c->p < c->end; shift += 7) {
		uint8_t b = *c->p++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			return 0;
	}
	return -EBADMSG;
}

/* The next field; *elem and *elen set for a packet, *elem NULL if not. */
static int
next_field(struct pb_cursor *c, const uint8_t **elem, size_t *elen)
{
	uint64_t tag, v;
	size_t skip;

	*elem = NULL;
	if (get_varint(c, &tag) != 0 || (tag >> 3) == 0)
		return -EBADMSG;
	switch (tag & 7) {
	case 0:
		return get_varint(c, &v);
	case 1:
		skip = 8;
		break;
	case 5:
		skip = 4;
		break;
	case 2:
		if (get_varint(c, &v) != 0)
			return -EBADMSG;
		skip = (size_t)v;
		if (v > (uint64_t)(c->end - c->p))
			return -EBADMSG;
		if (tag == BATCH_TAG) {
			*elem = c->p;
			*elen = skip;
		}
		break;
	default:
		return -EBADMSG;
	}
	if (skip > (size_t)(c->end - c->p))
		return -EBADMSG;
	c->p += skip;
	return 0;
}

/* How many packets the batch holds, or -EBADMSG when it is malformed. */
static int
batch_count(const uint8_t *buf, size_t len)
{
	struct pb_cursor c = { buf, buf + len };
	const uint8_t *elem;
	size_t elen;
	int n = 0;

	while (c.p < c.end) {
		if (next_field(&c, &elem, &elen) != 0)
			return -EBADMSG;
		n += elem != NULL;
	}
	return n;
}

static int
decode_batch(const uint8_t *buf, size_t len, ProtobufCAllocator *al,
    struct ns_record *recs, size_t cap, uint64_t *bad)
{
	struct pb_cursor c = { buf, buf + len };
	struct arena *a = al->allocator_data;
	const uint8_t *elem;
	size_t elen;
	int total = batch_count(buf, len), n = 0;

	if (total < 0 || total == 0 || (size_t)total > cap ||
	    total > NS_NATSMSG_MAX_BATCH) {
		count(bad, total < 0 ? NS_NATSMSG_MALFORMED : total == 0 ?
		    NS_NATSMSG_EMPTY_BATCH : NS_NATSMSG_OVERSIZE);
		return -EBADMSG;
	}
	while (c.p < c.end) {
		(void)next_field(&c, &elem, &elen);	/* checked above */
		if (elem == NULL)
			continue;
		a->used = 0;
		if (decode_packet(elem, elen, al, &recs[n], bad) == 1)
			n++;
	}
	return n;
}

int
ns_natsmsg_decode(const void *buf, size_t len, enum ns_natsmsg_kind kind,
    struct ns_record *recs, size_t cap, uint64_t bad[NS_NATSMSG_NREASONS])
{
	struct arena a;
	ProtobufCAllocator al = { arena_alloc, arena_free, &a };

	a.used = 0;
	if (len > NS_NATSMSG_MAX_MSG || cap == 0) {
		count(bad, NS_NATSMSG_OVERSIZE);
		return -EBADMSG;
	}
	switch (kind) {
	case NS_NATSMSG_PACKET:
		return decode_packet(buf, len, &al, recs, bad);
	case NS_NATSMSG_BATCH:
		return decode_batch(buf, len, &al, recs, cap, bad);
	default:
		count(bad, NS_NATSMSG_BAD_TYPE);
		return -EBADMSG;
	}
}
