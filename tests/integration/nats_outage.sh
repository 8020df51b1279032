#!/bin/sh
# nats_outage.sh -- nats-server stopped and restarted in the middle of a
# live run.  In a pair of network namespaces joined by veth, tcpreplay
# sends a pcapgen trace at a fixed rate into the interface `netspectra
# probe` captures on; the probe publishes to a real nats-server with
# JetStream; two engines read the subject: one through a core NATS queue
# subscription, one through a JetStream durable consumer (the stream is
# on the probe's subject).  A fifth of the way through the replay the
# server is stopped (SIGTERM); once a tenth more of the trace has been
# captured without it, it is started again on the same store.
#
# The probe: every frame the kernel delivered is captured, and every
# captured frame is in exactly one of its counters at exit: published,
# skipped by the parser, dropped by reason, or still buffered -- and
# nothing was still buffered (the exit flush reached the server).  The
# probe has no counter of packets buffered in nats.c yet: the identity
# reads one (", buffered N") if the probe prints it, and meanwhile the
# absence of the exit flush's warning stands in for it.
#
# The engines: both see the server go and come back, and keep counting.
# The core one counts every message published after it is back (at least
# the frames replayed after it had reconnected); the JetStream one ends
# with exactly the messages the stream holds, and the stream holds no
# more than the probe published (no duplicate from the reconnect buffer).
# What the stream did not store is reported, not failed: core NATS
# publishing is at most once.  Seen here, 0 to 296 of 50000-60000: either
# written into the probe's connection as the server closed it (then the
# core engine lacks them too, and the probe counted them as published), or
# taken by the server after it had shut JetStream down and before it
# closed its clients (then the core engine has them and the stream not).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
. "$(dirname "$0")/nats_lib.sh"
. "$(dirname "$0")/nats_input_lib.sh"
. "$(dirname "$0")/nats_live_lib.sh"
live_need
ns_tmpdir

: "${NS_OUTAGE_PACKETS:=60000}" "${NS_OUTAGE_PPS:=5000}"
live_setup -n "$NS_OUTAGE_PACKETS" -f 2000 -s 53 --ipv6 0.3 \
	--proto-mix tcp=60,udp=25,icmp=10,sctp=5
nats_start -js
subj=gons.outage.$$

natsin_config "$T/js.yaml" js 1s \
    "{type: nats, url: $NATS_URL, subject: $subj, jetstream: {stream: OUTAGE, durable: outage}}"
live_engine_start "$T/js.yaml" "$T/js.log"
JS_PID=$DPID
wait_for 20 grep -q "created JetStream stream OUTAGE on $subj" "$T/js.log" ||
	fail "the stream was not created: $(cat "$T/js.log")"
natsin_config "$T/core.yaml" core 1s \
    "{type: nats, url: $NATS_URL, subject: $subj, queue: outage}"
live_engine_start "$T/core.yaml" "$T/core.log"
CORE_PID=$DPID
wait_for 10 grep -q "queue group outage" "$T/core.log" ||
	fail "the core engine did not subscribe: $(cat "$T/core.log")"
live_probe_config "$T/probe.yaml" "$subj" 1
live_probe_start "$T/probe.yaml" "$T/probe.log"

# connected E yes|no: what engine E's status says of its connection.
connected() {
	case $(natsin_status "$T/$1.yaml" | grep '^  nats: ') in
	"  nats: connected,"*) [ "$2" = yes ];;
	"  nats: not connected,"*) [ "$2" = no ];;
	*) false;;
	esac
}
rx_at_least() { [ "$(live_rx)" -ge "$1" ]; }

live_replay_start "$NS_OUTAGE_PPS"
wait_for 120 rx_at_least $((SENT / 5)) ||
	fail "the replay did not get a fifth of the way: $(live_rx) of $SENT frames"
wait_for 20 natsin_has "$T/core.yaml" messages 1 ||
	fail "the core engine counts nothing: $(natsin_status "$T/core.yaml")"
nats_stop
rx_stop=$(live_rx)
[ "$rx_stop" -lt "$SENT" ] || fail "the replay ended before the server stopped"
wait_for 10 grep -q "NATS: disconnected" "$T/probe.log" ||
	fail "the probe did not see the server go: $(tail -3 "$T/probe.log")"
for e in core js; do
	wait_for 10 connected $e no || fail "$e: still connected without a server"
done
# (The engines may still count what their client library took before.)
core_down=$(natsin_count "$T/core.yaml" messages)
# The probe goes on capturing: a tenth of the trace while the server is
# down, held in nats.c's reconnect buffer.
wait_for 60 rx_at_least $((rx_stop + SENT / 10)) ||
	fail "no traffic while the server was down: $(live_rx) of $SENT frames"
nats_start -js
rx_start=$(live_rx)
wait_for 20 sh -c "[ \$(grep -c 'NATS: connected' '$T/probe.log') -ge 2 ]" ||
	fail "the probe did not reconnect: $(tail -3 "$T/probe.log")"
for e in core js; do
	wait_for 20 connected $e yes || fail "$e: did not reconnect: $(tail -3 "$T/$e.log")"
done
# Every frame that reaches vb from now on is published by the probe and
# must reach the core engine, now subscribed again.
core_back=$(natsin_count "$T/core.yaml" messages)
rx_back=$(live_rx)
[ "$rx_back" -lt "$SENT" ] ||
	fail "the replay ended before the engines were back ($rx_back frames): lower NS_OUTAGE_PPS"
echo "outage: server stopped at frame $rx_stop, started again at frame $rx_start, engines back at frame $rx_back of $SENT"
live_replay_wait

live_probe_stop "$T/probe.log"
echo "probe: $P_LINE"
# The probe's accounting: every frame once.
[ "$P_CAPTURED" = "$SENT" ] && [ "$P_KDROPS" = 0 ] ||
	fail "the probe captured $P_CAPTURED of $SENT frames, kernel drops $P_KDROPS"
[ $((P_PUBLISHED + P_SKIPPED + P_DROPPED + P_BUFFERED)) = "$P_CAPTURED" ] ||
	fail "published $P_PUBLISHED + skipped $P_SKIPPED + dropped $P_DROPPED + buffered $P_BUFFERED != captured $P_CAPTURED"
[ "$P_REASONS" = "$P_DROPPED" ] ||
	fail "the drops by reason add up to $P_REASONS, not $P_DROPPED"
# Still buffered at exit: the probe's own counter if it has one, else the
# warning of its exit flush (which gives bytes, not packets).
[ "$P_BUFFERED" = 0 ] && ! grep -q "flush at exit" "$T/probe.log" ||
	fail "packets still buffered at exit: $P_BUFFERED; $(grep 'flush at exit' "$T/probe.log")"
[ "$P_MESSAGES" = "$P_PUBLISHED" ] || fail "$P_MESSAGES messages for $P_PUBLISHED packets"
[ "$P_PUBLISHED" -gt 0 ] || fail "nothing published"

# The JetStream engine: exactly what the stream holds.
stored=$(nats_stream_count OUTAGE)
[ "$stored" -le "$P_MESSAGES" ] ||
	fail "the stream holds $stored messages, the probe published $P_MESSAGES: duplicates"
wait_for 60 natsin_has "$T/js.yaml" messages "$stored" ||
	fail "the JetStream engine took $(natsin_count "$T/js.yaml" messages) of $stored messages"
# The core engine: everything published after it was back.
core_min=$((core_back + SENT - rx_back))
wait_for 60 natsin_has "$T/core.yaml" messages "$core_min" ||
	fail "the core engine counted $(natsin_count "$T/core.yaml" messages) messages, expected at least $core_min ($core_back when it was back, then $((SENT - rx_back)) frames replayed)"
for e in core js; do
	[ "$(natsin_count "$T/$e.yaml" "slow_consumer drops")" = 0 ] ||
		fail "$e: slow consumer drops: $(natsin_status "$T/$e.yaml")"
done
DPID=$JS_PID natsin_stop "$T/js.log"
DPID=$CORE_PID natsin_stop "$T/core.log"
read -r mjs pjs <<EOF
$(live_ended "$T/js.log")
EOF
read -r mcore _ <<EOF
$(live_ended "$T/core.log")
EOF
[ "$mjs" = "$stored" ] && [ "$pjs" = "$stored" ] ||
	fail "the JetStream engine counted $mjs messages ($pjs packets), the stream holds $stored"
[ "$mcore" -ge "$core_min" ] && [ "$mcore" -le "$P_MESSAGES" ] ||
	fail "the core engine counted $mcore messages, expected $core_min to $P_MESSAGES"
[ "$(live_lifetime "$T/js.log" | cut -d' ' -f1)" = "$pjs" ] ||
	fail "the JetStream engine's task counted $(live_lifetime "$T/js.log") packets, its input $pjs"
echo "ok: $SENT frames replayed at $NS_OUTAGE_PPS pps, nats-server stopped at frame $rx_stop and back at $rx_start: probe captured $P_CAPTURED = published $P_PUBLISHED + skipped $P_SKIPPED + dropped $P_DROPPED, nothing left buffered at exit; the stream stored $stored messages ($((P_MESSAGES - stored)) published around the stop not stored: core NATS publishing is at most once); JetStream engine $mjs messages, exactly the stream; core engine $mcore ($core_down when the server was gone, $core_back when back, then every message after)"
