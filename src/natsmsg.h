/*
 * natsmsg.h -- the packet messages on NATS: ring records (record.h) in and
 * out of Go2NetSpectra's v1.PacketInfo (proto/traffic.proto) and
 * netspectra's PacketBatch (proto/netspectra.proto).  The one codec of the
 * probe, the engine's NATS input and the fuzzer.
 *
 * A message is one PacketInfo (what Go2NetSpectra's probe sends, and
 * netspectra's by default) or, from `netspectra probe` with probe.batch >
 * 1, a PacketBatch.  The two are told apart by a NATS header, not by the
 * payload: a batch is published with
 *
 *	Content-Type: application/x-protobuf; proto=netspectra.PacketBatch
 *
 * and a message without a Content-Type is a PacketInfo.  No guess from the
 * bytes can be robust -- a PacketInfo with an empty timestamp is also a
 * well-formed PacketBatch of one empty packet -- and a subject of its own
 * would make every subscriber (queue groups, JetStream streams) name two.
 *
 * Decoding validates every packet: addresses of 4 or 16 bytes, both of one
 * family; ports up to 65535; protocol up to 255; a timestamp present and
 * within 1970..2100; a length from 1 to NS_NATSMSG_MAX_WIRELEN.  What fails
 * is counted by reason (the names are metric labels) and never read past
 * the message.  Records get the parser's symmetric flow hash
 * (ns_parse_flow_hash), so a packet from NATS goes to the worker a capture
 * of the same packet would have picked.
 *
 * Pure like the parser: no logging, no global state; decoding allocates
 * only inside protobuf-c and frees before returning.
 */
#ifndef NS_NATSMSG_H
#define NS_NATSMSG_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

/* The header that marks a batch, and its value. */
#define NS_NATSMSG_HDR_TYPE	"Content-Type"
#define NS_NATSMSG_CT_BATCH	"application/x-protobuf; proto=netspectra.PacketBatch"
#define NS_NATSMSG_CT_PACKET	"application/x-protobuf; proto=v1.PacketInfo"

/* Largest message decoded: the NATS server's default max_payload. */
#define NS_NATSMSG_MAX_MSG	(1024 * 1024)
/* Most packets in one batch (the probe sends at most 1024). */
#define NS_NATSMSG_MAX_BATCH	4096
/* Longest packet accepted (the largest snaplen anyone uses). */
#define NS_NATSMSG_MAX_WIRELEN	262144
/* Latest timestamp accepted: 2100-01-01T00:00:00Z. */
#define NS_NATSMSG_MAX_SECONDS	4102444800LL
/* Bytes one encoded PacketInfo can take (a batch adds 2 per packet). */
#define NS_NATSMSG_PACKET_MAX	96

enum ns_natsmsg_kind {
	NS_NATSMSG_PACKET = 0,		/* one v1.PacketInfo */
	NS_NATSMSG_BATCH,		/* netspectra.PacketBatch */
	NS_NATSMSG_UNKNOWN,		/* a Content-Type we do not speak */
};

/*
 * Why a message or a packet was refused.  The values index counter arrays
 * and the names are metric labels: append before NS_NATSMSG_NREASONS, never
 * renumber or rename.
 */
enum ns_natsmsg_reason {
	NS_NATSMSG_OK = 0,
	NS_NATSMSG_MALFORMED,		/* not protobuf, or not this message */
	NS_NATSMSG_OVERSIZE,		/* over NS_NATSMSG_MAX_MSG, or more
					 * packets than the caller has room for */
	NS_NATSMSG_BAD_TYPE,		/* Content-Type names another message */
	NS_NATSMSG_MISSING_FIELD,	/* no timestamp, or no five_tuple */
	NS_NATSMSG_BAD_ADDRESS,		/* not 4 or 16 bytes, or mixed */
	NS_NATSMSG_BAD_PORT,		/* above 65535 */
	NS_NATSMSG_BAD_PROTOCOL,	/* above 255 */
	NS_NATSMSG_BAD_TIMESTAMP,	/* before 1970, after 2100, bad nanos */
	NS_NATSMSG_BAD_LENGTH,		/* 0, or above NS_NATSMSG_MAX_WIRELEN */
	NS_NATSMSG_EMPTY_BATCH,		/* a batch without packets */
	NS_NATSMSG_NREASONS
};

/* Stable snake_case name ("bad_address", ...); never NULL. */
const char *ns_natsmsg_reason_name(enum ns_natsmsg_reason);

/* The kind of a message from its Content-Type header value (NULL: none). */
enum ns_natsmsg_kind ns_natsmsg_kind_of(const char *content_type);

/*
 * Encode one packet record (kind NS_REC_PACKET, ipver 4 or 6) as a
 * PacketInfo into buf[len]; its size into *outlen.  0, -EINVAL for a record
 * that is no packet, -ENOBUFS when len is too small (NS_NATSMSG_PACKET_MAX
 * always is enough).  IPv4 addresses go out as 4 bytes, IPv6 as 16.
 */
int	ns_natsmsg_encode_packet(const struct ns_record *, void *buf,
	    size_t len, size_t *outlen);

/*
 * Append one packet to a PacketBatch being built in buf[len], whose first
 * *used bytes are the batch so far (0: an empty batch); *used grows.  A
 * batch is its packets' entries one after another, so it is built as the
 * packets come, without holding the records.  0, -EINVAL, -ENOBUFS (buf
 * unchanged).
 */
int	ns_natsmsg_batch_append(const struct ns_record *, void *buf,
	    size_t len, size_t *used);

/* Encode n records as one PacketBatch: 0, -EINVAL, -ENOBUFS. */
int	ns_natsmsg_encode_batch(const struct ns_record *, size_t n, void *buf,
	    size_t len, size_t *outlen);

/*
 * Decode one message of the given kind into recs[cap].  Returns the number
 * of records written (a PacketInfo: 1; a batch: its good packets, 0 to
 * cap); or -EBADMSG when the message as a whole is refused (malformed,
 * oversize, unknown kind, empty batch, or a PacketInfo that fails a check).
 * Every refusal is counted in bad[reason], when bad is not NULL: one per
 * refused packet of a batch, or one for a refused message.  A batch's bad
 * packets are left out and its good ones kept.  Records are NS_REC_PACKET with hash set, input 0, and no
 * VLAN, DSCP or TCP flags (the message does not carry them).
 */
int	ns_natsmsg_decode(const void *buf, size_t len, enum ns_natsmsg_kind,
	    struct ns_record *recs, size_t cap,
	    uint64_t bad[NS_NATSMSG_NREASONS]);

#endif /* NS_NATSMSG_H */
