/*
 * fuzz_apireq.c -- libFuzzer harness for the query API's request decoder
 * and statement builder (exporters/apireq.c) and SQL quoting
 * (exporters/sqlq.c).
 *
 * The first input byte picks what is fed: a body for one of the four
 * decoded endpoints, live top's query arguments (three NUL-separated
 * strings), or ns_sql_quote() itself.  Beyond "no crash, no leak, no
 * undefined behaviour" it checks the property the decoder exists for:
 * every statement it builds has only literals that are configured task
 * names or re-printed addresses and networks, and nothing outside them
 * that could end or comment out the statement.  Build and run (from the
 * top of the source tree):
 *
 *	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
 *	    -Isrc -Ishm -Iexporters $(pkg-config --cflags jansson yaml-0.1) \
 *	    exporters/apireq.c exporters/sqlq.c src/addr.c src/config.c \
 *	    src/log.c tests/fuzz/fuzz_apireq.c \
 *	    $(pkg-config --libs jansson yaml-0.1) -o fuzz_apireq
 *	mkdir -p corpus && ./fuzz_apireq -max_len=4096 -timeout=10 corpus/
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apireq.h"
#include "config.h"
#include "sqlq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_yaml[] =
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

static struct ns_config fuzz_cfg;

static const struct ns_config *
fuzz_config(void)
{
	static int loaded;
	char err[4096];

	if (!loaded) {
		if (ns_config_load_string(fuzz_yaml, "fuzz.yaml", &fuzz_cfg,
		    err, sizeof(err)) != 0) {
			fputs(err, stderr);
			abort();
		}
		loaded = 1;
	}
	return &fuzz_cfg;
}

/* A literal's text is one the decoder may produce. */
static int
fuzz_literal_ok(const char *s)
{
	const struct ns_config *cfg = fuzz_config();
	char buf[64], *slash;
	uint8_t a[16];
	unsigned t;

	for (t = 0; t < cfg->aggregator.exact.ntasks; t++)
		if (strcmp(s, cfg->aggregator.exact.tasks[t].name) == 0)
			return 1;
	for (t = 0; t < cfg->aggregator.sketch.ntasks; t++)
		if (strcmp(s, cfg->aggregator.sketch.tasks[t].name) == 0)
			return 1;
	if (strlen(s) >= sizeof(buf))
		return 0;
	strcpy(buf, s);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash = '\0';
	return inet_pton(AF_INET, buf, a) == 1 || inet_pton(AF_INET6, buf,
	    a) == 1;
}

/*
 * Walk the statement as ClickHouse's lexer would: inside '...' a
 * backslash escapes the next byte.  Outside, no ';', no comment, no
 * control byte; every literal must pass fuzz_literal_ok().
 */
static void
fuzz_check_sql(const char *sql)
{
	char lit[512];
	size_t i, n;

	for (i = 0; sql[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)sql[i];

		if (ch < 0x20 || ch == ';' || (ch == '-' && sql[i + 1] == '-') ||
		    (ch == '/' && sql[i + 1] == '*') || ch == '"')
			abort();
		if (ch != '\'')
			continue;
		for (n = 0, i++; sql[i] != '\''; i++) {
			if (sql[i] == '\0' || n + 1 >= sizeof(lit))
				abort();
			if (sql[i] == '\\')
				i++;
			lit[n++] = sql[i];
		}
		lit[n] = '\0';
		if (!fuzz_literal_ok(lit))
			abort();
	}
}

static void
fuzz_request(enum ns_apireq_kind kind, const char *body, size_t len)
{
	struct ns_apireq r;
	char err[512], *sql;

	if (ns_apireq_parse(kind, body, len, fuzz_config(), 1767323045, &r,
	    err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();	/* every refusal says why */
		return;
	}
	if (ns_apireq_sql(&r, kind == NS_APIREQ_HEAVY_HITTERS ?
	    "heavy_hitters" : "flow_metrics", &sql) != 0) {
		if (r.ntasks != 0)
			abort();
		return;
	}
	fuzz_check_sql(sql);
	free(sql);
}

/* Live top's arguments: up to three NUL-separated strings. */
static void
fuzz_top(const char *data, size_t size)
{
	struct ns_apireq_top q;
	const char *arg[3] = { NULL, NULL, NULL };
	char *copy = malloc(size + 1), err[256];
	size_t i, k = 0;

	if (copy == NULL)
		return;
	memcpy(copy, data, size);
	copy[size] = '\0';
	arg[0] = copy;
	for (i = 0; i < size && k < 2; i++)
		if (copy[i] == '\0')
			arg[++k] = copy + i + 1;
	if (ns_apireq_top(fuzz_config(), arg[0], arg[1], arg[2], &q, err,
	    sizeof(err)) == 0 && (q.n == 0 || q.n > NS_APIREQ_TOP_MAX ||
	    q.task >= ns_apireq_exact_tasks(fuzz_config())))
		abort();
	free(copy);
}

/* Quote, then read back: the same bytes, or a refusal for control ones. */
static void
fuzz_quote(const char *data, size_t size)
{
	size_t outlen = 2 * size + 3, i, o = 0;
	char *out = malloc(outlen), *back = malloc(size + 1);
	int rc, ctl = 0;

	if (out == NULL || back == NULL)
		goto done;
	for (i = 0; i < size; i++)
		ctl |= (unsigned char)data[i] < 0x20 || data[i] == 0x7f;
	rc = ns_sql_quote(data, size, out, outlen);
	if (rc != 0) {
		if (!ctl || out[0] != '\0')
			abort();
		goto done;
	}
	if (ctl || out[0] != '\'')
		abort();
	for (i = 1; out[i] != '\''; i++) {
		if (out[i] == '\\')
			i++;
		back[o++] = out[i];
	}
	if (out[i + 1] != '\0' || o != size || memcmp(back, data, size) != 0)
		abort();
done:
	free(out);
	free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *rest = (const char *)data + 1;
	unsigned pick;

	if (size == 0)
		return 0;
	pick = data[0] % 6;
	if (pick < NS_APIREQ_NKINDS)
		fuzz_request((enum ns_apireq_kind)pick, rest, size - 1);
	else if (pick == 4)
		fuzz_top(rest, size - 1);
	else
		fuzz_quote(rest, size - 1);
	return 0;
}
