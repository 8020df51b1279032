/*
 * segment.c -- create, attach and lay out the shared-memory segment.
 *
 * Creation preallocates every page (posix_fallocate), so that a full
 * /dev/shm is an error at start rather than a SIGBUS in the middle of a
 * run.  The header's magic is written last, with release semantics, and an
 * attacher acquires it before trusting anything else in the segment.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memfd_create, when built outside autoconf */
#endif
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "atomic.h"
#include "log.h"

static uint64_t
seg_pagesize(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (uint64_t)ps : 4096;
}

uint64_t
ns_seg_hash(uint64_t seed, const void *buf, size_t len)
{
	return XXH64(buf, len, seed);
}

void
ns_seg_layout_init(struct ns_seg_layout *lay, uint64_t config_hash)
{
	memset(lay, 0, sizeof(*lay));
	lay->hash = config_hash;
}

void
ns_seg_layout_set(struct ns_seg_layout *lay, enum ns_seg_section sec,
    uint64_t size)
{
	lay->size[sec] = size;
}

/*
 * Place the sections after the header: the slot table on a page boundary
 * (a read-only attacher makes just those pages writable to lease a slot),
 * everything else on a cache line.  The layout hash covers the caller's
 * configuration hash, the ABI and every section size, so any change in
 * what the configuration implies for the layout gives a new segment.
 */
void
ns_seg_layout_finish(struct ns_seg_layout *lay)
{
	uint64_t page = seg_pagesize(), off, align;
	uint64_t mix[NS_SEG_NSECTIONS + 2];
	int i;

	off = NS_ALIGN_UP(sizeof(struct ns_seg_hdr), page);
	for (i = 0; i < NS_SEG_NSECTIONS; i++) {
		if (lay->size[i] == 0) {
			lay->off[i] = 0;
			continue;
		}
		align = i == NS_SEG_SLOTS ? page : NS_CACHELINE;
		off = NS_ALIGN_UP(off, align);
		lay->off[i] = off;
		off += lay->size[i];
		if (i == NS_SEG_SLOTS)
			off = NS_ALIGN_UP(off, page);
	}
	lay->total = NS_ALIGN_UP(off, page);
	mix[0] = NS_SEG_ABI;
	mix[1] = page;
	memcpy(&mix[2], lay->size, sizeof(lay->size));
	lay->hash = ns_seg_hash(lay->hash, mix, sizeof(mix));
}

static int
seg_name(char *dst, size_t dstlen, const char *name)
{
	int n;

	if (name == NULL || name[0] == '\0')
		return -EINVAL;
	n = snprintf(dst, dstlen, "%s%s", name[0] == '/' ? "" : "/", name);
	if (n < 0 || (size_t)n >= dstlen || strchr(dst + 1, '/') != NULL)
		return -EINVAL;
	return 0;
}

/*
 * Ask for transparent huge pages: the flow tables are probed at random,
 * and with 4 KiB pages most probes of a large table also miss the TLB
 * (analyze ran 1.6x faster with them).  The kernel grants them only where
 * shmem allows it -- /sys/kernel/mm/transparent_hugepage/shmem_enabled
 * for analyze's memfd, the huge= mount option of /dev/shm for a named
 * segment (doc/ARCHITECTURE.md) -- and ignores the advice elsewhere.
 */
static void
seg_advise_huge(const struct ns_seg *seg)
{
#ifdef MADV_HUGEPAGE
	(void)madvise(seg->base, seg->size, MADV_HUGEPAGE);
#else
	(void)seg;
#endif
}

/*
 * Size, preallocate and map a freshly created, empty object.  A private
 * segment is not preallocated: it lives only as long as one offline run,
 * most of its table pages are never touched, and zeroing hundreds of
 * megabytes up front would cost more than the run.
 */
static int
seg_size_and_map(struct ns_seg *seg, uint64_t total)
{
	int rc;

	if (ftruncate(seg->fd, (off_t)total) == -1)
		return -errno;
	/* posix_fallocate returns the error instead of setting errno. */
	if (!(seg->flags & NS_SEG_F_PRIVATE) &&
	    (rc = posix_fallocate(seg->fd, 0, (off_t)total)) != 0)
		return -rc;
	seg->base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED,
	    seg->fd, 0);
	if (seg->base == MAP_FAILED) {
		seg->base = NULL;
		return -errno;
	}
	seg->size = total;
	seg_advise_huge(seg);
	return 0;
}

static void
seg_init_header(struct ns_seg *seg, const struct ns_seg_layout *lay)
{
	struct ns_seg_hdr *h = ns_seg_hdr(seg);
	struct timespec ts;
	int i;

	clock_gettime(CLOCK_REALTIME, &ts);
	h->abi = NS_SEG_ABI;
	h->nsections = NS_SEG_NSECTIONS;
	h->layout_hash = lay->hash;
	h->total_size = lay->total;
	h->created_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	h->creator_pid = (uint64_t)getpid();
	for (i = 0; i < NS_SEG_NSECTIONS; i++) {
		h->sect[i].off = lay->off[i];
		h->sect[i].size = lay->size[i];
	}
	/* Epoch 0 means "outside a read section" in a slot: start at 1. */
	h->epoch = 1;
	h->root = 0;
}

static void
seg_fail(struct ns_seg *seg)
{
	if (seg->base != NULL)
		munmap(seg->base, seg->size);
	if (seg->fd != -1)
		close(seg->fd);
	seg->base = NULL;
	seg->fd = -1;
}

/*
 * Create a named segment.  Fails with -EEXIST if one exists: the caller
 * decides between reattaching (same layout hash) and replacing it.
 */
int
ns_seg_create(struct ns_seg *seg, const char *name,
    const struct ns_seg_layout *lay)
{
	int rc;

	memset(seg, 0, sizeof(*seg));
	seg->fd = -1;
	if ((rc = seg_name(seg->name, sizeof(seg->name), name)) != 0)
		return rc;
	seg->fd = shm_open(seg->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600);
	if (seg->fd == -1)
		return -errno;
	if ((rc = seg_size_and_map(seg, lay->total)) != 0) {
		seg_fail(seg);
		shm_unlink(seg->name);
		return rc;
	}
	seg_init_header(seg, lay);
	return 0;
}

/*
 * Create a private segment (netspectra analyze): a memfd, preallocated like
 * a named one, inherited by fork and freed with its last mapping.
 */
int
ns_seg_create_private(struct ns_seg *seg, const struct ns_seg_layout *lay)
{
	int rc;

	memset(seg, 0, sizeof(*seg));
	seg->flags = NS_SEG_F_PRIVATE;
	if ((seg->fd = memfd_create("netspectra", MFD_CLOEXEC)) == -1)
		return -errno;
	if ((rc = seg_size_and_map(seg, lay->total)) != 0) {
		seg_fail(seg);
		return rc;
	}
	seg_init_header(seg, lay);
	return 0;
}

/* Called once every section is initialised. */
int
ns_seg_publish(struct ns_seg *seg)
{
	/* Release: pairs with the acquire of magic in seg_check(). */
	ns_store_release(&ns_seg_hdr(seg)->magic, NS_SEG_MAGIC);
	return 0;
}

static int
seg_check(const struct ns_seg *seg, uint64_t layout_hash)
{
	const struct ns_seg_hdr *h = ns_seg_hdr(seg);
	int i;

	/* Acquire: pairs with the release in ns_seg_publish(). */
	if (ns_load_acquire(&h->magic) != NS_SEG_MAGIC)
		return -EAGAIN;
	if (h->abi != NS_SEG_ABI || h->nsections != NS_SEG_NSECTIONS)
		return -EPROTO;
	if (h->total_size != seg->size)
		return -EBADMSG;
	for (i = 0; i < NS_SEG_NSECTIONS; i++)
		if (h->sect[i].off > seg->size ||
		    h->sect[i].size > seg->size - h->sect[i].off)
			return -EBADMSG;
	if (layout_hash != 0 && h->layout_hash != layout_hash)
		return -ESTALE;
	return 0;
}

static int
seg_attach(struct ns_seg *seg, const char *name, uint64_t layout_hash,
    int rdonly)
{
	struct stat st;
	int rc, prot;

	memset(seg, 0, sizeof(*seg));
	seg->fd = -1;
	if ((rc = seg_name(seg->name, sizeof(seg->name), name)) != 0)
		return rc;
	/*
	 * Even a read-only attacher opens read-write if it may, so that it
	 * can later make its slot writable (ns_seg_make_writable).
	 */
	seg->fd = shm_open(seg->name, O_RDWR | O_CLOEXEC, 0);
	if (seg->fd == -1 && rdonly && errno == EACCES)
		seg->fd = shm_open(seg->name, O_RDONLY | O_CLOEXEC, 0);
	if (seg->fd == -1)
		return -errno;
	if (fstat(seg->fd, &st) == -1) {
		rc = -errno;
		seg_fail(seg);
		return rc;
	}
	if ((uint64_t)st.st_size < sizeof(struct ns_seg_hdr)) {
		/* An empty object is one being created right now. */
		seg_fail(seg);
		return st.st_size == 0 ? -EAGAIN : -EBADMSG;
	}
	seg->size = (uint64_t)st.st_size;
	prot = rdonly ? PROT_READ : PROT_READ | PROT_WRITE;
	seg->base = mmap(NULL, seg->size, prot, MAP_SHARED, seg->fd, 0);
	if (seg->base == MAP_FAILED) {
		seg->base = NULL;
		rc = -errno;
		seg_fail(seg);
		return rc;
	}
	seg->flags = rdonly ? NS_SEG_F_RDONLY : 0;
	seg_advise_huge(seg);
	if ((rc = seg_check(seg, layout_hash)) != 0)
		seg_fail(seg);
	return rc;
}

/*
 * Attach read-write (a restarted daemon whose configuration gives the same
 * layout hash).  -ESTALE: different layout; -EPROTO: different ABI;
 * -EAGAIN: not yet published; -EBADMSG: header inconsistent with the object.
 */
int
ns_seg_attach(struct ns_seg *seg, const char *name, uint64_t layout_hash)
{
	return seg_attach(seg, name, layout_hash, 0);
}

/* Attach read-only for external tools; layout_hash 0 accepts any layout. */
int
ns_seg_attach_ro(struct ns_seg *seg, const char *name, uint64_t layout_hash)
{
	return seg_attach(seg, name, layout_hash, 1);
}

/*
 * Make one section of a read-only mapping writable in place (same
 * addresses).  External tools use it for the slot table only, so that a
 * bug in a tool can scribble on nothing but its own slot.
 */
int
ns_seg_make_writable(struct ns_seg *seg, enum ns_seg_section sec)
{
	uint64_t page = seg_pagesize(), size, off;

	off = ns_seg_section(seg, sec, &size);
	if (off == 0 || off % page != 0)
		return -EINVAL;
	if ((seg->flags & NS_SEG_F_RDONLY) == 0)
		return 0;
	if (mprotect(seg->base + off, NS_ALIGN_UP(size, page),
	    PROT_READ | PROT_WRITE) == -1)
		return -errno;
	return 0;
}

void
ns_seg_detach(struct ns_seg *seg)
{
	seg_fail(seg);
	seg->size = 0;
}

int
ns_seg_unlink(const char *name)
{
	char buf[64];
	int rc;

	if ((rc = seg_name(buf, sizeof(buf), name)) != 0)
		return rc;
	return shm_unlink(buf) == -1 ? -errno : 0;
}

/* Offset (and size) of a section, 0 if the layout has none. */
uint64_t
ns_seg_section(const struct ns_seg *seg, enum ns_seg_section sec,
    uint64_t *sizep)
{
	const struct ns_seg_hdr *h = ns_seg_hdr(seg);

	if (sizep != NULL)
		*sizep = h->sect[sec].size;
	return h->sect[sec].off;
}
