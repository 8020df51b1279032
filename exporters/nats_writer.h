/*
 * nats_writer.h -- the NATS writer: each snapshot of a task is published
 * as protobuf (exporters/natsenc.h, proto/netspectra.proto) on
 * <subject>.flows.<task> (exact tasks) or <subject>.hh.<task> (sketch
 * tasks), in chunks under the server's max_payload.
 *
 * It works as the ClickHouse writer does (clickhouse.h): the period
 * exporter puts each period's final snapshot into the writer's on-disk
 * spool before it releases the generation -- a local write, so a slow or
 * dead NATS server never delays a period switch nor holds a generation --
 * and the writer's own process, ns-export-nats, adds the live snapshots
 * every snapshot_interval and alone publishes and deletes.  A spool file
 * is deleted once a flush round trip says the server has every chunk.
 *
 * Spool: <spool_dir>/<writer>/<20-digit sequence>.{flows,hh}.pb, one whole
 * snapshot of one task each (a FlowSnapshot or HeavyHitterSnapshot that
 * `protoc --decode` reads); <writer> is "exact.<i>" or "sketch.<i>".
 */
#ifndef NS_NATS_WRITER_H
#define NS_NATS_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "clickhouse.h"
#include "engine.h"

struct ns_child;

/* The writer of an id (ns_ch_writer_id()), or NULL when it is not an
 * enabled nats one. */
const struct ns_config_writer *ns_natsw_writer(const struct ns_config *,
	    unsigned id);

/*
 * The TCP ports of the servers of writer id (4222 where a URL names
 * none), at most max of them into ports: how many.  0 when id is not an
 * enabled nats writer.  A live capture leaves them out.
 */
unsigned ns_natsw_ports(const struct ns_config *, unsigned id,
	    unsigned *ports, unsigned max);

/* The writer's spool directory into buf: 0, -EINVAL, -ENAMETOOLONG. */
int	 ns_natsw_spool_dir(const struct ns_config *, unsigned id, char *buf,
	    size_t len);

/* Before the children start: spool directories made (and handed to
 * uid:gid with drop). */
void	 ns_natsw_spool_prepare(const struct ns_config *, int drop, uid_t uid,
	    gid_t gid);

/*
 * 1 if a and b have nats writers at the same places with the same spool
 * directories: one process each is forked at start, and a spool belongs
 * to one writer.  Servers, subjects and intervals may change on a reload.
 */
int	 ns_natsw_same_writers(const struct ns_config *a,
	    const struct ns_config *b);

/*
 * The final snapshot of closed generation g, one spool file per task (and
 * kind), plain reads.  Records the spool has no room for are counted as
 * dropped.  The records spooled, or -errno.
 */
int64_t	 ns_natsw_spool_final(const struct ns_engine *, unsigned id,
	    uint64_t g, uint64_t period_start);

/* The same into every enabled nats writer's spool; never fatal. */
void	 ns_natsw_spool_final_all(const struct ns_engine *, uint64_t g,
	    uint64_t period_start);

/*
 * A writer's counters (rows: flow records and heavy hitters; sent: those
 * the server has received); 0, or -ENOENT when id is not an enabled nats
 * writer.
 */
int	 ns_natsw_counts(const struct ns_engine *, unsigned id,
	    struct ns_ch_counts *);

/* ns-export-nats: the child whose index is a writer id. */
void	 ns_natsw_child(struct ns_engine *, const struct ns_child *)
	    __attribute__((noreturn));

#endif /* NS_NATS_WRITER_H */
