/*
 * alert.h -- the alerter's rules, without any I/O: metric names, the
 * comparison, the per-rule state machine with its rate limit, and the
 * messages (subject, text, JSON, e-mail) a transition produces.
 *
 * Everything here is a pure function of its arguments, so that the unit
 * tests drive it with made-up values and clocks.  The ns-alert role
 * (src/alerter.c) feeds it values read from the segment and hands the
 * messages to the delivery threads (src/alert_send.c).
 */
#ifndef NS_ALERT_H
#define NS_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* What a rule's metric reads, Go2NetSpectra's spellings. */
enum ns_alert_metric {
	NS_ALERT_TOTAL_PACKETS = 0,	/* exact task: packets this period */
	NS_ALERT_TOTAL_BYTES,		/* exact task: bytes this period */
	NS_ALERT_TOTAL_FLOWS,		/* exact task: distinct keys */
	NS_ALERT_HH_COUNT,		/* heavy hitters: largest packet count */
	NS_ALERT_HH_SIZE,		/* heavy hitters: largest byte count */
	NS_ALERT_SPREAD,		/* super-spreaders: largest spread */
	NS_ALERT_NMETRICS
};

/* The kind of task a metric needs. */
enum ns_alert_source {
	NS_ALERT_SRC_EXACT = 0,
	NS_ALERT_SRC_HH,		/* sketch, skt_type 0 */
	NS_ALERT_SRC_SPREAD,		/* sketch, skt_type 1 */
};

/* The metric of that name, or -1. */
int		 ns_alert_metric_parse(const char *name);
const char	*ns_alert_metric_name(enum ns_alert_metric);
enum ns_alert_source ns_alert_metric_source(enum ns_alert_metric);
/* "an exact task", for messages. */
const char	*ns_alert_source_what(enum ns_alert_source);

/*
 * Why a rule cannot be evaluated against cfg's tasks (unknown metric, a
 * metric of another kind of task), as a message into why; 0 when it can.
 * The task's existence is the loader's check.
 */
int		 ns_alert_rule_check(const struct ns_config *cfg,
		    const struct ns_config_rule *r, char *why, size_t len);

/* value <op> threshold. */
int		 ns_alert_compare(enum ns_config_op, double value,
		    double threshold);

/* A rule's identity: a reload that changes the rule starts it afresh. */
uint64_t	 ns_alert_rule_id(const struct ns_config_rule *);

/*
 * One rule's state, in the segment so that a restarted ns-alert neither
 * repeats a notification nor loses a change held by the rate limit.  Written by ns-alert only; status
 * and /metrics read the cells whole.
 */
struct ns_alert_rule_state {
	uint64_t	id;		/* ns_alert_rule_id() of its rule */
	uint64_t	firing;		/* the condition at the last evaluation */
	uint64_t	notified;	/* what the last notification said */
	uint64_t	held;		/* a change waits for the rate limit */
	uint64_t	last_notify_ns;	/* wall clock of the last notification */
	uint64_t	changed_ns;	/* when the condition last changed */
	uint64_t	value;		/* the last value, a double's bits */
	uint64_t	evaluated;	/* evaluations of this rule */
} __attribute__((aligned(64)));

/* What one evaluation of a rule brings about. */
enum ns_alert_action {
	NS_ALERT_QUIET = 0,		/* nothing to send */
	NS_ALERT_SEND_FIRING,		/* notify: the rule fires */
	NS_ALERT_SEND_RESOLVED,		/* notify: the rule resolved */
};

struct ns_alert_step {
	enum ns_alert_action action;
	int		 fired;		/* the condition became true */
	int		 resolved;	/* the condition became false */
	int		 held;		/* a change newly held by the rate limit */
};

/*
 * Apply one evaluation (cond: value <op> threshold) at wall clock now.
 * A notification goes out when the condition differs from what was last
 * notified and at least min_interval has passed since the last one of
 * this rule; otherwise the change is held, and sent by a later
 * evaluation if it still stands then -- a flap inside the interval is
 * never sent, and the last word is always the current state.
 */
void		 ns_alert_step(struct ns_alert_rule_state *, int cond,
		    double value, uint64_t now_ns, uint64_t min_interval_ns,
		    struct ns_alert_step *out);

/* ---- messages ----------------------------------------------------------- */

/* One transition of one rule, as the messages tell it. */
struct ns_alert_event {
	const char	*rule;
	const char	*task;
	const char	*metric;
	enum ns_config_op op;
	double		 threshold;
	double		 value;
	int		 firing;	/* 1: fires, 0: resolved */
	uint64_t	 time_ns;	/* wall clock of the evaluation */
	uint64_t	 period_start_ns; /* of the period evaluated */
	const char	*host;
};

/* A value as people read it: 1234, 0.5, 1.5e+20. */
const char	*ns_alert_format_value(double, char *buf, size_t len);
/* "[netspectra] FIRING: rule (total_packets 1234 > 1000 on task)". */
void		 ns_alert_subject(const struct ns_alert_event *, char *buf,
		    size_t len);
/* The plain-text body, lines ended by "\n"; malloc'd, NULL on ENOMEM. */
char		*ns_alert_text(const struct ns_alert_event *);
/* The JSON document (webhook, NATS); malloc'd, NULL on ENOMEM. */
char		*ns_alert_json(const struct ns_alert_event *);
/*
 * The whole RFC 5322 message for SMTP: headers (Date, From, To, Subject,
 * Message-ID, MIME), a blank line and the text, every line ended by
 * CRLF; header values cleaned of line breaks, a non-ASCII subject
 * encoded (RFC 2047).  malloc'd, NULL on ENOMEM.
 */
char		*ns_alert_email(const struct ns_alert_event *, const char *from,
		    char *const *to, unsigned nto, const char *message_id);

/* ---- the segment's alerter section -------------------------------------- */

enum ns_alert_channel {
	NS_ALERT_EMAIL = 0, NS_ALERT_WEBHOOK, NS_ALERT_NATS, NS_ALERT_NCHANNELS
};

const char	*ns_alert_channel_name(enum ns_alert_channel);

/*
 * The alerter's counters, in the statistics section.  Each cell has one
 * writer: the evaluation loop, or the channel's delivery thread (sent,
 * failed).  Never reset, like the other counters of the segment.
 */
struct ns_alert_state {
	uint64_t	pid;		/* of the ns-alert writing it, 0: none */
	uint64_t	evaluations;	/* rounds over the rules */
	uint64_t	errors;		/* rule evaluations that found no value */
	uint64_t	fired;		/* conditions that became true */
	uint64_t	resolved;	/* conditions that became false */
	uint64_t	rate_limited;	/* changes held by min_notify_interval */
	uint64_t	last_eval_ns;	/* wall clock of the last round */
	uint64_t	nrules;		/* rules of the configuration in force */
	uint64_t	sent[NS_ALERT_NCHANNELS];	/* delivered */
	uint64_t	failed[NS_ALERT_NCHANNELS];	/* delivery failed */
	uint64_t	dropped[NS_ALERT_NCHANNELS];	/* the queue was full */
	uint64_t	enabled[NS_ALERT_NCHANNELS];	/* 1: configured */
	uint64_t	spare[4];
	struct ns_alert_rule_state rule[NS_CONFIG_MAX_RULES];
} __attribute__((aligned(64)));

#endif /* NS_ALERT_H */
