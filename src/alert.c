/*
 * alert.c -- the alerter's pure parts: metric names and their checks,
 * the comparison, the per-rule state machine with its rate limit, and
 * the messages of a transition (see alert.h).
 */
#include "alert.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "addr.h"

static const struct {
	const char		*name;
	enum ns_alert_source	 source;
} metrics[NS_ALERT_NMETRICS] = {
	[NS_ALERT_TOTAL_PACKETS] = { "total_packets", NS_ALERT_SRC_EXACT },
	[NS_ALERT_TOTAL_BYTES] = { "total_bytes", NS_ALERT_SRC_EXACT },
	[NS_ALERT_TOTAL_FLOWS] = { "total_flows", NS_ALERT_SRC_EXACT },
	[NS_ALERT_HH_COUNT] = { "heavy_hitter_count", NS_ALERT_SRC_HH },
	[NS_ALERT_HH_SIZE] = { "heavy_hitter_size", NS_ALERT_SRC_HH },
	[NS_ALERT_SPREAD] = { "super_spreader_spread", NS_ALERT_SRC_SPREAD },
};

int
ns_alert_metric_parse(const char *name)
{
	int i;

	for (i = 0; i < NS_ALERT_NMETRICS; i++)
		if (strcmp(metrics[i].name, name) == 0)
			return i;
	return -1;
}

const char *
ns_alert_metric_name(enum ns_alert_metric m)
{
	return (unsigned)m < NS_ALERT_NMETRICS ? metrics[m].name : "?";
}

enum ns_alert_source
ns_alert_metric_source(enum ns_alert_metric m)
{
	return metrics[m].source;
}

const char *
ns_alert_source_what(enum ns_alert_source s)
{
	switch (s) {
	case NS_ALERT_SRC_EXACT: return "an exact task";
	case NS_ALERT_SRC_HH: return "a heavy-hitter sketch task (skt_type 0)";
	default: return "a super-spreader sketch task (skt_type 1)";
	}
}

/* The kind of the task named name in cfg, or -1 if there is none. */
static int
task_source(const struct ns_config *cfg, const char *name)
{
	const struct ns_config_exact *e = &cfg->aggregator.exact;
	const struct ns_config_sketch *s = &cfg->aggregator.sketch;
	unsigned i;

	for (i = 0; i < e->ntasks; i++)
		if (strcmp(e->tasks[i].name, name) == 0)
			return NS_ALERT_SRC_EXACT;
	for (i = 0; i < s->ntasks; i++)
		if (strcmp(s->tasks[i].name, name) == 0)
			return s->tasks[i].skt_type ==
			    NS_CONFIG_SKETCH_SUPER_SPREADERS ?
			    NS_ALERT_SRC_SPREAD : NS_ALERT_SRC_HH;
	return -1;
}

int
ns_alert_rule_check(const struct ns_config *cfg, const struct ns_config_rule *r,
    char *why, size_t len)
{
	int m = ns_alert_metric_parse(r->metric), src;

	if (m < 0) {
		snprintf(why, len, "unknown metric \"%s\"; expected one of "
		    "total_packets, total_bytes, total_flows (exact tasks), "
		    "heavy_hitter_count, heavy_hitter_size (skt_type 0), "
		    "super_spreader_spread (skt_type 1)", r->metric);
		return -EINVAL;
	}
	src = task_source(cfg, r->task_name);
	if (src < 0 || src == (int)metrics[m].source)
		return 0;
	snprintf(why, len, "metric %s needs %s; task \"%s\" is %s",
	    metrics[m].name, ns_alert_source_what(metrics[m].source),
	    r->task_name, ns_alert_source_what((enum ns_alert_source)src));
	return -EINVAL;
}

int
ns_alert_compare(enum ns_config_op op, double value, double threshold)
{
	switch (op) {
	case NS_CONFIG_OP_GT: return value > threshold;
	case NS_CONFIG_OP_GE: return value >= threshold;
	case NS_CONFIG_OP_LT: return value < threshold;
	case NS_CONFIG_OP_LE: return value <= threshold;
	case NS_CONFIG_OP_EQ: return value == threshold;
	case NS_CONFIG_OP_NE: return value != threshold;
	}
	return 0;
}

uint64_t
ns_alert_rule_id(const struct ns_config_rule *r)
{
	uint32_t op = (uint32_t)r->op;
	uint64_t h;

	/* Each hash seeds the next; strings with their NULs, so that
	 * "ab"+"c" is not "a"+"bc". */
	h = XXH3_64bits_withSeed(r->name, strlen(r->name) + 1, 0x6e73616c);
	h = XXH3_64bits_withSeed(r->task_name, strlen(r->task_name) + 1, h);
	h = XXH3_64bits_withSeed(r->metric, strlen(r->metric) + 1, h);
	h = XXH3_64bits_withSeed(&op, sizeof(op), h);
	h = XXH3_64bits_withSeed(&r->threshold, sizeof(r->threshold), h);
	return h | 1;	/* 0 is "no rule" in the segment */
}

/* ---- state machine ------------------------------------------------------ */

/* Too soon after this rule's last notification (a clock that went back
 * counts as time enough: a held change must not wait for it forever). */
static int
too_soon(const struct ns_alert_rule_state *st, uint64_t now, uint64_t min)
{
	return st->last_notify_ns != 0 && now >= st->last_notify_ns &&
	    now - st->last_notify_ns < min;
}

void
ns_alert_step(struct ns_alert_rule_state *st, int cond, double value,
    uint64_t now_ns, uint64_t min_interval_ns, struct ns_alert_step *out)
{
	uint64_t c = cond != 0;

	memset(out, 0, sizeof(*out));
	memcpy(&st->value, &value, sizeof(st->value));
	st->evaluated++;
	if (c != st->firing) {
		out->fired = (int)c;
		out->resolved = !c;
		st->firing = c;
		st->changed_ns = now_ns;
	}
	if (c == st->notified) {
		st->held = 0;		/* a flap inside the interval: unsaid */
		return;
	}
	if (too_soon(st, now_ns, min_interval_ns)) {
		out->held = !st->held;
		st->held = 1;
		return;
	}
	st->held = 0;
	st->notified = c;
	st->last_notify_ns = now_ns;
	out->action = c ? NS_ALERT_SEND_FIRING : NS_ALERT_SEND_RESOLVED;
}

/* ---- messages ----------------------------------------------------------- */

const char *
ns_alert_format_value(double v, char *buf, size_t len)
{
	int prec;

	if (isnan(v) || isinf(v))
		snprintf(buf, len, "%s", isnan(v) ? "NaN" : v > 0 ? "+Inf" :
		    "-Inf");
	else if (v > -1e15 && v < 1e15 && v == (double)(long long)v)
		snprintf(buf, len, "%.0f", v);
	else
		/* The shortest text that reads back as the same double. */
		for (prec = 1; prec <= 17; prec++) {
			snprintf(buf, len, "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
	return buf;
}

void
ns_alert_subject(const struct ns_alert_event *ev, char *buf, size_t len)
{
	char v[40], t[40];

	ns_alert_format_value(ev->value, v, sizeof(v));
	ns_alert_format_value(ev->threshold, t, sizeof(t));
	if (ev->firing)
		snprintf(buf, len, "[netspectra] FIRING: %s (%s %s %s %s on %s)",
		    ev->rule, ev->metric, v, ns_config_op_name(ev->op), t,
		    ev->task);
	else
		snprintf(buf, len, "[netspectra] RESOLVED: %s (%s %s, no longer "
		    "%s %s, on %s)", ev->rule, ev->metric, v,
		    ns_config_op_name(ev->op), t, ev->task);
}

/* An RFC 3339 time, or "-" for none. */
static const char *
event_time(uint64_t ns, char *buf, size_t len)
{
	if (ns == 0 || ns == UINT64_MAX)
		return "-";
	return ns_time_format(ns, buf, len);
}

char *
ns_alert_text(const struct ns_alert_event *ev)
{
	char v[40], t[40], ps[NS_TIME_STRLEN], at[NS_TIME_STRLEN];
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	if (fp == NULL)
		return NULL;
	fprintf(fp, "Rule %s is %s on %s.\n\n", ev->rule, ev->firing ?
	    "FIRING" : "RESOLVED", ev->host);
	fprintf(fp, "  task       %s\n", ev->task);
	fprintf(fp, "  metric     %s\n", ev->metric);
	fprintf(fp, "  value      %s\n", ns_alert_format_value(ev->value, v,
	    sizeof(v)));
	fprintf(fp, "  condition  %s %s (%s)\n", ns_config_op_name(ev->op),
	    ns_alert_format_value(ev->threshold, t, sizeof(t)),
	    ev->firing ? "true" : "false");
	fprintf(fp, "  period     started %s\n", event_time(ev->period_start_ns,
	    ps, sizeof(ps)));
	fprintf(fp, "  evaluated  %s\n", event_time(ev->time_ns, at,
	    sizeof(at)));
	fprintf(fp, "\n-- \nnetspectra alerter\n");
	if (fclose(fp) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* A number as JSON: an integer when it is one, else a real. */
static json_t *
json_number(double v)
{
	if (v > -9e15 && v < 9e15 && v == (double)(long long)v)
		return json_integer((json_int_t)v);
	/* JSON has no NaN or Inf: they become null. */
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *
json_time(uint64_t ns)
{
	char buf[NS_TIME_STRLEN];

	return ns == 0 || ns == UINT64_MAX ? json_null() :
	    json_string(ns_time_format(ns, buf, sizeof(buf)));
}

char *
ns_alert_json(const struct ns_alert_event *ev)
{
	json_t *o = json_object();
	char *s;
	int bad;

	if (o == NULL)
		return NULL;
	/* set_new takes the references, NULL ones included (then fails). */
	bad = json_object_set_new(o, "status", json_string(ev->firing ?
	    "firing" : "resolved")) |
	    json_object_set_new(o, "rule", json_string(ev->rule)) |
	    json_object_set_new(o, "task", json_string(ev->task)) |
	    json_object_set_new(o, "metric", json_string(ev->metric)) |
	    json_object_set_new(o, "operator",
	    json_string(ns_config_op_name(ev->op))) |
	    json_object_set_new(o, "threshold", json_number(ev->threshold)) |
	    json_object_set_new(o, "value", json_number(ev->value)) |
	    json_object_set_new(o, "time", json_time(ev->time_ns)) |
	    json_object_set_new(o, "period_start",
	    json_time(ev->period_start_ns)) |
	    json_object_set_new(o, "host", json_string(ev->host)) |
	    json_object_set_new(o, "source", json_string("netspectra"));
	s = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

/* ---- e-mail ------------------------------------------------------------- */

/* A header value on one line: line breaks and controls become blanks. */
static void
put_header_text(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s, fp);
}

static void
put_base64(FILE *fp, const unsigned char *p, size_t n)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		fputc(b64[p[i] >> 2], fp);
		fputc(b64[(p[i] & 3) << 4 | p[i + 1] >> 4], fp);
		fputc(b64[(p[i + 1] & 15) << 2 | p[i + 2] >> 6], fp);
		fputc(b64[p[i + 2] & 63], fp);
	}
	if (n - i == 1)
		fprintf(fp, "%c%c==", b64[p[i] >> 2], b64[(p[i] & 3) << 4]);
	else if (n - i == 2)
		fprintf(fp, "%c%c%c=", b64[p[i] >> 2],
		    b64[(p[i] & 3) << 4 | p[i + 1] >> 4],
		    b64[(p[i + 1] & 15) << 2]);
}

/*
 * The subject as RFC 2047 encoded-words when it is not ASCII: chunks of
 * at most 45 bytes (60 of base64, within the 75 an encoded-word may
 * have) that do not split a UTF-8 sequence, one per folded line.
 */
static void
put_subject(FILE *fp, const char *s)
{
	size_t n = strlen(s), i, k;
	int ascii = 1;

	for (i = 0; i < n; i++)
		ascii &= (unsigned char)s[i] < 0x80;
	if (ascii) {
		put_header_text(fp, s);
		return;
	}
	for (i = 0; i < n; i += k) {
		k = n - i < 45 ? n - i : 45;
		while (k > 1 && i + k < n &&
		    ((unsigned char)s[i + k] & 0xc0) == 0x80)
			k--;		/* not inside a sequence */
		fprintf(fp, "%s=?UTF-8?B?", i ? "\r\n " : "");
		put_base64(fp, (const unsigned char *)s + i, k);
		fputs("?=", fp);
	}
}

/* RFC 5322's date: "Thu, 01 Jan 2026 00:00:12 +0000", whatever the locale. */
static void
put_date(FILE *fp, uint64_t ns)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)(ns / 1000000000u);
	struct tm tm;

	gmtime_r(&t, &tm);
	fprintf(fp, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

static void
put_headers(FILE *fp, const struct ns_alert_event *ev, const char *from,
    char *const *to, unsigned nto, const char *message_id)
{
	char subject[1024];
	unsigned i;

	fputs("Date: ", fp);
	put_date(fp, ev->time_ns);
	fputs("\r\nFrom: ", fp);
	put_header_text(fp, from);
	fputs("\r\nTo: ", fp);
	for (i = 0; i < nto; i++) {
		fputs(i ? ",\r\n " : "", fp);
		put_header_text(fp, to[i]);
	}
	ns_alert_subject(ev, subject, sizeof(subject));
	fputs("\r\nSubject: ", fp);
	put_subject(fp, subject);
	fputs("\r\nMessage-ID: <", fp);
	put_header_text(fp, message_id);
	fprintf(fp, ">\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "X-Netspectra-Rule: ");
	put_header_text(fp, ev->rule);
	fprintf(fp, "\r\nX-Netspectra-Status: %s\r\n\r\n", ev->firing ?
	    "firing" : "resolved");
}

char *
ns_alert_email(const struct ns_alert_event *ev, const char *from,
    char *const *to, unsigned nto, const char *message_id)
{
	char *text = ns_alert_text(ev), *buf = NULL, *p;
	size_t len = 0;
	FILE *fp;

	if (text == NULL)
		return NULL;
	if ((fp = open_memstream(&buf, &len)) == NULL) {
		free(text);
		return NULL;
	}
	put_headers(fp, ev, from, to, nto, message_id);
	/* SMTP lines end in CRLF, and a CR is nothing else (one in a rule
	 * name, say); libcurl doubles a leading dot itself. */
	for (p = text; *p != '\0'; p++) {
		if (*p == '\n')
			fputc('\r', fp);
		if (*p != '\r')
			fputc(*p, fp);
	}
	free(text);
	if (fclose(fp) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

const char *
ns_alert_channel_name(enum ns_alert_channel ch)
{
	static const char *const names[] = { "email", "webhook", "nats" };

	return (unsigned)ch < NS_ALERT_NCHANNELS ? names[ch] : "?";
}
