/*
 * ring.c -- SPSC rings: the producer publishes with a release store of
 * head, the consumer commits with a release store of the commit word, and
 * each side acquires the other's word before touching the records.
 */
#include "ring.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <urcu/arch.h>

#include "atomic.h"

static uint64_t
ring_stride(uint64_t capacity)
{
	return NS_ALIGN_UP(sizeof(struct ns_ring) +
	    capacity * sizeof(struct ns_record), NS_CACHELINE);
}

uint64_t
ns_ring_shm_size(unsigned nrings, uint64_t capacity)
{
	return NS_ALIGN_UP(sizeof(struct ns_ring_dir), NS_CACHELINE) +
	    nrings * ring_stride(capacity);
}

int
ns_ring_shm_init(struct ns_seg *seg, unsigned nrings, uint64_t capacity)
{
	struct ns_ring_dir *dir;
	struct ns_ring *r;
	uint64_t size, off;
	unsigned i;

	if (capacity < 2 || (capacity & (capacity - 1)) != 0)
		return -EINVAL;
	off = ns_seg_section(seg, NS_SEG_RINGS, &size);
	if (off == 0 || size < ns_ring_shm_size(nrings, capacity))
		return -EINVAL;
	dir = ns_seg_ptr(seg, off);
	memset(dir, 0, sizeof(*dir));
	dir->nrings = nrings;
	dir->capacity = capacity;
	dir->stride = ring_stride(capacity);
	for (i = 0; i < nrings; i++) {
		r = ns_ring_get(seg, i);
		memset(r, 0, sizeof(*r));
		r->capacity = capacity;
		r->mask = capacity - 1;
	}
	return 0;
}

static struct ns_ring_dir *
ring_dir(const struct ns_seg *seg)
{
	return ns_seg_ptr(seg, ns_seg_section(seg, NS_SEG_RINGS, NULL));
}

unsigned
ns_ring_count(const struct ns_seg *seg)
{
	return (unsigned)ring_dir(seg)->nrings;
}

struct ns_ring *
ns_ring_get(const struct ns_seg *seg, unsigned idx)
{
	struct ns_ring_dir *dir = ring_dir(seg);

	if (idx >= dir->nrings)
		return NULL;
	return (struct ns_ring *)((char *)dir +
	    NS_ALIGN_UP(sizeof(*dir), NS_CACHELINE) + idx * dir->stride);
}

uint64_t *
ns_ring_commit_word(struct ns_ring *r)
{
	return &r->commit;
}

/* ---- producer -------------------------------------------------------- */

/*
 * Also the restart path of a killed producer: head is the truth, and the
 * resume entry that names it tells the input where to continue.
 */
void
ns_ring_prod_init(struct ns_ring_prod *p, struct ns_ring *r)
{
	p->r = r;
	p->bell = NULL;
	p->head = ns_load_relaxed(&r->head);
	/* Acquire, pairs with the consumer's release of the commit word. */
	p->tail = NS_RING_TAIL(ns_load_acquire(&r->commit));
	/*
	 * Both entries name head after a publication of no records (a
	 * position-only update); positions only grow, so the larger wins.
	 */
	if (r->resume[0].head == p->head && r->resume[1].head == p->head)
		p->resume_idx = r->resume[1].pos > r->resume[0].pos ? 1 : 0;
	else
		p->resume_idx = r->resume[1].head == p->head ? 1 : 0;
}

/* Ring bell after each publication (NULL: nobody sleeps on this ring). */
void
ns_ring_prod_bell(struct ns_ring_prod *p, struct ns_bell *bell)
{
	p->bell = bell;
}

int
ns_ring_prod_resume_pos(const struct ns_ring_prod *p, uint64_t *posp)
{
	const struct ns_ring_resume *res = &p->r->resume[p->resume_idx];

	if (res->head != p->head)
		return -ENOENT;
	*posp = res->pos;
	return 0;
}

/*
 * Up to want contiguous free records at head; 0 if the ring is full.  The
 * caller fills some of them and publishes that many.
 */
unsigned
ns_ring_reserve(struct ns_ring_prod *p, unsigned want,
    struct ns_record **recp)
{
	struct ns_ring *r = p->r;
	uint64_t free, contig;

	if (p->head - p->tail + want > r->capacity) {
		/*
		 * Acquire, pairs with the release store of the commit word
		 * in ns_journal_commit()/ns_ring_commit(): the consumer's
		 * loads of the records it committed are complete before we
		 * overwrite them.
		 */
		p->tail = NS_RING_TAIL(ns_load_acquire(&r->commit));
	}
	free = r->capacity - (p->head - p->tail);
	contig = r->capacity - (p->head & r->mask);
	if (free > contig)
		free = contig;
	if (free > want)
		free = want;
	*recp = &r->rec[p->head & r->mask];
	return (unsigned)free;
}

#define RING_SPINS	128		/* cpu_relax turns before a sleep */
#define RING_PROD_SLEEP	10000000u	/* ns: a stop request is seen this soon */

/*
 * Blocking reserve: backpressure, never a drop.  Spins briefly (a worker
 * busy with a batch commits within microseconds), then sleeps on the
 * ring's space bell until a commit rings it.
 */
int
ns_ring_reserve_wait(struct ns_ring_prod *p, unsigned want,
    struct ns_record **recp, volatile sig_atomic_t *stop)
{
	unsigned n, spins = 0;
	uint32_t ticket;

	while ((n = ns_ring_reserve(p, want, recp)) == 0) {
		if (stop != NULL && *stop)
			return -EINTR;
		if (spins++ < RING_SPINS) {
			caa_cpu_relax();
			continue;
		}
		ticket = ns_bell_prepare(&p->r->space);
		if ((n = ns_ring_reserve(p, want, recp)) != 0) {
			ns_bell_cancel(&p->r->space);
			break;
		}
		ns_bell_wait(&p->r->space, ticket, RING_PROD_SLEEP);
	}
	return (int)n;
}

void
ns_ring_publish(struct ns_ring_prod *p, unsigned n)
{
	p->head += n;
	/*
	 * Release, pairs with the acquire load of head in ns_ring_peek():
	 * the records written into the reservation are visible before the
	 * consumer can see them counted.
	 */
	ns_store_release(&p->r->head, p->head);
	if (p->bell != NULL && n > 0)
		ns_bell_ring(p->bell);
}

/*
 * Publish n records together with the input position after them, so that
 * a restarted producer resumes exactly there.  n may be 0: the ring then
 * just learns that the input moved on without records for it.  The entry not naming the
 * current head is overwritten, so a crash before the head store leaves the
 * current one intact.
 */
void
ns_ring_publish_pos(struct ns_ring_prod *p, unsigned n, uint64_t pos)
{
	unsigned idx = p->resume_idx ^ 1;

	ns_store_relaxed(&p->r->resume[idx].head, p->head + n);
	ns_store_relaxed(&p->r->resume[idx].pos, pos);
	/* The release in ns_ring_publish() orders the entry before head. */
	ns_ring_publish(p, n);
	p->resume_idx = idx;
}

/* Live inputs: count records dropped on a full ring (single writer). */
void
ns_ring_count_full(struct ns_ring_prod *p, uint64_t n)
{
	ns_store_relaxed(&p->r->full, ns_load_relaxed(&p->r->full) + n);
}

/* ---- consumer -------------------------------------------------------- */

/* Start at the committed tail: call after the journal is recovered. */
void
ns_ring_cons_init(struct ns_ring_cons *c, struct ns_ring *r)
{
	c->r = r;
	c->tail = NS_RING_TAIL(ns_load_relaxed(&r->commit));
	/* Acquire, pairs with the release of head in ns_ring_publish(). */
	c->head = ns_load_acquire(&r->head);
}

/* Up to max contiguous published records at the read position. */
unsigned
ns_ring_peek(struct ns_ring_cons *c, unsigned max,
    const struct ns_record **recp)
{
	struct ns_ring *r = c->r;
	uint64_t avail, contig;

	if (c->head == c->tail) {
		/*
		 * Acquire, pairs with the release store of head in
		 * ns_ring_publish(): records up to head are complete.
		 */
		c->head = ns_load_acquire(&r->head);
	}
	avail = c->head - c->tail;
	contig = r->capacity - (c->tail & r->mask);
	if (avail > contig)
		avail = contig;
	if (avail > max)
		avail = max;
	*recp = &r->rec[c->tail & r->mask];
	return (unsigned)avail;
}

void
ns_ring_consume(struct ns_ring_cons *c, unsigned n)
{
	c->tail += n;
}

/* Commit without a journal (consumers that keep no state in shm). */
void
ns_ring_commit(struct ns_ring_cons *c)
{
	/*
	 * Release, pairs with the acquire of the commit word in
	 * ns_ring_reserve(): our loads of the consumed records complete
	 * before the producer may reuse their space.
	 */
	ns_store_release(&c->r->commit, c->tail << 1);
	ns_ring_committed(c);
}

/* After the commit word moved (here or in the journal): wake a producer
 * waiting for space. */
void
ns_ring_committed(struct ns_ring_cons *c)
{
	ns_bell_ring(&c->r->space);
}

