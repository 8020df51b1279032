/*
 * capture.h -- the capture role: read an input, parse every frame, and put
 * the records into the rings of the workers their flows belong to.
 */
#ifndef NS_CAPTURE_H
#define NS_CAPTURE_H

#include "engine.h"

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
 * the wall clock; a full ring drops the packet and counts it (ring_full);
 * kernel drops come from pcap_stats.  Exits 0 once the end is published,
 * NS_EXIT_NORESPAWN when the interface cannot be opened.
 */
void	 ns_capture_live_main(struct ns_engine *, unsigned input,
	    const struct ns_config_input *) __attribute__((noreturn));

#endif /* NS_CAPTURE_H */
