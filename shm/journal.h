/*
 * journal.h -- per-worker undo journal: exactly-once under kill -9
 * (DESIGN §2.4).
 *
 * A worker applies ring records to shared tables in batches.  The batch's
 * commit word is the ring's (tail << 1) | in_batch.  ns_journal_begin()
 * sets in_batch; every store to a shared 64-bit cell (counter or entry
 * state word) goes through ns_journal_store64(), which first appends the
 * cell's offset and old value to the undo log; ns_journal_commit() is one
 * 64-bit store of the new tail with in_batch clear.  A successor of a
 * killed worker calls ns_journal_recover() before anything else: if
 * in_batch is set, the log is replayed backwards, restoring every cell to
 * its value at batch start, and the batch's records are applied again
 * from the committed tail.
 *
 * Ordering against a crash needs only compiler barriers (see atomic.h);
 * ordering against concurrent readers is the caller's (table.c uses
 * ns_journal_store64_rel() for state words).
 */
#ifndef NS_JOURNAL_H
#define NS_JOURNAL_H

#include <stdint.h>

#include "atomic.h"
#include "inject.h"
#include "segment.h"

struct ns_journal_undo {
	uint64_t	off;		/* of the cell, from the segment base */
	uint64_t	old;		/* its value before the store */
};

struct ns_journal {
	uint64_t	commit_off;	/* commit word of the open batch */
	uint64_t	nundo;		/* valid entries in undo[] */
	uint64_t	max_undo;
	uint64_t	batches;	/* committed (statistics) */
	uint64_t	rollbacks;	/* batches rolled back (statistics) */
	uint64_t	spare[3];
	struct ns_journal_undo undo[];
};

struct ns_journal_dir {
	uint64_t	njournals;
	uint64_t	max_undo;
	uint64_t	stride;
	uint64_t	spare[5];
};

/* Process-local handle of the worker that owns the journal. */
struct ns_jctx {
	char		*base;		/* segment base */
	uint64_t	 size;		/* segment size, to validate offsets */
	struct ns_journal *j;
	uint64_t	*commit;	/* commit word of the open batch */
	uint64_t	 n;		/* == j->nundo: single writer */
	uint64_t	 max;
};

uint64_t	 ns_journal_shm_size(unsigned nworkers, uint64_t max_undo);
int		 ns_journal_shm_init(struct ns_seg *, unsigned nworkers,
		    uint64_t max_undo);
struct ns_journal *ns_journal_get(const struct ns_seg *, unsigned worker);

int		 ns_journal_attach(struct ns_jctx *, const struct ns_seg *,
		    unsigned worker);
int		 ns_journal_recover(struct ns_jctx *);
void		 ns_journal_begin(struct ns_jctx *, uint64_t *commit);
void		 ns_journal_commit(struct ns_jctx *, uint64_t new_tail);
uint64_t	 ns_journal_batch_limit(const struct ns_jctx *,
		    unsigned cells_per_record);
void		 ns_journal_overflow(const struct ns_jctx *)
		    __attribute__((noreturn));

/* Log the cell's old value, then store (relaxed). */
static inline void
ns_journal_log(struct ns_jctx *jc, uint64_t *cell)
{
	struct ns_journal_undo *u;

	if (jc->n >= jc->max)
		ns_journal_overflow(jc);
	u = &jc->j->undo[jc->n];
	u->off = (uint64_t)((char *)cell - jc->base);
	u->old = ns_load_relaxed(cell);
	/*
	 * Compiler barrier (crash order), pairs with the reading of nundo
	 * then undo[] in ns_journal_recover(): the entry is complete before
	 * it is counted.
	 */
	ns_compiler_barrier();
	ns_store_relaxed(&jc->j->nundo, ++jc->n);
	/*
	 * Compiler barrier (crash order), same pair: the old value is
	 * counted before the cell changes, so no change goes unlogged.
	 */
	ns_compiler_barrier();
	NS_INJECT("journal.after_undo");
}

static inline void
ns_journal_store64(struct ns_jctx *jc, uint64_t *cell, uint64_t v)
{
	ns_journal_log(jc, cell);
	ns_store_relaxed(cell, v);
}

/* Same, with a release store: for words that publish to readers. */
static inline void
ns_journal_store64_rel(struct ns_jctx *jc, uint64_t *cell, uint64_t v)
{
	ns_journal_log(jc, cell);
	/* Release: the caller names the acquire it pairs with. */
	ns_store_release(cell, v);
}

/*
 * A store by a writer that may run without a journal (jc NULL: a private
 * table or sketch in a test or a tool): journaled when there is one.
 */
static inline void
ns_journal_set(struct ns_jctx *jc, uint64_t *cell, uint64_t v)
{
	if (jc != NULL)
		ns_journal_store64(jc, cell, v);
	else
		ns_store_relaxed(cell, v);
}

/* Same, with a release store: the caller names the acquire it pairs with. */
static inline void
ns_journal_set_rel(struct ns_jctx *jc, uint64_t *cell, uint64_t v)
{
	if (jc != NULL)
		ns_journal_store64_rel(jc, cell, v);
	else
		ns_store_release(cell, v);
}

#endif /* NS_JOURNAL_H */
