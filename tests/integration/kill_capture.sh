#!/bin/sh
# kill_capture.sh -- the file input resumes where it stopped: while
# `netspectra analyze` reads a trace of 4M packets five times over (20M packets), kill -9 its capture
# process (ns-capture-0) at random moments spread over the run, 6 times,
# each time after the supervisor has restarted it.  The run still exits 0
# and prints the very flows of an undisturbed run, period by period: no
# packet lost, none counted twice, no period marker lost or doubled.  A
# second run kills capture and workers alike, picked at random, 12 times.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
kill_setup

: "${NS_KILL_PACKETS:=4000000}" "${NS_KILL_COPIES:=5}"
kill_trace 32 "$NS_KILL_COPIES"
flows_config "$T/kill.yaml" 1s 2 info
kill_reference "$T/kill.yaml"
[ "$nref" -gt 100000 ] || fail "reference run: only $nref flow records"

# KILLS MIN VICTIMS...: the capture's restart backoff doubles from 10 ms on,
# so it gets fewer kills than the workers do together.
for spec in "6 5 ns-capture-0" "12 10 ns-capture-0 ns-worker-0 ns-worker-1"; do
	set -- $spec
	kills=$1 min=$2; shift 2
	t0=$(now_ms)
	kill_run "$T/kill.yaml" "$input" "$T/kill.jsonl" "$kills" \
		$(( ref_ms / kills / 2 + 1 )) "$@"
	kill_ms=$(( $(now_ms) - t0 ))
	[ "$KILLED" -ge "$min" ] ||
		fail "only $KILLED kills of $* before analyze ended ($kill_ms ms): raise NS_KILL_PACKETS or NS_KILL_COPIES"
	sort "$T/kill.jsonl" >"$T/kill.sorted"
	same_or_fail "$T/ref.sorted" "$T/kill.sorted" \
		"flows after $KILLED kills of $* differ from the reference run (< reference, > killed)"
	rb=$(grep -c "journal: rolled back a batch" "$T/kill.jsonl.err")
	rs=$(grep -c "resuming at frame" "$T/kill.jsonl.err")
	echo "ok: $KILLED kills ($(kill_tally "$T/kill.jsonl.kills"); $rs captures resumed mid-file, $rb workers rolled back a batch): $nref flow records identical to the undisturbed run ($ref_ms ms undisturbed, $kill_ms ms with kills)"
done
