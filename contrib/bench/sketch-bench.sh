#!/bin/bash
# sketch-bench.sh -- accuracy and cost of the sketch tasks, measured through
# the engine itself: `netspectra analyze` runs exact and sketch tasks over
# the same pcapgen trace, and the exact flows are the truth the heavy
# hitters (by packets, by bytes) and the super-spreaders (SrcIP -> distinct
# DstIP) are scored against: precision, recall, F1, average relative error.
# Then the cost: the 5M-packet benchmark trace analyzed exact-only and with
# one heavy-hitter and one spread task added, over BENCH_RUNS rounds.
# Go2NetSpectra's heavy-hitter sketch (re-implemented in sketch-accuracy.c)
# is scored on the same trace for comparison.
#
# Environment: NS_SRCDIR, NS_BUILDDIR (as make bench sets them), BENCH_RUNS
# [7], BENCH_WORKERS (worker counts tried for each side of the cost) [1 2
# 3], BENCH_PAIRS (a second estimate: that many exact/sketch pairs at the
# last worker count, order alternating; the median of the pairs' ratios
# and the ratio of the minima) [0], BENCH_KEEP=1 keeps the scratch
# directory.
set -eu
src=${NS_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${NS_BUILDDIR:-$src/build}
ns=$bld/netspectra pcapgen=$bld/contrib/pcapgen runs=${BENCH_RUNS:-7}
[ "$runs" -ge 1 ] || { echo "sketch-bench: BENCH_RUNS must be at least 1" >&2; exit 2; }
T=$(mktemp -d "${TMPDIR:-/tmp}/ns-sketch-bench.XXXXXX")
[ "${BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$T"' EXIT
say() { echo "sketch-bench: $*" >&2; }

# ---- accuracy: 1M packets, 100k flows, Zipf 1.1, 5 scanners
"$pcapgen" -o "$T/acc.pcap" -n 1000000 -f 100000 --zipf 1.1 --scanners 5 \
	--scan-fanout 2000 -s 11 2>"$T/acc.gen"
read -r pk by < <(sed -n 's/.*packets \([0-9]*\), flows [0-9]*, bytes \([0-9]*\).*/\1 \2/p' "$T/acc.gen")
cth=$(( (pk * 5 + 9999) / 10000 )) sth=$(( (by * 5 + 9999) / 10000 ))
say "trace: $pk packets, $by bytes; thresholds 0.05%: $cth packets, $sth bytes; spread 500"
# Two workers; width chosen so that each task stays within 1 MiB (the
# summary reports the memory actually used).  One Count-Min row behind
# the candidates: for 5-tuple keys a second row buys no accuracy at this
# memory and costs a quarter of the heavy-hitter time (doc/ARCHITECTURE.md).
cat >"$T/acc.yaml" <<EOC
prometheus: {enabled: false}
aggregator:
  period: 1h
  num_workers: 2
  exact:
    tasks:
      - {name: five, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 200000}
  sketch:
    tasks:
      - {name: hh, skt_type: 0, flow_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol],
         width: 32000, depth: 1, count_threshold: $cth, size_threshold: $sth, top_k: 1000, seed: 1}
      - {name: ss, skt_type: 1, flow_fields: [SrcIP], element_fields: [DstIP],
         width: 1400, depth: 3, m: 128, count_threshold: 500, top_k: 1000, seed: 1}
EOC
t0=$(date +%s.%N)
"$ns" analyze -c "$T/acc.yaml" --flows jsonl --heavy-hitters jsonl --summary json \
	"$T/acc.pcap" >"$T/acc.jsonl" 2>"$T/acc.sum"
t1=$(date +%s.%N)
python3 - "$T/acc.jsonl" "$T/acc.sum" "$cth" "$sth" 500 "$t0" "$t1" "$pk" <<'EOP'
import json, sys
path, sumpath, cth, sth, spth, t0, t1, pk = sys.argv[1:]
cth, sth, spth, pk = int(cth), int(sth), int(spth), int(pk)
flows, rep = {}, {"count": {}, "size": {}, "spread": {}}
dst = {}
for line in open(path):
    o = json.loads(line)
    if "type" in o:
        k = tuple(sorted(o["flow"].items()))
        rep[o["type"]][k] = o["value"]
        continue
    k = tuple(sorted((f, o[f]) for f in ("SrcIP", "DstIP", "SrcPort", "DstPort", "Protocol")))
    p, b = flows.get(k, (0, 0))
    flows[k] = (p + o["packets"], b + o["bytes"])
    dst.setdefault(o["SrcIP"], set()).add(o["DstIP"])
truth = {
    "count": {k: v[0] for k, v in flows.items() if v[0] >= cth},
    "size": {k: v[1] for k, v in flows.items() if v[1] >= sth},
    "spread": {(("SrcIP", s),): len(d) for s, d in dst.items() if len(d) >= spth},
}
summ = json.loads([l for l in open(sumpath) if l.startswith("{")][-1])
mem = {s["name"]: s["memory_bytes"] for s in summ["sketches"]}
print("%-8s %6s %6s %6s %9s %9s %7s %9s %12s" % ("type", "truth", "found", "hits",
      "precision", "recall", "F1", "ARE", "memory"))
for t, task in (("count", "hh"), ("size", "hh"), ("spread", "ss")):
    tr, rp = truth[t], rep[t]
    hits = [k for k in rp if k in tr]
    prec = len(hits) / len(rp) if rp else 0.0
    rec = len(hits) / len(tr) if tr else 1.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    are = sum(abs(rp[k] - tr[k]) / tr[k] for k in hits) / len(hits) if hits else 0.0
    print("%-8s %6d %6d %6d %9.4f %9.4f %7.4f %8.3f%% %12d" % (t, len(tr), len(rp),
          len(hits), prec, rec, f1, 100 * are, mem[task]))
    ok = f1 >= (0.95 if t == "spread" else 0.98) and (t == "spread" or are <= 0.02)
    print("%s  %s: F1 %.4f (target >= %s)%s" % ("PASS" if ok else "FAIL", t, f1,
          "0.95" if t == "spread" else "0.98, ARE <= 2%",
          "" if t == "spread" else ", ARE %.3f%%" % (100 * are)))
    big = mem[task] <= 1 << 20
    print("%s  %s memory %d bytes (target <= 1 MiB)" % ("PASS" if big else "FAIL", task, mem[task]))
el = float(t1) - float(t0)
print("analyze with exact + 2 sketch tasks: %.2f s, %.2f Mpps" % (el, pk / el / 1e6))
EOP
echo
echo "# Go2NetSpectra's heavy-hitter sketch (count_min.go, 0.625 MB) on the same trace"
"$bld/contrib/bench/sketch-accuracy" -w 2 -M 1048576 -f 0.0005 -t 500 "$T/acc.pcap" 2>&1 |
	sed -n '/^Go2NetSpectra/,$p' | head -4

# ---- cost: 5M packets / 500k flows, exact only vs exact + hh + spread
"$pcapgen" -o "$T/cost.pcap" -n 5000000 -f 500000 --snaplen 96 \
	--proto-mix tcp=80,udp=17,icmp=2,sctp=1 --ipv6 0.2 2>/dev/null
cat "$T/cost.pcap" >/dev/null
base='prometheus: {enabled: false}
aggregator:
  period: 60s
  num_workers: 1
  exact:
    tasks:
      - {name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 1000000}'
sk='  sketch:
    tasks:
      - {name: hh, skt_type: 0, flow_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol],
         width: 32000, depth: 1, count_threshold: 2500, size_threshold: 1300000, top_k: 1000}
      - {name: ss, skt_type: 1, flow_fields: [SrcIP], element_fields: [DstIP],
         width: 1400, depth: 3, m: 128, count_threshold: 500, top_k: 100}'
# Worker counts tried for each side: on 2 cores a third worker evens out
# the shards (flows are not split, so a heavy flow makes its shard heavy).
workers=${BENCH_WORKERS:-1 2 3}
for w in $workers; do
	printf '%s\n' "${base/num_workers: 1/num_workers: $w}" >"$T/exact$w.yaml"
	printf '%s\n%s\n' "${base/num_workers: 1/num_workers: $w}" "$sk" >"$T/sketch$w.yaml"
done
# One timed run of config $1, in microseconds.
run_us() {
	s=$(date +%s%N)
	"$ns" analyze -c "$1" --summary json "$T/cost.pcap" >/dev/null 2>&1
	echo $(( ($(date +%s%N) - s) / 1000 ))
}
# Rounds: in each, every configuration runs twice (keeping the better:
# a run can lose a slice to the scheduler), and the round's ratio is its
# best sketch time over its best exact-only time, each side at its best
# worker count.  These machines drift between fast and slow phases of
# tens of seconds (the same run varies by +-15%), so a ratio is only
# taken between runs seconds apart, and the median of the rounds is the
# figure: one round caught by a change of phase moves it little.  Each
# configuration's best time over all rounds is printed too.
declare -A best
ratios=()
# keep_min KEY T: best[KEY] becomes T if T is smaller (or the first).
keep_min() {
	if [ -z "${best[$1]:-}" ] || [ "$2" -lt "${best[$1]}" ]; then
		best[$1]=$2
	fi
}
for _ in $(seq "$runs"); do
	unset 'best[round_exact]' 'best[round_sketch]'
	for w in $workers; do
		for c in exact sketch exact sketch; do
			t=$(run_us "$T/$c$w.yaml")
			keep_min "$c$w" "$t"
			keep_min "round_$c" "$t"
		done
	done
	ratios+=("$(awk -v s="${best[round_sketch]}" -v e="${best[round_exact]}" \
	    'BEGIN { printf "%.4f", s / e }')")
done
echo
for w in $workers; do
	echo "workers $w: exact only $(( ${best[exact$w]} / 1000 )) ms, exact + hh + ss $(( ${best[sketch$w]} / 1000 )) ms (best of $((2 * runs)))"
done
echo
echo "# cost on 5000000 packets / 500k flows, $runs rounds"
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ r[NR] = $1 } END {
	printf "extra time per round:"
	for (i = 1; i <= NR; i++)
		printf " %.1f%%", (r[i] - 1) * 100
	printf "\n"
	m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
	printf "%s  extra time %.1f%% (median of the rounds; target <= 25%%)\n",
	    m <= 1.25 ? "PASS" : "FAIL", (m - 1) * 100
}'

# ---- a second estimate of the cost: interleaved pairs
pairs=${BENCH_PAIRS:-0}
[ "$pairs" -gt 0 ] || exit 0
w=${workers##* }
for i in $(seq "$pairs"); do
	if [ $((i % 2)) = 0 ]; then
		e=$(run_us "$T/exact$w.yaml") s=$(run_us "$T/sketch$w.yaml")
	else
		s=$(run_us "$T/sketch$w.yaml") e=$(run_us "$T/exact$w.yaml")
	fi
	echo "$e $s"
done | python3 -c '
import statistics, sys
p = [tuple(map(int, l.split())) for l in sys.stdin]
r = [s / e for e, s in p]
print("%d pairs at %s workers: median pair ratio %+.1f%%, ratio of the "
      "minima %+.1f%% (exact %d ms, sketch %d ms)" % (len(p), sys.argv[1],
      100 * (statistics.median(r) - 1),
      100 * (min(s for _, s in p) / min(e for e, _ in p) - 1),
      min(e for e, _ in p) / 1000, min(s for _, s in p) / 1000))
' "$w"
