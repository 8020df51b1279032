/*
 * config.c -- the netspectra.yaml(5) loader.
 *
 * libyaml's event stream is turned into a small tree that remembers where
 * every node starts (libyaml's document API would hide aliases and make us
 * chase node indices).  ${VAR} references are expanded as the tree is built.
 * The tree is then walked against static per-section key tables that say
 * where each value goes in struct ns_config and how it is typed; list items
 * (inputs, writers, tasks, rules) have handlers of their own.  Everything is
 * written on top of the built-in defaults, so an absent key keeps its
 * default, and every error is collected rather than the first one only.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <yaml.h>

#include "alert.h"
#include "dotenv.h"

#define NSC_MAX_DEPTH	32		/* nesting; our schema needs 6 */
#define NSC_MAX_FILE	(16u << 20)	/* larger is surely a mistake */

#define SEC		1000000000ull
#define MAX_PERIOD	(8784ull * 3600 * SEC)	/* 366 days */
#define KIB		1024ull
#define MIB		(1024ull * KIB)
#define GIB		(1024ull * MIB)

/* ---------------------------------------------------------------- names */

struct nsc_enum {
	const char *name;		/* first: nsc_suggest() relies on it */
	int value;
};

static const struct nsc_enum field_names[] = {
	{ "SrcIP", NS_CONFIG_FIELD_SRCIP },
	{ "DstIP", NS_CONFIG_FIELD_DSTIP },
	{ "SrcPort", NS_CONFIG_FIELD_SRCPORT },
	{ "DstPort", NS_CONFIG_FIELD_DSTPORT },
	{ "Protocol", NS_CONFIG_FIELD_PROTOCOL },
	{ "SrcNet", NS_CONFIG_FIELD_SRCNET },
	{ "DstNet", NS_CONFIG_FIELD_DSTNET },
	{ "VLAN", NS_CONFIG_FIELD_VLAN },
	{ "IPVersion", NS_CONFIG_FIELD_IPVERSION },
	{ "DSCP", NS_CONFIG_FIELD_DSCP },
	{ NULL, 0 }
};

static const struct nsc_enum log_levels[] = {
	{ "error", NS_CONFIG_LOG_ERROR }, { "warn", NS_CONFIG_LOG_WARN },
	{ "info", NS_CONFIG_LOG_INFO }, { "debug", NS_CONFIG_LOG_DEBUG },
	{ NULL, 0 }
};

static const struct nsc_enum facilities[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	{ NULL, 0 }
};

static const struct nsc_enum input_types[] = {
	{ "pcap", NS_CONFIG_INPUT_PCAP }, { "file", NS_CONFIG_INPUT_FILE },
	{ "nats", NS_CONFIG_INPUT_NATS }, { NULL, 0 }
};

/* What a live capture does at a full worker ring. */
static const struct nsc_enum ring_full_modes[] = {
	{ "wait", 0 }, { "drop", 1 }, { NULL, 0 }
};

static const struct nsc_enum encodings[] = {
	{ "text", NS_CONFIG_ENC_TEXT }, { "gob", NS_CONFIG_ENC_GOB },
	{ "pcap", NS_CONFIG_ENC_PCAP }, { NULL, 0 }
};

static const struct nsc_enum operators[] = {
	{ ">", NS_CONFIG_OP_GT }, { ">=", NS_CONFIG_OP_GE },
	{ "<", NS_CONFIG_OP_LT }, { "<=", NS_CONFIG_OP_LE },
	{ "==", NS_CONFIG_OP_EQ }, { "!=", NS_CONFIG_OP_NE }, { NULL, 0 }
};

static const struct nsc_enum smtp_tls_modes[] = {
	{ "auto", NS_CONFIG_SMTP_TLS_AUTO },
	{ "starttls", NS_CONFIG_SMTP_TLS_STARTTLS },
	{ "smtps", NS_CONFIG_SMTP_TLS_SMTPS },
	{ "none", NS_CONFIG_SMTP_TLS_NONE }, { NULL, 0 }
};

static const struct nsc_enum writer_types[] = {
	{ "text", NS_CONFIG_WRITER_TEXT }, { "jsonl", NS_CONFIG_WRITER_JSONL },
	{ "csv", NS_CONFIG_WRITER_CSV }, { "gob", NS_CONFIG_WRITER_GOB },
	{ "clickhouse", NS_CONFIG_WRITER_CLICKHOUSE },
	{ "nats", NS_CONFIG_WRITER_NATS }, { NULL, 0 }
};

static const struct nsc_enum layouts[] = {
	{ "netspectra", NS_CONFIG_LAYOUT_NETSPECTRA },
	{ "go2netspectra", NS_CONFIG_LAYOUT_GO2NS }, { NULL, 0 }
};

static const struct nsc_enum agg_types[] = {
	{ "exact", NS_CONFIG_AGG_EXACT }, { "sketch", NS_CONFIG_AGG_SKETCH },
	{ NULL, 0 }
};

static const char *
nsc_enum_name(const struct nsc_enum *e, int value)
{
	for (; e->name != NULL; e++)
		if (e->value == value)
			return e->name;
	return "?";
}

static int
nsc_enum_find(const struct nsc_enum *e, const char *name)
{
	for (int i = 0; e[i].name != NULL; i++)
		if (strcmp(e[i].name, name) == 0)
			return i;
	return -1;
}

const char *
ns_config_field_name(enum ns_config_field f)
{
	return nsc_enum_name(field_names, f);
}

const char *
ns_config_writer_type_name(enum ns_config_writer_type t)
{
	return nsc_enum_name(writer_types, t);
}

const char *
ns_config_input_type_name(enum ns_config_input_type t)
{
	return nsc_enum_name(input_types, t);
}

const char *
ns_config_op_name(enum ns_config_op op)
{
	return nsc_enum_name(operators, op);
}

const char *
ns_config_keyfield_format(const struct ns_config_keyfield *kf, char *buf,
    size_t len)
{
	const char *name = ns_config_field_name(kf->field);

	if (kf->field == NS_CONFIG_FIELD_SRCNET ||
	    kf->field == NS_CONFIG_FIELD_DSTNET)
		snprintf(buf, len, "%s/%u/%u", name, kf->v4len, kf->v6len);
	else
		snprintf(buf, len, "%s", name);
	return buf;
}

/* ------------------------------------------------ durations and sizes */

struct nsc_unit {
	const char *name;
	uint64_t mult;
};

/* Go's units (micro also as U+00B5 and U+03BC, as Go), and days. */
static const struct nsc_unit duration_units[] = {
	{ "h", 3600 * SEC }, { "m", 60 * SEC }, { "s", SEC },
	{ "ms", 1000000 }, { "us", 1000 }, { "\xc2\xb5s", 1000 },
	{ "\xce\xbcs", 1000 }, { "ns", 1 }, { "d", 86400 * SEC },
	{ NULL, 0 }
};

/* Case-insensitively: sizes have no "milli" to confuse with "mega". */
static const struct nsc_unit size_units[] = {
	{ "", 1 }, { "B", 1 },
	{ "KiB", KIB }, { "MiB", MIB }, { "GiB", GIB }, { "TiB", 1024 * GIB },
	{ "k", 1000 }, { "kB", 1000 }, { "M", 1000000 }, { "MB", 1000000 },
	{ "G", 1000000000 }, { "GB", 1000000000 },
	{ "T", 1000000000000ull }, { "TB", 1000000000000ull },
	{ NULL, 0 }
};

/* Reads digits at *sp into *v; -EINVAL if none or on overflow. */
static int
nsc_digits(const char **sp, uint64_t *v)
{
	const char *s = *sp;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (*v = 0; isdigit((unsigned char)*s); s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (*v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		*v = *v * 10 + d;
	}
	*sp = s;
	return 0;
}

/* Multiplies v by the unit spelled by the letters at *sp; adds to *total. */
static int
nsc_unit_add(const char **sp, uint64_t v, const struct nsc_unit *units,
    int nocase, uint64_t *total)
{
	const char *s = *sp;
	size_t n = 0;

	while (isalpha((unsigned char)s[n]))
		n++;
	for (; units->name != NULL; units++) {
		if (strlen(units->name) != n)
			continue;
		if (nocase ? strncasecmp(units->name, s, n) != 0 :
		    strncmp(units->name, s, n) != 0)
			continue;
		if (v > UINT64_MAX / units->mult ||
		    v * units->mult > UINT64_MAX - *total)
			return -EINVAL;
		*total += v * units->mult;
		*sp = s + n;
		return 0;
	}
	return -EINVAL;
}

/* The multiplier of the unit of n bytes at s, or 0. */
static uint64_t
nsc_dur_unit(const char *s, size_t n)
{
	const struct nsc_unit *u;

	for (u = duration_units; u->name != NULL; u++)
		if (strlen(u->name) == n && memcmp(u->name, s, n) == 0)
			return u->mult;
	return 0;
}

/*
 * One "<number>[.<fraction>]<unit>" at *sp, added to *total.  As Go: the
 * fraction may stand alone (".5s") or be empty ("1.s"), digits past the
 * 18th of a fraction are dropped, and the unit runs to the next digit or
 * '.'.  The fraction is exact here (Go goes through a float64), so "1.5h"
 * is 5400s in both.
 */
static int
nsc_dur_term(const char **sp, uint64_t *total)
{
	const char *s = *sp, *unit;
	uint64_t v = 0, frac = 0, scale = 1, mult, add;
	int pre, post = 0;

	if (isdigit((unsigned char)*s) && nsc_digits(&s, &v) < 0)
		return -EINVAL;
	pre = s != *sp;
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s); s++, post = 1)
			if (scale < 1000000000000000000ull) {
				frac = frac * 10 + (uint64_t)(*s - '0');
				scale *= 10;
			}
	if (!pre && !post)
		return -EINVAL;
	for (unit = s; *s != '\0' && *s != '.' && !isdigit((unsigned char)*s);
	    s++)
		;
	if ((mult = nsc_dur_unit(unit, (size_t)(s - unit))) == 0 ||
	    v > UINT64_MAX / mult)
		return -EINVAL;
	add = (uint64_t)((unsigned __int128)frac * mult / scale);
	if (v * mult > UINT64_MAX - add || v * mult + add > UINT64_MAX - *total)
		return -EINVAL;
	*total += v * mult + add;
	*sp = s;
	return 0;
}

int
ns_config_parse_duration(const char *s, uint64_t *out)
{
	uint64_t total = 0;

	if (s == NULL)
		return -EINVAL;
	/* Go takes a sign; a negative duration means nothing here. */
	if (*s == '+')
		s++;
	/* Go's one unitless duration. */
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (*s == '\0')
		return -EINVAL;
	while (*s != '\0')
		if (nsc_dur_term(&s, &total) < 0)
			return -EINVAL;
	*out = total;
	return 0;
}

int
ns_config_parse_size(const char *s, uint64_t *out)
{
	uint64_t total = 0, v;

	if (s == NULL || nsc_digits(&s, &v) < 0)
		return -EINVAL;
	if (nsc_unit_add(&s, v, size_units, 1, &total) < 0 || *s != '\0')
		return -EINVAL;
	*out = total;
	return 0;
}

const char *
ns_config_format_duration(uint64_t ns, char *buf, size_t len)
{
	static const struct nsc_unit order[] = {
		{ "h", 3600 * SEC }, { "m", 60 * SEC }, { "s", SEC },
		{ "ms", 1000000 }, { "us", 1000 }, { "ns", 1 },
	};
	size_t n = 0;

	if (len > 0)
		buf[0] = '\0';
	if (ns == 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		uint64_t q = ns / order[i].mult;

		ns %= order[i].mult;
		if (q != 0 && n < len)
			n += (size_t)snprintf(buf + n, len - n, "%llu%s",
			    (unsigned long long)q, order[i].name);
	}
	return buf;
}

const char *
ns_config_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const struct nsc_unit order[] = {
		{ "TiB", 1024 * GIB }, { "GiB", GIB }, { "MiB", MIB },
		{ "KiB", KIB },
	};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (bytes != 0 && bytes % order[i].mult == 0) {
			snprintf(buf, len, "%llu%s",
			    (unsigned long long)(bytes / order[i].mult),
			    order[i].name);
			return buf;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)bytes);
	return buf;
}

/* -------------------------------------------------------- small helpers */

struct nsc_buf {
	char *s;
	size_t len, cap;
	int oom;
};

static void
nsc_buf_add(struct nsc_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *ns;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((ns = realloc(b->s, cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void __attribute__((format(printf, 2, 0)))
nsc_buf_vprintf(struct nsc_buf *b, const char *fmt, va_list ap)
{
	char line[1024];
	int n = vsnprintf(line, sizeof(line), fmt, ap);

	if (n < 0)
		return;
	nsc_buf_add(b, line, (size_t)n < sizeof(line) ? (size_t)n :
	    sizeof(line) - 1);
}

/* Replaces *dst by a copy of s: -ENOMEM leaves *dst as it was. */
static int
nsc_set(char **dst, const char *s)
{
	char *copy = strdup(s);

	if (copy == NULL)
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

/*
 * Optimal string alignment distance (Damerau-Levenshtein restricted to
 * adjacent transpositions), ignoring case: "key_feilds" is 1 away from
 * "key_fields", "SrcIp" is 0 away from "SrcIP".
 */
static unsigned
nsc_distance(const char *a, const char *b)
{
	unsigned d[64][64];
	size_t la = strlen(a), lb = strlen(b);

	if (la >= 64 || lb >= 64)
		return UINT_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]);
			int cb = tolower((unsigned char)b[j - 1]);
			unsigned v = d[i - 1][j - 1] + (ca != cb);

			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 &&
			    ca == tolower((unsigned char)b[j - 2]) &&
			    cb == tolower((unsigned char)a[i - 2]) &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/*
 * The closest name in a NULL-terminated table whose entries start with a
 * name pointer, or NULL when nothing is close enough to be a likely typo.
 */
static const char *
nsc_suggest(const char *word, const void *table, size_t stride)
{
	const char *best = NULL;
	unsigned bestd = UINT_MAX;

	for (const char *e = table; ; e += stride) {
		const char *name;
		unsigned d, limit;

		memcpy(&name, e, sizeof(name));
		if (name == NULL)
			break;
		d = nsc_distance(word, name);
		limit = strlen(name) <= 3 ? 1 : strlen(name) <= 6 ? 2 : 3;
		if (d < strlen(name) && d <= limit && d < bestd) {
			best = name;
			bestd = d;
		}
	}
	return best;
}

/* --------------------------------------------------------------- parser */

enum nsc_kind { NK_SCALAR, NK_SEQ, NK_MAP };

struct nsc_node {
	enum nsc_kind kind;
	unsigned line, col;		/* 1-based */
	char *str;			/* scalar; values: ${VAR} expanded */
	struct nsc_node **kid;		/* items, or key, value, ... */
	size_t nkid, cap;
};

struct nsc_parser {
	const char *name;		/* file name in messages */
	const char *text;
	char *err;
	size_t errlen, errused;
	int nerr;
	int fatal;			/* the tree is incomplete: no walk */
	int oom;
	struct nsc_buf warn;
	char path[256];			/* "aggregator.exact.tasks[0]" */
	size_t plen;
	struct nsc_node *stack[NSC_MAX_DEPTH];
	int depth;
	int ndoc;
	struct nsc_node *root;
};

static void __attribute__((format(printf, 4, 5)))
nsc_error_at(struct nsc_parser *p, unsigned line, unsigned col,
    const char *fmt, ...)
{
	struct nsc_buf b = { 0 };
	char head[64];
	va_list ap;
	size_t n;

	if (++p->nerr > NS_CONFIG_MAX_ERRORS + 1 || p->err == NULL ||
	    p->errlen == 0)
		return;
	nsc_buf_add(&b, p->name, strlen(p->name));
	n = (size_t)snprintf(head, sizeof(head), ":%u:%u: ", line, col);
	nsc_buf_add(&b, head, n);
	if (p->nerr > NS_CONFIG_MAX_ERRORS) {
		nsc_buf_add(&b, "too many errors, giving up\n", 27);
	} else {
		va_start(ap, fmt);
		nsc_buf_vprintf(&b, fmt, ap);
		va_end(ap);
		nsc_buf_add(&b, "\n", 1);
	}
	if (b.s != NULL && p->errused + 1 < p->errlen) {
		n = strlen(b.s);
		if (n > p->errlen - p->errused - 1)
			n = p->errlen - p->errused - 1;
		memcpy(p->err + p->errused, b.s, n);
		p->errused += n;
		p->err[p->errused] = '\0';
	}
	free(b.s);
}

#define nsc_error(p, node, ...) \
	nsc_error_at((p), (node)->line, (node)->col, __VA_ARGS__)

static void __attribute__((format(printf, 3, 4)))
nsc_warn(struct nsc_parser *p, const struct ns_config_pos *pos,
    const char *fmt, ...)
{
	char head[64];
	va_list ap;
	int n;

	nsc_buf_add(&p->warn, p->name, strlen(p->name));
	n = snprintf(head, sizeof(head), ":%u:%u: warning: ", pos->line,
	    pos->col);
	nsc_buf_add(&p->warn, head, (size_t)n);
	va_start(ap, fmt);
	nsc_buf_vprintf(&p->warn, fmt, ap);
	va_end(ap);
	nsc_buf_add(&p->warn, "\n", 1);
}

/* The schema path of the value being read, for messages. */
static size_t
nsc_push(struct nsc_parser *p, const char *key)
{
	size_t old = p->plen;
	int n = snprintf(p->path + p->plen, sizeof(p->path) - p->plen,
	    "%s%s", p->plen ? "." : "", key);

	if (n > 0)
		p->plen = strlen(p->path);
	return old;
}

static size_t
nsc_push_index(struct nsc_parser *p, size_t i)
{
	size_t old = p->plen;

	snprintf(p->path + p->plen, sizeof(p->path) - p->plen, "[%zu]", i);
	p->plen = strlen(p->path);
	return old;
}

static void
nsc_pop(struct nsc_parser *p, size_t old)
{
	p->plen = old;
	p->path[old] = '\0';
}

/* ------------------------------------------------------- building a tree */

static void
nsc_node_free(struct nsc_node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nkid; i++)
		nsc_node_free(n->kid[i]);
	free(n->kid);
	free(n->str);
	free(n);
}

static struct nsc_node *
nsc_node_new(struct nsc_parser *p, enum nsc_kind kind, const yaml_mark_t *m)
{
	struct nsc_node *n = calloc(1, sizeof(*n));

	if (n == NULL) {
		p->oom = 1;
		return NULL;
	}
	n->kind = kind;
	n->line = (unsigned)m->line + 1;
	n->col = (unsigned)m->column + 1;
	return n;
}

/* Appends n to the open collection (or makes it the root); 0 or -1. */
static int
nsc_attach(struct nsc_parser *p, struct nsc_node *n)
{
	struct nsc_node *parent;

	if (p->depth == 0) {
		p->root = n;
		return 0;
	}
	parent = p->stack[p->depth - 1];
	if (parent->nkid == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct nsc_node **kid;

		kid = realloc(parent->kid, cap * sizeof(*kid));

		if (kid == NULL) {
			nsc_node_free(n);
			p->oom = 1;
			return -1;
		}
		parent->kid = kid;
		parent->cap = cap;
	}
	parent->kid[parent->nkid++] = n;
	return 0;
}

/* True when the scalar about to be attached is a mapping key. */
static int
nsc_next_is_key(const struct nsc_parser *p)
{
	const struct nsc_node *parent;

	if (p->depth == 0)
		return 0;
	parent = p->stack[p->depth - 1];
	return parent->kind == NK_MAP && parent->nkid % 2 == 0;
}

/*
 * The length of the UTF-8 sequence at s, its code point in *cp; 0 when
 * there is none (a stray or missing continuation byte, an overlong form,
 * a surrogate, past U+10FFFF): bytes that YAML text cannot hold.
 */
static size_t
nsc_utf8(const char *str, uint32_t *cp)
{
	static const uint32_t least[] = { 0, 0, 0x80, 0x800, 0x10000 };
	const unsigned char *s = (const unsigned char *)str;
	uint32_t c = s[0];
	size_t n, i;

	if (c < 0x80)
		n = 1;
	else if (c >= 0xc2 && c <= 0xdf)
		n = 2, c &= 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, c &= 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, c &= 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;	/* the NUL at the end stops here too */
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < least[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static int
nsc_utf8_ok(const char *s)
{
	uint32_t cp;
	size_t n;

	for (; *s != '\0'; s += n)
		if ((n = nsc_utf8(s, &cp)) == 0)
			return 0;
	return 1;
}

/* Handles "${NAME}" or "${NAME:-default}" at s; returns what follows it. */
static const char *
nsc_expand_var(struct nsc_parser *p, const char *s, struct nsc_buf *b,
    const yaml_mark_t *m)
{
	const char *name = s + 2, *end = name, *close, *val;
	char var[256];

	while (isalnum((unsigned char)*end) || *end == '_')
		end++;
	close = strchr(end, '}');
	if (close == NULL || end == name || isdigit((unsigned char)*name) ||
	    (end != close && strncmp(end, ":-", 2) != 0) ||
	    (size_t)(end - name) >= sizeof(var)) {
		nsc_error_at(p, (unsigned)m->line + 1, (unsigned)m->column + 1,
		    "%s%sexpected ${NAME} or ${NAME:-default}, got \"%.40s\" "
		    "(write $$ for a literal $)", p->path, p->plen ? ": " : "",
		    s);
		return NULL;
	}
	memcpy(var, name, (size_t)(end - name));
	var[end - name] = '\0';
	val = getenv(var);
	/* The file is checked by libyaml; what the environment adds must be
	 * UTF-8 as well, or ns_config_dump() could not write it back. */
	if (val != NULL && !nsc_utf8_ok(val)) {
		nsc_error_at(p, (unsigned)m->line + 1, (unsigned)m->column + 1,
		    "%s%sthe value of ${%s} is not UTF-8 text", p->path,
		    p->plen ? ": " : "", var);
		return NULL;
	}
	if (end != close && (val == NULL || *val == '\0'))
		nsc_buf_add(b, end + 2, (size_t)(close - end - 2));
	else if (val != NULL)
		nsc_buf_add(b, val, strlen(val));
	return close + 1;
}

/*
 * ${VAR} expansion.  Only the braced form expands, so a password with a
 * lone "$" survives; "$$" is a literal "$" (ns_config_dump writes it so).
 */
static char *
nsc_expand(struct nsc_parser *p, const char *s, const yaml_mark_t *m)
{
	struct nsc_buf b = { 0 };

	nsc_buf_add(&b, "", 0);
	while (s != NULL && *s != '\0') {
		const char *d = strchr(s, '$');

		if (d == NULL) {
			nsc_buf_add(&b, s, strlen(s));
			break;
		}
		nsc_buf_add(&b, s, (size_t)(d - s));
		if (d[1] == '{')
			s = nsc_expand_var(p, d, &b, m);
		else {
			nsc_buf_add(&b, "$", 1);
			s = d + (d[1] == '$' ? 2 : 1);
		}
	}
	if (b.oom) {
		p->oom = 1;
		free(b.s);
		return NULL;
	}
	return b.s;
}

static int
nsc_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	/* Only a plain ~ or null is YAML's null; "null" quoted is a string. */
	return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0);
}

static struct nsc_node *
nsc_scalar(struct nsc_parser *p, const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	struct nsc_node *n = nsc_node_new(p, NK_SCALAR, &ev->start_mark);

	if (n == NULL)
		return NULL;
	if (memchr(v, '\0', ev->data.scalar.length) != NULL)
		nsc_error(p, n, "a NUL character is not allowed in a value");
	if (nsc_is_null(ev))
		n->str = strdup("");
	else if (nsc_next_is_key(p))
		n->str = strdup(v);
	else
		n->str = nsc_expand(p, v, &ev->start_mark);
	if (n->str == NULL && !p->oom)
		n->str = strdup("");	/* a bad ${...}, already reported */
	if (n->str == NULL) {
		p->oom = 1;
		free(n);
		return NULL;
	}
	return n;
}

static void
nsc_no_anchor(struct nsc_parser *p, const yaml_event_t *ev,
    const yaml_char_t *anchor)
{
	if (anchor != NULL)
		nsc_error_at(p, (unsigned)ev->start_mark.line + 1,
		    (unsigned)ev->start_mark.column + 1,
		    "anchors (&%s) and aliases are not supported; write the "
		    "value out", (const char *)anchor);
}

static int
nsc_open(struct nsc_parser *p, const yaml_event_t *ev, enum nsc_kind kind)
{
	struct nsc_node *n = nsc_node_new(p, kind, &ev->start_mark);

	if (n == NULL || nsc_attach(p, n) < 0)
		return 1;
	if (p->depth == NSC_MAX_DEPTH) {
		nsc_error(p, n, "nesting deeper than %d levels", NSC_MAX_DEPTH);
		p->fatal = 1;
		return 1;
	}
	p->stack[p->depth++] = n;
	return 0;
}

/* One libyaml event into the tree; nonzero when building must stop. */
static int
nsc_event(struct nsc_parser *p, const yaml_event_t *ev)
{
	struct nsc_node *n;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (p->ndoc++ == 0)
			return 0;
		nsc_error_at(p, (unsigned)ev->start_mark.line + 1,
		    (unsigned)ev->start_mark.column + 1,
		    "expected one YAML document, got a second one");
		p->fatal = 1;
		return 1;
	case YAML_SCALAR_EVENT:
		nsc_no_anchor(p, ev, ev->data.scalar.anchor);
		n = nsc_scalar(p, ev);
		return n == NULL || nsc_attach(p, n) < 0;
	case YAML_SEQUENCE_START_EVENT:
		nsc_no_anchor(p, ev, ev->data.sequence_start.anchor);
		return nsc_open(p, ev, NK_SEQ);
	case YAML_MAPPING_START_EVENT:
		nsc_no_anchor(p, ev, ev->data.mapping_start.anchor);
		return nsc_open(p, ev, NK_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		p->depth--;
		return 0;
	case YAML_ALIAS_EVENT:
		nsc_error_at(p, (unsigned)ev->start_mark.line + 1,
		    (unsigned)ev->start_mark.column + 1,
		    "aliases (*%s) are not supported; write the value out",
		    (const char *)ev->data.alias.anchor);
		/* An empty stand-in keeps the tree's shape for the walk. */
		n = nsc_node_new(p, NK_SCALAR, &ev->start_mark);
		if (n != NULL && (n->str = strdup("")) == NULL) {
			free(n);
			n = NULL;
			p->oom = 1;
		}
		return n == NULL || nsc_attach(p, n) < 0;
	case YAML_STREAM_END_EVENT:
		return 1;
	default:
		return 0;
	}
}

static void
nsc_syntax_error(struct nsc_parser *p, const yaml_parser_t *yp)
{
	unsigned line = (unsigned)yp->problem_mark.line + 1;
	unsigned col = (unsigned)yp->problem_mark.column + 1;

	p->fatal = 1;
	if (yp->error == YAML_MEMORY_ERROR) {
		p->oom = 1;
		return;
	}
	if (yp->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark. */
		line = 1;
		col = 1;
		for (size_t i = 0; i < yp->problem_offset && p->text[i]; i++) {
			col = p->text[i] == '\n' ? 1 : col + 1;
			line += p->text[i] == '\n';
		}
	}
	if (yp->context != NULL)
		nsc_error_at(p, line, col, "YAML syntax error: %s (%s at line "
		    "%u column %u)", yp->problem, yp->context,
		    (unsigned)yp->context_mark.line + 1,
		    (unsigned)yp->context_mark.column + 1);
	else
		nsc_error_at(p, line, col, "YAML syntax error: %s",
		    yp->problem ? yp->problem : "unknown problem");
}

static void
nsc_build(struct nsc_parser *p, const char *text, size_t len)
{
	yaml_parser_t yp;
	yaml_event_t ev;
	int done = 0;

	if (!yaml_parser_initialize(&yp)) {
		p->oom = 1;
		return;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	while (!done) {
		if (!yaml_parser_parse(&yp, &ev)) {
			nsc_syntax_error(p, &yp);
			break;
		}
		done = nsc_event(p, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&yp);
}

/* --------------------------------------------------------- tree lookups */

static int
nsc_empty(const struct nsc_node *n)
{
	return n->kind == NK_SCALAR && n->str[0] == '\0';
}

/* Index of key in a mapping node, or -1. */
static long
nsc_find(const struct nsc_node *map, const char *key)
{
	if (map == NULL || map->kind != NK_MAP)
		return -1;
	for (size_t i = 0; i + 1 < map->nkid; i += 2)
		if (map->kid[i]->kind == NK_SCALAR &&
		    strcmp(map->kid[i]->str, key) == 0)
			return (long)i;
	return -1;
}

static const struct nsc_node *
nsc_get(const struct nsc_node *map, const char *key)
{
	long i = nsc_find(map, key);

	return i < 0 ? NULL : map->kid[i + 1];
}

static struct ns_config_pos
nsc_pos(const struct nsc_node *n)
{
	struct ns_config_pos pos = { n->line, n->col };

	return pos;
}

/* Describes a node for "got ..." in messages. */
static const char *
nsc_got(const struct nsc_node *n, char *buf, size_t len)
{
	if (n->kind == NK_SEQ)
		return "a sequence";
	if (n->kind == NK_MAP)
		return "a mapping";
	if (n->str[0] == '\0')
		return "an empty value";
	snprintf(buf, len, "\"%.60s%s\"", n->str, strlen(n->str) > 60 ?
	    "..." : "");
	return buf;
}

static void
nsc_expected(struct nsc_parser *p, const struct nsc_node *n, const char *what)
{
	char buf[80];

	nsc_error(p, n, "%s%sexpected %s, got %s", p->path, p->plen ? ": " : "",
	    what, nsc_got(n, buf, sizeof(buf)));
}

/* A required key: absent or empty (after ${VAR} expansion) is an error. */
static int
nsc_require(struct nsc_parser *p, const struct nsc_node *map, const char *key)
{
	const struct nsc_node *v = nsc_get(map, key);

	if (v == NULL) {
		nsc_error(p, map, "%s: missing required key \"%s\"", p->path,
		    key);
		return -1;
	}
	if (nsc_empty(v)) {
		nsc_error(p, v, "%s.%s: a value is required, got an empty "
		    "value", p->path, key);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ key tables */

enum nsc_type {
	NSC_STR,			/* char *, optionally checked */
	NSC_NAME,			/* char [], a task name */
	NSC_IGNORE,			/* any scalar, not stored */
	NSC_BOOL,
	NSC_UINT,			/* min..max, stored by size */
	NSC_DUR,			/* ns, min..max */
	NSC_SIZE,			/* bytes, min..max */
	NSC_FLOAT,			/* double, finite */
	NSC_PFLOAT,			/* double, finite and > 0 */
	NSC_ENUM,			/* aux: struct nsc_enum[] */
	NSC_MAP,			/* aux: its struct nsc_key[] */
	NSC_CUSTOM,			/* fn handles the node */
};

struct nsc_key;
typedef void nsc_fn(struct nsc_parser *, const struct nsc_node *, void *,
    const struct nsc_key *);

struct nsc_key {
	const char *name;		/* first: nsc_suggest() relies on it */
	enum nsc_type type;
	size_t off, sz;			/* in the base; sz 0: drop */
	size_t noff;			/* NSC_CUSTOM lists: the count */
	uint64_t min, max;
	const void *aux;
	nsc_fn *fn;
	const char *(*check)(const char *); /* NSC_STR: NULL or "expected" */
	unsigned only;			/* item types it is for; 0: all */
};

#define FLD(T, m)	.off = offsetof(T, m), .sz = sizeof(((T *)0)->m)
#define LIST(T, a, n)	.off = offsetof(T, a), .noff = offsetof(T, n)
#define RANGE(a, b)	.min = (a), .max = (b)
#define BIT(t)		(1u << (t))
#define KEYEND		{ .name = NULL }
#define IGNORED(n)	{ .name = (n), .type = NSC_IGNORE }

static void nsc_map(struct nsc_parser *, const struct nsc_node *,
    const struct nsc_key *, void *, unsigned, const char *);

static void
nsc_store_uint(void *dst, size_t sz, uint64_t v)
{
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	/* Enums are stored here too: gcc makes them 4-byte unsigned. */
	switch (sz) {
	case 1: memcpy(dst, &u8, 1); break;
	case 2: memcpy(dst, &u16, 2); break;
	case 4: memcpy(dst, &u32, 4); break;
	case 8: memcpy(dst, &v, 8); break;
	}
}

static void
nsc_enum_error(struct nsc_parser *p, const struct nsc_node *v,
    const struct nsc_enum *e, const char *what)
{
	struct nsc_buf list = { 0 };
	const char *sug = nsc_suggest(v->str, e, sizeof(*e));

	for (size_t i = 0; e[i].name != NULL; i++) {
		if (i > 0)
			nsc_buf_add(&list, ", ", 2);
		nsc_buf_add(&list, e[i].name, strlen(e[i].name));
	}
	nsc_error(p, v, "%s: unknown %s \"%s\"; expected one of %s%s%s%s",
	    p->path, what, v->str, list.s ? list.s : "",
	    sug ? "; did you mean \"" : "", sug ? sug : "", sug ? "\"?" : "");
	free(list.s);
}

static void
nsc_uint_value(struct nsc_parser *p, const struct nsc_node *v,
    const struct nsc_key *k, void *dst)
{
	const char *s = v->str + (v->str[0] == '-');
	uint64_t n;

	if (nsc_digits(&s, &n) < 0 || *s != '\0') {
		nsc_expected(p, v, "an integer");
		return;
	}
	if (v->str[0] == '-' || n < k->min || n > k->max) {
		nsc_error(p, v, "%s: expected an integer from %llu to %llu, "
		    "got %s", p->path, (unsigned long long)k->min,
		    (unsigned long long)k->max, v->str);
		return;
	}
	nsc_store_uint(dst, k->sz, n);
}

static void
nsc_duration_value(struct nsc_parser *p, const struct nsc_node *v,
    const struct nsc_key *k, void *dst)
{
	char lo[32], hi[32];
	const char *s = v->str;
	uint64_t n;

	if (ns_config_parse_duration(v->str, &n) < 0) {
		if (nsc_digits(&s, &n) == 0 && *s == '\0')
			nsc_error(p, v, "%s: expected a duration such as 60s, "
			    "5m, 720h, got \"%s\"; add a unit, e.g. \"%ss\"",
			    p->path, v->str, v->str);
		else
			nsc_expected(p, v, "a duration such as 60s, 5m, 720h");
		return;
	}
	if (n < k->min || n > k->max) {
		nsc_error(p, v, "%s: expected a duration from %s to %s, got "
		    "\"%s\"", p->path,
		    ns_config_format_duration(k->min, lo, sizeof(lo)),
		    ns_config_format_duration(k->max, hi, sizeof(hi)), v->str);
		return;
	}
	nsc_store_uint(dst, k->sz, n);
}

static void
nsc_size_value(struct nsc_parser *p, const struct nsc_node *v,
    const struct nsc_key *k, void *dst)
{
	char lo[32], hi[32];
	uint64_t n;

	if (ns_config_parse_size(v->str, &n) < 0) {
		nsc_expected(p, v, "a size such as 256, 64KiB, 32MiB, 1GiB");
		return;
	}
	if (n < k->min || n > k->max) {
		nsc_error(p, v, "%s: expected a size from %s to %s, got \"%s\"",
		    p->path, ns_config_format_size(k->min, lo, sizeof(lo)),
		    ns_config_format_size(k->max, hi, sizeof(hi)), v->str);
		return;
	}
	nsc_store_uint(dst, k->sz, n);
}

static int
nsc_parse_bool(const char *s, bool *b)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
			*b = strcasecmp(s, yes[i]) == 0;
			return 0;
		}
	}
	return -EINVAL;
}

static void
nsc_float_value(struct nsc_parser *p, const struct nsc_node *v,
    const struct nsc_key *k, void *dst)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v->str, &end);
	if (*end != '\0' || isspace((unsigned char)v->str[0]) ||
	    !isfinite(d) || errno == ERANGE) {
		nsc_expected(p, v, "a number such as 1.08");
		return;
	}
	if (k->type == NSC_PFLOAT && d <= 0) {
		nsc_expected(p, v, "a number greater than 0");
		return;
	}
	memcpy(dst, &d, sizeof(d));
}

#define NSC_NAME_CHARS	"abcdefghijklmnopqrstuvwxyz" \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"

/* [A-Za-z0-9_.-]+: names end up in file paths and ClickHouse rows. */
static const char *
nsc_check_name(const char *s)
{
	size_t n = strspn(s, NSC_NAME_CHARS);

	if (s[n] != '\0' || n >= NS_CONFIG_NAME_MAX)
		return "a name of up to 63 letters, digits, '_', '.' or '-'";
	return NULL;
}

static void
nsc_name_value(struct nsc_parser *p, const struct nsc_node *v,
    const struct nsc_key *k, char *dst)
{
	const char *what = nsc_check_name(v->str);

	if (what != NULL || strlen(v->str) >= k->sz)
		nsc_expected(p, v, what ? what : "a shorter name");
	else
		memcpy(dst, v->str, strlen(v->str) + 1);
}

static void
nsc_str_value(struct nsc_parser *p, const struct nsc_node *v,
    const struct nsc_key *k, void *dst)
{
	const char *what = k->check ? k->check(v->str) : NULL;

	if (what != NULL)
		nsc_expected(p, v, what);
	else if (k->sz != 0 && nsc_set(dst, v->str) < 0)
		p->oom = 1;
}

static void
nsc_scalar_value(struct nsc_parser *p, const struct nsc_node *v,
    const struct nsc_key *k, void *dst)
{
	const struct nsc_enum *e;
	bool b;
	int i;

	switch (k->type) {
	case NSC_STR: nsc_str_value(p, v, k, dst); break;
	case NSC_NAME: nsc_name_value(p, v, k, dst); break;
	case NSC_UINT: nsc_uint_value(p, v, k, dst); break;
	case NSC_DUR: nsc_duration_value(p, v, k, dst); break;
	case NSC_SIZE: nsc_size_value(p, v, k, dst); break;
	case NSC_FLOAT:
	case NSC_PFLOAT: nsc_float_value(p, v, k, dst); break;
	case NSC_BOOL:
		if (nsc_parse_bool(v->str, &b) < 0)
			nsc_expected(p, v, "a boolean (true/false, yes/no, "
			    "on/off)");
		else if (k->sz != 0)
			memcpy(dst, &b, sizeof(b));
		break;
	case NSC_ENUM:
		e = k->aux;
		if ((i = nsc_enum_find(e, v->str)) < 0)
			nsc_enum_error(p, v, e, "value");
		else
			nsc_store_uint(dst, k->sz, (uint64_t)e[i].value);
		break;
	default:
		break;
	}
}

/* What a scalar key wants, for "expected ..., got a mapping". */
static const char *
nsc_type_what(enum nsc_type t)
{
	switch (t) {
	case NSC_STR: return "a string";
	case NSC_NAME: return "a name";
	case NSC_BOOL: return "a boolean";
	case NSC_UINT: return "an integer";
	case NSC_DUR: return "a duration such as 60s, 5m, 720h";
	case NSC_SIZE: return "a size such as 256, 64KiB, 32MiB, 1GiB";
	case NSC_FLOAT:
	case NSC_PFLOAT: return "a number";
	case NSC_ENUM: return "a single value";
	default: return "a scalar value";
	}
}

static void
nsc_value(struct nsc_parser *p, const struct nsc_node *v,
    const struct nsc_key *k, void *base)
{
	char *dst = (char *)base + k->off;

	if (nsc_empty(v))
		return;		/* empty is absent: the default stands */
	if (k->type == NSC_MAP)
		nsc_map(p, v, k->aux, dst, ~0u, NULL);
	else if (k->type == NSC_CUSTOM)
		k->fn(p, v, base, k);
	else if (v->kind != NK_SCALAR)
		nsc_expected(p, v, nsc_type_what(k->type));
	else
		nsc_scalar_value(p, v, k, dst);
}

static void
nsc_unknown_key(struct nsc_parser *p, const struct nsc_node *kn,
    const struct nsc_key *keys)
{
	const char *sug = nsc_suggest(kn->str, keys, sizeof(*keys));

	nsc_error(p, kn, "unknown key \"%s\" %s%s%s%s%s", kn->str,
	    p->plen ? "in " : "at the top level", p->path,
	    sug ? "; did you mean \"" : "", sug ? sug : "", sug ? "\"?" : "");
}

/* The table entry for the i-th key of map, or NULL (error reported). */
static const struct nsc_key *
nsc_map_key(struct nsc_parser *p, const struct nsc_node *map, size_t i,
    const struct nsc_key *keys, unsigned bit, const char *what)
{
	const struct nsc_node *kn = map->kid[i];
	const char *where = p->plen ? p->path : "the top level";

	if (kn->kind != NK_SCALAR) {
		nsc_expected(p, kn, "a key name");
		return NULL;
	}
	for (size_t j = 0; j < i; j += 2) {
		const struct nsc_node *prev = map->kid[j];

		if (prev->kind == NK_SCALAR &&
		    strcmp(prev->str, kn->str) == 0) {
			nsc_error(p, kn, "duplicate key \"%s\" in %s (first at "
			    "line %u)", kn->str, where, prev->line);
			return NULL;
		}
	}
	for (const struct nsc_key *k = keys; k->name != NULL; k++) {
		if (strcmp(k->name, kn->str) != 0)
			continue;
		if (k->only == 0 || (k->only & bit))
			return k;
		nsc_error(p, kn, "%s: key \"%s\" does not apply to %s", where,
		    kn->str, what);
		return NULL;
	}
	nsc_unknown_key(p, kn, keys);
	return NULL;
}

/*
 * Reads a mapping into base.  bit is the item's type (1 << type) for keys
 * that only apply to some types; what describes the item for that message.
 */
static void
nsc_map(struct nsc_parser *p, const struct nsc_node *map,
    const struct nsc_key *keys, void *base, unsigned bit, const char *what)
{
	if (map->kind != NK_MAP) {
		nsc_expected(p, map, "a mapping");
		return;
	}
	for (size_t i = 0; i + 1 < map->nkid; i += 2) {
		const struct nsc_key *k;
		size_t old;

		if ((k = nsc_map_key(p, map, i, keys, bit, what)) == NULL)
			continue;
		old = nsc_push(p, k->name);
		nsc_value(p, map->kid[i + 1], k, base);
		nsc_pop(p, old);
	}
}

/* Checks that v is a sequence of at most max items; else -1 (reported). */
static int
nsc_seq(struct nsc_parser *p, const struct nsc_node *v, size_t max,
    const char *what)
{
	char buf[128];

	if (v->kind != NK_SEQ) {
		snprintf(buf, sizeof(buf), "a sequence of %s", what);
		nsc_expected(p, v, buf);
		return -1;
	}
	if (v->nkid > max) {
		nsc_error(p, v->kid[max], "%s: too many %s (at most %zu)",
		    p->path, what, max);
		return -1;
	}
	return 0;
}

/*
 * The type of a list item, read before its other keys so that keys which
 * belong to another type can be named as such.  ~0u when the type is
 * missing (reported here) or unknown (reported by the walk).
 */
static unsigned
nsc_item_type(struct nsc_parser *p, const struct nsc_node *item,
    const struct nsc_enum *types, int *type)
{
	const struct nsc_node *v = nsc_get(item, "type");
	int i;

	if (nsc_require(p, item, "type") < 0 || v->kind != NK_SCALAR ||
	    (i = nsc_enum_find(types, v->str)) < 0)
		return ~0u;
	*type = types[i].value;
	return BIT(types[i].value);
}

/* ------------------------------------------------------- string checks */

static const char *
nsc_check_addr(const char *s)
{
	static const char what[] = "an address host:port such as "
	    "127.0.0.1:9571 or [::1]:9571";
	const char *colon, *port;
	char *end;
	unsigned long n;

	if (s[0] == '[') {
		colon = strchr(s, ']');
		if (colon == NULL || colon == s + 1 || colon[1] != ':')
			return what;
		colon++;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || colon == s || memchr(s, ':',
		    (size_t)(colon - s)) != NULL)
			return what;
	}
	port = colon + 1;
	if (!isdigit((unsigned char)*port))
		return what;
	n = strtoul(port, &end, 10);
	if (*end != '\0' || n == 0 || n > 65535 || strpbrk(s, " \t") != NULL)
		return what;
	return NULL;
}

static const char *
nsc_check_shm(const char *s)
{
	if (s[0] != '/' || s[1] == '\0' || strchr(s + 1, '/') != NULL ||
	    strlen(s) > NAME_MAX)
		return "a shared memory name such as /netspectra (one leading "
		    "'/', no other)";
	return NULL;
}

/* A JetStream stream or consumer name: no blank, '.', '*', '>' or path. */
static const char *
nsc_check_js_name(const char *s)
{
	if (s[0] == '\0' || strlen(s) > 255 || strpbrk(s, " \t.*>/\\") != NULL)
		return "a JetStream name (no blanks, '.', '*', '>', '/', '\\')";
	return NULL;
}

/*
 * A subject to publish on: tokens of printable characters between single
 * dots, no wildcard (a publication to "a.*" goes nowhere useful).
 */
static const char *
nsc_check_pub_subject(const char *s)
{
	static const char what[] = "a NATS subject such as netspectra.snapshots "
	    "(tokens separated by '.', no blanks, '*' or '>')";

	if (s[0] == '\0' || s[0] == '.' || s[strlen(s) - 1] == '.' ||
	    strstr(s, "..") != NULL || strpbrk(s, " \t\r\n*>") != NULL)
		return what;
	return NULL;
}

/*
 * An e-mail address as SMTP's MAIL FROM and RCPT TO take it, bare
 * (user@host, or a local user): no blank, angle bracket, comma or quote.
 */
static const char *
nsc_check_mailbox(const char *s)
{
	const char *bad = " \t\r\n<>,;\"()";

	if (s[0] == '\0' || s[0] == '@' || s[strlen(s) - 1] == '@' ||
	    strpbrk(s, bad) != NULL || strlen(s) > 254)
		return "an e-mail address such as alerts@example.org (no "
		    "name, blank, '<', '>' or ',')";
	return NULL;
}

/* ----------------------------------------------------------- key fields */

/* "SrcNet/24" or "SrcNet/24/48" into kf; 0 or -1 (reported). */
static int
nsc_net_prefix(struct nsc_parser *p, const struct nsc_node *v, const char *s,
    struct ns_config_keyfield *kf)
{
	unsigned long v4, v6 = 64;
	char *end;

	if (*s != '/' || !isdigit((unsigned char)s[1]))
		goto bad;
	v4 = strtoul(s + 1, &end, 10);
	if (*end == '/') {
		if (!isdigit((unsigned char)end[1]))
			goto bad;
		v6 = strtoul(end + 1, &end, 10);
	}
	if (*end != '\0')
		goto bad;
	if (v4 > 32 || v6 > 128) {
		nsc_error(p, v, "%s: expected prefix lengths of at most 32 "
		    "(IPv4) and 128 (IPv6), got \"%s\"", p->path, v->str);
		return -1;
	}
	kf->v4len = (uint8_t)v4;
	kf->v6len = (uint8_t)v6;
	return 0;
bad:
	nsc_error(p, v, "%s: expected %s/<v4len>[/<v6len>] such as %s/24 or "
	    "%s/24/48, got \"%s\"", p->path, ns_config_field_name(kf->field),
	    ns_config_field_name(kf->field), ns_config_field_name(kf->field),
	    v->str);
	return -1;
}

/* One key field name into kf; 0 or -1 (reported). */
static int
nsc_keyfield(struct nsc_parser *p, const struct nsc_node *v,
    struct ns_config_keyfield *kf)
{
	char name[32];
	size_t n;
	int i;

	if (v->kind != NK_SCALAR || nsc_empty(v)) {
		nsc_expected(p, v, "a key field name such as SrcIP");
		return -1;
	}
	n = strcspn(v->str, "/");
	snprintf(name, sizeof(name), "%.*s", (int)(n < 31 ? n : 31), v->str);
	if ((i = nsc_enum_find(field_names, name)) < 0 || n > 31) {
		const char *sug = nsc_suggest(name, field_names,
		    sizeof(field_names[0]));

		nsc_error(p, v, "%s: unknown key field \"%s\"%s%s%s", p->path,
		    v->str, sug ? "; did you mean \"" : "", sug ? sug : "",
		    sug ? "\"?" : "");
		return -1;
	}
	memset(kf, 0, sizeof(*kf));
	kf->field = (enum ns_config_field)field_names[i].value;
	if (kf->field == NS_CONFIG_FIELD_SRCNET ||
	    kf->field == NS_CONFIG_FIELD_DSTNET)
		return nsc_net_prefix(p, v, v->str + n, kf);
	if (v->str[n] != '\0') {
		nsc_error(p, v, "%s: key field \"%s\" takes no prefix length, "
		    "got \"%s\"", p->path, name, v->str);
		return -1;
	}
	return 0;
}

/* The field that keys the same address as f, if any: SrcIP vs SrcNet. */
static int
nsc_field_rival(enum ns_config_field f)
{
	switch (f) {
	case NS_CONFIG_FIELD_SRCIP: return NS_CONFIG_FIELD_SRCNET;
	case NS_CONFIG_FIELD_SRCNET: return NS_CONFIG_FIELD_SRCIP;
	case NS_CONFIG_FIELD_DSTIP: return NS_CONFIG_FIELD_DSTNET;
	case NS_CONFIG_FIELD_DSTNET: return NS_CONFIG_FIELD_DSTIP;
	default: return -1;
	}
}

/* A new field must not repeat or contradict those before it. */
static int
nsc_field_conflict(struct nsc_parser *p, const struct nsc_node *v,
    const struct ns_config_fields *fl, const struct ns_config_keyfield *kf)
{
	for (unsigned j = 0; j < fl->n; j++) {
		const char *name = ns_config_field_name(fl->f[j].field);

		if (fl->f[j].field == kf->field) {
			nsc_error(p, v, "%s: duplicate key field \"%s\"",
			    p->path, name);
			return -1;
		}
		if ((int)fl->f[j].field == nsc_field_rival(kf->field)) {
			nsc_error(p, v, "%s: \"%s\" cannot be combined with "
			    "\"%s\": both key the %s address", p->path, v->str,
			    name, kf->field == NS_CONFIG_FIELD_SRCIP ||
			    kf->field == NS_CONFIG_FIELD_SRCNET ?
			    "source" : "destination");
			return -1;
		}
	}
	return 0;
}

static void
nsc_fields(struct nsc_parser *p, const struct nsc_node *v, void *base,
    const struct nsc_key *k)
{
	struct ns_config_fields *fl = (void *)((char *)base + k->off);
	struct ns_config_keyfield kf;

	fl->n = 0;
	if (nsc_seq(p, v, NS_CONFIG_MAX_FIELDS, "key fields") < 0)
		return;
	/* Go2NetSpectra's heavy hitters may say element_fields: [];
	 * nsc_sketch_task() wants them for a spread task. */
	if (v->nkid == 0 && strcmp(k->name, "element_fields") != 0)
		nsc_error(p, v, "%s: expected at least one key field, got an "
		    "empty sequence", p->path);
	for (size_t i = 0; i < v->nkid; i++) {
		size_t old = nsc_push_index(p, i);

		if (nsc_keyfield(p, v->kid[i], &kf) == 0 &&
		    nsc_field_conflict(p, v->kid[i], fl, &kf) == 0)
			fl->f[fl->n++] = kf;
		nsc_pop(p, old);
	}
}

/* ----------------------------------------------------------- defaults */

static int
nsc_input_defaults(struct ns_config_input *in)
{
	memset(in, 0, sizeof(*in));
	in->type = NS_CONFIG_INPUT_PCAP;
	in->snaplen = 256;
	in->promisc = true;
	in->buffer_size = 32 * MIB;
	if (nsc_set(&in->name, "") < 0 ||
	    nsc_set(&in->interface, "default") < 0 ||
	    nsc_set(&in->bpf, "") < 0 || nsc_set(&in->path, "") < 0 ||
	    nsc_set(&in->nats_url, "") < 0 || nsc_set(&in->subject, "") < 0 ||
	    nsc_set(&in->queue_group, "netspectra") < 0 ||
	    nsc_set(&in->js_stream, "") < 0 ||
	    nsc_set(&in->js_durable, "netspectra") < 0)
		return -ENOMEM;
	return 0;
}

static int
nsc_writer_defaults(struct ns_config_writer *w)
{
	char host[256];

	memset(w, 0, sizeof(*w));
	w->enabled = true;
	w->snapshot_interval = 60 * SEC;
	w->layout = NS_CONFIG_LAYOUT_AUTO;	/* nsc_layouts() decides */
	w->clickhouse.port = 8123;
	w->clickhouse.spool_max = GIB;
	w->clickhouse.batch_rows = 100000;
	w->clickhouse.timeout = 10 * SEC;
	w->nats.timeout = 10 * SEC;
	w->nats.spool_max = GIB;
	w->nats.reconnect_buffer = 8 * MIB;
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (nsc_set(&w->root_path, "") < 0 ||
	    nsc_set(&w->clickhouse.node, host) < 0 ||
	    nsc_set(&w->clickhouse.host, "127.0.0.1") < 0 ||
	    nsc_set(&w->clickhouse.database, "default") < 0 ||
	    nsc_set(&w->clickhouse.username, "default") < 0 ||
	    nsc_set(&w->clickhouse.password, "") < 0 ||
	    nsc_set(&w->clickhouse.table_prefix, "") < 0 ||
	    nsc_set(&w->clickhouse.spool_dir, "") < 0 ||
	    nsc_set(&w->nats.url, "nats://127.0.0.1:4222") < 0 ||
	    nsc_set(&w->nats.subject, "netspectra.snapshots") < 0 ||
	    nsc_set(&w->nats.node, host) < 0 ||
	    nsc_set(&w->nats.spool_dir, "") < 0)
		return -ENOMEM;
	return 0;
}

static int
nsc_rule_defaults(struct ns_config_rule *r)
{
	memset(r, 0, sizeof(*r));
	if (nsc_set(&r->name, "") < 0 || nsc_set(&r->task_name, "") < 0 ||
	    nsc_set(&r->metric, "") < 0)
		return -ENOMEM;
	return 0;
}

static void
nsc_exact_defaults(struct ns_config_exact_task *t)
{
	memset(t, 0, sizeof(*t));
	t->max_flows = 1000000;
}

static void
nsc_sketch_defaults(struct ns_config_sketch_task *t)
{
	memset(t, 0, sizeof(*t));
	t->skt_type = NS_CONFIG_SKETCH_HEAVY_HITTERS;
	t->width = 32768;
	t->depth = 2;
	t->m = 128;
	t->size = 5;
	t->base = 0.5;
	t->b = 1.08;
	t->top_k = 0;
}

/* Go2NetSpectra's per_five_tuple task. */
static void
nsc_default_task(struct ns_config_exact *e)
{
	struct ns_config_exact_task *t = &e->tasks[0];

	nsc_exact_defaults(t);
	snprintf(t->name, sizeof(t->name), "per_five_tuple");
	for (unsigned i = 0; i <= NS_CONFIG_FIELD_PROTOCOL; i++)
		t->key_fields.f[i].field = (enum ns_config_field)i;
	t->key_fields.n = NS_CONFIG_FIELD_PROTOCOL + 1;
	e->ntasks = 1;
}

static int
nsc_sections_defaults(struct ns_config *c)
{
	c->probe.snaplen = 256;
	c->probe.batch = 1;
	c->probe.persistence.num_workers = 4;
	c->probe.persistence.channel_buffer_size = 10000;
	c->probe.persistence.encoding = NS_CONFIG_ENC_PCAP;
	c->probe.persistence.rotate_size = 100 * MIB;
	c->alerter.check_interval = 60 * SEC;
	c->alerter.nats_enabled = true;
	c->alerter.min_notify_interval = 5 * 60 * SEC;
	c->alerter.timeout = 10 * SEC;
	c->smtp.port = 587;
	c->prometheus.enabled = true;
	c->prometheus.top_k = 10;
	c->aggregator.types = NS_CONFIG_AGG_EXACT | NS_CONFIG_AGG_SKETCH;
	c->aggregator.period = 60 * SEC;
	c->aggregator.num_workers = 2;
	c->aggregator.size_of_packet_channel = 65536;
	nsc_default_task(&c->aggregator.exact);
	if (nsc_set(&c->probe.nats_url, "nats://127.0.0.1:4222") < 0 ||
	    nsc_set(&c->probe.subject, "gons.packets.raw") < 0 ||
	    nsc_set(&c->probe.interface, "default") < 0 ||
	    nsc_set(&c->probe.bpf, "") < 0 ||
	    nsc_set(&c->probe.persistence.path, "") < 0 ||
	    nsc_set(&c->alerter.ai_service_addr, "") < 0 ||
	    nsc_set(&c->alerter.webhook_url, "") < 0 ||
	    nsc_set(&c->alerter.nats_url, "nats://127.0.0.1:4222") < 0 ||
	    nsc_set(&c->alerter.nats_subject, "netspectra.alerts") < 0 ||
	    nsc_set(&c->smtp.host, "") < 0 ||
	    nsc_set(&c->smtp.username, "") < 0 ||
	    nsc_set(&c->smtp.password, "") < 0 ||
	    nsc_set(&c->smtp.from, "") < 0 ||
	    nsc_set(&c->smtp.ca_file, "") < 0 ||
	    nsc_set(&c->api.http_listen_addr, "127.0.0.1:8080") < 0 ||
	    nsc_set(&c->api.grpc_listen_addr, "") < 0 ||
	    nsc_set(&c->api.username, "") < 0 ||
	    nsc_set(&c->api.password, "") < 0 ||
	    nsc_set(&c->api.cert_file, "") < 0 ||
	    nsc_set(&c->api.key_file, "") < 0 ||
	    nsc_set(&c->prometheus.listen, "127.0.0.1:9571") < 0 ||
	    nsc_set(&c->prometheus.username, "") < 0 ||
	    nsc_set(&c->prometheus.password, "") < 0 ||
	    nsc_set(&c->prometheus.cert_file, "") < 0 ||
	    nsc_set(&c->prometheus.key_file, "") < 0)
		return -ENOMEM;
	return 0;
}

static int
nsc_defaults(struct ns_config *c)
{
	struct ns_config_daemon *d = &c->daemon;

	memset(c, 0, sizeof(*c));
	d->log_level = NS_CONFIG_LOG_INFO;
	d->log_facility = LOG_DAEMON;
	c->ninputs = 1;
	if (nsc_set(&c->source, "<defaults>") < 0 ||
	    nsc_set(&d->user, "netspectra") < 0 ||
	    nsc_set(&d->group, "netspectra") < 0 ||
	    nsc_set(&d->pidfile, "/run/netspectra/netspectrad.pid") < 0 ||
	    nsc_set(&d->shm_name, "/netspectra") < 0 ||
	    nsc_set(&d->state_dir, "/var/lib/netspectra") < 0 ||
	    nsc_input_defaults(&c->inputs[0]) < 0 ||
	    nsc_set(&c->inputs[0].name, "default") < 0 ||
	    nsc_sections_defaults(c) < 0)
		return -ENOMEM;
	return 0;
}

void
ns_config_defaults(struct ns_config *cfg)
{
	if (nsc_defaults(cfg) < 0) {
		/* A few short strings: nothing sensible is left to do. */
		fprintf(stderr, "netspectra: out of memory for the default "
		    "configuration\n");
		abort();
	}
}

/* ----------------------------------------------------------------- free */

static void
nsc_input_free(struct ns_config_input *in)
{
	free(in->name);
	free(in->interface);
	free(in->bpf);
	free(in->path);
	free(in->nats_url);
	free(in->js_stream);
	free(in->js_durable);
	free(in->subject);
	free(in->queue_group);
	memset(in, 0, sizeof(*in));
}

static void
nsc_writer_free(struct ns_config_writer *w)
{
	free(w->root_path);
	free(w->clickhouse.host);
	free(w->clickhouse.database);
	free(w->clickhouse.username);
	free(w->clickhouse.password);
	free(w->clickhouse.table_prefix);
	free(w->clickhouse.spool_dir);
	free(w->clickhouse.node);
	free(w->nats.url);
	free(w->nats.subject);
	free(w->nats.node);
	free(w->nats.spool_dir);
	memset(w, 0, sizeof(*w));
}

static void
nsc_rule_free(struct ns_config_rule *r)
{
	free(r->name);
	free(r->task_name);
	free(r->metric);
	memset(r, 0, sizeof(*r));
}

static void
nsc_writers_free(struct ns_config_writer *w, unsigned *n)
{
	for (unsigned i = 0; i < *n; i++)
		nsc_writer_free(&w[i]);
	*n = 0;
}

void
ns_config_free(struct ns_config *c)
{
	struct ns_config_daemon *d = &c->daemon;

	free(c->source);
	free(d->user);
	free(d->group);
	free(d->pidfile);
	free(d->shm_name);
	free(d->state_dir);
	for (unsigned i = 0; i < c->ninputs; i++)
		nsc_input_free(&c->inputs[i]);
	free(c->probe.nats_url);
	free(c->probe.subject);
	free(c->probe.interface);
	free(c->probe.bpf);
	free(c->probe.persistence.path);
	free(c->alerter.ai_service_addr);
	free(c->alerter.webhook_url);
	free(c->alerter.nats_url);
	free(c->alerter.nats_subject);
	for (unsigned i = 0; i < c->alerter.nrules; i++)
		nsc_rule_free(&c->alerter.rules[i]);
	free(c->smtp.host);
	free(c->smtp.username);
	free(c->smtp.password);
	free(c->smtp.from);
	free(c->smtp.ca_file);
	for (unsigned i = 0; i < c->smtp.nto; i++)
		free(c->smtp.to[i]);
	free(c->api.http_listen_addr);
	free(c->api.grpc_listen_addr);
	free(c->api.username);
	free(c->api.password);
	free(c->api.cert_file);
	free(c->api.key_file);
	free(c->prometheus.listen);
	free(c->prometheus.username);
	free(c->prometheus.password);
	free(c->prometheus.cert_file);
	free(c->prometheus.key_file);
	nsc_writers_free(c->aggregator.exact.writers,
	    &c->aggregator.exact.nwriters);
	nsc_writers_free(c->aggregator.sketch.writers,
	    &c->aggregator.sketch.nwriters);
	free(c->warnings);
	memset(c, 0, sizeof(*c));
}

/* ---------------------------------------------------------- the schema */

#define T struct ns_config_daemon
static const struct nsc_key daemon_keys[] = {
	{ "user", NSC_STR, FLD(T, user) },
	{ "group", NSC_STR, FLD(T, group) },
	{ "pidfile", NSC_STR, FLD(T, pidfile) },
	{ "shm_name", NSC_STR, FLD(T, shm_name), .check = nsc_check_shm },
	{ "state_dir", NSC_STR, FLD(T, state_dir) },
	{ "log_level", NSC_ENUM, FLD(T, log_level), .aux = log_levels },
	{ "log_facility", NSC_ENUM, FLD(T, log_facility), .aux = facilities },
	KEYEND
};
#undef T

#define T struct ns_config_input
static const struct nsc_key jetstream_keys[] = {
	{ "stream", NSC_STR, FLD(T, js_stream), .check = nsc_check_js_name },
	{ "durable", NSC_STR, FLD(T, js_durable), .check = nsc_check_js_name },
	KEYEND
};

#define PCAP BIT(NS_CONFIG_INPUT_PCAP)
#define FILE_ BIT(NS_CONFIG_INPUT_FILE)
#define NATS BIT(NS_CONFIG_INPUT_NATS)
static const struct nsc_key input_keys[] = {
	{ "type", NSC_ENUM, FLD(T, type), .aux = input_types },
	{ "name", NSC_STR, FLD(T, name), .check = nsc_check_name },
	{ "interface", NSC_STR, FLD(T, interface), .only = PCAP },
	{ "bpf", NSC_STR, FLD(T, bpf), .only = PCAP | FILE_ },
	{ "snaplen", NSC_SIZE, FLD(T, snaplen), RANGE(64, 262144),
	    .only = PCAP },
	{ "promisc", NSC_BOOL, FLD(T, promisc), .only = PCAP },
	{ "buffer_size", NSC_SIZE, FLD(T, buffer_size),
	    RANGE(64 * KIB, 4 * GIB), .only = PCAP },
	{ "immediate", NSC_BOOL, FLD(T, immediate), .only = PCAP },
	{ "ring_full", NSC_ENUM, FLD(T, ring_full_drop), .aux = ring_full_modes,
	    .only = PCAP },
	{ "path", NSC_STR, FLD(T, path), .only = FILE_ },
	{ "url", NSC_STR, FLD(T, nats_url), .only = NATS },
	{ "subject", NSC_STR, FLD(T, subject), .only = NATS },
	{ "queue", NSC_STR, FLD(T, queue_group), .only = NATS },
	{ "jetstream", NSC_MAP, .aux = jetstream_keys, .only = NATS },
	/* The first spellings, kept: url and queue are the issue's. */
	{ "nats_url", NSC_STR, FLD(T, nats_url), .only = NATS },
	{ "queue_group", NSC_STR, FLD(T, queue_group), .only = NATS },
	KEYEND
};
#undef PCAP
#undef FILE_
#undef NATS
#undef T

#define T struct ns_config_probe
static const struct nsc_key persistence_keys[] = {
	{ "enabled", NSC_BOOL, FLD(T, persistence.enabled) },
	{ "path", NSC_STR, FLD(T, persistence.path) },
	{ "num_workers", NSC_UINT, FLD(T, persistence.num_workers),
	    RANGE(1, 64) },
	{ "channel_buffer_size", NSC_UINT,
	    FLD(T, persistence.channel_buffer_size), RANGE(1, 1u << 24) },
	{ "encoding", NSC_ENUM, FLD(T, persistence.encoding),
	    .aux = encodings },
	{ "rotate_size", NSC_SIZE, FLD(T, persistence.rotate_size),
	    RANGE(0, 1ull << 50) },
	{ "rotate_interval", NSC_DUR, FLD(T, persistence.rotate_interval),
	    RANGE(0, MAX_PERIOD) },
	{ "max_files", NSC_UINT, FLD(T, persistence.max_files),
	    RANGE(0, 1000000) },
	KEYEND
};

static const struct nsc_key probe_keys[] = {
	{ "nats_url", NSC_STR, FLD(T, nats_url) },
	{ "subject", NSC_STR, FLD(T, subject) },
	{ "interface", NSC_STR, FLD(T, interface) },
	{ "bpf", NSC_STR, FLD(T, bpf) },
	{ "snaplen", NSC_SIZE, FLD(T, snaplen), RANGE(64, 262144) },
	{ "batch", NSC_UINT, FLD(T, batch), RANGE(1, 1024) },
	{ "persistence", NSC_MAP, .aux = persistence_keys },
	KEYEND
};
#undef T

#define T struct ns_config_rule
static const struct nsc_key rule_keys[] = {
	{ "name", NSC_STR, FLD(T, name) },
	{ "task_name", NSC_STR, FLD(T, task_name) },
	{ "metric", NSC_STR, FLD(T, metric) },
	{ "operator", NSC_ENUM, FLD(T, op), .aux = operators },
	{ "threshold", NSC_FLOAT, FLD(T, threshold) },
	KEYEND
};
#undef T

static nsc_fn nsc_inputs, nsc_rules, nsc_writers, nsc_exact_tasks,
    nsc_sketch_tasks, nsc_types, nsc_recipients;

#define T struct ns_config_alerter
static const struct nsc_key ai_analysis_keys[] = {
	{ "enabled", NSC_BOOL, FLD(T, ai_enabled) },
	{ "service_addr", NSC_STR, FLD(T, ai_service_addr) },
	KEYEND
};

static const struct nsc_key alerter_keys[] = {
	{ "enabled", NSC_BOOL, FLD(T, enabled) },
	{ "check_interval", NSC_DUR, FLD(T, check_interval),
	    RANGE(SEC, MAX_PERIOD) },
	{ "ai_analysis", NSC_MAP, .aux = ai_analysis_keys },
	{ "webhook_url", NSC_STR, FLD(T, webhook_url) },
	{ "nats_enabled", NSC_BOOL, FLD(T, nats_enabled) },
	{ "nats_url", NSC_STR, FLD(T, nats_url) },
	{ "nats_subject", NSC_STR, FLD(T, nats_subject),
	    .check = nsc_check_pub_subject },
	{ "min_notify_interval", NSC_DUR, FLD(T, min_notify_interval),
	    RANGE(0, MAX_PERIOD) },
	{ "timeout", NSC_DUR, FLD(T, timeout), RANGE(SEC / 10, 300 * SEC) },
	{ "rules", NSC_CUSTOM, LIST(T, rules, nrules), .fn = nsc_rules },
	KEYEND
};
#undef T

/* Go2NetSpectra's smtp section, and its TLS choice (tls, ca_file). */
#define T struct ns_config_smtp
static const struct nsc_key smtp_keys[] = {
	{ "host", NSC_STR, FLD(T, host) },
	{ "port", NSC_UINT, FLD(T, port), RANGE(1, 65535) },
	{ "username", NSC_STR, FLD(T, username) },
	{ "password", NSC_STR, FLD(T, password) },
	{ "from", NSC_STR, FLD(T, from), .check = nsc_check_mailbox },
	{ "to", NSC_CUSTOM, LIST(T, to, nto), .fn = nsc_recipients },
	{ "tls", NSC_ENUM, FLD(T, tls), .aux = smtp_tls_modes },
	{ "ca_file", NSC_STR, FLD(T, ca_file) },
	KEYEND
};
#undef T

/* Go2NetSpectra's ai section: read for typos, not used. */
static const struct nsc_key ai_keys[] = {
	IGNORED("provider"), IGNORED("api_key"), IGNORED("model"),
	IGNORED("base_url"), IGNORED("grpc_listen_addr"),
	KEYEND
};

#define T struct ns_config_api
static const struct nsc_key api_basic_auth_keys[] = {
	{ "username", NSC_STR, FLD(T, username) },
	{ "password", NSC_STR, FLD(T, password) },
	KEYEND
};

static const struct nsc_key api_tls_keys[] = {
	{ "cert_file", NSC_STR, FLD(T, cert_file) },
	{ "key_file", NSC_STR, FLD(T, key_file) },
	KEYEND
};

static const struct nsc_key api_keys[] = {
	{ "enabled", NSC_BOOL, FLD(T, enabled) },
	{ "http_listen_addr", NSC_STR, FLD(T, http_listen_addr),
	    .check = nsc_check_addr },
	{ "grpc_listen_addr", NSC_STR, FLD(T, grpc_listen_addr) },
	{ "basic_auth", NSC_MAP, .aux = api_basic_auth_keys },
	{ "tls", NSC_MAP, .aux = api_tls_keys },
	KEYEND
};
#undef T

#define T struct ns_config_prometheus
static const struct nsc_key basic_auth_keys[] = {
	{ "username", NSC_STR, FLD(T, username) },
	{ "password", NSC_STR, FLD(T, password) },
	KEYEND
};

static const struct nsc_key tls_keys[] = {
	{ "cert_file", NSC_STR, FLD(T, cert_file) },
	{ "key_file", NSC_STR, FLD(T, key_file) },
	KEYEND
};

static const struct nsc_key prometheus_keys[] = {
	{ "enabled", NSC_BOOL, FLD(T, enabled) },
	{ "listen", NSC_STR, FLD(T, listen), .check = nsc_check_addr },
	{ "top_k", NSC_UINT, FLD(T, top_k), RANGE(0, 1000) },
	{ "basic_auth", NSC_MAP, .aux = basic_auth_keys },
	{ "tls", NSC_MAP, .aux = tls_keys },
	KEYEND
};
#undef T

#define T struct ns_config_writer
static const struct nsc_key file_writer_keys[] = {
	{ "root_path", NSC_STR, FLD(T, root_path) },
	KEYEND
};

static const struct nsc_key clickhouse_keys[] = {
	{ "host", NSC_STR, FLD(T, clickhouse.host) },
	{ "port", NSC_UINT, FLD(T, clickhouse.port), RANGE(1, 65535) },
	{ "database", NSC_STR, FLD(T, clickhouse.database) },
	{ "username", NSC_STR, FLD(T, clickhouse.username) },
	{ "password", NSC_STR, FLD(T, clickhouse.password) },
	/* Go2NetSpectra's ClickHouse Cloud switch: HTTPS. */
	{ "cloud", NSC_BOOL, FLD(T, clickhouse.cloud) },
	{ "table_prefix", NSC_STR, FLD(T, clickhouse.table_prefix) },
	/* One INSERT, one block: ClickHouse's max_insert_block_size. */
	{ "batch_rows", NSC_UINT, FLD(T, clickhouse.batch_rows),
	    RANGE(1, 1048576) },
	{ "timeout", NSC_DUR, FLD(T, clickhouse.timeout),
	    RANGE(SEC / 10, 3600 * SEC) },
	{ "node", NSC_STR, FLD(T, clickhouse.node) },
	{ "spool_dir", NSC_STR, FLD(T, clickhouse.spool_dir) },
	{ "spool_max", NSC_SIZE, FLD(T, clickhouse.spool_max),
	    RANGE(1, 1024 * GIB) },
	KEYEND
};

static const struct nsc_key nats_writer_keys[] = {
	{ "url", NSC_STR, FLD(T, nats.url) },
	{ "subject", NSC_STR, FLD(T, nats.subject),
	    .check = nsc_check_pub_subject },
	{ "node", NSC_STR, FLD(T, nats.node) },
	{ "timeout", NSC_DUR, FLD(T, nats.timeout),
	    RANGE(SEC / 10, 3600 * SEC) },
	{ "spool_dir", NSC_STR, FLD(T, nats.spool_dir) },
	{ "spool_max", NSC_SIZE, FLD(T, nats.spool_max),
	    RANGE(1, 1024 * GIB) },
	{ "reconnect_buffer", NSC_SIZE, FLD(T, nats.reconnect_buffer),
	    RANGE(64 * KIB, 1 * GIB) },
	KEYEND
};

static const struct nsc_key writer_keys[] = {
	{ "type", NSC_ENUM, FLD(T, type), .aux = writer_types },
	{ "enabled", NSC_BOOL, FLD(T, enabled) },
	{ "snapshot_interval", NSC_DUR, FLD(T, snapshot_interval),
	    RANGE(SEC / 10, MAX_PERIOD) },
	{ "layout", NSC_ENUM, FLD(T, layout), .aux = layouts,
	    .only = BIT(NS_CONFIG_WRITER_TEXT) | BIT(NS_CONFIG_WRITER_JSONL) |
	    BIT(NS_CONFIG_WRITER_GOB) },
	{ "text", NSC_MAP, .aux = file_writer_keys,
	    .only = BIT(NS_CONFIG_WRITER_TEXT) },
	{ "jsonl", NSC_MAP, .aux = file_writer_keys,
	    .only = BIT(NS_CONFIG_WRITER_JSONL) },
	{ "csv", NSC_MAP, .aux = file_writer_keys,
	    .only = BIT(NS_CONFIG_WRITER_CSV) },
	{ "gob", NSC_MAP, .aux = file_writer_keys,
	    .only = BIT(NS_CONFIG_WRITER_GOB) },
	{ "clickhouse", NSC_MAP, .aux = clickhouse_keys,
	    .only = BIT(NS_CONFIG_WRITER_CLICKHOUSE) },
	{ "nats", NSC_MAP, .aux = nats_writer_keys,
	    .only = BIT(NS_CONFIG_WRITER_NATS) },
	KEYEND
};
#undef T

#define T struct ns_config_exact_task
static const struct nsc_key exact_task_keys[] = {
	{ "name", NSC_NAME, FLD(T, name) },
	{ "key_fields", NSC_CUSTOM, FLD(T, key_fields), .fn = nsc_fields },
	/* Not the engine's shards (one per worker): Go2NetSpectra's layout
	 * spreads an exact task's flows over its files by it. */
	{ "num_shards", NSC_UINT, FLD(T, num_shards), RANGE(0, UINT32_MAX) },
	{ "max_flows", NSC_UINT, FLD(T, max_flows), RANGE(1, 1ull << 32) },
	KEYEND
};
#undef T

#define T struct ns_config_sketch_task
static const struct nsc_key sketch_task_keys[] = {
	{ "name", NSC_NAME, FLD(T, name) },
	{ "skt_type", NSC_UINT, FLD(T, skt_type), RANGE(0, 1) },
	{ "flow_fields", NSC_CUSTOM, FLD(T, flow_fields), .fn = nsc_fields },
	{ "element_fields", NSC_CUSTOM, FLD(T, element_fields),
	    .fn = nsc_fields },
	{ "width", NSC_UINT, FLD(T, width), RANGE(1, 1u << 24) },
	{ "depth", NSC_UINT, FLD(T, depth), RANGE(1, 16) },
	/* Go2NetSpectra spells it "thereshold"; both are accepted. */
	{ "size_thereshold", NSC_UINT, FLD(T, size_threshold),
	    RANGE(0, UINT64_MAX) },
	{ "size_threshold", NSC_UINT, FLD(T, size_threshold),
	    RANGE(0, UINT64_MAX) },
	{ "count_thereshold", NSC_UINT, FLD(T, count_threshold),
	    RANGE(0, UINT64_MAX) },
	{ "count_threshold", NSC_UINT, FLD(T, count_threshold),
	    RANGE(0, UINT64_MAX) },
	{ "m", NSC_UINT, FLD(T, m), RANGE(1, 1u << 20) },
	{ "size", NSC_UINT, FLD(T, size), RANGE(1, 64) },
	{ "base", NSC_PFLOAT, FLD(T, base) },
	{ "b", NSC_PFLOAT, FLD(T, b) },
	/* 0: no cap where a threshold is set (ns_snapshot_sketch()). */
	{ "top_k", NSC_UINT, FLD(T, top_k), RANGE(0, 100000) },
	{ "seed", NSC_UINT, FLD(T, seed), RANGE(0, UINT64_MAX) },
	KEYEND
};
#undef T

#define T struct ns_config_exact
static const struct nsc_key exact_keys[] = {
	{ "writers", NSC_CUSTOM, LIST(T, writers, nwriters),
	    .fn = nsc_writers },
	{ "tasks", NSC_CUSTOM, LIST(T, tasks, ntasks),
	    .fn = nsc_exact_tasks },
	KEYEND
};
#undef T

#define T struct ns_config_sketch
static const struct nsc_key sketch_keys[] = {
	{ "writers", NSC_CUSTOM, LIST(T, writers, nwriters),
	    .fn = nsc_writers },
	{ "tasks", NSC_CUSTOM, LIST(T, tasks, ntasks),
	    .fn = nsc_sketch_tasks },
	KEYEND
};
#undef T

#define T struct ns_config_aggregator
static const struct nsc_key aggregator_keys[] = {
	{ "types", NSC_CUSTOM, FLD(T, types), .fn = nsc_types },
	{ "period", NSC_DUR, FLD(T, period), RANGE(SEC, MAX_PERIOD) },
	{ "num_workers", NSC_UINT, FLD(T, num_workers), RANGE(1, 64) },
	{ "size_of_packet_channel", NSC_UINT,
	    FLD(T, size_of_packet_channel), RANGE(1, 1u << 24) },
	{ "exact", NSC_MAP, FLD(T, exact), .aux = exact_keys },
	{ "sketch", NSC_MAP, FLD(T, sketch), .aux = sketch_keys },
	KEYEND
};
#undef T

#define T struct ns_config
static const struct nsc_key top_keys[] = {
	{ "daemon", NSC_MAP, FLD(T, daemon), .aux = daemon_keys },
	{ "inputs", NSC_CUSTOM, .fn = nsc_inputs },
	{ "probe", NSC_MAP, FLD(T, probe), .aux = probe_keys },
	{ "alerter", NSC_MAP, FLD(T, alerter), .aux = alerter_keys },
	{ "smtp", NSC_MAP, FLD(T, smtp), .aux = smtp_keys },
	{ "ai", NSC_MAP, .aux = ai_keys },
	{ "api", NSC_MAP, FLD(T, api), .aux = api_keys },
	{ "prometheus", NSC_MAP, FLD(T, prometheus), .aux = prometheus_keys },
	{ "aggregator", NSC_MAP, FLD(T, aggregator), .aux = aggregator_keys },
	KEYEND
};
#undef T

/* --------------------------------------------------------- list handlers */

static void
nsc_types(struct nsc_parser *p, const struct nsc_node *v, void *base,
    const struct nsc_key *k)
{
	unsigned *types = (void *)((char *)base + k->off);

	if (nsc_seq(p, v, 8, "aggregator types (exact, sketch)") < 0)
		return;
	if (v->nkid == 0)
		nsc_error(p, v, "%s: expected at least one of exact, sketch, "
		    "got an empty sequence", p->path);
	*types = 0;
	for (size_t i = 0; i < v->nkid; i++) {
		const struct nsc_node *t = v->kid[i];
		size_t old = nsc_push_index(p, i);
		int j;

		if (t->kind != NK_SCALAR)
			nsc_expected(p, t, "exact or sketch");
		else if ((j = nsc_enum_find(agg_types, t->str)) < 0)
			nsc_enum_error(p, t, agg_types, "aggregator type");
		else if (*types & (unsigned)agg_types[j].value)
			nsc_error(p, t, "%s: duplicate aggregator type \"%s\"",
			    p->path, t->str);
		else
			*types |= (unsigned)agg_types[j].value;
		nsc_pop(p, old);
	}
}

static void
nsc_input_name(struct nsc_parser *p, struct ns_config_input *in)
{
	const char *from, *slash;
	char name[NS_CONFIG_NAME_MAX];
	size_t i;

	/* The name defaults to what the input reads from, made a name that
	 * nsc_check_name() takes: a file may be "my trace.pcap". */
	if (in->name[0] != '\0')
		return;
	if (in->type == NS_CONFIG_INPUT_PCAP)
		from = in->interface;
	else if (in->type == NS_CONFIG_INPUT_FILE)
		from = (slash = strrchr(in->path, '/')) ? slash + 1 : in->path;
	else
		from = "nats";
	for (i = 0; from[i] != '\0' && i + 1 < sizeof(name); i++)
		name[i] = strchr(NSC_NAME_CHARS, from[i]) ? from[i] : '_';
	name[i] = '\0';
	if (nsc_set(&in->name, name) < 0)
		p->oom = 1;
}

/* jetstream: names a stream; stream is what turns JetStream on. */
static void
nsc_input_js(struct nsc_parser *p, const struct nsc_node *item)
{
	const struct nsc_node *js = nsc_get(item, "jetstream");
	size_t old;

	if (js == NULL || js->kind != NK_MAP)
		return;
	old = nsc_push(p, "jetstream");
	nsc_require(p, js, "stream");
	nsc_pop(p, old);
}

static void
nsc_input(struct nsc_parser *p, const struct nsc_node *item,
    struct ns_config_input *in)
{
	char what[64];
	unsigned bit;
	int type = 0;

	if (nsc_input_defaults(in) < 0) {
		p->oom = 1;
		return;
	}
	in->pos = nsc_pos(item);
	if (item->kind != NK_MAP) {
		nsc_expected(p, item, "an input (a mapping with type:)");
		return;
	}
	bit = nsc_item_type(p, item, input_types, &type);
	snprintf(what, sizeof(what), "an input of type \"%s\"",
	    nsc_enum_name(input_types, type));
	nsc_map(p, item, input_keys, in, bit, what);
	if (in->type == NS_CONFIG_INPUT_FILE)
		nsc_require(p, item, "path");
	nsc_input_js(p, item);
	nsc_input_name(p, in);
}

static void
nsc_inputs(struct nsc_parser *p, const struct nsc_node *v, void *base,
    const struct nsc_key *k)
{
	struct ns_config *cfg = base;

	(void)k;
	if (nsc_seq(p, v, NS_CONFIG_MAX_INPUTS, "inputs") < 0)
		return;
	if (v->nkid == 0)
		nsc_error(p, v, "inputs: expected at least one input, got an "
		    "empty sequence");
	/* A list in the file replaces the default list. */
	for (unsigned i = 0; i < cfg->ninputs; i++)
		nsc_input_free(&cfg->inputs[i]);
	cfg->ninputs = 0;
	for (size_t i = 0; i < v->nkid; i++) {
		size_t old = nsc_push_index(p, i);
		struct ns_config_input *in = &cfg->inputs[cfg->ninputs++];

		nsc_input(p, v->kid[i], in);
		for (unsigned j = 0; j + 1 < cfg->ninputs && in->name; j++)
			if (strcmp(cfg->inputs[j].name, in->name) == 0)
				nsc_error(p, v->kid[i], "%s: duplicate input "
				    "name \"%s\" (first at line %u); set "
				    "name:", p->path, in->name,
				    cfg->inputs[j].pos.line);
		nsc_pop(p, old);
	}
}

static void
nsc_writer_check(struct nsc_parser *p, const struct nsc_node *item,
    struct ns_config_writer *w)
{
	const char *tname = ns_config_writer_type_name(w->type);

	if (w->type <= NS_CONFIG_WRITER_GOB && w->enabled) {
		const struct nsc_node *sub = nsc_get(item, tname);
		size_t old = nsc_push(p, tname);

		if (sub == NULL || sub->kind != NK_MAP) {
			nsc_pop(p, old);
			nsc_error(p, item, "%s: missing required key \"%s\" "
			    "(with root_path:)", p->path, tname);
		} else {
			nsc_require(p, sub, "root_path");
			nsc_pop(p, old);
		}
	}
	if (w->type == NS_CONFIG_WRITER_GOB) {
		/* Go's gob encoding has no C implementation worth having. */
		w->type = NS_CONFIG_WRITER_JSONL;
		w->was_gob = true;
		nsc_warn(p, &w->pos, "%s: writer type \"gob\" (Go's encoding) "
		    "is not supported; writing JSON lines (jsonl) instead",
		    p->path);
	}
}

static void
nsc_writer(struct nsc_parser *p, const struct nsc_node *item,
    struct ns_config_writer *w)
{
	char what[64];
	unsigned bit;
	int type = 0;

	if (nsc_writer_defaults(w) < 0) {
		p->oom = 1;
		return;
	}
	w->pos = nsc_pos(item);
	if (item->kind != NK_MAP) {
		nsc_expected(p, item, "a writer (a mapping with type:)");
		return;
	}
	bit = nsc_item_type(p, item, writer_types, &type);
	snprintf(what, sizeof(what), "a writer of type \"%s\"",
	    nsc_enum_name(writer_types, type));
	nsc_map(p, item, writer_keys, w, bit, what);
	if (bit != ~0u)
		nsc_writer_check(p, item, w);
}

static void
nsc_writers(struct nsc_parser *p, const struct nsc_node *v, void *base,
    const struct nsc_key *k)
{
	struct ns_config_writer *w = (void *)((char *)base + k->off);
	unsigned *n = (void *)((char *)base + k->noff);

	if (nsc_seq(p, v, NS_CONFIG_MAX_WRITERS, "writers") < 0)
		return;
	nsc_writers_free(w, n);
	for (size_t i = 0; i < v->nkid; i++) {
		size_t old = nsc_push_index(p, i);

		nsc_writer(p, v->kid[i], &w[(*n)++]);
		nsc_pop(p, old);
	}
}

/* Name and position of a task item; -1 when it has no usable name. */
static int
nsc_task_common(struct nsc_parser *p, const struct nsc_node *item,
    struct ns_config_pos *pos)
{
	const struct nsc_node *v = nsc_get(item, "name");

	*pos = nsc_pos(v != NULL ? v : item);
	return nsc_require(p, item, "name");
}

static void
nsc_exact_task(struct nsc_parser *p, const struct nsc_node *item,
    struct ns_config_exact_task *t)
{
	nsc_exact_defaults(t);
	if (item->kind != NK_MAP) {
		nsc_expected(p, item, "a task (a mapping with name:)");
		return;
	}
	nsc_map(p, item, exact_task_keys, t, ~0u, NULL);
	nsc_task_common(p, item, &t->pos);
	nsc_require(p, item, "key_fields");
}

static void
nsc_exact_tasks(struct nsc_parser *p, const struct nsc_node *v, void *base,
    const struct nsc_key *k)
{
	struct ns_config_exact_task *t = (void *)((char *)base + k->off);
	unsigned *n = (void *)((char *)base + k->noff);

	if (nsc_seq(p, v, NS_CONFIG_MAX_TASKS, "tasks") < 0)
		return;
	/* The file's list replaces the default task, it is not merged. */
	*n = 0;
	for (size_t i = 0; i < v->nkid; i++) {
		size_t old = nsc_push_index(p, i);

		nsc_exact_task(p, v->kid[i], &t[(*n)++]);
		nsc_pop(p, old);
	}
}

/* "size_thereshold" and "size_threshold" name one setting: one of them. */
static void
nsc_one_spelling(struct nsc_parser *p, const struct nsc_node *item,
    const char *a, const char *b)
{
	long ia = nsc_find(item, a), ib = nsc_find(item, b);

	if (ia >= 0 && ib >= 0)
		nsc_error(p, item->kid[ia > ib ? ia : ib], "%s: both \"%s\" "
		    "and \"%s\" given; they are one setting, keep one",
		    p->path, a, b);
}

/*
 * A spread task counts distinct elements: it needs element_fields, and
 * not the empty list a heavy-hitter task may have (nsc_fields()).
 */
static void
nsc_spread_elements(struct nsc_parser *p, const struct nsc_node *item)
{
	const struct nsc_node *v;

	if (nsc_require(p, item, "element_fields") != 0)
		return;
	v = nsc_get(item, "element_fields");
	if (v->kind == NK_SEQ && v->nkid == 0)
		nsc_error(p, v, "%s.element_fields: expected at least one key "
		    "field for skt_type 1 (the elements counted per flow), got "
		    "an empty sequence", p->path);
}

static void
nsc_sketch_task(struct nsc_parser *p, const struct nsc_node *item,
    struct ns_config_sketch_task *t)
{
	nsc_sketch_defaults(t);
	if (item->kind != NK_MAP) {
		nsc_expected(p, item, "a task (a mapping with name:)");
		return;
	}
	nsc_map(p, item, sketch_task_keys, t, ~0u, NULL);
	nsc_task_common(p, item, &t->pos);
	nsc_require(p, item, "flow_fields");
	if (t->skt_type == NS_CONFIG_SKETCH_SUPER_SPREADERS)
		nsc_spread_elements(p, item);
	nsc_one_spelling(p, item, "size_thereshold", "size_threshold");
	nsc_one_spelling(p, item, "count_thereshold", "count_threshold");
}

static void
nsc_sketch_tasks(struct nsc_parser *p, const struct nsc_node *v, void *base,
    const struct nsc_key *k)
{
	struct ns_config_sketch_task *t = (void *)((char *)base + k->off);
	unsigned *n = (void *)((char *)base + k->noff);

	if (nsc_seq(p, v, NS_CONFIG_MAX_TASKS, "tasks") < 0)
		return;
	*n = 0;
	for (size_t i = 0; i < v->nkid; i++) {
		size_t old = nsc_push_index(p, i);

		nsc_sketch_task(p, v->kid[i], &t[(*n)++]);
		nsc_pop(p, old);
	}
}

static void
nsc_rule(struct nsc_parser *p, const struct nsc_node *item,
    struct ns_config_rule *r)
{
	static const char *const required[] = {
		"name", "task_name", "metric", "operator", "threshold"
	};
	const struct nsc_node *v;

	if (nsc_rule_defaults(r) < 0) {
		p->oom = 1;
		return;
	}
	if (item->kind != NK_MAP) {
		nsc_expected(p, item, "a rule (a mapping with name:)");
		return;
	}
	nsc_map(p, item, rule_keys, r, ~0u, NULL);
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		nsc_require(p, item, required[i]);
	v = nsc_get(item, "task_name");
	r->task_name_pos = nsc_pos(v != NULL ? v : item);
	v = nsc_get(item, "metric");
	r->metric_pos = nsc_pos(v != NULL ? v : item);
}

static void
nsc_rules(struct nsc_parser *p, const struct nsc_node *v, void *base,
    const struct nsc_key *k)
{
	struct ns_config_alerter *a = base;

	(void)k;
	if (nsc_seq(p, v, NS_CONFIG_MAX_RULES, "rules") < 0)
		return;
	for (unsigned i = 0; i < a->nrules; i++)
		nsc_rule_free(&a->rules[i]);
	a->nrules = 0;
	for (size_t i = 0; i < v->nkid; i++) {
		size_t old = nsc_push_index(p, i);

		nsc_rule(p, v->kid[i], &a->rules[a->nrules++]);
		nsc_pop(p, old);
	}
}

/* One recipient, n bytes at s (blanks around it dropped), into the list. */
static void
nsc_recipient(struct nsc_parser *p, const struct nsc_node *v, const char *s,
    size_t n, struct ns_config_smtp *m)
{
	const char *what;
	char *addr;

	while (n > 0 && isspace((unsigned char)*s))
		s++, n--;
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if ((addr = strndup(s, n)) == NULL) {
		p->oom = 1;
		return;
	}
	if ((what = nsc_check_mailbox(addr)) != NULL)
		nsc_error(p, v, "%s: expected %s, got \"%s\"", p->path, what,
		    addr);
	else if (m->nto == NS_CONFIG_MAX_RECIPIENTS)
		nsc_error(p, v, "%s: too many recipients (at most %d)", p->path,
		    NS_CONFIG_MAX_RECIPIENTS);
	else {
		m->to[m->nto++] = addr;
		return;
	}
	free(addr);
}

/*
 * smtp.to: a sequence of addresses, or Go2NetSpectra's one string of
 * comma-separated ones.
 */
static void
nsc_recipients(struct nsc_parser *p, const struct nsc_node *v, void *base,
    const struct nsc_key *k)
{
	struct ns_config_smtp *m = base;
	const char *s, *comma;

	(void)k;
	for (unsigned i = 0; i < m->nto; i++)
		free(m->to[i]);
	m->nto = 0;
	if (v->kind == NK_SCALAR) {
		for (s = v->str; (comma = strchr(s, ',')) != NULL; s = comma + 1)
			nsc_recipient(p, v, s, (size_t)(comma - s), m);
		nsc_recipient(p, v, s, strlen(s), m);
		return;
	}
	if (nsc_seq(p, v, NS_CONFIG_MAX_RECIPIENTS, "recipients") < 0)
		return;
	for (size_t i = 0; i < v->nkid; i++) {
		size_t old = nsc_push_index(p, i);

		if (v->kid[i]->kind != NK_SCALAR)
			nsc_expected(p, v->kid[i], "an e-mail address");
		else
			nsc_recipient(p, v->kid[i], v->kid[i]->str,
			    strlen(v->kid[i]->str), m);
		nsc_pop(p, old);
	}
}

/* ---------------------------------------------- checks across sections */

/* The position of a task name, or NULL if no task has that name. */
static const struct ns_config_pos *
nsc_task_pos(const struct ns_config *c, const char *name)
{
	const struct ns_config_exact *e = &c->aggregator.exact;
	const struct ns_config_sketch *s = &c->aggregator.sketch;

	for (unsigned i = 0; i < e->ntasks; i++)
		if (strcmp(e->tasks[i].name, name) == 0)
			return &e->tasks[i].pos;
	for (unsigned i = 0; i < s->ntasks; i++)
		if (strcmp(s->tasks[i].name, name) == 0)
			return &s->tasks[i].pos;
	return NULL;
}

static void
nsc_dup_task(struct nsc_parser *p, const char *name,
    const struct ns_config_pos *pos, const struct ns_config_pos *first)
{
	char where[64] = "the built-in exact task; list exact tasks to "
	    "replace it";

	if (first->line != 0)
		snprintf(where, sizeof(where), "first at line %u", first->line);
	nsc_error_at(p, pos->line, pos->col, "duplicate task name \"%s\" "
	    "(%s); task names must be unique across exact and sketch", name,
	    where);
}

/* Task names key files, rows and metrics: unique across both kinds. */
static void
nsc_check_task_names(struct nsc_parser *p, const struct ns_config *c)
{
	const struct ns_config_sketch *s = &c->aggregator.sketch;
	const struct ns_config_exact *e = &c->aggregator.exact;
	const struct ns_config_pos *first;

	for (unsigned i = 0; i < e->ntasks; i++) {
		first = nsc_task_pos(c, e->tasks[i].name);
		if (e->tasks[i].name[0] && first != &e->tasks[i].pos)
			nsc_dup_task(p, e->tasks[i].name, &e->tasks[i].pos,
			    first);
	}
	for (unsigned i = 0; i < s->ntasks; i++) {
		first = nsc_task_pos(c, s->tasks[i].name);
		if (s->tasks[i].name[0] && first != &s->tasks[i].pos)
			nsc_dup_task(p, s->tasks[i].name, &s->tasks[i].pos,
			    first);
	}
}

/* Candidates for a did-you-mean over the configured task names. */
static const char *
nsc_suggest_task(const struct ns_config *c, const char *word)
{
	struct nsc_enum names[2 * NS_CONFIG_MAX_TASKS + 1];
	size_t n = 0;

	const struct ns_config_exact *e = &c->aggregator.exact;
	const struct ns_config_sketch *s = &c->aggregator.sketch;

	for (unsigned i = 0; i < e->ntasks; i++)
		names[n++] = (struct nsc_enum){ e->tasks[i].name, 0 };
	for (unsigned i = 0; i < s->ntasks; i++)
		names[n++] = (struct nsc_enum){ s->tasks[i].name, 0 };
	names[n] = (struct nsc_enum){ NULL, 0 };
	return nsc_suggest(word, names, sizeof(names[0]));
}

/* Each rule's metric exists and reads the kind of task it names. */
static void
nsc_check_metrics(struct nsc_parser *p, const struct ns_config *c)
{
	char why[256];

	for (unsigned i = 0; i < c->alerter.nrules; i++) {
		const struct ns_config_rule *r = &c->alerter.rules[i];

		if (r->metric[0] != '\0' &&
		    ns_alert_rule_check(c, r, why, sizeof(why)) != 0)
			nsc_error_at(p, r->metric_pos.line, r->metric_pos.col,
			    "alerter.rules[%u].metric: %s", i, why);
	}
}

/*
 * E-mail needs somebody to write to; the alerter's NATS server is the
 * probe's unless it has one of its own (the probe section may come
 * later, hence after the walk).
 */
static void
nsc_check_alerter(struct nsc_parser *p, const struct nsc_node *root,
    struct ns_config *c)
{
	const struct nsc_node *smtp = nsc_get(root, "smtp");
	const struct nsc_node *url = nsc_get(nsc_get(root, "alerter"),
	    "nats_url");

	if (c->alerter.enabled && c->smtp.host[0] != '\0' &&
	    c->smtp.nto == 0)
		nsc_error(p, smtp ? smtp : root, "smtp: host %s is set, but no recipient: "
		    "expected to: with at least one address", c->smtp.host);
	if ((url == NULL || nsc_empty(url)) &&
	    nsc_set(&c->alerter.nats_url, c->probe.nats_url) < 0)
		p->oom = 1;
}

static void
nsc_check_rules(struct nsc_parser *p, const struct ns_config *c)
{
	for (unsigned i = 0; i < c->alerter.nrules; i++) {
		const struct ns_config_rule *r = &c->alerter.rules[i];
		const char *sug;

		if (r->task_name[0] == '\0' || nsc_task_pos(c, r->task_name))
			continue;
		sug = nsc_suggest_task(c, r->task_name);
		nsc_error_at(p, r->task_name_pos.line, r->task_name_pos.col,
		    "alerter.rules[%u].task_name: no task is named "
		    "\"%s\"%s%s%s", i, r->task_name,
		    sug ? "; did you mean \"" : "", sug ? sug : "",
		    sug ? "\"?" : "");
	}
	nsc_check_metrics(p, c);
}

static void
nsc_check_pair(struct nsc_parser *p, const struct nsc_node *root,
    const char *top, const char *sect, const char *a, const char *b)
{
	const struct nsc_node *s = nsc_get(nsc_get(root, top), sect);
	const struct nsc_node *va = nsc_get(s, a), *vb = nsc_get(s, b);
	int ha = va != NULL && !nsc_empty(va);
	int hb = vb != NULL && !nsc_empty(vb);

	if (ha != hb)
		nsc_error(p, s, "%s.%s: expected both %s and %s, got "
		    "only %s", top, sect, a, b, ha ? a : b);
}

/*
 * ns-api runs when api.enabled says so or, without that key, when the
 * file names an http_listen_addr: Go2NetSpectra's config has no enabled,
 * and setting API_HTTP_LISTEN_ADDR is how its users turn the API on.
 */
static void
nsc_api_default(const struct nsc_node *root, struct ns_config *c)
{
	const struct nsc_node *api = nsc_get(root, "api");
	const struct nsc_node *on = nsc_get(api, "enabled");
	const struct nsc_node *addr = nsc_get(api, "http_listen_addr");

	if ((on == NULL || nsc_empty(on)) && addr != NULL && !nsc_empty(addr))
		c->api.enabled = true;
}

static void
nsc_check_intervals(struct nsc_parser *p, const struct ns_config *c)
{
	const struct ns_config_writer *lists[2] = {
		c->aggregator.exact.writers, c->aggregator.sketch.writers
	};
	unsigned counts[2] = {
		c->aggregator.exact.nwriters, c->aggregator.sketch.nwriters
	};
	char a[32], b[32];

	for (int l = 0; l < 2; l++) {
		for (unsigned i = 0; i < counts[l]; i++) {
			const struct ns_config_writer *w = &lists[l][i];

			if (w->enabled && w->snapshot_interval >
			    c->aggregator.period)
				nsc_warn(p, &w->pos, "snapshot_interval %s is "
				    "longer than aggregator.period %s; the "
				    "writer sees only final snapshots",
				    ns_config_format_duration(
				    w->snapshot_interval, a, sizeof(a)),
				    ns_config_format_duration(
				    c->aggregator.period, b, sizeof(b)));
		}
	}
}

/*
 * ClickHouse's native ports: the writer speaks HTTP, and a request sent
 * there would wait for an answer that never comes.
 */
static void
nsc_check_clickhouse(struct nsc_parser *p, const struct ns_config *c)
{
	const struct ns_config_writer *lists[2] = {
		c->aggregator.exact.writers, c->aggregator.sketch.writers
	};
	unsigned counts[2] = {
		c->aggregator.exact.nwriters, c->aggregator.sketch.nwriters
	};

	for (int l = 0; l < 2; l++) {
		for (unsigned i = 0; i < counts[l]; i++) {
			const struct ns_config_writer *w = &lists[l][i];

			if (w->type != NS_CONFIG_WRITER_CLICKHOUSE)
				continue;
			if (w->clickhouse.port == 9000 ||
			    w->clickhouse.port == 9440)
				nsc_error_at(p, w->pos.line, w->pos.col,
				    "clickhouse writer: port %u is ClickHouse's "
				    "native protocol; netspectra uses its HTTP "
				    "interface: port 8123 (http) or 8443 (https, "
				    "cloud: true)", w->clickhouse.port);
			if (strspn(w->clickhouse.table_prefix, "abcdefghijklm"
			    "nopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
			    != strlen(w->clickhouse.table_prefix))
				nsc_error_at(p, w->pos.line, w->pos.col,
				    "clickhouse writer: table_prefix \"%s\": "
				    "expected letters, digits and _ only",
				    w->clickhouse.table_prefix);
		}
	}
}

static uint32_t
nsc_pow2(uint32_t v)
{
	uint32_t r = 1;

	while (r < v)
		r <<= 1;
	return r;
}

/*
 * A NATS input reads what the probe publishes unless told otherwise, so
 * Go2NetSpectra's config (probe.nats_url, probe.subject) works as an
 * engine's.  After the walk: the probe section may come after inputs.
 */
static void
nsc_nats_defaults(struct nsc_parser *p, struct ns_config *c)
{
	for (unsigned i = 0; i < c->ninputs; i++) {
		struct ns_config_input *in = &c->inputs[i];

		if ((in->nats_url[0] == '\0' &&
		    nsc_set(&in->nats_url, c->probe.nats_url) < 0) ||
		    (in->subject[0] == '\0' &&
		    nsc_set(&in->subject, c->probe.subject) < 0))
			p->oom = 1;
	}
}

/*
 * ---- Go2NetSpectra's form.  A file that uses only the keys of
 * Go2NetSpectra's configs/config.yaml (these tables), its writer types and
 * its five key fields is taken for one of its users' files: its text and
 * gob writers write Go2NetSpectra's layout unless they say otherwise.
 * One netspectra-only key anywhere and they write netspectra's.
 */
struct nsc_g2ns {
	const char *name;
	const struct nsc_g2ns *sub;	/* a mapping, or a list of them */
	const char *const *values;	/* scalars (or list items); NULL: any */
};

#define G2(n)		{ (n), NULL, NULL }
#define G2MAP(n, s)	{ (n), (s), NULL }
#define G2VAL(n, v)	{ (n), NULL, (v) }
#define G2END		{ NULL, NULL, NULL }

static const char *const g2ns_fields[] = {
	"SrcIP", "DstIP", "SrcPort", "DstPort", "Protocol", NULL
};
static const char *const g2ns_writer_types[] = {
	"text", "gob", "clickhouse", NULL
};
static const struct nsc_g2ns g2ns_api[] = {
	G2("grpc_listen_addr"), G2("http_listen_addr"), G2END
};
static const struct nsc_g2ns g2ns_ai[] = {
	G2("provider"), G2("api_key"), G2("model"), G2("base_url"),
	G2("grpc_listen_addr"), G2END
};
static const struct nsc_g2ns g2ns_persistence[] = {
	G2("enabled"), G2("path"), G2("num_workers"),
	G2("channel_buffer_size"), G2("encoding"), G2END
};
static const struct nsc_g2ns g2ns_probe[] = {
	G2("nats_url"), G2("subject"), G2MAP("persistence", g2ns_persistence),
	G2END
};
static const struct nsc_g2ns g2ns_ai_analysis[] = {
	G2("enabled"), G2("service_addr"), G2END
};
static const struct nsc_g2ns g2ns_rule[] = {
	G2("name"), G2("task_name"), G2("metric"), G2("operator"),
	G2("threshold"), G2END
};
static const struct nsc_g2ns g2ns_alerter[] = {
	G2("enabled"), G2("check_interval"),
	G2MAP("ai_analysis", g2ns_ai_analysis), G2MAP("rules", g2ns_rule),
	G2END
};
static const struct nsc_g2ns g2ns_smtp[] = {
	G2("host"), G2("port"), G2("username"), G2("password"), G2("from"),
	G2("to"), G2END
};
static const struct nsc_g2ns g2ns_root_path[] = { G2("root_path"), G2END };
static const struct nsc_g2ns g2ns_clickhouse[] = {
	G2("host"), G2("port"), G2("database"), G2("username"),
	G2("password"), G2("cloud"), G2END
};
static const struct nsc_g2ns g2ns_writer[] = {
	G2VAL("type", g2ns_writer_types), G2("enabled"),
	G2("snapshot_interval"), G2MAP("gob", g2ns_root_path),
	G2MAP("text", g2ns_root_path), G2MAP("clickhouse", g2ns_clickhouse),
	G2END
};
static const struct nsc_g2ns g2ns_exact_task[] = {
	G2("name"), G2("num_shards"), G2VAL("key_fields", g2ns_fields), G2END
};
static const struct nsc_g2ns g2ns_sketch_task[] = {
	G2("name"), G2("skt_type"), G2VAL("flow_fields", g2ns_fields),
	G2VAL("element_fields", g2ns_fields), G2("width"), G2("depth"),
	G2("size_thereshold"), G2("count_thereshold"), G2("m"), G2("size"),
	G2("base"), G2("b"), G2END
};
static const struct nsc_g2ns g2ns_exact[] = {
	G2MAP("writers", g2ns_writer), G2MAP("tasks", g2ns_exact_task), G2END
};
static const struct nsc_g2ns g2ns_sketch[] = {
	G2MAP("writers", g2ns_writer), G2MAP("tasks", g2ns_sketch_task), G2END
};
static const struct nsc_g2ns g2ns_aggregator[] = {
	G2("types"), G2("period"), G2("num_workers"),
	G2("size_of_packet_channel"), G2MAP("exact", g2ns_exact),
	G2MAP("sketch", g2ns_sketch), G2END
};
static const struct nsc_g2ns g2ns_top[] = {
	G2MAP("api", g2ns_api), G2MAP("ai", g2ns_ai),
	G2MAP("probe", g2ns_probe), G2MAP("alerter", g2ns_alerter),
	G2MAP("smtp", g2ns_smtp), G2MAP("aggregator", g2ns_aggregator),
	G2END
};

#undef G2
#undef G2MAP
#undef G2VAL
#undef G2END

static int nsc_g2ns_map(const struct nsc_node *, const struct nsc_g2ns *);

/* 1 if value v of key k is within Go2NetSpectra's schema. */
static int
nsc_g2ns_value(const struct nsc_node *v, const struct nsc_g2ns *k)
{
	const char *const *s;

	if (v->kind == NK_SEQ) {
		for (size_t i = 0; i < v->nkid; i++)
			if (!nsc_g2ns_value(v->kid[i], k))
				return 0;
		return 1;
	}
	if (v->kind == NK_MAP)
		return k->sub != NULL && nsc_g2ns_map(v, k->sub);
	if (k->values == NULL)
		return 1;
	for (s = k->values; v->str != NULL && *s != NULL; s++)
		if (strcmp(*s, v->str) == 0)
			return 1;
	return 0;
}

static int
nsc_g2ns_map(const struct nsc_node *map, const struct nsc_g2ns *keys)
{
	const struct nsc_g2ns *k;

	for (size_t i = 0; i + 1 < map->nkid; i += 2) {
		/* A key that is not a name was an error already. */
		if (map->kid[i]->kind != NK_SCALAR)
			return 0;
		for (k = keys; k->name != NULL; k++)
			if (strcmp(k->name, map->kid[i]->str) == 0)
				break;
		if (k->name == NULL || !nsc_g2ns_value(map->kid[i + 1], k))
			return 0;
	}
	return 1;
}

/* Text and gob writers without a layout key: see nsc_g2ns above. */
static void
nsc_layouts(const struct nsc_node *root, struct ns_config *c)
{
	struct ns_config_writer *lists[2] = {
		c->aggregator.exact.writers, c->aggregator.sketch.writers
	};
	unsigned counts[2] = {
		c->aggregator.exact.nwriters, c->aggregator.sketch.nwriters
	};
	int g2ns = root->kind == NK_MAP && nsc_g2ns_map(root, g2ns_top);

	for (int l = 0; l < 2; l++)
		for (unsigned i = 0; i < counts[l]; i++) {
			struct ns_config_writer *w = &lists[l][i];

			if (w->layout == NS_CONFIG_LAYOUT_AUTO)
				w->layout = g2ns && (w->type ==
				    NS_CONFIG_WRITER_TEXT || w->was_gob) ?
				    NS_CONFIG_LAYOUT_GO2NS :
				    NS_CONFIG_LAYOUT_NETSPECTRA;
		}
}

/*
 * probe.persistence.  Go's gob encoding has no C implementation worth
 * having.  Go2NetSpectra's gob files were a binary archive for programs
 * to read back; here that is pcap (tshark, netspectra analyze), so gob
 * is read as pcap, with a warning.  Enabled, it needs a directory.
 */
static void
nsc_check_persistence(struct nsc_parser *p, const struct nsc_node *root,
    struct ns_config *c)
{
	const struct nsc_node *pers = nsc_get(nsc_get(root, "probe"),
	    "persistence");
	const struct nsc_node *enc = nsc_get(pers, "encoding");
	struct ns_config_pos pos = enc ? nsc_pos(enc) : nsc_pos(root);

	if (c->probe.persistence.encoding == NS_CONFIG_ENC_GOB) {
		c->probe.persistence.encoding = NS_CONFIG_ENC_PCAP;
		nsc_warn(p, &pos, "probe.persistence.encoding: \"gob\" (Go's "
		    "encoding) is not supported; writing pcap files instead "
		    "(for tshark and netspectra analyze)");
	}
	if (c->probe.persistence.enabled &&
	    c->probe.persistence.path[0] == '\0')
		nsc_error(p, pers ? pers : root, "probe.persistence: enabled "
		    "without a path: expected path: DIRECTORY");
}

static void
nsc_finish(struct nsc_parser *p, const struct nsc_node *root,
    struct ns_config *c)
{
	nsc_layouts(root, c);
	/* Rings index with a mask. */
	c->aggregator.size_of_packet_channel =
	    nsc_pow2(c->aggregator.size_of_packet_channel);
	nsc_check_task_names(p, c);
	nsc_check_rules(p, c);
	nsc_check_alerter(p, root, c);
	nsc_check_pair(p, root, "prometheus", "tls", "cert_file", "key_file");
	nsc_check_pair(p, root, "prometheus", "basic_auth", "username",
	    "password");
	nsc_check_pair(p, root, "api", "tls", "cert_file", "key_file");
	nsc_check_pair(p, root, "api", "basic_auth", "username", "password");
	nsc_api_default(root, c);
	nsc_check_intervals(p, c);
	nsc_check_clickhouse(p, c);
	nsc_check_persistence(p, root, c);
	nsc_nats_defaults(p, c);
}

/* ---------------------------------------------------------------- load */

static void
nsc_walk(struct nsc_parser *p, struct ns_config *c)
{
	const struct nsc_node *root = p->root;

	if (root == NULL || nsc_empty(root))
		return;		/* an empty file: the defaults */
	if (root->kind != NK_MAP) {
		nsc_expected(p, root, "a mapping of sections (daemon:, "
		    "aggregator:, ...) at the top level");
		return;
	}
	nsc_map(p, root, top_keys, c, ~0u, NULL);
	nsc_finish(p, root, c);
}

int
ns_config_load_string(const char *text, const char *name,
    struct ns_config *cfg, char *err, size_t errlen)
{
	struct nsc_parser p;
	int rc = 0;

	memset(&p, 0, sizeof(p));
	p.name = name != NULL ? name : "<string>";
	p.text = text;
	p.err = err;
	p.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (nsc_defaults(cfg) < 0 || nsc_set(&cfg->source, p.name) < 0)
		p.oom = 1;
	if (!p.oom)
		nsc_build(&p, text, strlen(text));
	if (!p.oom && !p.fatal)
		nsc_walk(&p, cfg);
	nsc_node_free(p.root);
	if (p.oom || p.warn.oom)
		rc = -ENOMEM;
	else if (p.nerr > 0)
		rc = -EINVAL;
	if (rc < 0) {
		free(p.warn.s);
		ns_config_free(cfg);
		return rc;
	}
	cfg->warnings = p.warn.s;
	return 0;
}

/* The whole file in memory, NUL-terminated; 0 or -errno. */
static int
nsc_read_file(const char *path, char **out)
{
	struct nsc_buf b = { 0 };
	char chunk[8192];
	size_t n;
	FILE *fp;
	int rc = 0;

	if ((fp = fopen(path, "r")) == NULL)
		return -errno;
	errno = 0;
	nsc_buf_add(&b, "", 0);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0 && !b.oom &&
	    b.len <= NSC_MAX_FILE)
		nsc_buf_add(&b, chunk, n);
	if (ferror(fp))
		rc = errno != 0 ? -errno : -EIO;	/* EISDIR, say */
	else if (b.oom)
		rc = -ENOMEM;
	else if (b.len > NSC_MAX_FILE)
		rc = -EFBIG;
	fclose(fp);
	if (rc < 0)
		free(b.s);
	else
		*out = b.s;
	return rc;
}

int
ns_config_load(const char *path, struct ns_config *cfg, char *err,
    size_t errlen)
{
	char *text;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	/* Go2NetSpectra's .env, before ${VAR} expansion; its message is in
	 * err, so a .env that cannot be read is -EINVAL too. */
	if (ns_dotenv_load_beside(path, err, errlen) != 0)
		return -EINVAL;
	if ((rc = nsc_read_file(path, &text)) < 0)
		return rc;
	rc = ns_config_load_string(text, path, cfg, err, errlen);
	free(text);
	return rc;
}

/* ---------------------------------------------------------------- dump */

/*
 * A double-quoted YAML string; "$" doubled so no ${...} expands on reload.
 * Characters libyaml refuses to read (controls, U+FFFE, U+FFFF) or folds
 * as line breaks (U+0085, U+2028, U+2029) are written as escapes.
 */
static void
nsc_dq(FILE *fp, const char *s)
{
	uint32_t cp;
	size_t n;

	fputc('"', fp);
	for (; *s != '\0'; s += n) {
		unsigned char ch = (unsigned char)*s;

		n = 1;
		if (ch == '"' || ch == '\\')
			fprintf(fp, "\\%c", ch);
		else if (ch == '$')
			fputs("$$", fp);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(fp, "\\x%02x", ch);
		else if (ch < 0x80)
			fputc(ch, fp);
		else if ((n = nsc_utf8(s, &cp)) == 0) {
			n = 1;		/* not UTF-8: refused by the loader */
			fputc(ch, fp);
		} else if (cp <= 0x9f || cp == 0x2028 || cp == 0x2029 ||
		    cp == 0xfeff || cp == 0xfffe || cp == 0xffff)
			fprintf(fp, "\\u%04x", (unsigned)cp);
		else
			fwrite(s, 1, n, fp);
	}
	fputc('"', fp);
}

static void
nsc_dump_str(FILE *fp, int indent, const char *key, const char *val)
{
	fprintf(fp, "%*s%s: ", indent, "", key);
	nsc_dq(fp, val);
	fputc('\n', fp);
}

static void
nsc_dump_bool(FILE *fp, int indent, const char *key, bool val)
{
	fprintf(fp, "%*s%s: %s\n", indent, "", key, val ? "true" : "false");
}

static void
nsc_dump_uint(FILE *fp, int indent, const char *key, uint64_t val)
{
	fprintf(fp, "%*s%s: %llu\n", indent, "", key, (unsigned long long)val);
}

static void
nsc_dump_dur(FILE *fp, int indent, const char *key, uint64_t ns)
{
	char buf[64];

	fprintf(fp, "%*s%s: %s\n", indent, "", key,
	    ns_config_format_duration(ns, buf, sizeof(buf)));
}

static void
nsc_dump_size(FILE *fp, int indent, const char *key, uint64_t bytes)
{
	char buf[64];

	fprintf(fp, "%*s%s: %s\n", indent, "", key,
	    ns_config_format_size(bytes, buf, sizeof(buf)));
}

/* The shortest text that reads back as the same double. */
static void
nsc_dump_double(FILE *fp, int indent, const char *key, double d)
{
	char buf[40];

	/* Whole numbers (thresholds, mostly) as integers, not 1e+06. */
	if (d > -1e15 && d < 1e15 && d == (double)(long long)d)
		snprintf(buf, sizeof(buf), "%.0f", d);
	else
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, sizeof(buf), "%.*g", prec, d);
			if (strtod(buf, NULL) == d)
				break;
		}
	fprintf(fp, "%*s%s: %s\n", indent, "", key, buf);
}

static void
nsc_dump_fields(FILE *fp, int indent, const char *key,
    const struct ns_config_fields *fl)
{
	char buf[32];

	fprintf(fp, "%*s%s: [", indent, "", key);
	for (unsigned i = 0; i < fl->n; i++)
		fprintf(fp, "%s\"%s\"", i ? ", " : "",
		    ns_config_keyfield_format(&fl->f[i], buf, sizeof(buf)));
	fputs("]\n", fp);
}

static void
nsc_dump_daemon(FILE *fp, const struct ns_config_daemon *d)
{
	fputs("daemon:\n", fp);
	nsc_dump_str(fp, 2, "user", d->user);
	nsc_dump_str(fp, 2, "group", d->group);
	nsc_dump_str(fp, 2, "pidfile", d->pidfile);
	nsc_dump_str(fp, 2, "shm_name", d->shm_name);
	nsc_dump_str(fp, 2, "state_dir", d->state_dir);
	fprintf(fp, "  log_level: %s\n",
	    nsc_enum_name(log_levels, d->log_level));
	fprintf(fp, "  log_facility: %s\n",
	    nsc_enum_name(facilities, d->log_facility));
}

static void
nsc_dump_input(FILE *fp, const struct ns_config_input *in)
{
	fprintf(fp, "  - type: %s\n", ns_config_input_type_name(in->type));
	nsc_dump_str(fp, 4, "name", in->name);
	switch (in->type) {
	case NS_CONFIG_INPUT_PCAP:
		nsc_dump_str(fp, 4, "interface", in->interface);
		nsc_dump_str(fp, 4, "bpf", in->bpf);
		nsc_dump_size(fp, 4, "snaplen", in->snaplen);
		nsc_dump_bool(fp, 4, "promisc", in->promisc);
		nsc_dump_size(fp, 4, "buffer_size", in->buffer_size);
		nsc_dump_bool(fp, 4, "immediate", in->immediate);
		break;
	case NS_CONFIG_INPUT_FILE:
		nsc_dump_str(fp, 4, "path", in->path);
		nsc_dump_str(fp, 4, "bpf", in->bpf);
		break;
	case NS_CONFIG_INPUT_NATS:
		nsc_dump_str(fp, 4, "url", in->nats_url);
		nsc_dump_str(fp, 4, "subject", in->subject);
		nsc_dump_str(fp, 4, "queue", in->queue_group);
		if (in->js_stream[0] == '\0')
			break;
		fputs("    jetstream:\n", fp);
		nsc_dump_str(fp, 6, "stream", in->js_stream);
		nsc_dump_str(fp, 6, "durable", in->js_durable);
		break;
	}
}

static void
nsc_dump_probe(FILE *fp, const struct ns_config_probe *pr)
{
	fputs("probe:\n", fp);
	nsc_dump_str(fp, 2, "nats_url", pr->nats_url);
	nsc_dump_str(fp, 2, "subject", pr->subject);
	nsc_dump_str(fp, 2, "interface", pr->interface);
	nsc_dump_str(fp, 2, "bpf", pr->bpf);
	nsc_dump_size(fp, 2, "snaplen", pr->snaplen);
	nsc_dump_uint(fp, 2, "batch", pr->batch);
	fputs("  persistence:\n", fp);
	nsc_dump_bool(fp, 4, "enabled", pr->persistence.enabled);
	nsc_dump_str(fp, 4, "path", pr->persistence.path);
	nsc_dump_uint(fp, 4, "num_workers", pr->persistence.num_workers);
	nsc_dump_uint(fp, 4, "channel_buffer_size",
	    pr->persistence.channel_buffer_size);
	fprintf(fp, "    encoding: %s\n",
	    nsc_enum_name(encodings, pr->persistence.encoding));
	nsc_dump_size(fp, 4, "rotate_size", pr->persistence.rotate_size);
	nsc_dump_dur(fp, 4, "rotate_interval",
	    pr->persistence.rotate_interval);
	nsc_dump_uint(fp, 4, "max_files", pr->persistence.max_files);
}

static void
nsc_dump_alerter(FILE *fp, const struct ns_config_alerter *a)
{
	fputs("alerter:\n", fp);
	nsc_dump_bool(fp, 2, "enabled", a->enabled);
	nsc_dump_dur(fp, 2, "check_interval", a->check_interval);
	nsc_dump_dur(fp, 2, "min_notify_interval", a->min_notify_interval);
	nsc_dump_dur(fp, 2, "timeout", a->timeout);
	nsc_dump_str(fp, 2, "webhook_url", a->webhook_url);
	nsc_dump_bool(fp, 2, "nats_enabled", a->nats_enabled);
	nsc_dump_str(fp, 2, "nats_url", a->nats_url);
	nsc_dump_str(fp, 2, "nats_subject", a->nats_subject);
	fputs("  ai_analysis:\n", fp);
	nsc_dump_bool(fp, 4, "enabled", a->ai_enabled);
	nsc_dump_str(fp, 4, "service_addr", a->ai_service_addr);
	fprintf(fp, "  rules:%s\n", a->nrules ? "" : " []");
	for (unsigned i = 0; i < a->nrules; i++) {
		const struct ns_config_rule *r = &a->rules[i];

		fputs("    - ", fp);
		nsc_dump_str(fp, 0, "name", r->name);
		nsc_dump_str(fp, 6, "task_name", r->task_name);
		nsc_dump_str(fp, 6, "metric", r->metric);
		fprintf(fp, "      operator: \"%s\"\n",
		    ns_config_op_name(r->op));
		nsc_dump_double(fp, 6, "threshold", r->threshold);
	}
}

static void
nsc_dump_smtp(FILE *fp, const struct ns_config_smtp *m)
{
	fputs("smtp:\n", fp);
	nsc_dump_str(fp, 2, "host", m->host);
	nsc_dump_uint(fp, 2, "port", m->port);
	nsc_dump_str(fp, 2, "username", m->username);
	nsc_dump_str(fp, 2, "password", m->password);
	nsc_dump_str(fp, 2, "from", m->from);
	fputs("  to: [", fp);
	for (unsigned i = 0; i < m->nto; i++) {
		fputs(i ? ", " : "", fp);
		nsc_dq(fp, m->to[i]);
	}
	fputs("]\n", fp);
	fprintf(fp, "  tls: %s\n", nsc_enum_name(smtp_tls_modes, m->tls));
	nsc_dump_str(fp, 2, "ca_file", m->ca_file);
}

static void
nsc_dump_services(FILE *fp, const struct ns_config *c)
{
	const struct ns_config_prometheus *pm = &c->prometheus;

	fputs("api:\n", fp);
	nsc_dump_bool(fp, 2, "enabled", c->api.enabled);
	nsc_dump_str(fp, 2, "http_listen_addr", c->api.http_listen_addr);
	nsc_dump_str(fp, 2, "grpc_listen_addr", c->api.grpc_listen_addr);
	fputs("  basic_auth:\n", fp);
	nsc_dump_str(fp, 4, "username", c->api.username);
	nsc_dump_str(fp, 4, "password", c->api.password);
	fputs("  tls:\n", fp);
	nsc_dump_str(fp, 4, "cert_file", c->api.cert_file);
	nsc_dump_str(fp, 4, "key_file", c->api.key_file);
	fputs("prometheus:\n", fp);
	nsc_dump_bool(fp, 2, "enabled", pm->enabled);
	nsc_dump_str(fp, 2, "listen", pm->listen);
	nsc_dump_uint(fp, 2, "top_k", pm->top_k);
	fputs("  basic_auth:\n", fp);
	nsc_dump_str(fp, 4, "username", pm->username);
	nsc_dump_str(fp, 4, "password", pm->password);
	fputs("  tls:\n", fp);
	nsc_dump_str(fp, 4, "cert_file", pm->cert_file);
	nsc_dump_str(fp, 4, "key_file", pm->key_file);
}

static void
nsc_dump_writer(FILE *fp, const struct ns_config_writer *w)
{
	const char *tname = ns_config_writer_type_name(w->type);

	fprintf(fp, "      - type: %s\n", tname);
	nsc_dump_bool(fp, 8, "enabled", w->enabled);
	nsc_dump_dur(fp, 8, "snapshot_interval", w->snapshot_interval);
	/* Always written: the dump is not in Go2NetSpectra's form. */
	if (w->type == NS_CONFIG_WRITER_TEXT || w->type == NS_CONFIG_WRITER_JSONL)
		fprintf(fp, "        layout: %s\n", nsc_enum_name(layouts,
		    (int)w->layout));
	fprintf(fp, "        %s:\n", tname);
	if (w->type == NS_CONFIG_WRITER_NATS) {
		nsc_dump_str(fp, 10, "url", w->nats.url);
		nsc_dump_str(fp, 10, "subject", w->nats.subject);
		nsc_dump_str(fp, 10, "node", w->nats.node);
		nsc_dump_dur(fp, 10, "timeout", w->nats.timeout);
		nsc_dump_str(fp, 10, "spool_dir", w->nats.spool_dir);
		nsc_dump_size(fp, 10, "spool_max", w->nats.spool_max);
		nsc_dump_size(fp, 10, "reconnect_buffer",
		    w->nats.reconnect_buffer);
	} else if (w->type == NS_CONFIG_WRITER_CLICKHOUSE) {
		nsc_dump_str(fp, 10, "host", w->clickhouse.host);
		nsc_dump_uint(fp, 10, "port", w->clickhouse.port);
		nsc_dump_str(fp, 10, "database", w->clickhouse.database);
		nsc_dump_str(fp, 10, "username", w->clickhouse.username);
		nsc_dump_str(fp, 10, "password", w->clickhouse.password);
		nsc_dump_str(fp, 10, "table_prefix",
		    w->clickhouse.table_prefix);
		nsc_dump_bool(fp, 10, "cloud", w->clickhouse.cloud);
		nsc_dump_uint(fp, 10, "batch_rows", w->clickhouse.batch_rows);
		nsc_dump_dur(fp, 10, "timeout", w->clickhouse.timeout);
		nsc_dump_str(fp, 10, "node", w->clickhouse.node);
		nsc_dump_str(fp, 10, "spool_dir", w->clickhouse.spool_dir);
		nsc_dump_size(fp, 10, "spool_max", w->clickhouse.spool_max);
	} else
		nsc_dump_str(fp, 10, "root_path", w->root_path);
}

static void
nsc_dump_writers(FILE *fp, const struct ns_config_writer *w, unsigned n)
{
	fprintf(fp, "    writers:%s\n", n ? "" : " []");
	for (unsigned i = 0; i < n; i++)
		nsc_dump_writer(fp, &w[i]);
}

static void
nsc_dump_sketch_task(FILE *fp, const struct ns_config_sketch_task *t)
{
	fputs("      - ", fp);
	nsc_dump_str(fp, 0, "name", t->name);
	nsc_dump_uint(fp, 8, "skt_type", t->skt_type);
	nsc_dump_fields(fp, 8, "flow_fields", &t->flow_fields);
	if (t->element_fields.n > 0)
		nsc_dump_fields(fp, 8, "element_fields", &t->element_fields);
	nsc_dump_uint(fp, 8, "width", t->width);
	nsc_dump_uint(fp, 8, "depth", t->depth);
	nsc_dump_uint(fp, 8, "size_threshold", t->size_threshold);
	nsc_dump_uint(fp, 8, "count_threshold", t->count_threshold);
	nsc_dump_uint(fp, 8, "m", t->m);
	nsc_dump_uint(fp, 8, "size", t->size);
	nsc_dump_double(fp, 8, "base", t->base);
	nsc_dump_double(fp, 8, "b", t->b);
	nsc_dump_uint(fp, 8, "top_k", t->top_k);
	nsc_dump_uint(fp, 8, "seed", t->seed);
}

static void
nsc_dump_aggregator(FILE *fp, const struct ns_config_aggregator *a)
{
	const struct ns_config_exact *e = &a->exact;
	const struct ns_config_sketch *s = &a->sketch;

	fputs("aggregator:\n  types: [", fp);
	fprintf(fp, "%s", (a->types & NS_CONFIG_AGG_EXACT) ? "exact" : "");
	fprintf(fp, "%s", a->types == (NS_CONFIG_AGG_EXACT |
	    NS_CONFIG_AGG_SKETCH) ? ", " : "");
	fprintf(fp, "%s]\n", (a->types & NS_CONFIG_AGG_SKETCH) ? "sketch" : "");
	nsc_dump_dur(fp, 2, "period", a->period);
	nsc_dump_uint(fp, 2, "num_workers", a->num_workers);
	nsc_dump_uint(fp, 2, "size_of_packet_channel",
	    a->size_of_packet_channel);
	fputs("  exact:\n", fp);
	nsc_dump_writers(fp, e->writers, e->nwriters);
	fprintf(fp, "    tasks:%s\n", e->ntasks ? "" : " []");
	for (unsigned i = 0; i < e->ntasks; i++) {
		fputs("      - ", fp);
		nsc_dump_str(fp, 0, "name", e->tasks[i].name);
		nsc_dump_fields(fp, 8, "key_fields", &e->tasks[i].key_fields);
		nsc_dump_uint(fp, 8, "max_flows", e->tasks[i].max_flows);
		if (e->tasks[i].num_shards != 0)
			nsc_dump_uint(fp, 8, "num_shards",
			    e->tasks[i].num_shards);
	}
	fputs("  sketch:\n", fp);
	nsc_dump_writers(fp, s->writers, s->nwriters);
	fprintf(fp, "    tasks:%s\n", s->ntasks ? "" : " []");
	for (unsigned i = 0; i < s->ntasks; i++)
		nsc_dump_sketch_task(fp, &s->tasks[i]);
}

void
ns_config_dump(FILE *fp, const struct ns_config *c)
{
	/* No file name here: the dump of a dump must be the same text. */
	fputs("# netspectra effective configuration\n", fp);
	nsc_dump_daemon(fp, &c->daemon);
	fputs("inputs:\n", fp);
	for (unsigned i = 0; i < c->ninputs; i++)
		nsc_dump_input(fp, &c->inputs[i]);
	nsc_dump_probe(fp, &c->probe);
	nsc_dump_alerter(fp, &c->alerter);
	nsc_dump_smtp(fp, &c->smtp);
	nsc_dump_services(fp, c);
	nsc_dump_aggregator(fp, &c->aggregator);
}

int
ns_config_load_cli(const char *path, const char *def, struct ns_config *cfg)
{
	char err[4096];
	int rc;

	if (path == NULL && access(def, F_OK) != 0) {
		ns_config_defaults(cfg);
		return 0;
	}
	if (path == NULL)
		path = def;
	rc = ns_config_load(path, cfg, err, sizeof(err));
	if (rc == -EINVAL)
		fprintf(stderr, "%s", err);
	else if (rc < 0)
		fprintf(stderr, "%s: %s\n", path, strerror(-rc));
	else if (cfg->warnings != NULL)
		fputs(cfg->warnings, stderr);
	return rc;
}
