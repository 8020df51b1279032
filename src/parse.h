/*
 * parse.h -- the packet parser: one captured frame in, one ring record
 * (record.h) out, or the reason it could not be made (DESIGN §3).
 *
 * The parser is pure: no allocation, no logging, no global state.  It never
 * reads past caplen and treats every length field in the packet as a claim
 * to be checked, never as a bound.  Callers count the result by reason;
 * a malformed packet is skipped, not fatal.
 */
#ifndef NS_PARSE_H
#define NS_PARSE_H

#include <stdint.h>

#include "record.h"

/* Deepest 802.1Q/802.1ad/0x9100 tag stack accepted (QinQ is 2). */
#define NS_PARSE_MAX_VLAN	8
/* Most IPv6 extension headers (and IPv4 AH headers) walked per packet. */
#define NS_PARSE_MAX_EXT	10

/*
 * The result of parsing one frame.  The values index counter arrays and the
 * names are metric labels: append new reasons before NS_PARSE_NREASONS and
 * never renumber or rename.
 */
enum ns_parse_result {
	NS_PARSE_OK = 0,
	NS_PARSE_NOT_IP,		/* ARP, LLDP, 802.3 LLC, ...: skipped */
	NS_PARSE_UNSUPPORTED_LINK,	/* a DLT this parser does not know */
	/* Malformed packets, by reason (ns_parse_is_error() is true). */
	NS_PERR_TRUNCATED_L2,		/* link header (or a VLAN tag) cut */
	NS_PERR_TRUNCATED_IP,		/* IP header cut */
	NS_PERR_BAD_VERSION,		/* IP version not the one announced */
	NS_PERR_BAD_IHL,		/* IPv4 header length < 20 */
	NS_PERR_BAD_TOTAL_LEN,		/* IPv4 total length < header length */
	NS_PERR_EXT_CHAIN,		/* extension headers run past the data */
	NS_PERR_EXT_TOO_MANY,		/* more than NS_PARSE_MAX_EXT of them */
	NS_PERR_TRUNCATED_L4,		/* TCP/UDP/SCTP header cut */
	NS_PERR_BAD_TCP_OFF,		/* TCP data offset < 5 */
	NS_PERR_VLAN_TOO_DEEP,		/* more than NS_PARSE_MAX_VLAN tags */
	NS_PARSE_NREASONS
};

/* Stable snake_case name of a result ("truncated_ip", ...); never NULL. */
const char *ns_parse_reason_name(enum ns_parse_result r);
/* 1 for the malformed-packet reasons (NS_PERR_*), 0 otherwise. */
int ns_parse_is_error(enum ns_parse_result r);
/* 1 when ns_parse_packet() understands this pcap_datalink() value. */
int ns_parse_dlt_supported(int dlt);

/*
 * Parse one frame of link type dlt (a pcap_datalink() value).  caplen bytes
 * are readable at pkt; wirelen is the length on the wire.  The record is
 * overwritten in full; it is meaningful only when NS_PARSE_OK is returned.
 * rec->hash is left 0: ns_engine_pick_packet() makes it when there are
 * workers to choose among.
 */
enum ns_parse_result ns_parse_packet(int dlt, const uint8_t *pkt,
    uint32_t caplen, uint32_t wirelen, uint64_t ts_ns, struct ns_record *rec);

/*
 * Symmetric flow hash (xxHash3) of addresses, ports and protocol: both
 * directions of a flow hash alike.  VLAN, DSCP and the rest are left out so
 * that a flow whose directions differ in them still lands on one worker.
 */
uint64_t ns_parse_flow_hash(const struct ns_record *rec, uint64_t seed);

#endif /* NS_PARSE_H */
