/*
 * persist_file.c -- names, lists, rotation rule and encodings of the
 * probe's persistence files (persist_file.h).
 */
#include "persist_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "addr.h"
#include "record.h"

#define PF_PREFIX	"packets-"
#define PF_STAMP_LEN	16		/* 20260101T000000Z */

const char *
ns_persist_ext(enum ns_config_encoding enc)
{
	return enc == NS_CONFIG_ENC_TEXT ? ".txt" : ".pcap";
}

/* packets-20260101T000000Z-000042.pcap */
int
ns_persist_name(char *buf, size_t len, uint64_t t0_ns, uint64_t seq,
    enum ns_config_encoding enc)
{
	time_t sec = (time_t)(t0_ns / 1000000000u);
	char stamp[PF_STAMP_LEN + 1];
	struct tm tm;
	int n;

	if (gmtime_r(&sec, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) !=
	    PF_STAMP_LEN)
		return -EINVAL;
	n = snprintf(buf, len, PF_PREFIX "%s-%06" PRIu64 "%s", stamp, seq,
	    ns_persist_ext(enc));
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool
pf_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* 0 and the sequence number if name is one of ours (either encoding). */
int
ns_persist_name_parse(const char *name, uint64_t *seqp)
{
	const char *s = name + strlen(PF_PREFIX), *end;
	uint64_t seq = 0;

	if (strncmp(name, PF_PREFIX, strlen(PF_PREFIX)) != 0 ||
	    strlen(s) < PF_STAMP_LEN + 2 || !pf_digits(s, 8) || s[8] != 'T' ||
	    !pf_digits(s + 9, 6) || s[15] != 'Z' || s[16] != '-')
		return -EINVAL;
	s += PF_STAMP_LEN + 1;
	for (end = s; *end >= '0' && *end <= '9'; end++) {
		if (seq > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		seq = seq * 10 + (uint64_t)(*end - '0');
	}
	if (end - s < 6 || (strcmp(end, ".pcap") != 0 &&
	    strcmp(end, ".txt") != 0))
		return -EINVAL;
	*seqp = seq;
	return 0;
}

/* ---- the list of files ------------------------------------------------- */

static int
pf_cmp(const void *a, const void *b)
{
	const struct ns_persist_file *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int
ns_persist_files_add(struct ns_persist_files *fl, uint64_t seq,
    const char *name)
{
	struct ns_persist_file *f;
	unsigned cap;

	if (strlen(name) >= NS_PERSIST_NAME_MAX)
		return -ENAMETOOLONG;
	if (fl->n == fl->cap) {
		cap = fl->cap ? fl->cap * 2 : 64;
		if ((f = realloc(fl->f, cap * sizeof(*f))) == NULL)
			return -ENOMEM;
		fl->f = f;
		fl->cap = cap;
	}
	f = &fl->f[fl->n++];
	f->seq = seq;
	snprintf(f->name, sizeof(f->name), "%s", name);
	/* New files come last; only a scan adds them out of order. */
	if (fl->n > 1 && fl->f[fl->n - 2].seq > seq)
		qsort(fl->f, fl->n, sizeof(*fl->f), pf_cmp);
	return 0;
}

/* The directory's files of ours, replacing what fl held. */
int
ns_persist_files_scan(struct ns_persist_files *fl, int dirfd)
{
	struct dirent *de;
	uint64_t seq;
	DIR *d;
	int fd, rc = 0;

	fl->n = 0;
	if ((fd = dup(dirfd)) == -1)
		return -errno;
	if ((d = fdopendir(fd)) == NULL) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rewinddir(d);
	while (rc == 0 && (de = readdir(d)) != NULL)
		if (ns_persist_name_parse(de->d_name, &seq) == 0)
			rc = ns_persist_files_add(fl, seq, de->d_name);
	closedir(d);
	return rc;
}

/* Forget the n oldest (once they are removed). */
void
ns_persist_files_drop(struct ns_persist_files *fl, unsigned n)
{
	if (n > fl->n)
		n = fl->n;
	memmove(fl->f, fl->f + n, (fl->n - n) * sizeof(*fl->f));
	fl->n -= n;
}

/* How many of the oldest must go to keep max_files (0: no limit). */
unsigned
ns_persist_files_excess(const struct ns_persist_files *fl,
    unsigned max_files)
{
	return max_files != 0 && fl->n > max_files ? fl->n - max_files : 0;
}

uint64_t
ns_persist_files_next_seq(const struct ns_persist_files *fl)
{
	return fl->n != 0 ? fl->f[fl->n - 1].seq + 1 : 1;
}

void
ns_persist_files_free(struct ns_persist_files *fl)
{
	free(fl->f);
	memset(fl, 0, sizeof(*fl));
}

/*
 * Whether the file must be closed before add_bytes more are written to
 * it.  A file always takes its first record, however large: a limit
 * below one record must not make a file per packet with nothing in it.
 */
bool
ns_persist_rotate_due(const struct ns_persist_rot *rot, uint64_t file_bytes,
    bool has_records, uint64_t t0_ns, uint64_t add_bytes, uint64_t now_ns)
{
	if (!has_records)
		return false;
	if (rot->size != 0 && file_bytes + add_bytes > rot->size)
		return true;
	return rot->interval != 0 && now_ns >= t0_ns &&
	    now_ns - t0_ns >= rot->interval;
}

/* ---- encodings ----------------------------------------------------------- */

/*
 * The file header as libpcap writes it: libpcap maps the capture's DLT_
 * value to the LINKTYPE_ value files carry (DLT_RAW is 12 in a process,
 * 101 in a file), and the nanosecond magic goes with our timestamps.
 */
int
ns_persist_pcap_header(int dlt, uint32_t snaplen,
    uint8_t out[NS_PERSIST_PCAP_HDR])
{
	pcap_t *dead;
	pcap_dumper_t *d;
	char *buf = NULL;
	size_t size = 0;
	FILE *fp;
	int rc = 0;

	dead = pcap_open_dead_with_tstamp_precision(dlt, (int)snaplen,
	    PCAP_TSTAMP_PRECISION_NANO);
	if (dead == NULL)
		return -ENOMEM;
	if ((fp = open_memstream(&buf, &size)) == NULL) {
		pcap_close(dead);
		return -errno;
	}
	if ((d = pcap_dump_fopen(dead, fp)) == NULL) {
		fclose(fp);
		rc = -EINVAL;
	} else
		pcap_dump_close(d);	/* flushes and closes fp */
	if (rc == 0 && size != NS_PERSIST_PCAP_HDR)
		rc = -EIO;
	if (rc == 0)
		memcpy(out, buf, NS_PERSIST_PCAP_HDR);
	free(buf);
	pcap_close(dead);
	return rc;
}

static size_t
pf_pcap_record(const struct ns_pring_rec *r, uint8_t *out, size_t len)
{
	uint32_t h[4] = {
		(uint32_t)(r->ts_ns / 1000000000u),
		(uint32_t)(r->ts_ns % 1000000000u), r->caplen, r->wirelen,
	};

	if (len < NS_PERSIST_PCAP_REC + (size_t)r->caplen)
		return 0;
	memcpy(out, h, sizeof(h));
	memcpy(out + NS_PERSIST_PCAP_REC, r->data, r->caplen);
	return NS_PERSIST_PCAP_REC + r->caplen;
}

/*
 * time, src, dst, sport, dport, proto, wire length: the columns of
 * `netspectra probe --sub`.  A frame the parser did not take (no
 * payload in the ring) has '-' for the five addresses and ports.
 */
static size_t
pf_text_line(const struct ns_pring_rec *r, uint8_t *out, size_t len)
{
	char ts[NS_TIME_STRLEN], src[NS_ADDR_STRLEN], dst[NS_ADDR_STRLEN];
	struct ns_record rec;
	int n;

	ns_time_format(r->ts_ns, ts, sizeof(ts));
	if (r->caplen != sizeof(rec)) {
		n = snprintf((char *)out, len, "%s\t-\t-\t-\t-\t-\t%u\n", ts,
		    r->wirelen);
	} else {
		memcpy(&rec, r->data, sizeof(rec));
		n = snprintf((char *)out, len, "%s\t%s\t%s\t%u\t%u\t%u\t%u\n",
		    ts, ns_addr_format(rec.src, rec.ipver, src, sizeof(src)),
		    ns_addr_format(rec.dst, rec.ipver, dst, sizeof(dst)),
		    rec.sport, rec.dport, rec.proto, r->wirelen);
	}
	return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

/* One record as the file holds it, into out; its length, 0 if too long. */
size_t
ns_persist_encode(enum ns_config_encoding enc, const struct ns_pring_rec *r,
    uint8_t *out, size_t len)
{
	if (enc == NS_CONFIG_ENC_TEXT)
		return pf_text_line(r, out, len);
	return pf_pcap_record(r, out, len);
}
