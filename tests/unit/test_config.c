/*
 * test_config.c -- unit tests of the configuration loader (src/config.c):
 * every class of error with its exact file:line:col, ${VAR} expansion,
 * Go2NetSpectra's config loading unchanged, the shipped default config,
 * and the dump -> reload round trip.
 *
 * Fixtures live in $NS_TEST_DATA/config (default tests/data/config), the
 * shipped config in $NS_SRCDIR/etc (default ./etc).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#define SEC 1000000000ull

static char err[16384];
static struct ns_config cfg;

static const char *
env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : def;
}

static char *
path_of(const char *dirvar, const char *def, const char *rel)
{
	static char buf[4][1024];
	static int i;
	char *p = buf[i++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", env_or(dirvar, def), rel);
	return p;
}

#define DATA(rel)	path_of("NS_TEST_DATA", "tests/data", (rel))
#define SRC(rel)	path_of("NS_SRCDIR", ".", (rel))

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	cr_assert_not_null(fp, "cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return buf;
}

static int
load(const char *yaml)
{
	return ns_config_load_string(yaml, "cfg.yaml", &cfg, err, sizeof(err));
}

static void
load_ok(const char *yaml)
{
	int rc = load(yaml);

	cr_assert_eq(rc, 0, "rc %d, errors:\n%s", rc, err);
}

/*
 * Loading yaml fails, and err has a line "cfg.yaml:<pos>: ..." holding
 * every one of the NULL-terminated strings that follow.
 */
static void
expect_error(const char *yaml, const char *pos, ...)
{
	char head[64], line[1024];
	const char *at, *s;
	va_list ap;
	size_t n;
	int rc = load(yaml);

	cr_assert_eq(rc, -EINVAL, "rc %d for:\n%s", rc, yaml);
	snprintf(head, sizeof(head), "cfg.yaml:%s: ", pos);
	for (at = err; at != NULL; at = strchr(at, '\n'), at = at ? at + 1 : NULL)
		if (strncmp(at, head, strlen(head)) == 0)
			break;
	cr_assert(at != NULL && *at != '\0', "no error at %s in:\n%s", pos, err);
	n = strcspn(at, "\n");
	snprintf(line, sizeof(line), "%.*s", (int)n, at);
	va_start(ap, pos);
	while ((s = va_arg(ap, const char *)) != NULL)
		cr_assert(strstr(line, s) != NULL, "\"%s\" not in: %s", s, line);
	va_end(ap);
}

static int
nlines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static char *
dump(const struct ns_config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	cr_assert_not_null(fp);
	ns_config_dump(fp, c);
	fclose(fp);
	return buf;
}

/* dump(c) loads again, and the reloaded config dumps to the same text. */
static void
round_trip(const struct ns_config *c)
{
	struct ns_config c2;
	char *a = dump(c), *b;
	int rc = ns_config_load_string(a, "dump.yaml", &c2, err, sizeof(err));

	cr_assert_eq(rc, 0, "dump does not load:\n%s\n%s", err, a);
	b = dump(&c2);
	cr_assert_str_eq(a, b);
	cr_assert_null(c2.warnings, "reload warns: %s", c2.warnings);
	free(a);
	free(b);
	ns_config_free(&c2);
}

static void
teardown(void)
{
	ns_config_free(&cfg);
}

TestSuite(config, .fini = teardown);

/* ------------------------------------------------------------ defaults */

static void
check_defaults(const struct ns_config *c)
{
	const struct ns_config_exact_task *t = &c->aggregator.exact.tasks[0];

	cr_assert_str_eq(c->daemon.user, "netspectra");
	cr_assert_str_eq(c->daemon.shm_name, "/netspectra");
	cr_assert_eq(c->daemon.log_level, NS_CONFIG_LOG_INFO);
	cr_assert_eq(c->daemon.log_facility, LOG_DAEMON);
	cr_assert_eq(c->ninputs, 1);
	cr_assert_eq(c->inputs[0].type, NS_CONFIG_INPUT_PCAP);
	cr_assert_str_eq(c->inputs[0].interface, "default");
	cr_assert_eq(c->inputs[0].snaplen, 256);
	cr_assert_eq(c->inputs[0].buffer_size, 32u << 20);
	cr_assert(c->prometheus.enabled);
	cr_assert_str_eq(c->prometheus.listen, "127.0.0.1:9571");
	cr_assert_eq(c->prometheus.top_k, 10);
	cr_assert(!c->api.enabled);
	cr_assert_str_eq(c->api.http_listen_addr, "127.0.0.1:8080");
	cr_assert_eq(c->aggregator.period, 60 * SEC);
	cr_assert_eq(c->aggregator.num_workers, 2);
	cr_assert_eq(c->aggregator.types,
	    NS_CONFIG_AGG_EXACT | NS_CONFIG_AGG_SKETCH);
	cr_assert_eq(c->aggregator.exact.nwriters, 0);
	cr_assert_eq(c->aggregator.sketch.nwriters, 0);
	cr_assert_eq(c->aggregator.sketch.ntasks, 0);
	cr_assert_eq(c->aggregator.exact.ntasks, 1);
	cr_assert_str_eq(t->name, "per_five_tuple");
	cr_assert_eq(t->key_fields.n, 5);
	cr_assert_eq(t->key_fields.f[0].field, NS_CONFIG_FIELD_SRCIP);
	cr_assert_eq(t->key_fields.f[4].field, NS_CONFIG_FIELD_PROTOCOL);
	cr_assert_eq(t->max_flows, 1000000);
	cr_assert_eq(c->alerter.nrules, 0);
}

Test(config, builtin_defaults)
{
	ns_config_defaults(&cfg);
	check_defaults(&cfg);
	round_trip(&cfg);
}

Test(config, empty_inputs_are_defaults)
{
	static const char *const texts[] = {
		"", "# nothing\n", "---\n", "~\n", "---\n...\n"
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		load_ok(texts[i]);
		check_defaults(&cfg);
		ns_config_free(&cfg);
	}
	cr_assert_eq(ns_config_load(DATA("config/empty.yaml"), &cfg, err,
	    sizeof(err)), 0, "%s", err);
	check_defaults(&cfg);
}

/*
 * The shipped config spells out the defaults (netspectra.c relies on it),
 * plus one thing: a jsonl writer, so that the daemon on the shipped config
 * leaves snapshots somewhere.
 */
Test(config, shipped_config_is_the_defaults)
{
	struct ns_config def;
	char *a, *b;

	cr_assert_eq(ns_config_load(SRC("etc/netspectra.yaml"), &cfg, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_null(cfg.warnings);
	cr_assert_eq(cfg.aggregator.exact.nwriters, 1);
	cr_assert_eq(cfg.aggregator.exact.writers[0].type,
	    NS_CONFIG_WRITER_JSONL);
	cr_assert_str_eq(cfg.aggregator.exact.writers[0].root_path,
	    "/var/lib/netspectra/snapshots");
	round_trip(&cfg);
	/* Without the writer, the built-in defaults exactly (it is counted
	 * back in before the teardown frees it). */
	cfg.aggregator.exact.nwriters = 0;
	ns_config_defaults(&def);
	a = dump(&cfg);
	b = dump(&def);
	cfg.aggregator.exact.nwriters = 1;
	cr_assert_str_eq(a, b);
	free(a);
	free(b);
	ns_config_free(&def);
}

/* -------------------------------------------------------- Go2NetSpectra */

static void
check_go2netspectra(const struct ns_config *c)
{
	const struct ns_config_aggregator *a = &c->aggregator;
	const struct ns_config_sketch_task *ss = &a->sketch.tasks[0];
	const struct ns_config_sketch_task *cm = &a->sketch.tasks[1];
	const struct ns_config_writer *w;

	cr_assert_eq(a->types, NS_CONFIG_AGG_EXACT | NS_CONFIG_AGG_SKETCH);
	cr_assert_eq(a->period, 720ull * 3600 * SEC);
	cr_assert_eq(a->num_workers, 16);
	cr_assert_eq(a->size_of_packet_channel, 16384);	/* 10000, rounded */
	cr_assert_eq(a->exact.ntasks, 1);
	cr_assert_str_eq(a->exact.tasks[0].name, "per_five_tuple");
	cr_assert_eq(a->exact.tasks[0].key_fields.n, 5);
	cr_assert_eq(a->sketch.ntasks, 2);
	cr_assert_str_eq(ss->name, "ss_src_dst");
	cr_assert_eq(ss->skt_type, NS_CONFIG_SKETCH_SUPER_SPREADERS);
	cr_assert_eq(ss->flow_fields.n, 1);
	cr_assert_eq(ss->element_fields.f[0].field, NS_CONFIG_FIELD_DSTIP);
	cr_assert_eq(ss->width, 32768);
	cr_assert_eq(ss->depth, 2);
	cr_assert_eq(ss->count_threshold, 1);
	cr_assert_eq(ss->m, 128);			/* written "m : 128" */
	cr_assert_eq(ss->size, 5);
	cr_assert_float_eq(ss->b, 1.08, 1e-12);
	cr_assert_float_eq(ss->base, 0.5, 1e-12);
	cr_assert_eq(cm->skt_type, NS_CONFIG_SKETCH_HEAVY_HITTERS);
	cr_assert_eq(cm->element_fields.n, 4);
	cr_assert_eq(cm->size_threshold, 4096000);
	cr_assert_eq(cm->count_threshold, 4096);

	/* gob is served as jsonl, with a warning. */
	w = &a->exact.writers[0];
	cr_assert_eq(a->exact.nwriters, 2);
	cr_assert_eq(w->type, NS_CONFIG_WRITER_JSONL);
	cr_assert(w->was_gob);
	cr_assert(!w->enabled);
	cr_assert_eq(w->snapshot_interval, 3600 * SEC);
	cr_assert_str_eq(w->root_path, "test/res");
	/* Nothing but Go2NetSpectra's keys: its layout. */
	cr_assert_eq(w->layout, NS_CONFIG_LAYOUT_GO2NS);
	cr_assert_eq(a->sketch.writers[0].layout, NS_CONFIG_LAYOUT_GO2NS);
	cr_assert_eq(a->exact.tasks[0].num_shards, 128);
	cr_assert_eq(cm->top_k, 0);
	cr_assert_not_null(c->warnings);
	cr_assert(strstr(c->warnings, "\"gob\"") != NULL, "%s", c->warnings);

	/* Unset ${CLICKHOUSE_*}: the HTTP interface on localhost. */
	w = &a->exact.writers[1];
	cr_assert_eq(w->type, NS_CONFIG_WRITER_CLICKHOUSE);
	cr_assert(w->enabled);
	cr_assert_str_eq(w->clickhouse.host, "127.0.0.1");
	cr_assert_eq(w->clickhouse.port, 8123);
	cr_assert_str_eq(w->clickhouse.database, "default");
	cr_assert_eq(a->sketch.nwriters, 2);
	cr_assert_eq(a->sketch.writers[0].type, NS_CONFIG_WRITER_TEXT);

	cr_assert(c->alerter.enabled);
	cr_assert_eq(c->alerter.check_interval, 600 * SEC);
	cr_assert(c->alerter.ai_enabled);
	cr_assert_eq(c->alerter.nrules, 3);
	cr_assert_str_eq(c->alerter.rules[0].task_name, "ss_src_dst");
	cr_assert_str_eq(c->alerter.rules[0].metric, "super_spreader_spread");
	cr_assert_eq(c->alerter.rules[0].op, NS_CONFIG_OP_GT);
	cr_assert_float_eq(c->alerter.rules[2].threshold, 1000000, 0);
	cr_assert_neq(c->alerter.rules[0].metric_pos.line, 0);
	cr_assert_str_eq(c->probe.nats_url, "nats://127.0.0.1:4222");
	cr_assert_str_eq(c->probe.persistence.path, "test/publish");
	cr_assert_eq(c->probe.persistence.encoding, NS_CONFIG_ENC_PCAP);
	cr_assert_str_eq(c->api.http_listen_addr, "127.0.0.1:8080");
}

static void
unset_go2netspectra_env(void)
{
	static const char *const vars[] = {
		"API_GRPC_LISTEN_ADDR", "API_HTTP_LISTEN_ADDR", "AI_API_KEY",
		"AI_GRPC_LISTEN_ADDR", "NATS_URL", "ALERTER_AI_SERVICE_ADDR",
		"SMTP_HOST", "SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD",
		"SMTP_FROM", "SMTP_TO", "CLICKHOUSE_HOST", "CLICKHOUSE_PORT",
		"CLICKHOUSE_DB", "CLICKHOUSE_USERNAME", "CLICKHOUSE_PASSWORD",
	};

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

Test(config, go2netspectra_copy_loads_unchanged)
{
	unset_go2netspectra_env();
	cr_assert_eq(ns_config_load(DATA("config/go2netspectra.yaml"), &cfg,
	    err, sizeof(err)), 0, "%s", err);
	check_go2netspectra(&cfg);
	round_trip(&cfg);
}

Test(config, go2netspectra_reference_loads_unchanged)
{
	const char *path = getenv("NS_REFERENCE_CONFIG");
	FILE *fp;

	if (path == NULL || *path == '\0')
		path = SRC("../shared/reference/go2netspectra-config.yaml");
	if ((fp = fopen(path, "r")) == NULL)
		cr_skip_test("%s not found; set NS_REFERENCE_CONFIG", path);
	fclose(fp);
	unset_go2netspectra_env();
	cr_assert_eq(ns_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
	check_go2netspectra(&cfg);
}

Test(config, go2netspectra_with_env)
{
	unset_go2netspectra_env();
	setenv("CLICKHOUSE_HOST", "ch.example", 1);
	setenv("CLICKHOUSE_PORT", "18123", 1);
	setenv("NATS_URL", "nats://nats:4222", 1);
	/* The alerter's e-mail: Go2NetSpectra's comma-separated "to". */
	setenv("SMTP_HOST", "mail.example", 1);
	setenv("SMTP_PORT", "2525", 1);
	setenv("SMTP_TO", "a@example.org,b@example.org", 1);
	cr_assert_eq(ns_config_load(DATA("config/go2netspectra.yaml"), &cfg,
	    err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.aggregator.exact.writers[1].clickhouse.host,
	    "ch.example");
	cr_assert_eq(cfg.aggregator.sketch.writers[1].clickhouse.port, 18123);
	cr_assert_str_eq(cfg.probe.nats_url, "nats://nats:4222");
	cr_assert_str_eq(cfg.alerter.nats_url, "nats://nats:4222");
	cr_assert_str_eq(cfg.smtp.host, "mail.example");
	cr_assert_eq(cfg.smtp.port, 2525);
	cr_assert_eq(cfg.smtp.nto, 2);
	cr_assert_str_eq(cfg.smtp.to[1], "b@example.org");
	ns_config_free(&cfg);
	/* smtp is no longer ignored: a bad port is an error. */
	setenv("SMTP_PORT", "not-a-port", 1);
	cr_assert_eq(ns_config_load(DATA("config/go2netspectra.yaml"), &cfg,
	    err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "smtp.port: expected an integer") != NULL, "%s",
	    err);
	unset_go2netspectra_env();
}

/* A hang against the native protocol becomes an error at load. */
Test(config, clickhouse_native_port_refused)
{
	static const char *const ports[] = { "9000", "9440" };

	for (size_t i = 0; i < 2; i++) {
		char yaml[512];

		snprintf(yaml, sizeof(yaml), "aggregator:\n  exact:\n"
		    "    writers:\n      - type: clickhouse\n"
		    "        clickhouse: {port: %s}\n", ports[i]);
		expect_error(yaml, "4:9", "native protocol", "8123", "8443",
		    NULL);
		ns_config_free(&cfg);
	}
}

/* table_prefix lands in SQL: a name, checked before the daemon starts. */
Test(config, clickhouse_table_prefix_is_a_name)
{
	expect_error("aggregator:\n  exact:\n    writers:\n"
	    "      - type: clickhouse\n"
	    "        clickhouse: {table_prefix: \"ns; DROP\"}\n", "4:9",
	    "table_prefix", "letters, digits and _", NULL);
}

Test(config, clickhouse_writer_keys)
{
	load_ok("aggregator:\n  exact:\n    writers:\n"
	    "      - type: clickhouse\n        snapshot_interval: 200ms\n"
	    "        clickhouse: {cloud: true, batch_rows: 5000, timeout: 3s,"
	    " node: edge-1, spool_max: 64MiB}\n");
	const struct ns_config_writer *w = &cfg.aggregator.exact.writers[0];

	cr_assert_eq(w->snapshot_interval, SEC / 5);
	cr_assert(w->clickhouse.cloud);
	cr_assert_eq(w->clickhouse.batch_rows, 5000);
	cr_assert_eq(w->clickhouse.timeout, 3 * SEC);
	cr_assert_str_eq(w->clickhouse.node, "edge-1");
	cr_assert_eq(w->clickhouse.spool_max, 64ull << 20);
	round_trip(&cfg);
}

Test(config, nats_writer_keys)
{
	load_ok("aggregator:\n  sketch:\n    writers:\n"
	    "      - type: nats\n"
	    "        nats: {url: 'nats://a:4222,nats://b:4222', subject: ns.snap,"
	    " node: edge-2, timeout: 2s, spool_dir: /var/spool/ns,"
	    " spool_max: 8MiB, reconnect_buffer: 1MiB}\n");
	const struct ns_config_writer *w = &cfg.aggregator.sketch.writers[0];

	cr_assert_eq(w->type, NS_CONFIG_WRITER_NATS);
	cr_assert_str_eq(w->nats.url, "nats://a:4222,nats://b:4222");
	cr_assert_str_eq(w->nats.subject, "ns.snap");
	cr_assert_str_eq(w->nats.node, "edge-2");
	cr_assert_eq(w->nats.timeout, 2 * SEC);
	cr_assert_str_eq(w->nats.spool_dir, "/var/spool/ns");
	cr_assert_eq(w->nats.spool_max, 8ull << 20);
	cr_assert_eq(w->nats.reconnect_buffer, 1ull << 20);
	round_trip(&cfg);
	ns_config_free(&cfg);
	load_ok("aggregator:\n  exact:\n    writers: [{type: nats}]\n");
	w = &cfg.aggregator.exact.writers[0];
	cr_assert_str_eq(w->nats.subject, "netspectra.snapshots");
	cr_assert_eq(w->nats.spool_max, 1ull << 30);
	cr_assert_gt(strlen(w->nats.node), 0, "the host name by default");
}

/* Published on, so no wildcard and no empty token. */
Test(config, nats_writer_subject_is_a_subject)
{
	static const char *const bad[] = { "a.*", "a.>", "a..b", ".a", "a.",
	    "a b" };
	char yaml[256];
	unsigned i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml), "aggregator:\n  exact:\n"
		    "    writers:\n      - type: nats\n"
		    "        nats: {subject: '%s'}\n", bad[i]);
		expect_error(yaml, "5:25", "NATS subject", NULL);
		ns_config_free(&cfg);
	}
}

/* The misspelling of the integration test, with its exact position. */
Test(config, go2netspectra_key_fields_typo)
{
	char *text = slurp(DATA("config/go2netspectra.yaml"));
	char *at = strstr(text, "key_fields:"), *bol, head[64], *line;
	unsigned lineno, col;

	cr_assert_not_null(at);
	memcpy(at, "key_feilds:", 11);
	for (bol = at; bol > text && bol[-1] != '\n'; bol--)
		;
	col = (unsigned)(at - bol) + 1;
	*at = '\0';
	lineno = (unsigned)nlines(text) + 1;
	*at = 'k';
	unset_go2netspectra_env();
	cr_assert_eq(ns_config_load_string(text, "go2netspectra.yaml", &cfg,
	    err, sizeof(err)), -EINVAL);
	snprintf(head, sizeof(head), "go2netspectra.yaml:%u:%u: ", lineno, col);
	line = strstr(err, head);
	cr_assert_not_null(line, "no %s in:\n%s", head, err);
	cr_assert(strncmp(line + strlen(head), "unknown key \"key_feilds\" in "
	    "aggregator.exact.tasks[0]; did you mean \"key_fields\"?", 79) == 0,
	    "%s", err);
	free(text);
}

/* ------------------------------------------------------ error classes */

Test(config, syntax_error)
{
	expect_error("aggregator:\n  period: 60s\n num_workers: 2\n", "3:2",
	    "YAML syntax error", "did not find expected key", NULL);
	cr_assert_eq(nlines(err), 1, "%s", err);
	expect_error("daemon:\n  user: \"unterminated\n", "3:1",
	    "YAML syntax error", "found unexpected end of stream", NULL);
	expect_error("a: [1, 2\n", "2:1", "YAML syntax error", NULL);
}

Test(config, second_document)
{
	expect_error("daemon: {}\n---\ndaemon: {}\n", "2:1",
	    "expected one YAML document", NULL);
}

Test(config, top_level_not_a_mapping)
{
	expect_error("- daemon\n", "1:1", "expected a mapping of sections",
	    "got a sequence", NULL);
	expect_error("hello\n", "1:1", "got \"hello\"", NULL);
}

Test(config, unknown_keys_with_suggestions)
{
	expect_error("agregator:\n  period: 60s\n", "1:1",
	    "unknown key \"agregator\" at the top level; did you mean "
	    "\"aggregator\"?", NULL);
	expect_error("aggregator:\n  exact:\n    tasks:\n      - name: t\n"
	    "        key_feilds: [SrcIP]\n", "5:9",
	    "unknown key \"key_feilds\" in aggregator.exact.tasks[0]; did you "
	    "mean \"key_fields\"?", NULL);
	expect_error("daemon:\n  frobnicate: 1\n", "2:3",
	    "unknown key \"frobnicate\" in daemon", NULL);
	cr_assert(strstr(err, "did you mean") == NULL, "%s", err);
	/* ai: is ignored, but its keys are still checked, as smtp's are. */
	expect_error("smtp:\n  hots: x\n", "2:3",
	    "unknown key \"hots\" in smtp; did you mean \"host\"?", NULL);
	expect_error("ai:\n  modle: x\n", "2:3", "did you mean \"model\"?",
	    NULL);
}

Test(config, unknown_enum_values_with_suggestions)
{
	expect_error("daemon:\n  log_level: inf\n", "2:14",
	    "daemon.log_level: unknown value \"inf\"",
	    "expected one of error, warn, info, debug",
	    "did you mean \"info\"?", NULL);
	expect_error("daemon:\n  log_facility: locl3\n", "2:17",
	    "did you mean \"local3\"?", NULL);
	expect_error("aggregator:\n  exact:\n    tasks:\n      - name: t\n"
	    "        key_fields: [SrcIp, DstIP]\n", "5:22",
	    "unknown key field \"SrcIp\"; did you mean \"SrcIP\"?", NULL);
	expect_error("aggregator:\n  types: [exact, skecth]\n", "2:18",
	    "aggregator.types[1]: unknown aggregator type \"skecth\"",
	    "did you mean \"sketch\"?", NULL);
	expect_error("aggregator:\n  exact:\n    writers:\n      - type: jsnol\n",
	    "4:15", "unknown value \"jsnol\"", "did you mean \"jsonl\"?", NULL);
	expect_error("alerter:\n  rules:\n    - {name: r, task_name: "
	    "per_five_tuple, metric: m, operator: \"=>\", threshold: 1}\n",
	    "3:65", "unknown value \"=>\"", "did you mean \">=\"?", NULL);
	expect_error("probe:\n  persistence:\n    encoding: jsonl\n", "3:15",
	    "expected one of text, gob, pcap", NULL);
}

Test(config, bad_duration)
{
	expect_error("aggregator:\n  period: 5 minutes\n", "2:11",
	    "aggregator.period: expected a duration such as 60s, 5m, 720h, "
	    "got \"5 minutes\"", NULL);
	expect_error("aggregator:\n  period: 60\n", "2:11",
	    "got \"60\"; add a unit, e.g. \"60s\"", NULL);
	/* Go's syntax has fractions, but no unitless numbers but "0". */
	expect_error("aggregator:\n  period: 1.5\n", "2:11",
	    "expected a duration", NULL);
	expect_error("aggregator:\n  period: -1h\n", "2:11",
	    "expected a duration", NULL);
	expect_error("aggregator:\n  period: 0s\n", "2:11",
	    "expected a duration from 1s to 8784h, got \"0s\"", NULL);
}

Test(config, bad_size)
{
	expect_error("inputs:\n  - type: pcap\n    buffer_size: 32 MiB\n",
	    "3:18", "inputs[0].buffer_size: expected a size such as 256, "
	    "64KiB, 32MiB, 1GiB, got \"32 MiB\"", NULL);
	expect_error("inputs:\n  - type: pcap\n    snaplen: 1PiB\n", "3:14",
	    "expected a size", NULL);
	expect_error("inputs:\n  - type: pcap\n    snaplen: 32\n", "3:14",
	    "inputs[0].snaplen: expected a size from 64 to 256KiB, got \"32\"",
	    NULL);
}

Test(config, bad_bool)
{
	expect_error("prometheus:\n  enabled: maybe\n", "2:12",
	    "prometheus.enabled: expected a boolean (true/false, yes/no, "
	    "on/off), got \"maybe\"", NULL);
	load_ok("prometheus:\n  enabled: Off\napi:\n  enabled: YES\n");
	cr_assert(!cfg.prometheus.enabled);
	cr_assert(cfg.api.enabled);
}

Test(config, bad_int)
{
	expect_error("aggregator:\n  num_workers: two\n", "2:16",
	    "aggregator.num_workers: expected an integer, got \"two\"", NULL);
	expect_error("aggregator:\n  num_workers: 2.5\n", "2:16",
	    "expected an integer, got \"2.5\"", NULL);
	expect_error("aggregator:\n  num_workers: 99999999999999999999999\n",
	    "2:16", "expected an integer", NULL);
}

Test(config, out_of_range)
{
	expect_error("aggregator:\n  num_workers: 65\n", "2:16",
	    "aggregator.num_workers: expected an integer from 1 to 64, got 65",
	    NULL);
	expect_error("aggregator:\n  num_workers: 0\n", "2:16",
	    "from 1 to 64, got 0", NULL);
	expect_error("aggregator:\n  num_workers: -3\n", "2:16",
	    "from 1 to 64, got -3", NULL);
	expect_error("prometheus:\n  top_k: 1001\n", "2:10",
	    "expected an integer from 0 to 1000", NULL);
	expect_error("aggregator:\n  sketch:\n    tasks:\n      - name: s\n"
	    "        flow_fields: [SrcIP]\n        depth: 17\n", "6:16",
	    "aggregator.sketch.tasks[0].depth: expected an integer from 1 to 16",
	    NULL);
	expect_error("aggregator:\n  sketch:\n    tasks:\n      - name: s\n"
	    "        flow_fields: [SrcIP]\n        skt_type: 2\n", "6:19",
	    "from 0 to 1", NULL);
}

Test(config, wrong_node_type)
{
	expect_error("aggregator:\n  exact:\n    tasks:\n      - name: t\n"
	    "        key_fields: SrcIP\n", "5:21",
	    "key_fields: expected a sequence of key fields, got \"SrcIP\"",
	    NULL);
	expect_error("daemon: [user]\n", "1:9",
	    "daemon: expected a mapping, got a sequence", NULL);
	expect_error("aggregator:\n  period: {minutes: 5}\n", "2:11",
	    "aggregator.period: expected a duration such as 60s, 5m, 720h, "
	    "got a mapping", NULL);
	expect_error("daemon:\n  user: [a, b]\n", "2:9",
	    "daemon.user: expected a string, got a sequence", NULL);
	expect_error("aggregator:\n  exact:\n    tasks: per_five_tuple\n",
	    "3:12", "expected a sequence of tasks", NULL);
	expect_error("aggregator:\n  exact:\n    tasks:\n      - t\n", "4:9",
	    "aggregator.exact.tasks[0]: expected a task", NULL);
	expect_error("{[a]: 1}\n", "1:2", "expected a key name", NULL);
}

Test(config, duplicate_key)
{
	expect_error("aggregator:\n  period: 60s\n  num_workers: 2\n"
	    "  period: 5m\n", "4:3",
	    "duplicate key \"period\" in aggregator (first at line 2)", NULL);
	expect_error("daemon: {}\ndaemon: {}\n", "2:1",
	    "duplicate key \"daemon\"", NULL);
}

Test(config, duplicate_task_name)
{
	expect_error("aggregator:\n  exact:\n    tasks:\n"
	    "      - {name: a, key_fields: [SrcIP]}\n"
	    "      - {name: b, key_fields: [DstIP]}\n"
	    "  sketch:\n    tasks:\n"
	    "      - {name: a, flow_fields: [SrcIP]}\n", "8:16",
	    "duplicate task name \"a\" (first at line 4)", NULL);
	/* Against the built-in task, which a sketch list does not replace. */
	expect_error("aggregator:\n  sketch:\n    tasks:\n"
	    "      - name: per_five_tuple\n        flow_fields: [SrcIP]\n",
	    "4:15", "duplicate task name \"per_five_tuple\" (the built-in "
	    "exact task", NULL);
}

Test(config, missing_required_keys)
{
	expect_error("aggregator:\n  exact:\n    tasks:\n"
	    "      - key_fields: [SrcIP]\n", "4:9",
	    "aggregator.exact.tasks[0]: missing required key \"name\"", NULL);
	expect_error("aggregator:\n  exact:\n    tasks:\n      - name: t\n",
	    "4:9", "aggregator.exact.tasks[0]: missing required key "
	    "\"key_fields\"", NULL);
	expect_error("aggregator:\n  exact:\n    tasks:\n      - name: t\n"
	    "        key_fields: []\n", "5:21",
	    "expected at least one key field, got an empty sequence", NULL);
	expect_error("aggregator:\n  sketch:\n    tasks:\n      - name: s\n"
	    "        skt_type: 1\n        flow_fields: [SrcIP]\n", "4:9",
	    "missing required key \"element_fields\"", NULL);
	expect_error("inputs:\n  - type: file\n", "2:5",
	    "inputs[0]: missing required key \"path\"", NULL);
	expect_error("inputs:\n  - interface: eth0\n", "2:5",
	    "inputs[0]: missing required key \"type\"", NULL);
	expect_error("aggregator:\n  exact:\n    writers:\n"
	    "      - type: text\n", "4:9",
	    "aggregator.exact.writers[0]: missing required key \"text\"",
	    NULL);
	expect_error("aggregator:\n  exact:\n    writers:\n"
	    "      - type: csv\n        csv: {}\n", "5:14",
	    "aggregator.exact.writers[0].csv: missing required key "
	    "\"root_path\"", NULL);
	expect_error("alerter:\n  rules:\n    - name: r\n"
	    "      task_name: per_five_tuple\n      metric: m\n"
	    "      threshold: 1\n", "3:7",
	    "alerter.rules[0]: missing required key \"operator\"", NULL);
}

Test(config, disabled_file_writer_needs_no_root)
{
	load_ok("aggregator:\n  exact:\n    writers:\n"
	    "      - type: text\n        enabled: false\n");
	cr_assert_eq(cfg.aggregator.exact.nwriters, 1);
}

Test(config, both_threshold_spellings)
{
	expect_error("aggregator:\n  sketch:\n    tasks:\n      - name: s\n"
	    "        flow_fields: [SrcIP]\n        size_thereshold: 10\n"
	    "        size_threshold: 10\n", "7:9",
	    "both \"size_thereshold\" and \"size_threshold\" given", NULL);
	expect_error("aggregator:\n  sketch:\n    tasks:\n      - name: s\n"
	    "        flow_fields: [SrcIP]\n        count_threshold: 1\n"
	    "        count_thereshold: 2\n", "7:9",
	    "both \"count_thereshold\" and \"count_threshold\"", NULL);
	load_ok("aggregator:\n  sketch:\n    tasks:\n      - name: s\n"
	    "        flow_fields: [SrcIP]\n        size_threshold: 10\n"
	    "        count_thereshold: 3\n");
	cr_assert_eq(cfg.aggregator.sketch.tasks[0].size_threshold, 10);
	cr_assert_eq(cfg.aggregator.sketch.tasks[0].count_threshold, 3);
}

Test(config, key_field_rules)
{
	static const char head[] = "aggregator:\n  exact:\n    tasks:\n"
	    "      - name: t\n        key_fields: ";
	char buf[512];

	snprintf(buf, sizeof(buf), "%s[SrcIP, DstIP, SrcIP]\n", head);
	expect_error(buf, "5:36", "key_fields[2]: duplicate key field \"SrcIP\"",
	    NULL);
	snprintf(buf, sizeof(buf), "%s[SrcIP, SrcNet/24]\n", head);
	expect_error(buf, "5:29", "\"SrcNet/24\" cannot be combined with "
	    "\"SrcIP\": both key the source address", NULL);
	snprintf(buf, sizeof(buf), "%s[DstNet/33]\n", head);
	expect_error(buf, "5:22", "prefix lengths of at most 32", NULL);
	snprintf(buf, sizeof(buf), "%s[DstNet]\n", head);
	expect_error(buf, "5:22", "expected DstNet/<v4len>[/<v6len>]", NULL);
	snprintf(buf, sizeof(buf), "%s[Protocol/8]\n", head);
	expect_error(buf, "5:22", "\"Protocol\" takes no prefix length", NULL);
	snprintf(buf, sizeof(buf), "%s[SrcNet/24, DstNet/16/56, VLAN, "
	    "IPVersion, DSCP, SrcPort, DstPort, Protocol]\n", head);
	load_ok(buf);
	cr_assert_eq(cfg.aggregator.exact.tasks[0].key_fields.n, 8);
	cr_assert_eq(cfg.aggregator.exact.tasks[0].key_fields.f[0].v4len, 24);
	cr_assert_eq(cfg.aggregator.exact.tasks[0].key_fields.f[0].v6len, 64);
	cr_assert_eq(cfg.aggregator.exact.tasks[0].key_fields.f[1].v6len, 56);
}

Test(config, writer_type_mismatch)
{
	expect_error("aggregator:\n  exact:\n    writers:\n"
	    "      - type: text\n        text: {root_path: /x}\n"
	    "        clickhouse: {host: h}\n", "6:9",
	    "key \"clickhouse\" does not apply to a writer of type \"text\"",
	    NULL);
	expect_error("inputs:\n  - type: pcap\n    path: /x.pcap\n", "3:5",
	    "inputs[0]: key \"path\" does not apply to an input of type "
	    "\"pcap\"", NULL);
}

Test(config, string_checks)
{
	expect_error("daemon:\n  shm_name: netspectra\n", "2:13",
	    "expected a shared memory name", NULL);
	expect_error("daemon:\n  shm_name: /a/b\n", "2:13",
	    "one leading '/'", NULL);
	expect_error("prometheus:\n  listen: 9571\n", "2:11",
	    "expected an address host:port", NULL);
	expect_error("api:\n  http_listen_addr: \"::1:80\"\n", "2:21",
	    "expected an address host:port", NULL);
	expect_error("api:\n  http_listen_addr: \"[::1]:70000\"\n", "2:21",
	    "expected an address host:port", NULL);
	expect_error("aggregator:\n  exact:\n    tasks:\n"
	    "      - name: \"a b\"\n        key_fields: [SrcIP]\n", "4:15",
	    "expected a name of up to 63 letters", NULL);
	load_ok("api:\n  http_listen_addr: \"[::]:8080\"\n"
	    "prometheus:\n  listen: localhost:9100\n");
}

/* An http_listen_addr without enabled turns the API on (Go2NetSpectra's
 * way); enabled, when given, decides; neither leaves it off. */
Test(config, api_enabled_by_address)
{
	load_ok("api:\n  http_listen_addr: 127.0.0.1:18080\n");
	cr_assert(cfg.api.enabled);
	cr_assert_str_eq(cfg.api.http_listen_addr, "127.0.0.1:18080");
	ns_config_free(&cfg);
	load_ok("api:\n  enabled: false\n  http_listen_addr: 127.0.0.1:18080\n");
	cr_assert_not(cfg.api.enabled);
	ns_config_free(&cfg);
	load_ok("api:\n  http_listen_addr: \"\"\n");
	cr_assert_not(cfg.api.enabled);
	cr_assert_str_eq(cfg.api.http_listen_addr, "127.0.0.1:8080");
	ns_config_free(&cfg);
	load_ok("daemon:\n  log_level: info\n");
	cr_assert_not(cfg.api.enabled);
}

Test(config, cross_checks)
{
	expect_error("alerter:\n  rules:\n    - name: r\n"
	    "      task_name: per_five_tupel\n      metric: m\n"
	    "      operator: \">\"\n      threshold: 1\n", "4:18",
	    "no task is named \"per_five_tupel\"; did you mean "
	    "\"per_five_tuple\"?", NULL);
	expect_error("prometheus:\n  tls:\n    cert_file: /c\n", "3:5",
	    "prometheus.tls: expected both cert_file and key_file", NULL);
	expect_error("inputs:\n  - {type: nats}\n  - {type: nats}\n", "3:5",
	    "duplicate input name \"nats\"", NULL);
}

Test(config, anchors_and_aliases_rejected)
{
	expect_error("daemon:\n  user: &u ns\n  group: *u\n", "2:9",
	    "anchors (&u) and aliases are not supported", NULL);
	expect_error("daemon:\n  user: &u ns\n  group: *u\n", "3:10",
	    "aliases (*u) are not supported", NULL);
}

Test(config, all_errors_reported)
{
	int rc = load("aggregator:\n  period: 5 minutes\n  num_workers: 99\n"
	    "daemon:\n  log_level: loud\n");

	cr_assert_eq(rc, -EINVAL);
	cr_assert_eq(nlines(err), 3, "%s", err);
}

Test(config, error_count_is_capped)
{
	char buf[4096] = "daemon:\n";

	for (int i = 0; i < 40; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
		    "  bogus%d: 1\n", i);
	cr_assert_eq(load(buf), -EINVAL);
	cr_assert_eq(nlines(err), NS_CONFIG_MAX_ERRORS + 1, "%s", err);
	cr_assert(strstr(err, "too many errors") != NULL);
}

Test(config, small_error_buffer_is_safe)
{
	char small[40];

	cr_assert_eq(ns_config_load_string("daemon:\n  log_level: loud\n",
	    "cfg.yaml", &cfg, small, sizeof(small)), -EINVAL);
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	cr_assert_eq(ns_config_load_string("daemon: [\n", "cfg.yaml", &cfg,
	    NULL, 0), -EINVAL);
}

Test(config, io_errors)
{
	cr_assert_eq(ns_config_load(DATA("config/does-not-exist.yaml"), &cfg,
	    err, sizeof(err)), -ENOENT);
	cr_assert_eq(ns_config_load(DATA("config"), &cfg, err, sizeof(err)),
	    -EISDIR);
}

Test(config, error_names_the_file)
{
	char path[1100], head[1200];
	FILE *fp;

	snprintf(path, sizeof(path), "/tmp/ns-test-config-%d.yaml", getpid());
	fp = fopen(path, "w");
	cr_assert_not_null(fp);
	fputs("# comment\naggregator:\n  period: 5 minutes\n", fp);
	fclose(fp);
	cr_assert_eq(ns_config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	snprintf(head, sizeof(head), "%s:3:11: aggregator.period:", path);
	cr_assert(strncmp(err, head, strlen(head)) == 0, "%s", err);
	unlink(path);
}

/* ------------------------------------------------------ ${VAR} expansion */

Test(config, env_set)
{
	setenv("NS_TEST_PERIOD", "5m", 1);
	setenv("NS_TEST_HOST", "ch.example", 1);
	load_ok("aggregator:\n  period: ${NS_TEST_PERIOD}\n  exact:\n"
	    "    writers:\n      - type: clickhouse\n        clickhouse:\n"
	    "          host: \"db-${NS_TEST_HOST}\"\n");
	cr_assert_eq(cfg.aggregator.period, 300 * SEC);
	cr_assert_str_eq(cfg.aggregator.exact.writers[0].clickhouse.host,
	    "db-ch.example");
}

Test(config, env_unset_takes_the_default)
{
	unsetenv("NS_TEST_UNSET");
	load_ok("aggregator:\n  period: ${NS_TEST_UNSET}\n  exact:\n"
	    "    writers:\n      - type: clickhouse\n        enabled: true\n"
	    "        clickhouse:\n          host: \"${NS_TEST_UNSET}\"\n"
	    "          port: ${NS_TEST_UNSET}\n");
	cr_assert_eq(cfg.aggregator.period, 60 * SEC);
	cr_assert_str_eq(cfg.aggregator.exact.writers[0].clickhouse.host,
	    "127.0.0.1");
	cr_assert_eq(cfg.aggregator.exact.writers[0].clickhouse.port, 8123);
}

Test(config, env_default_form)
{
	unsetenv("NS_TEST_UNSET");
	setenv("NS_TEST_EMPTY", "", 1);
	setenv("NS_TEST_SET", "7", 1);
	load_ok("aggregator:\n  period: ${NS_TEST_UNSET:-2h}\n"
	    "  num_workers: ${NS_TEST_SET:-3}\n"
	    "daemon:\n  user: ${NS_TEST_EMPTY:-nobody}\n"
	    "  group: \"a$$b$c\"\n");
	cr_assert_eq(cfg.aggregator.period, 2 * 3600 * SEC);
	cr_assert_eq(cfg.aggregator.num_workers, 7);
	cr_assert_str_eq(cfg.daemon.user, "nobody");
	cr_assert_str_eq(cfg.daemon.group, "a$b$c");
	round_trip(&cfg);
}

Test(config, env_value_is_validated)
{
	setenv("NS_TEST_WORKERS", "99", 1);
	expect_error("aggregator:\n  num_workers: ${NS_TEST_WORKERS}\n", "2:16",
	    "expected an integer from 1 to 64, got 99", NULL);
	expect_error("daemon:\n  user: ${1BAD}\n", "2:9",
	    "expected ${NAME} or ${NAME:-default}", NULL);
	expect_error("daemon:\n  user: \"${OPEN\"\n", "2:9",
	    "expected ${NAME} or ${NAME:-default}", NULL);
}

/* tests/fuzz/fuzz_config: bytes that YAML text cannot hold came in from
 * the environment, and the dump did not load back. */
Test(config, env_value_must_be_utf8)
{
	setenv("NS_TEST_LATIN1", "caf\xe9", 1);
	expect_error("daemon:\n  user: ${NS_TEST_LATIN1}\n", "2:9",
	    "the value of ${NS_TEST_LATIN1} is not UTF-8 text", NULL);
	setenv("NS_TEST_LATIN1", "caf\xc3\xa9\xc2\x85", 1);
	load_ok("daemon:\n  user: ${NS_TEST_LATIN1}\n");
	round_trip(&cfg);
}

/* tests/fuzz/fuzz_config: characters libyaml refuses to read (C1
 * controls, U+FFFF) or folds as line breaks were dumped as they are. */
Test(config, dump_escapes_what_yaml_cannot_hold)
{
	load_ok("daemon:\n  user: \"a\\x80b\\u0085c\\u2028d\\uFEFFe\\uFFFF"
	    "f\\u00e9\"\n");
	cr_assert_str_eq(cfg.daemon.user, "a\xc2\x80" "b\xc2\x85" "c\xe2\x80\xa8"
	    "d\xef\xbb\xbf" "e\xef\xbf\xbf" "f\xc3\xa9");
	round_trip(&cfg);
}

/* ---------------------------------------------------- lists and round trip */

/* tests/fuzz/fuzz_config: a name taken from a file or an interface was
 * not one that loads back from the dump. */
Test(config, derived_input_names_are_names)
{
	load_ok("inputs:\n  - type: file\n    path: \"/data/my trace`$$.pcap\"\n"
	    "  - type: file\n    path: /data/"
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "456789.pcap\n  - type: pcap\n    interface: \"eth0:1\"\n");
	cr_assert_str_eq(cfg.inputs[0].name, "my_trace__.pcap");
	cr_assert_str_eq(cfg.inputs[1].name, "0123456789012345678901234567890"
	    "12345678901234567890123456789012");
	cr_assert_str_eq(cfg.inputs[2].name, "eth0_1");
	round_trip(&cfg);
}

Test(config, file_lists_replace_defaults)
{
	load_ok("inputs:\n  - type: file\n    path: /data/x.pcap\n"
	    "aggregator:\n  exact:\n    tasks:\n"
	    "      - name: by_src\n        key_fields: [SrcIP]\n");
	cr_assert_eq(cfg.ninputs, 1);
	cr_assert_eq(cfg.inputs[0].type, NS_CONFIG_INPUT_FILE);
	cr_assert_str_eq(cfg.inputs[0].name, "x.pcap");
	cr_assert_eq(cfg.aggregator.exact.ntasks, 1);
	cr_assert_str_eq(cfg.aggregator.exact.tasks[0].name, "by_src");
	ns_config_free(&cfg);
	load_ok("aggregator:\n  exact:\n    tasks: []\n");
	cr_assert_eq(cfg.aggregator.exact.ntasks, 0);
	round_trip(&cfg);
}

Test(config, full_config)
{
	const struct ns_config_writer *w;
	const struct ns_config_sketch_task *t;

	cr_assert_eq(ns_config_load(DATA("config/full.yaml"), &cfg, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_null(cfg.warnings, "%s", cfg.warnings);
	cr_assert_eq(cfg.daemon.log_facility, LOG_LOCAL3);
	cr_assert_eq(cfg.ninputs, 3);
	cr_assert_str_eq(cfg.inputs[0].name, "uplink");
	cr_assert(!cfg.inputs[0].promisc);
	cr_assert(cfg.inputs[0].immediate);
	cr_assert_eq(cfg.inputs[0].buffer_size, 64u << 20);
	cr_assert_str_eq(cfg.inputs[1].name, "trace.pcap");
	cr_assert_str_eq(cfg.inputs[2].queue_group, "engines");
	cr_assert_eq(cfg.probe.batch, 64);
	cr_assert_eq(cfg.probe.persistence.encoding, NS_CONFIG_ENC_TEXT);
	cr_assert_eq(cfg.alerter.check_interval, 5400 * SEC);
	cr_assert_str_eq(cfg.alerter.webhook_url,
	    "https://hooks.example/alert?token=a$b");
	cr_assert_eq(cfg.alerter.rules[1].op, NS_CONFIG_OP_NE);
	cr_assert_float_eq(cfg.alerter.rules[1].threshold, -3, 0);
	cr_assert_str_eq(cfg.prometheus.password, "s\"ecret\\");
	cr_assert_eq(cfg.aggregator.types, NS_CONFIG_AGG_SKETCH);
	cr_assert_eq(cfg.aggregator.size_of_packet_channel, 1024);
	w = &cfg.aggregator.exact.writers[1];
	cr_assert_eq(w->type, NS_CONFIG_WRITER_NATS);
	cr_assert_eq(w->snapshot_interval, 5 * SEC);
	cr_assert_str_eq(w->nats.subject, "flows");
	w = &cfg.aggregator.sketch.writers[0];
	cr_assert_eq(w->clickhouse.port, 18123);
	cr_assert_eq(w->clickhouse.spool_max, 2ull << 30);
	t = &cfg.aggregator.sketch.tasks[0];
	cr_assert_eq(t->seed, UINT64_MAX);
	cr_assert_float_eq(t->b, 1.5, 0);
	cr_assert_eq(cfg.aggregator.exact.tasks[0].key_fields.f[0].v6len, 48);
	round_trip(&cfg);
}

/* ------------------------------------------------------------- helpers */

Test(config, parse_duration)
{
	uint64_t v;

	cr_assert_eq(ns_config_parse_duration("500ms", &v), 0);
	cr_assert_eq(v, SEC / 2);
	cr_assert_eq(ns_config_parse_duration("720h", &v), 0);
	cr_assert_eq(v, 720ull * 3600 * SEC);
	cr_assert_eq(ns_config_parse_duration("1d", &v), 0);
	cr_assert_eq(v, 86400 * SEC);
	cr_assert_eq(ns_config_parse_duration("1h30m", &v), 0);
	cr_assert_eq(v, 5400 * SEC);
	cr_assert_eq(ns_config_parse_duration("1m500ms", &v), 0);
	cr_assert_eq(v, 60 * SEC + SEC / 2);
	cr_assert_eq(ns_config_parse_duration("60", &v), -EINVAL);
	cr_assert_eq(ns_config_parse_duration("", &v), -EINVAL);
	cr_assert_eq(ns_config_parse_duration("5 m", &v), -EINVAL);
	cr_assert_eq(ns_config_parse_duration("5x", &v), -EINVAL);
	cr_assert_eq(ns_config_parse_duration("h", &v), -EINVAL);
	cr_assert_eq(ns_config_parse_duration("99999999999999h", &v), -EINVAL);
}

Test(config, parse_size)
{
	uint64_t v;

	cr_assert_eq(ns_config_parse_size("256", &v), 0);
	cr_assert_eq(v, 256);
	cr_assert_eq(ns_config_parse_size("64KiB", &v), 0);
	cr_assert_eq(v, 65536);
	cr_assert_eq(ns_config_parse_size("32MiB", &v), 0);
	cr_assert_eq(v, 32u << 20);
	cr_assert_eq(ns_config_parse_size("1GiB", &v), 0);
	cr_assert_eq(v, 1u << 30);
	cr_assert_eq(ns_config_parse_size("64k", &v), 0);
	cr_assert_eq(v, 64000);
	cr_assert_eq(ns_config_parse_size("2M", &v), 0);
	cr_assert_eq(v, 2000000);
	cr_assert_eq(ns_config_parse_size("1G", &v), 0);
	cr_assert_eq(v, 1000000000);
	cr_assert_eq(ns_config_parse_size("10B", &v), 0);
	cr_assert_eq(v, 10);
	cr_assert_eq(ns_config_parse_size("1.5GiB", &v), -EINVAL);
	cr_assert_eq(ns_config_parse_size("MiB", &v), -EINVAL);
	cr_assert_eq(ns_config_parse_size("1 MiB", &v), -EINVAL);
	cr_assert_eq(ns_config_parse_size("-1", &v), -EINVAL);
	cr_assert_eq(ns_config_parse_size("20000000TiB", &v), -EINVAL);
}

Test(config, format_round_trips)
{
	static const uint64_t durs[] = {
		1, 999, SEC / 2, 60 * SEC, 5400 * SEC + 7, 720ull * 3600 * SEC
	};
	static const uint64_t sizes[] = { 0, 1, 1000, 1024, 32u << 20, 3ull << 40 };
	char buf[64];
	uint64_t v;

	for (size_t i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		ns_config_format_duration(durs[i], buf, sizeof(buf));
		cr_assert_eq(ns_config_parse_duration(buf, &v), 0, "%s", buf);
		cr_assert_eq(v, durs[i], "%s", buf);
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ns_config_format_size(sizes[i], buf, sizeof(buf));
		cr_assert_eq(ns_config_parse_size(buf, &v), 0, "%s", buf);
		cr_assert_eq(v, sizes[i], "%s", buf);
	}
	cr_assert_str_eq(ns_config_format_duration(5400 * SEC, buf,
	    sizeof(buf)), "1h30m");
	cr_assert_str_eq(ns_config_format_size(32u << 20, buf, sizeof(buf)),
	    "32MiB");
}

Test(config, names)
{
	struct ns_config_keyfield kf = { NS_CONFIG_FIELD_DSTNET, 24, 64 };
	char buf[32];

	cr_assert_str_eq(ns_config_field_name(NS_CONFIG_FIELD_SRCIP), "SrcIP");
	cr_assert_str_eq(ns_config_field_name(NS_CONFIG_FIELD_IPVERSION),
	    "IPVersion");
	cr_assert_str_eq(ns_config_keyfield_format(&kf, buf, sizeof(buf)),
	    "DstNet/24/64");
	cr_assert_str_eq(ns_config_writer_type_name(NS_CONFIG_WRITER_CLICKHOUSE),
	    "clickhouse");
	cr_assert_str_eq(ns_config_input_type_name(NS_CONFIG_INPUT_NATS), "nats");
	cr_assert_str_eq(ns_config_op_name(NS_CONFIG_OP_LE), "<=");
}

/* The NATS input: url and subject follow the probe unless given. */
Test(config, nats_input_keys)
{
	load_ok("probe: {nats_url: \"nats://10.0.0.2:4222\", subject: p.raw}\n"
	    "inputs:\n"
	    "  - {type: nats, name: a}\n"
	    "  - {type: nats, name: b, url: \"nats://h:1\", subject: s, "
	    "queue: q, jetstream: {stream: S, durable: D}}\n"
	    "  - {type: nats, name: c, jetstream: {stream: T}}\n");
	cr_assert_str_eq(cfg.inputs[0].nats_url, "nats://10.0.0.2:4222");
	cr_assert_str_eq(cfg.inputs[0].subject, "p.raw");
	cr_assert_str_eq(cfg.inputs[0].queue_group, "netspectra");
	cr_assert_str_eq(cfg.inputs[0].js_stream, "");
	cr_assert_str_eq(cfg.inputs[1].nats_url, "nats://h:1");
	cr_assert_str_eq(cfg.inputs[1].subject, "s");
	cr_assert_str_eq(cfg.inputs[1].queue_group, "q");
	cr_assert_str_eq(cfg.inputs[1].js_stream, "S");
	cr_assert_str_eq(cfg.inputs[1].js_durable, "D");
	cr_assert_str_eq(cfg.inputs[2].js_stream, "T");
	cr_assert_str_eq(cfg.inputs[2].js_durable, "netspectra");
	round_trip(&cfg);
	ns_config_free(&cfg);
	/* Without a probe section: the probe's defaults. */
	load_ok("inputs: [{type: nats}]\n");
	cr_assert_str_eq(cfg.inputs[0].nats_url, "nats://127.0.0.1:4222");
	cr_assert_str_eq(cfg.inputs[0].subject, "gons.packets.raw");
	ns_config_free(&cfg);
}

Test(config, nats_input_errors)
{
	expect_error("inputs: [{type: nats, jetstream: {durable: d}}]\n", "1:34",
	    "missing required key \"stream\"", NULL);
	expect_error("inputs: [{type: nats, jetstream: {stream: a.b}}]\n",
	    "1:43", "JetStream name", NULL);
	expect_error("inputs: [{type: pcap, jetstream: {stream: a}}]\n", "1:23",
	    "does not apply", NULL);
	expect_error("inputs: [{type: nats, jetstream: {strem: a}}]\n", "1:35",
	    "did you mean \"stream\"", NULL);
}

/* ------------------------------------------- Go durations (issue 18) */

/* s parses to want nanoseconds. */
static void
dur_is(const char *s, uint64_t want)
{
	uint64_t v = 12345;

	cr_assert_eq(ns_config_parse_duration(s, &v), 0, "\"%s\" refused", s);
	cr_assert_eq(v, want, "\"%s\": %llu, want %llu", s,
	    (unsigned long long)v, (unsigned long long)want);
}

Test(config, go_durations)
{
	dur_is("200ms", 200000000);
	dur_is("1m30s", 90 * SEC);
	dur_is("1.5h", 5400 * SEC);
	dur_is("300us", 300000);
	dur_is("300\xc2\xb5s", 300000);		/* U+00B5, as Go */
	dur_is("300\xce\xbcs", 300000);		/* U+03BC, as Go */
	dur_is("1h2m3.5s", 3723 * SEC + SEC / 2);
	dur_is("2h45m", 9900 * SEC);
	dur_is("0", 0);
	dur_is("+0", 0);
	dur_is("+5s", 5 * SEC);
	dur_is(".5s", SEC / 2);
	dur_is("1.s", SEC);
	dur_is("1.000000001s", SEC + 1);
	dur_is("0.1ns", 0);			/* Go truncates too */
	dur_is("1s1s", 2 * SEC);		/* Go adds repeats */
	dur_is("2.25m", 135 * SEC);
	dur_is("1.123456789123456789999s", 1123456789);
	dur_is("720h", 720ull * 3600 * SEC);
	dur_is("1d", 86400 * SEC);		/* netspectra's extension */
}

Test(config, go_durations_invalid)
{
	static const char *const bad[] = {
		"", "1", "60", "1.5", "-1s", "-0", "1x", "s", ".s", ".", "+",
		"5 m", " 1s", "1s ", "1e3s", "1..5s", "1h-1m", "1sec", "1H",
		"99999999999999h", "18446744073709551616ns", "0x10s",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(ns_config_parse_duration(bad[i], &v), -EINVAL,
		    "\"%s\" accepted", bad[i]);
	cr_assert_eq(ns_config_parse_duration(NULL, &v), -EINVAL);
}

/* Every duration key takes Go's syntax, within its bounds. */
Test(config, duration_keys_and_bounds)
{
	load_ok("aggregator:\n  period: 1.5h\n  exact:\n    writers:\n"
	    "      - type: jsonl\n        snapshot_interval: \"200ms\"\n"
	    "        jsonl: {root_path: /x}\n"
	    "      - type: clickhouse\n        clickhouse: {timeout: 1m30s}\n"
	    "alerter:\n  check_interval: 1m0.5s\n  timeout: 300ms\n"
	    "  min_notify_interval: \"0\"\n");
	cr_assert_eq(cfg.aggregator.period, 5400 * SEC);
	cr_assert_eq(cfg.aggregator.exact.writers[0].snapshot_interval,
	    200000000);
	cr_assert_eq(cfg.aggregator.exact.writers[1].clickhouse.timeout,
	    90 * SEC);
	cr_assert_eq(cfg.alerter.check_interval, 60 * SEC + SEC / 2);
	cr_assert_eq(cfg.alerter.timeout, 300000000);
	cr_assert_eq(cfg.alerter.min_notify_interval, 0);
	round_trip(&cfg);
	ns_config_free(&cfg);
	/* The lower bounds the man page states. */
	expect_error("aggregator:\n  exact:\n    writers:\n"
	    "      - type: jsonl\n        snapshot_interval: 99.9ms\n"
	    "        jsonl: {root_path: /x}\n", "5:28",
	    "expected a duration from 100ms to 8784h, got \"99.9ms\"", NULL);
	expect_error("aggregator:\n  period: 999ms\n", "2:11",
	    "expected a duration from 1s to 8784h", NULL);
	expect_error("alerter:\n  check_interval: 0.5s\n", "2:19",
	    "expected a duration from 1s", NULL);
	expect_error("alerter:\n  timeout: 50ms\n", "2:12",
	    "expected a duration from 100ms to 5m", NULL);
	expect_error("aggregator:\n  exact:\n    writers:\n"
	    "      - type: clickhouse\n        clickhouse: {timeout: 90us}\n",
	    "5:31", "expected a duration from 100ms to 1h", NULL);
	expect_error("aggregator:\n  period: 8784h0.001s\n", "2:11",
	    "expected a duration from 1s to 8784h", NULL);
}

/* --------------------------------------- layouts, heavy hitters (18) */

static const char g2ns_head[] =
    "aggregator:\n  period: \"720h\"\n  exact:\n    writers:\n"
    "      - type: \"gob\"\n        enabled: false\n"
    "        snapshot_interval: \"3600s\"\n        gob:\n"
    "          root_path: \"test/res\"\n    tasks:\n"
    "        - name: \"per_five_tuple\"\n"
    "          key_fields: [\"SrcIP\", \"DstIP\", \"SrcPort\", \"DstPort\","
    " \"Protocol\"]\n          num_shards: 128\n";

Test(config, go2netspectra_layout_rule)
{
	char buf[2048];

	/* Go2NetSpectra's keys only: its layout for text and gob. */
	snprintf(buf, sizeof(buf), "%s  sketch:\n    writers:\n"
	    "      - type: \"text\"\n        snapshot_interval: \"200ms\"\n"
	    "        text: {root_path: r}\n    tasks:\n"
	    "      - name: cm\n        skt_type: 0\n        flow_fields: [SrcIP]\n"
	    "        element_fields: []\n        count_thereshold: 5\n",
	    g2ns_head);
	load_ok(buf);
	cr_assert_eq(cfg.aggregator.exact.writers[0].layout,
	    NS_CONFIG_LAYOUT_GO2NS);
	cr_assert_eq(cfg.aggregator.sketch.writers[0].layout,
	    NS_CONFIG_LAYOUT_GO2NS);
	cr_assert_eq(cfg.aggregator.sketch.tasks[0].element_fields.n, 0);
	round_trip(&cfg);
	ns_config_free(&cfg);

	/* One netspectra-only key anywhere: netspectra's layout. */
	snprintf(buf, sizeof(buf), "%s          max_flows: 1000\n", g2ns_head);
	load_ok(buf);
	cr_assert_eq(cfg.aggregator.exact.writers[0].layout,
	    NS_CONFIG_LAYOUT_NETSPECTRA);
	ns_config_free(&cfg);
	snprintf(buf, sizeof(buf), "daemon: {user: x}\n%s", g2ns_head);
	load_ok(buf);
	cr_assert_eq(cfg.aggregator.exact.writers[0].layout,
	    NS_CONFIG_LAYOUT_NETSPECTRA);
	ns_config_free(&cfg);
	/* A key field of netspectra's alone is enough. */
	snprintf(buf, sizeof(buf), "%s", g2ns_head);
	*strstr(buf, "\"Protocol\"") = '\0';
	strcat(buf, "\"VLAN\"]\n");
	load_ok(buf);
	cr_assert_eq(cfg.aggregator.exact.writers[0].layout,
	    NS_CONFIG_LAYOUT_NETSPECTRA);
	ns_config_free(&cfg);

	/* The rule is about keys: a short file of Go2NetSpectra's keys only
	 * is taken for one of its users', ... */
	load_ok("aggregator:\n  exact:\n    writers:\n"
	    "      - {type: text, text: {root_path: /x}}\n");
	cr_assert_eq(cfg.aggregator.exact.writers[0].layout,
	    NS_CONFIG_LAYOUT_GO2NS);
	ns_config_free(&cfg);
	/* ...a jsonl writer beside it makes it netspectra's... */
	load_ok("aggregator:\n  exact:\n    writers:\n"
	    "      - {type: text, text: {root_path: /x}}\n"
	    "      - {type: jsonl, enabled: false}\n");
	cr_assert_eq(cfg.aggregator.exact.writers[0].layout,
	    NS_CONFIG_LAYOUT_NETSPECTRA);
	ns_config_free(&cfg);
	/* ...and a writer may say which it wants. */
	load_ok("daemon: {user: x}\naggregator:\n  exact:\n    writers:\n"
	    "      - {type: jsonl, layout: go2netspectra, jsonl: {root_path: /x}}\n"
	    "      - {type: text, layout: go2netspectra, text: {root_path: /y}}\n"
	    "      - {type: text, text: {root_path: /z}}\n");
	cr_assert_eq(cfg.aggregator.exact.writers[0].layout,
	    NS_CONFIG_LAYOUT_GO2NS);
	cr_assert_eq(cfg.aggregator.exact.writers[1].layout,
	    NS_CONFIG_LAYOUT_GO2NS);
	cr_assert_eq(cfg.aggregator.exact.writers[2].layout,
	    NS_CONFIG_LAYOUT_NETSPECTRA);
	round_trip(&cfg);
	ns_config_free(&cfg);
	/* And the other way round. */
	snprintf(buf, sizeof(buf), "%s", g2ns_head);
	*strstr(buf, "        gob:") = '\0';
	strcat(buf, "        layout: netspectra\n        gob: {root_path: r}\n");
	load_ok(buf);
	cr_assert_eq(cfg.aggregator.exact.writers[0].layout,
	    NS_CONFIG_LAYOUT_NETSPECTRA);
	ns_config_free(&cfg);

	expect_error("aggregator:\n  exact:\n    writers:\n"
	    "      - {type: csv, layout: go2netspectra, csv: {root_path: /x}}\n",
	    "4:21", "key \"layout\" does not apply to a writer of type \"csv\"",
	    NULL);
	expect_error("aggregator:\n  exact:\n    writers:\n"
	    "      - {type: text, layout: go2ns, text: {root_path: /x}}\n",
	    "4:30", "layout: unknown value \"go2ns\"; expected one of "
	    "netspectra, go2netspectra", NULL);
}

Test(config, element_fields_empty)
{
	static const char head[] = "aggregator:\n  sketch:\n    tasks:\n"
	    "      - name: s\n        flow_fields: [SrcIP]\n";
	char buf[512];

	snprintf(buf, sizeof(buf), "%s        skt_type: 0\n"
	    "        element_fields: []\n", head);
	load_ok(buf);
	cr_assert_eq(cfg.aggregator.sketch.tasks[0].element_fields.n, 0);
	ns_config_free(&cfg);
	snprintf(buf, sizeof(buf), "%s        skt_type: 1\n"
	    "        element_fields: []\n", head);
	expect_error(buf, "7:25", "element_fields: expected at least one key "
	    "field for skt_type 1", NULL);
	/* Other lists still want a field. */
	expect_error("aggregator:\n  sketch:\n    tasks:\n"
	    "      - name: s\n        flow_fields: []\n", "5:22",
	    "expected at least one key field, got an empty sequence", NULL);
}

Test(config, top_k_unset_is_zero)
{
	load_ok("aggregator:\n  sketch:\n    tasks:\n"
	    "      - {name: a, flow_fields: [SrcIP], count_threshold: 9}\n"
	    "      - {name: b, flow_fields: [SrcIP], top_k: 7}\n");
	cr_assert_eq(cfg.aggregator.sketch.tasks[0].top_k, 0);
	cr_assert_eq(cfg.aggregator.sketch.tasks[1].top_k, 7);
	round_trip(&cfg);
}

/* --------------------------------------------------- .env (issue 18) */

static char envdir[256];

/* A fresh directory with a .env of text and a config.yaml of yaml. */
static const char *
env_files(const char *text, const char *yaml)
{
	static char cpath[300];
	char path[300];
	FILE *fp;

	snprintf(envdir, sizeof(envdir), "/tmp/ns-test-env.XXXXXX");
	cr_assert_not_null(mkdtemp(envdir));
	snprintf(path, sizeof(path), "%s/.env", envdir);
	if (text != NULL) {
		cr_assert_not_null(fp = fopen(path, "w"));
		fputs(text, fp);
		fclose(fp);
	}
	snprintf(cpath, sizeof(cpath), "%s/config.yaml", envdir);
	cr_assert_not_null(fp = fopen(cpath, "w"));
	fputs(yaml, fp);
	fclose(fp);
	return cpath;
}

static void
env_cleanup(void)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/.env", envdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/config.yaml", envdir);
	unlink(path);
	rmdir(envdir);
}

static const char env_yaml[] =
    "aggregator:\n  exact:\n    writers:\n"
    "      - type: clickhouse\n        clickhouse:\n"
    "          host: \"${NS_T_HOST}\"\n          port: ${NS_T_PORT}\n"
    "          password: \"${NS_T_PASS}\"\n"
    "          database: \"${NS_T_DB:-fallback}\"\n";

Test(config, dotenv_fills_the_environment)
{
	const char *c = env_files(
	    "# Go2NetSpectra's .env\n"
	    "\n"
	    "NS_T_HOST=ch.example   # trailing comment\n"
	    "export NS_T_PORT = 18123\r\n"
	    "  NS_T_PASS='p#ss \"w\" $x'\n"
	    "NS_T_DQ=\"a\\tb\\n\\\"c\\\" \\\\ \\$d \\q\" # c\n"
	    "NS_T_EMPTY=\n"
	    "NS_T_HASH=#1\n"
	    "NS_T_DB=\n", env_yaml);

	unsetenv("NS_T_HOST");
	unsetenv("NS_T_PORT");
	unsetenv("NS_T_PASS");
	unsetenv("NS_T_DQ");
	unsetenv("NS_T_DB");
	cr_assert_eq(ns_config_load(c, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.aggregator.exact.writers[0].clickhouse.host,
	    "ch.example");
	cr_assert_eq(cfg.aggregator.exact.writers[0].clickhouse.port, 18123);
	cr_assert_str_eq(cfg.aggregator.exact.writers[0].clickhouse.password,
	    "p#ss \"w\" $x");
	/* Empty in the .env: ${VAR:-default} takes the default. */
	cr_assert_str_eq(cfg.aggregator.exact.writers[0].clickhouse.database,
	    "fallback");
	cr_assert_str_eq(getenv("NS_T_DQ"), "a\tb\n\"c\" \\ $d \\q");
	cr_assert_str_eq(getenv("NS_T_EMPTY"), "");
	cr_assert_str_eq(getenv("NS_T_HASH"), "#1");
	env_cleanup();
}

Test(config, dotenv_environment_wins)
{
	const char *c = env_files("NS_T_HOST=from-file\nNS_T_PORT=1\n"
	    "NS_T_PASS=file\n", env_yaml);

	setenv("NS_T_HOST", "from-env", 1);
	setenv("NS_T_PASS", "", 1);		/* set, if empty, still wins */
	unsetenv("NS_T_PORT");
	cr_assert_eq(ns_config_load(c, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.aggregator.exact.writers[0].clickhouse.host,
	    "from-env");
	cr_assert_str_eq(cfg.aggregator.exact.writers[0].clickhouse.password,
	    "");
	cr_assert_eq(cfg.aggregator.exact.writers[0].clickhouse.port, 1);
	ns_config_free(&cfg);
	/* A later read (SIGHUP) may change what the .env itself set. */
	env_cleanup();
	c = env_files("NS_T_HOST=again\nNS_T_PORT=2\n", env_yaml);
	cr_assert_eq(ns_config_load(c, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.aggregator.exact.writers[0].clickhouse.host,
	    "from-env");
	cr_assert_eq(cfg.aggregator.exact.writers[0].clickhouse.port, 2);
	env_cleanup();
}

Test(config, dotenv_last_line_wins)
{
	const char *c = env_files("NS_T_PORT=1\nNS_T_PORT=3\n", env_yaml);

	unsetenv("NS_T_PORT");
	cr_assert_eq(ns_config_load(c, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.aggregator.exact.writers[0].clickhouse.port, 3);
	env_cleanup();
}

/* A bad line: -EINVAL, "<dir>/.env:LINE:COL: what", nothing set. */
static void
dotenv_bad(const char *text, const char *pos, const char *what)
{
	char want[512];
	const char *c = env_files(text, env_yaml);

	unsetenv("NS_T_HOST");
	cr_assert_eq(ns_config_load(c, &cfg, err, sizeof(err)), -EINVAL,
	    "accepted:\n%s", text);
	snprintf(want, sizeof(want), "%s/.env:%s: ", envdir, pos);
	cr_assert(strncmp(err, want, strlen(want)) == 0, "want %s, got %s",
	    want, err);
	cr_assert(strstr(err, what) != NULL, "\"%s\" not in %s", what, err);
	cr_assert_null(getenv("NS_T_HOST"), "set from a bad file");
	env_cleanup();
}

Test(config, dotenv_errors)
{
	dotenv_bad("NS_T_HOST=a\nno equals sign\n", "2:4", "expected '=' "
	    "after no");
	dotenv_bad("NS_T_HOST=a\n# c\n\n  1BAD=x\n", "4:3", "expected "
	    "KEY=VALUE");
	dotenv_bad("NS_T_HOST=a\nKEY=\"open\n", "2:5", "unterminated "
	    "double-quoted value");
	dotenv_bad("NS_T_HOST=a\nKEY='open\n", "2:5", "unterminated "
	    "single-quoted value");
	dotenv_bad("NS_T_HOST=a\nKEY=\"x\" y\n", "2:9", "unexpected text "
	    "after the closing quote");
	dotenv_bad("NS_T_HOST=a\nexport\n", "2:7", "expected '=' after "
	    "export");
	dotenv_bad("NS_T_HOST=a\n=x\n", "2:1", "expected KEY=VALUE");
}

Test(config, dotenv_absent_or_unreadable)
{
	const char *c = env_files(NULL, env_yaml);
	char path[300];

	/* No .env: nothing to do. */
	cr_assert_eq(ns_config_load(c, &cfg, err, sizeof(err)), 0, "%s", err);
	ns_config_free(&cfg);
	/* A .env that is not a file: said, with its name. */
	snprintf(path, sizeof(path), "%s/.env", envdir);
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_eq(ns_config_load(c, &cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "/.env: ") != NULL, "%s", err);
	rmdir(path);
	env_cleanup();
}
