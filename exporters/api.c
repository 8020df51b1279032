/*
 * api.c -- the query API (ns-api): libmicrohttpd, a thread per
 * connection, JSON in and out (jansson).
 *
 * History comes from ClickHouse: every body is decoded into typed values
 * by apireq.c, which also writes the statement, so no request text gets
 * near SQL here.  Each request has its own ClickHouse client (a curl
 * handle), so a slow query holds only its own connection.  The live top
 * reads the current generation inside an epoch read section of this
 * process's slot, as the Prometheus exporter does; a slot holds one read
 * section at a time, so the connection threads take turns at it.
 *
 * Replies follow Go2NetSpectra's JSON as protojson prints it:
 * lowerCamelCase keys, 64-bit integers as strings, RFC 3339 UTC times,
 * zero and empty fields left out; errors are {"error":"..."}.  Bodies are
 * limited to 1 MiB, refused from their Content-Length when it says more,
 * and never buffered past the limit otherwise.
 */
#include "api.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "apireq.h"
#include "atomic.h"
#include "chclient.h"
#include "chschema.h"
#include "gen.h"
#include "log.h"
#include "slot.h"
#include "snapshot.h"
#include "supervisor.h"

#define API_CONN_MAX	64	/* connections (threads) at once */
#define API_IDLE_SEC	60	/* a silent connection is dropped */

enum api_route {
	R_HOME = 0, R_SEARCH, R_QUERY, R_AGGREGATE, R_TRACE, R_HEAVY, R_TOP,
	R_NROUTES
};

static const struct api_path {
	const char	*path;
	const char	*method;
} api_paths[R_NROUTES] = {
	[R_HOME] = { "/", "GET" },
	[R_SEARCH] = { "/search", "POST" },
	[R_QUERY] = { "/query", "POST" },
	[R_AGGREGATE] = { "/api/v1/aggregate", "POST" },
	[R_TRACE] = { "/api/v1/flows/trace", "POST" },
	[R_HEAVY] = { "/api/v1/heavy-hitters", "POST" },
	[R_TOP] = { "/api/v1/live/top", "GET" },
};

struct api {
	struct ns_engine	*e;
	const struct ns_config	*cfg;
	struct ns_slot		*slot;
	pthread_mutex_t		 slot_lock;	/* one read section at once */
};

/* One request, from its headers to its reply. */
struct api_req {
	enum api_route	 route;
	char		*body;
	size_t		 len;
	int		 too_big;	/* over the limit: discarding the rest */
};

/* A ClickHouse failure or a bad request, for the reply. */
struct api_err {
	unsigned	 status;
	char		 text[600];
};

/* ---- replies ----------------------------------------------------------- */

static enum MHD_Result
api_send(struct MHD_Connection *conn, unsigned status, char *text,
    size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Send v (its reference is taken). */
static enum MHD_Result
api_json(struct MHD_Connection *conn, unsigned status, json_t *v)
{
	char *text = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL, *nl;
	size_t len;

	json_decref(v);
	if (text == NULL)
		return MHD_NO;
	len = strlen(text);
	/* A final newline, for people reading replies with curl. */
	if ((nl = realloc(text, len + 2)) == NULL) {
		free(text);
		return MHD_NO;
	}
	nl[len++] = '\n';
	nl[len] = '\0';
	return api_send(conn, status, nl, len);
}

static enum MHD_Result __attribute__((format(printf, 3, 4)))
api_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return api_json(conn, status, json_pack("{s:s}", "error", msg));
}

/* "123" for a non-zero count; protojson leaves zeros out. */
static void
api_set_u64(json_t *o, const char *key, uint64_t v)
{
	char buf[24];

	if (v == 0)
		return;
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	json_object_set_new(o, key, json_string(buf));
}

/* Unix seconds as RFC 3339 UTC, left out when zero. */
static void
api_set_time(json_t *o, const char *key, uint64_t sec)
{
	char buf[NS_TIME_STRLEN];

	if (sec != 0)
		json_object_set_new(o, key, json_string(ns_time_format(sec *
		    1000000000u, buf, sizeof(buf))));
}

/* ---- ClickHouse -------------------------------------------------------- */

/* A number ClickHouse sent as a string (toString()): 0 if it is not. */
static uint64_t
api_row_u64(json_t *row, const char *key)
{
	json_t *v = json_object_get(row, key);
	const char *s = json_string_value(v);
	char *end;
	uint64_t u;

	if (s == NULL || *s < '0' || *s > '9')
		return 0;
	errno = 0;
	u = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0' ? u : 0;
}

/* JSONEachRow text: one object a line, into an array. */
static json_t *
api_rows(const char *text, size_t len)
{
	json_t *rows = json_array(), *row;
	json_error_t je;
	const char *p = text, *end = text + len, *nl;

	while (rows != NULL && p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (nl > p) {
			row = json_loadb(p, (size_t)(nl - p), 0, &je);
			if (!json_is_object(row)) {
				json_decref(row);
				json_decref(rows);
				return NULL;
			}
			json_array_append_new(rows, row);
		}
		p = nl + 1;
	}
	return rows;
}

/*
 * Run the request's statement against the server that holds table;
 * the rows, or NULL with the reply's status and text in err.
 */
static json_t *
api_ch_query(struct api *api, enum ns_ch_table table,
    const struct ns_apireq *req, struct api_err *err)
{
	const struct ns_config_writer *w = ns_ch_writer_for(api->cfg, table);
	struct ns_ch_client c;
	char name[256], *sql = NULL, *out = NULL;
	json_t *rows = NULL;
	size_t outlen = 0;
	int rc;

	err->status = 503;
	if (w == NULL) {
		snprintf(err->text, sizeof(err->text),
		    "no clickhouse writer is configured");
		return NULL;
	}
	ns_ch_table_name(w, table, name, sizeof(name));
	if ((rc = ns_apireq_sql(req, name, &sql)) != 0) {
		err->status = 500;
		snprintf(err->text, sizeof(err->text), "cannot query table %s: "
		    "%s", name, rc == -EINVAL ? "not a plain name" :
		    strerror(-rc));
		return NULL;
	}
	if ((rc = ns_ch_client_init(&c, w)) == 0) {
		rc = ns_ch_client_exec(&c, sql, NULL, 0, &out, &outlen);
		if (rc == 0 && (rows = api_rows(out, outlen)) == NULL) {
			rc = -EPROTO;
			snprintf(c.error, sizeof(c.error), "a reply that is not "
			    "JSONEachRow: %.200s", out);
		}
	}
	if (rc != 0) {
		err->status = rc == -EPROTO ? 502 : rc == -ENOMEM ? 500 : 503;
		snprintf(err->text, sizeof(err->text), "clickhouse: %s",
		    c.error[0] != '\0' ? c.error : strerror(-rc));
		log_warnx("%s", err->text);
		log_debug("the statement was: %s", sql);
	}
	ns_ch_client_free(&c);
	free(out);
	free(sql);
	return rows;
}

/* ---- history endpoints ------------------------------------------------- */

/* The row of task name, or NULL. */
static json_t *
api_task_row(json_t *rows, const char *name)
{
	json_t *row;
	size_t i;

	json_array_foreach(rows, i, row)
		if (json_is_string(json_object_get(row, "TaskName")) &&
		    strcmp(json_string_value(json_object_get(row, "TaskName")),
		    name) == 0)
			return row;
	return NULL;
}

/* {"summaries":[...]}: one per task asked, zero or not. */
static json_t *
api_summaries(const struct ns_apireq *req, json_t *rows)
{
	json_t *out = json_object(), *list = json_array(), *s, *row;
	unsigned t;

	for (t = 0; t < req->ntasks; t++) {
		row = api_task_row(rows, req->tasks[t]);
		s = json_pack("{s:s}", "taskName", req->tasks[t]);
		api_set_u64(s, "totalBytes", api_row_u64(row, "TotalBytes"));
		api_set_u64(s, "totalPackets", api_row_u64(row,
		    "TotalPackets"));
		api_set_u64(s, "flowCount", api_row_u64(row, "FlowCount"));
		json_array_append_new(list, s);
	}
	if (json_array_size(list) > 0)
		json_object_set_new(out, "summaries", list);
	else
		json_decref(list);
	return out;
}

/* [{"target":..,"datapoints":[[packets, to_ms]]}] */
static json_t *
api_grafana(const struct ns_apireq *req, json_t *rows)
{
	json_t *out = json_array(), *row;
	unsigned i;

	for (i = 0; i < req->ntargets; i++) {
		const char *task = req->tasks[req->targets[i]];
		uint64_t p;

		row = api_task_row(rows, task);
		p = api_row_u64(row, "TotalPackets");
		json_array_append_new(out, json_pack("{s:s,s:[[I,I]]}",
		    "target", task, "datapoints", (json_int_t)(p > INT64_MAX ?
		    INT64_MAX : p), (json_int_t)req->end_ms));
	}
	return out;
}

static json_t *
api_lifecycle(json_t *rows)
{
	json_t *row = json_array_get(rows, 0), *l = json_object();

	if (api_row_u64(row, "Periods") > 0) {
		api_set_time(l, "firstSeen", api_row_u64(row, "FirstSeen"));
		api_set_time(l, "lastSeen", api_row_u64(row, "LastSeen"));
		api_set_u64(l, "totalPackets", api_row_u64(row,
		    "TotalPackets"));
		api_set_u64(l, "totalBytes", api_row_u64(row, "TotalBytes"));
	}
	return json_pack("{s:o}", "lifecycle", l);
}

static json_t *
api_hitters(json_t *rows)
{
	json_t *out = json_object(), *list = json_array(), *row, *h;
	size_t i;

	json_array_foreach(rows, i, row) {
		h = json_object();
		if (json_is_string(json_object_get(row, "Flow")) &&
		    json_string_length(json_object_get(row, "Flow")) > 0)
			json_object_set(h, "flow", json_object_get(row, "Flow"));
		api_set_u64(h, "value", api_row_u64(row, "Value"));
		json_array_append_new(list, h);
	}
	if (json_array_size(list) > 0)
		json_object_set_new(out, "hitters", list);
	else
		json_decref(list);
	return out;
}

static const enum ns_apireq_kind api_kinds[R_NROUTES] = {
	[R_QUERY] = NS_APIREQ_GRAFANA,
	[R_AGGREGATE] = NS_APIREQ_AGGREGATE,
	[R_TRACE] = NS_APIREQ_TRACE,
	[R_HEAVY] = NS_APIREQ_HEAVY_HITTERS,
};

/* Decode, query, answer: the four endpoints ClickHouse answers. */
static enum MHD_Result
api_history(struct api *api, struct MHD_Connection *conn,
    struct api_req *ar)
{
	struct ns_apireq req;
	struct api_err err;
	json_t *rows, *out;
	char msg[512];
	int rc;

	rc = ns_apireq_parse(api_kinds[ar->route], ar->body ? ar->body : "",
	    ar->len, api->cfg, (int64_t)time(NULL), &req, msg, sizeof(msg));
	if (rc == -EINVAL)
		return api_error(conn, 400, "%s", msg);
	if (rc != 0)
		return api_error(conn, 500, "%s", strerror(-rc));
	/* Nothing to ask: no task matched, or Grafana showed no target. */
	if (req.ntasks == 0)
		return api_json(conn, 200, ar->route == R_QUERY ?
		    json_array() : json_object());
	rows = api_ch_query(api, ar->route == R_HEAVY ? NS_CH_HEAVY_HITTERS :
	    NS_CH_FLOWS, &req, &err);
	if (rows == NULL)
		return api_error(conn, err.status, "%s", err.text);
	out = ar->route == R_QUERY ? api_grafana(&req, rows) :
	    ar->route == R_AGGREGATE ? api_summaries(&req, rows) :
	    ar->route == R_TRACE ? api_lifecycle(rows) : api_hitters(rows);
	json_decref(rows);
	return api_json(conn, 200, out);
}

/* POST /search: the exact tasks, as Grafana lists metrics. */
static enum MHD_Result
api_search(struct api *api, struct MHD_Connection *conn,
    struct api_req *ar)
{
	struct ns_apireq req;
	json_t *out;
	char msg[512];
	unsigned t;
	int rc;

	rc = ns_apireq_parse(NS_APIREQ_SEARCH, ar->body ? ar->body : "",
	    ar->len, api->cfg, (int64_t)time(NULL), &req, msg, sizeof(msg));
	if (rc == -EINVAL)
		return api_error(conn, 400, "%s", msg);
	if (rc != 0)
		return api_error(conn, 500, "%s", strerror(-rc));
	out = json_array();
	for (t = 0; t < ns_apireq_exact_tasks(api->cfg); t++)
		json_array_append_new(out, json_string(
		    api->cfg->aggregator.exact.tasks[t].name));
	return api_json(conn, 200, out);
}

/* ---- live top ---------------------------------------------------------- */

/* The flows as protojson-like objects, the key first (task.c's JSON). */
static json_t *
api_top_flows(const struct ns_task *task, const struct ns_flow *f, int n)
{
	char ts[NS_TIME_STRLEN], *buf = NULL;
	size_t len = 0;
	json_t *flows;
	FILE *fp;
	int i;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		return NULL;
	fputc('[', fp);
	for (i = 0; i < n; i++) {
		fprintf(fp, "%s{", i ? "," : "");
		ns_task_key_json(task, f[i].key, fp);
		fprintf(fp, "%s\"packets\":\"%" PRIu64 "\",\"bytes\":\"%" PRIu64
		    "\"", task->fields.n > 0 ? "," : "", f[i].packets,
		    f[i].bytes);
		if (f[i].first_ns != 0)
			fprintf(fp, ",\"firstSeen\":\"%s\"", ns_time_format(
			    f[i].first_ns, ts, sizeof(ts)));
		if (f[i].last_ns != 0)
			fprintf(fp, ",\"lastSeen\":\"%s\"", ns_time_format(
			    f[i].last_ns, ts, sizeof(ts)));
		fputc('}', fp);
	}
	fputc(']', fp);
	if (fclose(fp) != 0) {
		free(buf);
		return NULL;
	}
	flows = json_loadb(buf, len, 0, NULL);
	free(buf);
	return flows;
}

/* The top flows of the live generation, inside a read section. */
static int
api_top_read(struct api *api, const struct ns_apireq_top *q,
    struct ns_flow *best, uint64_t *start, uint64_t *nflows)
{
	const struct ns_engine *e = api->e;
	uint64_t g;
	int n;

	pthread_mutex_lock(&api->slot_lock);
	ns_slot_enter(&e->seg, api->slot);
	g = ns_gen_root(&e->seg);
	*start = ns_load_relaxed(&ns_gen_info(&e->seg, g)->period_start_ns);
	n = ns_snapshot_top(e, g, q->task, q->n, q->by_bytes, best, nflows);
	ns_slot_exit(api->slot);
	pthread_mutex_unlock(&api->slot_lock);
	return n;
}

/* Only the arguments live top knows. */
static enum MHD_Result
api_top_arg(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	int *unknown = cls;

	(void)kind;
	(void)value;
	if (strcmp(key, "task") != 0 && strcmp(key, "n") != 0 &&
	    strcmp(key, "by") != 0)
		*unknown = 1;
	return MHD_YES;
}

/* GET /api/v1/live/top?task=NAME&n=N[&by=bytes] */
static enum MHD_Result
api_top(struct api *api, struct MHD_Connection *conn)
{
	struct ns_apireq_top q;
	struct ns_flow *best;
	uint64_t start, nflows = 0;
	json_t *out, *flows;
	char msg[256], ts[NS_TIME_STRLEN];
	int n, unknown = 0;

	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, api_top_arg,
	    &unknown);
	if (unknown)
		return api_error(conn, 400, "unknown argument: expected task, "
		    "n and by");
	if (ns_apireq_top(api->cfg, MHD_lookup_connection_value(conn,
	    MHD_GET_ARGUMENT_KIND, "task"), MHD_lookup_connection_value(conn,
	    MHD_GET_ARGUMENT_KIND, "n"), MHD_lookup_connection_value(conn,
	    MHD_GET_ARGUMENT_KIND, "by"), &q, msg, sizeof(msg)) != 0)
		return api_error(conn, 400, "%s", msg);
	if ((best = calloc(q.n, sizeof(*best))) == NULL)
		return api_error(conn, 500, "out of memory");
	n = api_top_read(api, &q, best, &start, &nflows);
	if (n < 0) {
		free(best);
		return api_error(conn, 500, "reading the segment: %s",
		    strerror(-n));
	}
	flows = api_top_flows(&api->e->tasks[q.task], best, n);
	free(best);
	if (flows == NULL)
		return api_error(conn, 500, "out of memory");
	out = json_pack("{s:s}", "task", api->e->tasks[q.task].name);
	if (start != NS_ENGINE_END && start != 0)
		json_object_set_new(out, "periodStart", json_string(
		    ns_time_format(start, ts, sizeof(ts))));
	api_set_u64(out, "flowCount", nflows);
	if (json_array_size(flows) > 0)
		json_object_set_new(out, "flows", flows);
	else
		json_decref(flows);
	return api_json(conn, 200, out);
}

/* ---- requests ---------------------------------------------------------- */

/* Basic auth when api.basic_auth is set: 1 when allowed. */
static int
api_authorized(struct api *api, struct MHD_Connection *conn)
{
	const struct ns_config_api *c = &api->cfg->api;
	char *pass = NULL, *user;
	int ok;

	if (c->username[0] == '\0')
		return 1;
	user = MHD_basic_auth_get_username_password(conn, &pass);
	ok = user != NULL && pass != NULL && strcmp(user, c->username) == 0 &&
	    strcmp(pass, c->password) == 0;
	MHD_free(user);
	MHD_free(pass);
	return ok;
}

static enum MHD_Result
api_unauthorized(struct MHD_Connection *conn)
{
	static const char body[] = "{\"error\":\"unauthorized\"}\n";
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body,
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_basic_auth_fail_response(conn, "netspectra", r);
	MHD_destroy_response(r);
	return ret;
}

/* The route of a path, or -1. */
static int
api_route(const char *url)
{
	unsigned i;

	for (i = 0; i < R_NROUTES; i++)
		if (strcmp(url, api_paths[i].path) == 0)
			return (int)i;
	return -1;
}

/* HEAD is GET without the body (MHD leaves it out). */
static int
api_method_ok(int route, const char *method)
{
	const char *want = api_paths[route].method;

	return strcmp(method, want) == 0 || (strcmp(want, "GET") == 0 &&
	    strcmp(method, "HEAD") == 0);
}

static enum MHD_Result
api_bad_method(struct MHD_Connection *conn, int route)
{
	static const char body[] = "{\"error\":\"method not allowed\"}\n";
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body,
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Allow", api_paths[route].method);
	ret = MHD_queue_response(conn, 405, r);
	MHD_destroy_response(r);
	return ret;
}

/* A declared body over the limit is refused before it is sent. */
static int
api_declared_too_big(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);

	return cl != NULL && strtoull(cl, NULL, 10) > NS_APIREQ_BODY_MAX;
}

/* The first call: headers only.  Refuse what can be refused now. */
static enum MHD_Result
api_begin(struct api *api, struct MHD_Connection *conn, const char *url,
    const char *method, void **state)
{
	struct api_req *ar;
	int route = api_route(url);

	if (route < 0)
		return api_error(conn, 404, "no such endpoint: %.200s", url);
	if (!api_method_ok(route, method))
		return api_bad_method(conn, route);
	if (!api_authorized(api, conn))
		return api_unauthorized(conn);
	if (api_declared_too_big(conn))
		return api_error(conn, 413, "request body over %u bytes",
		    NS_APIREQ_BODY_MAX);
	if ((ar = calloc(1, sizeof(*ar))) == NULL)
		return MHD_NO;
	ar->route = (enum api_route)route;
	*state = ar;
	return MHD_YES;
}

/* Keep a piece of the body; past the limit keep nothing more. */
static void
api_upload(struct api_req *ar, const char *data, size_t len)
{
	char *p;

	if (ar->too_big || len > NS_APIREQ_BODY_MAX - ar->len) {
		ar->too_big = 1;
		free(ar->body);
		ar->body = NULL;
		return;
	}
	if ((p = realloc(ar->body, ar->len + len + 1)) == NULL) {
		ar->too_big = 1;
		return;
	}
	memcpy(p + ar->len, data, len);
	ar->len += len;
	p[ar->len] = '\0';
	ar->body = p;
}

static enum MHD_Result
api_handle(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **state)
{
	struct api *api = cls;
	struct api_req *ar = *state;

	(void)version;
	if (ar == NULL)
		return api_begin(api, conn, url, method, state);
	if (*upload_len > 0) {
		api_upload(ar, upload, *upload_len);
		*upload_len = 0;
		return MHD_YES;
	}
	if (ar->too_big)
		return api_error(conn, 413, "request body over %u bytes",
		    NS_APIREQ_BODY_MAX);
	switch (ar->route) {
	case R_HOME:
		return api_json(conn, 200, json_pack("{s:s}", "status", "ok"));
	case R_SEARCH:
		return api_search(api, conn, ar);
	case R_TOP:
		return api_top(api, conn);
	default:
		return api_history(api, conn, ar);
	}
}

static void
api_completed(void *cls, struct MHD_Connection *conn, void **state,
    enum MHD_RequestTerminationCode toe)
{
	struct api_req *ar = *state;

	(void)cls;
	(void)conn;
	(void)toe;
	if (ar != NULL) {
		free(ar->body);
		free(ar);
		*state = NULL;
	}
}

/* ---- the process ------------------------------------------------------- */

/* "host:port" or "[v6]:port" into an address MHD can bind. */
static int
api_listen_addr(const char *spec, struct sockaddr_storage *ss)
{
	char host[128];
	const char *colon = strrchr(spec, ':');
	unsigned long port;
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	if (colon == NULL || (port = strtoul(colon + 1, NULL, 10)) == 0 ||
	    port > 65535 || (size_t)(colon - spec) >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		host[strlen(host) - 1] = '\0';
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host + 1, &in6->sin6_addr) == 1 ?
		    0 : -EINVAL;
	}
	in4->sin_family = AF_INET;
	in4->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host[0] ? host : "0.0.0.0",
	    &in4->sin_addr) == 1 ? 0 : -EINVAL;
}

/* A whole file, NUL-terminated, or NULL (logged). */
static char *
api_slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int ch;

	if (fp == NULL || (m = open_memstream(&buf, &len)) == NULL) {
		log_warn("%s", path);
		if (fp != NULL)
			fclose(fp);
		return NULL;
	}
	while ((ch = getc(fp)) != EOF)
		putc(ch, m);
	fclose(fp);
	fclose(m);
	return buf;
}

static struct MHD_Daemon *
api_start(struct api *api, struct sockaddr_storage *ss)
{
	const struct ns_config_api *cfg = &api->cfg->api;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_THREAD_PER_CONNECTION |
	    (ss->ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	char *cert, *key;

	if (cfg->cert_file[0] == '\0')
		return MHD_start_daemon(flags, 0, NULL, NULL, api_handle, api,
		    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)ss,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_CONN_MAX,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_IDLE_SEC,
		    MHD_OPTION_NOTIFY_COMPLETED, api_completed, api,
		    MHD_OPTION_END);
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		log_warnx("api.tls: this libmicrohttpd has no TLS");
		exit(NS_EXIT_NORESPAWN);
	}
	if ((cert = api_slurp(cfg->cert_file)) == NULL ||
	    (key = api_slurp(cfg->key_file)) == NULL)
		exit(NS_EXIT_NORESPAWN);
	/* MHD keeps pointers to them: they live as long as we do. */
	return MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, api_handle,
	    api, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_CONN_MAX,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_IDLE_SEC,
	    MHD_OPTION_NOTIFY_COMPLETED, api_completed, api,
	    MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
	    MHD_OPTION_END);
}

void
ns_api_child(struct ns_engine *e, const struct ns_child *c)
{
	const struct ns_config_api *cfg = &e->cfg->api;
	static struct api api;
	struct sockaddr_storage ss;
	struct timespec ts = { 0, 100000000 };
	struct MHD_Daemon *d;

	api.e = e;
	api.cfg = e->cfg;
	api.slot = ns_slot_get(&e->seg, c->slot);
	pthread_mutex_init(&api.slot_lock, NULL);
	/* A client gone mid-reply must not kill the process. */
	signal(SIGPIPE, SIG_IGN);
	/* Before any thread: curl's global state is not set up lazily. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	if (api_listen_addr(cfg->http_listen_addr, &ss) != 0) {
		log_warnx("api.http_listen_addr %s: expected host:port",
		    cfg->http_listen_addr);
		exit(NS_EXIT_NORESPAWN);
	}
	if ((d = api_start(&api, &ss)) == NULL) {
		log_warnx("cannot serve the API on %s", cfg->http_listen_addr);
		exit(NS_EXIT_NORESPAWN);
	}
	log_info("serving the query API on %s%s", cfg->http_listen_addr,
	    cfg->cert_file[0] != '\0' ? " (https)" : "");
	/* Until the run ends; the supervisor's death ends us too. */
	while (!ns_engine_inputs_done(e) && getppid() != 1)
		nanosleep(&ts, NULL);
	MHD_stop_daemon(d);
	exit(0);
}
