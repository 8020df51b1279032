/*
 * pcaploop.c -- benchmark baseline: the cheapest possible libpcap read loop.
 *
 * Reads every packet of one or more capture files with pcap_next_ex() and
 * touches each one minimally (caplen, wire length and one header byte are
 * summed, so the loop cannot be optimised away).  Prints the packet count
 * and the seconds spent, measured with CLOCK_MONOTONIC around the loop
 * (pcap_open_offline included).  This is the floor any file-reading flow
 * aggregator is compared against: nothing can read the file faster through
 * libpcap.
 *
 * Build: gcc -O2 -Wall -Wextra -Werror pcaploop.c -lpcap
 * Usage: pcaploop FILE...
 */
#include <pcap/pcap.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	uint64_t packets = 0, caplen = 0, wirelen = 0, touch = 0;
	double t0, secs;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: pcaploop FILE...\n");
		return 2;
	}
	t0 = now();
	for (i = 1; i < argc; i++) {
		struct pcap_pkthdr *h;
		const u_char *data;
		pcap_t *p;
		int rc;

		if ((p = pcap_open_offline(argv[i], errbuf)) == NULL) {
			fprintf(stderr, "pcaploop: %s: %s\n", argv[i], errbuf);
			return 1;
		}
		while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
			packets++;
			caplen += h->caplen;
			wirelen += h->len;
			if (h->caplen > 0)
				touch += data[h->caplen - 1];
		}
		if (rc == PCAP_ERROR) {
			fprintf(stderr, "pcaploop: %s: %s\n", argv[i],
			    pcap_geterr(p));
			pcap_close(p);
			return 1;
		}
		pcap_close(p);
	}
	secs = now() - t0;
	printf("packets %" PRIu64 "\n", packets);
	printf("seconds %.6f\n", secs);
	printf("mpps %.3f\n", secs > 0 ? (double)packets / secs / 1e6 : 0.0);
	printf("caplen_bytes %" PRIu64 "\n", caplen);
	printf("wire_bytes %" PRIu64 "\n", wirelen);
	printf("checksum %" PRIu64 "\n", touch);
	return 0;
}
