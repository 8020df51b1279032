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

/* The hidden version byte of an address key is implied by an explicit one. */
Test(task, ip_version_hidden_or_explicit)
{
	struct ns_task src = task(1, F(SRCIP));
	struct ns_task srcver = task(2, F(SRCIP), F(IPVERSION));
	struct ns_task ver = task(1, F(IPVERSION));
	struct ns_task dport = task(1, F(DSTPORT));

	cr_assert(src.hidden_ipver);
	cr_assert_not(srcver.hidden_ipver);
	cr_assert(ns_task_key_implies(&srcver, &src));
	cr_assert(ns_task_key_implies(&src, &ver) == 0);
	cr_assert(ns_task_key_implies(&srcver, &ver));
	cr_assert_not(ns_task_key_implies(&dport, &src));
}

/*
 * What the rule promises, on records: records with equal 5-tuple keys
 * have equal SrcIP and DstIP keys, whatever else differs between them.
 */
Test(task, equal_keys_give_equal_implied_keys)
{
	struct ns_task five = task(5, F(SRCIP), F(DSTIP), F(SRCPORT),
	    F(DSTPORT), F(PROTOCOL));
	struct ns_task src = task(1, F(SRCIP)), dst = task(1, F(DSTIP));
	struct ns_record a, b;
	uint8_t ka[NS_TABLE_KEY_MAX], kb[NS_TABLE_KEY_MAX];
	uint32_t x = 1;
	unsigned i, same = 0;

	for (i = 0; i < 20000; i++) {
		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		/* Two records from a small space, so that keys often meet. */
		x = x * 1103515245u + 12345u;
		a.ipver = (x >> 8) & 1 ? 4 : 6;
		b.ipver = (x >> 9) & 1 ? 4 : 6;
		a.src[15] = (uint8_t)((x >> 10) & 1);
		b.src[15] = (uint8_t)((x >> 11) & 1);
		a.dst[15] = (uint8_t)((x >> 12) & 1);
		b.dst[15] = (uint8_t)((x >> 13) & 1);
		a.sport = b.sport = 1234;
		a.dport = b.dport = 80;
		a.proto = b.proto = 6;
		a.vlan = (uint16_t)(x >> 14);	/* not in any of the keys */
		a.dscp = (uint8_t)(x >> 20);
		b.wire_len = x;
		ns_task_key_build(&five, &a, ka);
		ns_task_key_build(&five, &b, kb);
		if (memcmp(ka, kb, five.key_size) != 0)
			continue;
		same++;
		ns_task_key_build(&src, &a, ka);
		ns_task_key_build(&src, &b, kb);
		cr_assert_eq(memcmp(ka, kb, src.key_size), 0);
		ns_task_key_build(&dst, &a, ka);
		ns_task_key_build(&dst, &b, kb);
		cr_assert_eq(memcmp(ka, kb, dst.key_size), 0);
	}
	cr_assert_gt(same, 1000, "only %u pairs of equal keys", same);
}
