#!/bin/sh
# kill_worker.sh -- exactly once under kill -9 (DESIGN §2.4): while
# `netspectra analyze` reads a trace of 4M packets five times over (20M packets), kill -9 a worker
# process picked at random (ns-worker-N), at random moments spread over the
# run, 12 times, each time after the supervisor has restarted the last one.
# The run still exits 0 and prints the very flows of an undisturbed run,
# period by period (1 s periods, so kills also land around period switches).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
kill_setup

: "${NS_KILL_PACKETS:=4000000}" "${NS_KILL_COPIES:=5}"
kill_trace 31 "$NS_KILL_COPIES"
flows_config "$T/kill.yaml" 1s 2 info
kill_reference "$T/kill.yaml"
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
