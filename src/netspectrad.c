/*
 * netspectrad.c -- the daemon's entry point: option parsing and the
 * configuration check (-t).  The supervisor and its roles come in with the
 * shared-memory engine; until then the daemon checks its configuration and
 * says plainly that it cannot run live.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "log.h"

#define DEFAULT_CONFIG NS_SYSCONFDIR "/netspectra.yaml"

static void __attribute__((noreturn))
usage(int code)
{
	fprintf(code == 0 ? stdout : stderr,
	    "usage: netspectrad [-ftV] [-c CONFIG] [-p PIDFILE]\n"
	    "  -c CONFIG   configuration file (default %s)\n"
	    "  -f          stay in the foreground, log to stderr\n"
	    "  -t          check the configuration, print the effective one, exit\n"
	    "  -p PIDFILE  pid file (overrides daemon.pidfile)\n"
	    "  -V          print the version\n", DEFAULT_CONFIG);
	exit(code);
}

/* -t: exit 0 and print the effective configuration, or exit 1. */
static int
check_config(const char *path)
{
	struct ns_config cfg;
	char err[8192];
	int rc;

	rc = ns_config_load(path, &cfg, err, sizeof(err));
	if (rc == -EINVAL) {
		fprintf(stderr, "%s", err);
		fprintf(stderr, "netspectrad: configuration %s is not valid\n", path);
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr, "netspectrad: %s: %s\n", path, strerror(-rc));
		return 1;
	}
	if (cfg.warnings != NULL)
		fputs(cfg.warnings, stderr);
	ns_config_dump(stdout, &cfg);
	ns_config_free(&cfg);
	fprintf(stderr, "netspectrad: configuration %s is valid\n", path);
	return 0;
}

static int
run(const char *path, const struct ns_daemon_opts *o)
{
	struct ns_config cfg;
	char err[8192];
	int rc;

	if ((rc = ns_config_load(path, &cfg, err, sizeof(err))) != 0) {
		if (rc == -EINVAL)
			fprintf(stderr, "%s", err);
		else
			log_warnx("%s: %s", path, strerror(-rc));
		return 1;
	}
	if (cfg.warnings != NULL)
		fputs(cfg.warnings, stderr);
	log_set_level((enum ns_log_level)cfg.daemon.log_level);
	rc = ns_daemon_run(&cfg, o);
	ns_config_free(&cfg);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *cfgpath = DEFAULT_CONFIG;
	struct ns_daemon_opts o = { 0, NULL, NULL };
	int ch, test = 0;

	log_init("netspectrad", "supervisor", NS_LOG_INFO);
	while ((ch = getopt(argc, argv, "c:fhp:tV")) != -1) {
		switch (ch) {
		case 'c':
			cfgpath = optarg;
			break;
		case 'f':
			o.foreground = 1;
			break;
		case 'p':
			o.pidfile = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'V':
			printf("netspectrad %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(0);
		default:
			usage(1);
		}
	}
	if (optind != argc)
		usage(1);
	if (test)
		return check_config(cfgpath);
	o.config = cfgpath;
	return run(cfgpath, &o);
}
