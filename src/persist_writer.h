/*
 * persist_writer.h -- the probe's persistence writer process, and the
 * state it shares with the probe (in a MAP_SHARED|MAP_ANONYMOUS page
 * mapped before the fork).
 *
 * The writer takes packet records off the ring (pring.h), encodes them
 * into a buffer of whole records and writes that to the current file.
 * After every write it *commits*: it fills the commit entry not in use
 * with the ring position the files now hold everything before, the
 * current file's name and length, and the counters, then flips
 * commit_idx to it (one 64-bit store), then frees the ring space.  The
 * entry named by commit_idx is thus always one consistent state.
 *
 * A writer killed at any point is replaced by one that starts from that
 * state: it cuts the current file back to the committed length (a half
 * record, or records written but not committed, go), removes files
 * created after the commit, and takes the ring from the committed
 * position -- so the files end up holding every packet once, as if the
 * writer had not died, as long as the ring did not fill meanwhile.
 */
#ifndef NS_PERSIST_WRITER_H
#define NS_PERSIST_WRITER_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "persist_file.h"
#include "pring.h"

/* All uint64_t: the commit copies it word by word (persist_writer.c). */
struct ns_persist_commit {
	uint64_t	 tail;		/* ring bytes before: in the files */
	uint64_t	 file_off;	/* bytes of the current file; 0: none */
	uint64_t	 file_t0;	/* its name: first packet's time */
	uint64_t	 file_seq;	/*   and sequence number */
	uint64_t	 next_seq;	/* of the next file; 0: not yet known */
	uint64_t	 written;	/* packets in the files */
	uint64_t	 lost;		/* packets lost to write errors */
	uint64_t	 errors;	/* failed open/write calls */
	uint64_t	 rotated;	/* files closed by a rotation limit */
	uint64_t	 removed;	/* files removed for max_files */
};

struct ns_persist_shared {
	struct ns_persist_commit commit[2];
	uint64_t	 commit_idx __attribute__((aligned(64)));
	uint64_t	 stop;		/* set by the probe: drain, then exit */
	uint8_t		 pcap_hdr[NS_PERSIST_PCAP_HDR];
};

/* The writer's settings; process-local (a copy in each child). */
struct ns_persist_wcfg {
	const char	*dir;
	enum ns_config_encoding enc;
	struct ns_persist_rot rot;
	unsigned	 max_files;
	uint32_t	 snaplen;
	pid_t		 parent;	/* the probe */
};

/* Exit status of a writer that must not be restarted. */
#define NS_PERSIST_EXIT_CONFIG	2

void	 ns_persist_writer_main(struct ns_persist_shared *, struct ns_pring *,
	    int efd, const struct ns_persist_wcfg *)
	    __attribute__((noreturn));

#endif /* NS_PERSIST_WRITER_H */
