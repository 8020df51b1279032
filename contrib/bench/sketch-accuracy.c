/*
 * sketch-accuracy.c -- accuracy and speed of the sketch tasks (issue 4)
 * against exact counts of the same trace.
 *
 * Reads a pcap file with the engine's parser, builds the keys the engine
 * would (5-tuple with the hidden IP-version byte; SrcIP; DstIP as the
 * element), dispatches packets to simulated workers by the symmetric flow
 * hash exactly as the capture does, and feeds one sketch region per
 * worker.  It then queries the merged regions and compares with exact
 * truth: precision, recall, F1 and average relative error (over the true
 * positives, as Go2NetSpectra measures it) for
 *   - heavy hitters by packets and by bytes (5-tuple, and SrcIP, whose
 *     keys span workers), threshold a fraction of the total;
 *   - super-spreaders, SrcIP -> distinct DstIP, absolute threshold;
 * plus memory and update rate.  For comparison it runs Go2NetSpectra's
 * heavy-hitter sketch (one fingerprint and counter per bucket, decrement
 * on mismatch; its size counter replaced by a larger packet) at its
 * 0.625 MB, as one instance over the whole stream.
 *
 *   sketch-accuracy [options] FILE.pcap    (see usage())
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "atomic.h"
#include "parse.h"
#include "sketch.h"

#define K5	38		/* ipver, src, dst, sport, dport, proto */
#define KIP	17		/* ipver, address */

struct pkt {
	uint8_t		k5[K5];
	uint8_t		ksrc[KIP];
	uint8_t		worker;
	uint32_t	len;
	uint32_t	fhash;
	uint64_t	h5, hsrc, helem;
};

struct opts {
	unsigned	workers;
	uint64_t	budget;		/* per task, over all workers */
	unsigned	hh_depth, hh_topk, sp_depth, sp_m;
	double		hh_frac;
	uint64_t	sp_threshold;
	uint64_t	g2n_budget;
	uint64_t	seed;
};

/* ---- exact truth: open addressing over (hash, key) */

struct tent {
	uint64_t	h;
	uint64_t	pkts, bytes;	/* spread: distinct elements */
	uint8_t		key[K5];
	uint8_t		used, ks;
};

struct tmap {
	struct tent	*e;
	uint64_t	 cap, n;
};

static void
tmap_init(struct tmap *m, uint64_t max)
{
	m->cap = 1;
	while (m->cap < 2 * max)
		m->cap <<= 1;
	m->n = 0;
	if ((m->e = calloc(m->cap, sizeof(*m->e))) == NULL) {
		perror("calloc");
		exit(1);
	}
}

static struct tent *
tmap_get(struct tmap *m, uint64_t h, const uint8_t *key, unsigned ks)
{
	uint64_t i = h & (m->cap - 1);

	for (; m->e[i].used; i = (i + 1) & (m->cap - 1))
		if (m->e[i].h == h && memcmp(m->e[i].key, key, ks) == 0)
			return &m->e[i];
	m->e[i].used = 1;
	m->e[i].h = h;
	m->e[i].ks = (uint8_t)ks;
	memcpy(m->e[i].key, key, ks);
	m->n++;
	return &m->e[i];
}

static struct tent *
tmap_find(const struct tmap *m, uint64_t h, const uint8_t *key, unsigned ks)
{
	uint64_t i = h & (m->cap - 1);

	for (; m->e[i].used; i = (i + 1) & (m->cap - 1))
		if (m->e[i].h == h && memcmp(m->e[i].key, key, ks) == 0)
			return &m->e[i];
	return NULL;
}

/* ---- reading */

static struct pkt *
load(const char *path, uint64_t *np)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *ph;
	const u_char *data;
	struct ns_record r;
	struct pkt *v = NULL, *p;
	uint64_t n = 0, cap = 0;
	pcap_t *pc;
	int dlt;

	if ((pc = pcap_open_offline(path, errbuf)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, errbuf);
		exit(1);
	}
	dlt = pcap_datalink(pc);
	while (pcap_next_ex(pc, &ph, &data) == 1) {
		if (ns_parse_packet(dlt, data, ph->caplen, ph->len, 0, &r) !=
		    NS_PARSE_OK)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1 << 20;
			if ((v = realloc(v, cap * sizeof(*v))) == NULL) {
				perror("realloc");
				exit(1);
			}
		}
		p = &v[n++];
		p->k5[0] = r.ipver;
		memcpy(p->k5 + 1, r.src, 16);
		memcpy(p->k5 + 17, r.dst, 16);
		p->k5[33] = (uint8_t)(r.sport >> 8);
		p->k5[34] = (uint8_t)r.sport;
		p->k5[35] = (uint8_t)(r.dport >> 8);
		p->k5[36] = (uint8_t)r.dport;
		p->k5[37] = r.proto;
		memcpy(p->ksrc, p->k5, KIP);
		p->h5 = XXH3_64bits(p->k5, K5);
		p->hsrc = XXH3_64bits(p->ksrc, KIP);
		{
			uint8_t kd[KIP];

			kd[0] = r.ipver;
			memcpy(kd + 1, r.dst, 16);
			p->helem = XXH3_64bits(kd, KIP);
		}
		p->len = ph->len;
		p->fhash = (uint32_t)r.hash;	/* symmetric flow hash */
	}
	pcap_close(pc);
	*np = n;
	return v;
}

/* ---- metrics */

struct score {
	uint64_t	tp, fp, fn;
	double		re_sum;
};

static void
score_print(const char *what, const struct score *s, uint64_t threshold)
{
	double p = s->tp + s->fp ? (double)s->tp / (s->tp + s->fp) : 1;
	double r = s->tp + s->fn ? (double)s->tp / (s->tp + s->fn) : 1;
	double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;

	printf("  %-28s thr %-9" PRIu64 " true %-4" PRIu64 " TP %-4" PRIu64
	    " FP %-3" PRIu64 " FN %-3" PRIu64 "  P %.4f R %.4f F1 %.4f"
	    "  ARE %.4f%%\n", what, threshold, s->tp + s->fn, s->tp, s->fp,
	    s->fn, p, r, f1, s->tp ? 100 * s->re_sum / s->tp : 0);
}

struct qctx {
	const struct tmap *truth;
	unsigned	 ks;
	int		 bytes;		/* compare bytes, else packets */
	uint64_t	 threshold;
	struct score	 s;
	uint64_t	 err_viol;	/* value - truth beyond err_bound */
};

static void
q_hh(void *arg, const uint8_t *key, uint64_t value, uint64_t err)
{
	struct qctx *q = arg;
	struct tent *t = tmap_find(q->truth, XXH3_64bits(key, q->ks), key,
	    q->ks);
	uint64_t tv = t == NULL ? 0 : q->bytes ? t->bytes : t->pkts;

	if (value < tv || value - tv > err)
		q->err_viol++;
	if (tv >= q->threshold) {
		q->s.tp++;
		q->s.re_sum += fabs((double)value - (double)tv) / (double)tv;
	} else
		q->s.fp++;
}

static void
q_spread(void *arg, const uint8_t *key, uint64_t value, uint64_t err)
{
	struct qctx *q = arg;
	struct tent *t = tmap_find(q->truth, XXH3_64bits(key, q->ks), key,
	    q->ks);
	uint64_t tv = t == NULL ? 0 : t->pkts;

	(void)err;
	if (tv >= q->threshold) {
		q->s.tp++;
		q->s.re_sum += fabs((double)value - (double)tv) / (double)tv;
	} else
		q->s.fp++;
}

static uint64_t
count_true(const struct tmap *m, int bytes, uint64_t thr)
{
	uint64_t i, n = 0;

	for (i = 0; i < m->cap; i++)
		if (m->e[i].used && (bytes ? m->e[i].bytes : m->e[i].pkts) >=
		    thr)
			n++;
	return n;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void **
regions_alloc(unsigned n, uint64_t size)
{
	void **r = calloc(n, sizeof(*r));
	unsigned i;

	for (i = 0; i < n; i++) {
		/* Heavy-hitter regions start on NS_HH_BUCKET_BYTES. */
		if ((r[i] = aligned_alloc(NS_HH_BUCKET_BYTES,
		    NS_ALIGN_UP(size, NS_HH_BUCKET_BYTES))) == NULL) {
			perror("aligned_alloc");
			exit(1);
		}
		memset(r[i], 0, size);
	}
	return r;
}

/* ---- heavy hitters */

static void
run_hh(const struct opts *o, const struct pkt *v, uint64_t n, int srcip,
    uint64_t tot_pkts, uint64_t tot_bytes)
{
	struct ns_sketch_params p = { .depth = o->hh_depth,
	    .top_k = o->hh_topk, .key_size = srcip ? KIP : K5,
	    .flags = srcip ? 0 : NS_SKETCH_F_PARTITIONED, .seed = o->seed };
	struct tmap truth;
	struct qctx q;
	uint64_t i, size, thr;
	void **reg;
	double t0, dt;
	int by;

	ns_sketch_fit_width(&p, o->budget / o->workers, 0);
	size = ns_hh_shm_size(&p);
	reg = regions_alloc(o->workers, size);
	for (i = 0; i < o->workers; i++)
		ns_hh_shm_init(reg[i], &p);
	t0 = now();
	for (i = 0; i < n; i++)
		if (srcip)
			ns_hh_update(reg[v[i].worker], NULL, v[i].ksrc,
			    v[i].hsrc, v[i].len);
		else
			ns_hh_update(reg[v[i].worker], NULL, v[i].k5,
			    v[i].h5, v[i].len);
	dt = now() - t0;
	tmap_init(&truth, n);
	for (i = 0; i < n; i++) {
		struct tent *t = srcip ?
		    tmap_get(&truth, v[i].hsrc, v[i].ksrc, KIP) :
		    tmap_get(&truth, v[i].h5, v[i].k5, K5);
		t->pkts++;
		t->bytes += v[i].len;
	}
	printf("heavy hitters, key %s: %u x %" PRIu64 " B = %" PRIu64
	    " B (width %u depth %u top_k %u), %" PRIu64 " keys, "
	    "%.1f ns/update (%.1f Mupdates/s), %u cells/update max\n",
	    srcip ? "SrcIP" : "5-tuple", o->workers, size, o->workers * size,
	    p.width, p.depth, p.top_k, truth.n, 1e9 * dt / n, n / dt / 1e6,
	    ns_hh_cells_per_update(&p));
	for (by = 0; by < 2; by++) {
		thr = (uint64_t)ceil(o->hh_frac * (by ? tot_bytes : tot_pkts));
		memset(&q, 0, sizeof(q));
		q.truth = &truth;
		q.ks = p.key_size;
		q.bytes = by;
		q.threshold = thr;
		ns_hh_query((const void *const *)reg, o->workers, by, thr,
		    q_hh, &q);
		q.s.fn = count_true(&truth, by, thr) - q.s.tp;
		score_print(by ? "by bytes" : "by packets", &q.s, thr);
		if (q.err_viol)
			printf("  !! %" PRIu64 " values outside their error "
			    "bound\n", q.err_viol);
	}
	for (i = 0; i < o->workers; i++)
		free(reg[i]);
	free(reg);
	free(truth.e);
}

/* ---- Go2NetSpectra's heavy-hitter sketch, for comparison */

struct g2n_half {
	uint8_t		fp[K5];
	uint32_t	c;
};

struct g2n_bucket {
	struct g2n_half	count, size;
};

/*
 * statistic/count_min.go: per row, a counter with a fingerprint: equal
 * key adds, other key decrements (count) or, when larger, takes the
 * bucket (size); an emptied count bucket takes the key's fingerprint.
 * Query: the largest value over the rows whose fingerprint is the key.
 */
static void
g2n_insert(struct g2n_bucket *t, uint32_t w, unsigned d, const uint8_t *k,
    uint32_t len)
{
	struct g2n_bucket *b;
	unsigned r;

	for (r = 0; r < d; r++) {
		b = &t[r * w + XXH3_64bits_withSeed(k, K5, r + 1) % w];
		if (b->size.c == 0 || memcmp(b->size.fp, k, K5) == 0) {
			memcpy(b->size.fp, k, K5);
			b->size.c += len;
		} else if (len > b->size.c) {
			memcpy(b->size.fp, k, K5);
			b->size.c = len;
		} else
			b->size.c -= len;
		if (b->count.c == 0) {
			memcpy(b->count.fp, k, K5);
			b->count.c = 1;
		} else if (memcmp(b->count.fp, k, K5) == 0)
			b->count.c++;
		else if (--b->count.c == 0)
			memcpy(b->count.fp, k, K5);
	}
}

static void
run_g2n(const struct opts *o, const struct pkt *v, uint64_t n,
    uint64_t tot_pkts, uint64_t tot_bytes)
{
	/* Fingerprint of the key plus a 32-bit counter, twice, per bucket. */
	unsigned d = 2, by;
	uint64_t per = 2 * (K5 + 4);
	uint32_t w = (uint32_t)(o->g2n_budget / (d * per));
	struct g2n_bucket *t = calloc((size_t)w * d, sizeof(*t));
	struct tmap truth, seen;
	struct score s;
	struct tent *e, *x;
	uint64_t i, thr, val;
	double t0, dt;

	t0 = now();
	for (i = 0; i < n; i++)
		g2n_insert(t, w, d, v[i].k5, v[i].len);
	dt = now() - t0;
	tmap_init(&truth, n);
	for (i = 0; i < n; i++) {
		e = tmap_get(&truth, v[i].h5, v[i].k5, K5);
		e->pkts++;
		e->bytes += v[i].len;
	}
	printf("Go2NetSpectra count_min.go, 5-tuple: %" PRIu64 " B (width %u "
	    "depth %u, %" PRIu64 " B/bucket), %.1f ns/update\n",
	    (uint64_t)w * d * per, w, d, per, 1e9 * dt / n);
	for (by = 0; by < 2; by++) {
		thr = (uint64_t)ceil(o->hh_frac * (by ? tot_bytes : tot_pkts));
		/* HeavyHitters(): max over the buckets holding the key. */
		tmap_init(&seen, (uint64_t)w * d);
		for (i = 0; i < (uint64_t)w * d; i++) {
			struct g2n_half *hf = by ? &t[i].size : &t[i].count;

			if (hf->c == 0)
				continue;
			e = tmap_get(&seen, XXH3_64bits(hf->fp, K5), hf->fp,
			    K5);
			if (hf->c > e->pkts)
				e->pkts = hf->c;
		}
		memset(&s, 0, sizeof(s));
		for (i = 0; i < seen.cap; i++) {
			if (!seen.e[i].used || seen.e[i].pkts < thr)
				continue;
			x = tmap_find(&truth, seen.e[i].h, seen.e[i].key, K5);
			val = x == NULL ? 0 : by ? x->bytes : x->pkts;
			if (val >= thr) {
				s.tp++;
				s.re_sum += fabs((double)seen.e[i].pkts -
				    (double)val) / (double)val;
			} else
				s.fp++;
		}
		s.fn = count_true(&truth, by, thr) - s.tp;
		score_print(by ? "by bytes" : "by packets", &s, thr);
		free(seen.e);
	}
	free(t);
	free(truth.e);
}

/* ---- super-spreaders */

static void
run_spread(const struct opts *o, const struct pkt *v, uint64_t n)
{
	struct ns_sketch_params p = { .depth = o->sp_depth, .m = o->sp_m,
	    .key_size = KIP, .seed = o->seed };
	struct tmap truth, pairs;
	struct qctx q;
	uint64_t i, size;
	uint8_t pk[16];
	void **reg;
	double t0, dt;

	ns_sketch_fit_width(&p, o->budget / o->workers, 1);
	size = ns_spread_shm_size(&p);
	reg = regions_alloc(o->workers, size);
	for (i = 0; i < o->workers; i++)
		ns_spread_shm_init(reg[i], &p);
	t0 = now();
	for (i = 0; i < n; i++)
		ns_spread_update(reg[v[i].worker], NULL, v[i].ksrc, v[i].hsrc,
		    v[i].helem);
	dt = now() - t0;
	/* Exact: distinct (source, destination-hash) pairs per source. */
	tmap_init(&truth, n);
	tmap_init(&pairs, n);
	for (i = 0; i < n; i++) {
		memcpy(pk, &v[i].hsrc, 8);
		memcpy(pk + 8, &v[i].helem, 8);
		if (tmap_find(&pairs, XXH3_64bits(pk, 16), pk, 16) != NULL)
			continue;
		tmap_get(&pairs, XXH3_64bits(pk, 16), pk, 16);
		tmap_get(&truth, v[i].hsrc, v[i].ksrc, KIP)->pkts++;
	}
	printf("super-spreaders, SrcIP -> DstIP: %u x %" PRIu64 " B = %"
	    PRIu64 " B (width %u depth %u m %u), %" PRIu64 " sources, %"
	    PRIu64 " pairs, %.1f ns/update (%.1f Mupdates/s), %u cells/update "
	    "max\n", o->workers, size, o->workers * size, p.width, p.depth,
	    p.m, truth.n, pairs.n, 1e9 * dt / n, n / dt / 1e6,
	    ns_spread_cells_per_update(&p));
	memset(&q, 0, sizeof(q));
	q.truth = &truth;
	q.ks = KIP;
	q.threshold = o->sp_threshold;
	ns_spread_query((const void *const *)reg, o->workers, o->sp_threshold,
	    q_spread, &q);
	q.s.fn = count_true(&truth, 0, o->sp_threshold) - q.s.tp;
	score_print("distinct DstIP", &q.s, o->sp_threshold);
	for (i = 0; i < o->workers; i++)
		free(reg[i]);
	free(reg);
	free(truth.e);
	free(pairs.e);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: sketch-accuracy [options] FILE.pcap\n"
	    "  -w N        workers (regions per task) [2]\n"
	    "  -M BYTES    memory per sketch task, all workers [1048576]\n"
	    "  -d N        heavy-hitter depth [2]\n"
	    "  -k N        heavy-hitter candidate slots per worker [2048]\n"
	    "  -D N        spread depth [3]\n"
	    "  -m N        spread HLL registers per bucket [128]\n"
	    "  -f FRAC     heavy-hitter threshold, of the total [0.0005]\n"
	    "  -t N        spread threshold, distinct elements [500]\n"
	    "  -g BYTES    Go2NetSpectra sketch memory [655360]\n"
	    "  -s SEED     sketch seed [1]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct opts o = { 2, 1 << 20, 2, 2048, 3, 128, 0.0005, 500, 655360,
	    1 };
	uint64_t n, i, tp = 0, tb = 0;
	struct pkt *v;
	int c;

	while ((c = getopt(argc, argv, "w:M:d:k:D:m:f:t:g:s:h")) != -1) {
		switch (c) {
		case 'w': o.workers = (unsigned)atoi(optarg); break;
		case 'M': o.budget = strtoull(optarg, NULL, 0); break;
		case 'd': o.hh_depth = (unsigned)atoi(optarg); break;
		case 'k': o.hh_topk = (unsigned)atoi(optarg); break;
		case 'D': o.sp_depth = (unsigned)atoi(optarg); break;
		case 'm': o.sp_m = (unsigned)atoi(optarg); break;
		case 'f': o.hh_frac = atof(optarg); break;
		case 't': o.sp_threshold = strtoull(optarg, NULL, 0); break;
		case 'g': o.g2n_budget = strtoull(optarg, NULL, 0); break;
		case 's': o.seed = strtoull(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (optind + 1 != argc || o.workers < 1 || o.workers > 255)
		usage();
	v = load(argv[optind], &n);
	for (i = 0; i < n; i++) {
		/* ns_engine_pick(): (uint32 hash * nworkers) >> 32. */
		v[i].worker = (uint8_t)(((uint64_t)v[i].fhash * o.workers) >>
		    32);
		tp++;
		tb += v[i].len;
	}
	printf("%s: %" PRIu64 " packets, %" PRIu64 " bytes, %u workers, "
	    "%" PRIu64 " B per sketch task\n", argv[optind], tp, tb,
	    o.workers, o.budget);
	run_hh(&o, v, n, 0, tp, tb);
	run_hh(&o, v, n, 1, tp, tb);
	run_g2n(&o, v, n, tp, tb);
	run_spread(&o, v, n);
	free(v);
	return 0;
}
