/*
 * capture.h -- the capture role: read an input, parse every frame, and put
 * the records into the rings of the workers their flows belong to.
 */
#ifndef NS_CAPTURE_H
#define NS_CAPTURE_H

#include "engine.h"
#include "ring.h"

struct ns_capture_files {
	char *const	*paths;		/* read in order, as one input */
	int		 npaths;
	int		 progress;	/* show progress on stderr */
};

/*
 * Run input `input` over the files; never returns.  Exits 0 once every
 * record is published; a file that was unreadable or cut sets
 * NS_INPUT_FAILED in the input's state (after publishing what it held).  A restarted capture resumes exactly where
 * the killed one left each ring (ns_ring_publish_pos).
 */
void	 ns_capture_files_main(struct ns_engine *, unsigned input,
	    const struct ns_capture_files *) __attribute__((noreturn));

/*
 * Capture live from cfg's interface (or the default route's) until the
 * supervisor sets the input's stop word; never returns.  Periods follow
 * the wall clock; a full ring holds the capture back (or, with ring_full:
 * drop, drops the packet and counts it); kernel drops come from
 * pcap_stats.  Exits 0 once the end is published,
 * NS_EXIT_NORESPAWN when the interface cannot be opened at the run's
 * start (restarts 0); one that disappears later, or is missing when a
 * crashed capture is restarted, is waited for (periods go on) and opened
 * again.
 */
void	 ns_capture_live_main(struct ns_engine *, unsigned input,
	    const struct ns_config_input *, unsigned restarts)
	    __attribute__((noreturn));

/* The interface of the default route, from /proc/net/route; 0 or -errno
 * (-ENOENT without a default route). */
int	 ns_capture_default_iface(char *buf, size_t len);

/*
 * The file input's machinery, shared with the other inputs whose records
 * have positions (the NATS input with JetStream: a stream is much like a
 * file whose frames are stream sequences).  Record p of frame f is 2f+1,
 * the period marker before it 2f; a ring is given only what lies at or
 * past its published position, so a restarted input that replays from
 * its checkpoint puts nothing in twice.  A full ring is waited on.
 */
struct ns_cap_ring {
	struct ns_ring_prod	 prod;
	struct ns_record	*next;		/* next free reserved record */
	unsigned		 avail;		/* reserved, not yet written */
	unsigned		 pending;	/* written, not yet published */
	uint64_t		 pos;		/* holds every position < pos */
	uint64_t		 upto;		/* 1 + position last put in it */
};

struct ns_capture {
	struct ns_engine	*e;
	unsigned		 input;
	struct ns_cap_ring		*ring;		/* one per worker */
	uint64_t		 cur;		/* positions < cur are emitted */
	uint64_t		 gen;		/* generation of the current period */
	uint64_t		 period;	/* its start, ns */
	/* cap_clock's shortcut: while period == clock_period, a timestamp
	 * below clock_next is in it (0: no shortcut yet). */
	uint64_t		 clock_period, clock_next;
	int			 started;	/* a frame has been seen */
	int			 failed;	/* a file was cut */
	uint64_t		 replay_end;	/* every ring holds positions below */
	struct ns_input_ckpt	 resume;	/* where this process started */
	/* progress */
	int			 progress;
	double			 t0, shown;
};

/* Start from the input's checkpoint in force and the rings' positions. */
void	 ns_capture_init(struct ns_capture *, struct ns_engine *,
	    unsigned input);
/* Put the record of position p into worker w's ring (waits for room). */
void	 ns_capture_put(struct ns_capture *, unsigned w,
	    const struct ns_record *, uint64_t p);
/* Publish every ring with the position reached (c->cur). */
void	 ns_capture_publish_all(struct ns_capture *);
/* Period bookkeeping before frame f of timestamp ts (may cross a
 * boundary); the same on every replay. */
void	 ns_capture_clock(struct ns_capture *, uint64_t f, uint64_t ts);
/* A boundary before frame f to a period starting at start (NS_ENGINE_END:
 * the input's end). */
void	 ns_capture_boundary(struct ns_capture *, uint64_t f, uint64_t start);
/* The input has ended (NS_INPUT_DONE, maybe | NS_INPUT_FAILED): said in
 * its state after everything is published, and every worker woken. */
void	 ns_capture_done(struct ns_capture *, uint64_t flags);

#endif /* NS_CAPTURE_H */
