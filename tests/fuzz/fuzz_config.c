/*
 * fuzz_config.c -- libFuzzer harness for the configuration loader
 * (src/config.c) and the .env reader behind its ${VAR} expansion
 * (src/dotenv.c).
 *
 * An input without a NUL byte is a configuration, loaded from memory
 * (ns_config_load_string).  One with a NUL is ".env NUL configuration":
 * both are written to a private directory and the file is loaded as the
 * daemon loads it (ns_config_load), its .env first.  Beyond "no crash,
 * no leak, no undefined behaviour" it checks the loader's promises: a
 * refusal says why and leaves the configuration zeroed; an accepted one
 * dumps to YAML that loads back, without new warnings, to the same dump.
 * What a .env set is taken out of the environment again after each
 * input, so that inputs stay independent.  Build and run (from the top
 * of the source tree):
 *
 *	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
 *	    -Isrc -Ishm -Iexporters src/config.c src/alert.c src/dotenv.c \
 *	    src/addr.c src/log.c tests/fuzz/fuzz_config.c \
 *	    -lyaml -ljansson -lxxhash -o fuzz_config
 *	./fuzz_config -max_len=16384 \
 *	    -dict=tests/fuzz/fuzz_config.dict corpus/
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

extern char **environ;

/* In tmpfs where there is one: two files are written for each input. */
static char fuzz_dir[] = "/dev/shm/fuzz_config.XXXXXX";
static char fuzz_env[sizeof(fuzz_dir) + 8];
static char fuzz_yaml[sizeof(fuzz_dir) + 16];
static char **fuzz_environ0;	/* the names the run started with */
static size_t fuzz_nenviron0;
static char fuzz_err[16384];

static void
fuzz_rmdir(void)
{
	unlink(fuzz_env);
	unlink(fuzz_yaml);
	rmdir(fuzz_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t n = 0;

	(void)argc;
	(void)argv;
	log_init("fuzz_config", "cli", NS_LOG_ERR);
	if (mkdtemp(fuzz_dir) == NULL &&
	    mkdtemp(memcpy(fuzz_dir, "/tmp/fuzz_config.XXXXXX", 24)) == NULL) {
		perror("mkdtemp");
		abort();
	}
	snprintf(fuzz_env, sizeof(fuzz_env), "%s/.env", fuzz_dir);
	snprintf(fuzz_yaml, sizeof(fuzz_yaml), "%s/ns.yaml", fuzz_dir);
	atexit(fuzz_rmdir);
	while (environ[n] != NULL)
		n++;
	if ((fuzz_environ0 = calloc(n + 1, sizeof(char *))) == NULL)
		abort();
	for (fuzz_nenviron0 = 0; fuzz_nenviron0 < n; fuzz_nenviron0++)
		if ((fuzz_environ0[fuzz_nenviron0] = strndup(
		    environ[fuzz_nenviron0], strcspn(environ[fuzz_nenviron0],
		    "="))) == NULL)
			abort();
	return 0;
}

/* Unset what the input's .env added to the environment. */
static void
fuzz_env_restore(void)
{
	char name[4096];
	size_t i, k;

	for (i = 0; environ[i] != NULL;) {
		k = strcspn(environ[i], "=");
		for (size_t j = 0; j < fuzz_nenviron0; j++)
			if (strlen(fuzz_environ0[j]) == k &&
			    strncmp(fuzz_environ0[j], environ[i], k) == 0)
				goto keep;
		if (k >= sizeof(name))
			abort();
		memcpy(name, environ[i], k);
		name[k] = '\0';
		unsetenv(name);		/* environ[i] is now the next one */
		continue;
keep:
		i++;
	}
}

static int
fuzz_put(const char *path, const uint8_t *data, size_t size)
{
	FILE *fp = fopen(path, "w");
	int rc;

	if (fp == NULL)
		return -1;
	rc = fwrite(data, 1, size, fp) == size ? 0 : -1;
	return fclose(fp) == 0 ? rc : -1;
}

static char *
fuzz_dump(const struct ns_config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	if (fp == NULL)
		abort();
	ns_config_dump(fp, cfg);
	if (fclose(fp) != 0)
		abort();
	return buf;
}

/* The dump of an accepted configuration loads back to the same dump. */
static void
fuzz_round_trip(const struct ns_config *cfg)
{
	struct ns_config again;
	char *a = fuzz_dump(cfg), *b;

	if (ns_config_load_string(a, "dump.yaml", &again, fuzz_err,
	    sizeof(fuzz_err)) != 0) {
		fprintf(stderr, "dump does not load:\n%s\n%s", fuzz_err, a);
		abort();
	}
	b = fuzz_dump(&again);
	/* A warning may go (gob becomes jsonl), none may come. */
	if (strcmp(a, b) != 0 || (again.warnings != NULL &&
	    cfg->warnings == NULL)) {
		fprintf(stderr, "dump changes on reload:\n%s\n----\n%s\n%s", a,
		    b, again.warnings ? again.warnings : "");
		abort();
	}
	free(a);
	free(b);
	ns_config_free(&again);
}

static void
fuzz_check(int rc, struct ns_config *cfg)
{
	static const struct ns_config zero;

	if (rc != 0) {
		if (fuzz_err[0] == '\0' || memcmp(cfg, &zero,
		    sizeof(zero)) != 0)
			abort();
	} else
		fuzz_round_trip(cfg);
	ns_config_free(cfg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	struct ns_config cfg;
	char *text;
	size_t elen;

	fuzz_err[0] = '\0';
	if (nul == NULL) {
		if ((text = strndup((const char *)data, size)) == NULL)
			return 0;
		fuzz_check(ns_config_load_string(text, "fuzz.yaml", &cfg,
		    fuzz_err, sizeof(fuzz_err)), &cfg);
		free(text);
		return 0;
	}
	elen = (size_t)(nul - data);
	if (fuzz_put(fuzz_env, data, elen) != 0 ||
	    fuzz_put(fuzz_yaml, nul + 1, size - elen - 1) != 0)
		abort();
	fuzz_check(ns_config_load(fuzz_yaml, &cfg, fuzz_err,
	    sizeof(fuzz_err)), &cfg);
	fuzz_env_restore();
	return 0;
}
