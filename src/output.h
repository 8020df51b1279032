/*
 * output.h -- the text forms of a flow: JSON lines and CSV.  analyze and
 * the file writers share them, so their outputs are identical.
 */
#ifndef NS_OUTPUT_H
#define NS_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include "table.h"
#include "task.h"

enum ns_flow_fmt { NS_FLOWS_NONE = 0, NS_FLOWS_JSONL, NS_FLOWS_CSV };

/* {"task":...,"period_start":...,<key fields>,"packets":...,...} */
void	 ns_output_flow_jsonl(FILE *, const struct ns_task *,
	    uint64_t period_start, const struct ns_flow *);
void	 ns_output_flow_csv_header(FILE *, const struct ns_task *);
void	 ns_output_flow_csv(FILE *, const struct ns_task *,
	    uint64_t period_start, const struct ns_flow *);

/* {"task":...,"period_start":...,"type":"count","flow":{...},"value":N,
 * "error":N} -- and the CSV form: task,period_start,type,<flow fields>,
 * value,error. */
void	 ns_output_sketch_jsonl(FILE *, const char *task,
	    const struct ns_task *flow, uint64_t period_start,
	    const char *type, const uint8_t *key, uint64_t value,
	    uint64_t err);
void	 ns_output_sketch_csv_header(FILE *, const struct ns_task *flow);
void	 ns_output_sketch_csv(FILE *, const char *task,
	    const struct ns_task *flow, uint64_t period_start,
	    const char *type, const uint8_t *key, uint64_t value,
	    uint64_t err);

#endif /* NS_OUTPUT_H */
