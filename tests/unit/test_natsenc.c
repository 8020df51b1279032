/*
 * test_natsenc.c -- the NATS writer's messages (exporters/natsenc.c): a
 * whole snapshot decodes with protobuf-c to the flows and heavy hitters
 * put in (keys as values: 4-byte IPv4, 16-byte IPv6, networks with their
 * prefix, ports, VLAN, DSCP), and its chunks, for every max_payload from
 * the smallest that holds one record up to the whole, are each within the
 * limit, full (the next record would not have fitted), numbered 0..n-1 of
 * n, carry the same header and repeated fields, and give back every record
 * once, in order.  Refusals: garbage, a cut message, a limit below one
 * record, a callback that stops the split.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "natsenc.h"
#include "parse.h"
#include "proto/netspectra.pb-c.h"

#define NFLOWS	40
#define SLACK	10	/* two chunk fields at 5-byte varints, less 1 each */

static void
set_v4(uint8_t a[16], uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	a[12] = b0, a[13] = b1, a[14] = b2, a[15] = b3;
}

static struct ns_config_fields
fields5(void)
{
	struct ns_config_fields f = { .n = 5 };

	f.f[0].field = NS_CONFIG_FIELD_SRCIP;
	f.f[1].field = NS_CONFIG_FIELD_DSTIP;
	f.f[2].field = NS_CONFIG_FIELD_SRCPORT;
	f.f[3].field = NS_CONFIG_FIELD_DSTPORT;
	f.f[4].field = NS_CONFIG_FIELD_PROTOCOL;
	return f;
}

static struct ns_task
task_of(const struct ns_config_fields *f)
{
	struct ns_task t;
	char err[128];

	cr_assert_eq(ns_task_init_fields(&t, "t", f, err, sizeof(err)), 0,
	    "%s", err);
	return t;
}

/* Flow i: IPv4 for even i, IPv6 for odd, counters from i. */
static struct ns_record
rec_of(unsigned i)
{
	struct ns_record r;

	memset(&r, 0, sizeof(r));
	r.kind = NS_REC_PACKET;
	if (i % 2 == 0) {
		set_v4(r.src, 10, 0, (uint8_t)(i >> 8), (uint8_t)i);
		set_v4(r.dst, 192, 168, 1, 2);
		r.ipver = 4;
	} else {
		r.src[0] = 0x20, r.src[1] = 0x01, r.src[14] = (uint8_t)(i >> 8);
		r.src[15] = (uint8_t)i;
		r.dst[0] = 0xfe, r.dst[1] = 0x80, r.dst[15] = 1;
		r.ipver = 6;
	}
	r.sport = (uint16_t)(1000 + i);
	r.dport = 443;
	r.proto = i % 3 == 0 ? 17 : 6;
	r.vlan = (uint16_t)(100 + i);
	r.dscp = 46;
	return r;
}

static struct ns_flow
flow_of(const struct ns_task *t, unsigned i)
{
	struct ns_record r = rec_of(i);
	struct ns_flow f;

	memset(&f, 0, sizeof(f));
	ns_task_key_build(t, &r, f.key);
	f.key_size = t->key_size;
	f.packets = 10 + i;
	f.bytes = 1000 * (uint64_t)(i + 1);
	f.first_ns = 1767225600ULL * 1000000000ULL + i;
	f.last_ns = f.first_ns + 5000000000ULL;
	f.tcp_flags = (uint8_t)(i & 0x3f);
	return f;
}

static struct ns_natsenc_hdr
hdr_of(const struct ns_config_fields *kf, int final)
{
	struct ns_natsenc_hdr h = {
		.task = "per_five_tuple", .node = "node-a",
		.generation = "1767225600000000000.7",
		.period_start_ns = 1767225600ULL * 1000000000ULL,
		.snapshot_ns = 1767225601ULL * 1000000000ULL,
		.final = final, .key_fields = kf,
	};

	return h;
}

/* A whole flow snapshot of n flows of the 5-tuple task. */
static void
build_flows(struct ns_natsenc *e, struct ns_task *t, unsigned n)
{
	struct ns_config_fields kf = fields5();
	struct ns_natsenc_hdr h = hdr_of(&kf, 1);
	struct ns_flow f;
	unsigned i;

	*t = task_of(&kf);
	cr_assert_eq(ns_natsenc_begin(e, NS_NATSENC_FLOWS, &h), 0);
	for (i = 0; i < n; i++) {
		f = flow_of(t, i);
		cr_assert_eq(ns_natsenc_flow(e, t, &f), 0);
	}
	cr_assert_eq(e->records, n);
}

static void
assert_record(const Netspectra__FlowRecord *r, const struct ns_task *t,
    unsigned i)
{
	struct ns_flow f = flow_of(t, i);
	struct ns_record rec = rec_of(i);
	size_t alen = rec.ipver == 4 ? 4 : 16;
	const uint8_t *src = rec.ipver == 4 ? rec.src + 12 : rec.src;

	cr_assert_not_null(r->key);
	cr_assert_eq(r->key->src_ip.len, alen, "flow %u", i);
	cr_assert_arr_eq(r->key->src_ip.data, src, alen);
	cr_assert_eq(r->key->dst_ip.len, alen);
	cr_assert_eq(r->key->src_port, rec.sport);
	cr_assert_eq(r->key->dst_port, rec.dport);
	cr_assert_eq(r->key->protocol, rec.proto);
	cr_assert_eq(r->key->ip_version, rec.ipver);
	cr_assert_eq(r->key->vlan, 0, "not a key field: unset");
	cr_assert_eq(r->packets, f.packets);
	cr_assert_eq(r->bytes, f.bytes);
	cr_assert_eq(r->first_seen_ns, f.first_ns);
	cr_assert_eq(r->last_seen_ns, f.last_ns);
	cr_assert_eq(r->tcp_flags, f.tcp_flags);
}

Test(natsenc, whole_flow_snapshot_decodes)
{
	Netspectra__FlowSnapshot *m;
	struct ns_natsenc e;
	struct ns_task t;
	unsigned i;

	build_flows(&e, &t, NFLOWS);
	m = netspectra__flow_snapshot__unpack(NULL, e.len, e.buf);
	cr_assert_not_null(m, "not a FlowSnapshot");
	cr_assert_str_eq(m->header->task, "per_five_tuple");
	cr_assert_str_eq(m->header->node, "node-a");
	cr_assert_str_eq(m->header->generation, "1767225600000000000.7");
	cr_assert_eq(m->header->period_start_ns, 1767225600ULL * 1000000000ULL);
	cr_assert_eq(m->header->snapshot_ns, 1767225601ULL * 1000000000ULL);
	cr_assert(m->header->final);
	cr_assert_eq(m->header->chunk_count, 0, "a whole snapshot: unset");
	cr_assert_eq(m->header->n_key_fields, 5);
	cr_assert_str_eq(m->header->key_fields[0], "SrcIP");
	cr_assert_str_eq(m->header->key_fields[4], "Protocol");
	cr_assert_eq(m->n_flows, NFLOWS);
	for (i = 0; i < NFLOWS; i++)
		assert_record(m->flows[i], &t, i);
	netspectra__flow_snapshot__free_unpacked(m, NULL);
	ns_natsenc_free(&e);
}

Test(natsenc, other_key_fields)
{
	struct ns_config_fields kf = { .n = 4 };
	Netspectra__FlowSnapshot *m;
	struct ns_natsenc_hdr h;
	struct ns_natsenc e;
	struct ns_record r = rec_of(3);		/* IPv6 */
	struct ns_flow f;
	struct ns_task t;
	static const uint8_t net48[16] = { 0x20, 0x01 };

	kf.f[0].field = NS_CONFIG_FIELD_SRCNET;
	kf.f[0].v4len = 24;
	kf.f[0].v6len = 48;
	kf.f[1].field = NS_CONFIG_FIELD_VLAN;
	kf.f[2].field = NS_CONFIG_FIELD_DSCP;
	kf.f[3].field = NS_CONFIG_FIELD_IPVERSION;
	t = task_of(&kf);
	h = hdr_of(&kf, 0);
	memset(&f, 0, sizeof(f));
	ns_task_key_build(&t, &r, f.key);
	f.packets = 1;
	cr_assert_eq(ns_natsenc_begin(&e, NS_NATSENC_FLOWS, &h), 0);
	cr_assert_eq(ns_natsenc_flow(&e, &t, &f), 0);
	m = netspectra__flow_snapshot__unpack(NULL, e.len, e.buf);
	cr_assert_not_null(m);
	cr_assert_not(m->header->final);
	cr_assert_str_eq(m->header->key_fields[0], "SrcNet/24/48");
	cr_assert_str_eq(m->header->key_fields[3], "IPVersion");
	cr_assert_eq(m->flows[0]->key->src_ip.len, 16);
	cr_assert_arr_eq(m->flows[0]->key->src_ip.data, net48, 16);
	cr_assert_eq(m->flows[0]->key->src_prefix_len, 48);
	cr_assert_eq(m->flows[0]->key->dst_ip.len, 0);
	cr_assert_eq(m->flows[0]->key->vlan, r.vlan);
	cr_assert_eq(m->flows[0]->key->dscp, 46);
	cr_assert_eq(m->flows[0]->key->ip_version, 6);
	cr_assert_eq(m->flows[0]->key->src_port, 0);
	netspectra__flow_snapshot__free_unpacked(m, NULL);
	ns_natsenc_free(&e);
}

/* ---- chunks ---------------------------------------------------------- */

struct got {
	size_t		 max;
	unsigned	 n, count;
	size_t		 sizes[NFLOWS + 1];
	unsigned	 firsts[NFLOWS + 1];	/* first record of each */
	unsigned	 next;			/* records seen so far */
	const struct ns_task *t;
	int		 hh;
	int		 stop_at;	/* return -EPIPE at this chunk */
};

static void
check_flow_chunk(struct got *g, const void *buf, size_t len)
{
	Netspectra__FlowSnapshot *m;
	size_t i;

	m = netspectra__flow_snapshot__unpack(NULL, len, buf);
	cr_assert_not_null(m, "chunk %u does not decode", g->n);
	cr_assert_str_eq(m->header->task, "per_five_tuple");
	cr_assert_str_eq(m->header->generation, "1767225600000000000.7");
	cr_assert(m->header->final);
	cr_assert_eq(m->header->n_key_fields, 5);
	cr_assert_eq(m->header->chunk_index, g->n);
	cr_assert_eq(m->header->chunk_count, g->count);
	for (i = 0; i < m->n_flows; i++)
		assert_record(m->flows[i], g->t, g->next + (unsigned)i);
	g->next += (unsigned)m->n_flows;
	netspectra__flow_snapshot__free_unpacked(m, NULL);
}

static int
on_chunk(void *arg, const void *buf, size_t len, unsigned index,
    unsigned count)
{
	struct got *g = arg;

	if (g->n == 0)
		g->count = count;
	cr_assert_eq(index, g->n);
	cr_assert_eq(count, g->count);
	cr_assert_leq(len, g->max, "chunk %u: %zu bytes over %zu", index, len,
	    g->max);
	if (g->stop_at >= 0 && (int)index == g->stop_at)
		return -EPIPE;
	g->sizes[g->n] = len;
	g->firsts[g->n] = g->next;
	if (!g->hh)
		check_flow_chunk(g, buf, len);
	g->n++;
	return 0;
}

/* The size of flow i as a field of the snapshot (tag, length, body). */
static size_t
record_size(const struct ns_task *t, unsigned i)
{
	struct ns_natsenc e;
	struct ns_config_fields kf = fields5();
	struct ns_natsenc_hdr h = hdr_of(&kf, 1);
	struct ns_flow f = flow_of(t, i);
	size_t base, n;

	cr_assert_eq(ns_natsenc_begin(&e, NS_NATSENC_FLOWS, &h), 0);
	base = e.len;
	cr_assert_eq(ns_natsenc_flow(&e, t, &f), 0);
	n = e.len - base;
	ns_natsenc_free(&e);
	return n;
}

Test(natsenc, chunks_at_every_limit)
{
	struct ns_natsenc e;
	struct ns_task t;
	struct got g;
	size_t max, lo = 0;
	int n;

	build_flows(&e, &t, NFLOWS);
	/* Below the smallest limit that holds one record: refused. */
	for (max = 64; max < e.len + 64; max++) {
		memset(&g, 0, sizeof(g));
		g.max = max;
		g.t = &t;
		g.stop_at = -1;
		n = ns_natsenc_split(NS_NATSENC_FLOWS, e.buf, e.len, max,
		    on_chunk, &g);
		if (n == -EMSGSIZE) {
			cr_assert_eq(lo, 0, "refused at %zu after taking %zu",
			    max, lo);
			continue;
		}
		if (lo == 0)
			lo = max;
		cr_assert_gt(n, 0, "max %zu: %d", max, n);
		cr_assert_eq((unsigned)n, g.n);
		cr_assert_eq(g.next, NFLOWS, "max %zu: %u records back", max,
		    g.next);
		/*
		 * Full: each chunk but the last had no room for the next
		 * record, give or take the bytes the cut reserves for the
		 * chunk fields at their largest (SLACK).
		 */
		for (unsigned c = 0; c + 1 < g.n; c++)
			cr_assert_gt(g.sizes[c] + SLACK +
			    record_size(&t, g.firsts[c + 1]), max, "max %zu: "
			    "chunk %u could have taken one more", max, c);
	}
	cr_assert_gt(lo, 0, "no limit worked");
	cr_assert_lt(lo, 300, "a header and one record need %zu bytes?", lo);
	/* The largest limit: one chunk holding everything. */
	cr_assert_eq(g.n, 1);
	ns_natsenc_free(&e);
}

Test(natsenc, empty_snapshot_is_one_chunk)
{
	struct ns_natsenc e;
	struct ns_task t;
	struct got g = { .max = 4096, .stop_at = -1 };

	build_flows(&e, &t, 0);
	g.t = &t;
	cr_assert_eq(ns_natsenc_split(NS_NATSENC_FLOWS, e.buf, e.len, 4096,
	    on_chunk, &g), 1);
	cr_assert_eq(g.next, 0);
	ns_natsenc_free(&e);
}

Test(natsenc, refusals)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0x0f, 0x07 };
	struct ns_natsenc e;
	struct ns_natsenc_info info;
	struct ns_task t;
	struct got g = { .max = 300, .stop_at = 2 };

	build_flows(&e, &t, NFLOWS);
	g.t = &t;
	cr_assert_eq(ns_natsenc_split(NS_NATSENC_FLOWS, garbage,
	    sizeof(garbage), 4096, on_chunk, &g), -EBADMSG);
	cr_assert_eq(ns_natsenc_info(NS_NATSENC_FLOWS, garbage,
	    sizeof(garbage), &info), -EBADMSG);
	/* Cut inside the last record. */
	cr_assert_eq(ns_natsenc_split(NS_NATSENC_FLOWS, e.buf, e.len - 3,
	    4096, on_chunk, &g), -EBADMSG);
	/* No header: the records alone. */
	cr_assert_eq(ns_natsenc_info(NS_NATSENC_FLOWS, e.buf + e.len -
	    record_size(&t, NFLOWS - 1), record_size(&t, NFLOWS - 1), &info),
	    -EBADMSG);
	/* Flows read as heavy hitters: field 2 is kind, a varint, there. */
	cr_assert_eq(ns_natsenc_info(NS_NATSENC_HH, e.buf, e.len, &info),
	    -EBADMSG);
	cr_assert_eq(ns_natsenc_split(NS_NATSENC_FLOWS, e.buf, e.len, 40,
	    on_chunk, &g), -EMSGSIZE);
	/* The callback's refusal stops the split, and comes back. */
	cr_assert_eq(ns_natsenc_split(NS_NATSENC_FLOWS, e.buf, e.len, 300,
	    on_chunk, &g), -EPIPE);
	cr_assert_eq(g.n, 2, "stopped at chunk 2");
	cr_assert_eq(ns_natsenc_info(NS_NATSENC_FLOWS, e.buf, e.len, &info), 0);
	cr_assert_str_eq(info.task, "per_five_tuple");
	cr_assert_eq(info.records, NFLOWS);
	cr_assert(info.final);
	ns_natsenc_free(&e);
}

/* ---- heavy hitters ------------------------------------------------------ */

struct hh_got {
	unsigned	 n, next;
	const struct ns_task *t;
};

static int
on_hh_chunk(void *arg, const void *buf, size_t len, unsigned index,
    unsigned count)
{
	struct hh_got *g = arg;
	Netspectra__HeavyHitterSnapshot *m;
	char want[64];
	size_t i;

	cr_assert_leq(len, 256);
	m = netspectra__heavy_hitter_snapshot__unpack(NULL, len, buf);
	cr_assert_not_null(m);
	cr_assert_eq(m->header->chunk_index, index);
	cr_assert_eq(m->header->chunk_count, count);
	cr_assert_str_eq(m->header->task, "spreaders");
	/* Repeated in every chunk: a chunk says what it holds. */
	cr_assert_eq(m->kind, NETSPECTRA__HEAVY_HITTER_SNAPSHOT__KIND__SPREAD);
	cr_assert_eq(m->n_element_fields, 1);
	cr_assert_str_eq(m->element_fields[0], "DstIP");
	cr_assert_gt(m->n_hitters, 0);
	for (i = 0; i < m->n_hitters; i++, g->next++) {
		snprintf(want, sizeof(want), "10.0.%u.%u", g->next >> 8,
		    g->next & 0xff);
		cr_assert_str_eq(m->hitters[i]->flow, want);
		cr_assert_eq(m->hitters[i]->value, 1000 - g->next);
		cr_assert_eq(m->hitters[i]->error_bound, g->next);
		cr_assert_eq(m->hitters[i]->key->src_ip.len, 4);
		cr_assert_eq(m->hitters[i]->key->ip_version, 4);
	}
	g->n++;
	netspectra__heavy_hitter_snapshot__free_unpacked(m, NULL);
	return 0;
}

Test(natsenc, heavy_hitters_in_chunks)
{
	struct ns_config_fields kf = { .n = 1 }, ef = { .n = 1 };
	struct ns_natsenc_hdr h;
	struct ns_natsenc e;
	struct ns_record r;
	struct ns_task t;
	struct hh_got g = { 0 };
	uint8_t key[NS_TABLE_KEY_MAX];
	unsigned i;
	int n;

	kf.f[0].field = NS_CONFIG_FIELD_SRCIP;
	ef.f[0].field = NS_CONFIG_FIELD_DSTIP;
	t = task_of(&kf);
	h = hdr_of(&kf, 1);
	h.task = "spreaders";
	h.hh_kind = 2;
	h.element_fields = &ef;
	cr_assert_eq(ns_natsenc_begin(&e, NS_NATSENC_HH, &h), 0);
	for (i = 0; i < 30; i++) {
		r = rec_of(2 * i);		/* IPv4: 10.0.0.<2i> */
		set_v4(r.src, 10, 0, (uint8_t)(i >> 8), (uint8_t)i);
		ns_task_key_build(&t, &r, key);
		cr_assert_eq(ns_natsenc_hitter(&e, &t, key, 1000 - i, i), 0);
	}
	g.t = &t;
	n = ns_natsenc_split(NS_NATSENC_HH, e.buf, e.len, 256, on_hh_chunk, &g);
	cr_assert_gt(n, 2, "30 hitters in 256-byte chunks: %d", n);
	cr_assert_eq(g.next, 30);
	ns_natsenc_free(&e);
}
