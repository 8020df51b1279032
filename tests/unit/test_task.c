/*
 * test_task.c -- unit tests of task keys (src/task.c): which keys imply
 * which, the rule that lets a worker skip a spread task's update for a
 * packet whose flow an exact task has seen (src/worker.c).
 */
#include <criterion/criterion.h>

#include <stdarg.h>
#include <string.h>

#include "record.h"
#include "table.h"
#include "task.h"

#define F(name)	((struct ns_config_keyfield){ .field = NS_CONFIG_FIELD_##name })

/* A task of the n fields given. */
static struct ns_task
task(unsigned n, ...)
{
	struct ns_config_fields fs;
	struct ns_task t;
	char err[128];
	va_list ap;
	unsigned i;

	memset(&fs, 0, sizeof(fs));
	va_start(ap, n);
	for (i = 0; i < n; i++)
		fs.f[i] = va_arg(ap, struct ns_config_keyfield);
	va_end(ap);
	fs.n = n;
	cr_assert_eq(ns_task_init_fields(&t, "t", &fs, err, sizeof(err)), 0,
	    "%s", err);
	return t;
}

Test(task, five_tuple_implies_its_parts)
{
	struct ns_task five = task(5, F(SRCIP), F(DSTIP), F(SRCPORT),
	    F(DSTPORT), F(PROTOCOL));

	cr_assert(ns_task_key_implies(&five, &five));
	{
		struct ns_task src = task(1, F(SRCIP)), dst = task(1, F(DSTIP));
		struct ns_task pair = task(2, F(DSTIP), F(SRCIP));
		struct ns_task proto = task(1, F(PROTOCOL));

		cr_assert(ns_task_key_implies(&five, &src));
		cr_assert(ns_task_key_implies(&five, &dst));
		cr_assert(ns_task_key_implies(&five, &pair));
		cr_assert(ns_task_key_implies(&five, &proto));
	}
}

Test(task, missing_fields_do_not_imply)
{
	struct ns_task src = task(1, F(SRCIP)), dst = task(1, F(DSTIP));
	struct ns_task ports = task(2, F(SRCPORT), F(DSTPORT));
	struct ns_task five = task(5, F(SRCIP), F(DSTIP), F(SRCPORT),
	    F(DSTPORT), F(PROTOCOL));
	struct ns_task vlan = task(1, F(VLAN));

	cr_assert_not(ns_task_key_implies(&src, &dst));
	cr_assert_not(ns_task_key_implies(&src, &five));
	cr_assert_not(ns_task_key_implies(&five, &vlan));
	/* Ports alone carry no IP version; an address key does. */
	cr_assert_not(ns_task_key_implies(&ports, &src));
}

/* A network of some prefix is implied only by the same field and prefix. */
Test(task, networks_need_the_same_prefix)
{
	struct ns_config_keyfield n24 = F(SRCNET), n16 = F(SRCNET);
	struct ns_task a, b, c;

	n24.v4len = 24;
	n24.v6len = 64;
	n16.v4len = 16;
	n16.v6len = 64;
	a = task(2, n24, F(DSTIP));
	b = task(1, n24);
	c = task(1, n16);
	cr_assert(ns_task_key_implies(&a, &b));
	cr_assert_not(ns_task_key_implies(&a, &c));
	c = task(1, F(SRCIP));
	cr_assert_not(ns_task_key_implies(&c, &b));
}

/* The version byte, hidden or explicit, is implied by either. */
Test(task, ip_version_hidden_or_explicit)
{
	struct ns_task src = task(1, F(SRCIP));
	struct ns_task srcver = task(2, F(SRCIP), F(IPVERSION));
	struct ns_task ver = task(1, F(IPVERSION));
	struct ns_task dport = task(1, F(DSTPORT));

	cr_assert(src.hidden_ipver);
	cr_assert_not(srcver.hidden_ipver);
	cr_assert(ns_task_key_implies(&srcver, &src));
	cr_assert(ns_task_key_implies(&src, &ver));
	cr_assert(ns_task_key_implies(&srcver, &ver));
	cr_assert_not(ns_task_key_implies(&dport, &src));
	cr_assert_not(ns_task_key_implies(&dport, &ver));
}

/* ---- the promise, on records */

static uint32_t rnd_state = 12345;

static uint32_t
rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

/* A record from a small space, so that keys often meet. */
static void
record(struct ns_record *r)
{
	memset(r, 0, sizeof(*r));
	r->ipver = rnd() & 1 ? 4 : 6;
	if (r->ipver == 4) {
		r->src[10] = r->src[11] = 0xff;
		r->dst[10] = r->dst[11] = 0xff;
	}
	r->src[15] = (uint8_t)(rnd() & 1);
	r->src[14] = (uint8_t)(rnd() & 1 ? 0x80 : 0);	/* beyond a /17 */
	r->dst[15] = (uint8_t)(rnd() & 1);
	r->sport = (uint16_t)(rnd() & 1);
	r->dport = 80;
	r->proto = rnd() & 1 ? 6 : 17;
	r->vlan = (uint16_t)(rnd() & 1);
	r->dscp = (uint8_t)(rnd() & 1);
	r->ts_ns = rnd();
	r->wire_len = rnd();
}

/* A random set of distinct fields, networks of a few prefixes. */
static struct ns_task
random_task(void)
{
	static const enum ns_config_field all[] = {
		NS_CONFIG_FIELD_SRCIP, NS_CONFIG_FIELD_DSTIP,
		NS_CONFIG_FIELD_SRCPORT, NS_CONFIG_FIELD_DSTPORT,
		NS_CONFIG_FIELD_PROTOCOL, NS_CONFIG_FIELD_SRCNET,
		NS_CONFIG_FIELD_DSTNET, NS_CONFIG_FIELD_VLAN,
		NS_CONFIG_FIELD_IPVERSION, NS_CONFIG_FIELD_DSCP,
	};
	struct ns_config_fields fs;
	struct ns_task t;
	char err[128];
	unsigned i;

	memset(&fs, 0, sizeof(fs));
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (rnd() % 3 != 0 || fs.n == NS_CONFIG_MAX_FIELDS)
			continue;
		fs.f[fs.n].field = all[i];
		if (all[i] == NS_CONFIG_FIELD_SRCNET ||
		    all[i] == NS_CONFIG_FIELD_DSTNET) {
			fs.f[fs.n].v4len = rnd() & 1 ? 24 : 16;
			fs.f[fs.n].v6len = 64;
		}
		fs.n++;
	}
	if (fs.n == 0)
		fs.f[fs.n++].field = NS_CONFIG_FIELD_SRCIP;
	cr_assert_eq(ns_task_init_fields(&t, "t", &fs, err, sizeof(err)), 0,
	    "%s", err);
	return t;
}

/*
 * Two random records: -1 when their t keys differ, else 1 when their sub
 * keys differ and 0 when they are equal.
 */
static int
random_sub_keys_differ(const struct ns_task *t, const struct ns_task *sub)
{
	uint8_t ka[NS_TABLE_KEY_MAX], kb[NS_TABLE_KEY_MAX];
	struct ns_record a, b;

	record(&a);
	record(&b);
	ns_task_key_build(t, &a, ka);
	ns_task_key_build(t, &b, kb);
	if (memcmp(ka, kb, t->key_size) != 0)
		return -1;
	ns_task_key_build(sub, &a, ka);
	ns_task_key_build(sub, &b, kb);
	return memcmp(ka, kb, sub->key_size) != 0;
}

/*
 * What the rule promises: when t implies sub, records with equal t keys
 * have equal sub keys, whatever else differs.  Random pairs of field sets
 * (networks, VLAN, DSCP, the version hidden or not), random records.
 */
Test(task, implied_keys_are_equal_on_records)
{
	unsigned n, j, implied = 0, checked = 0;
	struct ns_task t, sub;
	int d;

	for (n = 0; n < 3000; n++) {
		t = random_task();
		sub = random_task();
		if (!ns_task_key_implies(&t, &sub))
			continue;
		implied++;
		for (j = 0; j < 200; j++) {
			if ((d = random_sub_keys_differ(&t, &sub)) < 0)
				continue;
			checked++;
			cr_assert_eq(d, 0, "implied key differs (pair %u)", n);
		}
	}
	cr_assert_gt(implied, 100, "only %u implied pairs", implied);
	cr_assert_gt(checked, 1000, "only %u equal keys", checked);
}

/* And it is not vacuous: a field of sub missing from t makes keys differ. */
Test(task, not_implied_keys_can_differ)
{
	unsigned n, j, differ = 0;
	struct ns_task t, sub;

	for (n = 0; n < 3000; n++) {
		t = random_task();
		sub = random_task();
		if (ns_task_key_implies(&t, &sub))
			continue;
		for (j = 0; j < 200; j++)
			differ += random_sub_keys_differ(&t, &sub) == 1;
	}
	cr_assert_gt(differ, 100);
}

/*
 * The 5-tuple key written without the field loop (ns_task.five) is the
 * loop's key, byte for byte: IPv4 and IPv6, ports and protocols of every
 * byte value.
 */
Test(task, five_tuple_key_is_the_field_loops)
{
	struct ns_task five = task(5, F(SRCIP), F(DSTIP), F(SRCPORT),
	    F(DSTPORT), F(PROTOCOL));
	struct ns_task loop = five;
	uint8_t a[NS_TABLE_KEY_MAX], b[NS_TABLE_KEY_MAX];
	struct ns_record r;
	unsigned i, j;

	cr_assert(five.five);
	cr_assert_eq(five.key_size, 38);
	loop.five = 0;
	for (i = 0; i < 1000; i++) {
		memset(&r, 0, sizeof(r));
		for (j = 0; j < 16; j++) {
			r.src[j] = (uint8_t)(i * 7 + j * 13);
			r.dst[j] = (uint8_t)(i * 11 + j * 5);
		}
		r.ipver = i % 2 ? 4 : 6;
		r.sport = (uint16_t)(i * 257);
		r.dport = (uint16_t)(65535 - i * 131);
		r.proto = (uint8_t)i;
		memset(a, 0xaa, sizeof(a));
		memset(b, 0x55, sizeof(b));
		ns_task_key_build(&five, &r, a);
		ns_task_key_build(&loop, &r, b);
		cr_assert_eq(memcmp(a, b, five.key_size), 0, "record %u", i);
	}
	/* Another order, or a network, takes the loop. */
	cr_assert_not(task(5, F(DSTIP), F(SRCIP), F(SRCPORT), F(DSTPORT),
	    F(PROTOCOL)).five);
	cr_assert_not(task(5, F(SRCNET), F(DSTIP), F(SRCPORT), F(DSTPORT),
	    F(PROTOCOL)).five);
}
