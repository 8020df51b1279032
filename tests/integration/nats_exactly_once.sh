#!/bin/sh
# nats_exactly_once.sh -- the NATS input with JetStream is exact under
# kill -9.  Two engines read one stream, each through a durable consumer
# of its own: one undisturbed (it starts from nothing and creates the
# stream), one whose NATS input process (ns-capture-0) is killed 10 times
# and its workers 3 times while the messages are published and read, and
# the whole daemon once (restarted on its segment).  Both take exactly the
# messages published, and print the same flows, period by period; these
# equal tshark's reading of the trace.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
. "$(dirname "$0")/nats_lib.sh"
. "$(dirname "$0")/nats_input_lib.sh"
natsin_need
need pgrep od
ns_tmpdir
nats_setup
nats_start -js

: "${NS_NATS_PACKETS:=150000}"
"$PCAPGEN" -o "$T/trace.pcap" -n "$NS_NATS_PACKETS" -f 20000 -s 11 --nsec \
	--duration 10 --ipv6 0.2 2>/dev/null || fail "pcapgen"
natsin_messages "$T/trace.pcap" "$T/msgs"
n=$(cat "$T/msgs.n")

js() { echo "{type: nats, url: $NATS_URL, subject: natsin.js, jetstream: {stream: NATSIN, durable: $1}}"; }
natsin_config "$T/ref.yaml" ref 2s "$(js ref)"
natsin_config "$T/kill.yaml" kill 2s "$(js kill)"
natsin_start "$T/ref.yaml" "$T/ref.log"
REF=$DPID
grep -q "created JetStream stream NATSIN on natsin.js" "$T/ref.log" ||
	fail "the stream was not created: $(cat "$T/ref.log")"
natsin_start "$T/kill.yaml" "$T/kill.log"
KILL=$DPID

# Over 20 s: the engine reads a flat-out publication in a few seconds,
# less than the kills and restarts below take.
NATSIN_PUB_SECONDS=20
export NATSIN_PUB_SECONDS
natsin_publish natsin.js "$T/msgs" js >"$T/pub.out" 2>&1 &
PUB=$!
ns_at_exit "kill $PUB"

# kill_one NAME: kill -9 the kill engine's NAME once it runs and has
# counted n/16 messages more than at the last kill (so that the kills
# spread over the run, however fast the engine reads; timed kills all fell
# at its start or after its end on a fast run) -- at once, while it works
# through a burst of the publisher; wait until it runs again.
kills=0 last=0
advanced() { natsin_has "$T/kill.yaml" messages $((last + n / 16)); }
kill_one() {
	_pid=$(ns_child_pid "$KILL" "$1") || return 0
	wait_for 30 advanced || true	# the run's end: kill anyway
	_at=$(natsin_count "$T/kill.yaml" messages)
	kill -9 "$_pid" 2>/dev/null || return 0
	kills=$((kills + 1)) last=${_at:-$last}
	echo "kill -9 $1 $_pid ${_at:-0}" >>"$T/kills"
	wait_for 30 ns_respawned "$KILL" "$1" "$_pid" || fail "$1 was not restarted within 30 s"
}
for victim in c c w c c c w c c c w c c; do
	case $victim in
	c) kill_one ns-capture-0 ;;
	w) kill_one "ns-worker-$(ns_random 2)" ;;
	esac
done
# The whole daemon, once: its children die with it (PR_SET_PDEATHSIG);
# a new one takes the segment over and goes on.
olds=$(pgrep -P "$KILL" | tr '\n' ' ')
kill -9 "$KILL"
wait "$KILL" 2>/dev/null
gone() { for p in $olds; do ! kill -0 "$p" 2>/dev/null || return 1; done; }
wait_for 30 gone || fail "children of the killed daemon still run: $olds"
natsin_start "$T/kill.yaml" "$T/kill2.log"
KILL=$DPID
grep -q "reattached the shared memory segment" "$T/kill2.log" ||
	fail "the restarted daemon did not take the segment over: $(cat "$T/kill2.log")"
kill_one ns-capture-0

# The kills hit a running input: after its first messages, before its last.
mid=$(awk -v n="$n" '$3 == "ns-capture-0" && $5 > 0 && $5 < n' "$T/kills" | wc -l)
[ "$mid" -ge 6 ] || fail "only $mid input kills fell inside the run: $(cat "$T/kills")"
wait "$PUB" || fail "publisher: $(cat "$T/pub.out")"
[ "$(cat "$T/pub.out")" = "$n" ] || fail "published $(cat "$T/pub.out") of $n"
for e in ref kill; do
	wait_for 120 natsin_has "$T/$e.yaml" messages "$n" ||
		fail "$e took $(natsin_count "$T/$e.yaml" messages) of $n messages"
done
# Exact: not one message more either (a double count would show here).
natsin_status "$T/kill.yaml" >"$T/kill.status"
grep -q "messages $n, packets $n," "$T/kill.status" ||
	fail "kill: counts are not exact: $(cat "$T/kill.status")"
redelivered=$(natsin_count "$T/kill.yaml" redelivered)
DPID=$REF natsin_stop "$T/ref.log"
DPID=$KILL natsin_stop "$T/kill2.log"

natsin_engine_flows ref "$T/ref.flows"
natsin_engine_flows kill "$T/kill.flows"
same_or_fail "$T/ref.flows" "$T/kill.flows" \
	"flows after $kills kills and a daemon kill differ from the undisturbed run (< reference, > killed)"
tshark_flows "$T/trace.pcap" "$T/tshark.flows" 2
k=$(flows_py diff "$T/tshark.flows" "$T/ref.flows" packets bytes first last) ||
	fail "flows from JetStream differ from tshark's reading of the trace"
resumed=$(grep -c "resuming" "$T/kill.log" "$T/kill2.log" | awk -F: '{ s += $2 } END { print s }')
cat "$T/kills"
echo "ok: $n messages through JetStream; $kills kills, $mid of the input's mid-run ($(sort "$T/kills" | awk '{ print $3 }' | sort | uniq -c | awk '{ printf "%s%s x%s", s, $2, $1; s = ", " }')) and a kill -9 of the daemon: $k flows identical to the undisturbed run and to tshark; $resumed resumptions, $redelivered redeliveries skipped"
