/*
 * alerter.c -- the alerter role (ns-alert), and its counters in status
 * and /metrics.
 *
 * Every check_interval each rule's metric is read from the live
 * generation inside an epoch read section of this process's slot (the
 * root is read inside it, so the generation cannot be cleared under the
 * walk), then handed to the pure state machine of alert.c; a change that
 * is due becomes messages queued for the delivery threads.  Rule states
 * live in the segment: a re-forked ns-alert, or a restarted daemon on
 * the same segment, does not notify a change again, and still sends one
 * held by the rate limit.  (A message queued but not yet delivered when
 * the process is killed is lost: notifications are at most once.)
 */
#include "alerter.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "alert.h"
#include "alert_send.h"
#include "atomic.h"
#include "clock.h"
#include "gen.h"
#include "log.h"
#include "slot.h"
#include "snapshot.h"
#include "supervisor.h"

/* A rule of the configuration, resolved against the engine's tasks. */
struct arule {
	const struct ns_config_rule *cfg;
	enum ns_alert_metric metric;
	int		 task;		/* exact task t or sketch task k; -1 */
	int		 failing;	/* its last read found no value */
};

struct alerter {
	struct ns_engine	*e;
	struct ns_slot		*slot;
	struct ns_alert_state	*st;
	struct ns_alert_sender	*send;
	struct arule		 rule[NS_CONFIG_MAX_RULES];
	unsigned		 nrules;
	char			 host[256];
};

static volatile sig_atomic_t alerter_term;

static void
alerter_on_term(int sig)
{
	(void)sig;
	alerter_term = 1;
}

static void
count(uint64_t *cell)
{
	ns_store_relaxed(cell, ns_load_relaxed(cell) + 1);
}

/* ---- metrics from the live generation ----------------------------------- */

/* Packets or bytes of exact task t: shards summed, no merge needed. */
static double
exact_sum(const struct ns_engine *e, uint64_t g, unsigned t, int bytes)
{
	struct ns_flow f;
	uint64_t pos, sum = 0;
	unsigned w;

	for (w = 0; w < e->nworkers; w++)
		for (pos = 0; ns_table_next(ns_gen_shard(&e->seg, g, t, w),
		    &pos, &f); )
			sum += bytes ? f.bytes : f.packets;
	return (double)sum;
}

static void
count_flow(void *arg, const struct ns_task *t, const struct ns_flow *f)
{
	(void)t;
	(void)f;
	++*(uint64_t *)arg;
}

/* Distinct keys: a key coarser than the 5-tuple sits in several shards. */
static int
exact_flows(const struct ns_engine *e, uint64_t g, unsigned t, double *v)
{
	uint64_t n = 0;
	int rc = 0;

	if (e->tasks[t].full_tuple || e->nworkers == 1)
		n = ns_snapshot_count(e, g, t);
	else
		rc = ns_snapshot_task(e, g, t, count_flow, &n);
	*v = (double)n;
	return rc;
}

static void
sketch_max(void *arg, const struct ns_sketch_task *t, enum ns_sketch_kind kind,
    const uint8_t *key, uint64_t value, uint64_t err_bound)
{
	uint64_t *max = arg;

	(void)t;
	(void)kind;
	(void)key;
	(void)err_bound;
	if (value > *max)
		*max = value;
}

/* The largest value the sketch task reports (0 when none is reported). */
static int
sketch_largest(const struct ns_engine *e, uint64_t g, unsigned k,
    enum ns_sketch_kind kind, double *v)
{
	uint64_t max = 0;
	int rc = ns_snapshot_sketch(e, g, k, kind, sketch_max, &max);

	*v = (double)max;
	return rc < 0 ? rc : 0;
}

/* Inside a read section. */
static int
read_metric(const struct ns_engine *e, const struct arule *r, uint64_t g,
    double *v)
{
	unsigned t = (unsigned)r->task;

	switch (r->metric) {
	case NS_ALERT_TOTAL_PACKETS:
		*v = exact_sum(e, g, t, 0);
		return 0;
	case NS_ALERT_TOTAL_BYTES:
		*v = exact_sum(e, g, t, 1);
		return 0;
	case NS_ALERT_TOTAL_FLOWS:
		return exact_flows(e, g, t, v);
	case NS_ALERT_HH_COUNT:
		return sketch_largest(e, g, t, NS_SKETCH_COUNT, v);
	case NS_ALERT_HH_SIZE:
		return sketch_largest(e, g, t, NS_SKETCH_SIZE, v);
	default:
		return sketch_largest(e, g, t, NS_SKETCH_SPREAD, v);
	}
}

/* ---- rules --------------------------------------------------------------- */

/* The engine's task the rule reads, or -1 (not run: aggregator.types). */
static int
rule_task(const struct ns_engine *e, enum ns_alert_metric m, const char *name)
{
	enum ns_alert_source src = ns_alert_metric_source(m);
	unsigned i;

	if (src == NS_ALERT_SRC_EXACT) {
		for (i = 0; i < e->ntasks; i++)
			if (strcmp(e->tasks[i].name, name) == 0)
				return (int)i;
		return -1;
	}
	for (i = 0; i < e->nsketches; i++)
		if (strcmp(e->sketches[i].cfg->name, name) == 0 &&
		    e->sketches[i].spread == (src == NS_ALERT_SRC_SPREAD))
			return (int)i;
	return -1;
}

static void
rules_resolve(struct alerter *a)
{
	const struct ns_config_alerter *cfg = &a->e->cfg->alerter;
	unsigned i;
	int m;

	a->nrules = cfg->nrules;
	for (i = 0; i < cfg->nrules; i++) {
		struct arule *r = &a->rule[i];

		r->cfg = &cfg->rules[i];
		/* The loader checked the metric: a bad one reads nothing. */
		m = ns_alert_metric_parse(r->cfg->metric);
		r->metric = m < 0 ? NS_ALERT_TOTAL_PACKETS :
		    (enum ns_alert_metric)m;
		r->task = m < 0 ? -1 : rule_task(a->e, r->metric,
		    r->cfg->task_name);
		if (r->task < 0)
			log_warnx("rule %s: task %s is not run (aggregator.types)"
			    "; the rule is not evaluated", r->cfg->name,
			    r->cfg->task_name);
	}
}

/*
 * The segment's rule states, to the rules in force: a rule keeps its
 * state by identity (ns_alert_rule_id), whatever its place; a new or
 * changed one starts quiet.
 */
static void
rules_adopt(struct alerter *a)
{
	static struct ns_alert_rule_state old[NS_CONFIG_MAX_RULES];
	struct ns_alert_rule_state *cur = a->st->rule;
	unsigned i, j;
	uint64_t id;

	memcpy(old, cur, sizeof(old));
	memset(cur, 0, sizeof(old));
	for (i = 0; i < a->nrules; i++) {
		id = ns_alert_rule_id(a->rule[i].cfg);
		for (j = 0; j < NS_CONFIG_MAX_RULES && old[j].id != id; j++)
			;
		if (j < NS_CONFIG_MAX_RULES)
			cur[i] = old[j];
		cur[i].id = id;
	}
	ns_store_relaxed(&a->st->nrules, a->nrules);
}

/* ---- evaluation ---------------------------------------------------------- */

static void
rule_log(const struct arule *r, const struct ns_alert_step *s, double v)
{
	char val[40], thr[40];

	if (!s->fired && !s->resolved && !s->held)
		return;
	ns_alert_format_value(v, val, sizeof(val));
	ns_alert_format_value(r->cfg->threshold, thr, sizeof(thr));
	log_info("rule %s %s: %s %s, %s%s %s, on %s%s", r->cfg->name,
	    s->fired ? "fires" : s->resolved ? "resolves" : "changes",
	    r->cfg->metric, val, s->fired ? "" : "no longer ",
	    ns_config_op_name(r->cfg->op), thr, r->cfg->task_name,
	    s->held ? "; notification held by min_notify_interval" : "");
}

static void
rule_notify(struct alerter *a, const struct arule *r, int firing, double v,
    uint64_t now, uint64_t start)
{
	struct ns_alert_event ev = {
		.rule = r->cfg->name, .task = r->cfg->task_name,
		.metric = r->cfg->metric, .op = r->cfg->op,
		.threshold = r->cfg->threshold, .value = v, .firing = firing,
		.time_ns = now, .period_start_ns = start, .host = a->host,
	};

	ns_alert_send(a->send, &ev);
}

/*
 * One rule: its value in a read section, then the state machine.  -1
 * when the input has ended (the generation is the end's): nothing more
 * to evaluate.
 */
static int
rule_evaluate(struct alerter *a, unsigned i, uint64_t now)
{
	struct ns_engine *e = a->e;
	struct arule *r = &a->rule[i];
	struct ns_alert_step step;
	uint64_t g, start;
	double v = 0;
	int rc;

	ns_slot_enter(&e->seg, a->slot);
	g = ns_gen_root(&e->seg);
	start = ns_load_relaxed(&ns_gen_info(&e->seg, g)->period_start_ns);
	rc = start == NS_ENGINE_END ? 0 : read_metric(e, r, g, &v);
	ns_slot_exit(a->slot);
	if (start == NS_ENGINE_END)
		return -1;
	if (rc != 0) {
		count(&a->st->errors);
		if (!r->failing)
			log_warnx("rule %s: no value: %s", r->cfg->name,
			    strerror(-rc));
		r->failing = 1;
		return 0;
	}
	r->failing = 0;
	ns_alert_step(&a->st->rule[i], ns_alert_compare(r->cfg->op, v,
	    r->cfg->threshold), v, now, e->cfg->alerter.min_notify_interval,
	    &step);
	if (step.fired)
		count(&a->st->fired);
	if (step.resolved)
		count(&a->st->resolved);
	if (step.held)
		count(&a->st->rate_limited);
	rule_log(r, &step, v);
	if (step.action != NS_ALERT_QUIET)
		rule_notify(a, r, step.action == NS_ALERT_SEND_FIRING, v, now,
		    start);
	return 0;
}

static void
evaluate(struct alerter *a)
{
	uint64_t now = ns_real_now_ns();
	unsigned i;

	for (i = 0; i < a->nrules; i++)
		if (a->rule[i].task >= 0 && rule_evaluate(a, i, now) < 0)
			return;
	count(&a->st->evaluations);
	ns_store_relaxed(&a->st->last_eval_ns, now);
}

/* ---- the role ------------------------------------------------------------ */

static void
alerter_signals(void)
{
	struct sigaction sa;

	/* A server gone mid-request must not kill the process. */
	signal(SIGPIPE, SIG_IGN);
	/* SIGTERM (a reload): deliver what is queued first, then die of it,
	 * so that the supervisor forks us again with the new rules. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = alerter_on_term;
	sigaction(SIGTERM, &sa, NULL);
}

static void
alerter_start(struct alerter *a)
{
	const struct ns_config *cfg = a->e->cfg;
	char iv[32], mi[32];
	int rc;

	if (gethostname(a->host, sizeof(a->host)) != 0)
		snprintf(a->host, sizeof(a->host), "localhost");
	a->host[sizeof(a->host) - 1] = '\0';
	if (cfg->alerter.ai_enabled)
		log_warnx("alerter.ai_analysis.enabled: AI analysis of alerts "
		    "is not supported; alerts go out without it");
	rules_resolve(a);
	rules_adopt(a);
	ns_store_relaxed(&a->st->pid, (uint64_t)getpid());
	/* Before any thread: curl's global state is not set up lazily. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	if ((rc = ns_alert_send_start(&a->send, cfg, a->st, a->host)) != 0)
		fatalx("cannot start the delivery threads: %s", strerror(-rc));
	log_info("%u rule(s) every %s, at most one notification per rule "
	    "every %s; channels:%s%s%s%s", a->nrules,
	    ns_config_format_duration(cfg->alerter.check_interval, iv,
	    sizeof(iv)), ns_config_format_duration(
	    cfg->alerter.min_notify_interval, mi, sizeof(mi)),
	    a->st->enabled[NS_ALERT_EMAIL] ? " email" : "",
	    a->st->enabled[NS_ALERT_WEBHOOK] ? " webhook" : "",
	    a->st->enabled[NS_ALERT_NATS] ? " nats" : "",
	    a->st->enabled[NS_ALERT_EMAIL] || a->st->enabled[NS_ALERT_WEBHOOK] ||
	    a->st->enabled[NS_ALERT_NATS] ? "" : " none (the log only)");
}

void
ns_alerter_child(struct ns_engine *e, const struct ns_child *c)
{
	static struct alerter a;
	double next, now, wait, every;
	struct timespec ts;

	a.e = e;
	a.slot = ns_slot_get(&e->seg, c->slot);
	a.st = ns_engine_alert(e);
	/* Re-forked after a reload that turned it off: done for this run. */
	if (!e->cfg->alerter.enabled) {
		log_info("alerter.enabled is false since the reload: stopping");
		exit(0);
	}
	alerter_signals();
	alerter_start(&a);
	every = (double)e->cfg->alerter.check_interval / 1e9;
	next = ns_mono_now();
	/* Until the run ends; the supervisor's death ends us too. */
	while (!alerter_term && !ns_engine_inputs_done(e) && getppid() != 1) {
		if ((now = ns_mono_now()) >= next) {
			evaluate(&a);
			next = next + every > now ? next + every : now + every;
		}
		wait = next - ns_mono_now();
		wait = wait > 0.1 ? 0.1 : wait < 0 ? 0 : wait;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(wait * 1e9);
		nanosleep(&ts, NULL);
	}
	ns_alert_send_stop(a.send, (double)e->cfg->alerter.timeout / 1e9);
	ns_store_relaxed(&a.st->pid, 0);
	if (alerter_term) {
		signal(SIGTERM, SIG_DFL);
		raise(SIGTERM);
	}
	exit(0);
}

/* ---- status and /metrics ------------------------------------------------- */

/* The segment's state of cfg's rule r, or NULL if it has none yet. */
static const struct ns_alert_rule_state *
rule_state(const struct ns_alert_state *st, const struct ns_config_rule *r)
{
	uint64_t id = ns_alert_rule_id(r);
	unsigned i;

	for (i = 0; i < NS_CONFIG_MAX_RULES; i++)
		if (ns_load_relaxed(&st->rule[i].id) == id)
			return &st->rule[i];
	return NULL;
}

static double
rule_value(const struct ns_alert_rule_state *rs)
{
	uint64_t bits = ns_load_relaxed(&rs->value);
	double v;

	memcpy(&v, &bits, sizeof(v));
	return v;
}

static void
status_rule(const struct ns_alert_state *st, const struct ns_config_rule *r,
    FILE *out)
{
	const struct ns_alert_rule_state *rs = rule_state(st, r);
	char val[40], thr[40], ts[NS_TIME_STRLEN], ln[NS_TIME_STRLEN];
	uint64_t last;

	ns_alert_format_value(r->threshold, thr, sizeof(thr));
	if (rs == NULL || ns_load_relaxed(&rs->evaluated) == 0) {
		fprintf(out, "  rule %s: not evaluated yet (%s %s %s on %s)\n",
		    r->name, r->metric, ns_config_op_name(r->op), thr,
		    r->task_name);
		return;
	}
	last = ns_load_relaxed(&rs->last_notify_ns);
	fprintf(out, "  rule %s: %s%s, %s %s (rule: %s %s) on %s, since %s, "
	    "last notified %s\n", r->name, ns_load_relaxed(&rs->firing) ? "FIRING" :
	    "ok", ns_load_relaxed(&rs->held) ? " (change held)" : "",
	    r->metric, ns_alert_format_value(rule_value(rs), val, sizeof(val)),
	    ns_config_op_name(r->op), thr, r->task_name,
	    ns_load_relaxed(&rs->changed_ns) ? ns_time_format(
	    ns_load_relaxed(&rs->changed_ns), ts, sizeof(ts)) : "the start",
	    last ? ns_time_format(last, ln, sizeof(ln)) : "never");
}

void
ns_alerter_status(const struct ns_engine *e, FILE *out)
{
	const struct ns_config_alerter *cfg = &e->cfg->alerter;
	const struct ns_alert_state *st = ns_engine_alert(e);
	char ts[NS_TIME_STRLEN];
	uint64_t last = ns_load_relaxed(&st->last_eval_ns);
	unsigned i;

	if (!cfg->enabled)
		return;
	fprintf(out, "alerter: evaluations %" PRIu64 ", last %s, errors %"
	    PRIu64 "; fired %" PRIu64 ", resolved %" PRIu64 ", held by "
	    "min_notify_interval %" PRIu64 "\n",
	    ns_load_relaxed(&st->evaluations), last ? ns_time_format(last, ts,
	    sizeof(ts)) : "never", ns_load_relaxed(&st->errors),
	    ns_load_relaxed(&st->fired), ns_load_relaxed(&st->resolved),
	    ns_load_relaxed(&st->rate_limited));
	for (i = 0; i < NS_ALERT_NCHANNELS; i++)
		fprintf(out, "  %s: %s, sent %" PRIu64 ", failed %" PRIu64
		    ", dropped %" PRIu64 "\n", ns_alert_channel_name(i),
		    ns_load_relaxed(&st->enabled[i]) ? "configured" :
		    "not configured", ns_load_relaxed(&st->sent[i]),
		    ns_load_relaxed(&st->failed[i]),
		    ns_load_relaxed(&st->dropped[i]));
	for (i = 0; i < cfg->nrules; i++)
		status_rule(st, &cfg->rules[i], out);
}

/* A label value: backslash, quote and newline escaped. */
static void
label_value(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\\' || *s == '"')
			fprintf(fp, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", fp);
		else
			fputc(*s, fp);
}

static void
help(FILE *fp, const char *name, const char *type, const char *text)
{
	fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void
metrics_rules(const struct ns_engine *e, FILE *fp)
{
	const struct ns_config_alerter *cfg = &e->cfg->alerter;
	const struct ns_alert_state *st = ns_engine_alert(e);
	const struct ns_alert_rule_state *rs;
	char val[40];
	unsigned i;

	help(fp, "netspectra_alert_firing", "gauge", "1 while the rule's "
	    "condition holds, at its last evaluation.");
	for (i = 0; i < cfg->nrules; i++) {
		rs = rule_state(st, &cfg->rules[i]);
		fputs("netspectra_alert_firing{rule=\"", fp);
		label_value(fp, cfg->rules[i].name);
		fprintf(fp, "\"} %d\n", rs != NULL &&
		    ns_load_relaxed(&rs->firing) ? 1 : 0);
	}
	help(fp, "netspectra_alert_value", "gauge", "The rule's metric at its "
	    "last evaluation.");
	for (i = 0; i < cfg->nrules; i++) {
		if ((rs = rule_state(st, &cfg->rules[i])) == NULL ||
		    ns_load_relaxed(&rs->evaluated) == 0)
			continue;
		fputs("netspectra_alert_value{rule=\"", fp);
		label_value(fp, cfg->rules[i].name);
		fprintf(fp, "\"} %s\n", ns_alert_format_value(rule_value(rs),
		    val, sizeof(val)));
	}
}

void
ns_alerter_metrics(const struct ns_engine *e, FILE *fp)
{
	static const char *const results[] = { "sent", "failed", "dropped" };
	const struct ns_alert_state *st = ns_engine_alert(e);
	const uint64_t *cells[] = { st->sent, st->failed, st->dropped };
	unsigned i, k;

	if (!e->cfg->alerter.enabled)
		return;
	help(fp, "netspectra_alert_evaluations_total", "counter",
	    "Rounds of rule evaluation by the alerter.");
	fprintf(fp, "netspectra_alert_evaluations_total %" PRIu64 "\n",
	    ns_load_relaxed(&st->evaluations));
	help(fp, "netspectra_alert_errors_total", "counter",
	    "Rule evaluations that could not read their metric.");
	fprintf(fp, "netspectra_alert_errors_total %" PRIu64 "\n",
	    ns_load_relaxed(&st->errors));
	help(fp, "netspectra_alert_fired_total", "counter",
	    "Rule conditions that became true.");
	fprintf(fp, "netspectra_alert_fired_total %" PRIu64 "\n",
	    ns_load_relaxed(&st->fired));
	help(fp, "netspectra_alert_resolved_total", "counter",
	    "Rule conditions that became false.");
	fprintf(fp, "netspectra_alert_resolved_total %" PRIu64 "\n",
	    ns_load_relaxed(&st->resolved));
	help(fp, "netspectra_alert_rate_limited_total", "counter",
	    "Changes held back by min_notify_interval.");
	fprintf(fp, "netspectra_alert_rate_limited_total %" PRIu64 "\n",
	    ns_load_relaxed(&st->rate_limited));
	help(fp, "netspectra_alert_notifications_total", "counter",
	    "Notifications by channel and result (sent, failed, dropped: "
	    "queue full or left at a stop).");
	for (i = 0; i < NS_ALERT_NCHANNELS; i++)
		for (k = 0; k < 3; k++)
			fprintf(fp, "netspectra_alert_notifications_total{channel="
			    "\"%s\",result=\"%s\"} %" PRIu64 "\n",
			    ns_alert_channel_name(i), results[k],
			    ns_load_relaxed(&cells[k][i]));
	metrics_rules(e, fp);
}
