/*
 * task.h -- exact tasks: how a ring record becomes a task's flow key, and
 * how a key is written back as the fields the configuration named.
 *
 * A key is the concatenation of the task's key fields in config order:
 * addresses and networks 16 bytes (IPv4 mapped), ports and VLAN 2 bytes
 * (big-endian, so keys compare and print the same everywhere), protocol,
 * IP version and DSCP 1 byte.  A task that names an address but not
 * IPVersion gets a hidden leading version byte, so an IPv4 flow and an
 * IPv6 flow to a v4-mapped address stay apart and print as they came.
 */
#ifndef NS_TASK_H
#define NS_TASK_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "record.h"

struct ns_task {
	const char *name;
	struct ns_config_fields fields;
	uint32_t key_size;
	uint8_t hidden_ipver;		/* key[0] is the IP version */
	uint8_t full_tuple;		/* key holds the 5-tuple: one shard each */
	/* The fields are SrcIP, DstIP, SrcPort, DstPort, Protocol, in this
	 * order: ns_task_key_build() writes the key without its field loop
	 * (a third of the exact workers' time went to it). */
	uint8_t five;
	uint64_t max_flows;
};

/* 0, or -EINVAL (with a message in err) when the key cannot be held. */
int	 ns_task_init(struct ns_task *, const struct ns_config_exact_task *,
	    char *err, size_t errlen);
/* The same for a key of any field list (sketch flow/element fields). */
int	 ns_task_init_fields(struct ns_task *, const char *name,
	    const struct ns_config_fields *, char *err, size_t errlen);
/* Build the key of rec into key (ns_task.key_size bytes); its hash. */
uint64_t ns_task_key(const struct ns_task *, const struct ns_record *rec,
	    uint8_t *key);
/*
 * Only build it.  Hashing a key right after writing it byte by byte makes
 * the hash's word loads wait for store forwarding that cannot happen; a
 * worker builds a batch of keys first and hashes them afterwards.
 */
void	 ns_task_key_build(const struct ns_task *, const struct ns_record *rec,
	    uint8_t *key);
uint64_t ns_task_key_hash(const struct ns_task *, const uint8_t *key);
/* 1 if a and b build the same key bytes from every record. */
int	 ns_task_same_key(const struct ns_task *a, const struct ns_task *b);
/*
 * 1 if packets with equal keys of t always have equal keys of sub: every
 * field of sub is one of t's (the IP version too, hidden or not).
 */
int	 ns_task_key_implies(const struct ns_task *t, const struct ns_task *sub);
/* "\"SrcIP\":\"10.0.0.1\",\"SrcPort\":80" -- JSON members, no braces. */
void	 ns_task_key_json(const struct ns_task *, const uint8_t *key, FILE *);
/* Longest text of one key field: an IPv6 network with its length. */
#define NS_TASK_TEXT_MAX	64

/*
 * Field i of the key (in configuration order) as text, as every output
 * prints it: addresses in ns_addr_format()'s form, networks as addr/len,
 * numbers in decimal.  0, or -EINVAL when the key has no field i.
 */
int	 ns_task_key_text(const struct ns_task *, const uint8_t *key,
	    unsigned i, char *out, size_t len);
/*
 * Field i of the key (configuration order) as the key holds it: addresses
 * and networks 16 bytes (IPv4 mapped), ports and VLAN big-endian, the rest
 * one byte; NULL when the key has no field i.  For encoders that carry
 * fields as values (the NATS writer), not text.
 */
const uint8_t *ns_task_key_field(const struct ns_task *, const uint8_t *key,
	    unsigned i);
/* The key's IP version: 4 or 6, or 0 when it has no address and no
 * IPVersion field. */
int	 ns_task_key_ipver(const struct ns_task *, const uint8_t *key);
/* Comma-separated values, and the matching header names. */
void	 ns_task_key_csv(const struct ns_task *, const uint8_t *key, FILE *);
void	 ns_task_key_csv_header(const struct ns_task *, FILE *);

#endif /* NS_TASK_H */
