/*
 * config.h -- the configuration of netspectrad and netspectra: the loaded,
 * validated form of netspectra.yaml(5) and the loader that produces it.
 *
 * The file format is a superset of Go2NetSpectra's configs/config.yaml
 * (DESIGN §5).  Every value here is the *effective* one: a key that is
 * absent, or whose value is empty after ${VAR} expansion, holds its built-in
 * default, so consumers never see "unset".  Strings are heap-allocated and
 * never NULL once ns_config_defaults() or a successful load has run.
 *
 * Units: durations are uint64_t nanoseconds, sizes are uint64_t bytes.
 */
#ifndef NS_CONFIG_H
#define NS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Fixed maxima: a config beyond them is rejected with a message. */
#define NS_CONFIG_MAX_INPUTS	32	/* record.h: the input index is a byte */
#define NS_CONFIG_MAX_TASKS	64	/* per aggregator (exact, sketch) */
#define NS_CONFIG_MAX_WRITERS	16	/* per aggregator */
#define NS_CONFIG_MAX_RULES	64	/* alerter rules */
#define NS_CONFIG_MAX_FIELDS	8	/* per list: 8 kinds can combine */
#define NS_CONFIG_NAME_MAX	64	/* task name, including the NUL */

#define NS_CONFIG_MAX_ERRORS	20	/* reported before giving up */

/* ---- key fields (exact key_fields, sketch flow_fields/element_fields) */

enum ns_config_field {
	NS_CONFIG_FIELD_SRCIP = 0,
	NS_CONFIG_FIELD_DSTIP,
	NS_CONFIG_FIELD_SRCPORT,
	NS_CONFIG_FIELD_DSTPORT,
	NS_CONFIG_FIELD_PROTOCOL,
	NS_CONFIG_FIELD_SRCNET,		/* SrcNet/<v4len>[/<v6len>] */
	NS_CONFIG_FIELD_DSTNET,
	NS_CONFIG_FIELD_VLAN,
	NS_CONFIG_FIELD_IPVERSION,
	NS_CONFIG_FIELD_DSCP,
	NS_CONFIG_NFIELDS
};

struct ns_config_keyfield {
	enum ns_config_field field;
	uint8_t v4len;			/* SrcNet/DstNet only: 0..32 */
	uint8_t v6len;			/* SrcNet/DstNet: 0..128, default 64 */
};

struct ns_config_fields {
	struct ns_config_keyfield f[NS_CONFIG_MAX_FIELDS];
	unsigned n;
};

/* Where a value was written in the file (1-based); 0/0 for built-ins. */
struct ns_config_pos {
	unsigned line, col;
};

/* ---- daemon */

enum ns_config_log_level {
	NS_CONFIG_LOG_ERROR = 0, NS_CONFIG_LOG_WARN, NS_CONFIG_LOG_INFO,
	NS_CONFIG_LOG_DEBUG
};

struct ns_config_daemon {
	char *user;			/* drop privileges to this user */
	char *group;
	char *pidfile;
	char *shm_name;			/* "/name": no other '/' */
	char *state_dir;
	enum ns_config_log_level log_level;
	int log_facility;		/* a syslog LOG_* facility value */
};

/* ---- inputs */

enum ns_config_input_type {
	NS_CONFIG_INPUT_PCAP = 0,	/* live capture */
	NS_CONFIG_INPUT_FILE,		/* pcap/pcapng file */
	NS_CONFIG_INPUT_NATS,		/* Go2NetSpectra probe stream */
};

struct ns_config_input {
	enum ns_config_input_type type;
	char *name;			/* unique; default from the source */
	char *interface;		/* pcap; "default": default route's */
	char *bpf;			/* pcap, file; "" = everything */
	uint32_t snaplen;		/* pcap */
	bool promisc;			/* pcap */
	bool immediate;			/* pcap */
	bool ring_full_drop;		/* pcap: ring_full: drop (not wait) */
	uint64_t buffer_size;		/* pcap: kernel buffer, bytes */
	char *path;			/* file */
	char *nats_url;			/* nats: key url (or nats_url); "" in
					 * the file: probe.nats_url */
	char *subject;			/* nats: "" in the file: probe.subject */
	char *queue_group;		/* nats: key queue (or queue_group) */
	char *js_stream;		/* nats: jetstream.stream; "": core NATS */
	char *js_durable;		/* nats: jetstream.durable */
	struct ns_config_pos pos;	/* of the list item */
};

/* ---- probe (Go2NetSpectra's probe, plus capture settings) */

enum ns_config_encoding {
	NS_CONFIG_ENC_TEXT = 0, NS_CONFIG_ENC_GOB, NS_CONFIG_ENC_PCAP
};

struct ns_config_probe {
	char *nats_url;
	char *subject;
	char *interface;
	char *bpf;
	uint32_t snaplen;
	uint32_t batch;			/* packets per message (1: Go2NS) */
	struct {
		bool enabled;
		char *path;
		unsigned num_workers;	/* Go2NS's; one writer here */
		uint32_t channel_buffer_size;
		enum ns_config_encoding encoding; /* gob: read as pcap */
		uint64_t rotate_size;		/* bytes; 0: no limit */
		uint64_t rotate_interval;	/* ns; 0: no limit */
		unsigned max_files;		/* 0: no limit */
	} persistence;
};

/* ---- alerter */

enum ns_config_op {
	NS_CONFIG_OP_GT = 0, NS_CONFIG_OP_GE, NS_CONFIG_OP_LT, NS_CONFIG_OP_LE,
	NS_CONFIG_OP_EQ, NS_CONFIG_OP_NE
};

struct ns_config_rule {
	char *name;
	char *task_name;		/* checked: names a configured task */
	char *metric;			/* checked by the alerter: has a pos */
	enum ns_config_op op;		/* key "operator" */
	double threshold;
	struct ns_config_pos task_name_pos;
	struct ns_config_pos metric_pos;
};

struct ns_config_alerter {
	bool enabled;
	uint64_t check_interval;	/* ns */
	bool ai_enabled;		/* ai_analysis.enabled */
	char *ai_service_addr;		/* ai_analysis.service_addr */
	char *webhook_url;		/* "" = no webhook */
	bool nats_enabled;		/* publish alerts on NATS */
	char *nats_url;			/* absent in the file: probe.nats_url */
	char *nats_subject;
	uint64_t min_notify_interval;	/* ns: per rule, between notifications */
	uint64_t timeout;		/* ns: per delivery attempt */
	struct ns_config_rule rules[NS_CONFIG_MAX_RULES];
	unsigned nrules;
};

/* ---- smtp (the alerter's e-mail) */

#define NS_CONFIG_MAX_RECIPIENTS 32

enum ns_config_smtp_tls {
	NS_CONFIG_SMTP_TLS_AUTO = 0,	/* 465: smtps; else STARTTLS if offered,
					 * required when there are credentials */
	NS_CONFIG_SMTP_TLS_STARTTLS,	/* STARTTLS required */
	NS_CONFIG_SMTP_TLS_SMTPS,	/* TLS from the start (smtps://) */
	NS_CONFIG_SMTP_TLS_NONE,	/* plain SMTP, never STARTTLS */
};

struct ns_config_smtp {
	char *host;			/* "" = no e-mail */
	uint16_t port;
	char *username;			/* "" = no AUTH */
	char *password;
	char *from;			/* "" = netspectra@<host name> */
	char *to[NS_CONFIG_MAX_RECIPIENTS]; /* a list, or Go2NS's "a,b" */
	unsigned nto;
	enum ns_config_smtp_tls tls;
	char *ca_file;			/* "" = the system's CAs */
};

/* ---- api, prometheus */

struct ns_config_api {
	bool enabled;
	char *http_listen_addr;		/* host:port, [v6]:port */
	char *grpc_listen_addr;		/* Go2NetSpectra's; unused */
	char *username;			/* basic_auth; "" = none */
	char *password;
	char *cert_file;		/* tls.cert_file; "" = plain HTTP */
	char *key_file;
};

struct ns_config_prometheus {
	bool enabled;
	char *listen;			/* host:port */
	unsigned top_k;			/* per-flow series per task */
	char *username;			/* basic_auth; "" = none */
	char *password;
	char *cert_file;		/* tls.cert_file; "" = plain HTTP */
	char *key_file;
};

/* ---- writers */

enum ns_config_writer_type {
	NS_CONFIG_WRITER_TEXT = 0,
	NS_CONFIG_WRITER_JSONL,
	NS_CONFIG_WRITER_CSV,
	NS_CONFIG_WRITER_GOB,		/* while loading: becomes JSONL */
	NS_CONFIG_WRITER_CLICKHOUSE,
	NS_CONFIG_WRITER_NATS,
};

/*
 * The file writers' directory and file names (netspectra.yaml(5),
 * "Go2NetSpectra's layout").  AUTO only while loading: a text or gob
 * writer without a layout key becomes GO2NS in a file in Go2NetSpectra's
 * form, NETSPECTRA otherwise.
 */
enum ns_config_layout {
	NS_CONFIG_LAYOUT_NETSPECTRA = 0,
	NS_CONFIG_LAYOUT_GO2NS,		/* "go2netspectra" */
	NS_CONFIG_LAYOUT_AUTO,
};

struct ns_config_writer {
	enum ns_config_writer_type type;  /* never GOB after loading */
	bool enabled;
	bool was_gob;			/* written "gob", served as jsonl */
	uint64_t snapshot_interval;	/* ns */
	char *root_path;		/* text, jsonl, csv */
	enum ns_config_layout layout;	/* text, jsonl; never AUTO loaded */
	struct {
		char *host;
		uint16_t port;		/* HTTP interface, default 8123 */
		char *database;
		char *username;
		char *password;
		char *table_prefix;
		bool cloud;		/* Go2NetSpectra's: HTTPS */
		uint32_t batch_rows;	/* rows per INSERT */
		uint64_t timeout;	/* ns, per request */
		char *node;		/* Node column; default: host name */
		char *spool_dir;	/* "" = <state_dir>/spool */
		uint64_t spool_max;	/* bytes */
	} clickhouse;
	struct {
		char *url;		/* servers, comma-separated */
		char *subject;		/* prefix: <subject>.flows.<task> */
		char *node;		/* header node; default: host name */
		uint64_t timeout;	/* ns: connect, flush, final delivery */
		char *spool_dir;	/* "" = <state_dir>/spool */
		uint64_t spool_max;	/* bytes */
		uint64_t reconnect_buffer; /* bytes nats.c holds while away */
	} nats;
	struct ns_config_pos pos;	/* of the list item */
};

/* ---- aggregator */

#define NS_CONFIG_AGG_EXACT	0x1u
#define NS_CONFIG_AGG_SKETCH	0x2u

enum ns_config_sketch_type {
	NS_CONFIG_SKETCH_HEAVY_HITTERS = 0,
	NS_CONFIG_SKETCH_SUPER_SPREADERS = 1,
};

struct ns_config_exact_task {
	char name[NS_CONFIG_NAME_MAX];
	struct ns_config_fields key_fields;
	uint64_t max_flows;
	uint32_t num_shards;		/* Go2NetSpectra's; its layout's files */
	struct ns_config_pos pos;	/* of the name */
};

struct ns_config_sketch_task {
	char name[NS_CONFIG_NAME_MAX];
	enum ns_config_sketch_type skt_type;
	struct ns_config_fields flow_fields;
	struct ns_config_fields element_fields;
	uint32_t width;
	uint32_t depth;
	uint64_t size_threshold;
	uint64_t count_threshold;
	uint32_t m;
	uint32_t size;
	double base;
	double b;
	uint32_t top_k;			/* 0: every key over a threshold */
	uint64_t seed;
	struct ns_config_pos pos;
};

struct ns_config_exact {
	struct ns_config_writer writers[NS_CONFIG_MAX_WRITERS];
	unsigned nwriters;
	struct ns_config_exact_task tasks[NS_CONFIG_MAX_TASKS];
	unsigned ntasks;
};

struct ns_config_sketch {
	struct ns_config_writer writers[NS_CONFIG_MAX_WRITERS];
	unsigned nwriters;
	struct ns_config_sketch_task tasks[NS_CONFIG_MAX_TASKS];
	unsigned ntasks;
};

struct ns_config_aggregator {
	unsigned types;			/* NS_CONFIG_AGG_* */
	uint64_t period;		/* ns */
	unsigned num_workers;
	uint32_t size_of_packet_channel; /* rounded up to a power of two */
	struct ns_config_exact exact;
	struct ns_config_sketch sketch;
};

struct ns_config {
	char *source;			/* file name used in messages */
	struct ns_config_daemon daemon;
	struct ns_config_input inputs[NS_CONFIG_MAX_INPUTS];
	unsigned ninputs;
	struct ns_config_probe probe;
	struct ns_config_alerter alerter;
	struct ns_config_smtp smtp;
	struct ns_config_api api;
	struct ns_config_prometheus prometheus;
	struct ns_config_aggregator aggregator;
	char *warnings;			/* "FILE:L:C: warning: ...\n"s or NULL */
};

/*
 * Load a file or a string.  0 on success; -EINVAL when the configuration is
 * wrong, with every error found (up to NS_CONFIG_MAX_ERRORS) written to err
 * as "FILE:LINE:COL: message\n" lines; -errno when the file cannot be read.
 * On failure cfg is left zeroed (ns_config_free on it is harmless).
 * ns_config_load() first reads the .env beside the file into the
 * environment (dotenv.h); a bad or unreadable .env is -EINVAL, said in err.
 */
int ns_config_load(const char *path, struct ns_config *cfg, char *err,
    size_t errlen);
int ns_config_load_string(const char *text, const char *name,
    struct ns_config *cfg, char *err, size_t errlen);

/* The built-in defaults (aborts if memory for a few strings is short). */
void ns_config_defaults(struct ns_config *cfg);

/*
 * A command's configuration: the file given (path), else def if it exists,
 * else the built-in defaults.  Errors and warnings go to stderr; returns as
 * ns_config_load().
 */
int ns_config_load_cli(const char *path, const char *def,
    struct ns_config *cfg);

/* The effective configuration as YAML that loads back to the same one. */
void ns_config_dump(FILE *fp, const struct ns_config *cfg);
void ns_config_free(struct ns_config *cfg);

/*
 * Go's time.ParseDuration syntax ("200ms", "1m30s", "1.5h", "300us",
 * "1h2m3.5s", "0"), plus "d" for days: 0 or -EINVAL.  Negative durations
 * and plain numbers other than "0" are invalid.
 */
int ns_config_parse_duration(const char *s, uint64_t *out_ns);
/* "256", "64KiB", "32MiB" (binary), "64k", "32M" (decimal): 0 or -EINVAL. */
int ns_config_parse_size(const char *s, uint64_t *out_bytes);
/* The forms above that parse back exactly: "1h30m", "32MiB". */
const char *ns_config_format_duration(uint64_t ns, char *buf, size_t len);
const char *ns_config_format_size(uint64_t bytes, char *buf, size_t len);

/* Names as written in the file: "SrcIP", "jsonl", "pcap", ">=". */
const char *ns_config_field_name(enum ns_config_field f);
const char *ns_config_keyfield_format(const struct ns_config_keyfield *kf,
    char *buf, size_t len);
const char *ns_config_writer_type_name(enum ns_config_writer_type t);
const char *ns_config_input_type_name(enum ns_config_input_type t);
const char *ns_config_op_name(enum ns_config_op op);

#endif /* NS_CONFIG_H */
