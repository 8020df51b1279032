/*
 * engine.h -- one running engine: the configuration turned into a
 * shared-memory layout (segment, slots, rings, journals, generations and
 * the statistics section), and the shared view every role works from.
 *
 * The supervisor builds it and creates the segment before forking, so every
 * child inherits both the mapping and this process-local description.
 */
#ifndef NS_ENGINE_H
#define NS_ENGINE_H

#include <stdint.h>

#include "config.h"
#include "parse.h"
#include "segment.h"
#include "sketch.h"
#include "task.h"

#define NS_ENGINE_NGENS		2	/* live + standby */
#define NS_ENGINE_BATCH		256	/* records per worker batch */
#define NS_ENGINE_END		UINT64_MAX /* period start of the end gen */
#define NS_ENGINE_CONFIG_MAX	(256u << 10) /* config text kept, bytes */

/* Per input, written by its capture process only. */
#define NS_INPUT_DONE	0x1	/* its last record is published */
#define NS_INPUT_FAILED	0x2	/* a file could not be read to its end */

/*
 * A NATS input's counts (src/nats_input.c).  With JetStream every
 * checkpoint holds them as of its point, and a restarted input starts from
 * there: what it replays is counted again, so they stay exact.
 */
#define NS_INPUT_NATS_REASONS	16	/* >= the decoder's reasons */
struct ns_input_nats {
	uint64_t	msgs;		/* messages taken, good or refused */
	uint64_t	packets;	/* packets put into the rings */
	uint64_t	bytes;		/* their wire lengths */
	uint64_t	malformed[NS_INPUT_NATS_REASONS]; /* refused, by reason */
};

/*
 * Where a restarted capture may resume reading: every ring holds every
 * position below 2 * frame when a checkpoint is written.
 */
struct ns_input_ckpt {
	uint64_t	frame;		/* frames before it, over all files */
	uint64_t	file;		/* index of the file it is in */
	uint64_t	file_frame;	/* frames before it in that file */
	uint64_t	offset;		/* of the next record; 0: file start */
	uint64_t	gen;		/* the capture's period state */
	uint64_t	period;
	uint64_t	started;
	uint64_t	failed;		/* an earlier file was cut */
	uint64_t	seq;		/* nats: last stream sequence it covers */
	uint64_t	ending;		/* nats: the end boundary is due at frame */
	struct ns_input_nats nats;	/* nats: the counts at this point */
};

struct ns_input_state {
	uint64_t	done;		/* NS_INPUT_* */
	uint64_t	frames;		/* frames read (progress, not exact) */
	uint64_t	ckpt_idx;	/* ckpt[] entry in force */
	uint64_t	stop;		/* live: the supervisor asks it to end */
	uint64_t	marked;		/* live: every ring has this gen's marker */
	uint64_t	kernel_recv;	/* live: pcap_stats, kept 64-bit */
	uint64_t	kernel_drops;	/* ps_drop + ps_ifdrop */
	uint64_t	captured_bytes;	/* live: wire bytes of what it read */
	struct ns_input_ckpt ckpt[2];
	/* NATS inputs (plain counters: not part of any checkpoint). */
	uint64_t	slow_consumer;	/* messages the client library dropped */
	uint64_t	redelivered;	/* JetStream: seen again and skipped */
	uint64_t	acked_seq;	/* JetStream: acknowledged up to */
	uint64_t	connected;	/* 1 while connected to a server */
	uint64_t	nats_spare[4];
	struct ns_input_nats nats;	/* live counts (the ckpt's and more) */
} __attribute__((aligned(64)));

/*
 * What the exporter has written, for its successor: double-buffered and
 * switched by one store, like the capture's checkpoints.
 */
struct ns_export_ckpt {
	uint64_t	exported;	/* generations below this are written */
	uint64_t	periods;	/* periods written (0: headers due) */
	uint64_t	out_off;	/* end of the output written, if a file */
	uint64_t	ended;		/* the summary is written too */
	uint64_t	valid;		/* written by an exporter */
};

/*
 * A ClickHouse or NATS writer's rows by what became of them.  Each field
 * has one writer: the period exporter spools the finals, the writer's own
 * ns-export-ch or ns-export-nats process the live snapshots and the
 * deliveries.  Plain
 * counters for operators, not journaled: a killed exporter that writes a
 * period again counts its rows again.
 */
struct ns_export_wstats {
	uint64_t	final_rows;	/* final rows put into the spool */
	uint64_t	final_dropped;	/* final rows the spool had no room for */
	uint64_t	live_rows;	/* live rows put into the spool */
	uint64_t	live_dropped;	/* live rows the spool had no room for */
	uint64_t	live_skipped;	/* live snapshots skipped: a backlog */
	uint64_t	sent_rows;	/* rows ClickHouse acknowledged */
	uint64_t	sent_batches;
	uint64_t	errors;		/* failed requests */
	uint64_t	spool_bytes;	/* waiting in the spool (gauge) */
	uint64_t	spool_files;
	uint64_t	last_ok_ns;	/* wall clock of the last delivery */
	uint64_t	last_error_ns;
	uint64_t	rejected_rows;	/* in batches ClickHouse kept refusing */
	uint64_t	rejected_batches;
	uint64_t	messages;	/* NATS: chunks the server received */
	uint64_t	connected;	/* NATS: 1 while connected (gauge) */
} __attribute__((aligned(64)));

#define NS_EXPORT_WRITERS	(2 * NS_CONFIG_MAX_WRITERS) /* exact, sketch */

struct ns_export_state {
	uint64_t	ckpt_idx;
	uint64_t	last_ok_ns;	/* wall clock of the last commit */
	uint64_t	spare[6];
	struct ns_export_ckpt ckpt[2];
	/* By writer: sketch * NS_CONFIG_MAX_WRITERS + index. */
	struct ns_export_wstats writer[NS_EXPORT_WRITERS];
} __attribute__((aligned(64)));

/* Per task lifetime totals in a worker's statistics; never reset. */
struct ns_task_stats {
	uint64_t	packets;
	uint64_t	bytes;
	uint64_t	flows;		/* flow records created, all periods */
	uint64_t	table_full;	/* packets refused by a full shard */
};

/*
 * Per worker, journaled like the tables: the counts of everything the
 * worker took off its rings, so that totals survive kill -9 exactly.
 */
struct ns_worker_stats {
	uint64_t	packets;	/* parsed packets */
	uint64_t	bytes;
	uint64_t	ipv4, ipv6;
	uint64_t	first_ns, last_ns;
	uint64_t	spare[2];
	uint64_t	reason_frames[NS_PARSE_NREASONS];
	uint64_t	reason_bytes[NS_PARSE_NREASONS];
	uint64_t	proto[256];
	struct ns_task_stats task[];
};

/* A sketch task: its keys and the parameters of each worker's region. */
struct ns_sketch_task {
	const struct ns_config_sketch_task *cfg;
	struct ns_task	 flow;		/* key of flow_fields */
	struct ns_task	 elem;		/* key of element_fields (spread) */
	struct ns_sketch_params params;
	uint64_t	 region_size;	/* per worker and generation */
	unsigned	 cells;		/* journaled cells per update */
	int		 spread;	/* skt_type 1 */
	/* Heavy hitters: the exact task of the same flow key the regions
	 * are linked to (sketch.h, ns_hh_update_linked()), or -1. */
	int		 link;
};

struct ns_engine {
	const struct ns_config *cfg;
	struct ns_seg	 seg;
	struct ns_task	 tasks[NS_CONFIG_MAX_TASKS];
	unsigned	 ntasks;
	struct ns_sketch_task sketches[NS_CONFIG_MAX_TASKS];
	unsigned	 nsketches;
	unsigned	 nworkers;
	unsigned	 ninputs;
	unsigned	 nslots;	/* process slots */
	uint64_t	 ring_capacity;
	uint64_t	 period_ns;
	uint64_t	 max_undo;
	uint64_t	 wstats_stride;
	uint64_t	 layout_hash;
	uint64_t	 shm_bytes;	/* whole segment */
	uint64_t	 table_bytes;	/* generations: every shard of every task */
	char		*config_text;	/* the config as YAML, for the segment */
};

/* Layout from cfg; err gets the reason on -EINVAL. */
int	 ns_engine_init(struct ns_engine *, const struct ns_config *cfg,
	    unsigned ninputs, char *err, size_t errlen);
/* A private (memfd) segment for one offline run, initialised. */
int	 ns_engine_create_private(struct ns_engine *);
/* A named one (the daemon's); -EEXIST if it exists. */
int	 ns_engine_create_named(struct ns_engine *, const char *name);
/*
 * Attach the named segment of an earlier run with this layout, and make
 * it ready for new processes (slots, input control words); every counter
 * and table is kept.  -ESTALE: it was made by another configuration.
 */
int	 ns_engine_reattach(struct ns_engine *, const char *name);
/* The layout hash cfg would give (after ns_engine_init). */
uint64_t ns_engine_layout_hash(struct ns_engine *);
/*
 * Attach the named segment, whatever its layout (read-only if rdonly), and
 * rebuild its engine from the configuration stored in it, into cfg: for
 * tools and for a daemon facing an earlier configuration's segment.  0,
 * the attach's -errno, or -EBADMSG when the configuration cannot be read
 * back.  ns_engine_close() and ns_config_free(cfg) undo it.
 */
int	 ns_engine_open_segment(struct ns_engine *, struct ns_config *cfg,
	    const char *name, int rdonly);
/* What an ns_engine_open_segment() failure means, for a message. */
const char *ns_engine_open_strerror(int rc);
/* 1 once every input has published its end. */
int	 ns_engine_inputs_done(const struct ns_engine *);
/* The configuration text a segment was made with (NUL-terminated). */
const char *ns_engine_config_text(const struct ns_seg *);
void	 ns_engine_close(struct ns_engine *);

struct ns_alert_state;		/* alert.h */
struct ns_input_state	*ns_engine_input(const struct ns_engine *, unsigned i);
struct ns_export_state	*ns_engine_export(const struct ns_engine *);
struct ns_alert_state	*ns_engine_alert(const struct ns_engine *);
struct ns_worker_stats	*ns_engine_wstats(const struct ns_engine *, unsigned w);
struct ns_ring		*ns_engine_ring(const struct ns_engine *, unsigned input,
			    unsigned worker);

/* The worker a record goes to: low hash bits, the tables use the high. */
static inline unsigned
ns_engine_pick(const struct ns_engine *e, uint64_t hash)
{
	return (unsigned)(((uint64_t)(uint32_t)hash * e->nworkers) >> 32);
}

/* The worker a parsed packet goes to, by its flow: the hash is made (and
 * kept in the record) only when there is a choice to make. */
static inline unsigned
ns_engine_pick_packet(const struct ns_engine *e, struct ns_record *rec)
{
	if (e->nworkers == 1)
		return 0;
	rec->hash = ns_parse_flow_hash(rec, 0);
	return ns_engine_pick(e, rec->hash);
}

/* Sketch task k's region of worker w in generation g. */
void	*ns_engine_sketch(const struct ns_engine *, uint64_t g, unsigned k,
	    unsigned w);
/* Every sketch region of generation g: back to empty (no writer, no
 * reader). */
void	 ns_engine_sketch_clear(const struct ns_engine *, uint64_t g);

/* Capacity of one worker's shard of task t. */
uint64_t ns_engine_shard_flows(const struct ns_engine *, unsigned t);

/* Number of journaled cells a worker's batch can need. */
uint64_t ns_engine_stats_cells(const struct ns_engine *);

#endif /* NS_ENGINE_H */
