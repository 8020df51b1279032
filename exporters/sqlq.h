/*
 * sqlq.h -- the one place where text becomes part of a ClickHouse
 * statement.
 *
 * ClickHouse 18.16, which the tests run against, has no query parameters,
 * so every string the query API puts into SQL (re-printed addresses,
 * networks, task names from the configuration, table names) is written
 * by these functions and nothing else.  They refuse what they cannot
 * make harmless rather than guess.
 */
#ifndef NS_SQLQ_H
#define NS_SQLQ_H

#include <stddef.h>

/*
 * The n bytes at s as a single-quoted string literal into out (outlen
 * bytes, NUL-terminated): backslash and quote are escaped with a
 * backslash.  0; -EINVAL when s holds a NUL or another control byte
 * (0x00-0x1f, 0x7f), which no value the API accepts can contain;
 * -ENOSPC when out is too small (out is then "").
 */
int	 ns_sql_quote(const char *s, size_t n, char *out, size_t outlen);

/*
 * A table or column name as a back-quoted identifier into out.  Only
 * letters, digits and '_' are accepted (-EINVAL otherwise): a name of
 * the configuration that needs more than that is a mistake to report,
 * not a string to escape.  -ENOSPC as above.
 */
int	 ns_sql_ident(const char *name, char *out, size_t outlen);

#endif /* NS_SQLQ_H */
