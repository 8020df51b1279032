/*
 * fuzz_natsmsg.c -- libFuzzer harness for the NATS message decoder
 * (src/natsmsg.c), which reads whatever anyone publishes on the subject.
 *
 * The first input byte picks the kind the message claims to be (PacketInfo,
 * PacketBatch, or an unknown Content-Type); the rest is the message, copied
 * into a buffer of exactly its size so that AddressSanitizer sees any read
 * past it.  Beyond "no crash, no leak, no undefined behaviour" it checks
 * what the engine relies on: every record is a packet of IPv4 or IPv6 with
 * a length in range and no flow hash yet (the engine makes it only to pick
 * among workers); every refusal is counted
 * under exactly one reason; and a record encodes and decodes back to
 * itself.  Build and run (from the top of a configured build tree, where
 * the proto/ .pb-c.[ch] files are generated; tests/fuzz/run.sh does
 * the same):
 *
 *	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
 *	    -I. -I$SRC/src -I$SRC/shm $SRC/src/natsmsg.c $SRC/src/parse.c \
 *	    proto/traffic.pb-c.c proto/netspectra.pb-c.c \
 *	    $SRC/tests/fuzz/fuzz_natsmsg.c -lprotobuf-c -lxxhash -o fuzz_natsmsg
 *	./fuzz_natsmsg -max_len=65536 $SRC/tests/fuzz/corpus/fuzz_natsmsg
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "natsmsg.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CAP 64	/* fewer than a big batch: oversize is reached */

static void
check_record(const struct ns_record *r)
{
	uint8_t buf[NS_NATSMSG_PACKET_MAX];
	struct ns_record again;
	size_t n;

	if (r->kind != NS_REC_PACKET || (r->ipver != 4 && r->ipver != 6) ||
	    r->wire_len < 1 || r->wire_len > NS_NATSMSG_MAX_WIRELEN ||
	    r->hash != 0)
		abort();
	if (ns_natsmsg_encode_packet(r, buf, sizeof(buf), &n) != 0 ||
	    ns_natsmsg_decode(buf, n, NS_NATSMSG_PACKET, &again, 1, NULL) != 1 ||
	    memcmp(&again, r, sizeof(again)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ns_record recs[FUZZ_CAP];
	uint64_t bad[NS_NATSMSG_NREASONS] = { 0 }, nbad = 0;
	enum ns_natsmsg_kind kind;
	uint8_t *msg;
	int n, i;

	if (size < 1)
		return 0;
	kind = (enum ns_natsmsg_kind)(data[0] % 3);
	if ((msg = malloc(size - 1 ? size - 1 : 1)) == NULL)
		return 0;
	memcpy(msg, data + 1, size - 1);
	n = ns_natsmsg_decode(msg, size - 1, kind, recs, FUZZ_CAP, bad);
	free(msg);
	for (i = 0; i < NS_NATSMSG_NREASONS; i++)
		nbad += bad[i];
	if (bad[NS_NATSMSG_OK] != 0 || n > FUZZ_CAP ||
	    (n < 0 && nbad != 1) || (n == 1 && kind == NS_NATSMSG_PACKET &&
	    nbad != 0))
		abort();
	for (i = 0; i < n; i++)
		check_record(&recs[i]);
	return 0;
}
