/*
 * chschema.c -- the ClickHouse tables netspectra writes, created when
 * missing and completed when Go2NetSpectra made them.
 *
 * The DDL keeps to what ClickHouse 18.16 (Debian's) has: no DateTime64,
 * no IPv4/IPv6 types, no TTL, no ADD COLUMN IF NOT EXISTS (missing columns
 * are found in system.columns instead).
 */
#include "chschema.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct ch_column {
	const char *name;
	const char *type;
};

/* In insert order: the writer's rows follow these lists. */
static const struct ch_column flow_columns[] = {
	{ "Timestamp", "DateTime" },
	{ "TaskName", "String" },
	{ "SrcIP", "Nullable(String)" },
	{ "DstIP", "Nullable(String)" },
	{ "SrcPort", "Nullable(UInt16)" },
	{ "DstPort", "Nullable(UInt16)" },
	{ "Protocol", "Nullable(UInt8)" },
	{ "StartTime", "DateTime" },
	{ "EndTime", "DateTime" },
	{ "ByteCount", "UInt64" },
	{ "PacketCount", "UInt64" },
	{ "PeriodStart", "DateTime" },
	{ "Final", "UInt8" },
	{ "Node", "String" },
	{ "Version", "UInt64" },
	{ "SrcNet", "Nullable(String)" },
	{ "DstNet", "Nullable(String)" },
	{ "VLAN", "Nullable(UInt16)" },
	{ "IPVersion", "Nullable(UInt8)" },
	{ "DSCP", "Nullable(UInt8)" },
	{ "TCPFlags", "UInt8" },
	{ "Generation", "String" },
	{ NULL, NULL }
};

static const struct ch_column hh_columns[] = {
	{ "Timestamp", "DateTime" },
	{ "TaskName", "String" },
	{ "Flow", "String" },
	{ "Value", "UInt64" },
	{ "Type", "UInt8" },
	{ "PeriodStart", "DateTime" },
	{ "Final", "UInt8" },
	{ "Node", "String" },
	{ "Version", "UInt64" },
	{ "ErrorBound", "UInt64" },
	{ "Generation", "String" },
	{ NULL, NULL }
};

static const struct ch_column *
ch_columns(enum ns_ch_table t)
{
	return t == NS_CH_FLOWS ? flow_columns : hh_columns;
}

const char *
ns_ch_table_name(const struct ns_config_writer *w, enum ns_ch_table t,
    char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", w->clickhouse.table_prefix,
	    t == NS_CH_FLOWS ? "flow_metrics" : "heavy_hitters");
	return buf;
}

int
ns_ch_schema_ddl(const struct ns_config_writer *w, enum ns_ch_table t,
    char *buf, size_t len)
{
	const struct ch_column *c = ch_columns(t);
	char name[128];
	size_t off;
	int n;

	n = snprintf(buf, len, "CREATE TABLE IF NOT EXISTS %s (\n",
	    ns_ch_table_name(w, t, name, sizeof(name)));
	for (off = (size_t)n; c->name != NULL && off < len; c++) {
		n = snprintf(buf + off, len - off, "    %-12s %s%s\n", c->name,
		    c->type, c[1].name != NULL ? "," : "");
		off += (size_t)n;
	}
	if (off < len)
		off += (size_t)snprintf(buf + off, len - off, ") ENGINE = "
		    "MergeTree()\nPARTITION BY toYYYYMM(Timestamp)\n"
		    "ORDER BY (TaskName, PeriodStart, Timestamp)");
	return off < len ? 0 : -ENAMETOOLONG;
}

int
ns_ch_schema_insert(const struct ns_config_writer *w, enum ns_ch_table t,
    char *buf, size_t len)
{
	const struct ch_column *c = ch_columns(t);
	char name[128];
	size_t off;
	int n;

	n = snprintf(buf, len, "INSERT INTO %s (",
	    ns_ch_table_name(w, t, name, sizeof(name)));
	for (off = (size_t)n; c->name != NULL && off < len; c++) {
		n = snprintf(buf + off, len - off, "%s%s", c->name,
		    c[1].name != NULL ? ", " : "");
		off += (size_t)n;
	}
	if (off < len)
		off += (size_t)snprintf(buf + off, len - off,
		    ") FORMAT TabSeparated");
	return off < len ? 0 : -ENAMETOOLONG;
}

/* Table names come from the configuration's table_prefix: a name. */
static int
ch_name_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* The columns an existing table lacks, added one ALTER each. */
static int
ch_add_missing(struct ns_ch_client *c, const char *table,
    const struct ch_column *cols)
{
	char sql[512], *have = NULL, *line;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT name FROM system.columns WHERE "
	    "database = currentDatabase() AND table = '%s' FORMAT "
	    "TabSeparated", table);
	if ((rc = ns_ch_client_exec(c, sql, NULL, 0, &have, NULL)) != 0)
		return rc;
	for (; cols->name != NULL && rc == 0; cols++) {
		int found = 0;

		for (line = have; line != NULL && *line != '\0' && !found;
		    line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
			found = strncmp(line, cols->name, strlen(cols->name))
			    == 0 && (line[strlen(cols->name)] == '\n' ||
			    line[strlen(cols->name)] == '\0');
		if (found)
			continue;
		snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s",
		    table, cols->name, cols->type);
		if ((rc = ns_ch_client_exec(c, sql, NULL, 0, NULL, NULL)) == 0)
			log_info("clickhouse: added column %s to %s", cols->name,
			    table);
	}
	free(have);
	return rc;
}

int
ns_ch_schema_ensure(struct ns_ch_client *c, const struct ns_config_writer *w,
    enum ns_ch_table t)
{
	char ddl[2048], table[128];
	int rc;

	ns_ch_table_name(w, t, table, sizeof(table));
	if (!ch_name_ok(table)) {
		snprintf(c->error, sizeof(c->error), "table name %s: expected "
		    "letters, digits and _ only", table);
		return -EINVAL;
	}
	if ((rc = ns_ch_schema_ddl(w, t, ddl, sizeof(ddl))) != 0 ||
	    (rc = ns_ch_client_exec(c, ddl, NULL, 0, NULL, NULL)) != 0)
		return rc;
	return ch_add_missing(c, table, ch_columns(t));
}

static const struct ns_config_writer *
ch_first(const struct ns_config_writer *w, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (w[i].enabled && w[i].type == NS_CONFIG_WRITER_CLICKHOUSE)
			return &w[i];
	return NULL;
}

const struct ns_config_writer *
ns_ch_writer_for(const struct ns_config *cfg, enum ns_ch_table t)
{
	const struct ns_config_exact *x = &cfg->aggregator.exact;
	const struct ns_config_sketch *k = &cfg->aggregator.sketch;
	const struct ns_config_writer *w;

	if (t == NS_CH_FLOWS)
		w = ch_first(x->writers, x->nwriters);
	else
		w = ch_first(k->writers, k->nwriters);
	if (w == NULL)
		w = t == NS_CH_FLOWS ? ch_first(k->writers, k->nwriters) :
		    ch_first(x->writers, x->nwriters);
	return w;
}
