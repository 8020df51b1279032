#!/bin/sh
# snapshot_interval.sh -- a writer whose snapshot_interval is shorter than
# the period gets the live period so far, marked "final": false, in the
# directory the period's final snapshot then replaces ("final": true).
. "$(dirname "$0")/lib.sh"
need_root
need python3
ns_tmpdir
ns_alone
ns_at_exit "rm -f /dev/shm/netspectra-interval-$$ /dev/shm/netspectra-interval-$$.lock"
{ cat <<EOC
daemon: {pidfile: $T/d.pid, shm_name: /netspectra-interval-$$, log_level: info}
inputs: [{type: pcap, interface: lo, immediate: true}]
prometheus: {enabled: false}
EOC
five_tuple_aggregator "$T/out" 1000 1h 1s; } >"$T/d.yaml"
ip netns exec "$NSA" "$NETSPECTRAD" -f -c "$T/d.yaml" >"$T/d.log" 2>&1 &
dpid=$!
ns_at_exit "kill -9 $dpid 2>/dev/null"
wait_for 10 grep -q "capturing on lo" "$T/d.log" || fail "did not start: $(cat "$T/d.log")"
ip netns exec "$NSA" ping -c 3 -i 0.2 127.0.0.1 >/dev/null || fail "ping"
# summary FINAL PACKETS: the period's summary.json says so.
summary() {
	python3 - "$T" "$1" "$2" <<'EOP'
import glob, json, sys
t, final, packets = sys.argv[1], sys.argv[2] == "true", int(sys.argv[3])
found = [json.load(open(p)) for p in glob.glob(t + "/out/*/five/summary.json")]
sys.exit(0 if any(s["final"] == final and s["packets"] == packets for s in found) else 1)
EOP
}
wait_for 10 summary false 6 || fail "no interim snapshot with the 6 packets: $(cat "$T"/out/*/five/summary.json 2>/dev/null)"
kill -TERM "$dpid"
wait_for 20 eval '! kill -0 $dpid 2>/dev/null' || fail "did not stop"
wait "$dpid" || fail "exit status: $(tail -3 "$T/d.log")"
summary true 6 || fail "the final snapshot did not replace the interim one: $(cat "$T"/out/*/five/summary.json)"
[ "$(ls "$T/out" | wc -l)" = 1 ] || fail "more than one directory: $(ls "$T/out")"
echo "ok: an interim snapshot (final: false, 6 packets) within the 1 h period, replaced by the final one at the stop"
