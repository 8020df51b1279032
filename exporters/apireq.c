/*
 * apireq.c -- decoding the query API's JSON requests into typed values,
 * and building ClickHouse statements from those values (apireq.h).
 *
 * Every value is parsed into its type first (an address into 16 bytes,
 * a port into an integer, a task name into the configuration's own
 * string) and only the re-printed form reaches the SQL, through
 * ns_sql_quote() for every string.  A value that does not parse is a 400
 * with a message naming the field; nothing is ever passed through.
 *
 * The statements implement "totals that are right" (chschema.h): within
 * (Node, TaskName, PeriodStart, Generation, key) counters only grow, so a
 * generation's value is the maximum of its rows, and history is the sum
 * of those over generations, periods and nodes.  Re-sent rows change no
 * maximum.
 */
#include "apireq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "sqlq.h"

#define AREQ_TIME_MAX	4294967295LL	/* ClickHouse DateTime is UInt32 */
#define AREQ_GRAFANA_AHEAD (24 * 3600)	/* Grafana's default range end */

/* The key columns of flow_metrics: a flow's identity in every GROUP BY. */
static const char areq_key_cols[] = "SrcIP, DstIP, SrcPort, DstPort, "
    "Protocol, SrcNet, DstNet, VLAN, IPVersion, DSCP";

enum areq_type { AREQ_ADDR, AREQ_NET, AREQ_NUM };

/* Key fields: flow key name (= column name) and how a value is read. */
static const struct areq_field {
	const char	*name;
	enum areq_type	 type;
	unsigned	 max;		/* AREQ_NUM */
} areq_fields[NS_CONFIG_NFIELDS] = {
	[NS_CONFIG_FIELD_SRCIP] = { "SrcIP", AREQ_ADDR, 0 },
	[NS_CONFIG_FIELD_DSTIP] = { "DstIP", AREQ_ADDR, 0 },
	[NS_CONFIG_FIELD_SRCPORT] = { "SrcPort", AREQ_NUM, 65535 },
	[NS_CONFIG_FIELD_DSTPORT] = { "DstPort", AREQ_NUM, 65535 },
	[NS_CONFIG_FIELD_PROTOCOL] = { "Protocol", AREQ_NUM, 255 },
	[NS_CONFIG_FIELD_SRCNET] = { "SrcNet", AREQ_NET, 0 },
	[NS_CONFIG_FIELD_DSTNET] = { "DstNet", AREQ_NET, 0 },
	[NS_CONFIG_FIELD_VLAN] = { "VLAN", AREQ_NUM, 4095 },
	[NS_CONFIG_FIELD_IPVERSION] = { "IPVersion", AREQ_NUM, 6 },
	[NS_CONFIG_FIELD_DSCP] = { "DSCP", AREQ_NUM, 63 },
};

/* The members of the request bodies (Grafana's are read apart). */
enum areq_member {
	M_TASK = 0, M_END, M_START, M_SRCIP, M_DSTIP, M_SRCPORT, M_DSTPORT,
	M_PROTOCOL, M_FLOWKEYS, M_TYPE, M_LIMIT, M_N
};

#define K_AGG	(1u << NS_APIREQ_AGGREGATE)
#define K_TRACE	(1u << NS_APIREQ_TRACE)
#define K_HH	(1u << NS_APIREQ_HEAVY_HITTERS)

static const struct areq_member_def {
	const char	*snake, *camel;
	unsigned	 kinds;
	enum ns_config_field field;	/* the aggregate filters */
} areq_members[M_N] = {
	[M_TASK] = { "task_name", "taskName", K_AGG | K_TRACE | K_HH, 0 },
	[M_END] = { "end_time", "endTime", K_AGG | K_TRACE | K_HH, 0 },
	[M_START] = { "start_time", "startTime", K_AGG | K_TRACE | K_HH, 0 },
	[M_SRCIP] = { "src_ip", "srcIp", K_AGG, NS_CONFIG_FIELD_SRCIP },
	[M_DSTIP] = { "dst_ip", "dstIp", K_AGG, NS_CONFIG_FIELD_DSTIP },
	[M_SRCPORT] = { "src_port", "srcPort", K_AGG, NS_CONFIG_FIELD_SRCPORT },
	[M_DSTPORT] = { "dst_port", "dstPort", K_AGG, NS_CONFIG_FIELD_DSTPORT },
	[M_PROTOCOL] = { "protocol", "protocol", K_AGG,
	    NS_CONFIG_FIELD_PROTOCOL },
	[M_FLOWKEYS] = { "flow_keys", "flowKeys", K_TRACE, 0 },
	[M_TYPE] = { "type", "type", K_HH, 0 },
	[M_LIMIT] = { "limit", "limit", K_HH, 0 },
};

/* A decoding in progress. */
struct areq {
	const struct ns_config	*cfg;
	struct ns_apireq	*r;
	char			*err;
	size_t			 errlen;
	json_t			*m[M_N];	/* members given, not null */
	int			 task;		/* index, or -1 */
};

static int __attribute__((format(printf, 2, 3)))
areq_fail(struct areq *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->err, a->errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- tasks ------------------------------------------------------------- */

unsigned
ns_apireq_exact_tasks(const struct ns_config *cfg)
{
	return (cfg->aggregator.types & NS_CONFIG_AGG_EXACT) ?
	    cfg->aggregator.exact.ntasks : 0;
}

unsigned
ns_apireq_sketch_tasks(const struct ns_config *cfg)
{
	return (cfg->aggregator.types & NS_CONFIG_AGG_SKETCH) ?
	    cfg->aggregator.sketch.ntasks : 0;
}

static int
areq_exact_find(const struct ns_config *cfg, const char *name)
{
	unsigned t;

	for (t = 0; t < ns_apireq_exact_tasks(cfg); t++)
		if (strcmp(cfg->aggregator.exact.tasks[t].name, name) == 0)
			return (int)t;
	return -1;
}

static int
areq_sketch_find(const struct ns_config *cfg, const char *name)
{
	unsigned t;

	for (t = 0; t < ns_apireq_sketch_tasks(cfg); t++)
		if (strcmp(cfg->aggregator.sketch.tasks[t].name, name) == 0)
			return (int)t;
	return -1;
}

/* The key field of exact task t for field f, or NULL. */
static const struct ns_config_keyfield *
areq_task_field(const struct ns_config *cfg, unsigned t,
    enum ns_config_field f)
{
	const struct ns_config_fields *kf = &cfg->aggregator.exact.tasks[t].
	    key_fields;
	unsigned i;

	for (i = 0; i < kf->n; i++)
		if (kf->f[i].field == f)
			return &kf->f[i];
	return NULL;
}

/* 1 when exact task t keys by every field the request filters on. */
static int
areq_task_has_keys(const struct ns_config *cfg, unsigned t,
    const struct ns_apireq *r)
{
	unsigned i;

	for (i = 0; i < r->nkeys; i++)
		if (areq_task_field(cfg, t, r->keys[i].field) == NULL)
			return 0;
	return 1;
}

/* ---- values ------------------------------------------------------------ */

/* "", null and absent alike: proto3 has no "given but empty". */
static int
areq_string(struct areq *a, json_t *v, const char *what, const char **out)
{
	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return areq_fail(a, "%s: expected a string", what);
	if (json_string_length(v) > 0)
		*out = json_string_value(v);
	return 0;
}

/* A non-negative decimal of at most 10 digits, nothing else: 0 or -1. */
static int
areq_decimal(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (s[0] == '\0' || strlen(s) > 10)
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* A JSON integer or a decimal string, 0..max. */
static int
areq_uint(struct areq *a, json_t *v, const char *what, unsigned max,
    unsigned *out)
{
	uint64_t u;

	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (i < 0 || (uint64_t)i > max)
			return areq_fail(a, "%s: expected 0 to %u, got %"
			    JSON_INTEGER_FORMAT, what, max, i);
		*out = (unsigned)i;
		return 0;
	}
	if (!json_is_string(v))
		return areq_fail(a, "%s: expected an integer", what);
	if (areq_decimal(json_string_value(v), &u) != 0)
		return areq_fail(a, "%s: expected an integer, got \"%.32s\"",
		    what, json_string_value(v));
	if (u > max)
		return areq_fail(a, "%s: expected 0 to %u, got %" PRIu64, what,
		    max, u);
	*out = (unsigned)u;
	return 0;
}

/* An address into 16 bytes (IPv4 mapped) and its writer's text. */
static int
areq_parse_addr(const char *s, uint8_t addr[16], int *ver, char *out,
    size_t len)
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr + 12) == 1) {
		addr[10] = addr[11] = 0xff;
		*ver = 4;
	} else if (inet_pton(AF_INET6, s, addr) == 1) {
		*ver = 6;
	} else {
		return -1;
	}
	return ns_addr_format(addr, *ver, out, len) != NULL ? 0 : -1;
}

static int
areq_addr(struct areq *a, json_t *v, const char *what, char *out)
{
	uint8_t addr[16];
	int ver;

	if (!json_is_string(v))
		return areq_fail(a, "%s: expected an address string", what);
	if (json_string_length(v) >= NS_APIREQ_TEXT_MAX ||
	    areq_parse_addr(json_string_value(v), addr, &ver, out,
	    NS_APIREQ_TEXT_MAX) != 0)
		return areq_fail(a, "%s: not an IPv4 or IPv6 address: "
		    "\"%.64s\"", what, json_string_value(v));
	return 0;
}

/* Clear the bits of addr past the prefix length (of the 16 bytes). */
static void
areq_mask(uint8_t addr[16], unsigned bits)
{
	unsigned i;

	for (i = 0; i < 16; i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		addr[i] &= (uint8_t)(0xff00u >> bits);
		bits = 0;
	}
}

/*
 * "addr/len" as the writer stores a task's network: host bits cleared,
 * and the length the task keys by (kf), else the rows cannot match.
 */
static int
areq_net(struct areq *a, json_t *v, const char *what,
    const struct ns_config_keyfield *kf, char *out)
{
	char buf[NS_APIREQ_TEXT_MAX], text[NS_ADDR_STRLEN];
	const char *slash;
	uint8_t addr[16];
	uint64_t len;
	int ver;

	if (!json_is_string(v))
		return areq_fail(a, "%s: expected \"address/length\"", what);
	slash = strchr(json_string_value(v), '/');
	if (json_string_length(v) >= sizeof(buf) || slash == NULL ||
	    strlen(slash + 1) > 3 || areq_decimal(slash + 1, &len) != 0)
		return areq_fail(a, "%s: expected \"address/length\", got "
		    "\"%.64s\"", what, json_string_value(v));
	memcpy(buf, json_string_value(v), (size_t)(slash -
	    json_string_value(v)));
	buf[slash - json_string_value(v)] = '\0';
	if (areq_parse_addr(buf, addr, &ver, text, sizeof(text)) != 0 ||
	    len > (ver == 4 ? 32u : 128u))
		return areq_fail(a, "%s: not a network: \"%.64s\"", what,
		    json_string_value(v));
	if (len != (ver == 4 ? kf->v4len : kf->v6len))
		return areq_fail(a, "%s: the task keys IPv%d networks by /%u",
		    what, ver, ver == 4 ? kf->v4len : kf->v6len);
	areq_mask(addr, (unsigned)len + (ver == 4 ? 96 : 0));
	snprintf(out, NS_APIREQ_TEXT_MAX, "%s/%u", ns_addr_format(addr, ver,
	    text, sizeof(text)), (unsigned)len);
	return 0;
}

/*
 * A key value of field f into k, what naming it in messages; kf is the
 * task's, for networks.
 */
static int
areq_key(struct areq *a, enum ns_config_field f, json_t *v,
    const char *what, const struct ns_config_keyfield *kf,
    struct ns_apireq_key *k)
{
	const struct areq_field *d = &areq_fields[f];
	int rc;

	memset(k, 0, sizeof(*k));
	k->field = f;
	if (d->type == AREQ_ADDR)
		return areq_addr(a, v, what, k->text);
	if (d->type == AREQ_NET)
		return areq_net(a, v, what, kf, k->text);
	if ((rc = areq_uint(a, v, what, d->max, &k->num)) != 0)
		return rc;
	if (f == NS_CONFIG_FIELD_IPVERSION && k->num != 4 && k->num != 6)
		return areq_fail(a, "%s: expected 4 or 6, got %u", what,
		    k->num);
	return 0;
}

/* ---- times ------------------------------------------------------------- */

/* Exactly n digits at *p. */
static int
areq_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (; n > 0; n--, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return 0;
}

static int
areq_expect(const char **p, const char *any)
{
	if (**p == '\0' || strchr(any, **p) == NULL)
		return -1;
	(*p)++;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
areq_days(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
areq_mdays(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* ".123" into nanoseconds: 1 to 9 digits. */
static int
areq_fraction(const char **p, uint32_t *nsec)
{
	uint32_t v = 0, scale = 100000000;
	int n = 0;

	*nsec = 0;
	if (**p != '.')
		return 0;
	for ((*p)++; **p >= '0' && **p <= '9'; (*p)++, n++) {
		if (n == 9)
			return -1;
		v += (uint32_t)(**p - '0') * scale;
		scale /= 10;
	}
	*nsec = v;
	return n > 0 ? 0 : -1;
}

/* "Z" or "+hh:mm"/"-hh:mm" as seconds east of UTC. */
static int
areq_offset(const char **p, int64_t *off)
{
	int sign, oh, om;

	*off = 0;
	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		return 0;
	}
	if (**p != '+' && **p != '-')
		return -1;
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (areq_digits(p, 2, &oh) || areq_expect(p, ":") ||
	    areq_digits(p, 2, &om) || oh > 23 || om > 59)
		return -1;
	*off = sign * (oh * 3600 + om * 60);
	return 0;
}

int
ns_apireq_time(const char *s, int64_t *sec, uint32_t *nsec)
{
	const char *p = s;
	int y, mo, d, h, mi, se;
	int64_t off;

	if (areq_digits(&p, 4, &y) || areq_expect(&p, "-") ||
	    areq_digits(&p, 2, &mo) || areq_expect(&p, "-") ||
	    areq_digits(&p, 2, &d) || areq_expect(&p, "Tt ") ||
	    areq_digits(&p, 2, &h) || areq_expect(&p, ":") ||
	    areq_digits(&p, 2, &mi) || areq_expect(&p, ":") ||
	    areq_digits(&p, 2, &se) || areq_fraction(&p, nsec) ||
	    areq_offset(&p, &off) || *p != '\0')
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > areq_mdays(y, mo) || h > 23 ||
	    mi > 59 || se > 59)
		return -EINVAL;
	*sec = areq_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
	return 0;
}

static int64_t
areq_clamp(int64_t t)
{
	return t < 0 ? 0 : t > AREQ_TIME_MAX ? AREQ_TIME_MAX : t;
}

/*
 * A time filter in whole seconds, as DateTime columns hold them: an end
 * rounds down (Timestamp <= 5.5 is Timestamp <= 5), a start up.
 */
static int
areq_when(struct areq *a, json_t *v, const char *what, int is_start,
    int *has, int64_t *out)
{
	uint32_t nsec;
	int64_t sec;

	*has = 0;
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return areq_fail(a, "%s: expected an RFC 3339 time string",
		    what);
	if (json_string_length(v) == 0)
		return 0;
	if (ns_apireq_time(json_string_value(v), &sec, &nsec) != 0)
		return areq_fail(a, "%s: expected an RFC 3339 time such as "
		    "\"2026-01-02T03:04:05Z\", got \"%.64s\"", what,
		    json_string_value(v));
	*has = 1;
	*out = areq_clamp(sec + (is_start && nsec > 0));
	return 0;
}

/* ---- bodies ------------------------------------------------------------ */

static int
areq_load(struct areq *a, const char *body, size_t len, json_t **root)
{
	json_error_t je;
	size_t i;

	for (i = 0; i < len && strchr(" \t\r\n", body[i]) != NULL; i++)
		;
	/* An empty body asks with every field unset, as {} does. */
	*root = i == len ? json_object() : json_loadb(body, len,
	    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (*root == NULL)
		return i == len ? -ENOMEM : areq_fail(a, "bad JSON: %s (at "
		    "line %d, column %d)", je.text, je.line, je.column);
	if (!json_is_object(*root)) {
		json_decref(*root);
		return areq_fail(a, "bad request: expected a JSON object");
	}
	return 0;
}

/* Sort the object's members into a->m, refusing unknown ones. */
static int
areq_members_of(struct areq *a, json_t *root)
{
	unsigned kind = 1u << a->r->kind, i;
	const char *name;
	json_t *v;

	json_object_foreach(root, name, v) {
		for (i = 0; i < M_N; i++)
			if ((areq_members[i].kinds & kind) &&
			    (strcmp(name, areq_members[i].snake) == 0 ||
			    strcmp(name, areq_members[i].camel) == 0))
				break;
		if (i == M_N)
			return areq_fail(a, "unknown field \"%.64s\"", name);
		if (a->m[i] != NULL)
			return areq_fail(a, "%s given twice",
			    areq_members[i].snake);
		a->m[i] = json_is_null(v) ? NULL : v;
	}
	return 0;
}

static int
areq_times(struct areq *a)
{
	struct ns_apireq *r = a->r;
	int rc;

	if ((rc = areq_when(a, a->m[M_END], "end_time", 0, &r->has_end,
	    &r->end)) != 0)
		return rc;
	return areq_when(a, a->m[M_START], "start_time", 1, &r->has_start,
	    &r->start);
}

/* task_name for aggregate and trace: an exact task, or -1 if none. */
static int
areq_exact_task(struct areq *a, int required)
{
	const char *name;
	int rc;

	a->task = -1;
	if ((rc = areq_string(a, a->m[M_TASK], "task_name", &name)) != 0)
		return rc;
	if (name == NULL)
		return required ? areq_fail(a, "task_name is required") : 0;
	if ((a->task = areq_exact_find(a->cfg, name)) < 0)
		return areq_fail(a, "task_name: no exact task \"%.64s\"",
		    name);
	return 0;
}

/* Aggregate's address, port and protocol filters; 0 and "" are unset. */
static int
areq_agg_filters(struct areq *a)
{
	struct ns_apireq *r = a->r;
	unsigned i;
	int rc;

	for (i = M_SRCIP; i <= M_PROTOCOL; i++) {
		struct ns_apireq_key *k = &r->keys[r->nkeys];
		json_t *v = a->m[i];

		if (v == NULL || (json_is_string(v) &&
		    json_string_length(v) == 0))
			continue;
		if ((rc = areq_key(a, areq_members[i].field, v,
		    areq_members[i].snake, NULL, k)) != 0)
			return rc;
		if (areq_fields[k->field].type != AREQ_NUM || k->num != 0)
			r->nkeys++;
	}
	return 0;
}

static int
areq_aggregate(struct areq *a)
{
	const struct ns_config *cfg = a->cfg;
	struct ns_apireq *r = a->r;
	unsigned t, i;
	int rc;

	if ((rc = areq_exact_task(a, 0)) != 0 || (rc = areq_times(a)) != 0 ||
	    (rc = areq_agg_filters(a)) != 0)
		return rc;
	if (a->task >= 0) {
		for (i = 0; i < r->nkeys; i++)
			if (areq_task_field(cfg, (unsigned)a->task,
			    r->keys[i].field) == NULL)
				return areq_fail(a, "task %s has no key field "
				    "%s", cfg->aggregator.exact.tasks[a->task].
				    name, areq_fields[r->keys[i].field].name);
		r->tasks[r->ntasks++] = cfg->aggregator.exact.tasks[a->task].
		    name;
		return 0;
	}
	/* Every task that can answer: one keyed by each filtered field. */
	for (t = 0; t < ns_apireq_exact_tasks(cfg); t++)
		if (areq_task_has_keys(cfg, t, r))
			r->tasks[r->ntasks++] = cfg->aggregator.exact.tasks[t].
			    name;
	return 0;
}

static int
areq_field_find(const char *name)
{
	unsigned f;

	for (f = 0; f < NS_CONFIG_NFIELDS; f++)
		if (strcmp(areq_fields[f].name, name) == 0)
			return (int)f;
	return -1;
}

static int
areq_flow_keys(struct areq *a)
{
	const struct ns_config *cfg = a->cfg;
	const struct ns_config_keyfield *kf;
	struct ns_apireq *r = a->r;
	const char *name;
	json_t *keys = a->m[M_FLOWKEYS], *v;
	int f, rc;

	if (keys == NULL || (json_is_object(keys) && json_object_size(keys) ==
	    0))
		return areq_fail(a, "flow_keys: at least one key is required");
	if (!json_is_object(keys))
		return areq_fail(a, "flow_keys: expected an object such as "
		    "{\"SrcIP\":\"10.0.0.1\",\"DstPort\":\"443\"}");
	json_object_foreach(keys, name, v) {
		if ((f = areq_field_find(name)) < 0)
			return areq_fail(a, "flow_keys: unknown key \"%.64s\" "
			    "(SrcIP, DstIP, SrcPort, DstPort, Protocol, "
			    "SrcNet, DstNet, VLAN, IPVersion, DSCP)", name);
		if ((kf = areq_task_field(cfg, (unsigned)a->task,
		    (enum ns_config_field)f)) == NULL)
			return areq_fail(a, "flow_keys: task %s has no key "
			    "field %s", cfg->aggregator.exact.tasks[a->task].
			    name, name);
		if ((rc = areq_key(a, (enum ns_config_field)f, v, name, kf,
		    &r->keys[r->nkeys])) != 0)
			return rc;
		r->nkeys++;
	}
	return 0;
}

static int
areq_trace(struct areq *a)
{
	int rc;

	if ((rc = areq_exact_task(a, 1)) != 0 || (rc = areq_times(a)) != 0 ||
	    (rc = areq_flow_keys(a)) != 0)
		return rc;
	a->r->tasks[a->r->ntasks++] =
	    a->cfg->aggregator.exact.tasks[a->task].name;
	return 0;
}

/*
 * type: 0 count, 1 size (heavy-hitter tasks), 2 spread (super-spreader
 * tasks), or those names.  Unset: what the task reports first.
 */
static int
areq_hh_type(struct areq *a, const struct ns_config_sketch_task *t)
{
	static const char *const names[] = { "count", "size", "spread" };
	int spread = t->skt_type == NS_CONFIG_SKETCH_SUPER_SPREADERS, rc;
	json_t *v = a->m[M_TYPE];
	unsigned i;

	a->r->hh_type = spread ? 2 : 0;
	if (v == NULL)
		return 0;
	for (i = 0; json_is_string(v) && i < 3; i++)
		if (strcasecmp(json_string_value(v), names[i]) == 0)
			break;
	if (json_is_string(v) && i < 3)
		a->r->hh_type = i;
	else if ((rc = areq_uint(a, v, "type", 2, &a->r->hh_type)) != 0)
		return rc;
	if (spread != (a->r->hh_type == 2))
		return areq_fail(a, "type: task %s reports %s", t->name,
		    spread ? "spread (2)" : "count (0) and size (1)");
	return 0;
}

static int
areq_heavy(struct areq *a)
{
	struct ns_apireq *r = a->r;
	const char *name;
	int t, rc;

	if ((rc = areq_string(a, a->m[M_TASK], "task_name", &name)) != 0)
		return rc;
	if (name == NULL)
		return areq_fail(a, "task_name is required");
	if ((t = areq_sketch_find(a->cfg, name)) < 0)
		return areq_fail(a, "task_name: no sketch task \"%.64s\"", name);
	r->tasks[r->ntasks++] = a->cfg->aggregator.sketch.tasks[t].name;
	if ((rc = areq_times(a)) != 0 || (rc = areq_hh_type(a,
	    &a->cfg->aggregator.sketch.tasks[t])) != 0)
		return rc;
	r->limit = NS_APIREQ_LIMIT_DEFAULT;
	if (a->m[M_LIMIT] != NULL && (rc = areq_uint(a, a->m[M_LIMIT],
	    "limit", NS_APIREQ_LIMIT_MAX, &r->limit)) != 0)
		return rc;
	if (r->limit == 0)
		r->limit = NS_APIREQ_LIMIT_DEFAULT;
	return 0;
}

/* ---- Grafana ----------------------------------------------------------- */

/* One target: the index of its task in r->tasks, added if new. */
static int
areq_target(struct areq *a, json_t *tg)
{
	struct ns_apireq *r = a->r;
	json_t *name = json_object_get(tg, "target");
	unsigned i;
	int t;

	if (!json_is_object(tg))
		return areq_fail(a, "targets: expected objects");
	/* A query row not filled in yet, or hidden: nothing to draw. */
	if (json_is_true(json_object_get(tg, "hide")) || name == NULL ||
	    json_is_null(name) || (json_is_string(name) &&
	    json_string_length(name) == 0))
		return 0;
	if (!json_is_string(name))
		return areq_fail(a, "target: expected a task name");
	if ((t = areq_exact_find(a->cfg, json_string_value(name))) < 0)
		return areq_fail(a, "target: no exact task \"%.64s\"",
		    json_string_value(name));
	if (r->ntargets == NS_APIREQ_TARGETS_MAX)
		return areq_fail(a, "targets: at most %d",
		    NS_APIREQ_TARGETS_MAX);
	for (i = 0; i < r->ntasks; i++)
		if (r->tasks[i] == a->cfg->aggregator.exact.tasks[t].name)
			break;
	if (i == r->ntasks)
		r->tasks[r->ntasks++] = a->cfg->aggregator.exact.tasks[t].name;
	r->targets[r->ntargets++] = i;
	return 0;
}

/* A time member of range: absent, null or RFC 3339. */
static int
areq_range_time(struct areq *a, json_t *range, const char *name,
    int64_t *sec, uint32_t *nsec)
{
	json_t *v = json_is_object(range) ? json_object_get(range, name) :
	    NULL;

	if (v != NULL && !json_is_null(v) && (!json_is_string(v) ||
	    ns_apireq_time(json_string_value(v), sec, nsec) != 0))
		return areq_fail(a, "range.%s: expected an RFC 3339 time",
		    name);
	return 0;
}

/*
 * range.to, or now + 24 h as Go2NetSpectra does.  range.from is checked
 * but, as in Go2NetSpectra, the totals are those up to range.to.
 */
static int
areq_grafana_range(struct areq *a, json_t *root, int64_t now)
{
	struct ns_apireq *r = a->r;
	json_t *range = json_object_get(root, "range");
	uint32_t nsec = 0, from_nsec;
	int64_t sec = now + AREQ_GRAFANA_AHEAD, from;
	int rc;

	if (range != NULL && !json_is_null(range) && !json_is_object(range))
		return areq_fail(a, "range: expected an object");
	if ((rc = areq_range_time(a, range, "from", &from, &from_nsec)) != 0 ||
	    (rc = areq_range_time(a, range, "to", &sec, &nsec)) != 0)
		return rc;
	r->has_end = 1;
	r->end = areq_clamp(sec);
	r->end_ms = sec * 1000 + nsec / 1000000;
	return 0;
}

static int
areq_grafana(struct areq *a, json_t *root, int64_t now)
{
	json_t *targets = json_object_get(root, "targets"), *tg;
	size_t i;
	int rc;

	if (targets != NULL && !json_is_null(targets) &&
	    !json_is_array(targets))
		return areq_fail(a, "targets: expected an array");
	json_array_foreach(targets, i, tg)
		if ((rc = areq_target(a, tg)) != 0)
			return rc;
	return areq_grafana_range(a, root, now);
}

/*
 * Grafana's search body: {"target": "..."} and whatever else a version of
 * it adds.  Only target is looked at; it lists the same tasks whatever it
 * says, so it is checked for its type and nothing more.
 */
static int
areq_search(struct areq *a, json_t *root)
{
	json_t *target = json_object_get(root, "target");

	if (target != NULL && !json_is_null(target) && !json_is_string(target))
		return areq_fail(a, "target: expected a string");
	return 0;
}

int
ns_apireq_parse(enum ns_apireq_kind kind, const char *body, size_t len,
    const struct ns_config *cfg, int64_t now, struct ns_apireq *r,
    char *err, size_t errlen)
{
	struct areq a;
	json_t *root;
	int rc;

	memset(r, 0, sizeof(*r));
	memset(&a, 0, sizeof(a));
	r->kind = kind;
	a.cfg = cfg;
	a.r = r;
	a.err = err;
	a.errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	if ((unsigned)kind >= NS_APIREQ_NKINDS)
		return -EINVAL;
	if ((rc = areq_load(&a, body, len, &root)) != 0)
		return rc;
	if (kind == NS_APIREQ_GRAFANA)
		rc = areq_grafana(&a, root, now);
	else if (kind == NS_APIREQ_SEARCH)
		rc = areq_search(&a, root);
	else if ((rc = areq_members_of(&a, root)) == 0)
		rc = kind == NS_APIREQ_AGGREGATE ? areq_aggregate(&a) :
		    kind == NS_APIREQ_TRACE ? areq_trace(&a) : areq_heavy(&a);
	json_decref(root);
	return rc;
}

int
ns_apireq_top(const struct ns_config *cfg, const char *task, const char *n,
    const char *by, struct ns_apireq_top *o, char *err, size_t errlen)
{
	uint64_t v = NS_APIREQ_TOP_DEFAULT;
	int t;

	memset(o, 0, sizeof(*o));
	if (task == NULL || (t = areq_exact_find(cfg, task)) < 0) {
		snprintf(err, errlen, task == NULL ? "task is required" :
		    "task: no exact task \"%.64s\"", task);
		return -EINVAL;
	}
	if (n != NULL && (areq_decimal(n, &v) != 0 || v == 0 ||
	    v > NS_APIREQ_TOP_MAX)) {
		snprintf(err, errlen, "n: expected 1 to %d",
		    NS_APIREQ_TOP_MAX);
		return -EINVAL;
	}
	if (by != NULL && strcmp(by, "packets") != 0 &&
	    strcmp(by, "bytes") != 0) {
		snprintf(err, errlen, "by: expected packets or bytes");
		return -EINVAL;
	}
	o->task = (unsigned)t;
	o->n = (unsigned)v;
	o->by_bytes = by != NULL && strcmp(by, "bytes") == 0;
	return 0;
}

/* ---- SQL --------------------------------------------------------------- */

/* Room for any quoted name or value: every one is under 64 bytes, but a
 * table prefix of the configuration may be longer. */
#define SQL_LITERAL_MAX	256

/* A quoted string literal; -EINVAL stops the statement. */
static int
sql_str(FILE *fp, const char *s)
{
	char q[SQL_LITERAL_MAX];
	int rc;

	if ((rc = ns_sql_quote(s, strlen(s), q, sizeof(q))) != 0)
		return rc;
	fputs(q, fp);
	return 0;
}

/* TaskName = 'a' or TaskName IN ('a', 'b'). */
static int
sql_tasks(FILE *fp, const struct ns_apireq *r)
{
	unsigned i;
	int rc;

	fputs(r->ntasks == 1 ? "TaskName = " : "TaskName IN (", fp);
	for (i = 0; i < r->ntasks; i++) {
		if (i > 0)
			fputs(", ", fp);
		if ((rc = sql_str(fp, r->tasks[i])) != 0)
			return rc;
	}
	if (r->ntasks > 1)
		fputc(')', fp);
	return 0;
}

/* The WHERE conditions every kind shares: tasks, times, keys. */
static int
sql_where(FILE *fp, const struct ns_apireq *r)
{
	unsigned i;
	int rc;

	fputs(" WHERE ", fp);
	if ((rc = sql_tasks(fp, r)) != 0)
		return rc;
	if (r->kind == NS_APIREQ_HEAVY_HITTERS)
		fprintf(fp, " AND Type = %u", r->hh_type);
	if (r->has_end)
		fprintf(fp, " AND Timestamp <= toDateTime(%" PRId64 ")",
		    r->end);
	if (r->has_start)
		fprintf(fp, " AND PeriodStart >= toDateTime(%" PRId64 ")",
		    r->start);
	for (i = 0; i < r->nkeys; i++) {
		const struct ns_apireq_key *k = &r->keys[i];

		fprintf(fp, " AND %s = ", areq_fields[k->field].name);
		if (areq_fields[k->field].type == AREQ_NUM)
			fprintf(fp, "%u", k->num);
		else if ((rc = sql_str(fp, k->text)) != 0)
			return rc;
	}
	return 0;
}

/*
 * Per (Node, TaskName, PeriodStart, Generation, key) the largest row (the
 * latest snapshot's, and one of a re-sent batch's copies); per task their
 * sums and the number of distinct keys.  uniqExact over the key tuple
 * instead of a second GROUP BY by key saves one large hash table: about
 * twice as fast over 10M rows on 18.16.  The tuple because uniqExact takes
 * at most 8 Nullable arguments.
 */
static int
sql_aggregate(FILE *fp, const struct ns_apireq *r, const char *table)
{
	int rc;

	fprintf(fp, "SELECT TaskName, toString(sum(pb)) AS TotalBytes, "
	    "toString(sum(pp)) AS TotalPackets, toString(uniqExact(tuple(%s)))"
	    " AS FlowCount FROM (SELECT TaskName, %s, max(ByteCount) AS pb, "
	    "max(PacketCount) AS pp FROM %s", areq_key_cols, areq_key_cols,
	    table);
	if ((rc = sql_where(fp, r)) != 0)
		return rc;
	fprintf(fp, " GROUP BY Node, TaskName, PeriodStart, Generation, %s) "
	    "GROUP BY TaskName ORDER BY TaskName", areq_key_cols);
	return 0;
}

/* The matching keys' periods, summed; Periods = 0 when none matched. */
static int
sql_trace(FILE *fp, const struct ns_apireq *r, const char *table)
{
	int rc;

	fprintf(fp, "SELECT toString(toUnixTimestamp(min(fs))) AS FirstSeen, "
	    "toString(toUnixTimestamp(max(ls))) AS LastSeen, "
	    "toString(sum(pp)) AS TotalPackets, toString(sum(pb)) AS TotalBytes,"
	    " toString(count()) AS Periods FROM (SELECT min(StartTime) AS fs, "
	    "max(EndTime) AS ls, max(PacketCount) AS pp, max(ByteCount) AS pb "
	    "FROM %s", table);
	if ((rc = sql_where(fp, r)) != 0)
		return rc;
	fprintf(fp, " GROUP BY Node, PeriodStart, Generation, %s)",
	    areq_key_cols);
	return 0;
}

/*
 * Only the latest snapshot of each (Node, PeriodStart, Generation) counts,
 * by
 * (Final, Version); within it a flow's largest row (a re-sent batch
 * repeats rows), summed over periods and nodes.
 */
static int
sql_heavy(FILE *fp, const struct ns_apireq *r, const char *table)
{
	int rc;

	fprintf(fp, "SELECT Flow, toString(sum(v)) AS Value FROM (SELECT Flow,"
	    " max(Value) AS v FROM %s", table);
	if ((rc = sql_where(fp, r)) != 0)
		return rc;
	fprintf(fp, " AND (Node, PeriodStart, Generation, Final, Version) IN "
	    "(SELECT Node, PeriodStart, Generation, argMax(Final, (Final, "
	    "Version)), argMax(Version, (Final, Version)) FROM %s", table);
	if ((rc = sql_where(fp, r)) != 0)
		return rc;
	fprintf(fp, " GROUP BY Node, PeriodStart, Generation) GROUP BY Node, "
	    "PeriodStart, Generation, Flow) GROUP BY Flow ORDER BY sum(v) DESC, "
	    "Flow LIMIT %u",
	    r->limit);
	return 0;
}

int
ns_apireq_sql(const struct ns_apireq *r, const char *table, char **sql)
{
	char ident[SQL_LITERAL_MAX];
	size_t len;
	FILE *fp;
	int rc;

	*sql = NULL;
	if (r->ntasks == 0 || (unsigned)r->kind >= NS_APIREQ_NKINDS)
		return -EINVAL;
	if ((rc = ns_sql_ident(table, ident, sizeof(ident))) != 0)
		return rc == -ENOSPC ? -EINVAL : rc;
	if ((fp = open_memstream(sql, &len)) == NULL)
		return -ENOMEM;
	if (r->kind == NS_APIREQ_TRACE)
		rc = sql_trace(fp, r, ident);
	else if (r->kind == NS_APIREQ_HEAVY_HITTERS)
		rc = sql_heavy(fp, r, ident);
	else
		rc = sql_aggregate(fp, r, ident);
	fputs(" FORMAT JSONEachRow", fp);
	if (fclose(fp) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc != 0) {
		free(*sql);
		*sql = NULL;
	}
	return rc;
}
