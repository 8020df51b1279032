/*
 * fuzz_parse.c -- libFuzzer harness for the packet parser (src/parse.c).
 *
 * The first input byte picks the link type, the rest is the frame.  The
 * frame is copied into a buffer of exactly its size so that AddressSanitizer
 * sees any read past caplen.  Build and run:
 *
 *	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *	    src/parse.c tests/fuzz/fuzz_parse.c -lxxhash -o fuzz_parse
 *	./fuzz_parse -max_len=256 corpus/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/dlt.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Every link type ns_parse_dlt_supported() accepts, plus one it does not
 * (unsupported_link).  101 is LINKTYPE_RAW as a file header has it.  New
 * ones go at the end: a seed's first byte keeps its link type.
 */
static const int fuzz_dlts[] = {
	DLT_EN10MB, DLT_RAW, DLT_IPV4, DLT_IPV6, DLT_LINUX_SLL,
	DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP, 101, DLT_IEEE802_11,
};

/* Both directions of a flow hash alike. */
static void
check_hash(const struct ns_record *rec)
{
	struct ns_record back = *rec;

	memcpy(back.src, rec->dst, sizeof(back.src));
	memcpy(back.dst, rec->src, sizeof(back.dst));
	back.sport = rec->dport;
	back.dport = rec->sport;
	if (ns_parse_flow_hash(&back, 0) != ns_parse_flow_hash(rec, 0) ||
	    ns_parse_flow_hash(&back, 7) != ns_parse_flow_hash(rec, 7))
		abort();
}

/* Properties that must hold for every input, parsed or not. */
static void
check(int dlt, enum ns_parse_result res, const struct ns_record *rec,
    uint32_t len)
{
	if ((unsigned)res >= NS_PARSE_NREASONS)
		abort();
	if ((res == NS_PARSE_UNSUPPORTED_LINK) == ns_parse_dlt_supported(dlt))
		abort();
	if (res != NS_PARSE_OK)
		return;
	if (rec->ipver != 4 && rec->ipver != 6)
		abort();
	if (rec->wire_len != len || rec->kind != NS_REC_PACKET)
		abort();
	/* The hash is made later, and only to pick a worker. */
	if (rec->hash != 0)
		abort();
	check_hash(rec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ns_record rec;
	enum ns_parse_result res;
	uint8_t *frame;
	uint32_t len;
	int dlt;

	if (size < 1 || size > 65536)
		return 0;
	dlt = fuzz_dlts[data[0] % (sizeof(fuzz_dlts) / sizeof(fuzz_dlts[0]))];
	len = (uint32_t)(size - 1);
	if ((frame = malloc(len ? len : 1)) == NULL)
		return 0;
	memcpy(frame, data + 1, len);
	res = ns_parse_packet(dlt, frame, len, len, 0, &rec);
	check(dlt, res, &rec, len);
	free(frame);
	return 0;
}
