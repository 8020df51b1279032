/*
 * test_shm_ring.c -- SPSC rings: wraparound across processes, full-ring
 * detection against the committed tail, batched publication, resume
 * position of a restarted producer, and the doorbells a waiting side
 * sleeps on.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "log.h"
#include "ring.h"
#include "segment.h"

static struct ns_seg seg;

static void
mkseg(uint64_t capacity)
{
	struct ns_seg_layout lay;

	log_init("test", "test", NS_LOG_WARN);
	ns_seg_layout_init(&lay, 1);
	ns_seg_layout_set(&lay, NS_SEG_RINGS, ns_ring_shm_size(2, capacity));
	ns_seg_layout_finish(&lay);
	cr_assert_eq(ns_seg_create_private(&seg, &lay), 0);
	cr_assert_eq(ns_ring_shm_init(&seg, 2, capacity), 0);
	ns_seg_publish(&seg);
}

static void
teardown(void)
{
	ns_seg_detach(&seg);
}

TestSuite(ring, .fini = teardown);

Test(ring, geometry)
{
	struct ns_ring *r0, *r1;

	mkseg(16);
	cr_assert_eq(ns_ring_count(&seg), 2);
	r0 = ns_ring_get(&seg, 0);
	r1 = ns_ring_get(&seg, 1);
	cr_assert_eq((uintptr_t)r0 % 64, 0);
	cr_assert_eq((uintptr_t)r1 % 64, 0);
	cr_assert_eq((uintptr_t)r0->rec % 64, 0);
	cr_assert_eq((uintptr_t)&r0->commit - (uintptr_t)&r0->head, 64);
	cr_assert_geq((uintptr_t)r1, (uintptr_t)&r0->rec[16]);
	cr_assert_null(ns_ring_get(&seg, 2));
}

Test(ring, init_rejects_non_power_of_two)
{
	mkseg(16);
	cr_assert_eq(ns_ring_shm_init(&seg, 1, 12), -EINVAL);
}

Test(ring, batched_publication)
{
	struct ns_ring_prod p;
	struct ns_ring_cons c;
	struct ns_record *w;
	const struct ns_record *r;
	unsigned i, n;

	mkseg(16);
	ns_ring_prod_init(&p, ns_ring_get(&seg, 0));
	ns_ring_cons_init(&c, ns_ring_get(&seg, 0));
	cr_assert_eq(ns_ring_reserve(&p, 10, &w), 10);
	for (i = 0; i < 10; i++)
		w[i].ts_ns = i + 1;
	cr_assert_eq(ns_ring_peek(&c, 16, &r), 0, "visible before publish");
	ns_ring_publish(&p, 10);
	n = ns_ring_peek(&c, 16, &r);
	cr_assert_eq(n, 10);
	for (i = 0; i < n; i++)
		cr_assert_eq(r[i].ts_ns, i + 1);
	ns_ring_consume(&c, n);
	cr_assert_eq(ns_ring_peek(&c, 16, &r), 0);
}

Test(ring, full_is_computed_from_committed_tail)
{
	struct ns_ring_prod p;
	struct ns_ring_cons c;
	struct ns_record *w;
	const struct ns_record *r;

	mkseg(8);
	ns_ring_prod_init(&p, ns_ring_get(&seg, 0));
	ns_ring_cons_init(&c, ns_ring_get(&seg, 0));
	cr_assert_eq(ns_ring_reserve(&p, 8, &w), 8);
	ns_ring_publish(&p, 8);
	cr_assert_eq(ns_ring_reserve(&p, 1, &w), 0, "full ring not detected");
	ns_ring_count_full(&p, 1);
	cr_assert_eq(ns_ring_get(&seg, 0)->full, 1);
	cr_assert_eq(ns_ring_peek(&c, 3, &r), 3);
	ns_ring_consume(&c, 3);
	cr_assert_eq(ns_ring_reserve(&p, 3, &w), 0,
	    "uncommitted records must not be overwritten");
	ns_ring_commit(&c);
	cr_assert_eq(ns_ring_reserve(&p, 8, &w), 3);
	cr_assert_eq(w, &ns_ring_get(&seg, 0)->rec[0]);
	/* Reservations stop at the end of the array. */
	ns_ring_publish(&p, 3);
	cr_assert_eq(ns_ring_peek(&c, 8, &r), 5);
	ns_ring_consume(&c, 5);
	ns_ring_commit(&c);
	cr_assert_eq(ns_ring_reserve(&p, 8, &w), 5);
	cr_assert_eq(w, &ns_ring_get(&seg, 0)->rec[3]);
}

Test(ring, reserve_wait_can_be_stopped)
{
	struct ns_ring_prod p;
	struct ns_record *w;
	volatile sig_atomic_t stop = 1;

	mkseg(4);
	ns_ring_prod_init(&p, ns_ring_get(&seg, 0));
	cr_assert_eq(ns_ring_reserve_wait(&p, 4, &w, &stop), 4);
	ns_ring_publish(&p, 4);
	cr_assert_eq(ns_ring_reserve_wait(&p, 1, &w, &stop), -EINTR);
}

Test(ring, resume_position_survives_producer_restart)
{
	struct ns_ring_prod p, q;
	struct ns_record *w;
	uint64_t pos;

	mkseg(16);
	ns_ring_prod_init(&p, ns_ring_get(&seg, 0));
	cr_assert_eq(ns_ring_prod_resume_pos(&p, &pos), 0);
	cr_assert_eq(pos, 0);
	ns_ring_reserve(&p, 3, &w);
	ns_ring_publish_pos(&p, 3, 1000);
	ns_ring_reserve(&p, 2, &w);
	ns_ring_publish_pos(&p, 2, 2000);
	/* A half-done publication of the next batch: entry written, no head. */
	ns_ring_get(&seg, 0)->resume[p.resume_idx ^ 1].head = 9;
	ns_ring_get(&seg, 0)->resume[p.resume_idx ^ 1].pos = 9999;
	ns_ring_prod_init(&q, ns_ring_get(&seg, 0));
	cr_assert_eq(q.head, 5);
	cr_assert_eq(ns_ring_prod_resume_pos(&q, &pos), 0);
	cr_assert_eq(pos, 2000);
	ns_ring_reserve(&q, 1, &w);
	ns_ring_publish_pos(&q, 1, 3000);
	ns_ring_prod_init(&p, ns_ring_get(&seg, 0));
	cr_assert_eq(ns_ring_prod_resume_pos(&p, &pos), 0);
	cr_assert_eq(pos, 3000);
}

Test(ring, resume_position_without_records)
{
	struct ns_ring_prod p, q;
	struct ns_record *rec;
	uint64_t pos;

	mkseg(16);
	ns_ring_prod_init(&p, ns_ring_get(&seg, 0));
	cr_assert_eq(ns_ring_reserve(&p, 2, &rec), 2);
	ns_ring_publish_pos(&p, 2, 10);
	/* Position-only updates: both entries end up naming head 2. */
	ns_ring_publish_pos(&p, 0, 20);
	ns_ring_publish_pos(&p, 0, 30);
	ns_ring_prod_init(&q, ns_ring_get(&seg, 0));
	cr_assert_eq(ns_ring_prod_resume_pos(&q, &pos), 0);
	cr_assert_eq(pos, 30, "resumed at %lu, not at the newest 30",
	    (unsigned long)pos);
	ns_ring_publish_pos(&q, 0, 40);
	ns_ring_prod_init(&p, ns_ring_get(&seg, 0));
	cr_assert_eq(ns_ring_prod_resume_pos(&p, &pos), 0);
	cr_assert_eq(pos, 40);
}

#define WRAP_N		2000000ULL
#define WRAP_CAP	64

/* Producer child: batches of 1..17 records, blocking when full. */
static void
wrap_producer(void)
{
	struct ns_ring_prod p;
	struct ns_record *w;
	uint64_t seq = 0;
	unsigned want, n, i;

	ns_ring_prod_init(&p, ns_ring_get(&seg, 0));
	while (seq < WRAP_N) {
		want = 1 + (unsigned)(seq % 17);
		if (want > WRAP_N - seq)
			want = (unsigned)(WRAP_N - seq);
		n = (unsigned)ns_ring_reserve_wait(&p, want, &w, NULL);
		for (i = 0; i < n; i++) {
			memset(&w[i], 0, sizeof(w[i]));
			w[i].ts_ns = seq;
			w[i].hash = seq * 0x9e3779b97f4a7c15ULL;
			w[i].wire_len = (uint32_t)seq;
			seq++;
		}
		ns_ring_publish(&p, n);
	}
	_exit(0);
}

Test(ring, wraparound_across_processes, .timeout = 120)
{
	struct ns_ring_cons c;
	const struct ns_record *r;
	uint64_t expect = 0, bad = 0;
	unsigned n, i, spins = 0;
	pid_t pid;
	int status;

	mkseg(WRAP_CAP);
	if ((pid = fork()) == 0)
		wrap_producer();
	ns_ring_cons_init(&c, ns_ring_get(&seg, 0));
	while (expect < WRAP_N) {
		if ((n = ns_ring_peek(&c, 13, &r)) == 0) {
			if (++spins > 1000)
				sched_yield();
			continue;
		}
		for (i = 0; i < n; i++, expect++)
			if (r[i].ts_ns != expect ||
			    r[i].hash != expect * 0x9e3779b97f4a7c15ULL ||
			    r[i].wire_len != (uint32_t)expect)
				bad++;
		ns_ring_consume(&c, n);
		ns_ring_commit(&c);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(bad, 0, "%llu records out of order or corrupt",
	    (unsigned long long)bad);
	cr_assert_eq(ns_ring_get(&seg, 0)->head, WRAP_N);
	cr_assert_eq(NS_RING_TAIL(ns_ring_get(&seg, 0)->commit), WRAP_N);
	cr_assert_eq(ns_ring_peek(&c, 13, &r), 0);
}

/* ---- doorbells (bell.h) ------------------------------------------------ */

#define BELL_LONG	60000000000ull	/* ns: a wait that must not run out */

/* Nobody sleeps: a ring is a fence and a load, the word stays. */
Test(ring, bell_quiet_ring_costs_no_wake)
{
	struct ns_ring *r;

	mkseg(16);
	r = ns_ring_get(&seg, 0);
	ns_bell_ring(&r->space);
	cr_assert_eq(r->space.seq, 0);
	cr_assert_eq(r->space.sleeping, 0);
}

/* Rung between the ticket and the wait: the wait returns at once. */
Test(ring, bell_stale_ticket_does_not_sleep)
{
	struct ns_ring *r;
	uint32_t ticket;

	mkseg(16);
	r = ns_ring_get(&seg, 0);
	ticket = ns_bell_prepare(&r->data);
	cr_assert_eq(r->data.sleeping, 1);
	ns_bell_ring(&r->data);
	cr_assert_eq(r->data.seq, ticket + 1);
	ns_bell_wait(&r->data, ticket, BELL_LONG);
	cr_assert_eq(r->data.sleeping, 0);
	/* One wake per sleep: a second ring finds nobody. */
	ns_bell_ring(&r->data);
	cr_assert_eq(r->data.seq, ticket + 1);
}

/* A publication rings the consumer's data bell, from another process. */
Test(ring, bell_publication_wakes_consumer)
{
	struct ns_ring_prod p;
	struct ns_record *w;
	struct ns_ring *r;
	uint32_t ticket;
	pid_t pid;
	int status;

	mkseg(16);
	r = ns_ring_get(&seg, 0);
	ticket = ns_bell_prepare(&r->data);
	if ((pid = fork()) == 0) {
		ns_ring_prod_init(&p, r);
		ns_ring_prod_bell(&p, &r->data);
		if (ns_ring_reserve(&p, 1, &w) != 1)
			_exit(1);
		w->ts_ns = 7;
		ns_ring_publish(&p, 1);
		_exit(0);
	}
	ns_bell_wait(&r->data, ticket, BELL_LONG);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(r->data.seq, ticket + 1, "the publication did not ring");
	cr_assert_eq(r->head, 1);
}

/* A producer blocked on a full ring sleeps, and goes on after a commit. */
Test(ring, bell_full_ring_producer_woken_by_commit, .timeout = 60)
{
	struct ns_ring_prod p;
	struct ns_ring_cons c;
	const struct ns_record *rd;
	struct ns_record *w;
	struct ns_ring *r;
	unsigned n, spins = 0;
	pid_t pid;
	int status;

	mkseg(16);
	r = ns_ring_get(&seg, 0);
	if ((pid = fork()) == 0) {
		ns_ring_prod_init(&p, r);
		if (ns_ring_reserve(&p, 16, &w) != 16)
			_exit(1);
		ns_ring_publish(&p, 16);
		if (ns_ring_reserve_wait(&p, 1, &w, NULL) != 1)
			_exit(2);
		ns_ring_publish(&p, 1);
		_exit(0);
	}
	/* Until the producer sleeps on the space bell (the test's timeout
	 * is the deadline). */
	while (ns_load_acquire(&r->space.sleeping) == 0 ||
	    ns_load_relaxed(&r->head) < 16)
		if (++spins % 1024 == 0)
			sched_yield();
	ns_ring_cons_init(&c, r);
	n = ns_ring_peek(&c, 16, &rd);
	cr_assert_eq(n, 16);
	ns_ring_consume(&c, n);
	ns_ring_commit(&c);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "producer status %d", status);
	cr_assert_eq(r->head, 17);
}

/* A commit rings the space bell of its ring. */
Test(ring, bell_commit_rings_space)
{
	struct ns_ring_prod p;
	struct ns_ring_cons c;
	const struct ns_record *rd;
	struct ns_record *w;
	struct ns_ring *r;
	uint32_t ticket;

	mkseg(16);
	r = ns_ring_get(&seg, 0);
	ns_ring_prod_init(&p, r);
	cr_assert_eq(ns_ring_reserve(&p, 16, &w), 16);
	ns_ring_publish(&p, 16);
	ticket = ns_bell_prepare(&r->space);	/* as the producer would */
	ns_ring_cons_init(&c, r);
	cr_assert_eq(ns_ring_peek(&c, 4, &rd), 4);
	ns_ring_consume(&c, 4);
	ns_ring_commit(&c);
	cr_assert_eq(r->space.seq, ticket + 1, "the commit did not ring");
	cr_assert_eq(r->space.sleeping, 0);
}
