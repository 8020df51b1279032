/*
 * record.h -- the 64-byte ring record: one parsed packet, as it travels from
 * a capture process to a worker (DESIGN §2.2).  Also carries in-band control
 * (period markers), so that a period boundary is exact in packet time.
 *
 * The layout is part of the shared-memory ABI: changing it changes
 * NS_RECORD_ABI, and a static assertion keeps it one cache line.
 */
#ifndef NS_RECORD_H
#define NS_RECORD_H

#include <assert.h>
#include <stdint.h>

#define NS_RECORD_ABI 1

enum ns_record_kind {
	NS_REC_PACKET = 0,	/* a parsed packet */
	NS_REC_PERIOD = 1,	/* period boundary marker: ts_ns = the new
				 * period's start, hash = its generation */
	NS_REC_SKIPPED = 2,	/* a frame the parser did not take: proto =
				 * enum ns_parse_result, wire_len; counted by
				 * a worker so that it is counted once */
};

/* TCP flag bits as on the wire (low byte of the TCP flags field). */
enum {
	NS_TCP_FIN = 0x01, NS_TCP_SYN = 0x02, NS_TCP_RST = 0x04,
	NS_TCP_PSH = 0x08, NS_TCP_ACK = 0x10, NS_TCP_URG = 0x20,
	NS_TCP_ECE = 0x40, NS_TCP_CWR = 0x80,
};

struct ns_record {
	uint64_t ts_ns;		/* capture time, ns since the epoch */
	uint8_t src[16];	/* IPv6, or IPv4-mapped ::ffff:a.b.c.d */
	uint8_t dst[16];
	uint64_t hash;		/* symmetric flow hash (both directions equal),
				 * made by ns_engine_pick_packet() */
	uint32_t wire_len;	/* length on the wire (pcap "len") */
	uint16_t sport;		/* 0 unless TCP/UDP/SCTP first fragment */
	uint16_t dport;
	uint16_t vlan;		/* outermost 802.1Q/802.1ad VLAN ID, 0 if none */
	uint8_t proto;		/* upper-layer protocol (after IPv6 ext hdrs) */
	uint8_t ipver;		/* 4 or 6 */
	uint8_t tcp_flags;	/* NS_TCP_*, 0 unless TCP */
	uint8_t dscp;		/* DSCP (upper 6 bits of TOS / traffic class) */
	uint8_t input;		/* index of the input that captured it */
	uint8_t kind;		/* enum ns_record_kind */
};

static_assert(sizeof(struct ns_record) == 64, "ring record must be one cache line");

#endif /* NS_RECORD_H */
