#!/bin/sh
# kill_sketch.sh -- sketch state is journaled like the exact counters: kill
# -9 of workers at random moments leaves the heavy hitters (by count and
# by size) and the super-spreaders of every period identical to an
# undisturbed run's, and the exact flows with them.  The sketch output
# also does not depend on the work a worker shares with an exact task (a
# heavy-hitter key taken from it; spread updates only for its new flows).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
kill_setup

: "${NS_KILL_PACKETS:=4000000}" "${NS_KILL_COPIES:=4}"
kill_trace 33 "$NS_KILL_COPIES" --scanners 4 --scan-fanout 1000
cat >"$T/kill.yaml" <<EOC
prometheus: {enabled: false}
aggregator:
  period: 2s
  num_workers: 2
  exact:
    tasks:
      - {name: five, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 400000}
  sketch:
    tasks:
      - {name: hh, skt_type: 0, flow_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol],
         width: 8192, depth: 2, count_threshold: 200, size_threshold: 100000, top_k: 500, seed: 7}
      - {name: hh_src, skt_type: 0, flow_fields: [SrcIP], width: 4096, depth: 3,
         count_threshold: 1000, size_threshold: 500000, top_k: 200, seed: 8}
      - {name: ss, skt_type: 1, flow_fields: [SrcIP], element_fields: [DstIP],
         width: 1024, depth: 3, m: 128, count_threshold: 100, top_k: 50, seed: 9}
EOC
"$NETSPECTRAD" -t -c "$T/kill.yaml" >/dev/null 2>"$T/cfg.err" || fail "config: $(cat "$T/cfg.err")"
NS_ANALYZE_OUTPUT="--flows jsonl --heavy-hitters jsonl"
export NS_ANALYZE_OUTPUT

kill_reference "$T/kill.yaml"
for type in count size spread; do
	n=$(grep -c "\"type\":\"$type\"" "$T/ref.sorted")
	[ "$n" -gt 0 ] || fail "reference run reported no $type entries"
done

# The same sketch tasks beside an exact task that shares nothing with them.
sed 's/key_fields: \[SrcIP, DstIP, SrcPort, DstPort, Protocol\]/key_fields: [DstPort]/' \
	"$T/kill.yaml" >"$T/alone.yaml"
grep -q 'key_fields: \[DstPort\]' "$T/alone.yaml" || fail "sed did not change the exact task"
analyze_flows "$T/alone.yaml" "$input" "$T/alone.jsonl" ||
	fail "run without a shared exact task: $(cat "$T/alone.jsonl.err")"
grep '"type"' "$T/ref.sorted" >"$T/ref.sketch"
grep '"type"' "$T/alone.jsonl" | sort >"$T/alone.sketch"
same_or_fail "$T/ref.sketch" "$T/alone.sketch" \
	"sketch output depends on the exact tasks beside it"
# And beside a full exact table: a packet it has no room for (-ENOSPC)
# updates the spread task as a new flow does.
sed 's/max_flows: 400000/max_flows: 3000/' "$T/kill.yaml" >"$T/full.yaml"
analyze_flows "$T/full.yaml" "$input" "$T/full.jsonl" ||
	fail "run with a full exact table: $(cat "$T/full.jsonl.err")"
grep -q 'table_full [1-9]' "$T/full.jsonl.err" ||
	fail "the exact table of max_flows 3000 never filled up"
grep '"type"' "$T/full.jsonl" | sort >"$T/full.sketch"
same_or_fail "$T/ref.sketch" "$T/full.sketch" \
	"sketch output changes when the exact table is full"

kill_run "$T/kill.yaml" "$input" "$T/kill.jsonl" 10 $(( ref_ms / 20 + 1 )) \
	ns-worker-0 ns-worker-1
[ "$KILLED" -ge 8 ] || fail "only $KILLED kills before analyze ended: raise NS_KILL_PACKETS"
sort "$T/kill.jsonl" >"$T/kill.sorted"
same_or_fail "$T/ref.sorted" "$T/kill.sorted" \
	"output after $KILLED worker kills differs from the reference run"
echo "ok: $KILLED worker kills ($(kill_tally "$T/kill.jsonl.kills")): $(grep -c '"type":"count"' "$T/ref.sorted") count, $(grep -c '"type":"size"' "$T/ref.sorted") size and $(grep -c '"type":"spread"' "$T/ref.sorted") spread entries and $(grep -vc '"type"' "$T/ref.sorted") flows identical to the undisturbed run"

# Kills beside the full table too: there the flows it has no room for
# have slots that count for themselves, beside slots linked to entries.
kill_run "$T/full.yaml" "$input" "$T/kfull.jsonl" 6 $(( ref_ms / 20 + 1 )) \
	ns-worker-0 ns-worker-1
[ "$KILLED" -ge 4 ] || fail "only $KILLED kills beside the full table: raise NS_KILL_PACKETS"
sort "$T/full.jsonl" >"$T/full.sorted"
sort "$T/kfull.jsonl" >"$T/kfull.sorted"
same_or_fail "$T/full.sorted" "$T/kfull.sorted" \
	"output beside a full table after $KILLED worker kills differs from the undisturbed run"
echo "ok: $KILLED worker kills beside a full table ($(kill_tally "$T/kfull.jsonl.kills")): output identical"
