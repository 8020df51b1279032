#!/bin/sh
# restart_state.sh -- state survives restarts: netspectrad stopped and
# started with the same configuration takes its segment over and the
# lifetime totals go on from where they were; after a crash (kill -9 of
# the whole daemon) a start with a changed task first writes what the old
# configuration's live period held to its writers, says so, and starts
# afresh.
. "$(dirname "$0")/lib.sh"
need_root
need tcpreplay
ns_tmpdir
ns_bare_pair

"$PCAPGEN" -o "$T/trace.pcap" -n 5000 -f 500 -s 42 2>/dev/null || fail "pcapgen"
cfg() {	# cfg FILE OUTDIR [EXTRA-TASK]
	{ cat <<EOC
daemon: {pidfile: $T/d.pid, shm_name: /netspectra-restart-$$, log_level: info}
inputs: [{type: pcap, interface: vb, promisc: true, immediate: true}]
prometheus: {enabled: false}
EOC
	five_tuple_aggregator "$2" 10000
	printf '%s\n' "$3"; } >"$1"
	"$NETSPECTRAD" -t -c "$1" >/dev/null 2>"$1.err" || fail "config $1: $(cat "$1.err")"
}
ns_at_exit "rm -f /dev/shm/netspectra-restart-$$ /dev/shm/netspectra-restart-$$.lock"

# start CFG LOG; replay; stop_daemon
start() { daemon_start "$NSB" "$1" "$2" "capturing on vb"; }
replay() {
	rx0=$(rx)
	ip netns exec "$NSA" tcpreplay -q -i va --pps 5000 "$T/trace.pcap" >/dev/null 2>&1 || fail "tcpreplay"
	wait_for 10 rx_at_least "$rx0" "5000" ||
		fail "vb missed packets"
}
stop_daemon() { daemon_stop "$DPID" "$1"; }	# stop_daemon LOG
lifetime() { sed -n 's/.*task five: lifetime packets \([0-9]*\).*/\1/p' "$1"; }

cfg "$T/a.yaml" "$T/out-a"
start "$T/a.yaml" "$T/run1.log"; replay
# netspectra status reads the running daemon's segment; the workers may
# still be on the last packets.
status_has() {
	"$NETSPECTRA" status -c "$T/a.yaml" >"$T/status" 2>&1 && grep -q "$1" "$T/status"
}
wait_for 10 status_has "task five: lifetime packets 5000" ||
	fail "status: $(cat "$T/status")"
for want in "capture   0   active" "worker    1   active" "exporter  0   active" \
    "kernel received"; do
	grep -q "$want" "$T/status" || fail "status lacks \"$want\": $(cat "$T/status")"
done
# netspectra top: the heaviest flows of the live period, from a read
# section; one killed while it refreshes must not stall the grace period
# the stop waits for.
"$NETSPECTRA" top -c "$T/a.yaml" --once --json -n 5 five >"$T/top.json" 2>&1 ||
	fail "top: $(cat "$T/top.json")"
python3 - "$T/top.json" "$T/trace.pcap" <<'EOP' || fail "top output: $(cat "$T/top.json")"
import json, sys
o = json.loads(open(sys.argv[1]).read())
assert o["task"] == "five" and o["flows"] >= 400, o
top = [f["packets"] for f in o["top"]]
assert len(top) == 5 and top == sorted(top, reverse=True) and top[0] > 10, top
EOP
"$NETSPECTRA" top -c "$T/a.yaml" five >/dev/null 2>&1 &
tpid=$!
wait_for 10 sh -c "\"$NETSPECTRA\" status -c \"$T/a.yaml\" | grep -q 'cli .*external'" ||
	fail "top holds no external slot: $("$NETSPECTRA" status -c "$T/a.yaml")"
kill -9 "$tpid"
wait_for 10 sh -c "! \"$NETSPECTRA\" status -c \"$T/a.yaml\" | grep -q 'cli .*external'" ||
	fail "the killed top's slot was not reclaimed"
grep -q "reclaiming external slot" "$T/run1.log" || fail "no reclaim logged"
stop_daemon "$T/run1.log"
[ "$(lifetime "$T/run1.log")" = 5000 ] || fail "run 1: lifetime $(lifetime "$T/run1.log"), want 5000"
start "$T/a.yaml" "$T/run2.log"; replay; stop_daemon "$T/run2.log"
grep -q "reattached" "$T/run2.log" || fail "run 2 did not reattach: $(head -5 "$T/run2.log")"
[ "$(lifetime "$T/run2.log")" = 10000 ] || fail "run 2: lifetime $(lifetime "$T/run2.log"), want 10000"
echo "ok: stop and start with the same configuration: lifetime packets 5000, then 10000"

# A crash in the middle of a period, then a changed configuration.
start "$T/a.yaml" "$T/run3.log"; replay
kids=$(pgrep -P "$DPID" | tr '\n' ' ')
[ -n "$kids" ] || fail "no children to watch"
kill -9 "$DPID"
# Children of a dead supervisor exit (PR_SET_PDEATHSIG).
gone() { for k in $kids; do kill -0 "$k" 2>/dev/null && return 1; done; return 0; }
wait_for 10 gone || fail "children outlived the supervisor: $kids"
n_before=$(cat "$T"/out-a/*/five/flows.jsonl 2>/dev/null | wc -l)
cfg "$T/b.yaml" "$T/out-b" "      - {name: src, key_fields: [SrcIP], max_flows: 10000}"
start "$T/b.yaml" "$T/run4.log"
grep -q "another layout" "$T/run4.log" || fail "run 4: layout change not logged: $(head -5 "$T/run4.log")"
grep -q "layout changed: wrote the old configuration's current period" "$T/run4.log" ||
	fail "run 4: old state not exported: $(head -5 "$T/run4.log")"
stop_daemon "$T/run4.log"
n_after=$(cat "$T"/out-a/*/five/flows.jsonl | wc -l)
[ "$n_after" -gt "$n_before" ] || fail "the old writer got no flows of the crashed period ($n_before -> $n_after)"
[ "$(lifetime "$T/run4.log")" = 0 ] || fail "run 4: lifetime $(lifetime "$T/run4.log"), want a fresh 0"
# After a clean stop, a changed task again: the stop wrote the last period,
# and the start says what it did with the old state.
start "$T/a.yaml" "$T/run5.log"
grep -q "another layout" "$T/run5.log" && grep -q "layout changed: " "$T/run5.log" ||
	fail "run 5: the layout change is not logged: $(head -5 "$T/run5.log")"
stop_daemon "$T/run5.log"
echo "ok: after a crash, a changed task: the old period's flows were written ($n_before -> $n_after lines) and the new state starts at 0"
