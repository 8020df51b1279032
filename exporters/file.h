/*
 * file.h -- the text, jsonl and csv writers: <root_path>/<timestamp>/
 * <task>/ with the flows and a summary.json, in netspectra's layout or
 * (ns_config_writer.layout) exactly Go2NetSpectra's names and formats.
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

/*
 * The same for every sketch task: count.*, size.* or spread.* files
 * (Go2NetSpectra's count_hh.txt, size_hh.txt, spread_ss.txt); keys over a
 * threshold left out are counted in summary.json and, for a final
 * snapshot, logged.
 */
int	 ns_file_write_sketch(const struct ns_config_writer *,
	    const struct ns_engine *, uint64_t g, uint64_t period_start,
	    int final);

/* 1 for the writer types this module writes: text, jsonl, csv. */
int	 ns_file_writer_supported(const struct ns_config_writer *);

/* 1 if writer i of an aggregator (sketch: 0 exact, 1 sketch) is due. */
typedef int (*ns_file_due_fn)(const struct ns_engine *,
    const struct ns_config_writer *, int sketch, unsigned i);

/*
 * Generation g to every enabled file writer of both aggregators; due,
 * when not NULL, picks among them.  0 or the first writer's -errno.
 */
int	 ns_file_write_all(const struct ns_engine *, uint64_t g,
	    uint64_t period_start, int final, ns_file_due_fn due);

#endif /* NS_FILE_H */
