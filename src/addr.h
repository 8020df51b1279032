/*
 * addr.h -- text forms of record addresses and timestamps, shared by every
 * output (CLI, files, exporters) so that they all agree byte for byte.
 */
#ifndef NS_ADDR_H
#define NS_ADDR_H

#include <stddef.h>
#include <stdint.h>

#define NS_ADDR_STRLEN 46	/* INET6_ADDRSTRLEN */
#define NS_TIME_STRLEN 40

/* IPv4 (ipver 4, stored IPv4-mapped) as dotted quad, IPv6 in RFC 5952 form. */
const char *ns_addr_format(const uint8_t addr[16], int ipver, char *buf, size_t len);
/* RFC 3339 UTC with nanoseconds trimmed to the precision needed. */
const char *ns_time_format(uint64_t ts_ns, char *buf, size_t len);
/* "SA", "FPA", ...: TCP flags in the order tcpdump prints them. */
const char *ns_tcpflags_format(uint8_t flags, char *buf, size_t len);

#endif /* NS_ADDR_H */
