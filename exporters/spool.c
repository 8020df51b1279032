/*
 * spool.c -- an exporter's on-disk queue of whole files (spool.h).
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define SPOOL_PATH_MAX	4096

int
ns_spool_mkdirs(const char *path)
{
	char buf[SPOOL_PATH_MAX], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, 0750) != 0 && errno != EEXIST ? -errno : 0;
}

/* One of the spool's files: not hidden (being written), of this suffix. */
static int
spool_is_file(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);

	return name[0] != '.' && n > s + 1 && name[n - s - 1] == '.' &&
	    strcmp(name + n - s, suffix) == 0;
}

void
ns_spool_usage(const char *dir, const char *suffix, uint64_t *bytes,
    uint64_t *files)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;

	*bytes = *files = 0;
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!spool_is_file(de->d_name, suffix) ||
		    fstatat(dirfd(d), de->d_name, &st, 0) != 0)
			continue;
		*bytes += (uint64_t)st.st_size;
		(*files)++;
	}
	closedir(d);
}

static int
spool_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
ns_spool_write(const char *dir, const char *suffix, const void *buf,
    size_t len)
{
	char tmp[SPOOL_PATH_MAX + 64], path[SPOOL_PATH_MAX + 64];
	uint64_t seq = ns_real_now_ns();
	int fd, rc;

	snprintf(tmp, sizeof(tmp), "%s/.tmp-%ld-%" PRIu64, dir, (long)getpid(),
	    seq);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0640)) == -1)
		return -errno;
	rc = spool_write_all(fd, buf, len);
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	/* link() never replaces: two producers may pick the same time. */
	while (rc == 0) {
		snprintf(path, sizeof(path), "%s/%020" PRIu64 ".%s", dir, seq++,
		    suffix);
		if (link(tmp, path) == 0)
			break;
		if (errno != EEXIST)
			rc = -errno;
	}
	unlink(tmp);
	return rc;
}

static int
spool_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **
ns_spool_list(const char *dir, const char *suffix, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL, **p;
	size_t cap = 0;

	*n = 0;
	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (!spool_is_file(de->d_name, suffix))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((p = realloc(v, cap * sizeof(*v))) == NULL)
				break;
			v = p;
		}
		if ((v[*n] = strdup(de->d_name)) != NULL)
			(*n)++;
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), spool_name_cmp);
	return v;
}

void
ns_spool_list_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
ns_spool_clean_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	long pid;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (sscanf(de->d_name, ".tmp-%ld-", &pid) == 1 && pid > 0 &&
		    kill((pid_t)pid, 0) != 0 && errno == ESRCH)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

void
ns_spool_chown(const char *dir, uid_t uid, gid_t gid)
{
	DIR *d;
	struct dirent *de;

	if (chown(dir, uid, gid) != 0)
		log_warn("chown %s", dir);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && fchownat(dirfd(d), de->d_name, uid,
		    gid, AT_SYMLINK_NOFOLLOW) != 0)
			log_warn("chown %s/%s", dir, de->d_name);
	closedir(d);
}

void *
ns_spool_read(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) != 0 || (buf = malloc((size_t)st.st_size + 1)) ==
	    NULL) {
		close(fd);
		return NULL;
	}
	for (*len = 0; *len < (size_t)st.st_size; *len += (size_t)n)
		if ((n = read(fd, buf + *len, (size_t)st.st_size - *len)) <= 0)
			break;
	close(fd);
	/* Half a file would be delivered and unlinked as a whole. */
	if (*len != (size_t)st.st_size) {
		free(buf);
		errno = EIO;
		return NULL;
	}
	return buf;
}
