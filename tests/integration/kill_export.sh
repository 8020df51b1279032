#!/bin/sh
# kill_export.sh -- the exporter writes every period exactly once: kill -9
# of ns-export-flows at random moments, while analyze writes flows into a
# regular file, leaves the file identical (as a set of lines, each once) to
# an undisturbed run's.  A restarted exporter cuts off what its
# predecessor wrote past the last complete period and goes on from there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
need_flows
need pgrep od
[ "${NS_FLOWS_FAKE:-0}" = 1 ] && skip "no processes to kill in the stand-in"
ns_tmpdir

: "${NS_KILL_PACKETS:=2000000}"
# 60 periods of 1 s, so the exporter is often at work when it is killed.
"$PCAPGEN" -o "$T/big.pcap" -n "$NS_KILL_PACKETS" -f 100000 -s 34 --snaplen 96 \
	--duration 60 2>/dev/null || fail "pcapgen"

flows_config "$T/kill.yaml" 1s 2 info

t0=$(now_ms)
analyze_flows "$T/kill.yaml" "$T/big.pcap" "$T/ref.jsonl" ||
	fail "reference run: $(cat "$T/ref.jsonl.err")"
ref_ms=$(( $(now_ms) - t0 ))
sort "$T/ref.jsonl" >"$T/ref.sorted"
[ "$(wc -l <"$T/ref.sorted")" -gt 10000 ] || fail "reference run: too few flows"

kill_run "$T/kill.yaml" "$T/big.pcap" "$T/kill.jsonl" 8 $(( ref_ms / 10 + 1 )) \
	ns-export-flows
[ "$KILLED" -ge 6 ] || fail "only $KILLED exporter kills before analyze ended"
sort "$T/kill.jsonl" >"$T/kill.sorted"
same_or_fail "$T/ref.sorted" "$T/kill.sorted" \
	"flows after $KILLED exporter kills differ from the reference run"
cut=$(grep -c "cut the output back" "$T/kill.jsonl.err")
echo "ok: $KILLED exporter kills ($cut outputs cut back to a period's end): $(wc -l <"$T/ref.sorted") flow records, each exactly once, as in the undisturbed run"
