/*
 * nats_input.h -- the engine's NATS input: packets published by probes
 * (Go2NetSpectra's v1.PacketInfo, or netspectra's batches) read from core
 * NATS, or from a JetStream durable consumer exactly once, and written
 * into the rings as a capture writes what it parses.
 */
#ifndef NS_NATS_INPUT_H
#define NS_NATS_INPUT_H

#include "config.h"
#include "engine.h"

/*
 * Read input `input` (cfg: url, subject, queue, jetstream) until the
 * supervisor sets the input's stop word or SIGTERM arrives; never returns.
 * Periods follow the packets' timestamps; a full ring is waited on.
 * Exits 0 once the end of the input is published, NS_EXIT_NORESPAWN when
 * the JetStream stream cannot be the one its checkpoint was taken from.
 */
void	 ns_natsin_main(struct ns_engine *, unsigned input,
	    const struct ns_config_input *cfg) __attribute__((noreturn));

#endif /* NS_NATS_INPUT_H */
