/*
 * netspectra.c -- the command-line tool: offline analysis of capture files
 * and (in later releases) status, top and queries of a running netspectrad.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze.h"
#include "config.h"
#include "log.h"
#include "probe.h"
#include "query.h"
#include "status.h"
#include "top.h"

#define DEFAULT_CONFIG NS_SYSCONFDIR "/netspectra.yaml"

static void __attribute__((noreturn))
usage(int code)
{
	FILE *fp = code == 0 ? stdout : stderr;

	fprintf(fp,
	    "usage: netspectra analyze [-c CONFIG] [--flows jsonl|csv]\n"
	    "                          [--heavy-hitters jsonl|csv]\n"
	    "                          [--summary table|json] FILE...\n"
	    "       netspectra status [-c CONFIG]\n"
	    "       netspectra top [-c CONFIG] [-n N] [--bytes] [--once] [--json] [TASK]\n"
	    "       netspectra query aggregate|trace|heavy-hitters|top [OPTIONS]\n"
	    "       netspectra dump FILE\n"
	    "       netspectra probe [-v] [-c CONFIG] [-i IFACE] | --sub [-n COUNT]\n"
	    "       netspectra version\n"
	    "\n"
	    "  analyze  aggregate pcap/pcapng files with the configured exact tasks;\n"
	    "           print every period's flows (--flows), heavy hitters and\n"
	    "           spreaders of the sketch tasks (--heavy-hitters), a summary\n"
	    "  status   the running daemon: processes, rings, drops, period, tasks\n"
	    "  top      its heaviest flows of the running period, refreshed\n"
	    "  query    ask the daemon's query API (history from ClickHouse, live\n"
	    "           top); netspectra query --help lists the options\n"
	    "  dump     print one tab-separated line per IP packet: frame, src, dst,\n"
	    "           sport, dport, protocol, wire length (malformed: frame, !reason)\n"
	    "  probe    capture and publish the packets to NATS (probe section);\n"
	    "           --sub prints what arrives on the subject\n");
	exit(code);
}

/*
 * Without -c, analyze uses the installed default config; when netspectra
 * runs from its build tree and nothing is installed, the built-in defaults
 * are the same settings (a test keeps the two equal).
 */
static int
load_config(const char *path, struct ns_config *cfg)
{
	return ns_config_load_cli(path, DEFAULT_CONFIG, cfg);
}

static int
cmd_analyze(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "summary", required_argument, NULL, 'S' },
		{ "flows", required_argument, NULL, 'F' },
		{ "heavy-hitters", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ns_analyze_opts o = { .summary = NS_SUMMARY_TABLE };
	struct ns_config cfg;
	const char *cfgpath = NULL;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfgpath = optarg;
			break;
		case 'S':
			if (strcmp(optarg, "json") == 0)
				o.summary = NS_SUMMARY_JSON;
			else if (strcmp(optarg, "table") == 0)
				o.summary = NS_SUMMARY_TABLE;
			else
				fatalx("--summary: expected table or json, got \"%s\"", optarg);
			break;
		case 'F':
			if (strcmp(optarg, "jsonl") == 0)
				o.flows = NS_FLOWS_JSONL;
			else if (strcmp(optarg, "csv") == 0)
				o.flows = NS_FLOWS_CSV;
			else
				fatalx("--flows: expected jsonl or csv, got \"%s\"", optarg);
			break;
		case 'H':
			if (strcmp(optarg, "jsonl") == 0)
				o.heavy = NS_FLOWS_JSONL;
			else if (strcmp(optarg, "csv") == 0)
				o.heavy = NS_FLOWS_CSV;
			else
				fatalx("--heavy-hitters: expected jsonl or csv, got \"%s\"", optarg);
			break;
		case 'h':
			usage(0);
		default:
			usage(1);
		}
	}
	if (optind >= argc)
		fatalx("analyze: no capture file given");
	if (load_config(cfgpath, &cfg) < 0)
		return 1;
	o.files = argv + optind;
	o.nfiles = argc - optind;
	o.progress = isatty(STDERR_FILENO);
	if ((rc = ns_analyze_spool_begin(&cfg)) == 0) {
		rc = ns_analyze_run(&cfg, &o, stdout);
		ns_analyze_spool_end(&cfg);
	}
	ns_config_free(&cfg);
	return rc < 0 ? 1 : 0;
}

/* status [-c CONFIG]: the daemon named by the config's daemon.shm_name. */
static int
cmd_status(int argc, char **argv)
{
	struct ns_config cfg;
	const char *cfgpath = NULL;
	int ch, rc;

	while ((ch = getopt(argc, argv, "c:h")) != -1) {
		switch (ch) {
		case 'c':
			cfgpath = optarg;
			break;
		case 'h':
			usage(0);
		default:
			usage(1);
		}
	}
	if (load_config(cfgpath, &cfg) < 0)
		return 1;
	rc = ns_status_run(cfg.daemon.shm_name, stdout);
	ns_config_free(&cfg);
	return rc < 0 ? 1 : 0;
}

/* top [-c CONFIG] [-n N] [--bytes] [--once] [--json] [TASK] */
static int
cmd_top(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "once", no_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "bytes", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ns_top_opts o = { NULL, 20, 0, 0, 0 };
	struct ns_config cfg;
	const char *cfgpath = NULL;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "c:n:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfgpath = optarg;
			break;
		case 'n':
			o.n = (unsigned)strtoul(optarg, NULL, 10);
			if (o.n == 0 || o.n > 10000)
				fatalx("-n: expected 1 to 10000, got \"%s\"", optarg);
			break;
		case 'o':
			o.once = 1;
			break;
		case 'j':
			o.json = 1;
			break;
		case 'b':
			o.by_bytes = 1;
			break;
		case 'h':
			usage(0);
		default:
			usage(1);
		}
	}
	if (optind < argc)
		o.task = argv[optind];
	if (load_config(cfgpath, &cfg) < 0)
		return 1;
	rc = ns_top_run(cfg.daemon.shm_name, &o, stdout);
	ns_config_free(&cfg);
	return rc < 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
	const char *cmd;

	log_init("netspectra", "cli", NS_LOG_INFO);
	if (argc < 2)
		usage(1);
	cmd = argv[1];
	if (strcmp(cmd, "analyze") == 0)
		return cmd_analyze(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc - 1, argv + 1);
	if (strcmp(cmd, "top") == 0)
		return cmd_top(argc - 1, argv + 1);
	if (strcmp(cmd, "query") == 0)
		return ns_query_main(argc - 1, argv + 1, DEFAULT_CONFIG);
	if (strcmp(cmd, "probe") == 0)
		return ns_probe_main(argc - 1, argv + 1, DEFAULT_CONFIG);
	if (strcmp(cmd, "dump") == 0) {
		if (argc != 3)
			usage(1);
		return ns_dump_run(argv[2], stdout) < 0 ? 1 : 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("netspectra %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "--help") == 0)
		usage(0);
	fprintf(stderr, "netspectra: unknown command \"%s\"\n", cmd);
	usage(1);
}
