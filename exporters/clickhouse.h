/*
 * clickhouse.h -- the ClickHouse writer: snapshots become batches of
 * TabSeparated rows in a bounded on-disk spool, and ns-export-ch delivers
 * the spool to ClickHouse in order.
 *
 * Two producers fill a writer's spool: the period exporter puts each
 * period's final snapshot there before it releases the generation (a
 * local write, so a slow or dead ClickHouse never holds up a period
 * switch), and the writer's ns-export-ch process puts the live snapshots
 * there every snapshot_interval.  ns-export-ch alone sends and deletes.
 *
 * Spool: <spool_dir>/<writer>/<20-digit sequence>.{flows,hh}.tsv, one
 * batch of at most batch_rows rows each, written under a hidden name and
 * linked into place whole; <writer> is "exact.<i>" or "sketch.<i>", i the
 * writer's place in its aggregator's list.
 */
#ifndef NS_CLICKHOUSE_H
#define NS_CLICKHOUSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine.h"

struct ns_child;

/* Writer ids: sketch * NS_CONFIG_MAX_WRITERS + index (ns_export_wstats). */
static inline unsigned
ns_ch_writer_id(int sketch, unsigned i)
{
	return (unsigned)sketch * NS_CONFIG_MAX_WRITERS + i;
}

/* The writer of an id, or NULL when it is not an enabled clickhouse one. */
const struct ns_config_writer *ns_ch_writer(const struct ns_config *,
	    unsigned id);

/* "exact.1": the name in the spool path, /metrics and status. */
const char *ns_ch_writer_name(unsigned id, char *buf, size_t len);

/* The writer's spool directory into buf.  0 or -ENAMETOOLONG. */
int	 ns_ch_spool_dir(const struct ns_config *, unsigned id, char *buf,
	    size_t len);

/*
 * Before the children start: every writer's spool directory made, and
 * with drop, it and its files handed to uid:gid (a segment of another
 * layout is exported by the supervisor, as root, before that).
 */
void	 ns_ch_spool_prepare(const struct ns_config *, int drop, uid_t uid,
	    gid_t gid);

/*
 * 1 if a and b have the same clickhouse writers at the same places,
 * writing to the same server, tables, node and spool: one process each
 * is forked at start, and a spool belongs to one target.
 */
int	 ns_ch_same_writers(const struct ns_config *a,
	    const struct ns_config *b);

/*
 * The final snapshot of closed generation g of the writer's tasks into
 * its spool (plain reads are exact).  Rows the spool has no room for, or
 * all of them when it cannot be written, are counted as dropped.  The
 * number of rows spooled, or -errno.
 */
int64_t	 ns_ch_spool_final(const struct ns_engine *, unsigned id,
	    uint64_t g, uint64_t period_start);

/*
 * The final snapshot of generation g into every enabled clickhouse
 * writer's spool; failures are logged and counted, never fatal: the
 * period exporter goes on.
 */
void	 ns_ch_spool_final_all(const struct ns_engine *, uint64_t g,
	    uint64_t period_start);

/* A writer's counters, read whole (status, /metrics). */
struct ns_ch_counts {
	uint64_t	spooled;	/* rows put into the spool */
	uint64_t	sent;		/* rows ClickHouse acknowledged */
	uint64_t	dropped;	/* rows the spool had no room for */
	uint64_t	skipped;	/* live snapshots skipped (a backlog) */
	uint64_t	errors;		/* failed requests */
	uint64_t	spool_bytes;
	uint64_t	spool_files;
	uint64_t	last_ok_ns;
};

/* 0, or -ENOENT when id is not an enabled clickhouse writer. */
int	 ns_ch_counts(const struct ns_engine *, unsigned id,
	    struct ns_ch_counts *);
/* The same counters of any spooling writer (ClickHouse, NATS). */
void	 ns_writer_counts(const struct ns_export_wstats *,
	    struct ns_ch_counts *);

/* ns-export-ch: the child whose index is a writer id. */
void	 ns_ch_child(struct ns_engine *, const struct ns_child *)
	    __attribute__((noreturn));

#endif /* NS_CLICKHOUSE_H */
