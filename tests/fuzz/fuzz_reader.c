/*
 * fuzz_reader.c -- libFuzzer harness for the capture-file reader
 * (src/reader.c), the offline input of `netspectra analyze`, and the
 * parser behind it.
 *
 * The input is the file: written to a memfd and opened by its
 * /proc/self/fd path, so that the reader takes its real route (libpcap
 * checks the header; a classic pcap file is then mapped and read in
 * place, pcapng stays with libpcap).  Every record is read, as analyze
 * and the capture do, and handed to the parser in a buffer of exactly
 * caplen bytes, so that AddressSanitizer sees a read past the end.
 * Beyond "no crash, no leak, no undefined behaviour" it checks what the
 * reader promises: records lie inside the file, in order; a cut file
 * is -EIO, never a frame; a seek back to the first record (a resumed
 * capture) reads the same again.  Build and run (from the top of the
 * source tree):
 *
 *	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *	    src/reader.c src/parse.c src/log.c tests/fuzz/fuzz_reader.c \
 *	    -lpcap -o fuzz_reader
 *	./fuzz_reader -max_len=16384 \
 *	    -dict=tests/fuzz/fuzz_reader.dict corpus/
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "parse.h"
#include "reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* One memfd for the run, rewritten for each input. */
static int fuzz_fd = -1;
static char fuzz_path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Every bad file is logged; the messages are not what is tested. */
	log_init("fuzz_reader", "cli", NS_LOG_ERR);
	if ((fuzz_fd = memfd_create("fuzz_reader", MFD_CLOEXEC)) == -1) {
		perror("memfd_create");
		abort();
	}
	snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d", fuzz_fd);
	return 0;
}

static int
fuzz_write(const uint8_t *data, size_t size)
{
	size_t done = 0;
	ssize_t n;

	if (ftruncate(fuzz_fd, 0) != 0 || lseek(fuzz_fd, 0, SEEK_SET) != 0)
		return -1;
	while (done < size) {
		if ((n = write(fuzz_fd, data + done, size - done)) <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/* Parse one frame from a copy of exactly its captured bytes. */
static void
fuzz_frame(const struct ns_reader *r, const struct pcap_pkthdr *h,
    const u_char *data)
{
	struct ns_record rec;
	enum ns_parse_result res;
	uint8_t *copy;

	if ((copy = malloc(h->caplen ? h->caplen : 1)) == NULL)
		return;
	memcpy(copy, data, h->caplen);
	res = ns_parse_packet(r->dlt, copy, h->caplen, h->len,
	    ns_reader_ts(r, h), &rec);
	if ((unsigned)res >= NS_PARSE_NREASONS)
		abort();
	if (res == NS_PARSE_OK && rec.ipver != 4 && rec.ipver != 6)
		abort();
	free(copy);
}

/* A mapped record lies inside the file, after the one before it. */
static void
fuzz_check_mapped(const struct ns_reader *r, const struct pcap_pkthdr *h,
    const u_char *data, uint64_t *last)
{
	uint64_t at = (uint64_t)(data - r->map);

	if (data < r->map || at < *last || at + h->caplen > (uint64_t)r->size ||
	    ns_reader_offset(r) != (off_t)(at + h->caplen))
		abort();
	*last = at + h->caplen;
}

/*
 * A resumed capture seeks to a record offset it saw: back at the first
 * record, the file reads again to the same end.  Offsets before the
 * first record or past the end are refused.
 */
static void
fuzz_reread(struct ns_reader *r, int rc0, uint64_t n0)
{
	struct pcap_pkthdr *h;
	const u_char *frame;
	int rc;

	if (ns_reader_seek(r, 23, 0) != -ENOTSUP ||
	    ns_reader_seek(r, (uint64_t)r->size + 1, 0) != -ENOTSUP ||
	    ns_reader_seek(r, 24, 0) != 0)
		abort();
	while ((rc = ns_reader_next(r, &h, &frame)) == 1)
		;
	if (rc != rc0 || r->frame != n0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ns_reader r;
	struct pcap_pkthdr *h;
	const u_char *frame;
	uint64_t last = 0, n = 0;
	int rc;

	if (fuzz_write(data, size) != 0)
		abort();
	if (ns_reader_open(&r, fuzz_path) != 0)
		return 0;
	while ((rc = ns_reader_next(&r, &h, &frame)) == 1) {
		if (r.map != NULL)
			fuzz_check_mapped(&r, h, frame, &last);
		fuzz_frame(&r, h, frame);
		n++;
	}
	if ((rc != 0 && rc != -EIO) || r.frame != n)
		abort();
	/* A mapped file read to its end was consumed exactly. */
	if (rc == 0 && r.map != NULL && r.off != (uint64_t)size)
		abort();
	if (r.map != NULL)
		fuzz_reread(&r, rc, n);
	ns_reader_close(&r);
	return 0;
}
