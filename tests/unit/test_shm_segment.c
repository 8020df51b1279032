/*
 * test_shm_segment.c -- segment creation, attachment, layout checks and
 * offsets that hold across mappings at different addresses.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomic.h"
#include "segment.h"
#include "slot.h"

static char segname[64];

static void
name_init(void)
{
	snprintf(segname, sizeof(segname), "/ns-test-seg-%d", (int)getpid());
	ns_seg_unlink(segname);
}

static void
name_fini(void)
{
	ns_seg_unlink(segname);
}

static void
layout(struct ns_seg_layout *lay, uint64_t cfg)
{
	ns_seg_layout_init(lay, cfg);
	ns_seg_layout_set(lay, NS_SEG_SLOTS, ns_slot_shm_size(4, 2));
	ns_seg_layout_set(lay, NS_SEG_STATS, 10000);
	ns_seg_layout_finish(lay);
}

TestSuite(segment, .init = name_init, .fini = name_fini);

Test(segment, layout_is_aligned_and_hashed)
{
	struct ns_seg_layout a, b;

	layout(&a, 1);
	layout(&b, 2);
	cr_assert_eq(a.off[NS_SEG_SLOTS] % 4096, 0);
	cr_assert_eq(a.off[NS_SEG_STATS] % 64, 0);
	cr_assert_geq(a.off[NS_SEG_STATS],
	    a.off[NS_SEG_SLOTS] + a.size[NS_SEG_SLOTS]);
	cr_assert_eq(a.off[NS_SEG_RINGS], 0);
	cr_assert_neq(a.hash, b.hash);
	ns_seg_layout_init(&b, 1);
	ns_seg_layout_set(&b, NS_SEG_SLOTS, ns_slot_shm_size(5, 2));
	ns_seg_layout_set(&b, NS_SEG_STATS, 10000);
	ns_seg_layout_finish(&b);
	cr_assert_neq(a.hash, b.hash, "section sizes are part of the hash");
}

Test(segment, create_attach_and_offsets)
{
	struct ns_seg_layout lay;
	struct ns_seg s1, s2, s3;
	uint64_t off, *p1, *p2;

	layout(&lay, 42);
	cr_assert_eq(ns_seg_create(&s1, segname, &lay), 0);
	cr_assert_eq(ns_seg_attach(&s2, segname, lay.hash), -EAGAIN,
	    "unpublished segment must be refused");
	cr_assert_eq(ns_slot_shm_init(&s1, 4, 2), 0);
	ns_seg_publish(&s1);
	cr_assert_eq(ns_seg_create(&s3, segname, &lay), -EEXIST);

	cr_assert_eq(ns_seg_attach(&s2, segname, lay.hash), 0);
	cr_assert_neq(s1.base, s2.base, "second mapping at another address");
	off = ns_seg_section(&s1, NS_SEG_STATS, NULL) + 128;
	p1 = ns_seg_ptr(&s1, off);
	p2 = ns_seg_ptr(&s2, off);
	*p1 = 0x1234567890abcdefULL;
	cr_assert_eq(*p2, 0x1234567890abcdefULL);
	cr_assert_eq(ns_seg_off(&s2, p2), off);
	cr_assert_eq(ns_seg_hdr(&s2)->epoch, 1);
	cr_assert_eq(ns_seg_hdr(&s2)->layout_hash, lay.hash);
	cr_assert_neq(ns_seg_hdr(&s2)->created_ns, 0);

	cr_assert_eq(ns_seg_attach(&s3, segname, lay.hash ^ 1), -ESTALE);
	cr_assert_eq(ns_seg_attach_ro(&s3, segname, 0), 0);
	cr_assert_eq(*(uint64_t *)ns_seg_ptr(&s3, off), 0x1234567890abcdefULL);
	ns_seg_detach(&s3);
	ns_seg_detach(&s2);
	ns_seg_detach(&s1);
	cr_assert_eq(ns_seg_unlink(segname), 0);
	cr_assert_eq(ns_seg_attach(&s2, segname, 0), -ENOENT);
}

Test(segment, read_only_mapping_is_read_only)
{
	struct ns_seg_layout lay;
	struct ns_seg s1, ro;
	uint64_t off;
	pid_t pid;
	int status;

	layout(&lay, 7);
	cr_assert_eq(ns_seg_create(&s1, segname, &lay), 0);
	cr_assert_eq(ns_slot_shm_init(&s1, 4, 2), 0);
	ns_seg_publish(&s1);
	cr_assert_eq(ns_seg_attach_ro(&ro, segname, lay.hash), 0);
	off = ns_seg_section(&ro, NS_SEG_STATS, NULL);
	if ((pid = fork()) == 0) {
		signal(SIGSEGV, SIG_DFL);
		*(volatile uint64_t *)ns_seg_ptr(&ro, off) = 1;
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(!(WIFEXITED(status) && WEXITSTATUS(status) == 0),
	    "a store through the read-only mapping must fault");
	/* The slot section alone can be made writable, in place. */
	cr_assert_eq(ns_seg_make_writable(&ro, NS_SEG_SLOTS), 0);
	ns_slot_get(&ro, 5)->gen = 99;
	cr_assert_eq(ns_slot_get(&s1, 5)->gen, 99);
	cr_assert_eq(ns_seg_make_writable(&ro, NS_SEG_RINGS), -EINVAL);
	ns_seg_detach(&ro);
	ns_seg_detach(&s1);
}

Test(segment, private_segment_is_shared_with_children)
{
	struct ns_seg_layout lay;
	struct ns_seg seg;
	uint64_t *cell;
	pid_t pid;
	int status;

	layout(&lay, 9);
	cr_assert_eq(ns_seg_create_private(&seg, &lay), 0);
	cr_assert_eq(seg.name[0], '\0');
	ns_seg_publish(&seg);
	cell = ns_seg_ptr(&seg, ns_seg_section(&seg, NS_SEG_STATS, NULL));
	if ((pid = fork()) == 0) {
		ns_store_release(cell, 77);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(ns_load_acquire(cell), 77);
	ns_seg_detach(&seg);
}

Test(segment, bad_names)
{
	struct ns_seg_layout lay;
	struct ns_seg seg;

	layout(&lay, 1);
	cr_assert_eq(ns_seg_create(&seg, "", &lay), -EINVAL);
	cr_assert_eq(ns_seg_create(&seg, "/a/b", &lay), -EINVAL);
}
