/*
 * atomic.h -- the memory-ordering vocabulary of the shared-memory engine.
 *
 * Every cross-process access to shared memory goes through these macros, so
 * that each one states its ordering and can be audited against the barrier
 * it pairs with.  They are the C11 memory model through the GCC/Clang
 * __atomic builtins rather than <stdatomic.h>: the builtins apply to plain
 * uint64_t fields, so shm structures keep a plain, documented layout and the
 * journal can treat any 64-bit cell as a uint64_t.  liburcu 0.13 (Debian 12)
 * has full fences and CMM_LOAD_SHARED but no acquire loads or release
 * stores; using one model throughout keeps the pairing arguments in
 * shm/ARCHITECTURE-shm.md in a single vocabulary.
 *
 * Lock-free 64-bit atomics are address-free on every platform we build for,
 * so they work between processes mapping the same pages at different
 * addresses.
 */
#ifndef NS_ATOMIC_H
#define NS_ATOMIC_H

#include <stdint.h>

/* Plain single-copy-atomic access: no ordering, no tearing. */
#define ns_load_relaxed(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#define ns_store_relaxed(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* One-way barriers: an acquire load pairs with a release store. */
#define ns_load_acquire(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define ns_store_release(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* Full (store-load) fence; pairs with another ns_smp_mb(). */
#define ns_smp_mb()		__atomic_thread_fence(__ATOMIC_SEQ_CST)

/*
 * Compiler-only barrier.  Used for crash ordering: a process killed with
 * SIGKILL stops between two instructions, and its stores are seen by its
 * successor in program order (the successor is synchronised with the death
 * through waitpid/fork), exactly as a signal handler in the same thread
 * would see them.
 */
#define ns_compiler_barrier()	__atomic_signal_fence(__ATOMIC_SEQ_CST)

/* Read-modify-write, sequentially consistent. */
#define ns_add_fetch(p, v)	__atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define ns_cas(p, expp, v)	__atomic_compare_exchange_n((p), (expp), (v), \
				    0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)

/*
 * Start loading the line at p for writing.  The empty volatile asm is a
 * side effect the optimiser must keep: GCC 12 at -O2 takes
 * __builtin_prefetch() for free of any, so a helper that only prefetches
 * (over a sketch's rows) passed for pure, and its calls were deleted as
 * dead code -- the disassembly had no prefetch left, -fno-tree-dce
 * brought them back.
 */
static inline void
ns_prefetch_w(const void *p)
{
	__builtin_prefetch(p, 1, 3);
	__asm__ volatile("" : : "r"(p));
}

#define NS_CACHELINE	64
#define NS_ALIGN_UP(x, a)	(((x) + ((a) - 1)) & ~((uint64_t)(a) - 1))

#endif /* NS_ATOMIC_H */
