/*
 * dotenv.c -- Go2NetSpectra's .env beside the configuration (dotenv.h).
 *
 * The whole file is parsed before anything is set, so a bad line leaves
 * the environment as it was.  Variables are set with setenv() in the
 * process that loads the configuration; children forked later inherit
 * them.  The names this process set are remembered, so that a later read
 * (SIGHUP) may change them while anything set from outside still wins.
 */
#include "dotenv.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DOTENV_MAX_FILE	(1u << 20)	/* larger is not a .env */

struct dotenv_var {
	char *key, *val;
};

struct dotenv {
	const char *path;
	char *err;
	size_t errlen;
	struct dotenv_var *v;
	size_t n, cap;
	const char *line0;		/* start of the line being parsed */
	unsigned line;
};

/* The names an earlier read set: those a later read may change. */
static char **dotenv_ours;
static size_t dotenv_nours;

static int __attribute__((format(printf, 3, 4)))
dotenv_error(struct dotenv *d, const char *at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (d->err == NULL || d->errlen == 0)
		return -EINVAL;
	n = snprintf(d->err, d->errlen, "%s:%u:%u: ", d->path, d->line,
	    (unsigned)(at - d->line0) + 1);
	if (n >= 0 && (size_t)n < d->errlen) {
		va_start(ap, fmt);
		vsnprintf(d->err + n, d->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	n = (int)strlen(d->err);
	if ((size_t)n + 1 < d->errlen) {
		d->err[n] = '\n';
		d->err[n + 1] = '\0';
	}
	return -EINVAL;
}

static const char *
dotenv_blank(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Keep key (klen bytes) = val; val is the caller's malloc'd string. */
static int
dotenv_add(struct dotenv *d, const char *key, size_t klen, char *val)
{
	struct dotenv_var *nv;

	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 16;
		if ((nv = realloc(d->v, d->cap * sizeof(*nv))) == NULL) {
			free(val);
			return -ENOMEM;
		}
		d->v = nv;
	}
	if ((d->v[d->n].key = strndup(key, klen)) == NULL) {
		free(val);
		return -ENOMEM;
	}
	d->v[d->n++].val = val;
	return 0;
}

/* After a closing quote: blanks, then a comment or the end of the line. */
static int
dotenv_tail(struct dotenv *d, const char *s)
{
	s = dotenv_blank(s);
	if (*s != '\0' && *s != '#')
		return dotenv_error(d, s, "unexpected text after the closing "
		    "quote (a comment starts with #)");
	return 0;
}

/* The escape after a backslash in double quotes; 0 for "keep both". */
static char
dotenv_escape(char c)
{
	switch (c) {
	case 'n': return '\n';
	case 't': return '\t';
	case 'r': return '\r';
	case '\\': case '"': case '$': return c;
	default: return 0;
	}
}

/* "..." at s (on the opening quote) into *out. */
static int
dotenv_dquoted(struct dotenv *d, const char *s, char **out)
{
	const char *q = s + 1;
	char *o;

	if ((*out = o = malloc(strlen(s))) == NULL)
		return -ENOMEM;
	for (; *q != '\0' && *q != '"'; q++) {
		if (*q == '\\' && q[1] != '\0' && dotenv_escape(q[1]) != 0)
			*o++ = dotenv_escape(*++q);
		else
			*o++ = *q;
	}
	*o = '\0';
	if (*q != '"') {
		free(*out);
		return dotenv_error(d, s, "unterminated double-quoted value "
		    "(values are one line; write \\n for a newline)");
	}
	if (dotenv_tail(d, q + 1) != 0) {
		free(*out);
		return -EINVAL;
	}
	return 0;
}

/* '...' at s: literal. */
static int
dotenv_squoted(struct dotenv *d, const char *s, char **out)
{
	const char *q = strchr(s + 1, '\'');

	if (q == NULL)
		return dotenv_error(d, s, "unterminated single-quoted value");
	if (dotenv_tail(d, q + 1) != 0)
		return -EINVAL;
	return (*out = strndup(s + 1, (size_t)(q - s - 1))) ? 0 : -ENOMEM;
}

/*
 * A bare value after the '=' at s: up to a '#' that follows a blank,
 * blanks trimmed.  "KEY=#1" is "#1"; "KEY= #1" is empty.
 */
static int
dotenv_bare(const char *s, char **out)
{
	const char *e = s;

	while (*e != '\0' && !(*e == '#' && e > s && (e[-1] == ' ' ||
	    e[-1] == '\t')))
		e++;
	s = dotenv_blank(s);
	if (s > e)
		s = e;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	return (*out = strndup(s, (size_t)(e - s))) ? 0 : -ENOMEM;
}

/* One line, its end already cut off (no '\n', no '\r'). */
static int
dotenv_line(struct dotenv *d, const char *text)
{
	const char *s = dotenv_blank(text), *key, *kend, *eq;
	char *val = NULL;
	int rc;

	d->line0 = text;
	if (*s == '\0' || *s == '#')
		return 0;
	if (strncmp(s, "export", 6) == 0 && (s[6] == ' ' || s[6] == '\t'))
		s = dotenv_blank(s + 6);
	key = s;
	if (!isalpha((unsigned char)*s) && *s != '_')
		return dotenv_error(d, s, "expected KEY=VALUE, KEY a name of "
		    "letters, digits and '_' not starting with a digit");
	while (isalnum((unsigned char)*s) || *s == '_')
		s++;
	kend = s;
	eq = dotenv_blank(s);
	if (*eq != '=')
		return dotenv_error(d, eq, "expected '=' after %.*s",
		    (int)(kend - key), key);
	s = dotenv_blank(eq + 1);
	if (*s == '"')
		rc = dotenv_dquoted(d, s, &val);
	else if (*s == '\'')
		rc = dotenv_squoted(d, s, &val);
	else
		rc = dotenv_bare(eq + 1, &val);
	return rc != 0 ? rc : dotenv_add(d, key, (size_t)(kend - key), val);
}

static int
dotenv_ours_has(const char *key)
{
	for (size_t i = 0; i < dotenv_nours; i++)
		if (strcmp(dotenv_ours[i], key) == 0)
			return 1;
	return 0;
}

static int
dotenv_remember(const char *key)
{
	char **n;

	if (dotenv_ours_has(key))
		return 0;
	if ((n = realloc(dotenv_ours, (dotenv_nours + 1) * sizeof(*n))) ==
	    NULL)
		return -ENOMEM;
	dotenv_ours = n;
	if ((n[dotenv_nours] = strdup(key)) == NULL)
		return -ENOMEM;
	dotenv_nours++;
	return 0;
}

/* Set what the file holds, where the environment does not say first. */
static int
dotenv_apply(const struct dotenv *d)
{
	for (size_t i = 0; i < d->n; i++) {
		const char *key = d->v[i].key;

		if (getenv(key) != NULL && !dotenv_ours_has(key))
			continue;
		if (dotenv_remember(key) != 0 ||
		    setenv(key, d->v[i].val, 1) != 0)
			return -ENOMEM;
	}
	return 0;
}

static int
dotenv_parse(struct dotenv *d, char *text, size_t len)
{
	char *line = text, *nl;
	int rc = 0;

	if (memchr(text, '\0', len) != NULL) {
		d->line = 1;
		d->line0 = text;
		return dotenv_error(d, text, "not a text file (a NUL byte)");
	}
	for (d->line = 1; rc == 0 && line != NULL; d->line++, line = nl) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		if (*line != '\0' && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		rc = dotenv_line(d, line);
	}
	return rc;
}

static int
dotenv_read(const char *path, char **text, size_t *len)
{
	FILE *fp = fopen(path, "r");
	int rc = 0;

	if (fp == NULL)
		return -errno;
	if ((*text = malloc(DOTENV_MAX_FILE + 1)) == NULL)
		rc = -ENOMEM;
	else {
		*len = fread(*text, 1, DOTENV_MAX_FILE + 1, fp);
		if (ferror(fp))
			rc = -EIO;
		else if (*len > DOTENV_MAX_FILE)
			rc = -EFBIG;
		else
			(*text)[*len] = '\0';
	}
	fclose(fp);
	if (rc != 0) {
		free(*text);
		*text = NULL;
	}
	return rc;
}

int
ns_dotenv_load(const char *path, char *err, size_t errlen)
{
	struct dotenv d = { .path = path, .err = err, .errlen = errlen };
	size_t len = 0;
	char *text = NULL;
	int rc;

	if ((rc = dotenv_read(path, &text, &len)) != 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: %s\n", path, strerror(-rc));
		return rc;
	}
	if ((rc = dotenv_parse(&d, text, len)) == 0)
		rc = dotenv_apply(&d);
	for (size_t i = 0; i < d.n; i++) {
		free(d.v[i].key);
		free(d.v[i].val);
	}
	free(d.v);
	free(text);
	return rc;
}

int
ns_dotenv_load_beside(const char *config_path, char *err, size_t errlen)
{
	const char *slash = strrchr(config_path, '/');
	char path[4096];
	int n;

	if (slash == NULL)
		n = snprintf(path, sizeof(path), ".env");
	else
		n = snprintf(path, sizeof(path), "%.*s/.env",
		    (int)(slash - config_path), config_path);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	/* "/x.yaml": the root's .env. */
	if (slash == config_path)
		snprintf(path, sizeof(path), "/.env");
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return 0;
	return ns_dotenv_load(path, err, errlen);
}
