/*
 * journal.c -- begin, commit and recovery of the per-worker undo journal.
 * The protocol and its crash argument are in shm/ARCHITECTURE-shm.md.
 */
#include "journal.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "ring.h"

static uint64_t
journal_stride(uint64_t max_undo)
{
	return NS_ALIGN_UP(sizeof(struct ns_journal) +
	    max_undo * sizeof(struct ns_journal_undo), NS_CACHELINE);
}

uint64_t
ns_journal_shm_size(unsigned nworkers, uint64_t max_undo)
{
	return NS_ALIGN_UP(sizeof(struct ns_journal_dir), NS_CACHELINE) +
	    nworkers * journal_stride(max_undo);
}

int
ns_journal_shm_init(struct ns_seg *seg, unsigned nworkers, uint64_t max_undo)
{
	struct ns_journal_dir *dir;
	struct ns_journal *j;
	uint64_t size, off;
	unsigned i;

	off = ns_seg_section(seg, NS_SEG_JOURNALS, &size);
	if (off == 0 || max_undo == 0 ||
	    size < ns_journal_shm_size(nworkers, max_undo))
		return -EINVAL;
	dir = ns_seg_ptr(seg, off);
	memset(dir, 0, sizeof(*dir));
	dir->njournals = nworkers;
	dir->max_undo = max_undo;
	dir->stride = journal_stride(max_undo);
	for (i = 0; i < nworkers; i++) {
		j = ns_journal_get(seg, i);
		memset(j, 0, sizeof(*j));
		j->max_undo = max_undo;
	}
	return 0;
}

struct ns_journal *
ns_journal_get(const struct ns_seg *seg, unsigned worker)
{
	struct ns_journal_dir *dir;

	dir = ns_seg_ptr(seg, ns_seg_section(seg, NS_SEG_JOURNALS, NULL));
	if (dir == NULL || worker >= dir->njournals)
		return NULL;
	return (struct ns_journal *)((char *)dir +
	    NS_ALIGN_UP(sizeof(*dir), NS_CACHELINE) + worker * dir->stride);
}

int
ns_journal_attach(struct ns_jctx *jc, const struct ns_seg *seg,
    unsigned worker)
{
	memset(jc, 0, sizeof(*jc));
	if ((jc->j = ns_journal_get(seg, worker)) == NULL)
		return -ENOENT;
	jc->base = seg->base;
	jc->size = seg->size;
	jc->max = jc->j->max_undo;
	return 0;
}

/* Records a batch may hold when each touches cells_per_record cells. */
uint64_t
ns_journal_batch_limit(const struct ns_jctx *jc, unsigned cells_per_record)
{
	return cells_per_record == 0 ? jc->max : jc->max / cells_per_record;
}

void
ns_journal_overflow(const struct ns_jctx *jc)
{
	/* A batch larger than ns_journal_batch_limit(): a bug, not data. */
	fatalx("journal overflow: %llu undo entries",
	    (unsigned long long)jc->n);
}

static uint64_t *
journal_cell(const struct ns_jctx *jc, uint64_t off)
{
	if (off == 0 || off % 8 != 0 || off > jc->size - 8)
		return NULL;
	return (uint64_t *)(jc->base + off);
}

void
ns_journal_begin(struct ns_jctx *jc, uint64_t *commit)
{
	uint64_t word = ns_load_relaxed(commit);

	jc->commit = commit;
	jc->n = 0;
	ns_store_relaxed(&jc->j->commit_off,
	    (uint64_t)((char *)commit - jc->base));
	ns_store_relaxed(&jc->j->nundo, 0);
	/*
	 * Compiler barrier (crash order), pairs with recover reading the
	 * commit word before commit_off/nundo: when in_batch is seen set,
	 * the log is empty-and-fresh or holds this batch's entries.
	 */
	ns_compiler_barrier();
	ns_store_relaxed(commit, word | 1);
	/*
	 * Compiler barrier (crash order), same pair: in_batch is set before
	 * the batch's first journaled store.
	 */
	ns_compiler_barrier();
}

void
ns_journal_commit(struct ns_jctx *jc, uint64_t new_tail)
{
	/*
	 * Release, pairs with the acquire of the commit word in
	 * ns_ring_reserve(): the batch's record loads complete before the
	 * producer may overwrite them.  As crash order it also puts every
	 * journaled store of the batch before the commit.
	 */
	ns_store_release(jc->commit, new_tail << 1);
	ns_store_relaxed(&jc->j->batches, jc->j->batches + 1);
	jc->commit = NULL;
	jc->n = 0;
}

static int
journal_undo(struct ns_jctx *jc, uint64_t n)
{
	const struct ns_journal_undo *u;
	uint64_t *cell;

	/* Backwards, so a cell stored twice ends at its oldest value. */
	while (n-- > 0) {
		u = &jc->j->undo[n];
		if ((cell = journal_cell(jc, u->off)) == NULL)
			return -EBADMSG;
		ns_store_relaxed(cell, u->old);
	}
	return 0;
}

/*
 * Roll back a batch a killed predecessor left open.  Idempotent: a crash
 * during recovery leaves in_batch set and the log intact, and the next
 * recovery restores the same values again.  Returns 1 if a batch was
 * rolled back, 0 if none was open, -EBADMSG if the journal is corrupt.
 */
int
ns_journal_recover(struct ns_jctx *jc)
{
	uint64_t *commit, word, n;
	int rc;

	if (jc->j->commit_off == 0)
		return 0;	/* no batch ever began */
	if ((commit = journal_cell(jc, jc->j->commit_off)) == NULL)
		return -EBADMSG;
	word = ns_load_relaxed(commit);
	if (!NS_RING_IN_BATCH(word))
		return 0;
	if ((n = jc->j->nundo) > jc->max)
		return -EBADMSG;
	if ((rc = journal_undo(jc, n)) != 0)
		return rc;
	NS_INJECT("journal.mid_recover");
	/*
	 * Release, pairs with the acquire of the commit word in
	 * ns_ring_reserve() (the tail is unchanged, so only for form); as
	 * crash order, every cell is restored before the batch is closed.
	 */
	ns_store_release(commit, word & ~(uint64_t)1);
	ns_store_relaxed(&jc->j->rollbacks, jc->j->rollbacks + 1);
	log_info("journal: rolled back a batch of %llu stores at tail %llu",
	    (unsigned long long)n, (unsigned long long)NS_RING_TAIL(word));
	return 1;
}
