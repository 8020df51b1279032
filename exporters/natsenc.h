/*
 * natsenc.h -- the NATS writer's messages (proto/netspectra.proto): a
 * task's snapshot encoded whole, and cut into chunks under a server's
 * max_payload.
 *
 * A whole snapshot is one valid FlowSnapshot or HeavyHitterSnapshot
 * message holding every record, its header's chunk_index and chunk_count
 * unset: what the writer keeps in its spool (`protoc --decode` reads a
 * spool file as it is).  Chunking happens when it is sent, against the
 * max_payload of the server connected then: a spool file outlives
 * connections, and servers of one cluster may differ.  Each chunk is the
 * same message with the header (chunk_index, chunk_count set), the fields
 * every chunk repeats (a heavy-hitter snapshot's kind and element fields)
 * and a run of the records, in their order; records are never split.
 *
 * Pure: no logging, no global state.
 */
#ifndef NS_NATSENC_H
#define NS_NATSENC_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "table.h"
#include "task.h"

enum ns_natsenc_kind {
	NS_NATSENC_FLOWS = 0,		/* FlowSnapshot, an exact task */
	NS_NATSENC_HH,			/* HeavyHitterSnapshot, a sketch task */
};

struct ns_natsenc_hdr {
	const char	*task;
	const char	*node;
	const char	*generation;	/* "<segment ns>.<generation>" */
	uint64_t	 period_start_ns;
	uint64_t	 snapshot_ns;
	int		 final;
	const struct ns_config_fields *key_fields;
	/* NS_NATSENC_HH only: */
	unsigned	 hh_kind;	/* enum ns_sketch_kind */
	const struct ns_config_fields *element_fields;	/* spread, or NULL */
};

/* A whole snapshot being built. */
struct ns_natsenc {
	enum ns_natsenc_kind kind;
	uint8_t		*buf;
	size_t		 len, cap;
	uint64_t	 records;
	int		 nomem;		/* a record did not fit in memory */
};

/* Start a snapshot with its header: 0 or -ENOMEM (e freed). */
int	 ns_natsenc_begin(struct ns_natsenc *, enum ns_natsenc_kind,
	    const struct ns_natsenc_hdr *);
/* One flow of task t: 0 or -ENOMEM (the snapshot is then unusable). */
int	 ns_natsenc_flow(struct ns_natsenc *, const struct ns_task *t,
	    const struct ns_flow *);
/* One heavy hitter, key of flow-field task t: 0 or -ENOMEM. */
int	 ns_natsenc_hitter(struct ns_natsenc *, const struct ns_task *t,
	    const uint8_t *key, uint64_t value, uint64_t err_bound);
void	 ns_natsenc_free(struct ns_natsenc *);

/* What a whole snapshot says of itself. */
struct ns_natsenc_info {
	char		 task[NS_CONFIG_NAME_MAX];
	uint64_t	 period_start_ns;
	uint64_t	 snapshot_ns;
	int		 final;
	uint64_t	 records;
};

/* 0, or -EBADMSG when msg is no whole snapshot of that kind. */
int	 ns_natsenc_info(enum ns_natsenc_kind, const void *msg, size_t len,
	    struct ns_natsenc_info *);

/* Called for each chunk in turn; nonzero stops the split and is returned. */
typedef int (*ns_natsenc_chunk_fn)(void *arg, const void *chunk, size_t len,
    unsigned index, unsigned count);

/*
 * Cut the whole snapshot msg[len] into chunks of at most max bytes each
 * (a snapshot without records is one chunk).  The number of chunks, or
 * -EBADMSG (no whole snapshot of that kind), -EMSGSIZE (one record with
 * the header does not fit in max), -ENOMEM, or fn's first nonzero return.
 */
int	 ns_natsenc_split(enum ns_natsenc_kind, const void *msg, size_t len,
	    size_t max, ns_natsenc_chunk_fn fn, void *arg);

#endif /* NS_NATSENC_H */
