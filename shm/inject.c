/*
 * inject.c -- the test-build side of NS_INJECT (see inject.h).
 *
 * The selection is parsed once per process: a forked child re-reads it, so a
 * test can fork, setenv("NS_INJECT", ...) and run the code under test.
 */
#include "inject.h"

#ifdef NS_TEST_INJECT

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pid_t	 inject_pid;		/* process that parsed the selection */
static char	 inject_name[128];	/* selected point, "" if none */
static unsigned long inject_nth;	/* kill on this hit (1 = first) */
static unsigned long inject_hits;

static void
inject_parse(void)
{
	const char *env = getenv("NS_INJECT");
	char *colon;

	inject_pid = getpid();
	inject_hits = 0;
	inject_nth = 1;
	inject_name[0] = '\0';
	if (env == NULL || strlen(env) >= sizeof(inject_name))
		return;
	strcpy(inject_name, env);
	if ((colon = strchr(inject_name, ':')) != NULL) {
		*colon = '\0';
		inject_nth = strtoul(colon + 1, NULL, 10);
		if (inject_nth == 0)
			inject_nth = 1;
	}
}

void
ns_inject_hit(const char *name)
{
	if (inject_pid != getpid())
		inject_parse();
	if (inject_name[0] == '\0' || strcmp(name, inject_name) != 0)
		return;
	if (++inject_hits == inject_nth)
		raise(SIGKILL);
}

#else

/* ISO C forbids an empty translation unit. */
typedef int ns_inject_unused;

#endif /* NS_TEST_INJECT */
