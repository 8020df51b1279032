/*
 * test_persist.c -- probe persistence without a capture: the packet ring
 * (wrap markers, full ring, a consumer process that sleeps and is woken),
 * file names and their order, the rotation rule, the encodings, and the
 * writer process end to end -- rotation by size and time, max_files,
 * text lines, and a writer killed at each kill point (NS_INJECT), whose
 * successor leaves every packet in the files exactly once.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "persist.h"
#include "persist_file.h"
#include "pring.h"
#include "record.h"

#define SEC	1000000000ull
#define T2026	(1767225600ull * SEC)	/* 2026-01-01T00:00:00Z */

static void
quiet(void)
{
	log_init("test", "test", NS_LOG_WARN);
}

/* ---- the ring ------------------------------------------------------------ */

TestSuite(pring, .init = quiet);

Test(pring, sizes)
{
	struct ns_pring *r;
	int efd;

	/* 10000 x (16 + 256) bytes = 2.72 MB: 4 MiB. */
	cr_assert_eq(ns_pring_size_for(10000, 256, 1 << 20, 1 << 30), 4 << 20);
	cr_assert_eq(ns_pring_size_for(1, 256, 1 << 20, 1 << 30), 1 << 20);
	cr_assert_eq(ns_pring_size_for(1u << 24, 262144, 1 << 20, 1 << 30),
	    1 << 30);
	/* Never less than four records of the largest size. */
	cr_assert_eq(ns_pring_size_for(1, 262144, 1 << 20, 1 << 20), 2 << 20);
	cr_assert_eq(ns_pring_rec_size(0), 16);
	cr_assert_eq(ns_pring_rec_size(1), 32);
	cr_assert_eq(ns_pring_rec_size(64), 80);
	cr_assert_eq(ns_pring_create(3000, &r, &efd), -EINVAL);
	cr_assert_eq(ns_pring_create(4096, &r, &efd), 0);
	cr_assert_eq((uintptr_t)r->data % 64, 0);
	cr_assert_eq((uintptr_t)&r->tail - (uintptr_t)&r->head, 64);
	ns_pring_destroy(r, efd);
}

static void
fill(uint8_t *p, uint32_t n, uint64_t seq)
{
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seq * 7 + i);
}

static bool
check_fill(const uint8_t *p, uint32_t n, uint64_t seq)
{
	for (uint32_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)(seq * 7 + i))
			return false;
	return true;
}

/* Read everything there is; the records must be want, want+1, ... */
static uint64_t
drain_check(struct ns_pring_cons *c, uint64_t want)
{
	const struct ns_pring_rec *rec;

	while ((rec = ns_pring_peek(c)) != NULL) {
		cr_assert_eq(rec->ts_ns, want);
		cr_assert_eq(rec->wirelen, rec->caplen + 4);
		cr_assert(check_fill(rec->data, rec->caplen, want),
		    "record %" PRIu64 " corrupt", want);
		ns_pring_consume(c);
		want++;
	}
	ns_pring_release(c, c->tail);
	return want;
}

Test(pring, wraps_and_fills)
{
	struct ns_pring_prod p;
	struct ns_pring_cons c;
	struct ns_pring_rec *rec;
	struct ns_pring *r;
	uint64_t seq, got = 0, full = 0, wraps = 0, last = 0;
	uint32_t len;
	int efd;

	cr_assert_eq(ns_pring_create(4096, &r, &efd), 0);
	ns_pring_prod_init(&p, r, efd);
	ns_pring_cons_init(&c, r, efd, 0);
	srandom(7);
	for (seq = 0; seq < 20000; seq++) {
		len = (uint32_t)(random() % 300);
		while ((rec = ns_pring_reserve(&p, len)) == NULL) {
			uint64_t need = ns_pring_rec_size(len);
			uint64_t contig = r->size - (p.head & r->mask);

			/* Full means no room for it (and its wrap marker). */
			cr_assert_gt(p.head - p.tail + need +
			    (contig < need ? contig : 0), r->size);
			full++;
			got = drain_check(&c, got);
		}
		rec->ts_ns = seq;
		rec->wirelen = len + 4;
		fill(rec->data, len, seq);
		ns_pring_publish(&p);
		if ((p.head & r->mask) < last)
			wraps++;
		last = p.head & r->mask;
	}
	got = drain_check(&c, got);
	cr_assert_eq(got, 20000);
	cr_assert_gt(full, 100);
	cr_assert_gt(wraps, 100);
	cr_assert_eq(r->head, r->tail);
	/* Larger than half the ring: never. */
	cr_assert_null(ns_pring_reserve(&p, 2048));
	ns_pring_destroy(r, efd);
}

Test(pring, full_until_released)
{
	struct ns_pring_prod p;
	struct ns_pring_cons c;
	struct ns_pring_rec *rec;
	struct ns_pring *r;
	unsigned n = 0;
	int efd;

	cr_assert_eq(ns_pring_create(1024, &r, &efd), 0);
	ns_pring_prod_init(&p, r, efd);
	ns_pring_cons_init(&c, r, efd, 0);
	while ((rec = ns_pring_reserve(&p, 48)) != NULL) {
		rec->ts_ns = n++;
		ns_pring_publish(&p);
	}
	cr_assert_eq(n, 1024 / 64);
	/* Consumed is not free: only a release gives space back. */
	cr_assert_not_null(ns_pring_peek(&c));
	ns_pring_consume(&c);
	cr_assert_null(ns_pring_reserve(&p, 48));
	ns_pring_release(&c, c.tail);
	cr_assert_not_null(ns_pring_reserve(&p, 48));
	ns_pring_destroy(r, efd);
}

/*
 * A consumer process that sleeps whenever the ring is empty, for up to
 * LOST_MS: the producer never pauses that long, so a sleep that lasts
 * it with a record waiting is a lost wake-up (exit 2).
 */
#define LOST_MS	5000

static int
consumer(struct ns_pring *r, int efd, uint64_t *received)
{
	const struct ns_pring_rec *rec;
	struct ns_pring_cons c;
	uint64_t last = 0;
	bool first = true;
	double t;

	/* Never outlive the test, whatever happens to it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
		return 3;
	ns_pring_cons_init(&c, r, efd, 0);
	for (;;) {
		while ((rec = ns_pring_peek(&c)) == NULL) {
			t = ns_mono_now();
			ns_pring_wait(&c, LOST_MS);
			if (ns_mono_now() - t >= LOST_MS / 1000.0 &&
			    ns_pring_peek(&c) != NULL)
				return 2;
		}
		if (rec->wirelen == UINT32_MAX)
			return 0;
		if ((!first && rec->ts_ns <= last) ||
		    !check_fill(rec->data, rec->caplen, rec->ts_ns))
			return 1;
		first = false;
		last = rec->ts_ns;
		(*received)++;
		ns_pring_consume(&c);
		ns_pring_release(&c, c.tail);
	}
}

static void
produce(struct ns_pring *r, int efd, uint64_t n, unsigned kick_every,
    uint64_t *dropped)
{
	struct ns_pring_prod p;
	struct ns_pring_rec *rec;
	uint32_t len;

	ns_pring_prod_init(&p, r, efd);
	for (uint64_t seq = 0; seq < n; seq++) {
		len = (uint32_t)(seq * 37 % 301);
		if ((rec = ns_pring_reserve(&p, len)) == NULL) {
			(*dropped)++;
		} else {
			rec->ts_ns = seq;
			rec->wirelen = len + 4;
			fill(rec->data, len, seq);
			ns_pring_publish(&p);
		}
		if (seq % kick_every == 0)
			ns_pring_kick(&p);
	}
	while ((rec = ns_pring_reserve(&p, 0)) == NULL)
		sched_yield();
	rec->wirelen = UINT32_MAX;	/* the end */
	ns_pring_publish(&p);
	ns_pring_kick(&p);
}

static void
across_processes(uint64_t n, unsigned kick_every, uint64_t ring)
{
	uint64_t *received, dropped = 0;
	struct ns_pring *r;
	int efd, status;
	pid_t pid;

	received = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(received, MAP_FAILED);
	cr_assert_eq(ns_pring_create(ring, &r, &efd), 0);
	if ((pid = fork()) == 0)
		_exit(consumer(r, efd, received));
	produce(r, efd, n, kick_every, &dropped);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 2,
	    "consumer slept through a kick: a lost wake-up");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "consumer saw a record out of order or corrupt");
	cr_assert_eq(*received + dropped, n, "%" PRIu64 " + %" PRIu64,
	    *received, dropped);
	cr_assert_gt(*received, 0);
	ns_pring_destroy(r, efd);
	munmap(received, 4096);
}

Test(pring, across_processes_with_drops, .timeout = 60)
{
	across_processes(300000, 64, 1 << 14);
}

Test(pring, every_record_woken, .timeout = 60)
{
	/* A kick per record, a sleep per record: 20000 chances to lose one. */
	across_processes(20000, 1, 1 << 20);
}

/* ---- names, lists, rotation, encodings ------------------------------------ */

TestSuite(pfile, .init = quiet);

Test(pfile, names)
{
	char buf[NS_PERSIST_NAME_MAX], tiny[20];
	uint64_t seq;

	cr_assert_eq(ns_persist_name(buf, sizeof(buf), T2026 + SEC - 1, 1,
	    NS_CONFIG_ENC_PCAP), 0);
	cr_assert_str_eq(buf, "packets-20260101T000000Z-000001.pcap");
	cr_assert_eq(ns_persist_name(buf, sizeof(buf), T2026 + 3661 * SEC,
	    1234567, NS_CONFIG_ENC_TEXT), 0);
	cr_assert_str_eq(buf, "packets-20260101T010101Z-1234567.txt");
	cr_assert_eq(ns_persist_name(tiny, sizeof(tiny), T2026, 1,
	    NS_CONFIG_ENC_PCAP), -ENAMETOOLONG);
	cr_assert_eq(ns_persist_name_parse(buf, &seq), 0);
	cr_assert_eq(seq, 1234567);
	cr_assert_eq(ns_persist_name_parse(
	    "packets-20260101T000000Z-000042.pcap", &seq), 0);
	cr_assert_eq(seq, 42);
}

Test(pfile, foreign_names_refused)
{
	static const char *const bad[] = {
		"packets-20260101T000000Z-00042.pcap",	/* < 6 digits */
		"packets-20260101T000000Z-000042.pcapng",
		"packets-20260101T000000Z-000042.pcap.tmp",
		"packets-20260101T000000-000042.pcap",
		"packets-2026010xT000000Z-000042.pcap",
		"packets-20260101T000000Z-.pcap",
		"packets-20260101T000000Z-99999999999999999999999.pcap",
		"capture-20260101T000000Z-000042.pcap",
		"packets-", "", ".", "..",
	};
	uint64_t seq;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(ns_persist_name_parse(bad[i], &seq), -EINVAL,
		    "%s taken for ours", bad[i]);
}

static char tmpdir[64];

static void
mktmp(void)
{
	quiet();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_persist.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void
rmtmp(void)
{
	struct dirent *de;
	char path[512];
	DIR *d;

	if (tmpdir[0] == '\0' || (d = opendir(tmpdir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(tmpdir);
}

static const char *
path_in_tmp(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

static void
touch(const char *name)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	cr_assert_not_null(fp = fopen(path, "w"));
	fclose(fp);
}

Test(pfile, scan_orders_by_sequence_not_name, .init = mktmp, .fini = rmtmp)
{
	struct ns_persist_files fl = { 0 };
	int dirfd;

	touch("packets-20260101T000000Z-000010.pcap");
	touch("packets-20250101T000000Z-000002.txt");
	touch("packets-20270101T000000Z-1000000.pcap");
	touch("packets-20280101T000000Z-999999.pcap");
	touch("packets-20260101T000000Z-000003.pcap.tmp");
	touch("notes.txt");
	cr_assert_geq(dirfd = open(tmpdir, O_RDONLY | O_DIRECTORY), 0);
	cr_assert_eq(ns_persist_files_scan(&fl, dirfd), 0);
	cr_assert_eq(fl.n, 4);
	cr_assert_eq(fl.f[0].seq, 2);
	cr_assert_eq(fl.f[1].seq, 10);
	cr_assert_eq(fl.f[2].seq, 999999);
	cr_assert_eq(fl.f[3].seq, 1000000);
	cr_assert_str_eq(fl.f[3].name, "packets-20270101T000000Z-1000000.pcap");
	cr_assert_eq(ns_persist_files_next_seq(&fl), 1000001);
	cr_assert_eq(ns_persist_files_excess(&fl, 0), 0);
	cr_assert_eq(ns_persist_files_excess(&fl, 4), 0);
	cr_assert_eq(ns_persist_files_excess(&fl, 3), 1);
	ns_persist_files_drop(&fl, 1);
	cr_assert_eq(fl.n, 3);
	cr_assert_eq(fl.f[0].seq, 10);
	/* A scan again replaces the list. */
	cr_assert_eq(ns_persist_files_scan(&fl, dirfd), 0);
	cr_assert_eq(fl.n, 4);
	ns_persist_files_free(&fl);
	cr_assert_eq(ns_persist_files_next_seq(&fl), 1);
	close(dirfd);
}

Test(pfile, add_keeps_order)
{
	struct ns_persist_files fl = { 0 };

	for (uint64_t s = 1; s <= 200; s++)
		cr_assert_eq(ns_persist_files_add(&fl, s, "x"), 0);
	cr_assert_eq(ns_persist_files_add(&fl, 50, "y"), 0);
	cr_assert_eq(fl.n, 201);
	for (unsigned i = 1; i < fl.n; i++)
		cr_assert_leq(fl.f[i - 1].seq, fl.f[i].seq);
	ns_persist_files_free(&fl);
}

Test(pfile, rotation_rule)
{
	struct ns_persist_rot size = { 1000, 0 }, time = { 0, SEC };
	struct ns_persist_rot both = { 1000, SEC }, none = { 0, 0 };

	/* An empty file takes any record. */
	cr_assert(!ns_persist_rotate_due(&size, 24, false, 0, 5000, 0));
	cr_assert(!ns_persist_rotate_due(&size, 900, true, 0, 100, 0));
	cr_assert(ns_persist_rotate_due(&size, 901, true, 0, 100, 0));
	cr_assert(!ns_persist_rotate_due(&time, 1 << 30, true, 10 * SEC, 100,
	    11 * SEC - 1));
	cr_assert(ns_persist_rotate_due(&time, 0, true, 10 * SEC, 0,
	    11 * SEC));
	/* A clock that stepped back rotates nothing. */
	cr_assert(!ns_persist_rotate_due(&time, 0, true, 10 * SEC, 0,
	    5 * SEC));
	cr_assert(ns_persist_rotate_due(&both, 0, true, 0, 0, SEC));
	cr_assert(ns_persist_rotate_due(&both, 1000, true, 0, 1, 0));
	cr_assert(!ns_persist_rotate_due(&none, UINT64_MAX / 2, true, 0, 1,
	    UINT64_MAX));
}

Test(pfile, pcap_header_from_libpcap)
{
	uint8_t h[NS_PERSIST_PCAP_HDR];
	uint32_t w[6];

	cr_assert_eq(ns_persist_pcap_header(DLT_EN10MB, 256, h), 0);
	memcpy(w, h, sizeof(w));
	cr_assert_eq(w[0], 0xa1b23c4d);		/* nanosecond magic */
	cr_assert_eq(w[1], 2 | (4 << 16));	/* version 2.4 */
	cr_assert_eq(w[4], 256);
	cr_assert_eq(w[5], 1);
	/* DLT_RAW is 12 in a process, LINKTYPE_RAW 101 in a file. */
	cr_assert_eq(ns_persist_pcap_header(DLT_RAW, 128, h), 0);
	memcpy(w, h, sizeof(w));
	cr_assert_eq(w[5], 101);
	cr_assert_eq(ns_persist_pcap_header(DLT_LINUX_SLL2, 128, h), 0);
	memcpy(w, h, sizeof(w));
	cr_assert_eq(w[5], 276);
}

static struct ns_pring_rec *
mkrec(uint8_t *buf, uint64_t ts, uint32_t caplen, uint32_t wirelen)
{
	struct ns_pring_rec *r = (struct ns_pring_rec *)buf;

	r->ts_ns = ts;
	r->caplen = caplen;
	r->wirelen = wirelen;
	return r;
}

Test(pfile, encode_pcap_record)
{
	uint8_t buf[256] __attribute__((aligned(16))), out[128];
	struct ns_pring_rec *r = mkrec(buf, T2026 + 5 * SEC + 123, 60, 1514);
	uint32_t h[4];

	fill(r->data, 60, 9);
	cr_assert_eq(ns_persist_encode(NS_CONFIG_ENC_PCAP, r, out, 76), 76);
	memcpy(h, out, sizeof(h));
	cr_assert_eq(h[0], 1767225605);
	cr_assert_eq(h[1], 123);
	cr_assert_eq(h[2], 60);
	cr_assert_eq(h[3], 1514);
	cr_assert(check_fill(out + 16, 60, 9));
	cr_assert_eq(ns_persist_encode(NS_CONFIG_ENC_PCAP, r, out, 75), 0);
}

Test(pfile, encode_text_lines)
{
	uint8_t buf[256] __attribute__((aligned(16))), out[NS_PERSIST_TEXT_MAX];
	struct ns_pring_rec *r = mkrec(buf, T2026 + 1, sizeof(struct ns_record),
	    60);
	struct ns_record rec;
	size_t n;

	memset(&rec, 0, sizeof(rec));
	rec.ipver = 4;
	rec.src[10] = rec.src[11] = rec.dst[10] = rec.dst[11] = 0xff;
	rec.src[12] = 10, rec.src[15] = 1;
	rec.dst[12] = 10, rec.dst[15] = 2;
	rec.sport = 1234, rec.dport = 80, rec.proto = 6, rec.wire_len = 60;
	memcpy(r->data, &rec, sizeof(rec));
	n = ns_persist_encode(NS_CONFIG_ENC_TEXT, r, out, sizeof(out));
	out[n] = '\0';
	cr_assert_str_eq((char *)out, "2026-01-01T00:00:00.000000001Z\t"
	    "10.0.0.1\t10.0.0.2\t1234\t80\t6\t60\n");
	/* IPv6 at full length fits. */
	rec.ipver = 6;
	memset(rec.src, 0xab, 16);
	memset(rec.dst, 0xcd, 16);
	memcpy(r->data, &rec, sizeof(rec));
	r->ts_ns = T2026 + 999999999;
	n = ns_persist_encode(NS_CONFIG_ENC_TEXT, r, out, sizeof(out));
	out[n] = '\0';
	cr_assert_str_eq((char *)out, "2026-01-01T00:00:00.999999999Z\t"
	    "abab:abab:abab:abab:abab:abab:abab:abab\t"
	    "cdcd:cdcd:cdcd:cdcd:cdcd:cdcd:cdcd:cdcd\t1234\t80\t6\t60\n");
	/* A frame the parser did not take. */
	r = mkrec(buf, T2026, 0, 42);
	n = ns_persist_encode(NS_CONFIG_ENC_TEXT, r, out, sizeof(out));
	out[n] = '\0';
	cr_assert_str_eq((char *)out, "2026-01-01T00:00:00Z\t-\t-\t-\t-\t-\t42\n");
}

/* ---- the writer process, end to end --------------------------------------- */

TestSuite(pwriter, .init = mktmp, .fini = rmtmp, .timeout = 120);

static struct ns_config_probe
mkcfg(enum ns_config_encoding enc, uint64_t rsize, uint64_t rint,
    unsigned max_files)
{
	struct ns_config_probe c;

	memset(&c, 0, sizeof(c));
	c.snaplen = 256;
	c.persistence.enabled = true;
	c.persistence.path = tmpdir;
	c.persistence.channel_buffer_size = 50000; /* holds every test */
	c.persistence.encoding = enc;
	c.persistence.rotate_size = rsize;
	c.persistence.rotate_interval = rint;
	c.persistence.max_files = max_files;
	return c;
}

/* Frame seq: its number in the first 8 bytes, a pattern after. */
static void
feed(struct ns_persist *pp, uint64_t from, uint64_t to, uint64_t t0,
    uint64_t step)
{
	uint8_t frame[256];
	uint32_t len;

	for (uint64_t seq = from; seq < to; seq++) {
		len = 60 + (uint32_t)(seq % 150);
		memcpy(frame, &seq, sizeof(seq));
		fill(frame + 8, len - 8, seq);
		ns_persist_packet(pp, t0 + seq * step, len, len + 4, frame,
		    NULL);
		if (seq % 64 == 0) {
			ns_persist_kick(pp);
			ns_persist_check(pp);
		}
	}
	ns_persist_kick(pp);
}

struct readback {
	bool		 started;
	unsigned	 files;
	uint64_t	 first, next;	/* sequence numbers read */
	uint64_t	 max_size;	/* largest file */
	uint64_t	 span;		/* largest last-first ts in a file */
};

static void
read_pcap(const char *path, struct readback *rb)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t seq, ts, t0 = 0;
	pcap_t *p;
	bool first = true;
	uint64_t before = rb->next;

	p = pcap_open_offline_with_tstamp_precision(path,
	    PCAP_TSTAMP_PRECISION_NANO, err);
	cr_assert_not_null(p, "%s", err);
	cr_assert_eq(pcap_datalink(p), DLT_EN10MB);
	while (pcap_next_ex(p, &h, &data) == 1) {
		memcpy(&seq, data, sizeof(seq));
		if (!rb->started)
			rb->first = rb->next = seq;
		rb->started = true;
		cr_assert_eq(seq, rb->next, "%s: packet %" PRIu64 " where %"
		    PRIu64 " was due", path, seq, rb->next);
		cr_assert_eq(h->caplen, 60 + seq % 150);
		cr_assert_eq(h->len, h->caplen + 4);
		cr_assert(check_fill(data + 8, h->caplen - 8, seq));
		ts = (uint64_t)h->ts.tv_sec * SEC + (uint64_t)h->ts.tv_usec;
		if (first)
			t0 = ts;
		if (ts - t0 > rb->span)
			rb->span = ts - t0;
		first = false;
		rb->next++;
	}
	pcap_close(p);
	cr_assert(rb->started && rb->next > before, "%s holds no packet",
	    path);
}

/* Every file of ours, oldest first: one run of consecutive packets. */
static struct readback
read_back(void)
{
	struct ns_persist_files fl = { 0 };
	struct readback rb = { 0 };
	char path[512];
	struct stat sb;
	int dirfd;

	cr_assert_geq(dirfd = open(tmpdir, O_RDONLY | O_DIRECTORY), 0);
	cr_assert_eq(ns_persist_files_scan(&fl, dirfd), 0);
	for (unsigned i = 0; i < fl.n; i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, fl.f[i].name);
		cr_assert_eq(stat(path, &sb), 0);
		if ((uint64_t)sb.st_size > rb.max_size)
			rb.max_size = (uint64_t)sb.st_size;
		rb.files++;
		read_pcap(path, &rb);
	}
	ns_persist_files_free(&fl);
	close(dirfd);
	return rb;
}

static struct ns_persist_stats
finish(struct ns_persist *pp)
{
	struct ns_persist_stats st;

	cr_assert_eq(ns_persist_stop(pp), 0);
	ns_persist_stats(pp, &st);
	ns_persist_free(pp);
	return st;
}

Test(pwriter, rotation_by_size)
{
	struct ns_config_probe c = mkcfg(NS_CONFIG_ENC_PCAP, 64 << 10, 0, 0);
	struct ns_persist_stats st;
	struct ns_persist *pp;
	struct readback rb;

	cr_assert_eq(ns_persist_start(&pp, &c, DLT_EN10MB), 0);
	feed(pp, 0, 20000, T2026, 1000);
	st = finish(pp);
	rb = read_back();
	cr_assert_eq(rb.first, 0);
	cr_assert_eq(rb.next, 20000);
	/* 20000 x (16 + 134.5) bytes in files of at most 64 KiB. */
	cr_assert_geq(rb.files, 46);
	cr_assert_leq(rb.max_size, 64 << 10);
	cr_assert_eq(st.written, 20000);
	cr_assert_eq(st.ring_full + st.write_error + st.writer_down, 0);
	cr_assert_eq(st.rotated, rb.files - 1);
	cr_assert_eq(st.removed, 0);
	cr_assert_eq(st.crashes, 0);
}

Test(pwriter, max_files_keeps_the_newest)
{
	struct ns_config_probe c = mkcfg(NS_CONFIG_ENC_PCAP, 16 << 10, 0, 3);
	struct ns_persist_stats st;
	struct ns_persist *pp;
	struct readback rb;

	touch("packets-20200101T000000Z-000001.pcap");	/* an older run's */
	cr_assert_eq(ns_persist_start(&pp, &c, DLT_EN10MB), 0);
	feed(pp, 0, 5000, T2026, 1000);
	st = finish(pp);
	rb = read_back();
	cr_assert_eq(rb.files, 3);
	cr_assert_eq(rb.next, 5000, "the newest packets are kept");
	cr_assert_gt(rb.first, 0);
	cr_assert_eq(st.written, 5000);
	cr_assert_eq(st.removed, st.rotated + 1 + 1 - 3);
}

Test(pwriter, rotation_by_time)
{
	/* Packet times an hour ahead: the idle check (wall clock) keeps out. */
	uint64_t t0 = (ns_real_now_ns() / SEC + 3600) * SEC;
	struct ns_config_probe c = mkcfg(NS_CONFIG_ENC_PCAP, 0, SEC, 0);
	struct ns_persist_stats st;
	struct ns_persist *pp;
	struct readback rb;

	cr_assert_eq(ns_persist_start(&pp, &c, DLT_EN10MB), 0);
	feed(pp, 0, 5000, t0, SEC / 1000);	/* 5 s of packet time */
	st = finish(pp);
	rb = read_back();
	cr_assert_eq(rb.next, 5000);
	cr_assert_eq(rb.files, 5);
	cr_assert_lt(rb.span, SEC);
	cr_assert_eq(st.rotated, 4);
}

Test(pwriter, text_lines)
{
	struct ns_config_probe c = mkcfg(NS_CONFIG_ENC_TEXT, 0, 0, 0);
	struct ns_persist_stats st;
	struct ns_persist *pp;
	struct ns_record rec;
	char path[512], line[256];
	unsigned n = 0, dashes = 0;
	FILE *fp;
	DIR *d;
	struct dirent *de;

	memset(&rec, 0, sizeof(rec));
	rec.ipver = 4;
	rec.src[10] = rec.src[11] = rec.dst[10] = rec.dst[11] = 0xff;
	cr_assert_eq(ns_persist_start(&pp, &c, DLT_EN10MB), 0);
	for (unsigned i = 0; i < 1000; i++) {
		rec.sport = (uint16_t)i;
		ns_persist_packet(pp, T2026 + i, 60, 60, NULL,
		    i % 10 == 9 ? NULL : &rec);
	}
	ns_persist_kick(pp);
	st = finish(pp);
	cr_assert_eq(st.written, 1000);
	cr_assert_not_null(d = opendir(tmpdir));
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".txt") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
		cr_assert_not_null(fp = fopen(path, "r"));
		while (fgets(line, sizeof(line), fp) != NULL) {
			unsigned sport = 0;

			if (strstr(line, "\t-\t-\t-\t-\t-\t60\n") != NULL) {
				dashes++;
				cr_assert_eq(n % 10, 9);
			} else {
				cr_assert_eq(sscanf(strchr(line, '\t'),
				    "\t0.0.0.0\t0.0.0.0\t%u\t0\t0\t60", &sport), 1,
				    "%s", line);
				cr_assert_eq(sport, n);
			}
			n++;
		}
		fclose(fp);
	}
	closedir(d);
	cr_assert_eq(n, 1000);
	cr_assert_eq(dashes, 100);
}

/*
 * The writer killed at a kill point, once; its successor starts from the
 * commit.  The ring holds every packet meanwhile, so the files must hold
 * each exactly once, in order, and the files must still rotate.
 */
static void
killed_at(const char *point)
{
	struct ns_config_probe c = mkcfg(NS_CONFIG_ENC_PCAP, 32 << 10, 0, 0);
	struct ns_persist_stats st;
	struct ns_persist *pp;
	struct readback rb;

	setenv("NS_INJECT", point, 1);
	cr_assert_eq(ns_persist_start(&pp, &c, DLT_EN10MB), 0);
	unsetenv("NS_INJECT");		/* the successor runs to the end */
	feed(pp, 0, 6000, T2026, 1000);
	/* The kill may come during the last drain: stop copes. */
	st = finish(pp);
	rb = read_back();
	cr_assert_eq(st.crashes, 1, "%s: the writer did not die once", point);
	cr_assert_eq(rb.first, 0, "%s", point);
	cr_assert_eq(rb.next, 6000, "%s", point);
	cr_assert_eq(st.written, 6000, "%s", point);
	cr_assert_eq(rb.files, st.rotated + 1, "%s", point);
	cr_assert_eq(st.ring_full + st.write_error + st.writer_down, 0);
	cr_assert_leq(rb.max_size, 32 << 10);
}

Test(pwriter, killed_after_write)
{
	killed_at("persist.after_write:5");
}

Test(pwriter, killed_after_create)
{
	killed_at("persist.after_create:3");
}

Test(pwriter, killed_after_commit)
{
	killed_at("persist.after_commit:7");
}

Test(pwriter, killed_after_close)
{
	killed_at("persist.after_close:2");
}

Test(pwriter, turned_off_after_five_deaths)
{
	struct ns_config_probe c = mkcfg(NS_CONFIG_ENC_PCAP, 0, 0, 0);
	struct ns_persist_stats st;
	struct ns_persist *pp;
	double deadline;
	pid_t pid;
	int i;

	cr_assert_eq(ns_persist_start(&pp, &c, DLT_EN10MB), 0);
	feed(pp, 0, 1000, T2026, 1000);
	for (i = 0; i < 5; i++) {
		deadline = ns_mono_now() + 30;
		while ((pid = ns_persist_writer_pid(pp)) == 0 &&
		    ns_mono_now() < deadline)
			ns_persist_check(pp);
		cr_assert_neq(pid, 0, "no writer after %d deaths", i);
		kill(pid, SIGKILL);
		while (ns_persist_writer_pid(pp) == pid)
			ns_persist_check(pp);
	}
	feed(pp, 1000, 1500, T2026, 1000);
	ns_persist_stats(pp, &st);
	cr_assert(st.disabled);
	cr_assert_eq(st.crashes, 5);
	cr_assert_geq(st.writer_down, 500);
	st = finish(pp);
	cr_assert_eq(st.written + st.ring_full + st.write_error +
	    st.writer_down, 1500);
}

Test(pwriter, unwritable_directory_is_an_error_at_start)
{
	struct ns_config_probe c = mkcfg(NS_CONFIG_ENC_PCAP, 0, 0, 0);
	struct ns_persist *pp;

	touch("file");
	c.persistence.path = (char *)path_in_tmp("file/sub");
	cr_assert_lt(ns_persist_start(&pp, &c, DLT_EN10MB), 0);
	cr_assert_null(pp);
}

/* ---- the configuration keys ------------------------------------------------ */

TestSuite(pconfig, .init = quiet);

Test(pconfig, keys_and_defaults)
{
	struct ns_config c;
	char err[1024];

	ns_config_defaults(&c);
	cr_assert_eq(c.probe.persistence.rotate_size, 100 << 20);
	cr_assert_eq(c.probe.persistence.rotate_interval, 0);
	cr_assert_eq(c.probe.persistence.max_files, 0);
	ns_config_free(&c);
	cr_assert_eq(ns_config_load_string("probe:\n  persistence:\n"
	    "    enabled: true\n    path: /var/spool/probe\n"
	    "    rotate_size: 1MiB\n    rotate_interval: 10m\n"
	    "    max_files: 7\n", "t.yaml", &c, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_null(c.warnings, "%s", c.warnings);
	cr_assert_eq(c.probe.persistence.rotate_size, 1 << 20);
	cr_assert_eq(c.probe.persistence.rotate_interval, 600 * SEC);
	cr_assert_eq(c.probe.persistence.max_files, 7);
	ns_config_free(&c);
}

Test(pconfig, gob_is_pcap_with_a_warning)
{
	struct ns_config c;
	char err[1024];

	cr_assert_eq(ns_config_load_string("probe:\n  persistence:\n"
	    "    encoding: gob\n", "t.yaml", &c, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(c.probe.persistence.encoding, NS_CONFIG_ENC_PCAP);
	cr_assert_not_null(c.warnings);
	cr_assert_not_null(strstr(c.warnings, "t.yaml:3:15: warning: "
	    "probe.persistence.encoding: \"gob\""), "%s", c.warnings);
	cr_assert_not_null(strstr(c.warnings, "writing pcap"), "%s",
	    c.warnings);
	ns_config_free(&c);
}

Test(pconfig, enabled_needs_a_path)
{
	struct ns_config c;
	char err[1024];

	cr_assert_eq(ns_config_load_string("probe:\n  persistence:\n"
	    "    enabled: true\n", "t.yaml", &c, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "enabled without a path"), "%s", err);
	cr_assert_eq(ns_config_load_string("probe:\n  persistence:\n"
	    "    rotate_size: 5 apples\n", "t.yaml", &c, err, sizeof(err)),
	    -EINVAL);
	cr_assert_not_null(strstr(err, "rotate_size"), "%s", err);
}
