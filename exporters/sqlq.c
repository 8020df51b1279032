/*
 * sqlq.c -- string literals and identifiers for ClickHouse statements:
 * the query API's only way of putting text into SQL (sqlq.h).
 *
 * ClickHouse reads backslash escapes inside quoted literals, so both the
 * quote and the backslash must be escaped; a control byte could only come
 * from a value the API should have refused already, so it is an error here
 * rather than something to escape.
 */
#include "sqlq.h"

#include <errno.h>

static int
sqlq_is_control(unsigned char ch)
{
	return ch < 0x20 || ch == 0x7f;
}

int
ns_sql_quote(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0, need = 3;	/* two quotes and the NUL */

	if (outlen == 0)
		return -ENOSPC;
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (sqlq_is_control((unsigned char)s[i]))
			return -EINVAL;
		need += (s[i] == '\'' || s[i] == '\\') ? 2 : 1;
	}
	if (need > outlen)
		return -ENOSPC;
	out[o++] = '\'';
	for (i = 0; i < n; i++) {
		if (s[i] == '\'' || s[i] == '\\')
			out[o++] = '\\';
		out[o++] = s[i];
	}
	out[o++] = '\'';
	out[o] = '\0';
	return 0;
}

int
ns_sql_ident(const char *name, char *out, size_t outlen)
{
	size_t i, o = 0;

	if (outlen == 0)
		return -ENOSPC;
	out[0] = '\0';
	if (name[0] == '\0')
		return -EINVAL;
	for (i = 0; name[i] != '\0'; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_'))
			return -EINVAL;
	}
	if (i + 3 > outlen)
		return -ENOSPC;
	out[o++] = '`';
	for (i = 0; name[i] != '\0'; i++)
		out[o++] = name[i];
	out[o++] = '`';
	out[o] = '\0';
	return 0;
}
