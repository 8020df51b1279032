/*
 * alert_send.c -- the alerter's delivery threads: one per configured
 * channel (e-mail, webhook, NATS), each draining a bounded queue of
 * ready-made messages (see alert_send.h).
 *
 * Counters: a channel's thread is the only writer of its sent and failed
 * cells, the evaluation loop of its dropped cell (a full queue, or what
 * was left at the stop), so plain stores keep every cell whole.
 */
#include "alert_send.h"

#include <curl/curl.h>
#include <errno.h>
#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "clock.h"
#include "log.h"

struct item {
	char		*payload;	/* the e-mail or the JSON */
	char		*label;		/* "rule R firing", for the log */
};

struct chan {
	struct ns_alert_sender	*s;
	enum ns_alert_channel	 id;
	int			(*deliver)(struct ns_alert_sender *,
				    const char *payload, char *err, size_t len);
	pthread_t		 thread;
	int			 running;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct item		 q[NS_ALERT_QUEUE];
	unsigned		 head, n;
	int			 stopping;
	double			 deadline;	/* monotonic, once stopping */
};

struct ns_alert_sender {
	const struct ns_config	*cfg;
	struct ns_alert_state	*st;
	char			 host[256];
	char			 from[320];
	uint64_t		 seq;		/* Message-IDs */
	natsConnection		*nc;
	volatile int		 closing;	/* nc is being closed by us */
	struct chan		 ch[NS_ALERT_NCHANNELS];
};

static void
count(uint64_t *cell)
{
	ns_store_relaxed(cell, ns_load_relaxed(cell) + 1);
}

/* ---- libcurl: e-mail and webhook ---------------------------------------- */

struct upload {
	const char	*p;
	size_t		 left;
};

static size_t
upload_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct upload *u = arg;
	size_t n = size * nitems < u->left ? size * nitems : u->left;

	memcpy(buf, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

/* Replies are not kept: without this, libcurl writes them to stdout. */
static size_t
discard(char *buf, size_t size, size_t nitems, void *arg)
{
	(void)buf;
	(void)arg;
	return size * nitems;
}

/* What every request shares: the timeouts, no signals (threads). */
static CURL *
curl_new(const struct ns_alert_sender *s, char *errbuf)
{
	long ms = (long)(s->cfg->alerter.timeout / 1000000u);
	CURL *h = curl_easy_init();

	if (h == NULL)
		return NULL;
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "netspectra/" PACKAGE_VERSION);
	errbuf[0] = '\0';
	return h;
}

/*
 * smtp[s]://host:port/ehlo-name, an IPv6 literal in brackets, and how
 * much TLS to ask for (see ns_config_smtp_tls).
 */
static long
smtp_url(const struct ns_alert_sender *s, char *url, size_t len)
{
	const struct ns_config_smtp *m = &s->cfg->smtp;
	int v6 = strchr(m->host, ':') != NULL && m->host[0] != '[';
	int smtps = m->tls == NS_CONFIG_SMTP_TLS_SMTPS ||
	    (m->tls == NS_CONFIG_SMTP_TLS_AUTO && m->port == 465);

	snprintf(url, len, "%s://%s%s%s:%u/%s", smtps ? "smtps" : "smtp",
	    v6 ? "[" : "", m->host, v6 ? "]" : "", m->port, s->host);
	if (smtps || m->tls == NS_CONFIG_SMTP_TLS_STARTTLS)
		return (long)CURLUSESSL_ALL;
	if (m->tls == NS_CONFIG_SMTP_TLS_NONE)
		return (long)CURLUSESSL_NONE;
	/* auto: credentials never travel in clear. */
	return (long)(m->username[0] != '\0' ? CURLUSESSL_ALL : CURLUSESSL_TRY);
}

static struct curl_slist *
smtp_rcpts(const struct ns_config_smtp *m)
{
	struct curl_slist *l = NULL, *n;
	char addr[320];
	unsigned i;

	for (i = 0; i < m->nto; i++) {
		snprintf(addr, sizeof(addr), "<%s>", m->to[i]);
		if ((n = curl_slist_append(l, addr)) == NULL) {
			curl_slist_free_all(l);
			return NULL;
		}
		l = n;
	}
	return l;
}

static int
deliver_email(struct ns_alert_sender *s, const char *msg, char *err,
    size_t len)
{
	const struct ns_config_smtp *m = &s->cfg->smtp;
	char errbuf[CURL_ERROR_SIZE], url[512], from[330];
	struct upload u = { msg, strlen(msg) };
	struct curl_slist *rcpt = smtp_rcpts(m);
	CURL *h = curl_new(s, errbuf);
	CURLcode rc;

	if (h == NULL || rcpt == NULL) {
		snprintf(err, len, "out of memory");
		curl_easy_cleanup(h);
		curl_slist_free_all(rcpt);
		return -ENOMEM;
	}
	curl_easy_setopt(h, CURLOPT_USE_SSL, smtp_url(s, url, sizeof(url)));
	curl_easy_setopt(h, CURLOPT_URL, url);
	snprintf(from, sizeof(from), "<%s>", s->from);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	if (m->username[0] != '\0') {
		curl_easy_setopt(h, CURLOPT_USERNAME, m->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, m->password);
	}
	if (m->ca_file[0] != '\0')
		curl_easy_setopt(h, CURLOPT_CAINFO, m->ca_file);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, upload_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &u);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK)
		snprintf(err, len, "%s: %s", url, errbuf[0] ? errbuf :
		    curl_easy_strerror(rc));
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(h);
	return rc == CURLE_OK ? 0 : -EIO;
}

static int
deliver_webhook(struct ns_alert_sender *s, const char *json, char *err,
    size_t len)
{
	const char *url = s->cfg->alerter.webhook_url;
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *hdr;
	CURL *h = curl_new(s, errbuf);
	CURLcode rc;
	long status = 0;

	hdr = curl_slist_append(NULL, "Content-Type: application/json");
	if (h == NULL || hdr == NULL) {
		snprintf(err, len, "out of memory");
		curl_easy_cleanup(h);
		curl_slist_free_all(hdr);
		return -ENOMEM;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK)
		snprintf(err, len, "%s: %s", url, errbuf[0] ? errbuf :
		    curl_easy_strerror(rc));
	else if (status < 200 || status > 299)
		snprintf(err, len, "%s: HTTP status %ld", url, status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return rc == CURLE_OK && status >= 200 && status <= 299 ? 0 : -EIO;
}

/* ---- NATS --------------------------------------------------------------- */

static void
nats_reconnected(natsConnection *nc, void *arg)
{
	char url[256];

	(void)arg;
	if (natsConnection_GetConnectedUrl(nc, url, sizeof(url)) != NATS_OK)
		snprintf(url, sizeof(url), "?");
	log_info("NATS: connected to %s", url);
}

static void
nats_disconnected(natsConnection *nc, void *arg)
{
	const struct ns_alert_sender *s = arg;

	(void)nc;
	if (s->closing)
		return;		/* our own close, at the stop */
	log_warnx("NATS: disconnected; alerts are not published until the "
	    "connection is back");
}

static natsStatus
nats_options(natsOptions **o, const struct ns_alert_sender *s)
{
	natsStatus st;

	if ((st = natsOptions_Create(o)) != NATS_OK)
		return st;
	if ((st = natsOptions_SetURL(*o, s->cfg->alerter.nats_url)) == NATS_OK &&
	    (st = natsOptions_SetName(*o, "netspectra-alert")) == NATS_OK &&
	    (st = natsOptions_SetMaxReconnect(*o, -1)) == NATS_OK &&
	    (st = natsOptions_SetReconnectWait(*o, 1000)) == NATS_OK &&
	    (st = natsOptions_SetTimeout(*o, (int64_t)(s->cfg->alerter.timeout /
	    1000000u))) == NATS_OK &&
	    (st = natsOptions_SetDisconnectedCB(*o, nats_disconnected,
	    (void *)s)) == NATS_OK &&
	    (st = natsOptions_SetReconnectedCB(*o, nats_reconnected,
	    NULL)) == NATS_OK)
		/* A server not up yet is like one gone: keep trying. */
		st = natsOptions_SetRetryOnFailedConnect(*o, true,
		    nats_reconnected, NULL);
	if (st != NATS_OK)
		natsOptions_Destroy(*o);
	return st;
}

static void
nats_open(struct ns_alert_sender *s)
{
	const char *url = s->cfg->alerter.nats_url;
	natsOptions *o;
	natsStatus st;

	if ((st = nats_options(&o, s)) == NATS_OK) {
		st = natsConnection_Connect(&s->nc, o);
		natsOptions_Destroy(o);
	}
	if (st == NATS_OK)
		log_info("NATS: connected to %s", url);
	else if (st == NATS_NOT_YET_CONNECTED)
		log_warnx("NATS: %s not reachable yet; retrying", url);
	else {
		/* Each alert then fails, counted, rather than the role. */
		log_warnx("NATS: %s: %s", url, natsStatus_GetText(st));
		s->nc = NULL;
	}
}

/*
 * Published only while connected, and flushed: a message nats.c would
 * buffer through an outage could arrive after the one that contradicts
 * it, so it fails now instead, counted.
 */
static int
deliver_nats(struct ns_alert_sender *s, const char *json, char *err,
    size_t len)
{
	const char *subject = s->cfg->alerter.nats_subject;
	int64_t ms = (int64_t)(s->cfg->alerter.timeout / 1000000u);
	natsStatus st;

	if (s->nc == NULL || natsConnection_Status(s->nc) !=
	    NATS_CONN_STATUS_CONNECTED) {
		snprintf(err, len, "%s: not connected", s->cfg->alerter.nats_url);
		return -ENOTCONN;
	}
	if ((st = natsConnection_PublishString(s->nc, subject, json)) ==
	    NATS_OK)
		st = natsConnection_FlushTimeout(s->nc, ms);
	if (st != NATS_OK) {
		snprintf(err, len, "%s: %s", subject, natsStatus_GetText(st));
		return -EIO;
	}
	return 0;
}

/* ---- the channels' threads ---------------------------------------------- */

static void
chan_deliver(struct chan *c, struct item *it)
{
	struct ns_alert_state *st = c->s->st;
	const char *name = ns_alert_channel_name(c->id);
	char err[CURL_ERROR_SIZE + 600] = "";

	if (c->deliver(c->s, it->payload, err, sizeof(err)) == 0) {
		count(&st->sent[c->id]);
		log_info("%s: %s: sent", name, it->label);
	} else {
		count(&st->failed[c->id]);
		log_warnx("%s: %s: not delivered: %s", name, it->label, err);
	}
	free(it->payload);
	free(it->label);
}

static void *
chan_main(void *arg)
{
	struct chan *c = arg;
	struct item it;

	for (;;) {
		pthread_mutex_lock(&c->lock);
		while (c->n == 0 && !c->stopping)
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->n == 0 || (c->stopping && ns_mono_now() >= c->deadline)) {
			pthread_mutex_unlock(&c->lock);
			return NULL;
		}
		it = c->q[c->head];
		c->head = (c->head + 1) % NS_ALERT_QUEUE;
		c->n--;
		pthread_mutex_unlock(&c->lock);
		chan_deliver(c, &it);
	}
}

/* Hand it to the channel, or count it dropped; takes the strings. */
static void
chan_put(struct chan *c, char *payload, char *label)
{
	int full;

	pthread_mutex_lock(&c->lock);
	full = c->n == NS_ALERT_QUEUE;
	if (!full) {
		c->q[(c->head + c->n) % NS_ALERT_QUEUE] =
		    (struct item){ payload, label };
		c->n++;
		pthread_cond_signal(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	if (!full)
		return;
	count(&c->s->st->dropped[c->id]);
	log_warnx("%s: queue full (%d messages): %s dropped",
	    ns_alert_channel_name(c->id), NS_ALERT_QUEUE, label);
	free(payload);
	free(label);
}

/* The thread starts with every signal blocked: they are the loop's. */
static int
chan_start(struct chan *c)
{
	sigset_t all, old;
	int rc;

	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&c->thread, NULL, chan_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -rc;
	c->running = 1;
	return 0;
}

/* ---- the sender --------------------------------------------------------- */

static void
sender_channels(struct ns_alert_sender *s)
{
	static int (*const fns[NS_ALERT_NCHANNELS])(struct ns_alert_sender *,
	    const char *, char *, size_t) = { deliver_email, deliver_webhook,
	    deliver_nats };
	const struct ns_config *cfg = s->cfg;
	unsigned i;

	for (i = 0; i < NS_ALERT_NCHANNELS; i++) {
		s->ch[i].s = s;
		s->ch[i].id = (enum ns_alert_channel)i;
		s->ch[i].deliver = fns[i];
	}
	/* A channel left NULL is not configured. */
	if (cfg->smtp.host[0] == '\0' || cfg->smtp.nto == 0)
		s->ch[NS_ALERT_EMAIL].deliver = NULL;
	if (cfg->alerter.webhook_url[0] == '\0')
		s->ch[NS_ALERT_WEBHOOK].deliver = NULL;
	if (!cfg->alerter.nats_enabled)
		s->ch[NS_ALERT_NATS].deliver = NULL;
}

int
ns_alert_send_start(struct ns_alert_sender **sp, const struct ns_config *cfg,
    struct ns_alert_state *st, const char *host)
{
	struct ns_alert_sender *s = calloc(1, sizeof(*s));
	unsigned i;
	int rc;

	if ((*sp = s) == NULL)
		return -ENOMEM;
	s->cfg = cfg;
	s->st = st;
	snprintf(s->host, sizeof(s->host), "%s", host);
	snprintf(s->from, sizeof(s->from), cfg->smtp.from[0] != '\0' ? "%s" :
	    "netspectra@%s", cfg->smtp.from[0] != '\0' ? cfg->smtp.from : host);
	sender_channels(s);
	if (s->ch[NS_ALERT_NATS].deliver != NULL)
		nats_open(s);
	for (i = 0; i < NS_ALERT_NCHANNELS; i++) {
		ns_store_relaxed(&st->enabled[i], s->ch[i].deliver != NULL);
		if (s->ch[i].deliver != NULL && (rc = chan_start(&s->ch[i])) != 0)
			return rc;
	}
	return 0;
}

/* "rule R firing", for the channels' log lines. */
static char *
event_label(const struct ns_alert_event *ev)
{
	char *label;

	if (asprintf(&label, "rule %s %s", ev->rule, ev->firing ? "firing" :
	    "resolved") < 0)
		return NULL;
	return label;
}

static char *
event_email(struct ns_alert_sender *s, const struct ns_alert_event *ev)
{
	char id[400];

	snprintf(id, sizeof(id), "%llu.%ld.%llu@%s",
	    (unsigned long long)(ev->time_ns / 1000000u), (long)getpid(),
	    (unsigned long long)++s->seq, s->host);
	return ns_alert_email(ev, s->from, s->cfg->smtp.to, s->cfg->smtp.nto,
	    id);
}

void
ns_alert_send(struct ns_alert_sender *s, const struct ns_alert_event *ev)
{
	char *json = ns_alert_json(ev), *payload, *label;
	unsigned i;

	for (i = 0; i < NS_ALERT_NCHANNELS; i++) {
		struct chan *c = &s->ch[i];

		if (c->deliver == NULL)
			continue;
		payload = i == NS_ALERT_EMAIL ? event_email(s, ev) :
		    json != NULL ? strdup(json) : NULL;
		label = event_label(ev);
		if (payload == NULL || label == NULL) {
			count(&s->st->dropped[i]);
			log_warnx("%s: out of memory: rule %s not notified",
			    ns_alert_channel_name(c->id), ev->rule);
			free(payload);
			free(label);
			continue;
		}
		chan_put(c, payload, label);
	}
	free(json);
}

/* Wait for c's thread until the deadline and a timeout more; 0 if done. */
static int
chan_join(struct chan *c, double until)
{
	double left = until - ns_mono_now();
	struct timespec ts;

	if (left < 0)
		left = 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)left;
	ts.tv_nsec += (long)((left - (double)(time_t)left) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(c->thread, NULL, &ts);
}

void
ns_alert_send_stop(struct ns_alert_sender *s, double grace)
{
	double until = ns_mono_now() + grace;
	double attempt = (double)s->cfg->alerter.timeout / 1e9;
	unsigned i, k;
	int behind = 0;

	for (i = 0; i < NS_ALERT_NCHANNELS; i++) {
		struct chan *c = &s->ch[i];

		if (!c->running)
			continue;
		pthread_mutex_lock(&c->lock);
		c->stopping = 1;
		c->deadline = until;
		pthread_cond_signal(&c->cond);
		pthread_mutex_unlock(&c->lock);
	}
	for (i = 0; i < NS_ALERT_NCHANNELS; i++) {
		struct chan *c = &s->ch[i];

		if (!c->running)
			continue;
		/* An attempt begun just before the deadline has its timeout. */
		if (chan_join(c, until + attempt + 1) != 0) {
			log_warnx("%s: still delivering; left behind",
			    ns_alert_channel_name(c->id));
			behind = 1;
			continue;
		}
		for (k = 0; k < c->n; k++) {
			struct item *it = &c->q[(c->head + k) % NS_ALERT_QUEUE];

			count(&s->st->dropped[i]);
			log_warnx("%s: %s: not delivered before the stop",
			    ns_alert_channel_name(c->id), it->label);
			free(it->payload);
			free(it->label);
		}
	}
	/* A thread left behind still uses them: they go with the process. */
	if (behind)
		return;
	if (s->nc != NULL) {
		s->closing = 1;
		natsConnection_Close(s->nc);
		natsConnection_Destroy(s->nc);
		nats_Close();
	}
	free(s);
}
