#!/bin/sh
# iface_flap.sh -- the capture interface goes away and comes back while
# netspectrad runs.  In a pair of network namespaces joined by veth
# (va--vb), netspectrad captures on vb with 1 s periods; four pcapgen
# traces are replayed into va, each counted in full before the next fault:
#
#   1. trace 1;  vb set down, then up again (same interface);
#   2. trace 2;  the veth pair deleted -- vb is gone -- and made again
#      under the same names (a new interface);
#   3. trace 3;  vb deleted again, the capture killed (-9) while it is
#      gone, and the veth pair made again;
#   4. trace 4;  vb deleted again, and netspectrad stopped while it is
#      gone (a clean stop, exit 0).
#
# Throughout, the daemon and its capture process keep running (the capture
# is neither restarted nor given up: it logs that the interface
# disappeared, keeps closing periods while it is gone, and captures on the
# new vb once it is there); the capture killed in 3 is restarted once and
# its successor, unable to open vb, waits for it the same way instead of
# ending the run.  At the end the written flows, summed over the periods,
# equal tshark's of the four traces: nothing captured before a fault was
# lost or counted twice.  No capture layer dropped a packet.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
need_root
need tcpreplay tshark mergecap curl pgrep
ns_tmpdir
ns_bare_pair

NAME=/netspectra-flap-$$
ns_at_exit "rm -f /dev/shm$NAME /dev/shm$NAME.lock"
PP=$(( 19500 + $$ % 400 ))
cat >"$T/d.yaml" <<EOC
daemon: {pidfile: $T/d.pid, shm_name: $NAME, log_level: info}
inputs: [{type: pcap, interface: vb, promisc: true, immediate: true, buffer_size: 16MiB}]
prometheus: {enabled: true, listen: 127.0.0.1:$PP, top_k: 0}
EOC
five_tuple_aggregator "$T/out" 100000 1s >>"$T/d.yaml"
"$NETSPECTRAD" -t -c "$T/d.yaml" >/dev/null 2>"$T/d.yaml.err" || fail "config: $(cat "$T/d.yaml.err")"
for i in 1 2 3 4; do
	"$PCAPGEN" -o "$T/t$i.pcap" -n 4000 -f 400 -s "3$i" --ipv6 0.3 2>/dev/null || fail "pcapgen $i"
done

metric() {
	ip netns exec "$NSB" curl -sS -m 5 "http://127.0.0.1:$PP/metrics" 2>/dev/null |
		sed -n "s/^$1 \([0-9.]*\)$/\1/p"
}
lifetime() {
	ip netns exec "$NSB" "$NETSPECTRA" status -c "$T/d.yaml" 2>/dev/null |
		sed -n 's/.*task five: lifetime packets \([0-9]*\).*/\1/p'
}
counted() { [ "$(lifetime)" = "$1" ]; }
# replay I: trace I into va, every packet of it counted by the workers.
replay() {
	ip netns exec "$NSA" tcpreplay -q -i va --pps 4000 "$T/t$1.pcap" >"$T/r$1.log" 2>&1 ||
		fail "tcpreplay $1: $(cat "$T/r$1.log")"
	wait_for 30 counted $(( $1 * 4000 )) ||
		fail "after trace $1 the workers counted $(lifetime) packets, want $(( $1 * 4000 ))"
}
# alive: the daemon and the capture process it started with.
alive() {
	kill -0 "$dpid" 2>/dev/null || fail "netspectrad died: $(tail -5 "$T/d.log")"
	[ "$(ns_child_pid "$dpid" ns-capture-0)" = "$cap" ] ||
		fail "the capture process was restarted or is gone: $(grep -i capture "$T/d.log" | tail -5)"
}
period_after() { awk -v s="$(metric netspectra_period_start_seconds)" -v t="$1" 'BEGIN { exit !(s > t) }'; }
veth() {
	ip link add va netns "$NSA" type veth peer name vb netns "$NSB" || fail "veth"
	for ns in "$NSA va" "$NSB vb"; do
		set -- $ns
		ip netns exec "$1" sysctl -q -w "net.ipv6.conf.$2.disable_ipv6=1"
		ip -n "$1" link set "$2" up
	done
}

# gone N: the veth pair deleted; the Nth loss of vb logged; all still alive.
gone() {
	ip -n "$NSA" link del va || fail "deleting the veth pair"
	wait_for 20 eval '[ "$(grep -c "vb: .*disappeared" "$T/d.log")" -ge '"$1"' ]' ||
		fail "loss $1 of vb was not logged: $(tail -5 "$T/d.log")"
	alive
}
# closing WHILE: a period closes from now on.
closing() {
	_t=$(date +%s.%N)
	wait_for 10 period_after "$_t" || fail "no period closed while $1"
}
# back N: the veth pair made again, and captured on: the Nth "capturing on vb".
back() {
	veth
	wait_for 30 eval '[ "$(grep -c "capturing on vb" "$T/d.log")" -ge '"$1"' ]' ||
		fail "no capture on the new vb: $(tail -5 "$T/d.log")"
}

daemon_start "$NSB" "$T/d.yaml" "$T/d.log" "capturing on vb"
dpid=$DPID
wait_for 10 eval 'cap=$(ns_child_pid $dpid ns-capture-0)' || fail "no ns-capture-0"
replay 1

# ---- down and up ------------------------------------------------------------------
ip -n "$NSB" link set vb down
closing "vb was down"
alive
ip -n "$NSB" link set vb up
replay 2
alive
echo "ok: vb down then up: periods went on, the capture kept running, trace 2 counted in full"

# ---- gone, and a new vb ---------------------------------------------------------------
gone 1
closing "vb was gone"
alive
back 2
replay 3
alive
echo "ok: vb deleted and made again: '$(grep -o "vb: .*disappeared.*" "$T/d.log" | head -1)' logged, periods went on, the same capture process captures on the new vb"

# ---- the capture killed while vb is gone ------------------------------------------------
gone 2
c1=$cap
kill -9 "$cap"
wait_for 20 grep -q "vb: cannot open it after a restart; capturing again once it is back" "$T/d.log" ||
	fail "the restarted capture does not wait for vb: $(tail -5 "$T/d.log")"
wait_for 10 eval 'c2=$(ns_child_pid $dpid ns-capture-0) && [ "$c2" != "$cap" ]' || fail "no new ns-capture-0"
cap=$c2
closing "the restarted capture waited for vb"
alive
back 3
replay 4
alive
echo "ok: the capture killed while vb was gone: restarted once, its successor waited for vb and captures on it"

# ---- a stop while it is gone ---------------------------------------------------------------
gone 3

# ---- exactness ---------------------------------------------------------------------------
kill -TERM "$dpid"
wait_for 60 eval '! kill -0 $dpid 2>/dev/null' || fail "netspectrad did not stop"
wait "$dpid" || fail "netspectrad exited non-zero: $(tail -5 "$T/d.log")"
[ "$(grep -c "restarting\|giving up" "$T/d.log")" = 1 ] &&
	grep -q "ns-capture-0 (pid $c1) killed by signal 9; restarting" "$T/d.log" ||
	fail "not one restart, of the killed capture: $(grep "restarting\|giving up" "$T/d.log")"
k=$(sed -n 's/.*kernel drops \([0-9]*\).*/\1/p' "$T/d.log")
r=$(sed -n 's/.*ring_full \([0-9]*\), table_full \([0-9]*\).*/\1 \2/p' "$T/d.log")
[ "$k" = 0 ] && [ "$r" = "0 0" ] || fail "drops: kernel '$k', ring_full/table_full '$r'"
mergecap -a -w "$T/all.pcap" "$T"/t[1-4].pcap || fail "mergecap"
tshark_flows "$T/all.pcap" "$T/tshark.flows"
cat "$T"/out/*/five/flows.jsonl >"$T/d.jsonl"
flows_py ns five "$T/d.jsonl" >"$T/d.flows" || fail "bad flow output"
n=$(flows_py diff "$T/tshark.flows" "$T/d.flows" packets bytes) ||
	fail "flows differ from tshark's of the four traces (< tshark, > netspectrad)"
echo "ok: $n flows, summed over $(ls "$T/out" | wc -l) periods, = tshark's of the four traces: none lost or counted twice; no packet dropped"
