#!/bin/sh
# kill_worker.sh -- exactly once under kill -9 (DESIGN §2.4): while
# `netspectra analyze` reads a trace of 4M packets five times over (20M packets), kill -9 a worker
# process picked at random (ns-worker-N), at random moments spread over the
# run, 12 times, each time after the supervisor has restarted the last one.
# The run still exits 0 and prints the very flows of an undisturbed run,
# period by period (1 s periods, so kills also land around period switches).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
need_flows
need pgrep od
[ "${NS_FLOWS_FAKE:-0}" = 1 ] && skip "no processes to kill in the stand-in"
ns_tmpdir

: "${NS_KILL_PACKETS:=4000000}" "${NS_KILL_COPIES:=5}"
"$PCAPGEN" -o "$T/big.pcap" -n "$NS_KILL_PACKETS" -f 100000 -s 31 --snaplen 96 \
	2>/dev/null || fail "pcapgen"
# One input of NS_KILL_COPIES copies read in turn: a long run, little disk.
input=$(for i in $(seq "$NS_KILL_COPIES"); do printf '%s ' "$T/big.pcap"; done)
flows_config "$T/kill.yaml" 1s 2 info

t0=$(now_ms)
analyze_flows "$T/kill.yaml" "$input" "$T/ref.jsonl" ||
	fail "reference run: $(cat "$T/ref.jsonl.err")"
ref_ms=$(( $(now_ms) - t0 ))
grep -q "restarting" "$T/ref.jsonl.err" && fail "reference run restarted a child: $(cat "$T/ref.jsonl.err")"
sort "$T/ref.jsonl" >"$T/ref.sorted"
nref=$(wc -l <"$T/ref.sorted")
[ "$nref" -gt 100000 ] || fail "reference run: only $nref flow records"

# 12 kills, paused at random for up to 1/24 of the undisturbed run each.
t0=$(now_ms)
kill_run "$T/kill.yaml" "$input" "$T/kill.jsonl" 12 $(( ref_ms / 24 + 1 )) \
	ns-worker-0 ns-worker-1
kill_ms=$(( $(now_ms) - t0 ))
[ "$KILLED" -ge 10 ] ||
	fail "only $KILLED kills before analyze ended ($kill_ms ms): raise NS_KILL_PACKETS or NS_KILL_COPIES"
sort "$T/kill.jsonl" >"$T/kill.sorted"
same_or_fail "$T/ref.sorted" "$T/kill.sorted" \
	"flows after $KILLED worker kills differ from the reference run (< reference, > killed)"
rb=$(grep -c "journal: rolled back a batch" "$T/kill.jsonl.err")
echo "ok: $KILLED worker kills ($(kill_tally "$T/kill.jsonl.kills"); $rb restarted workers rolled back a batch): $nref flow records identical to the undisturbed run ($ref_ms ms undisturbed, $kill_ms ms with kills)"
