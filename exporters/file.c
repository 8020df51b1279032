/*
 * file.c -- snapshots as files.
 *
 * <root_path>/<timestamp>/<task>/flows.{txt,jsonl,csv} and summary.json,
 * where <timestamp> is the period start (20260101T000000Z, sortable and
 * free of ':' for every filesystem).  The jsonl lines are those of
 * `netspectra analyze --flows jsonl`.  A file is complete or absent: it is
 * written as .NAME.tmp, flushed, and renamed.
 */
#include "file.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
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

static const char *
dir_stamp(uint64_t ns, char *buf, size_t len)
{
	time_t sec = (time_t)(ns / 1000000000u);
	struct tm tm;

	gmtime_r(&sec, &tm);
	strftime(buf, len, "%Y%m%dT%H%M%SZ", &tm);
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

/* 1 if dir is free for snapshot id: absent, or holding that snapshot. */
static int
dir_is_ours(const char *dir, const char *id)
{
	char path[4096], text[512], want[96];
	size_t n;
	FILE *fp;

	if (path_join(path, sizeof(path), dir, "summary.json") != 0 ||
	    (fp = fopen(path, "r")) == NULL)
		return 1;
	n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
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
	dir_stamp(period_start, stamp, sizeof(stamp));
	for (k = 0; k < 1000; k++) {
		n = k == 0 ? snprintf(dir, len, "%s/%s/%s", cw->root_path, stamp,
		    task) : snprintf(dir, len, "%s/%s.%u/%s", cw->root_path,
		    stamp, k, task);
		if (n < 0 || (size_t)n >= len)
			return -ENAMETOOLONG;
		/* An offline run (private segment) replaces what it finds. */
		if ((e->seg.flags & NS_SEG_F_PRIVATE) || dir_is_ours(dir, id))
			return mkdirs(dir);
	}
	return -EEXIST;
}

/* ---- sketch tasks: count/size/spread files ----------------------------- */

struct sketch_file {
	const struct ns_config_writer *cw;
	FILE *fp;
	uint64_t period_start;
	char id[64];			/* snapshot_id() */
	uint64_t reported[3];		/* by enum ns_sketch_kind */
};

static void
sketch_line(void *arg, const struct ns_sketch_task *t,
    enum ns_sketch_kind kind, const uint8_t *key, uint64_t value,
    uint64_t err)
{
	struct sketch_file *c = arg;

	c->reported[kind]++;
	if (c->cw->type == NS_CONFIG_WRITER_CSV) {
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

	snprintf(name, sizeof(name), "%s.%s", ns_sketch_kind_name(kind),
	    flows_ext(c->cw->type));
	if ((rc = open_tmp(dir, name, tmp, final, &c->fp)) != 0)
		return rc;
	if (c->cw->type == NS_CONFIG_WRITER_CSV)
		ns_output_sketch_csv_header(c->fp, &e->sketches[k].flow);
	if ((rc = ns_snapshot_sketch(e, g, k, kind, sketch_line, c)) < 0) {
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
		fprintf(fp, ",\"spread\":%" PRIu64 "}\n",
		    c->reported[NS_SKETCH_SPREAD]);
	else
		fprintf(fp, ",\"count\":%" PRIu64 ",\"size\":%" PRIu64 "}\n",
		    c->reported[NS_SKETCH_COUNT], c->reported[NS_SKETCH_SIZE]);
	return commit_file(fp, tmp, path);
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
		if (rc == 0)
			rc = write_sketch_summary(&c, t, dir, final);
		if (rc != 0)
			log_warnx("%s writer: %s: %s",
			    ns_config_writer_type_name(cw->type), dir,
			    strerror(-rc));
	}
	return rc;
}

int
ns_file_write_exact(const struct ns_config_writer *cw,
    const struct ns_engine *e, uint64_t g, uint64_t period_start, int final)
{
	char dir[4096];
	struct file_ctx c;
	unsigned t;
	int rc;

	for (t = 0; t < e->ntasks; t++) {
		memset(&c, 0, sizeof(c));
		c.cw = cw;
		c.period_start = period_start;
		snapshot_id(e, g, c.id, sizeof(c.id));
		if ((rc = task_dir(cw, e, g, period_start, e->tasks[t].name,
		    dir, sizeof(dir))) != 0 ||
		    (rc = write_flows(&c, e, g, t, dir)) != 0 ||
		    (rc = write_summary(&c, e->tasks[t].name, dir, final)) != 0) {
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
