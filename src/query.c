/*
 * query.c -- `netspectra query aggregate|trace|heavy-hitters|top`: the
 * query API's client (libcurl, jansson).
 *
 * The client checks nothing the API checks: options go into the request
 * as the strings they were given, and the API's 400 says what is wrong
 * with them, so the two can never disagree about what is valid.  The API's
 * address defaults to the configuration's api.http_listen_addr (an
 * unspecified address meaning this host), its credentials to the
 * configuration's api.basic_auth.
 */
#include "query.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define QUERY_COLS	16		/* table columns at most */

enum query_cmd { Q_AGGREGATE = 0, Q_TRACE, Q_HEAVY, Q_TOP, Q_NCMDS };

static const char *const query_cmds[Q_NCMDS] = {
	"aggregate", "trace", "heavy-hitters", "top"
};

struct query_opts {
	enum query_cmd	 cmd;
	const char	*config;
	char		*url;		/* base, no trailing '/' */
	char		*user, *password;	/* malloc'd */
	int		 json;
	int		 insecure;
	json_t		*req;		/* the body (POST) */
	const char	*task, *n, *by;	/* top's arguments */
};

/* ---- options ----------------------------------------------------------- */

static void
query_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: netspectra query aggregate [--task T] [--end TIME] [--start TIME]\n"
	    "                        [--src-ip A] [--dst-ip A] [--src-port P]\n"
	    "                        [--dst-port P] [--protocol N]\n"
	    "       netspectra query trace --task T --key Field=value... [--end TIME]\n"
	    "       netspectra query heavy-hitters --task T [--type count|size|spread]\n"
	    "                        [--limit N] [--end TIME] [--start TIME]\n"
	    "       netspectra query top --task T [-n N] [--bytes]\n"
	    "  common: [-c CONFIG] [--url URL] [--user U --password P] [-k] [--json]\n");
}

/* "host:port" of the configuration as a URL this host can reach. */
static char *
query_url_of(const struct ns_config *cfg)
{
	const char *spec = cfg->api.http_listen_addr;
	const char *colon = strrchr(spec, ':');
	const char *scheme = cfg->api.cert_file[0] != '\0' ? "https" : "http";
	char host[160], *url;
	size_t hl = colon != NULL ? (size_t)(colon - spec) : 0;

	if (colon == NULL || hl >= sizeof(host))
		return NULL;
	memcpy(host, spec, hl);
	host[hl] = '\0';
	/* Listening everywhere: ask this host. */
	if (hl == 0 || strcmp(host, "0.0.0.0") == 0)
		strcpy(host, "127.0.0.1");
	else if (strcmp(host, "[::]") == 0)
		strcpy(host, "[::1]");
	if ((url = malloc(strlen(host) + strlen(colon) + 16)) != NULL)
		sprintf(url, "%s://%s%s", scheme, host, colon);
	return url;
}

/* The URL and credentials from the configuration, unless given. */
static int
query_config(struct query_opts *o, const char *default_config)
{
	const char *path = o->config != NULL ? o->config : default_config;
	struct ns_config cfg;
	char err[4096];
	int rc;

	if (o->url != NULL && o->user != NULL)
		return 0;
	if (o->config == NULL && (path == NULL || access(path, F_OK) != 0)) {
		if (o->url == NULL && (o->url = strdup(
		    "http://127.0.0.1:8080")) == NULL)
			return -ENOMEM;
		return 0;
	}
	if ((rc = ns_config_load(path, &cfg, err, sizeof(err))) != 0) {
		if (rc == -EINVAL)
			fputs(err, stderr);
		else
			fprintf(stderr, "netspectra: %s: %s\n", path,
			    strerror(-rc));
		return rc;
	}
	if (o->url == NULL && (o->url = query_url_of(&cfg)) == NULL)
		fprintf(stderr, "netspectra: %s: api.http_listen_addr %s: "
		    "expected host:port\n", path, cfg.api.http_listen_addr);
	if (o->user == NULL && cfg.api.username[0] != '\0') {
		o->user = strdup(cfg.api.username);
		if (o->password == NULL)
			o->password = strdup(cfg.api.password);
	}
	ns_config_free(&cfg);
	return o->url != NULL ? 0 : -EINVAL;
}

/* --key Field=value into the trace's flow_keys. */
static int
query_key(struct query_opts *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	json_t *keys = json_object_get(o->req, "flow_keys");
	char field[64];

	if (eq == NULL || eq == arg || (size_t)(eq - arg) >= sizeof(field)) {
		fprintf(stderr, "netspectra: --key: expected Field=value, "
		    "got \"%s\"\n", arg);
		return -EINVAL;
	}
	memcpy(field, arg, (size_t)(eq - arg));
	field[eq - arg] = '\0';
	if (keys == NULL) {
		keys = json_object();
		json_object_set_new(o->req, "flow_keys", keys);
	}
	return json_object_set_new(keys, field, json_string(eq + 1)) == 0 ?
	    0 : -EINVAL;
}

/* Where a request option goes in the body: its API field. */
static const struct {
	int		 opt;
	const char	*field;
	unsigned	 cmds;		/* 1 << enum query_cmd */
} query_fields[] = {
	{ 'E', "end_time", 1 << Q_AGGREGATE | 1 << Q_TRACE | 1 << Q_HEAVY },
	{ 'S', "start_time", 1 << Q_AGGREGATE | 1 << Q_TRACE | 1 << Q_HEAVY },
	{ 's', "src_ip", 1 << Q_AGGREGATE },
	{ 'd', "dst_ip", 1 << Q_AGGREGATE },
	{ 'p', "src_port", 1 << Q_AGGREGATE },
	{ 'P', "dst_port", 1 << Q_AGGREGATE },
	{ 'r', "protocol", 1 << Q_AGGREGATE },
	{ 'y', "type", 1 << Q_HEAVY },
	{ 'l', "limit", 1 << Q_HEAVY },
};

static int
query_field(struct query_opts *o, int opt, const char *arg)
{
	size_t i;

	for (i = 0; i < sizeof(query_fields) / sizeof(query_fields[0]); i++)
		if (query_fields[i].opt == opt) {
			if (!(query_fields[i].cmds & (1u << o->cmd)))
				break;
			json_object_set_new(o->req, query_fields[i].field,
			    json_string(arg));
			return 0;
		}
	return -ENOENT;
}

static int
query_opt(struct query_opts *o, int ch, const char *arg)
{
	switch (ch) {
	case 'c': o->config = arg; return 0;
	case 'u': free(o->url); o->url = strdup(arg); return 0;
	case 'U': free(o->user); o->user = strdup(arg); return 0;
	case 'W': free(o->password); o->password = strdup(arg); return 0;
	case 'j': o->json = 1; return 0;
	case 'k': o->insecure = 1; return 0;
	case 't':
		o->task = arg;
		json_object_set_new(o->req, "task_name", json_string(arg));
		return 0;
	case 'K':
		return o->cmd == Q_TRACE ? query_key(o, arg) :
		    query_field(o, 0, arg);
	case 'n':
		if (o->cmd != Q_TOP)
			return query_field(o, 0, arg);
		o->n = arg;
		return 0;
	case 'b':
		if (o->cmd != Q_TOP)
			return query_field(o, 0, arg);
		o->by = "bytes";
		return 0;
	default:
		return query_field(o, ch, arg);
	}
}

/* The option just read, without its argument, is not the command's. */
static void
query_not_here(const struct query_opts *o, int argc, char **argv)
{
	const char *opt = argv[optind - 1];

	if (optarg != NULL && optind >= 2 && optind - 1 < argc &&
	    argv[optind - 1] == optarg)
		opt = argv[optind - 2];
	fprintf(stderr, "netspectra: query %s: %.*s is not one of its "
	    "options\n", query_cmds[o->cmd], (int)strcspn(opt, "="), opt);
}

static int
query_parse(struct query_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "url", required_argument, NULL, 'u' },
		{ "user", required_argument, NULL, 'U' },
		{ "password", required_argument, NULL, 'W' },
		{ "json", no_argument, NULL, 'j' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "task", required_argument, NULL, 't' },
		{ "end", required_argument, NULL, 'E' },
		{ "start", required_argument, NULL, 'S' },
		{ "src-ip", required_argument, NULL, 's' },
		{ "dst-ip", required_argument, NULL, 'd' },
		{ "src-port", required_argument, NULL, 'p' },
		{ "dst-port", required_argument, NULL, 'P' },
		{ "protocol", required_argument, NULL, 'r' },
		{ "key", required_argument, NULL, 'K' },
		{ "type", required_argument, NULL, 'y' },
		{ "limit", required_argument, NULL, 'l' },
		{ "bytes", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:n:kh", longopts, NULL)) != -1) {
		if (ch == 'h') {
			query_usage(stdout);
			exit(0);
		}
		if (ch == '?')
			return -EINVAL;
		if ((rc = query_opt(o, ch, optarg)) == -ENOENT)
			query_not_here(o, argc, argv);
		if (rc != 0)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "netspectra: query %s: unexpected \"%s\"\n",
		    query_cmds[o->cmd], argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* ---- HTTP -------------------------------------------------------------- */

struct query_buf {
	char	*data;
	size_t	 len;
};

static size_t
query_collect(char *ptr, size_t size, size_t n, void *arg)
{
	struct query_buf *b = arg;
	char *p;

	if ((p = realloc(b->data, b->len + size * n + 1)) == NULL)
		return 0;
	memcpy(p + b->len, ptr, size * n);
	b->len += size * n;
	p[b->len] = '\0';
	b->data = p;
	return size * n;
}

/* The endpoint's URL: top's arguments escaped into its query string. */
static char *
query_endpoint(const struct query_opts *o, CURL *h)
{
	static const char *const paths[Q_NCMDS] = { "/api/v1/aggregate",
	    "/api/v1/flows/trace", "/api/v1/heavy-hitters", "/api/v1/live/top" };
	char *task = NULL, *n = NULL, *url = NULL;
	size_t len;

	if (o->cmd == Q_TOP && ((task = curl_easy_escape(h, o->task ? o->task :
	    "", 0)) == NULL || (n = curl_easy_escape(h, o->n ? o->n : "",
	    0)) == NULL))
		goto done;
	len = strlen(o->url) + strlen(paths[o->cmd]) + (task ? strlen(task) :
	    0) + (n ? strlen(n) : 0) + 32;
	if ((url = malloc(len)) == NULL)
		goto done;
	if (o->cmd != Q_TOP)
		snprintf(url, len, "%s%s", o->url, paths[o->cmd]);
	else
		snprintf(url, len, "%s%s?task=%s%s%s%s", o->url, paths[o->cmd],
		    task, o->n ? "&n=" : "", o->n ? n : "",
		    o->by ? "&by=bytes" : "");
done:
	curl_free(task);
	curl_free(n);
	return url;
}

/* One request: the reply's body and HTTP status, or -1 (printed). */
static long
query_http(const struct query_opts *o, struct query_buf *reply)
{
	struct curl_slist *hdrs = NULL;
	char *url, *body = NULL, errbuf[CURL_ERROR_SIZE] = "";
	long status = -1;
	CURL *h;

	if ((h = curl_easy_init()) == NULL || (url = query_endpoint(o, h)) ==
	    NULL) {
		curl_easy_cleanup(h);
		fprintf(stderr, "netspectra: out of memory\n");
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, query_collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, reply);
	if (o->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (o->user != NULL) {
		curl_easy_setopt(h, CURLOPT_USERNAME, o->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, o->password ?
		    o->password : "");
	}
	if (o->cmd != Q_TOP) {
		body = json_dumps(o->req, JSON_COMPACT);
		hdrs = curl_slist_append(NULL, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "{}");
	}
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	else
		fprintf(stderr, "netspectra: %s: %s\n", url, errbuf);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	free(body);
	free(url);
	return status;
}

/* ---- tables ------------------------------------------------------------ */

struct query_table {
	unsigned	 ncols;
	const char	*head[QUERY_COLS];
	int		 right[QUERY_COLS];	/* numbers: right-aligned */
	json_t		*rows;			/* arrays of strings */
};

static void
query_table_init(struct query_table *t)
{
	memset(t, 0, sizeof(*t));
	t->rows = json_array();
}

static void
query_col(struct query_table *t, const char *head, int right)
{
	if (t->ncols < QUERY_COLS) {
		t->head[t->ncols] = head;
		t->right[t->ncols++] = right;
	}
}

/* A cell: strings as they are, numbers printed, missing ones as zero. */
static const char *
query_cell(json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
	else
		snprintf(buf, len, "%s", v == NULL ? "0" : "-");
	return buf;
}

/* A row of the object's members named by keys[] (NULL-terminated). */
static void
query_row(struct query_table *t, json_t *obj, const char *const *keys)
{
	json_t *row = json_array();
	char buf[64];

	for (; *keys != NULL; keys++)
		json_array_append_new(row, json_string(query_cell(
		    json_object_get(obj, *keys), buf, sizeof(buf))));
	json_array_append_new(t->rows, row);
}

/* One line: numbers right-aligned, no padding after the last cell. */
static void
query_line(const struct query_table *t, const size_t *w,
    const char *const *cells, FILE *fp)
{
	unsigned c;

	for (c = 0; c < t->ncols; c++) {
		int width = t->right[c] || c + 1 < t->ncols ? (int)w[c] : 0;

		fprintf(fp, t->right[c] ? "%s%*s" : "%s%-*s", c ? "  " : "",
		    width, cells[c]);
	}
	fputc('\n', fp);
}

static void
query_table_print(struct query_table *t, FILE *fp)
{
	const char *cells[QUERY_COLS];
	size_t w[QUERY_COLS], i;
	json_t *row;
	unsigned c;

	for (c = 0; c < t->ncols; c++)
		w[c] = strlen(t->head[c]);
	json_array_foreach(t->rows, i, row)
		for (c = 0; c < t->ncols; c++)
			if (json_string_length(json_array_get(row, c)) > w[c])
				w[c] = json_string_length(json_array_get(row, c));
	query_line(t, w, t->head, fp);
	json_array_foreach(t->rows, i, row) {
		for (c = 0; c < t->ncols; c++)
			cells[c] = json_string_value(json_array_get(row, c));
		query_line(t, w, cells, fp);
	}
	json_decref(t->rows);
}

/* ---- answers ----------------------------------------------------------- */

static void
query_print_aggregate(json_t *reply, FILE *fp)
{
	static const char *const keys[] = { "taskName", "totalPackets",
	    "totalBytes", "flowCount", NULL };
	struct query_table t;
	json_t *s;
	size_t i;

	query_table_init(&t);
	query_col(&t, "TASK", 0);
	query_col(&t, "PACKETS", 1);
	query_col(&t, "BYTES", 1);
	query_col(&t, "FLOWS", 1);
	json_array_foreach(json_object_get(reply, "summaries"), i, s)
		query_row(&t, s, keys);
	query_table_print(&t, fp);
}

static void
query_print_trace(json_t *reply, FILE *fp)
{
	static const char *const keys[] = { "firstSeen", "lastSeen",
	    "totalPackets", "totalBytes", NULL };
	json_t *l = json_object_get(reply, "lifecycle");
	struct query_table t;

	if (json_object_size(l) == 0) {
		fprintf(fp, "no such flow\n");
		return;
	}
	query_table_init(&t);
	query_col(&t, "FIRST SEEN", 0);
	query_col(&t, "LAST SEEN", 0);
	query_col(&t, "PACKETS", 1);
	query_col(&t, "BYTES", 1);
	query_row(&t, l, keys);
	query_table_print(&t, fp);
}

static void
query_print_heavy(json_t *reply, FILE *fp)
{
	static const char *const keys[] = { "value", "flow", NULL };
	struct query_table t;
	json_t *h;
	size_t i;

	query_table_init(&t);
	query_col(&t, "VALUE", 1);
	query_col(&t, "FLOW", 0);
	json_array_foreach(json_object_get(reply, "hitters"), i, h)
		query_row(&t, h, keys);
	query_table_print(&t, fp);
}

/* Top: the counters, then the key fields the first flow has. */
static void
query_print_top(json_t *reply, FILE *fp)
{
	static const char *const fixed[] = { "packets", "bytes", "firstSeen",
	    "lastSeen" };
	const char *keys[QUERY_COLS + 1];
	json_t *flows = json_object_get(reply, "flows"), *f, *v;
	struct query_table t;
	const char *name;
	unsigned n = 0, k;
	size_t i;

	fprintf(fp, "task %s, period from %s\n", json_string_value(
	    json_object_get(reply, "task")), json_is_string(json_object_get(
	    reply, "periodStart")) ? json_string_value(json_object_get(reply,
	    "periodStart")) : "-");
	query_table_init(&t);
	for (k = 0; k < 2; k++) {
		keys[n++] = fixed[k];
		query_col(&t, k == 0 ? "PACKETS" : "BYTES", 1);
	}
	json_object_foreach(json_array_get(flows, 0), name, v) {
		for (k = 0; k < 4 && strcmp(name, fixed[k]) != 0; k++)
			;
		if (k == 4 && n < QUERY_COLS) {
			keys[n++] = name;
			query_col(&t, name, json_is_integer(v));
		}
	}
	keys[n] = NULL;
	json_array_foreach(flows, i, f)
		query_row(&t, f, keys);
	query_table_print(&t, fp);
}

/* The reply: printed, or its error; the exit status. */
static int
query_answer(const struct query_opts *o, long status, struct query_buf *b)
{
	json_t *reply = b->data ? json_loadb(b->data, b->len, 0, NULL) : NULL;
	json_t *err = json_object_get(reply, "error");
	int rc = 0;

	if (status >= 400) {
		fprintf(stderr, "netspectra: query %s: %s (HTTP %ld)\n",
		    query_cmds[o->cmd], json_is_string(err) ?
		    json_string_value(err) : "the API failed", status);
		rc = 1;
	} else if (!json_is_object(reply)) {
		fprintf(stderr, "netspectra: query %s: not a JSON reply "
		    "(HTTP %ld)\n", query_cmds[o->cmd], status);
		rc = 1;
	} else if (o->json) {
		fwrite(b->data, 1, b->len, stdout);
	} else if (o->cmd == Q_AGGREGATE) {
		query_print_aggregate(reply, stdout);
	} else if (o->cmd == Q_TRACE) {
		query_print_trace(reply, stdout);
	} else if (o->cmd == Q_HEAVY) {
		query_print_heavy(reply, stdout);
	} else {
		query_print_top(reply, stdout);
	}
	json_decref(reply);
	return rc;
}

int
ns_query_main(int argc, char **argv, const char *default_config)
{
	struct query_opts o;
	struct query_buf reply = { NULL, 0 };
	long status;
	int rc = 2;

	memset(&o, 0, sizeof(o));
	if (argc < 2) {
		query_usage(stderr);
		return 2;
	}
	for (o.cmd = 0; o.cmd < Q_NCMDS; o.cmd++)
		if (strcmp(argv[1], query_cmds[o.cmd]) == 0)
			break;
	if (o.cmd == Q_NCMDS) {
		if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
			query_usage(stdout);
			return 0;
		}
		fprintf(stderr, "netspectra: query: unknown \"%s\"\n", argv[1]);
		query_usage(stderr);
		return 2;
	}
	o.req = json_object();
	if (query_parse(&o, argc - 1, argv + 1) != 0)
		query_usage(stderr);
	else if (query_config(&o, default_config) != 0)
		rc = 1;
	else {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		status = query_http(&o, &reply);
		rc = status < 0 ? 1 : query_answer(&o, status, &reply);
		curl_global_cleanup();
	}
	free(reply.data);
	free(o.url);
	free(o.user);
	free(o.password);
	json_decref(o.req);
	return rc;
}
