/*
 * addr.c -- text forms of addresses, times and TCP flags.
 */
#include "addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *
ns_addr_format(const uint8_t addr[16], int ipver, char *buf, size_t len)
{
	/* inet_ntop follows RFC 5952 (lower case, longest zero run compressed). */
	if (ipver == 4)
		return inet_ntop(AF_INET, addr + 12, buf, len);
	return inet_ntop(AF_INET6, addr, buf, len);
}

const char *
ns_time_format(uint64_t ts_ns, char *buf, size_t len)
{
	time_t sec = (time_t)(ts_ns / 1000000000u);
	uint32_t ns = (uint32_t)(ts_ns % 1000000000u);
	struct tm tm;
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (ns == 0)
		snprintf(buf + n, len - n, "Z");
	else if (ns % 1000 == 0)
		snprintf(buf + n, len - n, ".%06uZ", ns / 1000);
	else
		snprintf(buf + n, len - n, ".%09uZ", ns);
	return buf;
}

const char *
ns_tcpflags_format(uint8_t flags, char *buf, size_t len)
{
	static const char names[] = "FSRPAUEW";	/* bit 0 .. bit 7 */
	static const int order[] = { 1, 0, 2, 3, 4, 5, 6, 7 }; /* S F R P A U E W */
	size_t n = 0;

	for (size_t i = 0; i < 8 && n + 1 < len; i++)
		if (flags & (1u << order[i]))
			buf[n++] = names[order[i]];
	buf[n] = '\0';
	return buf;
}
