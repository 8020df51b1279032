/*
 * query.h -- `netspectra query`: a command-line client of the query API
 * (exporters/api.c) over HTTP, printing its answers as aligned tables or
 * as the API's own JSON.
 */
#ifndef NS_QUERY_H
#define NS_QUERY_H

/*
 * argv[0] is "query", argv[1] the subcommand: aggregate, trace,
 * heavy-hitters or top.  default_config is read for api.http_listen_addr
 * (and the API's basic auth) when there is no -c and it exists.  Returns
 * the exit status: 0, 1 on an API error (its message printed), 2 on a
 * usage error.
 */
int	 ns_query_main(int argc, char **argv, const char *default_config);

#endif /* NS_QUERY_H */
