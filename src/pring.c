/*
 * pring.c -- the probe's packet ring (pring.h): the producer publishes
 * with a release store of head, the consumer frees space with a release
 * store of tail, and each side acquires the other's word before touching
 * the bytes between them.  Sleep and wake-up are a store/fence/load on
 * each side (sleeping, head), so a wake-up is never lost.
 */
#include "pring.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "atomic.h"

static uint64_t
pring_pow2(uint64_t v)
{
	uint64_t r = 1;

	while (r < v)
		r <<= 1;
	return r;
}

/*
 * Room for nrecs records of max_caplen bytes, as a power of two in
 * [min, max] (both powers of two), and never less than four such records
 * whatever max says.
 */
uint64_t
ns_pring_size_for(uint64_t nrecs, uint32_t max_caplen, uint64_t min,
    uint64_t max)
{
	uint64_t rec = ns_pring_rec_size(max_caplen), size;

	size = nrecs > max / rec ? max : pring_pow2(nrecs * rec);
	if (size > max)
		size = max;
	if (size < min)
		size = min;
	if (size < 4 * rec)
		size = pring_pow2(4 * rec);
	return size;
}

int
ns_pring_create(uint64_t size, struct ns_pring **rp, int *efdp)
{
	struct ns_pring *r;
	int efd, saved;

	if (size < 4 * NS_PRING_ALIGN || (size & (size - 1)) != 0)
		return -EINVAL;
	if ((efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return -errno;
	r = mmap(NULL, sizeof(*r) + size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED) {
		saved = errno;
		close(efd);
		return -saved;
	}
	/* Fresh anonymous pages are zero: only the geometry to set. */
	r->size = size;
	r->mask = size - 1;
	*rp = r;
	*efdp = efd;
	return 0;
}

void
ns_pring_destroy(struct ns_pring *r, int efd)
{
	if (r != NULL)
		munmap(r, sizeof(*r) + r->size);
	if (efd >= 0)
		close(efd);
}

/* ---- producer -------------------------------------------------------- */

void
ns_pring_prod_init(struct ns_pring_prod *p, struct ns_pring *r, int efd)
{
	memset(p, 0, sizeof(*p));
	p->r = r;
	p->efd = efd;
	p->head = p->next = p->kicked = ns_load_relaxed(&r->head);
	/* Acquire, pairs with the release of tail in ns_pring_release(). */
	p->tail = ns_load_acquire(&r->tail);
}

/*
 * Room for a record of caplen bytes, its header to fill in, or NULL when
 * the ring is full.  A record that would run past the end of the buffer
 * goes to offset 0, behind a wrap marker; both are published together.
 */
struct ns_pring_rec *
ns_pring_reserve(struct ns_pring_prod *p, uint32_t caplen)
{
	struct ns_pring *r = p->r;
	uint64_t need = ns_pring_rec_size(caplen);
	uint64_t contig = r->size - (p->head & r->mask);
	uint64_t pad = contig < need ? contig : 0;
	struct ns_pring_rec *rec;

	if (need > r->size / 2)
		return NULL;
	if (p->head + pad + need - p->tail > r->size) {
		/*
		 * Acquire, pairs with the release store of tail in
		 * ns_pring_release(): the consumer's reads of the bytes we
		 * are about to overwrite are complete.
		 */
		p->tail = ns_load_acquire(&r->tail);
		if (p->head + pad + need - p->tail > r->size)
			return NULL;
	}
	if (pad != 0) {
		rec = (struct ns_pring_rec *)&r->data[p->head & r->mask];
		rec->caplen = NS_PRING_WRAP;
	}
	p->next = p->head + pad + need;
	rec = (struct ns_pring_rec *)&r->data[(p->head + pad) & r->mask];
	rec->caplen = caplen;
	return rec;
}

/* Make the record reserved last visible to the consumer. */
void
ns_pring_publish(struct ns_pring_prod *p)
{
	p->head = p->next;
	/*
	 * Release, pairs with the acquire loads of head in ns_pring_peek()
	 * and ns_pring_wait(): the record (and a wrap marker before it) is
	 * complete before the consumer can see head past it.
	 */
	ns_store_release(&p->r->head, p->head);
}

/*
 * Wake the consumer if it sleeps and something was published since the
 * last kick.  Called once per batch of packets, not per packet.
 */
void
ns_pring_kick(struct ns_pring_prod *p)
{
	if (p->head == p->kicked)
		return;
	p->kicked = p->head;
	/*
	 * Full fence, pairs with the one in ns_pring_wait(): our store of
	 * head is ordered before our load of sleeping, the consumer's store
	 * of sleeping before its load of head, so at least one of us sees
	 * the other's store: it does not sleep, or we wake it.
	 */
	ns_smp_mb();
	if (ns_load_relaxed(&p->r->sleeping) != 0)
		ns_pring_wake(p);
}

/* Wake the consumer whether it sleeps or not (at the end, say). */
void
ns_pring_wake(struct ns_pring_prod *p)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is full, a wake-up is pending anyway. */
	if (write(p->efd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		return;
}

/* ---- consumer -------------------------------------------------------- */

void
ns_pring_cons_init(struct ns_pring_cons *c, struct ns_pring *r, int efd,
    uint64_t tail)
{
	c->r = r;
	c->efd = efd;
	c->tail = tail;
	/* Acquire, pairs with the release of head in ns_pring_publish(). */
	c->head = ns_load_acquire(&r->head);
}

/* The record at the read position, or NULL when the ring is empty. */
const struct ns_pring_rec *
ns_pring_peek(struct ns_pring_cons *c)
{
	struct ns_pring *r = c->r;
	const struct ns_pring_rec *rec;

	if (c->tail == c->head) {
		/*
		 * Acquire, pairs with the release store of head in
		 * ns_pring_publish(): records up to head are complete.
		 */
		c->head = ns_load_acquire(&r->head);
		if (c->tail == c->head)
			return NULL;
	}
	rec = (const struct ns_pring_rec *)&r->data[c->tail & r->mask];
	if (rec->caplen == NS_PRING_WRAP) {
		/* The record published with the marker is at offset 0. */
		c->tail += r->size - (c->tail & r->mask);
		rec = (const struct ns_pring_rec *)r->data;
	}
	return rec;
}

/* Past the record ns_pring_peek() returned; its space is not free yet. */
void
ns_pring_consume(struct ns_pring_cons *c)
{
	const struct ns_pring_rec *rec = (const struct ns_pring_rec *)
	    &c->r->data[c->tail & c->r->mask];

	c->tail += ns_pring_rec_size(rec->caplen);
}

/* Give the producer the space before pos (a position consumed up to). */
void
ns_pring_release(struct ns_pring_cons *c, uint64_t pos)
{
	/*
	 * Release, pairs with the acquire loads of tail in
	 * ns_pring_reserve() and ns_pring_prod_init(): our reads of the
	 * records before pos are complete before they can be overwritten.
	 */
	ns_store_release(&c->r->tail, pos);
}

/*
 * Sleep until the producer kicks, or timeout_ms passes.  Returns at once
 * if something was published since the last peek.  0, or -errno of poll
 * (-EINTR: a signal).
 */
int
ns_pring_wait(struct ns_pring_cons *c, int timeout_ms)
{
	struct pollfd pfd = { c->efd, POLLIN, 0 };
	struct ns_pring *r = c->r;
	uint64_t cnt;
	int rc = 0;

	ns_store_relaxed(&r->sleeping, 1);
	/*
	 * Full fence, pairs with the one in ns_pring_kick(): sleeping is
	 * stored before head is loaded (see there).
	 */
	ns_smp_mb();
	/* Acquire, pairs with the release of head in ns_pring_publish(). */
	if (ns_load_acquire(&r->head) == c->head) {
		if (poll(&pfd, 1, timeout_ms) == -1)
			rc = -errno;
		else if ((pfd.revents & POLLIN) &&
		    read(c->efd, &cnt, sizeof(cnt)) == -1 && errno != EAGAIN)
			rc = -errno;
	}
	ns_store_relaxed(&r->sleeping, 0);
	return rc;
}
