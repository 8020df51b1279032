/*
 * analyze.c -- offline analysis of capture files: read every frame with
 * libpcap, run it through the parser and count what it yields.
 *
 * This is the single-process reader that the shared-memory engine (capture
 * and worker roles) builds on; it owns file handling, progress display and
 * the summary, so that every offline command reports errors the same way.
 */
#include "analyze.h"

#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"

struct ns_reader {
	pcap_t *pcap;
	const char *path;
	int dlt;
	int nsec;		/* timestamps are in nanoseconds */
	off_t size;		/* file size, for progress */
	uint64_t frame;		/* frames read so far (1-based numbering) */
};

static int
reader_open(struct ns_reader *r, const char *path)
{
	char errbuf[PCAP_ERRBUF_SIZE];
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
	r->nsec = pcap_get_tstamp_precision(r->pcap) == PCAP_TSTAMP_PRECISION_NANO;
	if (!ns_parse_dlt_supported(r->dlt))
		log_warnx("%s: link type %s (%d) is not supported; its frames "
		    "are counted as unsupported_link", path,
		    pcap_datalink_val_to_name(r->dlt) ? pcap_datalink_val_to_name(r->dlt) : "?",
		    r->dlt);
	if (stat(path, &st) == 0)
		r->size = st.st_size;
	return 0;
}

/* 1: a frame, 0: end of file, -EIO: the file is cut or unreadable. */
static int
reader_next(struct ns_reader *r, struct pcap_pkthdr **h, const u_char **data)
{
	int rc = pcap_next_ex(r->pcap, h, data);

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

static uint64_t
reader_ts(const struct ns_reader *r, const struct pcap_pkthdr *h)
{
	uint64_t sub = (uint64_t)h->ts.tv_usec;

	return (uint64_t)h->ts.tv_sec * 1000000000u + (r->nsec ? sub : sub * 1000u);
}

static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
progress_show(const struct ns_reader *r, const struct ns_analyze_totals *t,
    double started)
{
	FILE *fp = pcap_file(r->pcap);
	double el = mono_now() - started;
	double pct = 0;

	if (fp != NULL && r->size > 0)
		pct = 100.0 * (double)ftello(fp) / (double)r->size;
	fprintf(stderr, "\r%s: %" PRIu64 " packets, %.2f Mpps, %5.1f%%  ",
	    r->path, t->packets, el > 0 ? t->packets / el / 1e6 : 0.0, pct);
}

static void
account(struct ns_analyze_totals *t, const struct ns_record *rec,
    enum ns_parse_result res, uint32_t wirelen)
{
	t->packets++;
	t->bytes += wirelen;
	t->reason[res]++;
	if (res != NS_PARSE_OK)
		return;
	t->parsed++;
	t->parsed_bytes += wirelen;
	if (rec->ipver == 4)
		t->ipv4++;
	else
		t->ipv6++;
	t->proto[rec->proto]++;
	if (t->first_ns == 0 || rec->ts_ns < t->first_ns)
		t->first_ns = rec->ts_ns;
	if (rec->ts_ns > t->last_ns)
		t->last_ns = rec->ts_ns;
}

static int
analyze_file(const char *path, const struct ns_analyze_opts *o,
    struct ns_analyze_totals *t)
{
	struct ns_reader r;
	struct pcap_pkthdr *h;
	const u_char *data;
	struct ns_record rec;
	double started = mono_now(), shown = started;
	int rc;

	if ((rc = reader_open(&r, path)) < 0)
		return rc;
	while ((rc = reader_next(&r, &h, &data)) == 1) {
		enum ns_parse_result res = ns_parse_packet(r.dlt, data, h->caplen,
		    h->len, reader_ts(&r, h), &rec);

		account(t, &rec, res, h->len);
		/* Checking the clock every 64k frames keeps it off the profile. */
		if (o->progress && (t->packets & 0xffff) == 0 &&
		    mono_now() - shown > 0.25) {
			shown = mono_now();
			progress_show(&r, t, started);
		}
	}
	if (o->progress)
		fprintf(stderr, "\r\033[K");
	pcap_close(r.pcap);
	return rc;
}

int
ns_analyze_run(const struct ns_config *cfg, const struct ns_analyze_opts *o,
    FILE *out)
{
	static struct ns_analyze_totals t;
	int rc, err = 0;

	(void)cfg;
	memset(&t, 0, sizeof(t));
	for (int i = 0; i < o->nfiles; i++)
		if ((rc = analyze_file(o->files[i], o, &t)) < 0 && err == 0)
			err = rc;
	ns_analyze_print(out, &t, o->summary);
	return err;
}

static const char *
proto_name(int p)
{
	switch (p) {
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 58: return "icmpv6";
	case 132: return "sctp";
	default: return NULL;
	}
}

static void
print_table(FILE *out, const struct ns_analyze_totals *t)
{
	char a[NS_TIME_STRLEN], b[NS_TIME_STRLEN];

	fprintf(out, "%-24s %15" PRIu64 "\n", "frames", t->packets);
	fprintf(out, "%-24s %15" PRIu64 "\n", "bytes", t->bytes);
	fprintf(out, "%-24s %15" PRIu64 "\n", "packets (IP)", t->parsed);
	fprintf(out, "%-24s %15" PRIu64 "\n", "bytes (IP)", t->parsed_bytes);
	fprintf(out, "%-24s %15" PRIu64 "\n", "ipv4", t->ipv4);
	fprintf(out, "%-24s %15" PRIu64 "\n", "ipv6", t->ipv6);
	for (int p = 0; p < 256; p++) {
		const char *n = proto_name(p);
		char other[16];

		if (t->proto[p] == 0)
			continue;
		if (n == NULL) {
			snprintf(other, sizeof(other), "proto %d", p);
			n = other;
		}
		fprintf(out, "%-24s %15" PRIu64 "\n", n, t->proto[p]);
	}
	for (int r = 1; r < NS_PARSE_NREASONS; r++)
		if (t->reason[r] != 0)
			fprintf(out, "%-24s %15" PRIu64 "\n",
			    ns_parse_reason_name(r), t->reason[r]);
	if (t->parsed != 0)
		fprintf(out, "%-24s %s .. %s\n", "time",
		    ns_time_format(t->first_ns, a, sizeof(a)),
		    ns_time_format(t->last_ns, b, sizeof(b)));
}

static void
print_json(FILE *out, const struct ns_analyze_totals *t)
{
	const char *sep = "";

	fprintf(out, "{\"frames\":%" PRIu64 ",\"bytes\":%" PRIu64
	    ",\"packets\":%" PRIu64 ",\"ip_bytes\":%" PRIu64
	    ",\"ipv4\":%" PRIu64 ",\"ipv6\":%" PRIu64 ",\"protocols\":{",
	    t->packets, t->bytes, t->parsed, t->parsed_bytes, t->ipv4, t->ipv6);
	for (int p = 0; p < 256; p++) {
		if (t->proto[p] == 0)
			continue;
		fprintf(out, "%s\"%d\":%" PRIu64, sep, p, t->proto[p]);
		sep = ",";
	}
	fprintf(out, "},\"skipped\":{");
	sep = "";
	for (int r = 1; r < NS_PARSE_NREASONS; r++) {
		fprintf(out, "%s\"%s\":%" PRIu64, sep, ns_parse_reason_name(r),
		    t->reason[r]);
		sep = ",";
	}
	fprintf(out, "}}\n");
}

void
ns_analyze_print(FILE *out, const struct ns_analyze_totals *t,
    enum ns_summary_fmt fmt)
{
	if (fmt == NS_SUMMARY_JSON)
		print_json(out, t);
	else
		print_table(out, t);
}

static void
dump_record(FILE *out, uint64_t frame, const struct ns_record *rec)
{
	char s[NS_ADDR_STRLEN], d[NS_ADDR_STRLEN];

	fprintf(out, "%" PRIu64 "\t%s\t%s\t%u\t%u\t%u\t%u\n", frame,
	    ns_addr_format(rec->src, rec->ipver, s, sizeof(s)),
	    ns_addr_format(rec->dst, rec->ipver, d, sizeof(d)),
	    rec->sport, rec->dport, rec->proto, rec->wire_len);
}

int
ns_dump_run(const char *path, FILE *out)
{
	struct ns_reader r;
	struct pcap_pkthdr *h;
	const u_char *data;
	struct ns_record rec;
	int rc;

	if ((rc = reader_open(&r, path)) < 0)
		return rc;
	while ((rc = reader_next(&r, &h, &data)) == 1) {
		enum ns_parse_result res = ns_parse_packet(r.dlt, data, h->caplen,
		    h->len, reader_ts(&r, h), &rec);

		if (res == NS_PARSE_OK)
			dump_record(out, r.frame, &rec);
		else if (ns_parse_is_error(res))
			fprintf(out, "%" PRIu64 "\t!%s\n", r.frame,
			    ns_parse_reason_name(res));
	}
	pcap_close(r.pcap);
	return rc;
}
