/*
 * slot.h -- the slot table and cross-process epochs (DESIGN §2.1).
 *
 * liburcu tracks readers per process, so it cannot give grace periods
 * across processes.  Instead every process owns one cache-line slot in
 * shared memory.  A reader publishes the global epoch in its slot for the
 * duration of a read section; ns_slot_synchronize() advances the global
 * epoch and waits until no slot is inside a section that began before the
 * advance.  A slot whose worker died with a half-applied batch is
 * DEAD_RECOVER and blocks grace periods until its successor has rolled the
 * batch back.
 *
 * Read sections do not nest and must never block.
 */
#ifndef NS_SLOT_H
#define NS_SLOT_H

#include <stdint.h>

#include "segment.h"

enum ns_slot_state {
	NS_SLOT_FREE = 0,	/* unused */
	NS_SLOT_ASSIGNED,	/* reserved by the supervisor, process not up */
	NS_SLOT_ACTIVE,		/* a live daemon process */
	NS_SLOT_DEAD_RECOVER,	/* dead worker, journal not rolled back yet */
	NS_SLOT_EXTERNAL,	/* leased by an external tool (fcntl lock) */
};

enum ns_slot_role {
	NS_ROLE_NONE = 0,
	NS_ROLE_SUPERVISOR,
	NS_ROLE_CAPTURE,
	NS_ROLE_WORKER,
	NS_ROLE_EXPORTER,
	NS_ROLE_API,
	NS_ROLE_CLI,
};

struct ns_slot {
	uint64_t	epoch;		/* 0 outside a read section */
	uint64_t	state;		/* enum ns_slot_state */
	uint64_t	pid;
	uint64_t	gen;		/* generation last switched to (info) */
	uint32_t	role;		/* enum ns_slot_role */
	uint32_t	index;		/* role instance, e.g. worker number */
	uint64_t	spare[3];
} __attribute__((aligned(64)));

struct ns_slot_table {
	uint32_t	nslots;		/* process slots + external slots */
	uint32_t	nexternal;	/* the last nexternal slots */
	uint64_t	spare[7];
	struct ns_slot	slot[];
};

/* An external tool's hold on an EXTERNAL slot. */
struct ns_slot_lease {
	int		 fd;		/* lock file; the lease dies with it */
	unsigned	 idx;
	struct ns_slot	*slot;
};

uint64_t	 ns_slot_shm_size(unsigned nproc, unsigned nexternal);
int		 ns_slot_shm_init(struct ns_seg *, unsigned nproc,
		    unsigned nexternal);

unsigned	 ns_slot_count(const struct ns_seg *);
struct ns_slot	*ns_slot_get(const struct ns_seg *, unsigned idx);
const char	*ns_slot_state_name(uint64_t state);
const char	*ns_slot_role_name(uint32_t role);

/* Read side. */
void		 ns_slot_enter(const struct ns_seg *, struct ns_slot *);
void		 ns_slot_exit(struct ns_slot *);

/* Write side: 0, or -ETIMEDOUT after timeout_ms (0: wait forever). */
int		 ns_slot_synchronize(const struct ns_seg *, uint64_t timeout_ms);

/* Supervisor. */
int		 ns_slot_assign(struct ns_seg *, uint32_t role, uint32_t index);
void		 ns_slot_activate(struct ns_seg *, unsigned idx);
void		 ns_slot_reader_died(struct ns_seg *, unsigned idx);
void		 ns_slot_worker_died(struct ns_seg *, unsigned idx);
void		 ns_slot_release(struct ns_seg *, unsigned idx);
int		 ns_slot_reap_external(struct ns_seg *, int lockfd);

/* External tools. */
int		 ns_slot_lease_external(struct ns_seg *, const char *lockpath,
		    struct ns_slot_lease *);
void		 ns_slot_lease_release(struct ns_slot_lease *);

#endif /* NS_SLOT_H */
