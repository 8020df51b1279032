/*
 * inject.h -- named kill points for crash tests (DESIGN §2.4).
 *
 * NS_INJECT("worker.after_undo") raises SIGKILL when the program was built
 * with -DNS_TEST_INJECT and the environment variable NS_INJECT names that
 * point ("worker.after_undo"), or names it with a hit count
 * ("worker.after_undo:3" kills on the third hit).  In other builds the macro
 * compiles to nothing, so kill points cost nothing in production.
 */
#ifndef NS_INJECT_H
#define NS_INJECT_H

#ifdef NS_TEST_INJECT
void	ns_inject_hit(const char *name);
#define NS_INJECT(name)	ns_inject_hit(name)
#else
#define NS_INJECT(name)	do { } while (0)
#endif

#endif /* NS_INJECT_H */
