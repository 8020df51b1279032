/*
 * spool.h -- an exporter's on-disk queue: a directory of whole files,
 * delivered in name order and deleted once delivered.
 *
 * A file is written under a hidden name (".tmp-<pid>-<seq>") and linked
 * into place whole as "<20-digit sequence>.<suffix>", the sequence from
 * the wall clock: readers never see half a file, two producers never
 * replace each other's (link() fails on an existing name, and the next
 * sequence is tried), and names sort in the order they were made.
 *
 * Used by the ClickHouse and NATS writers (clickhouse.c, nats_writer.c).
 */
#ifndef NS_SPOOL_H
#define NS_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* mkdir -p, mode 0750: 0 or -errno. */
int	 ns_spool_mkdirs(const char *path);

/* Files of dir whose name ends in suffix (not hidden): bytes and count. */
void	 ns_spool_usage(const char *dir, const char *suffix, uint64_t *bytes,
	    uint64_t *files);

/* buf[len] into dir as a new file named <sequence>.<suffix>: 0 or -errno. */
int	 ns_spool_write(const char *dir, const char *suffix, const void *buf,
	    size_t len);

/*
 * The names of dir's files ending in suffix, oldest first, *n of them;
 * NULL when there are none.  ns_spool_list_free() frees them.
 */
char	**ns_spool_list(const char *dir, const char *suffix, size_t *n);
void	 ns_spool_list_free(char **v, size_t n);

/* A whole file, malloc'd, *len bytes; NULL with errno (EIO: cut short). */
void	*ns_spool_read(const char *path, size_t *len);

/* The hidden files of producers that died while writing them: removed. */
void	 ns_spool_clean_tmp(const char *dir);

/* dir and its files handed to uid:gid (privileges dropped later). */
void	 ns_spool_chown(const char *dir, uid_t uid, gid_t gid);

#endif /* NS_SPOOL_H */
