#!/bin/sh
# kill_export.sh -- the exporter writes every period exactly once: kill -9
# of ns-export-flows at random moments, while analyze writes flows into a
# regular file, leaves the file identical (as a set of lines, each once) to
# an undisturbed run's.  A restarted exporter cuts off what its
# predecessor wrote past the last complete period and goes on from there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
kill_setup

: "${NS_KILL_PACKETS:=2000000}"
# 60 periods of 1 s, so the exporter is often at work when it is killed.
kill_trace 34 1 --duration 60
flows_config "$T/kill.yaml" 1s 2 info
kill_reference "$T/kill.yaml"
[ "$nref" -gt 10000 ] || fail "reference run: only $nref flow records"

kill_run "$T/kill.yaml" "$input" "$T/kill.jsonl" 8 $(( ref_ms / 10 + 1 )) \
	ns-export-flows
[ "$KILLED" -ge 6 ] || fail "only $KILLED exporter kills before analyze ended"
sort "$T/kill.jsonl" >"$T/kill.sorted"
same_or_fail "$T/ref.sorted" "$T/kill.sorted" \
	"flows after $KILLED exporter kills differ from the reference run"
cut=$(grep -c "cut the output back" "$T/kill.jsonl.err")
echo "ok: $KILLED exporter kills ($cut outputs cut back to a period's end): $(wc -l <"$T/ref.sorted") flow records, each exactly once, as in the undisturbed run"
