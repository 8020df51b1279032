/*
 * natsenc.c -- the NATS writer's snapshot messages, whole and in chunks
 * (natsenc.h).
 *
 * A whole snapshot is built field by field as the records come, each
 * record packed by protobuf-c and framed by hand (tag, length): holding a
 * million records as protobuf-c structs first would cost several times
 * the bytes.  Splitting walks the message's top-level fields without
 * decoding the records: a repeated field is its entries one after
 * another, so a run of them is a valid repeated field too.
 */
#include "natsenc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/netspectra.pb-c.h"

/* Top-level field numbers (proto/netspectra.proto). */
#define F_HEADER	1
#define F_FLOWS		2	/* FlowSnapshot.flows */
#define F_HH_KIND	2	/* HeavyHitterSnapshot.kind */
#define F_HH_ELEMS	3	/* HeavyHitterSnapshot.element_fields */
#define F_HITTERS	4	/* HeavyHitterSnapshot.hitters */

#define WT_VARINT	0
#define WT_I64		1
#define WT_LEN		2
#define WT_I32		5

#define VARINT_MAX	10
/* Bytes a chunk's header may take beyond the whole snapshot's: the two
 * chunk fields at their largest, and a longer length prefix. */
#define CHUNK_EXTRA	(2 * (1 + 5) + 1)

/* ---- wire primitives ---------------------------------------------------- */

static size_t
varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *
put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* A varint at *p (before end): 0, or -EBADMSG when cut or too long. */
static int
get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	unsigned shift;

	*v = 0;
	for (shift = 0; shift < 64 && *p < end; shift += 7) {
		*v |= (uint64_t)(**p & 0x7f) << shift;
		if ((*(*p)++ & 0x80) == 0)
			return 0;
	}
	return -EBADMSG;
}

/* One top-level field: its whole span, and its value for WT_LEN. */
struct enc_field {
	uint32_t	 num;
	unsigned	 wt;
	const uint8_t	*start, *end;
	const uint8_t	*val;
	size_t		 vlen;
};

/* The field at *p, which moves past it: 0, or -EBADMSG. */
static int
next_field(const uint8_t **p, const uint8_t *end, struct enc_field *f)
{
	uint64_t tag, n;
	size_t skip;

	f->start = *p;
	if (get_varint(p, end, &tag) != 0 || (tag >> 3) == 0 ||
	    (tag >> 3) > UINT32_MAX)
		return -EBADMSG;
	f->num = (uint32_t)(tag >> 3);
	f->wt = (unsigned)(tag & 7);
	switch (f->wt) {
	case WT_VARINT:
		if (get_varint(p, end, &n) != 0)
			return -EBADMSG;
		skip = 0;
		break;
	case WT_I64:
		skip = 8;
		break;
	case WT_I32:
		skip = 4;
		break;
	case WT_LEN:
		if (get_varint(p, end, &n) != 0)
			return -EBADMSG;
		if (n > (uint64_t)(end - *p))
			return -EBADMSG;
		skip = (size_t)n;
		break;
	default:
		return -EBADMSG;	/* groups: never written by anyone */
	}
	if (skip > (size_t)(end - *p))
		return -EBADMSG;
	f->val = *p;
	f->vlen = skip;
	*p += skip;
	f->end = *p;
	return 0;
}

/* ---- building a whole snapshot ------------------------------------------ */

static int
enc_reserve(struct ns_natsenc *e, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (e->nomem)
		return -ENOMEM;
	if (e->len + n <= e->cap)
		return 0;
	cap = e->cap ? e->cap : 4096;
	while (cap < e->len + n)
		cap *= 2;
	if ((p = realloc(e->buf, cap)) == NULL) {
		e->nomem = 1;
		return -ENOMEM;
	}
	e->buf = p;
	e->cap = cap;
	return 0;
}

static int
enc_tag_len(struct ns_natsenc *e, uint32_t num, size_t len)
{
	uint8_t *p;

	if (enc_reserve(e, 2 * VARINT_MAX + len) != 0)
		return -ENOMEM;
	p = put_varint(e->buf + e->len, (uint64_t)num << 3 | WT_LEN);
	p = put_varint(p, len);
	e->len = (size_t)(p - e->buf);
	return 0;
}

static int
enc_bytes(struct ns_natsenc *e, uint32_t num, const void *v, size_t len)
{
	if (enc_tag_len(e, num, len) != 0)
		return -ENOMEM;
	memcpy(e->buf + e->len, v, len);
	e->len += len;
	return 0;
}

/* A packed protobuf-c message as field num. */
static int
enc_message(struct ns_natsenc *e, uint32_t num, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);

	if (enc_tag_len(e, num, len) != 0)
		return -ENOMEM;
	e->len += protobuf_c_message_pack(m, e->buf + e->len);
	return 0;
}

/* Field names as the configuration spells them ("SrcNet/24"). */
static size_t
enc_names(const struct ns_config_fields *f, char names[][32], char **v)
{
	unsigned i;

	for (i = 0; f != NULL && i < f->n; i++)
		v[i] = (char *)ns_config_keyfield_format(&f->f[i], names[i],
		    32);
	return f != NULL ? f->n : 0;
}

static int
enc_header(struct ns_natsenc *e, const struct ns_natsenc_hdr *hdr)
{
	Netspectra__SnapshotHeader h = NETSPECTRA__SNAPSHOT_HEADER__INIT;
	char names[NS_CONFIG_MAX_FIELDS][32], *v[NS_CONFIG_MAX_FIELDS];

	h.task = (char *)hdr->task;
	h.node = (char *)hdr->node;
	h.generation = (char *)hdr->generation;
	h.period_start_ns = hdr->period_start_ns;
	h.snapshot_ns = hdr->snapshot_ns;
	h.final = hdr->final != 0;
	h.n_key_fields = enc_names(hdr->key_fields, names, v);
	h.key_fields = v;
	return enc_message(e, F_HEADER, &h.base);
}

/* A heavy-hitter snapshot's kind and element fields: in every chunk. */
static int
enc_hh_common(struct ns_natsenc *e, const struct ns_natsenc_hdr *hdr)
{
	char names[NS_CONFIG_MAX_FIELDS][32], *v[NS_CONFIG_MAX_FIELDS];
	size_t i, n;
	uint8_t *p;

	/* proto3: the default (count) is not written. */
	if (hdr->hh_kind != 0) {
		if (enc_reserve(e, 1 + VARINT_MAX) != 0)
			return -ENOMEM;
		p = put_varint(e->buf + e->len, F_HH_KIND << 3 | WT_VARINT);
		p = put_varint(p, hdr->hh_kind);
		e->len = (size_t)(p - e->buf);
	}
	n = enc_names(hdr->element_fields, names, v);
	for (i = 0; i < n; i++)
		if (enc_bytes(e, F_HH_ELEMS, v[i], strlen(v[i])) != 0)
			return -ENOMEM;
	return 0;
}

int
ns_natsenc_begin(struct ns_natsenc *e, enum ns_natsenc_kind kind,
    const struct ns_natsenc_hdr *hdr)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	if (enc_header(e, hdr) != 0 ||
	    (kind == NS_NATSENC_HH && enc_hh_common(e, hdr) != 0)) {
		ns_natsenc_free(e);
		return -ENOMEM;
	}
	return 0;
}

void
ns_natsenc_free(struct ns_natsenc *e)
{
	free(e->buf);
	memset(e, 0, sizeof(*e));
}

/* ---- keys --------------------------------------------------------------- */

/* Room for a key's two addresses, which FlowKey points into. */
struct enc_key {
	Netspectra__FlowKey	 k;
	uint8_t			 src[16], dst[16];
};

/* An address as 4 bytes (IPv4, from its mapped form) or 16. */
static void
enc_addr(ProtobufCBinaryData *d, uint8_t *room, const uint8_t *a, int ipver)
{
	size_t n = ipver == 4 ? 4 : 16;

	memcpy(room, ipver == 4 ? a + 12 : a, n);
	d->data = room;
	d->len = n;
}

static uint32_t
be16(const uint8_t *k)
{
	return (uint32_t)k[0] << 8 | k[1];
}

static unsigned
prefix_len(const struct ns_config_keyfield *kf, int ipver)
{
	return ipver == 4 ? kf->v4len : kf->v6len;
}

/*
 * One field into the FlowKey.  A key holding both SrcIP and SrcNet (a
 * legal if odd configuration) has one src_ip to give: the address wins,
 * the prefix length still says a network was keyed too.
 */
static void
enc_key_field(struct enc_key *ek, const struct ns_config_keyfield *kf,
    const uint8_t *k, int ipver)
{
	Netspectra__FlowKey *fk = &ek->k;

	switch (kf->field) {
	case NS_CONFIG_FIELD_SRCIP:
		enc_addr(&fk->src_ip, ek->src, k, ipver);
		break;
	case NS_CONFIG_FIELD_DSTIP:
		enc_addr(&fk->dst_ip, ek->dst, k, ipver);
		break;
	case NS_CONFIG_FIELD_SRCNET:
		if (fk->src_ip.len == 0)
			enc_addr(&fk->src_ip, ek->src, k, ipver);
		fk->src_prefix_len = prefix_len(kf, ipver);
		break;
	case NS_CONFIG_FIELD_DSTNET:
		if (fk->dst_ip.len == 0)
			enc_addr(&fk->dst_ip, ek->dst, k, ipver);
		fk->dst_prefix_len = prefix_len(kf, ipver);
		break;
	case NS_CONFIG_FIELD_SRCPORT:
		fk->src_port = be16(k);
		break;
	case NS_CONFIG_FIELD_DSTPORT:
		fk->dst_port = be16(k);
		break;
	case NS_CONFIG_FIELD_VLAN:
		fk->vlan = be16(k);
		break;
	case NS_CONFIG_FIELD_PROTOCOL:
		fk->protocol = *k;
		break;
	case NS_CONFIG_FIELD_IPVERSION:
		fk->ip_version = *k;
		break;
	default:
		fk->dscp = *k;
		break;
	}
}

static void
enc_key(struct enc_key *ek, const struct ns_task *t, const uint8_t *key)
{
	int ipver = ns_task_key_ipver(t, key);
	unsigned i;

	memset(ek, 0, sizeof(*ek));
	netspectra__flow_key__init(&ek->k);
	ek->k.ip_version = (uint32_t)ipver;
	for (i = 0; i < t->fields.n; i++)
		enc_key_field(ek, &t->fields.f[i], ns_task_key_field(t, key, i),
		    ipver);
}

/* ---- records ------------------------------------------------------------- */

int
ns_natsenc_flow(struct ns_natsenc *e, const struct ns_task *t,
    const struct ns_flow *f)
{
	Netspectra__FlowRecord r = NETSPECTRA__FLOW_RECORD__INIT;
	struct enc_key ek;

	enc_key(&ek, t, f->key);
	r.key = &ek.k;
	r.packets = f->packets;
	r.bytes = f->bytes;
	r.first_seen_ns = f->first_ns;
	r.last_seen_ns = f->last_ns;
	r.tcp_flags = f->tcp_flags;
	if (enc_message(e, F_FLOWS, &r.base) != 0)
		return -ENOMEM;
	e->records++;
	return 0;
}

/* The key's fields as text joined by spaces, as Go2NetSpectra's Flow. */
static void
enc_flow_text(const struct ns_task *t, const uint8_t *key, char *buf,
    size_t len)
{
	char text[NS_TASK_TEXT_MAX];
	size_t n = 0;
	unsigned i;

	buf[0] = '\0';
	for (i = 0; i < t->fields.n && n < len; i++) {
		if (ns_task_key_text(t, key, i, text, sizeof(text)) != 0)
			text[0] = '\0';
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? " " : "",
		    text);
	}
}

int
ns_natsenc_hitter(struct ns_natsenc *e, const struct ns_task *t,
    const uint8_t *key, uint64_t value, uint64_t err_bound)
{
	Netspectra__HeavyHitter h = NETSPECTRA__HEAVY_HITTER__INIT;
	char flow[NS_CONFIG_MAX_FIELDS * (NS_TASK_TEXT_MAX + 1)];
	struct enc_key ek;

	enc_key(&ek, t, key);
	enc_flow_text(t, key, flow, sizeof(flow));
	h.key = &ek.k;
	h.value = value;
	h.error_bound = err_bound;
	h.flow = flow;
	if (enc_message(e, F_HITTERS, &h.base) != 0)
		return -ENOMEM;
	e->records++;
	return 0;
}

/* ---- reading a whole snapshot ------------------------------------------- */

static uint32_t
records_field(enum ns_natsenc_kind kind)
{
	return kind == NS_NATSENC_FLOWS ? F_FLOWS : F_HITTERS;
}

/* What a split needs of a whole snapshot, from one walk over it. */
struct enc_scan {
	const uint8_t	*hdr;		/* the header's value */
	size_t		 hdr_len;
	size_t		 common_len;	/* fields every chunk repeats */
	uint64_t	 records;
};

static int
enc_scan(enum ns_natsenc_kind kind, const void *msg, size_t len,
    struct enc_scan *s)
{
	const uint8_t *p = msg, *end = p + len;
	struct enc_field f;
	uint32_t rf = records_field(kind);

	memset(s, 0, sizeof(*s));
	while (p < end) {
		if (next_field(&p, end, &f) != 0)
			return -EBADMSG;
		if (f.num == F_HEADER) {
			/* Two would merge; we never write that. */
			if (f.wt != WT_LEN || s->hdr != NULL)
				return -EBADMSG;
			s->hdr = f.val;
			s->hdr_len = f.vlen;
		} else if (f.num == rf) {
			if (f.wt != WT_LEN)
				return -EBADMSG;
			s->records++;
		} else if (kind == NS_NATSENC_HH && f.num == F_HH_KIND &&
		    f.wt != WT_VARINT) {
			return -EBADMSG;	/* a FlowSnapshot's flows */
		} else {
			s->common_len += (size_t)(f.end - f.start);
		}
	}
	return s->hdr != NULL ? 0 : -EBADMSG;
}

static Netspectra__SnapshotHeader *
enc_unpack_header(const struct enc_scan *s)
{
	return netspectra__snapshot_header__unpack(NULL, s->hdr_len, s->hdr);
}

int
ns_natsenc_info(enum ns_natsenc_kind kind, const void *msg, size_t len,
    struct ns_natsenc_info *info)
{
	Netspectra__SnapshotHeader *h;
	struct enc_scan s;

	memset(info, 0, sizeof(*info));
	if (enc_scan(kind, msg, len, &s) != 0 ||
	    (h = enc_unpack_header(&s)) == NULL)
		return -EBADMSG;
	snprintf(info->task, sizeof(info->task), "%s", h->task);
	info->period_start_ns = h->period_start_ns;
	info->snapshot_ns = h->snapshot_ns;
	info->final = h->final;
	info->records = s.records;
	netspectra__snapshot_header__free_unpacked(h, NULL);
	return 0;
}

/* ---- chunks ---------------------------------------------------------- */

struct enc_split {
	enum ns_natsenc_kind	 kind;
	const uint8_t		*msg;
	size_t			 len, max;
	Netspectra__SnapshotHeader *h;
	size_t			 overhead;	/* header and common, at most */
	unsigned		 count;
	uint8_t			*out;
	size_t			 used;
};

/* What a chunk costs before its records, at the largest chunk fields. */
static size_t
split_overhead(struct enc_split *x, const struct enc_scan *s)
{
	size_t n;

	x->h->chunk_index = x->h->chunk_count = UINT32_MAX;
	n = netspectra__snapshot_header__get_packed_size(x->h);
	return 1 + varint_len(n) + n + s->common_len;
}

/* Start chunk i: its header, then the fields every chunk repeats. */
static void
split_start(struct enc_split *x, unsigned i)
{
	const uint8_t *p = x->msg, *end = p + x->len;
	uint32_t rf = records_field(x->kind);
	struct enc_field f;
	uint8_t *o = x->out;
	size_t n;

	x->h->chunk_index = i;
	x->h->chunk_count = x->count;
	n = netspectra__snapshot_header__get_packed_size(x->h);
	o = put_varint(o, F_HEADER << 3 | WT_LEN);
	o = put_varint(o, n);
	o += netspectra__snapshot_header__pack(x->h, o);
	/* Walked already by enc_scan: every field parses. */
	while (p < end && next_field(&p, end, &f) == 0)
		if (f.num != F_HEADER && f.num != rf) {
			memcpy(o, f.start, (size_t)(f.end - f.start));
			o += f.end - f.start;
		}
	x->used = (size_t)(o - x->out);
}

/*
 * The greedy cut, run twice: counting (emit 0), then building and handing
 * out each chunk.  A chunk takes records while they fit, and always one.
 */
static int
split_walk(struct enc_split *x, int emit, ns_natsenc_chunk_fn fn, void *arg)
{
	const uint8_t *p = x->msg, *end = p + x->len;
	uint32_t rf = records_field(x->kind);
	size_t cur = 0, sz;
	unsigned i = 0, inchunk = 0;
	struct enc_field f;
	int rc;

	if (emit)
		split_start(x, 0);
	while (p < end && next_field(&p, end, &f) == 0) {
		if (f.num != rf)
			continue;
		sz = (size_t)(f.end - f.start);
		if (x->overhead + sz > x->max)
			return -EMSGSIZE;
		if (inchunk > 0 && x->overhead + cur + sz > x->max) {
			if (emit && (rc = fn(arg, x->out, x->used, i,
			    x->count)) != 0)
				return rc;
			i++;
			cur = 0;
			inchunk = 0;
			if (emit)
				split_start(x, i);
		}
		if (emit) {
			memcpy(x->out + x->used, f.start, sz);
			x->used += sz;
		}
		cur += sz;
		inchunk++;
	}
	if (emit)
		return fn(arg, x->out, x->used, i, x->count);
	x->count = i + 1;
	return 0;
}

int
ns_natsenc_split(enum ns_natsenc_kind kind, const void *msg, size_t len,
    size_t max, ns_natsenc_chunk_fn fn, void *arg)
{
	struct enc_split x = { .kind = kind, .msg = msg, .len = len,
	    .max = max };
	struct enc_scan s;
	size_t room;
	int rc;

	if (enc_scan(kind, msg, len, &s) != 0 ||
	    (x.h = enc_unpack_header(&s)) == NULL)
		return -EBADMSG;
	x.overhead = split_overhead(&x, &s);
	if (x.overhead > max) {
		rc = -EMSGSIZE;
		goto out;
	}
	if ((rc = split_walk(&x, 0, NULL, NULL)) != 0)
		goto out;
	/* A chunk is never larger than the whole plus its chunk fields. */
	room = len + CHUNK_EXTRA;
	if ((x.out = malloc(room < max ? room : max)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = split_walk(&x, 1, fn, arg);
out:
	free(x.out);
	netspectra__snapshot_header__free_unpacked(x.h, NULL);
	return rc != 0 ? rc : (int)x.count;
}
