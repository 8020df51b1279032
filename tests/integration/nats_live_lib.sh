# nats_live_lib.sh -- the whole live NATS pipeline in network namespaces:
# tcpreplay -> veth -> `netspectra probe` -> nats-server -> netspectrad
# (type: nats inputs).  Sourced after lib.sh, flows_lib.sh, nats_lib.sh and
# nats_input_lib.sh (POSIX sh); used by nats_e2e.sh, nats_outage.sh and
# contrib/bench/nats-bench.sh.
#
# Everything but tcpreplay runs in $NSB: the probe captures on vb, the
# server listens on $NSB's loopback, the engines subscribe there.
#
#   live_setup PCAPGEN_ARGS...   namespaces, the trace ($T/trace.pcap) of
#                        $SENT frames (capinfos), a nats-server set up (not
#                        started) on a port the trace does not use
#   live_oracle          tshark's reading of the trace: $T/expect, its
#                        flows in $T/tshark.flows, $NIP IP packets, $NBYTES
#                        their wire bytes
#   live_probe_config CFG SUBJECT BATCH   a probe section capturing on vb
#   live_probe_start CFG LOG     netspectra probe -v; sets PROBE_PID, waits
#                        until it captures and has connected
#   live_probe_stop LOG  SIGTERM, exit 0 awaited; its counters at exit in
#                        P_CAPTURED P_PUBLISHED P_MESSAGES P_SKIPPED
#                        P_DROPPED P_KRECV P_KDROPS, P_REASONS (the
#                        dropped packets by reason, summed) and P_BUFFERED
#                        (", buffered N" if the probe prints it, else 0)
#   live_engine_start CFG LOG    netspectrad -f in $NSB; sets DPID
#   live_replay PPS      tcpreplay the trace into va at PPS, then wait until
#                        vb has received every frame
#   live_rx              frames vb has received since live_replay_start
#   live_replay_start PPS / live_replay_wait   the same, in two steps
#   live_ended LOG       "MESSAGES PACKETS" of the input's "ended:" line
#   live_lifetime LOG    "PACKETS BYTES" of task five's lifetime totals
#   live_flows_sum OUT FLOWS...  flows.py outputs summed per key (packets,
#                        bytes; first the least, last the greatest)

live_need() {
	need_root
	natsin_need
	need tcpreplay capinfos
}

live_setup() {
	ns_bare_pair
	"$PCAPGEN" -o "$T/trace.pcap" "$@" 2>/dev/null || fail "pcapgen"
	SENT=$(capinfos -c -M "$T/trace.pcap" | sed -n 's/^Number of packets: *//p')
	[ "$SENT" -gt 0 ] || fail "no frame in the trace"
	# The probe leaves the NATS port out of its capture: pick one that no
	# packet of the trace uses.
	"$NETSPECTRA" dump "$T/trace.pcap" | cut -f4,5 | tr '\t' '\n' |
		sort -u >"$T/ports"
	nats_setup "$NSB" "$T/ports"
}

# live_oracle: tshark's reading of the trace.
live_oracle() {
	tshark_read "$T/trace.pcap"
	[ "$(wc -l <"$T/trace.pcap.tstimes")" = "$SENT" ] ||
		fail "tshark and capinfos disagree on the frames of the trace"
	cut -f2- "$T/trace.pcap.tsdump" >"$T/expect"
	NIP=$(wc -l <"$T/expect")
	NBYTES=$(awk -F'\t' '{ s += $6 } END { print s }' "$T/expect")
	[ "$NIP" -gt 0 ] || fail "no IP packet in the trace"
	tshark_flows "$T/trace.pcap" "$T/tshark.flows"
}

live_probe_config() {
	cat >"$1" <<EOC
probe:
  nats_url: $NATS_URL
  subject: $2
  interface: vb
  snaplen: 256
  batch: $3
EOC
}

live_probe_start() {
	ip netns exec "$NSB" "$NETSPECTRA" probe -v --interval 1 -c "$1" >"$2" 2>&1 &
	PROBE_PID=$!
	ns_at_exit "kill -9 $PROBE_PID 2>/dev/null"
	wait_for 10 grep -q "capturing on vb" "$2" ||
		fail "probe did not start: $(cat "$2")"
	wait_for 10 grep -q "NATS: connected" "$2" ||
		fail "probe did not connect: $(cat "$2")"
}

live_probe_stop() {
	kill -TERM "$PROBE_PID"
	wait "$PROBE_PID" || fail "probe exited non-zero: $(tail -5 "$1")"
	_st=$(grep "stopped: captured" "$1") || fail "no probe counters at exit: $(tail -5 "$1")"
	# captured C, published P packets in M messages, skipped S[ r=n...],
	# dropped D[ r=n...], kernel received R, kernel drops K
	set -- $(echo "$_st" | sed -n 's/.*stopped: captured \([0-9]*\), published \([0-9]*\) packets in \([0-9]*\) messages, skipped \([0-9]*\).*, dropped \([0-9]*\).*, kernel received \([0-9]*\), kernel drops \([0-9]*\).*/\1 \2 \3 \4 \5 \6 \7/p')
	[ $# = 7 ] || fail "cannot read the probe's counters: $_st"
	P_CAPTURED=$1 P_PUBLISHED=$2 P_MESSAGES=$3 P_SKIPPED=$4 P_DROPPED=$5 P_KRECV=$6 P_KDROPS=$7
	P_REASONS=$(echo "$_st" | sed 's/.*, dropped [0-9]*\([^,]*\),.*/\1/' |
		tr ' ' '\n' | awk -F= 'NF == 2 { s += $2 } END { print s + 0 }')
	# Packets nats.c still held for a server: no such counter yet.
	P_BUFFERED=$(echo "$_st" | sed -n 's/.*, buffered \([0-9]*\).*/\1/p')
	P_BUFFERED=${P_BUFFERED:-0}
	P_LINE=$_st
}

live_engine_start() {
	$NATS_IN "$NETSPECTRAD" -f -c "$1" >"$2" 2>&1 &
	DPID=$!
	ns_at_exit "kill -9 $DPID 2>/dev/null"
	wait_for 20 grep -q "connected to" "$2" || fail "netspectrad did not connect: $(tail -5 "$2")"
}

live_rx() { echo $(( $(rx) - LIVE_RX0 )); }

live_replay_start() {
	LIVE_RX0=$(rx)
	ip netns exec "$NSA" tcpreplay -q -i va --pps "$1" "$T/trace.pcap" \
		>"$T/replay.log" 2>&1 &
	LIVE_REPLAY=$!
	ns_at_exit "kill $LIVE_REPLAY 2>/dev/null"
}

live_replay_wait() {
	wait "$LIVE_REPLAY" || fail "tcpreplay: $(cat "$T/replay.log")"
	wait_for 10 rx_at_least "$LIVE_RX0" "$SENT" ||
		fail "vb received $(live_rx) of $SENT frames"
}

live_replay() {
	live_replay_start "$1"
	live_replay_wait
}

live_ended() {
	sed -n 's/.*input [^ ]*: ended: \([0-9]*\) messages, \([0-9]*\) packets$/\1 \2/p' "$1" | tail -1
}

live_lifetime() {
	sed -n 's/.*task five: lifetime packets \([0-9]*\), bytes \([0-9]*\)$/\1 \2/p' "$1" | tail -1
}

live_flows_sum() {
	_out=$1; shift
	python3 - "$@" >"$_out" <<'EOPY' || fail "summing flows"
import sys
agg = {}
for path in sys.argv[1:]:
    for l in open(path):
        f = l.rstrip("\n").split("\t")
        k, v = tuple(f[:6]), f[6:]
        if k not in agg:
            agg[k] = v
            continue
        a = agg[k]
        a[0] = str(int(a[0]) + int(v[0]))
        a[1] = str(int(a[1]) + int(v[1]))
        if "-" not in (a[2], v[2]):
            a[2] = str(min(int(a[2]), int(v[2])))
            a[3] = str(max(int(a[3]), int(v[3])))
for k in sorted(agg):
    print("\t".join(k + tuple(agg[k])))
EOPY
}
