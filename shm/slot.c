/*
 * slot.c -- slot table, epoch read sections and grace periods.
 *
 * The argument for why the barriers below are sufficient is written out in
 * shm/ARCHITECTURE-shm.md ("Epochs"); every barrier here names its pair.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memfd_create, when built outside autoconf */
#endif
#include "slot.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <urcu/arch.h>

#include "atomic.h"
#include "log.h"

#define SLOT_STALL_WARN_NS	1000000000ULL	/* first stall report */
#define SLOT_STALL_REPEAT_NS	10000000000ULL	/* then every 10 s */

uint64_t
ns_slot_shm_size(unsigned nproc, unsigned nexternal)
{
	return sizeof(struct ns_slot_table) +
	    (uint64_t)(nproc + nexternal) * sizeof(struct ns_slot);
}

int
ns_slot_shm_init(struct ns_seg *seg, unsigned nproc, unsigned nexternal)
{
	struct ns_slot_table *tab;
	uint64_t size, off;

	off = ns_seg_section(seg, NS_SEG_SLOTS, &size);
	if (off == 0 || size < ns_slot_shm_size(nproc, nexternal))
		return -EINVAL;
	tab = ns_seg_ptr(seg, off);
	memset(tab, 0, size);
	tab->nslots = nproc + nexternal;
	tab->nexternal = nexternal;
	return 0;
}

static struct ns_slot_table *
slot_table(const struct ns_seg *seg)
{
	return ns_seg_ptr(seg, ns_seg_section(seg, NS_SEG_SLOTS, NULL));
}

unsigned
ns_slot_count(const struct ns_seg *seg)
{
	return slot_table(seg)->nslots;
}

struct ns_slot *
ns_slot_get(const struct ns_seg *seg, unsigned idx)
{
	struct ns_slot_table *tab = slot_table(seg);

	return idx < tab->nslots ? &tab->slot[idx] : NULL;
}

const char *
ns_slot_state_name(uint64_t state)
{
	static const char *names[] = { "free", "assigned", "active",
	    "dead-recover", "external" };

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

const char *
ns_slot_role_name(uint32_t role)
{
	static const char *names[] = { "none", "supervisor", "capture",
	    "worker", "exporter", "api", "cli" };

	return role < sizeof(names) / sizeof(names[0]) ? names[role] : "?";
}

/* ---- read side ------------------------------------------------------- */

void
ns_slot_enter(const struct ns_seg *seg, struct ns_slot *s)
{
	uint64_t e = ns_load_relaxed(&ns_seg_hdr(seg)->epoch);

	ns_store_relaxed(&s->epoch, e);
	/*
	 * Full fence, pairs with the ns_smp_mb() after the epoch increment
	 * in ns_slot_synchronize(): either the synchronizer sees our epoch,
	 * or every load in our section sees what it stored before the
	 * increment (store-buffering pattern).  It also makes the relaxed
	 * epoch load above an acquire of the synchronizer's increment.
	 */
	ns_smp_mb();
}

void
ns_slot_exit(struct ns_slot *s)
{
	/*
	 * Release, pairs with the acquire load of the slot epoch in
	 * slot_blocks(): every load of the section is complete before the
	 * synchronizer can see the slot quiescent and reuse the memory.
	 */
	ns_store_release(&s->epoch, 0);
}

/* ---- grace periods --------------------------------------------------- */

static uint64_t
slot_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
slot_blocks(const struct ns_slot *s, uint64_t target)
{
	/*
	 * Acquire, pairs with the release store of 0 in ns_slot_exit() (and
	 * in ns_slot_reader_died()).  Loaded before the state, so that a
	 * slot cleared by ns_slot_worker_died() is seen DEAD_RECOVER.
	 */
	uint64_t e = ns_load_acquire(&s->epoch);
	/* Acquire, pairs with the release store of ACTIVE in activate. */
	uint64_t st = ns_load_acquire(&s->state);

	if (st == NS_SLOT_DEAD_RECOVER)
		return 1;
	return e != 0 && e < target;
}

static void
slot_backoff(unsigned *spins)
{
	struct timespec ts = { 0, 0 };
	unsigned n = (*spins)++;

	if (n < 64) {
		caa_cpu_relax();
		return;
	}
	if (n < 256) {
		sched_yield();
		return;
	}
	/* 50 us growing to 1 ms: a stuck reader should not cost a core. */
	ts.tv_nsec = n < 1024 ? 50000 : 1000000;
	nanosleep(&ts, NULL);
}

static void
slot_report(const struct ns_slot *s, unsigned idx, uint64_t target,
    uint64_t waited_ns)
{
	log_warnx("synchronize: slot %u (pid %llu, %s %u, %s) holds epoch "
	    "%llu < %llu for %llu ms", idx,
	    (unsigned long long)ns_load_relaxed(&s->pid),
	    ns_slot_role_name(s->role), s->index,
	    ns_slot_state_name(ns_load_relaxed(&s->state)),
	    (unsigned long long)ns_load_relaxed(&s->epoch),
	    (unsigned long long)target,
	    (unsigned long long)(waited_ns / 1000000));
}

/* Wait for one slot to leave every section older than target. */
static int
slot_wait(const struct ns_seg *seg, unsigned idx, uint64_t target,
    uint64_t start, uint64_t timeout_ms)
{
	const struct ns_slot *s = ns_slot_get(seg, idx);
	uint64_t now, next_report = start + SLOT_STALL_WARN_NS;
	unsigned spins = 0;

	while (slot_blocks(s, target)) {
		slot_backoff(&spins);
		if ((spins & 63) != 0)
			continue;
		now = slot_now_ns();
		if (timeout_ms != 0 && now - start >= timeout_ms * 1000000u)
			return -ETIMEDOUT;
		if (now >= next_report) {
			slot_report(s, idx, target, now - start);
			next_report = now + SLOT_STALL_REPEAT_NS;
		}
	}
	return 0;
}

int
ns_slot_synchronize(const struct ns_seg *seg, uint64_t timeout_ms)
{
	uint64_t target, start = slot_now_ns();
	unsigned i, n = ns_slot_count(seg);
	int rc;

	target = ns_add_fetch(&ns_seg_hdr(seg)->epoch, 1);
	/*
	 * Full fence, pairs with the ns_smp_mb() in ns_slot_enter(): every
	 * store the caller made before synchronizing (unpublishing what it
	 * will reclaim) is ordered before the slot epoch loads below.
	 */
	ns_smp_mb();
	for (i = 0; i < n; i++)
		if ((rc = slot_wait(seg, i, target, start, timeout_ms)) != 0)
			return rc;
	return 0;
}

/* ---- supervisor ------------------------------------------------------ */

/* Reserve a process slot (not an external one); the supervisor only. */
int
ns_slot_assign(struct ns_seg *seg, uint32_t role, uint32_t index)
{
	struct ns_slot_table *tab = slot_table(seg);
	unsigned i, nproc = tab->nslots - tab->nexternal;
	struct ns_slot *s;

	for (i = 0; i < nproc; i++) {
		s = &tab->slot[i];
		if (ns_load_relaxed(&s->state) != NS_SLOT_FREE)
			continue;
		s->role = role;
		s->index = index;
		ns_store_relaxed(&s->pid, 0);
		ns_store_relaxed(&s->epoch, 0);
		/* Release, pairs with acquire of state in slot_blocks(). */
		ns_store_release(&s->state, NS_SLOT_ASSIGNED);
		return (int)i;
	}
	return -ENOSPC;
}

/*
 * Called by the child itself once it is ready to take part; a respawned
 * worker calls it only after its journal is rolled back, which ends the
 * DEAD_RECOVER block on grace periods.
 */
void
ns_slot_activate(struct ns_seg *seg, unsigned idx)
{
	struct ns_slot *s = ns_slot_get(seg, idx);

	ns_store_relaxed(&s->pid, (uint64_t)getpid());
	/*
	 * Release, pairs with the acquire of state in slot_blocks(): the
	 * rollback's stores are visible before grace periods proceed.
	 */
	ns_store_release(&s->state, NS_SLOT_ACTIVE);
}

/* waitpid() reaped a reader-only child: its section ended with it. */
void
ns_slot_reader_died(struct ns_seg *seg, unsigned idx)
{
	struct ns_slot *s = ns_slot_get(seg, idx);

	ns_store_relaxed(&s->pid, 0);
	ns_store_relaxed(&s->state, NS_SLOT_ASSIGNED);
	/* Release, pairs with the acquire of the epoch in slot_blocks(). */
	ns_store_release(&s->epoch, 0);
}

/* waitpid() reaped a worker: block grace periods until it is recovered. */
void
ns_slot_worker_died(struct ns_seg *seg, unsigned idx)
{
	struct ns_slot *s = ns_slot_get(seg, idx);

	ns_store_relaxed(&s->pid, 0);
	ns_store_relaxed(&s->state, NS_SLOT_DEAD_RECOVER);
	/*
	 * Release, pairs with the acquire of the epoch in slot_blocks(): a
	 * synchronizer that sees the epoch cleared also sees DEAD_RECOVER,
	 * so the slot never looks quiescent in between.
	 */
	ns_store_release(&s->epoch, 0);
}

void
ns_slot_release(struct ns_seg *seg, unsigned idx)
{
	struct ns_slot *s = ns_slot_get(seg, idx);

	ns_store_relaxed(&s->pid, 0);
	ns_store_relaxed(&s->epoch, 0);
	/* Release, pairs with the acquire of state in slot_blocks(). */
	ns_store_release(&s->state, NS_SLOT_FREE);
}

/* ---- external slots -------------------------------------------------- */

/*
 * External slot i is leased by holding a write lock on byte i of a lock
 * file.  fcntl locks die with their process, so a lock that can be taken
 * proves that the slot's previous holder is gone, whatever its pid was
 * reused for.
 */
static int
slot_lock_byte(int fd, unsigned byte, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = byte;
	fl.l_len = 1;
	return fcntl(fd, F_SETLK, &fl) == -1 ? -errno : 0;
}

static void
slot_clear_external(struct ns_slot *s)
{
	ns_store_relaxed(&s->pid, 0);
	ns_store_relaxed(&s->state, NS_SLOT_FREE);
	/* Release, pairs with the acquire of the epoch in slot_blocks(). */
	ns_store_release(&s->epoch, 0);
}

int
ns_slot_lease_external(struct ns_seg *seg, const char *lockpath,
    struct ns_slot_lease *lease)
{
	struct ns_slot_table *tab = slot_table(seg);
	unsigned i;
	int rc;

	if ((rc = ns_seg_make_writable(seg, NS_SEG_SLOTS)) != 0)
		return rc;
	lease->fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lease->fd == -1)
		return -errno;
	for (i = tab->nslots - tab->nexternal; i < tab->nslots; i++) {
		if (slot_lock_byte(lease->fd, i, F_WRLCK) != 0)
			continue;
		lease->idx = i;
		lease->slot = &tab->slot[i];
		lease->slot->role = NS_ROLE_CLI;
		lease->slot->index = i;
		ns_store_relaxed(&lease->slot->epoch, 0);
		ns_store_relaxed(&lease->slot->pid, (uint64_t)getpid());
		/* Release, pairs with acquire of state in slot_blocks(). */
		ns_store_release(&lease->slot->state, NS_SLOT_EXTERNAL);
		return 0;
	}
	close(lease->fd);
	lease->fd = -1;
	return -EBUSY;
}

void
ns_slot_lease_release(struct ns_slot_lease *lease)
{
	if (lease->fd == -1)
		return;
	slot_clear_external(lease->slot);
	/* Closing drops the lock; the slot is already clean. */
	close(lease->fd);
	lease->fd = -1;
	lease->slot = NULL;
}

/*
 * Supervisor: reclaim external slots whose tool died (its lock is free).
 * lockfd must stay open in the supervisor for as long as it uses it: any
 * close() of the file drops the supervisor's own fcntl locks.  Returns the
 * number of slots reclaimed.
 */
int
ns_slot_reap_external(struct ns_seg *seg, int lockfd)
{
	struct ns_slot_table *tab = slot_table(seg);
	struct ns_slot *s;
	unsigned i;
	int n = 0;

	for (i = tab->nslots - tab->nexternal; i < tab->nslots; i++) {
		s = &tab->slot[i];
		if (ns_load_relaxed(&s->state) != NS_SLOT_EXTERNAL)
			continue;
		if (slot_lock_byte(lockfd, i, F_WRLCK) != 0)
			continue;	/* held: the tool is alive */
		log_info("reclaiming external slot %u of dead pid %llu", i,
		    (unsigned long long)ns_load_relaxed(&s->pid));
		slot_clear_external(s);
		slot_lock_byte(lockfd, i, F_UNLCK);
		n++;
	}
	return n;
}
