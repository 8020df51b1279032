/*
 * file.c -- snapshots as files, in one of two layouts.
 *
 * netspectra's: <root_path>/<timestamp>/<task>/flows.{txt,jsonl,csv} and
 * summary.json, where <timestamp> is the period start (20260101T000000Z,
 * sortable and free of ':' for every filesystem).  The jsonl lines are
 * those of `netspectra analyze --flows jsonl`.
 *
 * Go2NetSpectra's (layout: go2netspectra): <root_path>/<period start in
 * local time, 2006-01-02_15-04-05>/<task>/ with its file names -- an exact
 * task's flows spread over shard_<i>.{txt,jsonl} as Go2NetSpectra spreads
 * them over its shard_<i>.dat, its summary.json keys; a sketch task's
 * count_hh.txt, size_hh.txt or spread_ss.txt of "<flow> <value>" lines.
 * The choices where Go2NetSpectra writes gob are in netspectra.yaml(5).
 *
 * A file is complete or absent: it is written as .NAME.tmp, flushed, and
 * renamed.
 */
#include "file.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "output.h"
#include "segment.h"
#include "snapshot.h"

struct file_ctx {
	const struct ns_config_writer *cw;
	FILE *fp;
	uint64_t period_start;
	char id[64];			/* snapshot_id() */
	uint64_t flows, packets, bytes;
};

/* dir/name into buf; -ENAMETOOLONG rather than a cut path. */
static int
path_join(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * dir/name is where a file will be; open dir/.name.tmp for writing it.
 * tmp and final are 4096 bytes.
 */
static int
open_tmp(const char *dir, const char *name, char *tmp, char *final,
    FILE **fpp)
{
	char hidden[256];
	int rc;

	snprintf(hidden, sizeof(hidden), ".%s.tmp", name);
	if ((rc = path_join(final, 4096, dir, name)) != 0 ||
	    (rc = path_join(tmp, 4096, dir, hidden)) != 0)
		return rc;
	if ((*fpp = fopen(tmp, "w")) == NULL)
		return -errno;
	return 0;
}

static int
mkdirs(char *path)
{
	char *p;

	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * A period's directory name.  netspectra's: UTC, sortable, free of ':'.
 * Go2NetSpectra's: its Go layout 2006-01-02_15-04-05 in local time, of
 * the period start where Go2NetSpectra takes the time of the write: one
 * directory per period, which the period's live snapshots and its final
 * one replace, and no two periods can meet in one second.
 */
static const char *
dir_stamp(const struct ns_config_writer *cw, uint64_t ns, char *buf,
    size_t len)
{
	time_t sec = (time_t)(ns / 1000000000u);
	struct tm tm;

	if (cw->layout == NS_CONFIG_LAYOUT_GO2NS) {
		localtime_r(&sec, &tm);
		strftime(buf, len, "%Y-%m-%d_%H-%M-%S", &tm);
	} else {
		gmtime_r(&sec, &tm);
		strftime(buf, len, "%Y%m%dT%H%M%SZ", &tm);
	}
	return buf;
}

static const char *
flows_ext(enum ns_config_writer_type t)
{
	return t == NS_CONFIG_WRITER_CSV ? "csv" :
	    t == NS_CONFIG_WRITER_TEXT ? "txt" : "jsonl";
}

/* One flow as a line of text: key=value pairs, as people read them. */
static void
flow_text(FILE *fp, const struct ns_task *t, const struct ns_flow *f)
{
	char a[NS_TIME_STRLEN], b[NS_TIME_STRLEN], fl[16];

	ns_task_key_csv(t, f->key, fp);
	fprintf(fp, "  packets=%" PRIu64 " bytes=%" PRIu64 " first=%s last=%s"
	    " flags=%s\n", f->packets, f->bytes,
	    ns_time_format(f->first_ns, a, sizeof(a)),
	    ns_time_format(f->last_ns, b, sizeof(b)),
	    ns_tcpflags_format(f->tcp_flags, fl, sizeof(fl)));
}

static void
file_flow(void *arg, const struct ns_task *t, const struct ns_flow *f)
{
	struct file_ctx *c = arg;

	c->flows++;
	c->packets += f->packets;
	c->bytes += f->bytes;
	if (c->cw->type == NS_CONFIG_WRITER_CSV)
		ns_output_flow_csv(c->fp, t, c->period_start, f);
	else if (c->cw->type == NS_CONFIG_WRITER_TEXT)
		flow_text(c->fp, t, f);
	else
		ns_output_flow_jsonl(c->fp, t, c->period_start, f);
}

/* Finish a temporary file and give it its name. */
static int
commit_file(FILE *fp, const char *tmp, const char *final)
{
	int rc = 0;

	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0)
		rc = -errno;
	if (fclose(fp) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, final) != 0)
		rc = -errno;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

static int
write_flows(struct file_ctx *c, const struct ns_engine *e, uint64_t g,
    unsigned t, const char *dir)
{
	char tmp[4096], final[4096], name[32];
	int rc;

	snprintf(name, sizeof(name), "flows.%s", flows_ext(c->cw->type));
	if ((rc = open_tmp(dir, name, tmp, final, &c->fp)) != 0)
		return rc;
	if (c->cw->type == NS_CONFIG_WRITER_CSV)
		ns_output_flow_csv_header(c->fp, &e->tasks[t]);
	if ((rc = ns_snapshot_task(e, g, t, file_flow, c)) != 0) {
		fclose(c->fp);
		unlink(tmp);
		return rc;
	}
	return commit_file(c->fp, tmp, final);
}

static int
write_summary(const struct file_ctx *c, const char *task, const char *dir,
    int final)
{
	char tmp[4096], path[4096], ts[NS_TIME_STRLEN];
	FILE *fp;
	int rc;

	if ((rc = open_tmp(dir, "summary.json", tmp, path, &fp)) != 0)
		return rc;
	fprintf(fp, "{\"task\":\"%s\",\"flows\":%" PRIu64 ",\"bytes\":%" PRIu64
	    ",\"packets\":%" PRIu64 ",\"timestamp\":\"%s\",\"final\":%s,"
	    "\"snapshot\":\"%s\"}\n", task, c->flows, c->bytes, c->packets,
	    ns_time_format(c->period_start, ts, sizeof(ts)),
	    final ? "true" : "false", c->id);
	return commit_file(fp, tmp, path);
}

/* Which snapshot a directory holds: the segment's birth and generation. */
static void
snapshot_id(const struct ns_engine *e, uint64_t g, char *buf, size_t len)
{
	snprintf(buf, len, "%" PRIu64 ".%" PRIu64,
	    ns_seg_hdr(&e->seg)->created_ns, g);
}

/*
 * Where a directory says which snapshot it holds: summary.json's
 * "snapshot" in netspectra's layout; in Go2NetSpectra's, whose summary
 * has no such key, a hidden file of its own (a daemon's only: an offline
 * run replaces what it finds and needs none).
 */
#define G2_MARK		".snapshot"

/* 1 if dir is free for snapshot id: absent, or holding that snapshot. */
static int
dir_is_ours(const struct ns_config_writer *cw, const char *dir,
    const char *id)
{
	char path[4096], text[512], want[96];
	int g2 = cw->layout == NS_CONFIG_LAYOUT_GO2NS;
	size_t n;
	FILE *fp;

	if (path_join(path, sizeof(path), dir, g2 ? G2_MARK :
	    "summary.json") != 0 || (fp = fopen(path, "r")) == NULL)
		return 1;
	n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
	if (g2)
		return strcmp(text, id) == 0;
	snprintf(want, sizeof(want), "\"snapshot\":\"%s\"", id);
	return strstr(text, want) != NULL;
}

/*
 * <root>/<period start>/<task>, made.  A period a restarted daemon began
 * afresh already has a directory of the generation before: this one goes
 * to <period start>.1 (.2, ...) beside it instead of replacing it.  An
 * offline run replaces the output of an earlier one.
 */
static int
task_dir(const struct ns_config_writer *cw, const struct ns_engine *e,
    uint64_t g, uint64_t period_start, const char *task, char *dir,
    size_t len)
{
	char stamp[32], id[64];
	unsigned k;
	int n;

	snapshot_id(e, g, id, sizeof(id));
	dir_stamp(cw, period_start, stamp, sizeof(stamp));
	for (k = 0; k < 1000; k++) {
		n = k == 0 ? snprintf(dir, len, "%s/%s/%s", cw->root_path, stamp,
		    task) : snprintf(dir, len, "%s/%s.%u/%s", cw->root_path,
		    stamp, k, task);
		if (n < 0 || (size_t)n >= len)
			return -ENAMETOOLONG;
		/* An offline run (private segment) replaces what it finds. */
		if ((e->seg.flags & NS_SEG_F_PRIVATE) ||
		    dir_is_ours(cw, dir, id))
			return mkdirs(dir);
	}
	return -EEXIST;
}

/* ---- Go2NetSpectra's layout: text forms --------------------------------- */

#define G2_OPEN_MAX	256	/* shard files open at once */
#define G2_TEXT_MAX	(NS_CONFIG_MAX_FIELDS * (NS_TASK_TEXT_MAX + 1))

/* The key's fields as text joined by sep: Go2NetSpectra's flow text
 * (' ': its heavy-hitter files) and its exact key ('-': shards). */
static void
g2_join(const struct ns_task *t, const uint8_t *key, char sep, char *out,
    size_t len)
{
	char v[NS_TASK_TEXT_MAX], s[2] = { sep, '\0' };
	size_t n = 0;
	unsigned i;
	int k;

	out[0] = '\0';
	for (i = 0; i < t->fields.n && n < len; i++) {
		if (ns_task_key_text(t, key, i, v, sizeof(v)) != 0)
			v[0] = '\0';
		k = snprintf(out + n, len - n, "%s%s", i ? s : "", v);
		n += k > 0 ? (size_t)k : 0;
	}
}

/* FNV-1a, 32 bits (Go's hash/fnv New32a): how Go2NetSpectra picks an
 * exact flow's shard, from its "-"-joined key. */
static uint32_t
g2_fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

/* Go2NetSpectra's shard count: num_shards, or its 256 for 0 and 32768 up. */
static uint32_t
g2_nshards(const struct ns_config_exact_task *ct)
{
	return ct->num_shards == 0 || ct->num_shards >= 32768 ? 256 :
	    ct->num_shards;
}

/* Go's RFC3339Nano of a UTC time: the fraction without trailing zeros. */
static const char *
g2_time(uint64_t ns, char *buf, size_t len)
{
	time_t sec = (time_t)(ns / 1000000000u);
	uint32_t frac = (uint32_t)(ns % 1000000000u);
	int digits = 9;
	struct tm tm;
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac != 0) {
		for (; frac % 10 == 0; frac /= 10)
			digits--;
		n += (size_t)snprintf(buf + n, len - n, ".%0*u", digits, frac);
	}
	snprintf(buf + n, len - n, "Z");
	return buf;
}

struct g2_kv {
	const char *name;
	char val[NS_TASK_TEXT_MAX];
	int text;			/* a JSON string, not a number */
};

static int
g2_kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct g2_kv *)a)->name,
	    ((const struct g2_kv *)b)->name);
}

/*
 * One flow as encoding/json prints Go2NetSpectra's statistic.Flow, the
 * type of its gob files: Fields is a Go map, so its keys come sorted.
 */
static void
g2_flow_json(FILE *fp, const struct ns_task *t, const struct ns_flow *f,
    const char *key)
{
	struct g2_kv kv[NS_CONFIG_MAX_FIELDS];
	char a[NS_TIME_STRLEN], b[NS_TIME_STRLEN];
	enum ns_config_field fd;
	unsigned i;

	for (i = 0; i < t->fields.n; i++) {
		fd = t->fields.f[i].field;
		kv[i].name = ns_config_field_name(fd);
		kv[i].text = fd == NS_CONFIG_FIELD_SRCIP ||
		    fd == NS_CONFIG_FIELD_DSTIP || fd == NS_CONFIG_FIELD_SRCNET ||
		    fd == NS_CONFIG_FIELD_DSTNET;
		if (ns_task_key_text(t, f->key, i, kv[i].val,
		    sizeof(kv[i].val)) != 0)
			kv[i].val[0] = '\0';
	}
	qsort(kv, t->fields.n, sizeof(kv[0]), g2_kv_cmp);
	fprintf(fp, "{\"Key\":\"%s\",\"Fields\":{", key);
	for (i = 0; i < t->fields.n; i++)
		fprintf(fp, "%s\"%s\":%s%s%s", i ? "," : "", kv[i].name,
		    kv[i].text ? "\"" : "", kv[i].val, kv[i].text ? "\"" : "");
	fprintf(fp, "},\"StartTime\":\"%s\",\"EndTime\":\"%s\",\"ByteCount\":%"
	    PRIu64 ",\"PacketCount\":%" PRIu64 "}\n",
	    g2_time(f->first_ns, a, sizeof(a)), g2_time(f->last_ns, b, sizeof(b)),
	    f->bytes, f->packets);
}

/* ---- Go2NetSpectra's layout: an exact task's shard files ---------------- */

struct g2_exact {
	const char *dir;
	const char *ext;		/* "txt", "jsonl" */
	int json;
	uint32_t nshards, lo, hi;	/* shards [lo, hi) written this pass */
	FILE *fp[G2_OPEN_MAX];		/* of shard lo + i, opened on use */
	uint8_t *used;			/* per shard: it has flows */
	uint64_t flows, packets, bytes;
	int err;
};

static void
g2_shard_names(const struct g2_exact *c, uint32_t i, char *tmp, char *final)
{
	char name[64];

	snprintf(name, sizeof(name), "shard_%" PRIu32 ".%s", i, c->ext);
	path_join(final, 4096, c->dir, name);
	snprintf(name, sizeof(name), ".shard_%" PRIu32 ".%s.tmp", i, c->ext);
	path_join(tmp, 4096, c->dir, name);
}

static FILE *
g2_shard_fp(struct g2_exact *c, uint32_t i)
{
	char tmp[4096], final[4096], name[64];
	FILE **fpp = &c->fp[i - c->lo];

	if (*fpp == NULL && c->err == 0) {
		snprintf(name, sizeof(name), "shard_%" PRIu32 ".%s", i, c->ext);
		c->err = open_tmp(c->dir, name, tmp, final, fpp);
	}
	return c->err != 0 ? NULL : *fpp;
}

static void
g2_exact_flow(void *arg, const struct ns_task *t, const struct ns_flow *f)
{
	struct g2_exact *c = arg;
	char key[G2_TEXT_MAX], flow[G2_TEXT_MAX];
	uint32_t i;
	FILE *fp;

	g2_join(t, f->key, '-', key, sizeof(key));
	i = g2_fnv1a(key) % c->nshards;
	if (c->lo == 0) {
		c->flows++;
		c->packets += f->packets;
		c->bytes += f->bytes;
		c->used[i] = 1;
	}
	if (i < c->lo || i >= c->hi || (fp = g2_shard_fp(c, i)) == NULL)
		return;
	if (c->json) {
		g2_flow_json(fp, t, f, key);
		return;
	}
	g2_join(t, f->key, ' ', flow, sizeof(flow));
	fprintf(fp, "%s %" PRIu64 " %" PRIu64 "\n", flow, f->packets,
	    f->bytes);
}

/* Name the pass's files (keep), or drop them; the first error. */
static int
g2_close_pass(struct g2_exact *c, int keep)
{
	char tmp[4096], final[4096];
	uint32_t i;
	int rc = 0, r;

	for (i = c->lo; i < c->hi; i++) {
		FILE *fp = c->fp[i - c->lo];

		if (fp == NULL)
			continue;
		c->fp[i - c->lo] = NULL;
		g2_shard_names(c, i, tmp, final);
		if (keep) {
			if ((r = commit_file(fp, tmp, final)) != 0 && rc == 0)
				rc = r;
		} else {
			fclose(fp);
			unlink(tmp);
		}
	}
	return rc;
}

/*
 * Shards without flows have no file, as in Go2NetSpectra; one left by an
 * earlier snapshot or run in this directory goes.
 */
static void
g2_drop_empty(const struct g2_exact *c)
{
	char tmp[4096], final[4096];
	uint32_t i;

	for (i = 0; i < c->nshards; i++) {
		if (c->used[i])
			continue;
		g2_shard_names(c, i, tmp, final);
		if (unlink(final) != 0 && errno != ENOENT)
			log_warn("%s", final);
	}
}

/*
 * Go2NetSpectra's summary.json: its keys, in its order, indented as Go's
 * json.Encoder with SetIndent("", "  "); timestamp is the time of the
 * write in UTC, as it writes it.  Like Go2NetSpectra, none without flows.
 */
static int
g2_write_summary(const struct g2_exact *c, const char *task)
{
	char tmp[4096], path[4096], ts[32];
	time_t now = time(NULL);
	struct tm tm;
	FILE *fp;
	int rc;

	if (c->flows == 0) {
		if (path_join(path, sizeof(path), c->dir, "summary.json") == 0)
			unlink(path);
		return 0;
	}
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if ((rc = open_tmp(c->dir, "summary.json", tmp, path, &fp)) != 0)
		return rc;
	fprintf(fp, "{\n  \"task_name\": \"%s\",\n  \"total_flows\": %" PRIu64
	    ",\n  \"total_bytes\": %" PRIu64 ",\n  \"total_packets\": %" PRIu64
	    ",\n  \"shards\": %" PRIu32 ",\n  \"timestamp\": \"%s\"\n}\n", task,
	    c->flows, c->bytes, c->packets, c->nshards, ts);
	return commit_file(fp, tmp, path);
}

/*
 * Task t's flows into shard_<i> files.  Shards are written G2_OPEN_MAX at
 * a time, each window a pass over the snapshot: Go2NetSpectra's up to
 * 32767 shards would not fit the descriptors at once.
 */
static int
g2_write_exact_task(const struct ns_config_writer *cw,
    const struct ns_engine *e, uint64_t g, unsigned t, const char *dir)
{
	struct g2_exact c;
	int rc = 0, r;

	memset(&c, 0, sizeof(c));
	c.dir = dir;
	c.json = cw->type == NS_CONFIG_WRITER_JSONL;
	c.ext = c.json ? "jsonl" : "txt";
	c.nshards = g2_nshards(&e->cfg->aggregator.exact.tasks[t]);
	if ((c.used = calloc(c.nshards, 1)) == NULL)
		return -ENOMEM;
	for (c.lo = 0; rc == 0 && c.lo < c.nshards; c.lo = c.hi) {
		c.hi = c.nshards - c.lo > G2_OPEN_MAX ? c.lo + G2_OPEN_MAX :
		    c.nshards;
		if ((rc = ns_snapshot_task(e, g, t, g2_exact_flow, &c)) == 0)
			rc = c.err;
		if ((r = g2_close_pass(&c, rc == 0)) != 0 && rc == 0)
			rc = r;
	}
	if (rc == 0) {
		g2_drop_empty(&c);
		rc = g2_write_summary(&c, e->tasks[t].name);
	}
	free(c.used);
	return rc;
}

/* A daemon's directory says which snapshot it holds (dir_is_ours()). */
static int
g2_mark(const struct ns_engine *e, uint64_t g, const char *dir)
{
	char tmp[4096], path[4096], id[64];
	FILE *fp;
	int rc;

	if (e->seg.flags & NS_SEG_F_PRIVATE)
		return 0;
	snapshot_id(e, g, id, sizeof(id));
	if ((rc = open_tmp(dir, G2_MARK, tmp, path, &fp)) != 0)
		return rc;
	fputs(id, fp);
	return commit_file(fp, tmp, path);
}

static const char *
g2_sketch_file(enum ns_sketch_kind kind)
{
	return kind == NS_SKETCH_COUNT ? "count_hh.txt" :
	    kind == NS_SKETCH_SIZE ? "size_hh.txt" : "spread_ss.txt";
}

/* ---- sketch tasks: count/size/spread files ----------------------------- */

struct sketch_file {
	const struct ns_config_writer *cw;
	FILE *fp;
	uint64_t period_start;
	char id[64];			/* snapshot_id() */
	struct ns_sketch_report rep[3];	/* by enum ns_sketch_kind */
};

static void
sketch_line(void *arg, const struct ns_sketch_task *t,
    enum ns_sketch_kind kind, const uint8_t *key, uint64_t value,
    uint64_t err)
{
	struct sketch_file *c = arg;
	char flow[G2_TEXT_MAX];

	if (c->cw->layout == NS_CONFIG_LAYOUT_GO2NS) {
		/* Go2NetSpectra's "<flow> <value>", whatever the type: text
		 * is its only file format for sketches. */
		g2_join(&t->flow, key, ' ', flow, sizeof(flow));
		fprintf(c->fp, "%s %" PRIu64 "\n", flow, value);
	} else if (c->cw->type == NS_CONFIG_WRITER_CSV) {
		ns_output_sketch_csv(c->fp, t->cfg->name, &t->flow,
		    c->period_start, ns_sketch_kind_name(kind), key, value, err);
	} else if (c->cw->type == NS_CONFIG_WRITER_TEXT) {
		ns_task_key_csv(&t->flow, key, c->fp);
		fprintf(c->fp, "  %s=%" PRIu64 " error<=%" PRIu64 "\n",
		    ns_sketch_kind_name(kind), value, err);
	} else {
		ns_output_sketch_jsonl(c->fp, t->cfg->name, &t->flow,
		    c->period_start, ns_sketch_kind_name(kind), key, value, err);
	}
}

static int
write_sketch_kind(struct sketch_file *c, const struct ns_engine *e,
    uint64_t g, unsigned k, enum ns_sketch_kind kind, const char *dir)
{
	char tmp[4096], final[4096], name[64];
	int rc;

	if (c->cw->layout == NS_CONFIG_LAYOUT_GO2NS)
		snprintf(name, sizeof(name), "%s", g2_sketch_file(kind));
	else
		snprintf(name, sizeof(name), "%s.%s",
		    ns_sketch_kind_name(kind), flows_ext(c->cw->type));
	if ((rc = open_tmp(dir, name, tmp, final, &c->fp)) != 0)
		return rc;
	if (c->cw->type == NS_CONFIG_WRITER_CSV)
		ns_output_sketch_csv_header(c->fp, &e->sketches[k].flow);
	if ((rc = ns_snapshot_sketch_stats(e, g, k, kind, sketch_line, c,
	    &c->rep[kind])) < 0) {
		fclose(c->fp);
		unlink(tmp);
		return rc;
	}
	return commit_file(c->fp, tmp, final);
}

/* {"task":...,"timestamp":...,"final":true,"count":N,"size":N} */
static int
write_sketch_summary(const struct sketch_file *c,
    const struct ns_sketch_task *t, const char *dir, int final)
{
	char tmp[4096], path[4096], ts[NS_TIME_STRLEN];
	FILE *fp;
	int rc;

	if ((rc = open_tmp(dir, "summary.json", tmp, path, &fp)) != 0)
		return rc;
	fprintf(fp, "{\"task\":\"%s\",\"timestamp\":\"%s\",\"final\":%s,"
	    "\"snapshot\":\"%s\"", t->cfg->name,
	    ns_time_format(c->period_start, ts, sizeof(ts)),
	    final ? "true" : "false", c->id);
	if (t->spread)
		fprintf(fp, ",\"spread\":%" PRIu64 ",\"spread_unreported\":%"
		    PRIu64 "}\n", c->rep[NS_SKETCH_SPREAD].reported,
		    c->rep[NS_SKETCH_SPREAD].unreported);
	else
		fprintf(fp, ",\"count\":%" PRIu64 ",\"size\":%" PRIu64
		    ",\"count_unreported\":%" PRIu64 ",\"size_unreported\":%"
		    PRIu64 "}\n", c->rep[NS_SKETCH_COUNT].reported,
		    c->rep[NS_SKETCH_SIZE].reported,
		    c->rep[NS_SKETCH_COUNT].unreported,
		    c->rep[NS_SKETCH_SIZE].unreported);
	return commit_file(fp, tmp, path);
}

/*
 * Keys over a threshold a period's final snapshot could not report: said
 * once per period (live snapshots would repeat it every interval).
 */
static void
sketch_warn_unreported(const struct sketch_file *c,
    const struct ns_sketch_task *t)
{
	enum ns_sketch_kind kind;

	for (kind = NS_SKETCH_COUNT; kind <= NS_SKETCH_SPREAD; kind++)
		if (c->rep[kind].unreported != 0)
			log_warnx("sketch task %s: %" PRIu64 " %s keys over the "
			    "threshold not reported (%" PRIu64 " past top_k, "
			    "the rest without a candidate slot: raise top_k "
			    "or the threshold)", t->cfg->name,
			    c->rep[kind].unreported, ns_sketch_kind_name(kind),
			    c->rep[kind].cut);
}

int
ns_file_write_sketch(const struct ns_config_writer *cw,
    const struct ns_engine *e, uint64_t g, uint64_t period_start, int final)
{
	struct sketch_file c;
	char dir[4096];
	enum ns_sketch_kind kind, last;
	unsigned k;
	int rc = 0;

	for (k = 0; k < e->nsketches && rc == 0; k++) {
		const struct ns_sketch_task *t = &e->sketches[k];

		memset(&c, 0, sizeof(c));
		c.cw = cw;
		c.period_start = period_start;
		snapshot_id(e, g, c.id, sizeof(c.id));
		rc = task_dir(cw, e, g, period_start, t->cfg->name, dir,
		    sizeof(dir));
		kind = t->spread ? NS_SKETCH_SPREAD : NS_SKETCH_COUNT;
		last = t->spread ? NS_SKETCH_SPREAD : NS_SKETCH_SIZE;
		for (; rc == 0 && kind <= last; kind++)
			rc = write_sketch_kind(&c, e, g, k, kind, dir);
		/* Go2NetSpectra writes no summary for a sketch task. */
		if (rc == 0)
			rc = cw->layout == NS_CONFIG_LAYOUT_GO2NS ?
			    g2_mark(e, g, dir) :
			    write_sketch_summary(&c, t, dir, final);
		if (rc == 0 && final)
			sketch_warn_unreported(&c, t);
		if (rc != 0)
			log_warnx("%s writer: %s: %s",
			    ns_config_writer_type_name(cw->type), dir,
			    strerror(-rc));
	}
	return rc;
}

/* Task t's files in dir, in the writer's layout. */
static int
write_exact_task(const struct ns_config_writer *cw, const struct ns_engine *e,
    uint64_t g, unsigned t, uint64_t period_start, int final, const char *dir)
{
	struct file_ctx c;
	int rc;

	if (cw->layout == NS_CONFIG_LAYOUT_GO2NS) {
		if ((rc = g2_write_exact_task(cw, e, g, t, dir)) != 0)
			return rc;
		return g2_mark(e, g, dir);
	}
	memset(&c, 0, sizeof(c));
	c.cw = cw;
	c.period_start = period_start;
	snapshot_id(e, g, c.id, sizeof(c.id));
	if ((rc = write_flows(&c, e, g, t, dir)) != 0)
		return rc;
	return write_summary(&c, e->tasks[t].name, dir, final);
}

int
ns_file_write_exact(const struct ns_config_writer *cw,
    const struct ns_engine *e, uint64_t g, uint64_t period_start, int final)
{
	char dir[4096];
	unsigned t;
	int rc;

	for (t = 0; t < e->ntasks; t++) {
		if ((rc = task_dir(cw, e, g, period_start, e->tasks[t].name,
		    dir, sizeof(dir))) != 0 ||
		    (rc = write_exact_task(cw, e, g, t, period_start, final,
		    dir)) != 0) {
			log_warnx("%s writer: %s: %s",
			    ns_config_writer_type_name(cw->type), dir,
			    strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int
ns_file_writer_supported(const struct ns_config_writer *w)
{
	return w->type == NS_CONFIG_WRITER_TEXT ||
	    w->type == NS_CONFIG_WRITER_JSONL || w->type == NS_CONFIG_WRITER_CSV;
}

/* Writer i of an aggregator (sketch: 0 exact, 1 sketch) writes now. */
static int
file_wanted(const struct ns_engine *e, const struct ns_config_writer *w,
    int sketch, unsigned i, ns_file_due_fn due)
{
	return w->enabled && ns_file_writer_supported(w) &&
	    (due == NULL || due(e, w, sketch, i));
}

int
ns_file_write_all(const struct ns_engine *e, uint64_t g, uint64_t period_start,
    int final, ns_file_due_fn due)
{
	const struct ns_config_aggregator *agg = &e->cfg->aggregator;
	const struct ns_config_writer *w;
	unsigned i;
	int rc;

	for (i = 0; e->ntasks != 0 && i < agg->exact.nwriters; i++) {
		w = &agg->exact.writers[i];
		if (file_wanted(e, w, 0, i, due) &&
		    (rc = ns_file_write_exact(w, e, g, period_start, final)) != 0)
			return rc;
	}
	for (i = 0; e->nsketches != 0 && i < agg->sketch.nwriters; i++) {
		w = &agg->sketch.writers[i];
		if (file_wanted(e, w, 1, i, due) &&
		    (rc = ns_file_write_sketch(w, e, g, period_start, final)) != 0)
			return rc;
	}
	return 0;
}
