/*
 * segment.h -- the one shared-memory segment of a netspectra instance
 * (DESIGN §2).
 *
 * The segment is a header followed by sections (slot table, rings,
 * journals, generations, statistics).  Inside the segment everything refers
 * to everything else by 64-bit offset from the base, never by pointer, so
 * that external tools may map it at any address.  The supervisor sizes each
 * section with the owning module's *_shm_size(), builds a layout, creates
 * the segment, runs each module's *_shm_init() and finally publishes the
 * segment; an attacher refuses a segment that is not yet published or whose
 * ABI or layout hash differs from its own.
 */
#ifndef NS_SEGMENT_H
#define NS_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#define NS_SEG_MAGIC	0x4e53504543545241ULL	/* "NSPECTRA" */
#define NS_SEG_ABI	8	/* 8: alerter state, record hash (2026-12-04) */

enum ns_seg_section {
	NS_SEG_SLOTS = 0,	/* slot table; page-aligned, see ns_seg_make_writable */
	NS_SEG_RINGS,		/* SPSC rings, one per (input, worker) */
	NS_SEG_JOURNALS,	/* undo journals, one per worker */
	NS_SEG_GENS,		/* generation directory and table shards */
	NS_SEG_STATS,		/* counters owned by the roles (src/) */
	NS_SEG_SKETCHES,	/* sketch regions [gen][task][worker] (src/) */
	NS_SEG_CONFIG,		/* the configuration that made it, as YAML */
	NS_SEG_NSECTIONS
};

struct ns_seg_section_ent {
	uint64_t	off;		/* from the segment base; 0 if absent */
	uint64_t	size;
};

struct ns_seg_hdr {
	uint64_t	magic;		/* NS_SEG_MAGIC once published */
	uint32_t	abi;		/* NS_SEG_ABI */
	uint32_t	nsections;	/* NS_SEG_NSECTIONS */
	uint64_t	layout_hash;	/* config hash mixed with section sizes */
	uint64_t	total_size;
	uint64_t	created_ns;	/* CLOCK_REALTIME at creation */
	uint64_t	creator_pid;
	struct ns_seg_section_ent sect[NS_SEG_NSECTIONS];
	/* Written by synchronize, read by every enter: its own line. */
	uint64_t	epoch __attribute__((aligned(64)));
	/* Generation root word (shm/gen.h): its own line. */
	uint64_t	root __attribute__((aligned(64)));
} __attribute__((aligned(64)));

/* Section sizes being summed into a segment layout. */
struct ns_seg_layout {
	uint64_t	size[NS_SEG_NSECTIONS];
	uint64_t	off[NS_SEG_NSECTIONS];
	uint64_t	total;
	uint64_t	hash;
};

/* Process-local handle on a mapping of the segment. */
struct ns_seg {
	char		*base;
	uint64_t	 size;
	int		 fd;		/* kept for ns_seg_make_writable */
	int		 flags;		/* NS_SEG_F_* */
	char		 name[64];	/* "/name", "" for a private segment */
};

#define NS_SEG_F_RDONLY		0x01	/* mapped PROT_READ */
#define NS_SEG_F_PRIVATE	0x02	/* memfd: no name, gone with last mapping */

void	 ns_seg_layout_init(struct ns_seg_layout *, uint64_t config_hash);
void	 ns_seg_layout_set(struct ns_seg_layout *, enum ns_seg_section,
	    uint64_t size);
void	 ns_seg_layout_finish(struct ns_seg_layout *);

int	 ns_seg_create(struct ns_seg *, const char *name,
	    const struct ns_seg_layout *);
int	 ns_seg_create_private(struct ns_seg *, const struct ns_seg_layout *);
int	 ns_seg_publish(struct ns_seg *);
int	 ns_seg_attach(struct ns_seg *, const char *name, uint64_t layout_hash);
int	 ns_seg_attach_ro(struct ns_seg *, const char *name,
	    uint64_t layout_hash);
int	 ns_seg_make_writable(struct ns_seg *, enum ns_seg_section);
void	 ns_seg_detach(struct ns_seg *);
int	 ns_seg_unlink(const char *name);

uint64_t ns_seg_section(const struct ns_seg *, enum ns_seg_section,
	    uint64_t *sizep);
uint64_t ns_seg_hash(uint64_t seed, const void *buf, size_t len);

static inline struct ns_seg_hdr *
ns_seg_hdr(const struct ns_seg *seg)
{
	return (struct ns_seg_hdr *)seg->base;
}

/* Offset 0 is the header, never an object, so it doubles as "none". */
static inline void *
ns_seg_ptr(const struct ns_seg *seg, uint64_t off)
{
	return off == 0 ? NULL : seg->base + off;
}

static inline uint64_t
ns_seg_off(const struct ns_seg *seg, const void *p)
{
	return p == NULL ? 0 : (uint64_t)((const char *)p - seg->base);
}

#endif /* NS_SEGMENT_H */
