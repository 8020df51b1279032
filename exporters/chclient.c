/*
 * chclient.c -- ClickHouse's HTTP interface through libcurl: one easy
 * handle per client, kept open so that batches reuse the connection.
 */
#include "chclient.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The native protocol's ports: a client speaking HTTP would hang there. */
#define CH_NATIVE_PORT		9000
#define CH_NATIVE_TLS_PORT	9440

struct ch_buf {
	char	*data;
	size_t	 len;
	size_t	 max;			/* a reply larger than this is cut */
};

static size_t
ch_collect(char *ptr, size_t size, size_t n, void *arg)
{
	struct ch_buf *b = arg;
	size_t add = size * n, keep = add;
	char *p;

	if (b->len + keep > b->max)
		keep = b->max > b->len ? b->max - b->len : 0;
	if (keep == 0)
		return add;
	if ((p = realloc(b->data, b->len + keep + 1)) == NULL)
		return 0;
	memcpy(p + b->len, ptr, keep);
	b->len += keep;
	p[b->len] = '\0';
	b->data = p;
	return add;
}

static char *
ch_strdup(const char *s)
{
	return strdup(s != NULL ? s : "");
}

int
ns_ch_client_init(struct ns_ch_client *c, const struct ns_config_writer *w)
{
	char url[1024];
	int https = w->clickhouse.cloud;

	memset(c, 0, sizeof(*c));
	if (w->clickhouse.port == CH_NATIVE_PORT ||
	    w->clickhouse.port == CH_NATIVE_TLS_PORT) {
		snprintf(c->error, sizeof(c->error), "port %u is ClickHouse's "
		    "native protocol; netspectra speaks its HTTP interface: "
		    "use port 8123 (http) or 8443 (https, cloud: true)",
		    w->clickhouse.port);
		return -EINVAL;
	}
	snprintf(url, sizeof(url), "%s://%s%s%s:%u/", https ? "https" : "http",
	    strchr(w->clickhouse.host, ':') ? "[" : "", w->clickhouse.host,
	    strchr(w->clickhouse.host, ':') ? "]" : "", w->clickhouse.port);
	c->url = strdup(url);
	c->database = ch_strdup(w->clickhouse.database);
	c->username = ch_strdup(w->clickhouse.username);
	c->password = ch_strdup(w->clickhouse.password);
	c->timeout_ms = (long)(w->clickhouse.timeout / 1000000u);
	if (c->timeout_ms <= 0)
		c->timeout_ms = 10000;
	if (c->url == NULL || c->database == NULL || c->username == NULL ||
	    c->password == NULL || (c->curl = curl_easy_init()) == NULL) {
		ns_ch_client_free(c);
		return -ENOMEM;
	}
	return 0;
}

void
ns_ch_client_free(struct ns_ch_client *c)
{
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	free(c->url);
	free(c->database);
	free(c->username);
	free(c->password);
	memset(c, 0, sizeof(*c));
}

/* base?database=D[&query=SQL], escaped; NULL on a lack of memory. */
static char *
ch_request_url(struct ns_ch_client *c, const char *sql)
{
	char *db = curl_easy_escape(c->curl, c->database, 0);
	char *q = sql != NULL ? curl_easy_escape(c->curl, sql, 0) : NULL;
	char *url = NULL;
	size_t len;

	if (db != NULL && (sql == NULL || q != NULL)) {
		len = strlen(c->url) + strlen(db) + (q ? strlen(q) : 0) + 32;
		if ((url = malloc(len)) != NULL)
			snprintf(url, len, "%s?database=%s%s%s", c->url, db,
			    q ? "&query=" : "", q ? q : "");
	}
	curl_free(db);
	curl_free(q);
	return url;
}

/* The reply's first line, as ClickHouse's errors are one long line. */
static void
ch_set_error(struct ns_ch_client *c, long status, const char *reply)
{
	int n = snprintf(c->error, sizeof(c->error), "HTTP %ld: %s", status,
	    reply != NULL ? reply : "");
	char *nl;

	if (n > 0 && (nl = strchr(c->error, '\n')) != NULL)
		*nl = '\0';
}

static int
ch_perform(struct ns_ch_client *c, const char *url, const void *data,
    size_t len, struct ch_buf *reply)
{
	CURL *h = c->curl;
	CURLcode cc;
	long status = 0;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	/*
	 * A stall, not a total: a large batch may take longer than the
	 * timeout to upload and insert, and would fail every time.
	 */
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
	    (c->timeout_ms + 999) / 1000);
	if (c->username[0] != '\0') {
		curl_easy_setopt(h, CURLOPT_USERNAME, c->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
	}
	if (data != NULL) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, ch_collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, reply);
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		snprintf(c->error, sizeof(c->error), "%s: %s", c->url,
		    curl_easy_strerror(cc));
		return cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		ch_set_error(c, status, reply->data);
		return status >= 500 && reply->len == 0 ? -EIO : -EPROTO;
	}
	return 0;
}

int
ns_ch_client_exec(struct ns_ch_client *c, const char *sql, const void *body,
    size_t len, char **out, size_t *outlen)
{
	struct ch_buf reply = { NULL, 0, (size_t)1 << 30 };
	char *url;
	int rc;

	/* Without rows the statement is the body: no URL length limit. */
	url = ch_request_url(c, body != NULL ? sql : NULL);
	if (url == NULL)
		return -ENOMEM;
	rc = body != NULL ? ch_perform(c, url, body, len, &reply) :
	    ch_perform(c, url, sql, strlen(sql), &reply);
	free(url);
	if (rc == 0 && out != NULL) {
		if (reply.data == NULL && (reply.data = strdup("")) == NULL)
			return -ENOMEM;
		*out = reply.data;
		if (outlen != NULL)
			*outlen = reply.len;
		return 0;
	}
	free(reply.data);
	return rc;
}

int
ns_ch_client_ping(struct ns_ch_client *c)
{
	struct ch_buf reply = { NULL, 0, 64 };
	size_t len = strlen(c->url) + 8;
	char *url = malloc(len);
	int rc;

	if (url == NULL)
		return -ENOMEM;
	snprintf(url, len, "%sping", c->url);
	rc = ch_perform(c, url, NULL, 0, &reply);
	if (rc == 0 && (reply.data == NULL || strncmp(reply.data, "Ok.", 3))) {
		snprintf(c->error, sizeof(c->error), "%s: not a ClickHouse "
		    "HTTP interface (GET /ping did not answer Ok.)", c->url);
		rc = -EPROTO;
	}
	free(reply.data);
	free(url);
	return rc;
}
