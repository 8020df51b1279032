/*
 * task.c -- exact-task keys: building them from ring records, hashing
 * them for the tables, and printing them as the configured fields.
 */
#include "task.h"

#include <errno.h>
#include <string.h>
#include <xxhash.h>

#include "addr.h"
#include "table.h"

static const uint8_t v4mapped[12] = { 0,0,0,0, 0,0,0,0, 0,0,0xff,0xff };

static uint32_t
field_size(enum ns_config_field f)
{
	switch (f) {
	case NS_CONFIG_FIELD_SRCIP:
	case NS_CONFIG_FIELD_DSTIP:
	case NS_CONFIG_FIELD_SRCNET:
	case NS_CONFIG_FIELD_DSTNET:
		return 16;
	case NS_CONFIG_FIELD_SRCPORT:
	case NS_CONFIG_FIELD_DSTPORT:
	case NS_CONFIG_FIELD_VLAN:
		return 2;
	default:
		return 1;
	}
}

static int
is_address(enum ns_config_field f)
{
	return field_size(f) == 16;
}

int
ns_task_init(struct ns_task *t, const struct ns_config_exact_task *ct,
    char *err, size_t errlen)
{
	int rc = ns_task_init_fields(t, ct->name, &ct->key_fields, err, errlen);

	t->max_flows = ct->max_flows;
	return rc;
}

int
ns_task_init_fields(struct ns_task *t, const char *name,
    const struct ns_config_fields *fields, char *err, size_t errlen)
{
	unsigned i, has_addr = 0, has_ver = 0, tuple = 0;

	memset(t, 0, sizeof(*t));
	t->name = name;
	t->fields = *fields;
	for (i = 0; i < t->fields.n; i++) {
		enum ns_config_field f = t->fields.f[i].field;

		has_addr |= is_address(f);
		has_ver |= f == NS_CONFIG_FIELD_IPVERSION;
		if (f <= NS_CONFIG_FIELD_PROTOCOL)
			tuple |= 1u << f;
		t->key_size += field_size(f);
	}
	t->hidden_ipver = has_addr && !has_ver;
	t->key_size += t->hidden_ipver;
	t->full_tuple = tuple == 0x1f;
	t->five = t->fields.n == 5 &&
	    t->fields.f[0].field == NS_CONFIG_FIELD_SRCIP &&
	    t->fields.f[1].field == NS_CONFIG_FIELD_DSTIP &&
	    t->fields.f[2].field == NS_CONFIG_FIELD_SRCPORT &&
	    t->fields.f[3].field == NS_CONFIG_FIELD_DSTPORT &&
	    t->fields.f[4].field == NS_CONFIG_FIELD_PROTOCOL;
	if (t->key_size == 0 || t->key_size > NS_TABLE_KEY_MAX) {
		snprintf(err, errlen, "task %s: key of %u bytes (at most %u)",
		    t->name, t->key_size, NS_TABLE_KEY_MAX);
		return -EINVAL;
	}
	return 0;
}

/* The network of addr: a v4-mapped address keeps its ::ffff: prefix. */
static void
put_net(uint8_t *k, const uint8_t *addr, const struct ns_config_keyfield *kf)
{
	unsigned bits, i;

	memcpy(k, addr, 16);
	bits = memcmp(addr, v4mapped, 12) == 0 ? 96u + kf->v4len : kf->v6len;
	for (i = 0; i < 16; i++, bits = bits > 8 ? bits - 8 : 0)
		if (bits < 8)
			k[i] &= (uint8_t)(0xff00u >> bits);
}

static uint8_t *
put_be16(uint8_t *k, uint16_t v)
{
	k[0] = (uint8_t)(v >> 8);
	k[1] = (uint8_t)v;
	return k + 2;
}

static uint8_t *
put_field(uint8_t *k, const struct ns_config_keyfield *kf,
    const struct ns_record *r)
{
	switch (kf->field) {
	case NS_CONFIG_FIELD_SRCIP:
		memcpy(k, r->src, 16);
		return k + 16;
	case NS_CONFIG_FIELD_DSTIP:
		memcpy(k, r->dst, 16);
		return k + 16;
	case NS_CONFIG_FIELD_SRCNET:
		put_net(k, r->src, kf);
		return k + 16;
	case NS_CONFIG_FIELD_DSTNET:
		put_net(k, r->dst, kf);
		return k + 16;
	case NS_CONFIG_FIELD_SRCPORT:
		return put_be16(k, r->sport);
	case NS_CONFIG_FIELD_DSTPORT:
		return put_be16(k, r->dport);
	case NS_CONFIG_FIELD_VLAN:
		return put_be16(k, r->vlan);
	case NS_CONFIG_FIELD_PROTOCOL:
		*k = r->proto;
		return k + 1;
	case NS_CONFIG_FIELD_IPVERSION:
		*k = r->ipver;
		return k + 1;
	default:
		*k = r->dscp;
		return k + 1;
	}
}

uint64_t
ns_task_key(const struct ns_task *t, const struct ns_record *r, uint8_t *key)
{
	ns_task_key_build(t, r, key);
	return ns_task_key_hash(t, key);
}

void
ns_task_key_build(const struct ns_task *t, const struct ns_record *r,
    uint8_t *key)
{
	uint8_t *k = key;
	unsigned i;

	if (t->five) {
		k[0] = r->ipver;	/* hidden: the key has addresses */
		memcpy(k + 1, r->src, 16);
		memcpy(k + 17, r->dst, 16);
		put_be16(k + 33, r->sport);
		put_be16(k + 35, r->dport);
		k[37] = r->proto;
		return;
	}
	if (t->hidden_ipver)
		*k++ = r->ipver;
	for (i = 0; i < t->fields.n; i++)
		k = put_field(k, &t->fields.f[i], r);
}

uint64_t
ns_task_key_hash(const struct ns_task *t, const uint8_t *key)
{
	return XXH3_64bits(key, t->key_size);
}

static int
keyfield_equal(const struct ns_config_keyfield *a,
    const struct ns_config_keyfield *b)
{
	return a->field == b->field && a->v4len == b->v4len &&
	    a->v6len == b->v6len;
}

static int
has_keyfield(const struct ns_task *t, const struct ns_config_keyfield *kf)
{
	unsigned i;

	for (i = 0; i < t->fields.n; i++)
		if (keyfield_equal(&t->fields.f[i], kf))
			return 1;
	return 0;
}

int
ns_task_same_key(const struct ns_task *a, const struct ns_task *b)
{
	unsigned i;

	if (a->fields.n != b->fields.n || a->key_size != b->key_size)
		return 0;
	for (i = 0; i < a->fields.n; i++)
		if (!keyfield_equal(&a->fields.f[i], &b->fields.f[i]))
			return 0;
	return 1;
}

/*
 * Every byte of a key is a function of one field of the record (a network
 * of its own prefix lengths), or of the IP version for the hidden byte; so
 * sub is implied when t holds each of its fields.  The IP version is in t
 * explicitly or hidden; an address of sub brings its own hidden version
 * byte, implied by the same address in t, which has one too.
 */
int
ns_task_key_implies(const struct ns_task *t, const struct ns_task *sub)
{
	const struct ns_config_keyfield *kf;
	unsigned i;

	for (i = 0; i < sub->fields.n; i++) {
		kf = &sub->fields.f[i];
		if (kf->field == NS_CONFIG_FIELD_IPVERSION && t->hidden_ipver)
			continue;
		if (!has_keyfield(t, kf))
			return 0;
	}
	return 1;
}

/* ---- output ---------------------------------------------------------- */

/* The IP version of a key's addresses: explicit, hidden, or by form. */
static int
key_ipver(const struct ns_task *t, const uint8_t *key)
{
	const uint8_t *k = key + t->hidden_ipver;
	unsigned i;

	if (t->hidden_ipver)
		return key[0];
	for (i = 0; i < t->fields.n; k += field_size(t->fields.f[i].field), i++)
		if (t->fields.f[i].field == NS_CONFIG_FIELD_IPVERSION)
			return *k;
	return 6;
}

static uint16_t
get_be16(const uint8_t *k)
{
	return (uint16_t)(k[0] << 8 | k[1]);
}

/* One value as text; quoted for JSON when it is text. */
static void
value_text(const struct ns_config_keyfield *kf, const uint8_t *k, int ipver,
    int quote, char *out, size_t len)
{
	char buf[NS_ADDR_STRLEN];
	const char *q = quote ? "\"" : "";

	switch (kf->field) {
	case NS_CONFIG_FIELD_SRCIP:
	case NS_CONFIG_FIELD_DSTIP:
		snprintf(out, len, "%s%s%s", q, ns_addr_format(k, ipver, buf,
		    sizeof(buf)), q);
		break;
	case NS_CONFIG_FIELD_SRCNET:
	case NS_CONFIG_FIELD_DSTNET:
		snprintf(out, len, "%s%s/%u%s", q, ns_addr_format(k, ipver, buf,
		    sizeof(buf)), ipver == 4 ? kf->v4len : kf->v6len, q);
		break;
	case NS_CONFIG_FIELD_SRCPORT:
	case NS_CONFIG_FIELD_DSTPORT:
	case NS_CONFIG_FIELD_VLAN:
		snprintf(out, len, "%u", get_be16(k));
		break;
	default:
		snprintf(out, len, "%u", *k);
		break;
	}
}

static void
put_value(FILE *fp, const struct ns_config_keyfield *kf, const uint8_t *k,
    int ipver, int quote)
{
	char buf[NS_TASK_TEXT_MAX];

	value_text(kf, k, ipver, quote, buf, sizeof(buf));
	fputs(buf, fp);
}

int
ns_task_key_text(const struct ns_task *t, const uint8_t *key, unsigned i,
    char *out, size_t len)
{
	const uint8_t *k = key + t->hidden_ipver;
	unsigned j;

	if (i >= t->fields.n)
		return -EINVAL;
	for (j = 0; j < i; j++)
		k += field_size(t->fields.f[j].field);
	value_text(&t->fields.f[i], k, key_ipver(t, key), 0, out, len);
	return 0;
}

const uint8_t *
ns_task_key_field(const struct ns_task *t, const uint8_t *key, unsigned i)
{
	const uint8_t *k = key + t->hidden_ipver;
	unsigned j;

	if (i >= t->fields.n)
		return NULL;
	for (j = 0; j < i; j++)
		k += field_size(t->fields.f[j].field);
	return k;
}

int
ns_task_key_ipver(const struct ns_task *t, const uint8_t *key)
{
	unsigned i;

	if (t->hidden_ipver)
		return key[0];
	for (i = 0; i < t->fields.n; i++)
		if (t->fields.f[i].field == NS_CONFIG_FIELD_IPVERSION)
			return *ns_task_key_field(t, key, i);
	return 0;
}

void
ns_task_key_json(const struct ns_task *t, const uint8_t *key, FILE *fp)
{
	const uint8_t *k = key + t->hidden_ipver;
	int ipver = key_ipver(t, key);
	char name[32];
	unsigned i;

	for (i = 0; i < t->fields.n; i++) {
		const struct ns_config_keyfield *kf = &t->fields.f[i];

		fprintf(fp, "%s\"%s\":", i ? "," : "",
		    ns_config_keyfield_format(kf, name, sizeof(name)));
		put_value(fp, kf, k, ipver, 1);
		k += field_size(kf->field);
	}
}

void
ns_task_key_csv(const struct ns_task *t, const uint8_t *key, FILE *fp)
{
	const uint8_t *k = key + t->hidden_ipver;
	int ipver = key_ipver(t, key);
	unsigned i;

	for (i = 0; i < t->fields.n; i++) {
		if (i)
			fputc(',', fp);
		put_value(fp, &t->fields.f[i], k, ipver, 0);
		k += field_size(t->fields.f[i].field);
	}
}

void
ns_task_key_csv_header(const struct ns_task *t, FILE *fp)
{
	char name[32];
	unsigned i;

	for (i = 0; i < t->fields.n; i++)
		fprintf(fp, "%s%s", i ? "," : "", ns_config_keyfield_format(
		    &t->fields.f[i], name, sizeof(name)));
}
