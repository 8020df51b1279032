/*
 * test_alert.c -- unit tests of the alerter's pure parts (src/alert.c):
 * metric names and the loader's checks of rules, the comparison, the
 * per-rule state machine and its rate limit, the messages of a
 * transition (subject, text, JSON, e-mail), and the smtp section.
 *
 * The state machine is driven with made-up clocks: every notification
 * must say the current state, a flap inside min_notify_interval must go
 * unsaid, and a change held by it must go out once the interval is over.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "config.h"

#define SEC	1000000000ull
#define T0	(1767225600ull * SEC)	/* 2026-01-01T00:00:00Z */

static const char tasks_yaml[] =
    "aggregator:\n"
    "  types: [exact, sketch]\n"
    "  exact:\n"
    "    tasks:\n"
    "      - {name: five, key_fields: [SrcIP, DstIP, SrcPort, DstPort, "
    "Protocol]}\n"
    "  sketch:\n"
    "    tasks:\n"
    "      - {name: hh, skt_type: 0, flow_fields: [SrcIP]}\n"
    "      - {name: ss, skt_type: 1, flow_fields: [SrcIP], "
    "element_fields: [DstIP]}\n";

static struct ns_config cfg;
static char err[8192];

static int
load(const char *extra)
{
	char yaml[8192];

	ns_config_free(&cfg);
	snprintf(yaml, sizeof(yaml), "%s%s", tasks_yaml, extra);
	return ns_config_load_string(yaml, "cfg.yaml", &cfg, err, sizeof(err));
}

static void
teardown(void)
{
	ns_config_free(&cfg);
}

TestSuite(alert_metric, .fini = teardown);
TestSuite(alert_step);
TestSuite(alert_msg);
TestSuite(alert_config, .fini = teardown);

/* ---- metrics and rule checks -------------------------------------------- */

Test(alert_metric, names)
{
	static const char *const names[] = { "total_packets", "total_bytes",
	    "total_flows", "heavy_hitter_count", "heavy_hitter_size",
	    "super_spreader_spread" };
	int i;

	for (i = 0; i < NS_ALERT_NMETRICS; i++) {
		cr_assert_eq(ns_alert_metric_parse(names[i]), i, "%s", names[i]);
		cr_assert_str_eq(ns_alert_metric_name(i), names[i]);
	}
	cr_assert_eq(ns_alert_metric_parse("total_packet"), -1);
	cr_assert_eq(ns_alert_metric_parse("Total_Packets"), -1);
	cr_assert_eq(ns_alert_metric_parse(""), -1);
	cr_assert_eq(ns_alert_metric_source(NS_ALERT_TOTAL_FLOWS),
	    NS_ALERT_SRC_EXACT);
	cr_assert_eq(ns_alert_metric_source(NS_ALERT_HH_SIZE), NS_ALERT_SRC_HH);
	cr_assert_eq(ns_alert_metric_source(NS_ALERT_SPREAD),
	    NS_ALERT_SRC_SPREAD);
}

/* A rule whose metric reads another kind of task is refused, at it. */
Test(alert_metric, loader_checks)
{
	static const struct {
		const char *task, *metric, *want;	/* want NULL: valid */
	} cases[] = {
		{ "five", "total_packets", NULL },
		{ "five", "total_bytes", NULL },
		{ "five", "total_flows", NULL },
		{ "hh", "heavy_hitter_count", NULL },
		{ "hh", "heavy_hitter_size", NULL },
		{ "ss", "super_spreader_spread", NULL },
		{ "five", "heavy_hitter_count", "needs a heavy-hitter sketch "
		    "task (skt_type 0); task \"five\" is an exact task" },
		{ "hh", "super_spreader_spread", "needs a super-spreader "
		    "sketch task (skt_type 1); task \"hh\" is a heavy-hitter" },
		{ "ss", "total_bytes", "needs an exact task; task \"ss\" is a "
		    "super-spreader" },
		{ "five", "bytes", "unknown metric \"bytes\"; expected one of "
		    "total_packets" },
	};
	char yaml[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(yaml, sizeof(yaml), "alerter:\n  rules:\n    - name: r\n"
		    "      task_name: %s\n      metric: %s\n"
		    "      operator: \">\"\n      threshold: 1\n",
		    cases[i].task, cases[i].metric);
		if (cases[i].want == NULL) {
			cr_assert_eq(load(yaml), 0, "%s/%s: %s", cases[i].task,
			    cases[i].metric, err);
			continue;
		}
		cr_assert_eq(load(yaml), -EINVAL, "%s/%s loaded",
		    cases[i].task, cases[i].metric);
		/* Line 14 of the whole text, at the metric's value. */
		cr_assert(strstr(err, "cfg.yaml:14:15: alerter.rules[0].metric: ")
		    != NULL, "%s", err);
		cr_assert(strstr(err, cases[i].want) != NULL, "%s", err);
	}
}

Test(alert_metric, compare)
{
	static const struct {
		enum ns_config_op op;
		double v, t;
		int want;
	} cases[] = {
		{ NS_CONFIG_OP_GT, 2, 1, 1 }, { NS_CONFIG_OP_GT, 1, 1, 0 },
		{ NS_CONFIG_OP_GE, 1, 1, 1 }, { NS_CONFIG_OP_GE, 0.5, 1, 0 },
		{ NS_CONFIG_OP_LT, 0, 1, 1 }, { NS_CONFIG_OP_LT, 1, 1, 0 },
		{ NS_CONFIG_OP_LE, 1, 1, 1 }, { NS_CONFIG_OP_LE, 2, 1, 0 },
		{ NS_CONFIG_OP_EQ, 3, 3, 1 }, { NS_CONFIG_OP_EQ, 3, 3.5, 0 },
		{ NS_CONFIG_OP_NE, 3, 3.5, 1 }, { NS_CONFIG_OP_NE, 3, 3, 0 },
		{ NS_CONFIG_OP_GT, 1e19, 1e18, 1 },
		{ NS_CONFIG_OP_LT, 0, -3, 0 },
		/* NaN satisfies nothing but != */
		{ NS_CONFIG_OP_GT, NAN, 1, 0 }, { NS_CONFIG_OP_LE, NAN, 1, 0 },
		{ NS_CONFIG_OP_NE, NAN, 1, 1 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_eq(ns_alert_compare(cases[i].op, cases[i].v,
		    cases[i].t), cases[i].want, "case %zu", i);
}

Test(alert_metric, rule_id)
{
	struct ns_config_rule a = { "r", "five", "total_packets",
	    NS_CONFIG_OP_GT, 10, { 1, 1 }, { 2, 2 } };
	struct ns_config_rule b = a;
	uint64_t id = ns_alert_rule_id(&a);

	cr_assert_neq(id, 0);
	/* Where it was written does not matter; what it says does. */
	b.metric_pos.line = 99;
	cr_assert_eq(ns_alert_rule_id(&b), id);
	b.threshold = 11;
	cr_assert_neq(ns_alert_rule_id(&b), id);
	b = a;
	b.op = NS_CONFIG_OP_GE;
	cr_assert_neq(ns_alert_rule_id(&b), id);
	b = a;
	b.name = "r2";
	cr_assert_neq(ns_alert_rule_id(&b), id);
	/* No ambiguity between fields. */
	b = a;
	b.name = "rf";
	b.task_name = "ive";
	cr_assert_neq(ns_alert_rule_id(&b), id);
}

/* ---- the state machine -------------------------------------------------- */

static struct ns_alert_rule_state rs;
static struct ns_alert_step st;

static enum ns_alert_action
step(int cond, uint64_t at, uint64_t min)
{
	ns_alert_step(&rs, cond, cond ? 100 : 1, at, min, &st);
	return st.action;
}

Test(alert_step, fires_and_resolves)
{
	memset(&rs, 0, sizeof(rs));
	/* Quiet while the condition is false. */
	cr_assert_eq(step(0, T0, 0), NS_ALERT_QUIET);
	cr_assert(!st.fired && !st.resolved && !st.held);
	cr_assert_eq(step(1, T0 + SEC, 0), NS_ALERT_SEND_FIRING);
	cr_assert(st.fired && !st.resolved);
	cr_assert_eq(rs.firing, 1);
	cr_assert_eq(rs.notified, 1);
	cr_assert_eq(rs.changed_ns, T0 + SEC);
	cr_assert_eq(rs.last_notify_ns, T0 + SEC);
	/* Still true: nothing new to say. */
	cr_assert_eq(step(1, T0 + 2 * SEC, 0), NS_ALERT_QUIET);
	cr_assert(!st.fired);
	cr_assert_eq(rs.changed_ns, T0 + SEC);
	cr_assert_eq(step(0, T0 + 3 * SEC, 0), NS_ALERT_SEND_RESOLVED);
	cr_assert(st.resolved && !st.fired);
	cr_assert_eq(rs.notified, 0);
	cr_assert_eq(step(0, T0 + 4 * SEC, 0), NS_ALERT_QUIET);
	cr_assert_eq(rs.evaluated, 5);
}

Test(alert_step, keeps_the_value)
{
	double v;

	memset(&rs, 0, sizeof(rs));
	ns_alert_step(&rs, 1, 1234.5, T0, 0, &st);
	memcpy(&v, &rs.value, sizeof(v));
	cr_assert_float_eq(v, 1234.5, 0);
}

/* A resolution inside the interval waits for its end, then goes out. */
Test(alert_step, rate_limit_holds_then_sends)
{
	uint64_t min = 60 * SEC;

	memset(&rs, 0, sizeof(rs));
	cr_assert_eq(step(1, T0, min), NS_ALERT_SEND_FIRING);
	cr_assert_eq(step(0, T0 + 10 * SEC, min), NS_ALERT_QUIET);
	cr_assert(st.resolved, "the condition's change is counted");
	cr_assert(st.held, "and held");
	cr_assert_eq(rs.held, 1);
	/* Held once, not once per evaluation. */
	cr_assert_eq(step(0, T0 + 20 * SEC, min), NS_ALERT_QUIET);
	cr_assert(!st.held && !st.resolved);
	cr_assert_eq(step(0, T0 + 59 * SEC, min), NS_ALERT_QUIET);
	cr_assert_eq(step(0, T0 + 60 * SEC, min), NS_ALERT_SEND_RESOLVED);
	cr_assert(!st.resolved, "the change was counted when it happened");
	cr_assert_eq(rs.held, 0);
	cr_assert_eq(rs.notified, 0);
	cr_assert_eq(rs.last_notify_ns, T0 + 60 * SEC);
	/* The next firing is limited from that notification on. */
	cr_assert_eq(step(1, T0 + 61 * SEC, min), NS_ALERT_QUIET);
	cr_assert(st.held && st.fired);
	cr_assert_eq(step(1, T0 + 120 * SEC, min), NS_ALERT_SEND_FIRING);
}

/* A flap inside the interval is never sent: the last word stands. */
Test(alert_step, flap_goes_unsaid)
{
	uint64_t min = 300 * SEC;

	memset(&rs, 0, sizeof(rs));
	cr_assert_eq(step(1, T0, min), NS_ALERT_SEND_FIRING);
	cr_assert_eq(step(0, T0 + 60 * SEC, min), NS_ALERT_QUIET);
	cr_assert(st.held);
	cr_assert_eq(step(1, T0 + 120 * SEC, min), NS_ALERT_QUIET);
	cr_assert(st.fired && !st.held);
	cr_assert_eq(rs.held, 0, "firing again is what was said last");
	/* Past the interval, still firing: nothing to say. */
	cr_assert_eq(step(1, T0 + 400 * SEC, min), NS_ALERT_QUIET);
	cr_assert_eq(rs.last_notify_ns, T0);
}

/* The very first change of a rule is never held. */
Test(alert_step, first_notification_is_not_limited)
{
	memset(&rs, 0, sizeof(rs));
	cr_assert_eq(step(0, T0, 3600 * SEC), NS_ALERT_QUIET);
	cr_assert_eq(step(1, T0 + SEC, 3600 * SEC), NS_ALERT_SEND_FIRING);
}

/* A clock that went back must not hold a change for that long. */
Test(alert_step, clock_going_back)
{
	memset(&rs, 0, sizeof(rs));
	cr_assert_eq(step(1, T0, 60 * SEC), NS_ALERT_SEND_FIRING);
	cr_assert_eq(step(0, T0 - 3600 * SEC, 60 * SEC),
	    NS_ALERT_SEND_RESOLVED);
}

/* A state taken over by a new process goes on where it was. */
Test(alert_step, restored_state_repeats_nothing)
{
	struct ns_alert_rule_state saved;

	memset(&rs, 0, sizeof(rs));
	cr_assert_eq(step(1, T0, 0), NS_ALERT_SEND_FIRING);
	saved = rs;
	memset(&rs, 0xff, sizeof(rs));
	rs = saved;
	cr_assert_eq(step(1, T0 + SEC, 0), NS_ALERT_QUIET);
	cr_assert(!st.fired);
}

/* ---- messages ----------------------------------------------------------- */

static struct ns_alert_event
event(int firing)
{
	struct ns_alert_event ev = {
		.rule = "Total_Traffic_Spike", .task = "per_five_tuple",
		.metric = "total_packets", .op = NS_CONFIG_OP_GT,
		.threshold = 1000, .value = firing ? 1234 : 12,
		.firing = firing, .time_ns = T0 + 12 * SEC + 500000000,
		.period_start_ns = T0, .host = "probe1",
	};

	return ev;
}

Test(alert_msg, values)
{
	char buf[40];

	cr_assert_str_eq(ns_alert_format_value(1234, buf, sizeof(buf)), "1234");
	cr_assert_str_eq(ns_alert_format_value(0, buf, sizeof(buf)), "0");
	cr_assert_str_eq(ns_alert_format_value(-3, buf, sizeof(buf)), "-3");
	cr_assert_str_eq(ns_alert_format_value(2.5, buf, sizeof(buf)), "2.5");
	cr_assert_str_eq(ns_alert_format_value(0.1, buf, sizeof(buf)), "0.1");
	cr_assert_str_eq(ns_alert_format_value(1e20, buf, sizeof(buf)),
	    "1e+20");
	cr_assert_str_eq(ns_alert_format_value(NAN, buf, sizeof(buf)), "NaN");
	/* The largest counters survive (2^53 and beyond read back). */
	ns_alert_format_value(18446744073709551615.0, buf, sizeof(buf));
	cr_assert_eq(strtod(buf, NULL), 18446744073709551615.0, "%s", buf);
}

Test(alert_msg, subject)
{
	struct ns_alert_event ev = event(1);
	char buf[256];

	ns_alert_subject(&ev, buf, sizeof(buf));
	cr_assert_str_eq(buf, "[netspectra] FIRING: Total_Traffic_Spike "
	    "(total_packets 1234 > 1000 on per_five_tuple)");
	ev = event(0);
	ns_alert_subject(&ev, buf, sizeof(buf));
	cr_assert_str_eq(buf, "[netspectra] RESOLVED: Total_Traffic_Spike "
	    "(total_packets 12, no longer > 1000, on per_five_tuple)");
}

Test(alert_msg, text)
{
	struct ns_alert_event ev = event(1);
	char *t = ns_alert_text(&ev);

	cr_assert_not_null(t);
	cr_assert(strstr(t, "Rule Total_Traffic_Spike is FIRING on probe1.\n")
	    == t, "%s", t);
	cr_assert(strstr(t, "  value      1234\n") != NULL, "%s", t);
	cr_assert(strstr(t, "  condition  > 1000 (true)\n") != NULL, "%s", t);
	cr_assert(strstr(t, "  period     started 2026-01-01T00:00:00Z\n") !=
	    NULL, "%s", t);
	cr_assert(strstr(t, "  evaluated  2026-01-01T00:00:12.500000Z\n") != NULL,
	    "%s", t);
	free(t);
	ev = event(0);
	t = ns_alert_text(&ev);
	cr_assert(strstr(t, "is RESOLVED on probe1") != NULL, "%s", t);
	cr_assert(strstr(t, "(false)") != NULL, "%s", t);
	free(t);
}

Test(alert_msg, json)
{
	struct ns_alert_event ev = event(1);
	char *s = ns_alert_json(&ev);
	json_error_t je;
	json_t *o;

	cr_assert_not_null(s);
	o = json_loads(s, 0, &je);
	cr_assert_not_null(o, "%s: %s", je.text, s);
	cr_assert_str_eq(json_string_value(json_object_get(o, "status")),
	    "firing");
	cr_assert_str_eq(json_string_value(json_object_get(o, "rule")),
	    "Total_Traffic_Spike");
	cr_assert_str_eq(json_string_value(json_object_get(o, "task")),
	    "per_five_tuple");
	cr_assert_str_eq(json_string_value(json_object_get(o, "metric")),
	    "total_packets");
	cr_assert_str_eq(json_string_value(json_object_get(o, "operator")),
	    ">");
	cr_assert(json_is_integer(json_object_get(o, "value")), "%s", s);
	cr_assert_eq(json_integer_value(json_object_get(o, "value")), 1234);
	cr_assert_eq(json_integer_value(json_object_get(o, "threshold")), 1000);
	cr_assert_str_eq(json_string_value(json_object_get(o, "time")),
	    "2026-01-01T00:00:12.500000Z");
	cr_assert_str_eq(json_string_value(json_object_get(o, "period_start")),
	    "2026-01-01T00:00:00Z");
	cr_assert_str_eq(json_string_value(json_object_get(o, "host")), "probe1");
	json_decref(o);
	free(s);
	/* Escaping is jansson's: a quote in a name stays in the string. */
	ev = event(0);
	ev.rule = "a\"b\n";
	ev.threshold = 0.25;
	s = ns_alert_json(&ev);
	o = json_loads(s, 0, &je);
	cr_assert_not_null(o, "%s", s);
	cr_assert_str_eq(json_string_value(json_object_get(o, "status")),
	    "resolved");
	cr_assert_str_eq(json_string_value(json_object_get(o, "rule")),
	    "a\"b\n");
	cr_assert_float_eq(json_real_value(json_object_get(o, "threshold")),
	    0.25, 0);
	json_decref(o);
	free(s);
}

/* Every line ends in CRLF, and nothing but a header precedes the body. */
static void
check_crlf(const char *m)
{
	const char *p;

	for (p = m; *p != '\0'; p++)
		if (*p == '\n')
			cr_assert(p > m && p[-1] == '\r', "bare LF at %td: %s",
			    p - m, m);
		else if (*p == '\r')
			cr_assert_eq(p[1], '\n', "bare CR at %td: %s", p - m, m);
}

/* The value of header name (first line only), or NULL. */
static char *
header(const char *m, const char *name, char *buf, size_t len)
{
	const char *end = strstr(m, "\r\n\r\n"), *p = m;
	size_t n = strlen(name);

	for (; p != NULL && p < end; p = strstr(p, "\r\n"), p = p ? p + 2 : p)
		if (strncmp(p, name, n) == 0 && p[n] == ':') {
			snprintf(buf, len, "%.*s", (int)strcspn(p + n + 2,
			    "\r"), p + n + 2);
			return buf;
		}
	return NULL;
}

Test(alert_msg, email)
{
	struct ns_alert_event ev = event(1);
	char *to[] = { "ops@example.org", "noc@example.org" };
	char *m = ns_alert_email(&ev, "ns@example.org", to, 2, "1.2.3@probe1");
	char buf[512];

	cr_assert_not_null(m);
	check_crlf(m);
	cr_assert_str_eq(header(m, "Date", buf, sizeof(buf)),
	    "Thu, 01 Jan 2026 00:00:12 +0000");
	cr_assert_str_eq(header(m, "From", buf, sizeof(buf)), "ns@example.org");
	/* Folded after each address. */
	cr_assert(strstr(m, "To: ops@example.org,\r\n noc@example.org\r\n") !=
	    NULL, "%s", m);
	cr_assert_str_eq(header(m, "Subject", buf, sizeof(buf)),
	    "[netspectra] FIRING: Total_Traffic_Spike (total_packets 1234 > "
	    "1000 on per_five_tuple)");
	cr_assert_str_eq(header(m, "Message-ID", buf, sizeof(buf)),
	    "<1.2.3@probe1>");
	cr_assert_str_eq(header(m, "Content-Type", buf, sizeof(buf)),
	    "text/plain; charset=UTF-8");
	cr_assert_str_eq(header(m, "X-Netspectra-Status", buf, sizeof(buf)),
	    "firing");
	cr_assert(strstr(m, "\r\n\r\nRule Total_Traffic_Spike is FIRING on "
	    "probe1.\r\n") != NULL, "%s", m);
	free(m);
}

/* A rule name cannot add headers: line breaks become blanks. */
Test(alert_msg, email_header_injection)
{
	struct ns_alert_event ev = event(0);
	char *to[] = { "ops@example.org" };
	char *m, buf[512];

	ev.rule = "r\r\nBcc: victim@example.org";
	m = ns_alert_email(&ev, "ns@example.org", to, 1, "x@y");
	cr_assert_not_null(m);
	check_crlf(m);
	cr_assert_null(header(m, "Bcc", buf, sizeof(buf)), "%s", m);
	cr_assert(strstr(header(m, "Subject", buf, sizeof(buf)),
	    "RESOLVED: r  Bcc: victim") != NULL, "%s", m);
	cr_assert_str_eq(header(m, "X-Netspectra-Rule", buf, sizeof(buf)),
	    "r  Bcc: victim@example.org");
	free(m);
}

/* A UTF-8 subject as RFC 2047 encoded-words, never splitting a character. */
Test(alert_msg, email_utf8_subject)
{
	struct ns_alert_event ev = event(1);
	char *to[] = { "ops@example.org" };
	char *m, *s, *e, dec[512], *d = dec;
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char want[256];

	ev.rule = "Überlast_München_Straße_Zürich_äöü";
	m = ns_alert_email(&ev, "ns@example.org", to, 1, "x@y");
	cr_assert_not_null(m);
	check_crlf(m);
	s = strstr(m, "Subject: ");
	cr_assert_not_null(s);
	s += 9;
	/* Decode every word; each must be valid UTF-8 by itself. */
	while (strncmp(s, "=?UTF-8?B?", 10) == 0) {
		char *w = d;
		unsigned acc = 0;
		int bits = 0;

		s += 10;
		e = strstr(s, "?=");
		cr_assert_not_null(e);
		cr_assert_leq(e - s + 12, 75, "encoded-word too long");
		for (; s < e && *s != '='; s++) {
			acc = acc << 6 | (unsigned)(strchr(b64, *s) - b64);
			if ((bits += 6) >= 8) {
				*d++ = (char)(acc >> (bits - 8));
				bits -= 8;
			}
		}
		cr_assert_neq((unsigned char)*w & 0xc0, 0x80,
		    "a word starts inside a character");
		s = e + 2;
		if (strncmp(s, "\r\n ", 3) == 0)
			s += 3;
	}
	*d = '\0';
	cr_assert_eq(strncmp(s, "\r\n", 2), 0, "after the words: %.20s", s);
	ns_alert_subject(&ev, want, sizeof(want));
	cr_assert_str_eq(dec, want);
	free(m);
}

/* ---- the smtp and alerter sections -------------------------------------- */

Test(alert_config, defaults)
{
	cr_assert_eq(load(""), 0, "%s", err);
	cr_assert_str_eq(cfg.smtp.host, "");
	cr_assert_eq(cfg.smtp.port, 587);
	cr_assert_eq(cfg.smtp.tls, NS_CONFIG_SMTP_TLS_AUTO);
	cr_assert_eq(cfg.smtp.nto, 0);
	cr_assert(cfg.alerter.nats_enabled);
	cr_assert_str_eq(cfg.alerter.nats_subject, "netspectra.alerts");
	/* The probe's server, unless the alerter has its own. */
	cr_assert_str_eq(cfg.alerter.nats_url, "nats://127.0.0.1:4222");
	cr_assert_eq(cfg.alerter.min_notify_interval, 300 * SEC);
	cr_assert_eq(cfg.alerter.timeout, 10 * SEC);
	cr_assert_eq(load("probe: {nats_url: nats://10.0.0.1:4222}\n"), 0);
	cr_assert_str_eq(cfg.alerter.nats_url, "nats://10.0.0.1:4222");
}

/* Go2NetSpectra's "a,b" and a YAML list both give the recipients. */
Test(alert_config, recipients)
{
	cr_assert_eq(load("smtp:\n  host: mail.example\n  port: 25\n"
	    "  to: \"a@example.org, b@example.org,c@example.org\"\n"), 0, "%s",
	    err);
	cr_assert_eq(cfg.smtp.nto, 3);
	cr_assert_str_eq(cfg.smtp.to[0], "a@example.org");
	cr_assert_str_eq(cfg.smtp.to[1], "b@example.org");
	cr_assert_str_eq(cfg.smtp.to[2], "c@example.org");
	cr_assert_eq(cfg.smtp.port, 25);
	cr_assert_eq(load("smtp:\n  to: [x@example.org, root]\n  tls: smtps\n"
	    "  from: ns@example.org\n  ca_file: /etc/ca.pem\n"), 0, "%s", err);
	cr_assert_eq(cfg.smtp.nto, 2);
	cr_assert_str_eq(cfg.smtp.to[1], "root");
	cr_assert_eq(cfg.smtp.tls, NS_CONFIG_SMTP_TLS_SMTPS);
	cr_assert_str_eq(cfg.smtp.from, "ns@example.org");
	cr_assert_str_eq(cfg.smtp.ca_file, "/etc/ca.pem");
}

Test(alert_config, errors)
{
	cr_assert_eq(load("smtp:\n  to: \"a@example.org,,b@example.org\"\n"),
	    -EINVAL);
	cr_assert(strstr(err, "smtp.to: expected an e-mail address") != NULL,
	    "%s", err);
	cr_assert_eq(load("smtp:\n  to: [\"Ops <ops@example.org>\"]\n"),
	    -EINVAL);
	cr_assert(strstr(err, "cfg.yaml:11:8: smtp.to[0]: expected an e-mail "
	    "address") != NULL, "%s", err);
	cr_assert_eq(load("smtp:\n  from: \"a b@x\"\n"), -EINVAL);
	cr_assert(strstr(err, "smtp.from: expected an e-mail address") != NULL,
	    "%s", err);
	cr_assert_eq(load("smtp:\n  tls: startls\n"), -EINVAL);
	cr_assert(strstr(err, "did you mean \"starttls\"?") != NULL, "%s", err);
	cr_assert_eq(load("smtp:\n  port: 0\n"), -EINVAL);
	/* E-mail with nobody to write to, when the alerter runs. */
	cr_assert_eq(load("alerter: {enabled: true}\nsmtp: {host: m.example}\n"),
	    -EINVAL);
	cr_assert(strstr(err, "smtp: host m.example is set, but no recipient")
	    != NULL, "%s", err);
	cr_assert_eq(load("alerter: {enabled: false}\nsmtp: {host: m.example}\n"),
	    0, "%s", err);
	cr_assert_eq(load("alerter: {nats_subject: \"a.*\"}\n"), -EINVAL);
	cr_assert_eq(load("alerter: {min_notify_interval: 0s, timeout: 50ms}\n"),
	    -EINVAL);
	cr_assert(strstr(err, "alerter.timeout: expected a duration from "
	    "100ms") != NULL, "%s", err);
	cr_assert_eq(load("alerter: {min_notify_interval: 0s}\n"), 0, "%s", err);
	cr_assert_eq(cfg.alerter.min_notify_interval, 0);
}

/* What -t prints reads back as the same configuration. */
Test(alert_config, dump_round_trip)
{
	char *a = NULL, *b = NULL;
	size_t la, lb;
	FILE *fp;
	struct ns_config again;

	cr_assert_eq(load("alerter:\n  enabled: true\n  webhook_url: "
	    "http://127.0.0.1:9/hook\n  nats_enabled: false\n"
	    "  min_notify_interval: 90s\n  timeout: 3s\n"
	    "smtp:\n  host: \"::1\"\n  port: 2525\n  username: u\n"
	    "  password: \"p$$w\"\n  to: \"a@x.org,b@y.org\"\n  tls: none\n"), 0,
	    "%s", err);
	fp = open_memstream(&a, &la);
	ns_config_dump(fp, &cfg);
	fclose(fp);
	cr_assert(strstr(a, "  to: [\"a@x.org\", \"b@y.org\"]\n") != NULL, "%s",
	    a);
	cr_assert(strstr(a, "  tls: none\n") != NULL, "%s", a);
	cr_assert(strstr(a, "  min_notify_interval: 1m30s\n") != NULL, "%s", a);
	cr_assert_eq(ns_config_load_string(a, "dump", &again, err,
	    sizeof(err)), 0, "%s\n%s", err, a);
	fp = open_memstream(&b, &lb);
	ns_config_dump(fp, &again);
	fclose(fp);
	cr_assert_str_eq(a, b);
	cr_assert_str_eq(again.smtp.password, "p$w");
	cr_assert(!again.alerter.nats_enabled);
	ns_config_free(&again);
	free(a);
	free(b);
}
