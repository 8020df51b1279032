#!/bin/sh
# writers.sh -- the file writers (text, jsonl, csv) under Go2NetSpectra's
# layout <root_path>/<timestamp>/<task>/: their jsonl equals `analyze
# --flows jsonl` for the same input, summary.json adds up, every period's
# snapshot is marked final, no temporary file is left behind, and a writer
# that cannot write fails the run with a message.
. "$(dirname "$0")/lib.sh"
ns_tmpdir

"$PCAPGEN" -o "$T/t.pcap" -n 50000 -f 3000 -s 5 --ipv6 0.3 --vlan 0.1 \
	--duration 3 2>/dev/null || fail "pcapgen"
cat >"$T/w.yaml" <<EOC
aggregator:
  period: 1s
  num_workers: 2
  exact:
    writers:
      - {type: jsonl, snapshot_interval: 1s, jsonl: {root_path: $T/out/j}}
      - {type: csv, snapshot_interval: 1s, csv: {root_path: $T/out/c}}
      - {type: text, snapshot_interval: 1s, text: {root_path: $T/out/t}}
    tasks:
      - name: five
        key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol]
        max_flows: 100000
      - name: src24
        key_fields: [SrcNet/24, Protocol]
        max_flows: 10000
  sketch:
    writers:
      - {type: jsonl, snapshot_interval: 1s, jsonl: {root_path: $T/out/sj}}
      - {type: csv, snapshot_interval: 1s, csv: {root_path: $T/out/sc}}
    tasks:
      - {name: hh, skt_type: 0, flow_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol],
         width: 4096, depth: 2, count_threshold: 20, size_threshold: 20000, top_k: 50}
      - {name: ss, skt_type: 1, flow_fields: [SrcIP], element_fields: [DstIP],
         width: 512, depth: 3, m: 64, count_threshold: 5, top_k: 20}
EOC
"$NETSPECTRA" analyze -c "$T/w.yaml" --flows jsonl "$T/t.pcap" >"$T/flows.jsonl" 2>"$T/err" ||
	fail "analyze: $(cat "$T/err")"
"$NETSPECTRA" analyze -c "$T/w.yaml" --heavy-hitters jsonl "$T/t.pcap" >"$T/hh.jsonl" 2>"$T/err" ||
	fail "analyze --heavy-hitters: $(cat "$T/err")"
periods=$(ls "$T/out/j" | wc -l)
[ "$periods" -ge 3 ] || fail "expected at least 3 period directories, got $periods"
cat "$T"/out/j/*/*/flows.jsonl | sort >"$T/files.sorted"
sort "$T/flows.jsonl" >"$T/stdout.sorted"
[ -s "$T/stdout.sorted" ] || fail "no flows on stdout"
cmp -s "$T/files.sorted" "$T/stdout.sorted" || fail "jsonl files differ from analyze --flows jsonl"
for kind in c t; do
	n=$(cat "$T"/out/$kind/*/*/flows.* | grep -vc '^task,')
	[ "$n" = "$(wc -l <"$T/stdout.sorted")" ] || fail "$kind writer: $n flows, want $(wc -l <"$T/stdout.sorted")"
done
# summary.json: flows and packets add up to the task's flows; all final.
python3 - "$T" <<'EOP' || fail "summary.json check"
import json, glob, sys
t = sys.argv[1]
for task in ("five", "src24"):
    pk = fl = 0
    for path in glob.glob(f"{t}/out/j/*/{task}/summary.json"):
        s = json.load(open(path))
        assert s["task"] == task and s["final"] is True, path
        pk += s["packets"]; fl += s["flows"]
    lines = [json.loads(l) for l in open(f"{t}/flows.jsonl") if f'"task":"{task}"' in l]
    assert fl == len(lines), (task, fl, len(lines))
    assert pk == sum(l["packets"] for l in lines), task
EOP
# Sketch writers: the jsonl files hold analyze --heavy-hitters' lines.
cat "$T"/out/sj/*/*/count.jsonl "$T"/out/sj/*/*/size.jsonl "$T"/out/sj/*/*/spread.jsonl |
	sort >"$T/skfiles.sorted"
sort "$T/hh.jsonl" >"$T/hh.sorted"
[ -s "$T/hh.sorted" ] || fail "no heavy hitters reported"
cmp -s "$T/skfiles.sorted" "$T/hh.sorted" || fail "sketch jsonl files differ from analyze --heavy-hitters jsonl"
n=$(cat "$T"/out/sc/*/*/*.csv | grep -vc '^task,')
[ "$n" = "$(wc -l <"$T/hh.sorted")" ] || fail "sketch csv writer: $n lines, want $(wc -l <"$T/hh.sorted")"
grep -q '"final":true' "$T"/out/sj/*/hh/summary.json || fail "sketch summary.json not final"
[ -z "$(find "$T/out" -name '.*.tmp')" ] || fail "temporary files left behind"
echo "ok: $periods periods, $(wc -l <"$T/stdout.sorted") flow records and $(wc -l <"$T/hh.sorted") sketch entries: text, jsonl and csv writers agree with analyze"

# An unwritable root: the run fails and says which directory.
mkdir "$T/ro" && touch "$T/ro/out"
sed "s#$T/out/j#$T/ro/out/j#" "$T/w.yaml" >"$T/bad.yaml"
if "$NETSPECTRA" analyze -c "$T/bad.yaml" "$T/t.pcap" >/dev/null 2>"$T/err"; then
	fail "analyze succeeded with an unwritable writer root"
fi
grep -q "ro/out/j" "$T/err" || fail "message: $(cat "$T/err")"
echo "ok: an unwritable writer fails the run: $(grep -m1 'ro/out/j' "$T/err")"
