/*
 * pring.h -- a single-producer/single-consumer ring of variable-length
 * packet records between two processes: the probe (producer) and its
 * persistence writer (consumer), in a MAP_SHARED|MAP_ANONYMOUS mapping
 * made before the fork.
 *
 * shm/ring.h carries 64-byte parsed records inside the daemon's segment;
 * persistence needs the captured bytes themselves (up to snaplen), so
 * this ring holds records of any length: a 16-byte header, then the
 * payload, padded to 16 bytes.  A record never wraps: when one does not
 * fit before the end of the buffer, the producer leaves a wrap marker
 * there and starts at offset 0.
 *
 * head and tail count bytes, only grow, and sit on cache lines of their
 * own.  The producer never waits: a record that does not fit is refused
 * (the caller counts it).  The consumer sleeps on an eventfd; the
 * producer writes to it only when the consumer said it sleeps, so the
 * busy path costs no system call.
 */
#ifndef NS_PRING_H
#define NS_PRING_H

#include <stddef.h>
#include <stdint.h>

#define NS_PRING_WRAP	UINT32_MAX	/* caplen of a wrap marker */
#define NS_PRING_ALIGN	16u

struct ns_pring_rec {
	uint64_t	 ts_ns;		/* capture time */
	uint32_t	 caplen;	/* payload bytes that follow */
	uint32_t	 wirelen;	/* length on the wire */
	uint8_t		 data[];
};

struct ns_pring {
	uint64_t	 size;		/* bytes of data[], a power of two */
	uint64_t	 mask;
	uint64_t	 spare0[6];
	/* Producer line. */
	uint64_t	 head __attribute__((aligned(64)));
	uint64_t	 spare1[7];
	/* Consumer line. */
	uint64_t	 tail __attribute__((aligned(64)));
	uint64_t	 spare2[7];
	/* Consumer's "about to sleep" word, read by the producer's kick. */
	uint64_t	 sleeping __attribute__((aligned(64)));
	uint64_t	 spare3[7];
	uint8_t		 data[] __attribute__((aligned(64)));
};

struct ns_pring_prod {
	struct ns_pring	*r;
	int		 efd;
	uint64_t	 head;		/* == r->head: single producer */
	uint64_t	 tail;		/* tail last seen */
	uint64_t	 next;		/* head after the reserved record */
	uint64_t	 kicked;	/* head at the last kick */
};

struct ns_pring_cons {
	struct ns_pring	*r;
	int		 efd;
	uint64_t	 tail;		/* next record to read (not released) */
	uint64_t	 head;		/* head last seen */
};

/* Bytes a record of caplen payload bytes takes, header and padding. */
static inline uint64_t
ns_pring_rec_size(uint32_t caplen)
{
	return ((uint64_t)sizeof(struct ns_pring_rec) + caplen +
	    NS_PRING_ALIGN - 1) & ~(uint64_t)(NS_PRING_ALIGN - 1);
}

uint64_t	 ns_pring_size_for(uint64_t nrecs, uint32_t max_caplen,
		    uint64_t min, uint64_t max);
int		 ns_pring_create(uint64_t size, struct ns_pring **rp,
		    int *efdp);
void		 ns_pring_destroy(struct ns_pring *, int efd);

/* Producer. */
void		 ns_pring_prod_init(struct ns_pring_prod *, struct ns_pring *,
		    int efd);
struct ns_pring_rec *ns_pring_reserve(struct ns_pring_prod *,
		    uint32_t caplen);
void		 ns_pring_publish(struct ns_pring_prod *);
void		 ns_pring_kick(struct ns_pring_prod *);
void		 ns_pring_wake(struct ns_pring_prod *);

/* Consumer. */
void		 ns_pring_cons_init(struct ns_pring_cons *, struct ns_pring *,
		    int efd, uint64_t tail);
const struct ns_pring_rec *ns_pring_peek(struct ns_pring_cons *);
void		 ns_pring_consume(struct ns_pring_cons *);
void		 ns_pring_release(struct ns_pring_cons *, uint64_t pos);
int		 ns_pring_wait(struct ns_pring_cons *, int timeout_ms);

#endif /* NS_PRING_H */
