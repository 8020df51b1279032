#!/bin/sh
# kill_supervisor.sh -- kill -9 of the supervisor alone, in the middle of
# a live replay.  Its children die with it (PR_SET_PDEATHSIG), as designed;
# the named segment stays.  netspectrad started again with the same
# configuration takes the stale pidfile over, reattaches the segment
# ("counters continue") and goes on.  In a pair of network namespaces
# joined by veth, tcpreplay sends trace A (all of it counted before the
# kill), trace B (the supervisor killed a third of the way in, its
# workers stopped first so that the rings hold records; the rest of B
# arrives while nothing captures), then A again after the restart.
#
# The oracle is tshark's reading of the traces.  What was counted of B is
# the flows' totals less A's twice; it must be, flow by flow, the first
# packets of each flow in B (the rings are FIFO and a flow has one
# worker), no flow more than B has, and the cut points of all flows within
# one capture batch of each other: what the rings held at the kill was
# counted after the restart, once.  The lifetime counters of `netspectra
# status` and /metrics equal that sum exactly, and so do the jsonl flows
# summed over the periods of both runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
need_root
need tcpreplay tshark pgrep curl
ns_tmpdir
ns_bare_pair

SHM=/netspectra-ksup-$$
ns_at_exit "rm -f /dev/shm$SHM /dev/shm$SHM.lock"
PP=19871
while [ -n "$(ip netns exec "$NSB" ss -Hltn "sport = :$PP")" ]; do PP=$((PP + 1)); done

"$PCAPGEN" -o "$T/a.pcap" -n 10000 -f 800 -s 161 --ipv6 0.3 \
	--proto-mix tcp=60,udp=30,icmp=10 2>/dev/null || fail "pcapgen a"
"$PCAPGEN" -o "$T/b.pcap" -n 24000 -f 1500 -s 162 --ipv6 0.3 \
	--proto-mix tcp=60,udp=30,icmp=10 2>/dev/null || fail "pcapgen b"
tshark_read "$T/a.pcap"; tshark_read "$T/b.pcap"	# IP packets, by tshark
na=$(wc -l <"$T/a.pcap.tsdump") nb=$(wc -l <"$T/b.pcap.tsdump")

cat >"$T/d.yaml" <<EOC
daemon: {pidfile: $T/d.pid, shm_name: $SHM, log_level: info}
inputs:
  - {type: pcap, interface: vb, snaplen: 256, promisc: true, immediate: true, buffer_size: 16MiB}
prometheus: {enabled: true, listen: 127.0.0.1:$PP, top_k: 0}
aggregator:
  period: 2s
  num_workers: 2
  exact:
    writers: [{type: jsonl, snapshot_interval: 1s, jsonl: {root_path: $T/out}}]
    tasks:
      - {name: five, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 100000}
EOC
"$NETSPECTRAD" -t -c "$T/d.yaml" >/dev/null 2>"$T/t.err" || fail "config: $(cat "$T/t.err")"

start() { daemon_start "$NSB" "$T/d.yaml" "$1" "capturing on vb"; }	# start LOG
replay() {	# replay PCAP COUNT: all of it, and all of it received
	_r0=$(rx)
	ip netns exec "$NSA" tcpreplay -q -i va --pps 5000 "$1" >"$T/replay.log" 2>&1 ||
		fail "tcpreplay: $(cat "$T/replay.log")"
	wait_for 20 rx_at_least "$_r0" "$2" || fail "vb missed packets of $1"
}
status() { "$NETSPECTRA" status -c "$T/d.yaml" >"$T/status" 2>&1; }
lifetime() {	# the task's lifetime packets, as netspectra status reads them
	status && sed -n 's/^task five: lifetime packets \([0-9]*\),.*/\1/p' "$T/status"
}
lifetime_is() { [ "$(lifetime)" = "$1" ]; }
metric() {
	ip netns exec "$NSB" curl -sS -m 5 "http://127.0.0.1:$PP/metrics" 2>/dev/null |
		awk -v m="$1" '$1 == m { print $2 }'
}
PK='netspectra_task_packets_total{task="five"}'
metric_is() { [ "$(metric "$PK")" = "$1" ]; }
# queued: records waiting in the rings, by netspectra status.
queued() {
	status && awk '/ring to worker/ { q += $5 } END { print q + 0 }' "$T/status"
}
# settled: the rings are empty and /metrics says what status says: sets L.
settled() {
	[ "$(queued)" = 0 ] || return 1
	L=$(sed -n 's/^task five: lifetime packets \([0-9]*\),.*/\1/p' "$T/status")
	[ -n "$L" ] && metric_is "$L"
}

# ---- run 1: A, then B with the supervisor killed in it ----------------------
start "$T/run1.log"
replay "$T/a.pcap" "$na"
wait_for 20 lifetime_is "$na" || fail "run 1: lifetime $(lifetime) after A, want $na"
wait_for 20 metric_is "$na" || fail "run 1: $PK is '$(metric "$PK")' after A, want $na"
kids=$(pgrep -P "$DPID" | tr '\n' ' ')
[ "$(echo $kids | wc -w)" -ge 4 ] || fail "run 1: children: '$kids'"
rx0=$(rx)
ip netns exec "$NSA" tcpreplay -q -i va --pps 5000 "$T/b.pcap" >"$T/replay.log" 2>&1 &
rpid=$!
ns_at_exit "kill $rpid 2>/dev/null"
wait_for 20 rx_at_least "$rx0" $((nb / 3)) || fail "B does not reach vb: $(cat "$T/replay.log")"
# Records in flight at the kill: the workers stopped (SIGSTOP) until the
# rings hold a thousand; a stopped process dies of SIGKILL all the same.
workers=$(pgrep -P "$DPID" '^ns-worker-') || fail "no workers"
kill -STOP $workers
wait_for 20 eval '[ "$(queued)" -ge 1000 ]' || { kill -CONT $workers; fail "the rings do not fill: $(cat "$T/status")"; }
kill -9 "$DPID"
at_kill=$(( $(rx) - rx0 ))
kill -0 "$rpid" 2>/dev/null || fail "B ended before the kill"
gone() { for k in $kids; do kill -0 "$k" 2>/dev/null && return 1; done; return 0; }
wait_for 10 gone || fail "children outlived the supervisor: $kids"
wait "$DPID" 2>/dev/null
[ -e "/dev/shm$SHM" ] || fail "the segment is gone with the supervisor"
[ -s "$T/d.pid" ] || fail "no stale pidfile left by the killed supervisor"
# The dead daemon's segment: what the rings held when it died.
held=$(queued) || fail "netspectra status on the dead daemon's segment: $(cat "$T/status")"
at_death=$(lifetime)
# The rest of B arrives while nothing captures.
wait "$rpid" || fail "tcpreplay: $(cat "$T/replay.log")"
wait_for 20 rx_at_least "$rx0" "$nb" || fail "vb missed packets of B"

# ---- run 2: the same configuration, A again ---------------------------------
start "$T/run2.log"
grep -q "reattached the shared memory segment $SHM: counters continue" "$T/run2.log" ||
	fail "run 2 did not reattach: $(head -5 "$T/run2.log")"
grep -q "already running" "$T/run2.log" && fail "the stale pidfile was not taken over"
replay "$T/a.pcap" "$na"
wait_for 20 settled || fail "run 2: rings hold $(queued) records; status: $(cat "$T/status"); $PK '$(metric "$PK")'"
counted=$L
# Of the records the rings held at the kill (packets, and period markers),
# the packets were counted after the restart; nothing else was added.
extra=$((counted - na - at_death))
[ "$extra" -ge 0 ] && [ "$extra" -le "$held" ] ||
	fail "run 2: lifetime $counted = $at_death at the kill + A's $na + $extra, with $held records in the rings"
daemon_stop "$DPID" "$T/run2.log"
grep -q "task five: lifetime packets $counted," "$T/run2.log" ||
	fail "the stop's lifetime: $(grep 'lifetime packets' "$T/run2.log"), want $counted"
drops=$(sed -n 's/.*ring_full \([0-9]*\), table_full \([0-9]*\).*/\1 \2/p' "$T/run2.log")
[ "$drops" = "0 0" ] || fail "ring_full/table_full: $drops"

# ---- the oracle ---------------------------------------------------------------
cat "$T"/out/*/five/flows.jsonl >"$T/all.jsonl"
flows_py ns five "$T/all.jsonl" >"$T/ns.flows" || fail "bad flow output"
tshark_flows "$T/a.pcap" "$T/a.flows"
python3 - "$NS_SRCDIR/tests/integration" "$T/ns.flows" "$T/a.flows" \
    "$T/b.pcap.tsdump" "$counted" 512 >"$T/cut" <<'EOP' || fail "the flows counted of B are not what the rings held: see above"
"""counted of B = flows - 2 A; each flow's first packets in B; the cuts
within WINDOW frames of each other; the total as the counters say."""
import sys
sys.path.insert(0, sys.argv[1])
import flows
ns_path, a_path, b_dump, total, window = sys.argv[2:7]

def load(path):
    d = {}
    for line in open(path):
        c = line.rstrip("\n").split("\t")
        d[tuple(c[1:6])] = [int(c[6]), int(c[7])]
    return d

got, a = load(ns_path), load(a_path)
b = {}				# key: [(position, wire length)] in B's order
for pos, (_, key, wl, _, _) in enumerate(flows.read_dump(b_dump)):
    b.setdefault(tuple(str(x) for x in key), []).append((pos, wl))
bad, sum_k, last_in, first_out = [], 0, -1, len(sum(b.values(), []))
for key in set(got) | set(a) | set(b):
    g, base, pk = got.get(key, [0, 0]), a.get(key, [0, 0]), b.get(key, [])
    k, nbytes = g[0] - 2 * base[0], g[1] - 2 * base[1]
    if not 0 <= k <= len(pk):
        bad.append("%s: %d packets of B counted, B has %d" % (" ".join(key), k, len(pk)))
        continue
    if nbytes != sum(wl for _, wl in pk[:k]):
        bad.append("%s: %d bytes of B counted, its first %d packets have %d" %
                   (" ".join(key), nbytes, k, sum(wl for _, wl in pk[:k])))
    sum_k += k
    if k > 0:
        last_in = max(last_in, pk[k - 1][0])
    if k < len(pk):
        first_out = min(first_out, pk[k][0])
if sum_k + 2 * sum(v[0] for v in a.values()) != int(total):
    bad.append("the flows sum to %d packets, the counters to %s" %
               (sum_k + 2 * sum(v[0] for v in a.values()), total))
if last_in - first_out >= int(window):
    bad.append("B's flows are cut at frames %d to %d: more than a batch apart" %
               (first_out, last_in))
for line in bad[:20]:
    sys.stderr.write(line + "\n")
print(sum_k, first_out, last_in)
sys.exit(1 if bad else 0)
EOP
read -r kb cut_lo cut_hi <"$T/cut"
[ "$kb" -gt 0 ] && [ "$kb" -lt "$nb" ] || fail "$kb packets of B counted of $nb: the kill was not inside B"
echo "ok: kill -9 of the supervisor $at_kill packets into B ($held records in its rings, $extra packets of them counted after the restart): its children died with it; the restart reattached the segment; lifetime packets $na (A) + $kb (B, every flow's first packets, cut between frames $cut_lo and $cut_hi) + $na (A again) = $counted in netspectra status, /metrics, the stop's log and the jsonl flows over $(ls "$T/out" | wc -l) periods; nothing counted twice"
