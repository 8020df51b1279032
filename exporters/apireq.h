/*
 * apireq.h -- the query API's requests: JSON bodies decoded into typed
 * values, and the ClickHouse statements built from those values only.
 *
 * A pure module (no server, no ClickHouse, no shared memory): JSON text and
 * the configuration in, a struct ns_apireq or an error message out; a
 * struct ns_apireq in, SQL text out.  So it is unit-tested and fuzzed on
 * its own, and the server (api.c) never sees request text near SQL.
 *
 * What a request may hold, and how it is checked:
 *	task names	equal to a task of the configuration (exact tasks for
 *			aggregate, trace and Grafana; sketch tasks for heavy
 *			hitters), and then the configuration's string is used
 *	addresses	inet_pton, re-printed (dotted IPv4, RFC 5952 IPv6) as
 *			the ClickHouse writer stores them
 *	networks	"addr/len", host bits cleared, re-printed
 *	numbers		JSON integers or decimal strings, range-checked
 *	times		RFC 3339 strings, to Unix seconds
 * Keys are accepted in snake_case and lowerCamelCase; unknown keys are
 * errors (but not in Grafana's bodies, which carry much we do not use).
 * A null member is an absent one; as in proto3, "" and (in aggregate's
 * filters) 0 mean "not given" too.
 */
#ifndef NS_APIREQ_H
#define NS_APIREQ_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum ns_apireq_kind {
	NS_APIREQ_AGGREGATE = 0,	/* POST /api/v1/aggregate */
	NS_APIREQ_TRACE,		/* POST /api/v1/flows/trace */
	NS_APIREQ_HEAVY_HITTERS,	/* POST /api/v1/heavy-hitters */
	NS_APIREQ_GRAFANA,		/* POST /query (Grafana JSON datasource) */
	NS_APIREQ_SEARCH,		/* POST /search: checked, nothing to ask */
	NS_APIREQ_NKINDS
};

#define NS_APIREQ_BODY_MAX	(1u << 20)	/* bytes; more is a 413 */
#define NS_APIREQ_TEXT_MAX	64		/* "ffff:...:ffff/128" fits */
#define NS_APIREQ_TARGETS_MAX	64		/* Grafana targets */
#define NS_APIREQ_LIMIT_DEFAULT	10		/* heavy hitters */
#define NS_APIREQ_LIMIT_MAX	100000
#define NS_APIREQ_TOP_DEFAULT	10		/* live top */
#define NS_APIREQ_TOP_MAX	10000

/* One typed key value: a filter of aggregate, a flow key of trace. */
struct ns_apireq_key {
	enum ns_config_field field;
	char	 text[NS_APIREQ_TEXT_MAX];	/* addresses, networks */
	unsigned num;			/* ports, protocol, VLAN, IPVersion, DSCP */
};

struct ns_apireq {
	enum ns_apireq_kind kind;
	/* The tasks to query: the configuration's own strings. */
	const char *tasks[NS_CONFIG_MAX_TASKS];
	unsigned ntasks;
	/* Grafana: each shown target, as an index into tasks[]. */
	unsigned targets[NS_APIREQ_TARGETS_MAX];
	unsigned ntargets;
	int	 has_end, has_start;
	int64_t	 end, start;		/* Unix seconds, in DateTime's range */
	int64_t	 end_ms;		/* Grafana: the datapoints' time */
	struct ns_apireq_key keys[NS_CONFIG_NFIELDS];
	unsigned nkeys;
	unsigned hh_type;		/* 0 count, 1 size, 2 spread */
	unsigned limit;
};

/* What GET /api/v1/live/top asks for. */
struct ns_apireq_top {
	unsigned task;			/* index of the exact task */
	unsigned n;
	int	 by_bytes;
};

/*
 * Decode the len bytes of body for an endpoint.  now (Unix seconds) is
 * only used for Grafana's default time range.  0; -EINVAL with a message
 * for the client in err (the reply is a 400); -ENOMEM.
 */
int	 ns_apireq_parse(enum ns_apireq_kind, const char *body, size_t len,
	    const struct ns_config *, int64_t now, struct ns_apireq *,
	    char *err, size_t errlen);

/*
 * The query arguments of live top (any may be NULL): task (an exact task,
 * required), n (default 10, at most 10000), by ("packets" or "bytes").
 * 0 or -EINVAL with a message in err.
 */
int	 ns_apireq_top(const struct ns_config *, const char *task,
	    const char *n, const char *by, struct ns_apireq_top *,
	    char *err, size_t errlen);

/*
 * The statement answering a decoded request, from table (flow_metrics or
 * heavy_hitters, with its prefix), asking for FORMAT JSONEachRow with
 * every number as a string:
 *	aggregate, Grafana  TaskName, TotalBytes, TotalPackets, FlowCount
 *	trace		    FirstSeen, LastSeen (Unix seconds), TotalPackets,
 *			    TotalBytes, Periods (0: no such flow)
 *	heavy hitters	    Flow, Value
 * Into *sql, malloc'd.  0; -EINVAL for a table name that is not a plain
 * identifier or a request with no task; -ENOMEM.
 */
int	 ns_apireq_sql(const struct ns_apireq *, const char *table,
	    char **sql);

/* The exact tasks (NS_CONFIG_AGG_EXACT) or sketch tasks the engine runs. */
unsigned ns_apireq_exact_tasks(const struct ns_config *);
unsigned ns_apireq_sketch_tasks(const struct ns_config *);

/*
 * RFC 3339 ("2026-01-02T03:04:05Z", "...05.5+08:00") to Unix seconds and
 * nanoseconds.  0 or -EINVAL.
 */
int	 ns_apireq_time(const char *s, int64_t *sec, uint32_t *nsec);

#endif /* NS_APIREQ_H */
