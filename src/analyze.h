/*
 * analyze.h -- `netspectra analyze` and `netspectra dump`: offline reading
 * of capture files (pcap and pcapng) through the packet parser.
 */
#ifndef NS_ANALYZE_H
#define NS_ANALYZE_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "output.h"
#include "parse.h"

struct ns_config;

enum ns_summary_fmt { NS_SUMMARY_TABLE, NS_SUMMARY_JSON };

struct ns_analyze_opts {
	char *const *files;
	int nfiles;
	enum ns_summary_fmt summary;
	enum ns_flow_fmt flows;		/* per-period flows on stdout */
	enum ns_flow_fmt heavy;		/* per-period sketch reports */
	int progress;		/* show progress on stderr (a terminal) */
};

/* Totals over every file read; the parse counters are by result reason. */
struct ns_analyze_totals {
	uint64_t packets;	/* frames read from the files */
	uint64_t bytes;		/* their wire lengths */
	uint64_t parsed;	/* frames that gave a record */
	uint64_t parsed_bytes;
	uint64_t ipv4, ipv6;
	uint64_t proto[256];
	uint64_t reason[NS_PARSE_NREASONS];
	uint64_t first_ns, last_ns;
	/* per exact task */
	unsigned ntasks;
	struct {
		uint64_t packets, bytes, flows, table_full;
	} task[NS_CONFIG_MAX_TASKS];
	const char *task_name[NS_CONFIG_MAX_TASKS];
	uint64_t task_max_flows[NS_CONFIG_MAX_TASKS];
	double task_bytes_per_flow[NS_CONFIG_MAX_TASKS];
	/* per sketch task: its memory, every worker's region */
	unsigned nsketches;
	const char *sketch_name[NS_CONFIG_MAX_TASKS];
	const char *sketch_kind[NS_CONFIG_MAX_TASKS];
	uint64_t sketch_bytes[NS_CONFIG_MAX_TASKS];
	/* summed over the periods, by enum ns_sketch_kind: keys reported,
	 * and keys over a threshold not reported (ns_snapshot_sketch_stats;
	 * of the periods this exporter process wrote) */
	uint64_t sketch_reported[NS_CONFIG_MAX_TASKS][3];
	uint64_t sketch_unreported[NS_CONFIG_MAX_TASKS][3];
	uint64_t shm_bytes;
};

/* 0 when every file was read to its end; -EIO (after printing the
 * summary of what was read) when a file was cut; -EINVAL, before reading
 * anything, when a file is not a readable capture. */
/*
 * analyze's ClickHouse and NATS spools: a directory of its own under
 * $TMPDIR becomes cfg's state_dir (netspectrad delivers and deletes what
 * lies under its own), for writers without a spool_dir.  0 or -errno.
 * After the run, the directory goes if it is empty, and is named if
 * batches are left in it.
 */
int	 ns_analyze_spool_begin(struct ns_config *);
void	 ns_analyze_spool_end(const struct ns_config *);

int ns_analyze_run(const struct ns_config *cfg, const struct ns_analyze_opts *opts,
    FILE *out);
void ns_analyze_print(FILE *out, const struct ns_analyze_totals *t,
    enum ns_summary_fmt fmt);

/* One tab-separated line per parsed frame: frame number, src, dst, sport,
 * dport, protocol, wire length -- the format the tshark comparison uses. */
int ns_dump_run(const char *file, FILE *out);

#endif /* NS_ANALYZE_H */
