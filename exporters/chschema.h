/*
 * chschema.h -- netspectra's ClickHouse tables: Go2NetSpectra's
 * flow_metrics and heavy_hitters, with the columns that make history sum
 * right (PeriodStart, Final, Node, Version) and one Nullable column for
 * every key field netspectra has beyond Go2NetSpectra's five.
 *
 * flow_metrics, in insert order:
 *	Timestamp DateTime		snapshot time (wall clock, seconds)
 *	TaskName String
 *	SrcIP, DstIP Nullable(String)	NULL when the task does not key by it
 *	SrcPort, DstPort Nullable(UInt16)
 *	Protocol Nullable(UInt8)
 *	StartTime, EndTime DateTime	flow's first and last packet
 *	ByteCount, PacketCount UInt64	in this period, up to this snapshot
 *	PeriodStart DateTime		the period the counts belong to
 *	Final UInt8			1: the period's closed, final state
 *	Node String			the writing engine (writer's node)
 *	Version UInt64			snapshot id: wall clock ns at snapshot
 *	SrcNet, DstNet Nullable(String)	"10.1.0.0/16"
 *	VLAN Nullable(UInt16), IPVersion Nullable(UInt8), DSCP Nullable(UInt8)
 *	TCPFlags UInt8
 *	Generation String		"<segment created ns>.<generation>"
 *
 * heavy_hitters, in insert order:
 *	Timestamp DateTime, TaskName String,
 *	Flow String			key fields joined by spaces
 *	Value UInt64, Type UInt8	0 count, 1 size, 2 spread
 *	PeriodStart DateTime, Final UInt8, Node String, Version UInt64,
 *	ErrorBound UInt64, Generation String
 *
 * Within a generation a flow's counters only grow, so its total of a key
 * is the largest of its rows in (Node, TaskName, PeriodStart, Generation,
 * key); a re-sent batch repeats rows and changes no maximum.  History sums
 * those over generations, periods and nodes.  (A daemon restarted within
 * a period opens a new generation with the same PeriodStart.)  A
 * heavy-hitter generation is the rows of its latest snapshot, by the
 * tuple (Final, Version).
 */
#ifndef NS_CHSCHEMA_H
#define NS_CHSCHEMA_H

#include <stddef.h>

#include "chclient.h"
#include "config.h"

enum ns_ch_table { NS_CH_FLOWS = 0, NS_CH_HEAVY_HITTERS };

/* "<table_prefix>flow_metrics" into buf. */
const char *ns_ch_table_name(const struct ns_config_writer *,
	    enum ns_ch_table, char *buf, size_t len);

/*
 * Create the table if it is missing, and add any of netspectra's columns
 * an existing one (Go2NetSpectra's) lacks.  0 or the client's -errno.
 */
int	 ns_ch_schema_ensure(struct ns_ch_client *,
	    const struct ns_config_writer *, enum ns_ch_table);

/* "INSERT INTO t (columns...) FORMAT TabSeparated": the rows' order. */
int	 ns_ch_schema_insert(const struct ns_config_writer *, enum ns_ch_table,
	    char *buf, size_t len);

/* The CREATE TABLE statement, for the man page and tests. */
int	 ns_ch_schema_ddl(const struct ns_config_writer *, enum ns_ch_table,
	    char *buf, size_t len);

/*
 * The writer whose server holds a table: the first enabled clickhouse
 * writer of the exact aggregator (NS_CH_FLOWS) or of the sketch one
 * (NS_CH_HEAVY_HITTERS), else of the other; NULL when there is none.
 */
const struct ns_config_writer *ns_ch_writer_for(const struct ns_config *,
	    enum ns_ch_table);

#endif /* NS_CHSCHEMA_H */
