#!/bin/sh
# clock_back.sh -- the wall clock stepped back, then forward, under a
# running netspectrad, without touching the machine's clock: libfaketime
# (LD_PRELOAD, its offset read from FAKETIME_TIMESTAMP_FILE at every call,
# CLOCK_MONOTONIC left alone as a real step leaves it) for netspectrad
# alone.  Live periods are cut by CLOCK_REALTIME (the capture's
# live_clock); snapshot intervals, backoff and rates use CLOCK_MONOTONIC.
#
# While tcpreplay sends a pcapgen trace at 4 kpps into the interface
# netspectrad captures on (veth in a pair of network namespaces), with
# 1 s periods:
#   - the clock steps back an hour: the capture logs it once, and the
#     current period stays open (no generation opens) -- a period starting
#     in that hour would be written over one already written;
#   - it steps forward to the real time: the held period closes at once;
#   - it steps forward an hour more: a period opens at once, an hour on.
# After the stop: the flows summed over all written periods are tshark's
# (nothing lost, nothing counted twice), each (period, flow) written once,
# the held period has what arrived while it was held, no period starts
# in the hour the clock went back into, and no layer dropped a packet.
# (Packet timestamps come from the kernel, whose clock is not faked: only
# the period labels move.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
need_root
need tcpreplay tshark
FAKETIME_LIB=${FAKETIME_LIB:-/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1}
[ -r "$FAKETIME_LIB" ] || skip "libfaketime is not installed ($FAKETIME_LIB; apt-get install faketime)"
ns_tmpdir
ns_bare_pair

SHM=/netspectra-clock-$$
ns_at_exit "rm -f /dev/shm$SHM /dev/shm$SHM.lock"
PPS=4000
"$PCAPGEN" -o "$T/trace.pcap" -n 64000 -f 2000 -s 181 --ipv6 0.3 --vlan 0.1 \
	--proto-mix tcp=60,udp=25,icmp=10,sctp=5 2>/dev/null || fail "pcapgen"
tshark_read "$T/trace.pcap"	# one pass of tshark, for the count and the flows
sent=$(wc -l <"$T/trace.pcap.tsdump")
cat >"$T/d.yaml" <<EOC
daemon: {pidfile: $T/d.pid, shm_name: $SHM, log_level: info}
inputs:
  - {type: pcap, interface: vb, snaplen: 256, promisc: true, immediate: true, buffer_size: 16MiB}
prometheus: {enabled: false}
aggregator:
  period: 1s
  num_workers: 2
  exact:
    writers: [{type: jsonl, snapshot_interval: 500ms, jsonl: {root_path: $T/out}}]
    tasks:
      - {name: five, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 100000}
EOC
"$NETSPECTRAD" -t -c "$T/d.yaml" >/dev/null 2>"$T/t.err" || fail "config: $(cat "$T/t.err")"

# clock OFFSET: netspectrad's wall clock is the real one plus OFFSET
# (libfaketime's "+N"/"-N" seconds), from its next call on.
clock() { echo "$1" >"$T/faketime.tmp" && mv "$T/faketime.tmp" "$T/faketime"; }
clock +0
t0=$(date +%s)
daemon_start "$NSB" "$T/d.yaml" "$T/d.log" "capturing on vb" \
	env LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$T/faketime" \
	FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_DISABLE_SHM=1

status() { "$NETSPECTRA" status -c "$T/d.yaml" >"$T/status" 2>&1; }
gen() { status && sed -n 's/^period: generation \([0-9]*\), .*/\1/p' "$T/status"; }
gen_above() { _g=$(gen) && [ -n "$_g" ] && [ "$_g" -gt "$1" ]; }
# started: the current period's start, UNIX seconds.
started() {
	status && date -u -d "$(sed -n 's/^period: generation [0-9]*, started \(.*\)$/\1/p' "$T/status")" +%s
}

rx0=$(rx)
ip netns exec "$NSA" tcpreplay -q -i va --pps "$PPS" "$T/trace.pcap" >"$T/replay.log" 2>&1 &
rpid=$!
ns_at_exit "kill $rpid 2>/dev/null"
wait_for 20 rx_at_least "$rx0" $((2 * PPS)) || fail "no traffic reaches vb: $(cat "$T/replay.log")"
g1=$(gen)
wait_for 20 gen_above "$g1" || fail "no period closes with the clock untouched"

# ---- an hour back: the current period is held ------------------------------
clock -3600
wait_for 20 grep -q "the wall clock is .* before the start of the current period" "$T/d.log" ||
	fail "the step back is not logged: $(tail -5 "$T/d.log")"
rx_b=$(rx) g_back=$(gen) held=$(started)
behind=$(sed -n 's/.*the wall clock is \([0-9]*\)\.[0-9]* s before .*/\1/p' "$T/d.log")
[ "$behind" -ge 3595 ] && [ "$behind" -le 3600 ] || fail "the log says the clock is '$behind' s behind, want about 3600"
# Three periods' worth of traffic: still the same generation.
wait_for 30 rx_at_least "$rx_b" $((3 * PPS)) || fail "the replay stalls"
[ "$(gen)" = "$g_back" ] || fail "a period opened with the clock an hour back: generation $g_back, then $(gen)"
kill -0 "$rpid" 2>/dev/null || fail "the replay ended during the hold: make it longer"

# ---- back to the real time: the held period closes at once ----------------
rx_f=$(rx)
clock +0
wait_for 10 gen_above "$g_back" || fail "the held period does not close when the clock is back: $(cat "$T/status")"
# (Within a period or two: another may have opened since.)
now=$(date +%s) s=$(started)
[ "$s" -ge $((now - 2)) ] && [ "$s" -le $((now + 1)) ] || fail "the period after the hold starts at $s, the time is $now"
wait_for 30 rx_at_least "$rx_f" $((2 * PPS)) || fail "the replay stalls"

# ---- an hour forward: a period opens an hour on --------------------------
g_fwd=$(gen)
clock +3600
wait_for 10 gen_above "$g_fwd" || fail "no period opens when the clock jumps forward: $(cat "$T/status")"
now=$(date +%s) s=$(started)
[ "$s" -ge $((now + 3600 - 2)) ] && [ "$s" -le $((now + 3600 + 1)) ] ||
	fail "the period after the jump starts at $s, want about $((now + 3600))"
kill -0 "$rpid" 2>/dev/null || fail "the replay ended before the jump forward: make it longer"

wait "$rpid" || fail "tcpreplay: $(cat "$T/replay.log")"
wait_for 20 rx_at_least "$rx0" "$sent" || fail "vb received fewer than $sent packets"
daemon_stop "$DPID" "$T/d.log"
grep -q "stopped$" "$T/d.log" || fail "no clean stop: $(tail "$T/d.log")"
drops=$(sed -n 's/.*kernel drops \([0-9]*\).*/\1/p' "$T/d.log")
ring=$(sed -n 's/.*ring_full \([0-9]*\), table_full \([0-9]*\).*/\1 \2/p' "$T/d.log")
[ "$drops" = 0 ] && [ "$ring" = "0 0" ] || fail "drops: kernel '$drops', ring_full/table_full '$ring'"
grep -q "task five: lifetime packets $sent," "$T/d.log" ||
	fail "lifetime at the stop: $(grep 'lifetime packets' "$T/d.log"), want $sent"
[ "$(grep -c "the wall clock is .* before the start" "$T/d.log")" = 1 ] ||
	fail "one step back, logged $(grep -c "the wall clock is .* before the start" "$T/d.log") times"

# ---- what was written --------------------------------------------------------
cat "$T"/out/*/five/flows.jsonl >"$T/all.jsonl"
# Strict: a (period, flow) written twice fails here.
flows_py ns --period five "$T/all.jsonl" >"$T/periods.flows" || fail "bad flow output"
flows_py ns five "$T/all.jsonl" >"$T/all.flows" || fail "bad flow output"
tshark_flows "$T/trace.pcap" "$T/tshark.flows"
n=$(flows_py diff "$T/tshark.flows" "$T/all.flows" packets bytes flags) ||
	fail "the flows over all periods differ from tshark's reading of the trace (< tshark, > netspectrad)"
flows_py periods "$T/periods.flows" >"$T/periods"
np=$(wc -l <"$T/periods")
# Period starts: none in the hour the clock went back into (none before
# the run began), the held one with all that came while it was held, and
# some an hour on.
first=$(head -1 "$T/periods" | cut -f1)
[ "$first" -ge $((t0 - 1)) ] || fail "a period starts at $first, before the run began ($t0): $(head -3 "$T/periods")"
hp=$(awk -F'\t' -v s="$held" '$1 == s { print $2 }' "$T/periods")
# (Less a quarter second of capture lag: what was read after the step
# forward belongs to the next period.)
[ -n "$hp" ] && [ "$hp" -ge $((rx_f - rx_b - PPS / 4)) ] && [ "$hp" -gt $((2 * PPS)) ] ||
	fail "the held period ($held) has '$hp' packets; $((rx_f - rx_b)) arrived while it was held"
ahead=$(awk -F'\t' -v s="$held" '$1 >= s + 3000' "$T/periods" | wc -l)
[ "$ahead" -ge 1 ] || fail "no period an hour on: $(tail -3 "$T/periods")"
echo "ok: the wall clock an hour back: logged once, period $held held for $((rx_f - rx_b)) packets ($hp in it), no period opened; back to the real time and an hour forward: a period opened at once each time"
echo "ok: $n flows of $sent packets over $np periods ($ahead of them an hour on) identical to tshark, each (period, flow) once, no period in the hour gone back into; drops: kernel 0, ring_full 0, table_full 0"
