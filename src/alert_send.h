/*
 * alert_send.h -- delivery of the alerter's notifications: e-mail (SMTP
 * through libcurl), webhook (a JSON POST through libcurl) and NATS
 * (nats.c), each by a thread of its own behind a bounded queue.
 *
 * The evaluation loop only queues: a mail server that takes its time
 * delays that channel's later messages, never the evaluation or the
 * other channels.  Every attempt is bounded by alerter.timeout; what
 * fails is counted and logged, not retried (the next change of the rule
 * is news of its own, and the rule's state says what is true now).
 */
#ifndef NS_ALERT_SEND_H
#define NS_ALERT_SEND_H

#include "alert.h"
#include "config.h"

#define NS_ALERT_QUEUE	256	/* messages waiting per channel */

struct ns_alert_sender;

/*
 * The channels cfg configures (e-mail with smtp.host, webhook with
 * alerter.webhook_url, NATS with alerter.nats_enabled), their threads
 * started, counting into st.  The NATS connection is tried in the
 * background if the server is not up yet.  0 or -errno.
 */
int	 ns_alert_send_start(struct ns_alert_sender **, const struct ns_config *,
	    struct ns_alert_state *st, const char *host);
/* Queue ev's notification on every configured channel. */
void	 ns_alert_send(struct ns_alert_sender *, const struct ns_alert_event *);
/*
 * Deliver what is queued for up to about grace seconds more (each attempt
 * keeps its own timeout), count the rest as dropped, and free everything.
 */
void	 ns_alert_send_stop(struct ns_alert_sender *, double grace);

#endif /* NS_ALERT_SEND_H */
