/*
 * file.h -- the text, jsonl and csv writers: Go2NetSpectra's layout
 * <root_path>/<timestamp>/<task>/ with the flows and a summary.json.
 */
#ifndef NS_FILE_H
#define NS_FILE_H

#include <stdint.h>

#include "config.h"
#include "engine.h"

/*
 * Write the snapshot of every exact task of generation g.  final marks a
 * period's last snapshot.  Each file is written under a temporary name and
 * renamed, so a reader never sees half of one.  0 or -errno (logged).
 */
int	 ns_file_write_exact(const struct ns_config_writer *,
	    const struct ns_engine *, uint64_t g, uint64_t period_start,
	    int final);

/* The same for every sketch task: count.*, size.* or spread.* files. */
int	 ns_file_write_sketch(const struct ns_config_writer *,
	    const struct ns_engine *, uint64_t g, uint64_t period_start,
	    int final);

#endif /* NS_FILE_H */
