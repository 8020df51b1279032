/*
 * probe.h -- `netspectra probe`: Go2NetSpectra's ns-probe.  Captures live
 * with libpcap, parses every frame with netspectra's parser and publishes
 * the packets on NATS (natsmsg.h); with --sub, subscribes instead and
 * prints what arrives.
 */
#ifndef NS_PROBE_H
#define NS_PROBE_H

/*
 * The `probe` command: argv[0] is "probe".  default_config is read when
 * -c is not given (the built-in defaults when it does not exist).  Returns
 * the exit status: 0 after SIGINT/SIGTERM, 1 on an error at start, 2 for
 * a bad command line or configuration.
 */
int	 ns_probe_main(int argc, char **argv, const char *default_config);

#endif /* NS_PROBE_H */
