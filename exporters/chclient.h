/*
 * chclient.h -- a small client of ClickHouse's HTTP interface (libcurl),
 * shared by the ClickHouse exporter and the query API.
 *
 * One statement per call.  With a body (an INSERT's rows) the statement
 * travels in the URL's query parameter and the rows in the POST body;
 * without, the statement is the POST body.  Credentials go as HTTP basic
 * auth, the database as the database parameter.  Nothing here builds SQL
 * from outside text: callers pass finished statements.
 */
#ifndef NS_CHCLIENT_H
#define NS_CHCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct ns_ch_client {
	void	*curl;			/* CURL * */
	char	*url;			/* http(s)://host:port/ */
	char	*database;
	char	*username;
	char	*password;
	long	 timeout_ms;		/* to connect; a stall this long fails */
	char	 error[512];		/* the last failure, for logs and replies */
};

/*
 * From a clickhouse writer's settings.  -EINVAL with a message in c->error
 * for settings that cannot work (the native protocol's ports 9000/9440:
 * this client speaks HTTP, 8123 or 8443); -ENOMEM.
 */
int	 ns_ch_client_init(struct ns_ch_client *, const struct ns_config_writer *);
void	 ns_ch_client_free(struct ns_ch_client *);

/*
 * Run sql, with body (len bytes) as its data when body is not NULL.  The
 * reply, NUL-terminated and malloc'd, in *out when out is not NULL.
 * 0; -EIO when the server cannot be reached or stalls for the timeout;
 * -EPROTO when it answered with an error (its text in c->error); -ENOMEM.
 */
int	 ns_ch_client_exec(struct ns_ch_client *, const char *sql,
	    const void *body, size_t len, char **out, size_t *outlen);

/* GET /ping: 0 when the server answers "Ok.", else as above. */
int	 ns_ch_client_ping(struct ns_ch_client *);

#endif /* NS_CHCLIENT_H */
