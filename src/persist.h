/*
 * persist.h -- probe persistence, the probe's side: `netspectra probe`
 * with probe.persistence.enabled also writes what it captures to files
 * (pcap or text, rotated by size and time, at most max_files of them).
 *
 * The files are written by a process of their own, forked by the probe
 * and fed through a shared-memory ring (pring.h): publishing to NATS
 * never waits for a disk.  When the ring is full the packet is dropped
 * from persistence only, and counted.  A writer that dies is restarted
 * with backoff and takes over exactly where the last one committed
 * (persist_writer.h); one that dies 5 times in a minute (or exits for a
 * configuration error) turns persistence off for the rest of the run,
 * and publishing goes on.
 */
#ifndef NS_PERSIST_H
#define NS_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "record.h"

struct ns_persist;

/* Every captured frame ends up in written or in one drop counter. */
struct ns_persist_stats {
	uint64_t	 written;	/* frames in the files */
	uint64_t	 ring_full;	/* dropped: the writer was behind */
	uint64_t	 write_error;	/* dropped: a write or a create failed */
	uint64_t	 writer_down;	/* dropped: persistence turned off */
	uint64_t	 errors;	/* failed create/write calls */
	uint64_t	 rotated;	/* files closed by rotate_size/_interval */
	uint64_t	 removed;	/* old files removed for max_files */
	uint64_t	 crashes;	/* writer processes that died */
	bool		 disabled;
};

int	 ns_persist_start(struct ns_persist **, const struct ns_config_probe *,
	    int dlt);
void	 ns_persist_packet(struct ns_persist *, uint64_t ts_ns, uint32_t caplen,
	    uint32_t wirelen, const uint8_t *data, const struct ns_record *rec);
void	 ns_persist_kick(struct ns_persist *);
void	 ns_persist_check(struct ns_persist *);
int	 ns_persist_stop(struct ns_persist *);
void	 ns_persist_stats(const struct ns_persist *, struct ns_persist_stats *);
int	 ns_persist_stats_format(const struct ns_persist_stats *, char *buf,
	    size_t len);
pid_t	 ns_persist_writer_pid(const struct ns_persist *);
void	 ns_persist_free(struct ns_persist *);

#endif /* NS_PERSIST_H */
