/*
 * test_api.c -- unit tests of the query API's pure parts: SQL quoting
 * (exporters/sqlq.c) and the request decoder and statement builder
 * (exporters/apireq.c).
 *
 * The decoder is driven by tables: every malformed, mistyped or
 * out-of-range request must be a 400 with a message naming what is wrong;
 * every valid one must give a statement holding the re-printed values and
 * none of the request's raw text.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apireq.h"
#include "config.h"
#include "sqlq.h"

#define NOW	1767323045	/* 2026-01-02T03:04:05Z */

static const char test_yaml[] =
    "aggregator:\n"
    "  types: [exact, sketch]\n"
    "  exact:\n"
    "    tasks:\n"
    "      - name: per_five_tuple\n"
    "        key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol]\n"
    "      - name: per_src\n"
    "        key_fields: [SrcIP]\n"
    "      - name: by_net\n"
    "        key_fields: [SrcNet/24/48, DstNet/16, VLAN, IPVersion, DSCP]\n"
    "  sketch:\n"
    "    tasks:\n"
    "      - name: hh_src\n"
    "        skt_type: 0\n"
    "        flow_fields: [SrcIP]\n"
    "      - name: ss\n"
    "        skt_type: 1\n"
    "        flow_fields: [SrcIP]\n"
    "        element_fields: [DstIP]\n";

static struct ns_config cfg;
static char err[512];

static void
setup(void)
{
	char cerr[4096];
	int rc = ns_config_load_string(test_yaml, "api.yaml", &cfg, cerr,
	    sizeof(cerr));

	cr_assert_eq(rc, 0, "config: %s", cerr);
}

static void
teardown(void)
{
	ns_config_free(&cfg);
}

TestSuite(sqlq);
TestSuite(apireq, .init = setup, .fini = teardown);

/* ---- ns_sql_quote ------------------------------------------------------ */

/*
 * Read a literal back as ClickHouse does (backslash escapes the next
 * byte): it must span the whole text and give the original bytes.
 */
static void
unquote_check(const char *lit, const char *orig)
{
	char out[512];
	size_t i = 1, o = 0;

	cr_assert_eq(lit[0], '\'', "%s", lit);
	while (lit[i] != '\'') {
		cr_assert_neq(lit[i], '\0', "unterminated: %s", lit);
		if (lit[i] == '\\')
			i++;
		out[o++] = lit[i++];
	}
	out[o] = '\0';
	cr_assert_eq(lit[i + 1], '\0', "text after the literal: %s", lit);
	cr_assert_str_eq(out, orig);
}

static void
quote_ok(const char *s, const char *want)
{
	char out[512];

	cr_assert_eq(ns_sql_quote(s, strlen(s), out, sizeof(out)), 0, "%s", s);
	if (want != NULL)
		cr_assert_str_eq(out, want);
	unquote_check(out, s);
}

Test(sqlq, plain)
{
	quote_ok("per_five_tuple", "'per_five_tuple'");
	quote_ok("", "''");
	quote_ok("2001:db8::1", "'2001:db8::1'");
	quote_ok("10.0.0.0/8", "'10.0.0.0/8'");
}

Test(sqlq, quotes_and_backslashes)
{
	quote_ok("it's", "'it\\'s'");
	quote_ok("a\\b", "'a\\\\b'");
	quote_ok("\\'", "'\\\\\\''");
	quote_ok("''", "'\\'\\''");
	quote_ok("\\", "'\\\\'");
	quote_ok("tail\\", "'tail\\\\'");
}

Test(sqlq, injection_fragments)
{
	static const char *const frags[] = {
		"x' OR 1=1 --",
		"'; DROP TABLE flow_metrics; --",
		"\\'; DROP TABLE flow_metrics; --",
		"x\\' OR \\'1\\'=\\'1",
		"' UNION SELECT * FROM system.users --",
		"/* comment */ '",
		"\xc3\xa9t\xc3\xa9 '",
	};
	size_t i;

	for (i = 0; i < sizeof(frags) / sizeof(frags[0]); i++)
		quote_ok(frags[i], NULL);
}

Test(sqlq, control_bytes_refused)
{
	static const char nul[] = { 'a', '\0', '\'', 'b' };
	static const char *const bad[] = { "a\nb", "a\rb", "\t", "x\x1b[0m",
	    "\x7f", "\x01", "x' OR 1=1\n--" };
	char out[64];
	size_t i;

	cr_assert_eq(ns_sql_quote(nul, sizeof(nul), out, sizeof(out)),
	    -EINVAL);
	cr_assert_str_eq(out, "");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(ns_sql_quote(bad[i], strlen(bad[i]), out,
		    sizeof(out)), -EINVAL, "%zu", i);
		cr_assert_str_eq(out, "");
	}
}

Test(sqlq, too_small)
{
	char out[8];

	cr_assert_eq(ns_sql_quote("abcde", 5, out, sizeof(out)), 0);
	cr_assert_str_eq(out, "'abcde'");
	cr_assert_eq(ns_sql_quote("abcdef", 6, out, sizeof(out)), -ENOSPC);
	cr_assert_str_eq(out, "");
	/* Escapes count: 4 bytes of input, 8 of literal plus the NUL. */
	cr_assert_eq(ns_sql_quote("''''", 4, out, sizeof(out)), -ENOSPC);
	cr_assert_eq(ns_sql_quote("a", 1, out, 0), -ENOSPC);
}

Test(sqlq, identifiers)
{
	char out[64];

	cr_assert_eq(ns_sql_ident("ns_flow_metrics", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "`ns_flow_metrics`");
	cr_assert_eq(ns_sql_ident("flow_metrics; DROP", out, sizeof(out)),
	    -EINVAL);
	cr_assert_eq(ns_sql_ident("a`b", out, sizeof(out)), -EINVAL);
	cr_assert_eq(ns_sql_ident("db.t", out, sizeof(out)), -EINVAL);
	cr_assert_eq(ns_sql_ident("", out, sizeof(out)), -EINVAL);
	cr_assert_eq(ns_sql_ident("abcdef", out, 8), -ENOSPC);
}

/* ---- times ------------------------------------------------------------- */

Test(apireq, rfc3339)
{
	static const struct { const char *s; int64_t sec; uint32_t ns; } ok[] = {
		{ "2026-01-02T03:04:05Z", 1767323045, 0 },
		{ "2026-01-02t03:04:05z", 1767323045, 0 },
		{ "2026-01-02 03:04:05Z", 1767323045, 0 },
		{ "2026-01-02T03:04:05.5Z", 1767323045, 500000000 },
		{ "2026-01-02T03:04:05.123456789Z", 1767323045, 123456789 },
		{ "2026-01-02T03:04:05+08:00", 1767294245, 0 },
		{ "2026-01-01T19:04:05-08:00", 1767323045, 0 },
		{ "2024-02-29T23:59:59Z", 1709251199, 0 },
		{ "1970-01-01T00:00:00Z", 0, 0 },
		{ "1969-12-31T23:59:59Z", -1, 0 },
	};
	static const char *const bad[] = {
		"", "2026-01-02", "2026-01-02T03:04Z", "2026-01-02T03:04:05",
		"2026-13-02T03:04:05Z", "2026-02-29T03:04:05Z",
		"2026-01-32T03:04:05Z", "2026-01-02T24:00:00Z",
		"2026-01-02T03:60:05Z", "2026-01-02T03:04:60Z",
		"2026-01-02T03:04:05.Z", "2026-01-02T03:04:05.1234567890Z",
		"2026-01-02T03:04:05+0800", "2026-01-02T03:04:05Z ",
		" 2026-01-02T03:04:05Z", "1767323045", "2026-1-2T3:4:5Z",
		"2026-01-02T03:04:05+24:00", "+026-01-02T03:04:05Z",
	};
	int64_t sec;
	uint32_t ns;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(ns_apireq_time(ok[i].s, &sec, &ns), 0, "%s",
		    ok[i].s);
		cr_assert_eq(sec, ok[i].sec, "%s: %lld", ok[i].s,
		    (long long)sec);
		cr_assert_eq(ns, ok[i].ns, "%s", ok[i].s);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(ns_apireq_time(bad[i], &sec, &ns), -EINVAL, "%s",
		    bad[i]);
}

/* ---- the decoder: errors ----------------------------------------------- */

static const struct bad_case {
	enum ns_apireq_kind kind;
	const char *body;
	const char *msg;		/* a part of the message */
} bad_cases[] = {
	/* Not JSON, or not an object. */
	{ NS_APIREQ_AGGREGATE, "{", "bad JSON" },
	{ NS_APIREQ_AGGREGATE, "{\"task_name\": }", "bad JSON" },
	{ NS_APIREQ_AGGREGATE, "[]", "expected a JSON object" },
	{ NS_APIREQ_AGGREGATE, "\"per_src\"", "expected a JSON object" },
	{ NS_APIREQ_AGGREGATE, "null", "expected a JSON object" },
	{ NS_APIREQ_AGGREGATE, "{} {}", "bad JSON" },
	{ NS_APIREQ_AGGREGATE, "{\"task_name\":\"per_src\","
	    "\"task_name\":\"per_src\"}", "bad JSON" },
	{ NS_APIREQ_AGGREGATE, "{\"task_name\":\"per_src\","
	    "\"taskName\":\"per_src\"}", "given twice" },
	{ NS_APIREQ_GRAFANA, "{\"targets\":", "bad JSON" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"a\\u0000b\"}", "bad JSON" },
	/* Unknown fields, fields of another endpoint. */
	{ NS_APIREQ_AGGREGATE, "{\"task\":\"per_src\"}", "unknown field" },
	{ NS_APIREQ_AGGREGATE, "{\"limit\":3}", "unknown field \"limit\"" },
	{ NS_APIREQ_AGGREGATE, "{\"TaskName\":\"per_src\"}", "unknown field" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"per_src\",\"src_ip\":\"1.2.3.4\"}",
	    "unknown field \"src_ip\"" },
	{ NS_APIREQ_HEAVY_HITTERS, "{\"task_name\":\"hh_src\",\"n\":1}",
	    "unknown field" },
	/* Wrong types. */
	{ NS_APIREQ_AGGREGATE, "{\"task_name\":7}", "task_name: expected a "
	    "string" },
	{ NS_APIREQ_AGGREGATE, "{\"task_name\":[\"per_src\"]}", "expected a "
	    "string" },
	{ NS_APIREQ_AGGREGATE, "{\"src_port\":true}", "src_port: expected an "
	    "integer" },
	{ NS_APIREQ_AGGREGATE, "{\"src_port\":80.0}", "src_port: expected an "
	    "integer" },
	{ NS_APIREQ_AGGREGATE, "{\"dst_port\":\"0x50\"}", "dst_port: expected "
	    "an integer" },
	{ NS_APIREQ_AGGREGATE, "{\"dst_port\":\"80 \"}", "expected an integer" },
	{ NS_APIREQ_AGGREGATE, "{\"dst_port\":\"-1\"}", "expected an integer" },
	{ NS_APIREQ_AGGREGATE, "{\"dst_port\":\"+80\"}", "expected an integer" },
	{ NS_APIREQ_AGGREGATE, "{\"dst_port\":\"80; DROP TABLE x\"}",
	    "expected an integer" },
	{ NS_APIREQ_AGGREGATE, "{\"src_ip\":167772161}", "expected an address" },
	{ NS_APIREQ_AGGREGATE, "{\"end_time\":1767323045}", "end_time: "
	    "expected an RFC 3339" },
	{ NS_APIREQ_AGGREGATE, "{\"endTime\":\"yesterday\"}", "end_time: "
	    "expected an RFC 3339" },
	{ NS_APIREQ_AGGREGATE, "{\"start_time\":\"2026-01-02T03:04:05Z' OR "
	    "1=1 --\"}", "start_time: expected an RFC 3339" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"per_src\",\"flow_keys\":[]}",
	    "flow_keys: expected an object" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"per_src\",\"flow_keys\":"
	    "{\"SrcIP\":[\"1.2.3.4\"]}}", "SrcIP: expected an address" },
	{ NS_APIREQ_HEAVY_HITTERS, "{\"task_name\":\"hh_src\",\"type\":"
	    "\"most\"}", "type: expected an integer" },
	{ NS_APIREQ_HEAVY_HITTERS, "{\"task_name\":\"hh_src\",\"limit\":\"ten\"}",
	    "limit: expected an integer" },
	{ NS_APIREQ_GRAFANA, "{\"targets\":{\"target\":\"per_src\"}}",
	    "targets: expected an array" },
	{ NS_APIREQ_GRAFANA, "{\"targets\":[\"per_src\"]}", "expected objects" },
	{ NS_APIREQ_GRAFANA, "{\"targets\":[{\"target\":1}]}", "expected a "
	    "task name" },
	{ NS_APIREQ_GRAFANA, "{\"targets\":[],\"range\":{\"to\":5}}",
	    "range.to" },
	{ NS_APIREQ_GRAFANA, "{\"targets\":[],\"range\":[]}", "range: expected" },
	{ NS_APIREQ_GRAFANA, "{\"targets\":[],\"range\":{\"from\":\"now-6h\"}}",
	    "range.from" },
	{ NS_APIREQ_SEARCH, "{\"target\":", "bad JSON" },
	{ NS_APIREQ_SEARCH, "[\"per_src\"]", "expected a JSON object" },
	{ NS_APIREQ_SEARCH, "{\"target\":5}", "target: expected a string" },
	/* Out of range. */
	{ NS_APIREQ_AGGREGATE, "{\"src_port\":65536}", "src_port: expected 0 "
	    "to 65535, got 65536" },
	{ NS_APIREQ_AGGREGATE, "{\"srcPort\":-1}", "src_port: expected 0 to "
	    "65535" },
	{ NS_APIREQ_AGGREGATE, "{\"dst_port\":\"99999\"}", "expected 0 to "
	    "65535" },
	{ NS_APIREQ_AGGREGATE, "{\"dst_port\":\"99999999999\"}", "expected an "
	    "integer" },
	{ NS_APIREQ_AGGREGATE, "{\"protocol\":256}", "protocol: expected 0 to "
	    "255" },
	{ NS_APIREQ_AGGREGATE, "{\"protocol\":9223372036854775807}",
	    "protocol: expected 0 to 255" },
	{ NS_APIREQ_AGGREGATE, "{\"protocol\":99999999999999999999}",
	    "bad JSON" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"by_net\",\"flow_keys\":"
	    "{\"VLAN\":4096}}", "VLAN: expected 0 to 4095" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"by_net\",\"flow_keys\":"
	    "{\"IPVersion\":5}}", "IPVersion: expected 4 or 6" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"by_net\",\"flow_keys\":"
	    "{\"IPVersion\":\"0\"}}", "IPVersion: expected 4 or 6" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"by_net\",\"flow_keys\":"
	    "{\"DSCP\":64}}", "DSCP: expected 0 to 63" },
	{ NS_APIREQ_HEAVY_HITTERS, "{\"task_name\":\"hh_src\",\"type\":3}",
	    "type: expected 0 to 2" },
	{ NS_APIREQ_HEAVY_HITTERS, "{\"task_name\":\"hh_src\",\"limit\":100001}",
	    "limit: expected 0 to 100000" },
	{ NS_APIREQ_HEAVY_HITTERS, "{\"task_name\":\"hh_src\",\"limit\":-5}",
	    "limit: expected 0 to 100000" },
	/* Bad addresses and networks. */
	{ NS_APIREQ_AGGREGATE, "{\"src_ip\":\"10.0.0.256\"}", "src_ip: not an "
	    "IPv4 or IPv6 address" },
	{ NS_APIREQ_AGGREGATE, "{\"src_ip\":\"10.0.0\"}", "not an IPv4" },
	{ NS_APIREQ_AGGREGATE, "{\"src_ip\":\"010.0.0.1\"}", "not an IPv4" },
	{ NS_APIREQ_AGGREGATE, "{\"src_ip\":\" 10.0.0.1\"}", "not an IPv4" },
	{ NS_APIREQ_AGGREGATE, "{\"dst_ip\":\"fe80::1%eth0\"}", "not an IPv4" },
	{ NS_APIREQ_AGGREGATE, "{\"dst_ip\":\"1::2::3\"}", "not an IPv4" },
	{ NS_APIREQ_AGGREGATE, "{\"srcIp\":\"10.0.0.1' OR 1=1 --\"}",
	    "src_ip: not an IPv4" },
	{ NS_APIREQ_AGGREGATE, "{\"src_ip\":\"'; DROP TABLE flow_metrics; --\"}",
	    "not an IPv4" },
	{ NS_APIREQ_AGGREGATE, "{\"src_ip\":\"10.0.0.0/8\"}", "not an IPv4" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"by_net\",\"flow_keys\":"
	    "{\"SrcNet\":\"10.1.2.0\"}}", "SrcNet: expected \"address/length\"" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"by_net\",\"flow_keys\":"
	    "{\"SrcNet\":\"10.1.2.0/33\"}}", "SrcNet: not a network" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"by_net\",\"flow_keys\":"
	    "{\"SrcNet\":\"10.1.2.0/\"}}", "expected \"address/length\"" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"by_net\",\"flow_keys\":"
	    "{\"SrcNet\":\"10.1.2.0/24/\"}}", "expected \"address/length\"" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"by_net\",\"flow_keys\":"
	    "{\"SrcNet\":\"10.1.2.0/16\"}}", "keys IPv4 networks by /24" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"by_net\",\"flow_keys\":"
	    "{\"SrcNet\":\"2001:db8::/64\"}}", "keys IPv6 networks by /48" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"by_net\",\"flow_keys\":"
	    "{\"DstNet\":\"10.1.0.0/16' OR 1=1 --\"}}", "DstNet" },
	/* Unknown tasks, tasks of the wrong kind, unknown keys. */
	{ NS_APIREQ_AGGREGATE, "{\"task_name\":\"nope\"}", "no exact task "
	    "\"nope\"" },
	{ NS_APIREQ_AGGREGATE, "{\"task_name\":\"per_src' OR 1=1 --\"}",
	    "no exact task" },
	{ NS_APIREQ_AGGREGATE, "{\"task_name\":\"PER_SRC\"}", "no exact task" },
	{ NS_APIREQ_AGGREGATE, "{\"task_name\":\"per_src \"}", "no exact task" },
	{ NS_APIREQ_AGGREGATE, "{\"task_name\":\"hh_src\"}", "no exact task" },
	{ NS_APIREQ_AGGREGATE, "{\"task_name\":\"per_src\",\"dst_port\":80}",
	    "task per_src has no key field DstPort" },
	{ NS_APIREQ_TRACE, "{\"flow_keys\":{\"SrcIP\":\"10.0.0.1\"}}",
	    "task_name is required" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"per_src\"}", "at least one key" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"per_src\",\"flow_keys\":{}}",
	    "at least one key" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"ss\",\"flow_keys\":"
	    "{\"SrcIP\":\"1.2.3.4\"}}", "no exact task \"ss\"" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"per_src\",\"flow_keys\":"
	    "{\"SrcPort\":\"80\"}}", "task per_src has no key field SrcPort" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"per_src\",\"flow_keys\":"
	    "{\"srcip\":\"1.2.3.4\"}}", "unknown key \"srcip\"" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"per_src\",\"flow_keys\":"
	    "{\"SrcIP = '1' OR 1=1 --\":\"1.2.3.4\"}}", "unknown key" },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"by_net\",\"flow_keys\":"
	    "{\"SrcNet/24/48\":\"10.0.0.0/24\"}}", "unknown key" },
	{ NS_APIREQ_HEAVY_HITTERS, "{}", "task_name is required" },
	{ NS_APIREQ_HEAVY_HITTERS, "{\"task_name\":\"per_src\"}", "no sketch "
	    "task \"per_src\"" },
	{ NS_APIREQ_HEAVY_HITTERS, "{\"task_name\":\"hh_src\",\"type\":2}",
	    "reports count (0) and size (1)" },
	{ NS_APIREQ_HEAVY_HITTERS, "{\"task_name\":\"ss\",\"type\":\"size\"}",
	    "reports spread (2)" },
	{ NS_APIREQ_GRAFANA, "{\"targets\":[{\"target\":\"nope\"}]}",
	    "no exact task \"nope\"" },
	{ NS_APIREQ_GRAFANA, "{\"targets\":[{\"target\":\"hh_src\"}]}",
	    "no exact task" },
};

Test(apireq, errors)
{
	struct ns_apireq r;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];

		rc = ns_apireq_parse(c->kind, c->body, strlen(c->body), &cfg,
		    NOW, &r, err, sizeof(err));
		cr_expect_eq(rc, -EINVAL, "accepted: %s", c->body);
		cr_expect(strstr(err, c->msg) != NULL, "%s\n  gave \"%s\"\n"
		    "  wanted \"%s\"", c->body, err, c->msg);
	}
}

Test(apireq, bad_kind)
{
	struct ns_apireq r;

	cr_assert_eq(ns_apireq_parse(NS_APIREQ_NKINDS, "{}", 2, &cfg, NOW, &r,
	    err, sizeof(err)), -EINVAL);
}

/* Embedded NULs and bytes that are not UTF-8 are bad JSON. */
Test(apireq, binary)
{
	static const char nul[] = "{\"task_name\":\"per_src\"}\0x";
	static const char latin1[] = "{\"task_name\":\"\xe9\"}";
	struct ns_apireq r;

	cr_assert_eq(ns_apireq_parse(NS_APIREQ_AGGREGATE, nul, sizeof(nul) - 1,
	    &cfg, NOW, &r, err, sizeof(err)), -EINVAL);
	cr_assert_eq(ns_apireq_parse(NS_APIREQ_AGGREGATE, latin1,
	    strlen(latin1), &cfg, NOW, &r, err, sizeof(err)), -EINVAL);
}

/* ---- the decoder and the statements ------------------------------------ */

static const struct good_case {
	enum ns_apireq_kind kind;
	const char *body;
	const char *want[8];		/* in the SQL, NULL-terminated */
	const char *never[4];		/* never in the SQL */
} good_cases[] = {
	{ NS_APIREQ_AGGREGATE, "", { "TaskName IN ('per_five_tuple', "
	    "'per_src', 'by_net')", "FROM `flow_metrics`",
	    "GROUP BY Node, TaskName, PeriodStart, Generation, SrcIP, DstIP, "
	    "SrcPort, DstPort, Protocol, SrcNet, DstNet, VLAN, IPVersion, DSCP)",
	    "max(PacketCount)", "FORMAT JSONEachRow", NULL },
	    { "Timestamp <=", "PeriodStart >=", NULL } },
	{ NS_APIREQ_AGGREGATE, " { } ", { "TaskName IN (", NULL }, { NULL } },
	{ NS_APIREQ_AGGREGATE, "{\"task_name\":\"per_five_tuple\","
	    "\"end_time\":\"2026-01-02T03:04:05.9Z\",\"start_time\":"
	    "\"2026-01-02T03:04:05.1Z\",\"src_ip\":\"10.0.0.1\",\"dst_ip\":"
	    "\"2001:DB8:0:0::0:1\",\"src_port\":\"443\",\"dst_port\":53,"
	    "\"protocol\":\"17\"}",
	    { "TaskName = 'per_five_tuple'",
	    "Timestamp <= toDateTime(1767323045)",
	    "PeriodStart >= toDateTime(1767323046)", "SrcIP = '10.0.0.1'",
	    "DstIP = '2001:db8::1'", "SrcPort = 443", "DstPort = 53",
	    "Protocol = 17" }, { "DB8", "\"443\"", "0:0", NULL } },
	/* camelCase, and proto3's zero values as "not given". */
	{ NS_APIREQ_AGGREGATE, "{\"taskName\":\"per_five_tuple\",\"endTime\":"
	    "\"2026-01-02T11:04:05+08:00\",\"startTime\":null,\"srcIp\":\"\","
	    "\"dstIp\":\"::ffff:10.0.0.2\",\"srcPort\":0,\"dstPort\":\"0\","
	    "\"protocol\":0}",
	    { "TaskName = 'per_five_tuple'",
	    "Timestamp <= toDateTime(1767323045)",
	    "DstIP = '::ffff:10.0.0.2'", NULL },
	    { "SrcIP =", "SrcPort =", "Protocol =", "PeriodStart >=" } },
	/* Without a task: the tasks keyed by every filtered field. */
	{ NS_APIREQ_AGGREGATE, "{\"src_ip\":\"192.168.1.1\"}",
	    { "TaskName IN ('per_five_tuple', 'per_src')",
	    "SrcIP = '192.168.1.1'", NULL }, { "by_net", NULL } },
	{ NS_APIREQ_AGGREGATE, "{\"dst_port\":443}",
	    { "TaskName = 'per_five_tuple'", "DstPort = 443", NULL },
	    { "per_src", NULL } },
	/* Times beyond DateTime's range are clamped, not wrapped. */
	{ NS_APIREQ_AGGREGATE, "{\"end_time\":\"9999-12-31T23:59:59Z\","
	    "\"start_time\":\"1900-01-01T00:00:00Z\"}",
	    { "Timestamp <= toDateTime(4294967295)",
	    "PeriodStart >= toDateTime(0)", NULL }, { "-", NULL } },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"per_five_tuple\",\"flow_keys\":"
	    "{\"SrcIP\":\"192.168.1.104\",\"DstPort\":\"443\",\"Protocol\":6},"
	    "\"end_time\":\"2026-01-02T03:04:05Z\"}",
	    { "TaskName = 'per_five_tuple'", "SrcIP = '192.168.1.104'",
	    "DstPort = 443", "Protocol = 6",
	    "Timestamp <= toDateTime(1767323045)", "min(StartTime)",
	    "max(EndTime)", "GROUP BY Node, PeriodStart, Generation, SrcIP" },
	    { "'443'", NULL } },
	{ NS_APIREQ_TRACE, "{\"taskName\":\"by_net\",\"flowKeys\":"
	    "{\"SrcNet\":\"10.1.2.3/24\",\"DstNet\":\"2001:DB8:AB::1/64\","
	    "\"VLAN\":\"4095\",\"IPVersion\":6,\"DSCP\":\"46\"}}",
	    { "TaskName = 'by_net'", "SrcNet = '10.1.2.0/24'",
	    "DstNet = '2001:db8:ab::/64'", "VLAN = 4095", "IPVersion = 6",
	    "DSCP = 46", NULL }, { "10.1.2.3", "DB8", NULL } },
	{ NS_APIREQ_TRACE, "{\"task_name\":\"by_net\",\"flow_keys\":"
	    "{\"DstNet\":\"172.16.255.255/16\"}}",
	    { "DstNet = '172.16.0.0/16'", NULL }, { "255", NULL } },
	{ NS_APIREQ_HEAVY_HITTERS, "{\"task_name\":\"hh_src\"}",
	    { "FROM `heavy_hitters`", "TaskName = 'hh_src' AND Type = 0",
	    "argMax(Version, (Final, Version))",
	    "ORDER BY sum(v) DESC, Flow LIMIT 10", NULL }, { NULL } },
	{ NS_APIREQ_HEAVY_HITTERS, "{\"taskName\":\"hh_src\",\"type\":\"1\","
	    "\"limit\":100000,\"endTime\":\"2026-01-02T03:04:05Z\"}",
	    { "Type = 1", "LIMIT 100000", "Timestamp <= toDateTime(1767323045)",
	    NULL }, { NULL } },
	{ NS_APIREQ_HEAVY_HITTERS, "{\"task_name\":\"hh_src\",\"type\":"
	    "\"SIZE\",\"limit\":0}", { "Type = 1", "LIMIT 10", NULL },
	    { NULL } },
	{ NS_APIREQ_HEAVY_HITTERS, "{\"task_name\":\"ss\"}",
	    { "TaskName = 'ss' AND Type = 2", NULL }, { NULL } },
	{ NS_APIREQ_HEAVY_HITTERS, "{\"task_name\":\"ss\",\"type\":2,"
	    "\"limit\":\"7\"}", { "Type = 2", "LIMIT 7", NULL }, { NULL } },
	{ NS_APIREQ_GRAFANA, "{\"targets\":[{\"target\":\"per_src\","
	    "\"refId\":\"A\"},{\"target\":\"\"},{\"refId\":\"C\"},{\"target\":"
	    "\"by_net\",\"hide\":true},{\"target\":\"per_five_tuple\"},"
	    "{\"target\":\"per_src\"}],\"range\":{\"from\":"
	    "\"2026-01-01T03:04:05Z\",\"to\":\"2026-01-02T03:04:05.250Z\","
	    "\"raw\":{\"from\":\"now-1d\",\"to\":\"now\"}},\"maxDataPoints\":"
	    "500,\"panelId\":2}",
	    { "TaskName IN ('per_src', 'per_five_tuple')",
	    "Timestamp <= toDateTime(1767323045)", NULL },
	    { "by_net", "PeriodStart >=", NULL } },
};

static void
good_check(const struct good_case *c)
{
	struct ns_apireq r;
	char *sql;
	size_t i;
	int rc;

	rc = ns_apireq_parse(c->kind, c->body, strlen(c->body), &cfg, NOW, &r,
	    err, sizeof(err));
	cr_assert_eq(rc, 0, "%s: %s", c->body, err);
	if (c->want[0] == NULL && r.ntasks == 0)
		return;		/* nothing to ask ClickHouse */
	cr_assert_eq(ns_apireq_sql(&r, c->kind == NS_APIREQ_HEAVY_HITTERS ?
	    "heavy_hitters" : "flow_metrics", &sql), 0, "%s", c->body);
	for (i = 0; i < 8 && c->want[i] != NULL; i++)
		cr_expect(strstr(sql, c->want[i]) != NULL, "%s\n  no \"%s\" in"
		    "\n  %s", c->body, c->want[i], sql);
	for (i = 0; i < 4 && c->never[i] != NULL; i++)
		cr_expect(strstr(sql, c->never[i]) == NULL, "%s\n  \"%s\" in"
		    "\n  %s", c->body, c->never[i], sql);
	free(sql);
}

Test(apireq, statements)
{
	size_t i;

	for (i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++)
		good_check(&good_cases[i]);
}

/* 192.168.001.1 is no address: the case above must have been refused. */
Test(apireq, leading_zeros)
{
	struct ns_apireq r;

	cr_assert_eq(ns_apireq_parse(NS_APIREQ_AGGREGATE,
	    "{\"src_ip\":\"192.168.001.1\"}", 28, &cfg, NOW, &r, err,
	    sizeof(err)), -EINVAL);
}

Test(apireq, aggregate_no_task_can_answer)
{
	struct ns_apireq r;
	const char *body = "{\"dst_ip\":\"10.0.0.1\",\"src_port\":1}";

	/* per_five_tuple has both; per_src lacks them, by_net too. */
	cr_assert_eq(ns_apireq_parse(NS_APIREQ_AGGREGATE, body, strlen(body),
	    &cfg, NOW, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.ntasks, 1);
	cr_assert_str_eq(r.tasks[0], "per_five_tuple");
	body = "{\"src_port\":1,\"dst_ip\":\"10.0.0.1\"}";
	cfg.aggregator.exact.tasks[0].key_fields.n = 1;	/* SrcIP only */
	cr_assert_eq(ns_apireq_parse(NS_APIREQ_AGGREGATE, body, strlen(body),
	    &cfg, NOW, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.ntasks, 0);
	cr_assert_eq(ns_apireq_sql(&r, "flow_metrics", &(char *){ NULL }),
	    -EINVAL);
}

/* The tasks in a request are the configuration's strings, not copies. */
Test(apireq, task_strings_are_the_configs)
{
	struct ns_apireq r;
	const char *body = "{\"task_name\":\"per_src\"}";

	cr_assert_eq(ns_apireq_parse(NS_APIREQ_AGGREGATE, body, strlen(body),
	    &cfg, NOW, &r, err, sizeof(err)), 0);
	cr_assert_eq(r.tasks[0], cfg.aggregator.exact.tasks[1].name);
}

Test(apireq, grafana)
{
	struct ns_apireq r;
	const char *body = "{\"targets\":[{\"target\":\"per_src\"},"
	    "{\"target\":\"by_net\"},{\"target\":\"per_src\"}],\"range\":"
	    "{\"to\":\"2026-01-02T03:04:05.250Z\"}}";

	cr_assert_eq(ns_apireq_parse(NS_APIREQ_GRAFANA, body, strlen(body),
	    &cfg, NOW, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.ntasks, 2);
	cr_assert_eq(r.ntargets, 3);
	cr_assert_eq(r.targets[0], 0);
	cr_assert_eq(r.targets[1], 1);
	cr_assert_eq(r.targets[2], 0);
	cr_assert_eq(r.end_ms, 1767323045250LL);
	/* No range: Go2NetSpectra's now + 24 h. */
	body = "{\"targets\":[{\"target\":\"per_src\"}]}";
	cr_assert_eq(ns_apireq_parse(NS_APIREQ_GRAFANA, body, strlen(body),
	    &cfg, NOW, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.end, NOW + 86400);
	cr_assert_eq(r.end_ms, (NOW + 86400) * 1000LL);
	/* Nothing to draw. */
	cr_assert_eq(ns_apireq_parse(NS_APIREQ_GRAFANA, "{}", 2, &cfg, NOW,
	    &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.ntargets, 0);
}

/* Grafana's search bodies, old and new, and none at all. */
Test(apireq, search_bodies)
{
	static const char *const ok[] = { "", "{}", "{\"target\":\"\"}",
	    "{\"target\":\"per\",\"type\":\"timeseries\"}",
	    "{\"target\":null}" };
	struct ns_apireq r;
	unsigned i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert_eq(ns_apireq_parse(NS_APIREQ_SEARCH, ok[i],
		    strlen(ok[i]), &cfg, NOW, &r, err, sizeof(err)), 0,
		    "%s: %s", ok[i], err);
}

Test(apireq, heavy_hitters_defaults)
{
	struct ns_apireq r;
	const char *body = "{\"task_name\":\"hh_src\",\"type\":\"count\"}";

	cr_assert_eq(ns_apireq_parse(NS_APIREQ_HEAVY_HITTERS, body,
	    strlen(body), &cfg, NOW, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.hh_type, 0);
	cr_assert_eq(r.limit, 10);
	cr_assert_eq(r.has_end, 0);
}

Test(apireq, live_top)
{
	struct ns_apireq_top q;

	cr_assert_eq(ns_apireq_top(&cfg, "by_net", NULL, NULL, &q, err,
	    sizeof(err)), 0);
	cr_assert_eq(q.task, 2);
	cr_assert_eq(q.n, 10);
	cr_assert_eq(q.by_bytes, 0);
	cr_assert_eq(ns_apireq_top(&cfg, "per_src", "10000", "bytes", &q, err,
	    sizeof(err)), 0);
	cr_assert_eq(q.n, 10000);
	cr_assert_eq(q.by_bytes, 1);
	cr_assert_eq(ns_apireq_top(&cfg, NULL, NULL, NULL, &q, err,
	    sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "task is required") != NULL);
	cr_assert_eq(ns_apireq_top(&cfg, "hh_src", NULL, NULL, &q, err,
	    sizeof(err)), -EINVAL);
	cr_assert_eq(ns_apireq_top(&cfg, "per_src", "0", NULL, &q, err,
	    sizeof(err)), -EINVAL);
	cr_assert_eq(ns_apireq_top(&cfg, "per_src", "10001", NULL, &q, err,
	    sizeof(err)), -EINVAL);
	cr_assert_eq(ns_apireq_top(&cfg, "per_src", "5x", NULL, &q, err,
	    sizeof(err)), -EINVAL);
	cr_assert_eq(ns_apireq_top(&cfg, "per_src", "5", "flows", &q, err,
	    sizeof(err)), -EINVAL);
}

/* Only tasks of the aggregators that run are known. */
Test(apireq, types_select_tasks)
{
	struct ns_apireq r;
	const char *body = "{\"task_name\":\"per_src\"}";

	cfg.aggregator.types = NS_CONFIG_AGG_SKETCH;
	cr_assert_eq(ns_apireq_parse(NS_APIREQ_AGGREGATE, body, strlen(body),
	    &cfg, NOW, &r, err, sizeof(err)), -EINVAL);
	cr_assert_eq(ns_apireq_exact_tasks(&cfg), 0);
	cr_assert_eq(ns_apireq_sketch_tasks(&cfg), 2);
}

Test(apireq, table_names)
{
	struct ns_apireq r;
	char *sql;

	cr_assert_eq(ns_apireq_parse(NS_APIREQ_AGGREGATE, "{}", 2, &cfg, NOW,
	    &r, err, sizeof(err)), 0);
	cr_assert_eq(ns_apireq_sql(&r, "ns_flow_metrics", &sql), 0);
	cr_assert(strstr(sql, "FROM `ns_flow_metrics`") != NULL);
	free(sql);
	cr_assert_eq(ns_apireq_sql(&r, "flow_metrics; DROP TABLE x", &sql),
	    -EINVAL);
	cr_assert_null(sql);
}
