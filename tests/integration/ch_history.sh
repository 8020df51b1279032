#!/bin/sh
# ch_history.sh -- ClickHouse history is exact across periods.  In a pair
# of network namespaces joined by veth, tcpreplay sends a pcapgen trace
# (whole frames of at most 1514 bytes) at 6 kpps, about 5 s, into the
# interface netspectrad captures on, with 1 s periods, a ClickHouse writer
# with 200 ms snapshots on both aggregators (exact and sketch), and jsonl
# file writers beside them; a scratch clickhouse-server listens in the same
# namespace.  After SIGTERM (which writes the last period's final state)
# and an empty spool, a daemon serving only the API answers:
#
#   /api/v1/aggregate per task = tshark's packets and bytes of the whole
#     trace (all periods), flowCount = tshark's distinct keys;
#   /api/v1/flows/trace = tshark's packets and bytes for 60 flows;
#   /api/v1/heavy-hitters (count, size, spread) = the jsonl writer's heavy
#     hitters of the same run, summed per key over the periods' finals;
#
# while Go2NetSpectra's all-time argMax aggregate (its own SQL, run on the
# same table) does not equal tshark's totals: the test can tell.  The table
# holds final rows (Final = 1) of at least 3 periods, live ones (Final = 0)
# of several snapshots, and every row names the writer's node.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
. "$(dirname "$0")/ch_lib.sh"
need_ch
need tcpreplay tshark
ns_tmpdir

ns_bare_pair
ns_idle_if "$NSB"
ch_setup "$NSB"
ch_start
ch_query "CREATE DATABASE IF NOT EXISTS nsdb"
CH_DB=nsdb	# the writers' database, and ch_query's from here on
PP=$(ch_free_port 19600)	# the Prometheus exporter
AP=$(ch_free_port 19700)	# the query API
API_URL=http://127.0.0.1:$AP
ns_at_exit "rm -f /dev/shm/netspectra-chh-$$-* "

"$PCAPGEN" -o "$T/trace.pcap" -n 30000 -f 2000 -s 141 --ipv6 0.3 --vlan 0.1 \
	--proto-mix tcp=60,udp=25,icmp=10,sctp=5 2>/dev/null || fail "pcapgen"

# cfg NAME IFACE: the daemon's config, into $T/NAME.yaml.  Both runs share
# state_dir, so its spool (state_dir/spool) too.
cfg() {
	_ch="clickhouse: {host: 127.0.0.1, port: $CH_HTTP, database: $CH_DB, username: $CH_USER, password: \"$CH_PASSWORD\", node: hist-a, batch_rows: 5000, timeout: 5s}"
	cat >"$T/$1.yaml" <<EOC
daemon: {pidfile: $T/$1.pid, shm_name: /netspectra-chh-$$-$1, state_dir: $T/state, log_level: info}
inputs:
  - {type: pcap, interface: $2, snaplen: 256, promisc: true, immediate: true, buffer_size: 16MiB}
prometheus: {enabled: true, listen: 127.0.0.1:$PP, top_k: 0}
api: {enabled: true, http_listen_addr: 127.0.0.1:$AP}
aggregator:
  period: 1s
  num_workers: 2
  exact:
    writers:
      - {type: jsonl, snapshot_interval: 1s, jsonl: {root_path: $T/out-$1}}
      - {type: clickhouse, snapshot_interval: 200ms, $_ch}
    tasks:
      - {name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 100000}
      - {name: per_src, key_fields: [SrcIP], max_flows: 100000}
  sketch:
    writers:
      - {type: jsonl, snapshot_interval: 1s, jsonl: {root_path: $T/sk-$1}}
      - {type: clickhouse, snapshot_interval: 200ms, $_ch}
    tasks:
      - {name: hh, skt_type: 0, flow_fields: [SrcIP, DstIP, Protocol],
         width: 4096, depth: 2, count_threshold: 50, size_threshold: 50000, top_k: 100}
      - {name: ss, skt_type: 1, flow_fields: [SrcIP], element_fields: [DstIP],
         width: 512, depth: 3, m: 64, count_threshold: 3, top_k: 50}
EOC
	check_config "$T/$1.yaml"
}
cfg cap vb
cfg api idle0

# ---- the run -----------------------------------------------------------------
daemon_start "$NSB" "$T/cap.yaml" "$T/cap.log" "capturing on vb"
cap_pid=$DPID
wait_for 20 api_up || fail "the API does not answer GET / on $API_URL: $(cat "$T/api-up.json" 2>/dev/null; tail -5 "$T/cap.log")"
rx0=$(rx)
sent=$(tshark -r "$T/trace.pcap" -T fields -e frame.number 2>/dev/null | wc -l)
ip netns exec "$NSA" tcpreplay -q -i va --pps 6000 "$T/trace.pcap" >"$T/replay.log" 2>&1 ||
	fail "tcpreplay: $(cat "$T/replay.log")"
wait_for 10 rx_at_least "$rx0" "$sent" ||
	fail "vb received fewer than $sent packets"
# The writers' counters, while the daemon runs: rows went out, none lost.
in_ch curl -sS -m 10 "http://127.0.0.1:$PP/metrics" >"$T/metrics" || fail "/metrics"
for w in exact.1 sketch.1; do
	r=$(sed -n "s/^netspectra_export_rows_total{writer=\"$w\"} \([0-9]*\)$/\1/p" "$T/metrics")
	d=$(sed -n "s/^netspectra_export_dropped_rows_total{writer=\"$w\"} \([0-9]*\)$/\1/p" "$T/metrics")
	[ -n "$r" ] && [ "$r" -gt 0 ] && [ "$d" = 0 ] ||
		fail "writer $w: netspectra_export_rows_total '$r', dropped '$d': $(grep 'netspectra_export' "$T/metrics")"
done
daemon_stop "$cap_pid" "$T/cap.log"
drops=$(sed -n 's/.*kernel drops \([0-9]*\).*/\1/p' "$T/cap.log")
ring=$(sed -n 's/.*ring_full \([0-9]*\), table_full \([0-9]*\).*/\1 \2/p' "$T/cap.log")
[ "$drops" = 0 ] && [ "$ring" = "0 0" ] || fail "drops: kernel '$drops', ring_full/table_full '$ring'"

# The API, from a daemon capturing on an idle interface; the spool (shared
# state_dir) is empty once all is in ClickHouse.
daemon_start "$NSB" "$T/api.yaml" "$T/api.log" "capturing on idle0"
wait_for 20 api_up || fail "the API does not answer GET /: $(tail -5 "$T/api.log")"
wait_for 30 spool_empty "$T/state/spool" ||
	fail "the spool still holds $(spool_files "$T/state/spool") batches 30 s after the stop"
echo "ok: $sent packets replayed at 6 kpps with 1 s periods and 200 ms ClickHouse snapshots; no drop; the spool drained"

# ---- the oracle ----------------------------------------------------------------
tshark_flows "$T/trace.pcap" "$T/tshark.flows"
read -r t_pk t_by t_fl <<EOF
$(awk -F'\t' '{ p += $7; b += $8; n++ } END { printf "%d %d %d\n", p, b, n }' "$T/tshark.flows")
EOF
t_src=$(cut -f2 "$T/tshark.flows" | sort -u | wc -l)
[ "$t_pk" = "$sent" ] || fail "tshark: $t_pk IP packets of $sent frames"

# ---- what ClickHouse holds -------------------------------------------------------
ch_query "SELECT uniqExact(PeriodStart) FROM flow_metrics WHERE Final = 1 AND TaskName = 'per_five_tuple'"
nfinal=$CH_R
[ "$nfinal" -ge 3 ] || fail "final rows of $nfinal periods, want at least 3"
ch_query "SELECT uniqExact(Version) FROM flow_metrics WHERE Final = 0 AND TaskName = 'per_five_tuple'"
[ "$CH_R" -ge 5 ] || fail "live rows (Final = 0) of $CH_R snapshots in a 5 s run with 200 ms snapshots"
nlive=$CH_R
ch_query "SELECT groupUniqArray(Node) FROM flow_metrics"
[ "$CH_R" = "['hist-a']" ] || fail "flow_metrics: Node values $CH_R, want ['hist-a']"
ch_query "SELECT groupUniqArray(Node) FROM heavy_hitters"
[ "$CH_R" = "['hist-a']" ] || fail "heavy_hitters: Node values $CH_R, want ['hist-a']"
# per_src keys by SrcIP only: the other key columns are NULL.
ch_query "SELECT count() FROM flow_metrics WHERE TaskName = 'per_src' AND (DstIP IS NOT NULL OR SrcPort IS NOT NULL OR DstPort IS NOT NULL OR Protocol IS NOT NULL OR SrcIP IS NULL)"
[ "$CH_R" = 0 ] || fail "$CH_R per_src rows with key columns the task does not have (or without SrcIP)"
echo "ok: flow_metrics holds final rows of $nfinal periods and live rows of $nlive snapshots, node hist-a, in database $CH_DB"
# The table by itself, read as the contract says (a key's value in a
# generation -- a period of a daemon's run -- is the largest of its rows;
# history sums them): tshark's totals.  This tells a writer's fault from
# the API's.
sql_totals() {	# TASK KEY-COLUMNS
	ch_query "SELECT sum(p), sum(b), uniqExact($2) FROM (SELECT $2, max(PacketCount) AS p, max(ByteCount) AS b FROM flow_metrics WHERE TaskName = '$1' GROUP BY Node, PeriodStart, Generation, $2)"
	echo "$CH_R" | tr '\t' ' '
}
got=$(sql_totals per_five_tuple "SrcIP, DstIP, SrcPort, DstPort, Protocol")
[ "$got" = "$t_pk $t_by $t_fl" ] ||
	fail "flow_metrics, per_five_tuple, max per period summed: packets bytes flows $got, tshark $t_pk $t_by $t_fl"
got=$(sql_totals per_src SrcIP)
[ "$got" = "$t_pk $t_by $t_src" ] ||
	fail "flow_metrics, per_src, max per period summed: packets bytes flows $got, tshark $t_pk $t_by $t_src"
# And only the finals: the same.
ch_query "SELECT sum(PacketCount), sum(ByteCount) FROM flow_metrics WHERE TaskName = 'per_five_tuple' AND Final = 1"
[ "$(echo "$CH_R" | tr '\t' ' ')" = "$t_pk $t_by" ] ||
	fail "flow_metrics, per_five_tuple, sum of the final rows: $CH_R, tshark $t_pk $t_by (a final written twice, or missing?)"
echo "ok: flow_metrics, read per the contract (max per node, period, generation and key, summed) and its final rows alone: tshark's totals"

# ---- the API against tshark --------------------------------------------------------
got=$(api_py aggregate per_five_tuple) || fail "aggregate per_five_tuple"
[ "$got" = "$t_pk $t_by $t_fl" ] ||
	fail "aggregate per_five_tuple: packets bytes flows $got, tshark $t_pk $t_by $t_fl"
got2=$(api_py aggregate per_five_tuple '{"end_time": "2099-01-01T00:00:00Z"}') || fail "aggregate with end_time"
[ "$got2" = "$got" ] || fail "aggregate per_five_tuple with a future end_time: $got2, without: $got"
got=$(api_py aggregate per_src) || fail "aggregate per_src"
[ "$got" = "$t_pk $t_by $t_src" ] ||
	fail "aggregate per_src: packets bytes flows $got, tshark $t_pk $t_by $t_src"
echo "ok: /api/v1/aggregate = tshark for both tasks over $nfinal periods: $t_pk packets, $t_by bytes, $t_fl flows, $t_src sources"

n=$(api_py trace per_five_tuple "$T/tshark.flows" 60) || fail "/api/v1/flows/trace differs from tshark"
echo "ok: /api/v1/flows/trace = tshark's packets and bytes for $n flows (the 20 heaviest, 40 at random)"

# ---- heavy hitters against the file writer ------------------------------------------
# The jsonl writer's finals, summed per key over the periods, flow as the
# key's values joined by spaces.
python3 - "$T/sk-cap" >"$T/file.hh" <<'EOP' || fail "the jsonl writer's heavy hitters"
import glob, json, os, sys
root = sys.argv[1]
sums = {}
periods = sorted(glob.glob(os.path.join(root, "*")))
assert len(periods) >= 3, periods
for p in periods:
    for task, kinds in (("hh", ("count", "size")), ("ss", ("spread",))):
        s = json.load(open(os.path.join(p, task, "summary.json")))
        assert s["final"] is True, (p, task, s)
        for kind in kinds:
            path = os.path.join(p, task, kind + ".jsonl")
            if not os.path.exists(path):
                continue
            for line in open(path):
                o = json.loads(line)
                flow = " ".join(str(v) for v in o["flow"].values())
                k = (task, kind, flow)
                sums[k] = sums.get(k, 0) + int(o["value"])
for (task, kind, flow), v in sorted(sums.items()):
    print("%s\t%s\t%s\t%d" % (task, kind, flow, v))
EOP
for q in "hh count 0" "hh size 1" "ss spread 2"; do
	set -- $q
	awk -F'\t' -v t="$1" -v k="$2" '$1 == t && $2 == k { print $3 "\t" $4 }' "$T/file.hh" |
		sort >"$T/want.$2"
	[ -s "$T/want.$2" ] || fail "the jsonl writer reported no $2 heavy hitter for $1"
	# The table's final rows, summed over the periods: the writer's part.
	ch_query "SELECT Flow, sum(Value) FROM heavy_hitters WHERE TaskName = '$1' AND Type = $3 AND Final = 1 GROUP BY Flow ORDER BY Flow"
	printf '%s\n' "$CH_R" | sort >"$T/ch.$2"
	same_or_fail "$T/want.$2" "$T/ch.$2" \
		"heavy_hitters final rows, $1 type $3 ($2), differ from the jsonl writer's (< file, > table)"
	api_py hh "$1" "$3" 100000 >"$T/api.$2.raw" || fail "heavy-hitters $1 type $3"
	sort "$T/api.$2.raw" >"$T/api.$2"
	same_or_fail "$T/want.$2" "$T/api.$2" \
		"heavy-hitters $1 type $3 ($2) differ from the jsonl writer's (< file, > API)"
	echo "ok: /api/v1/heavy-hitters $1 type $3: $(wc -l <"$T/api.$2") $2 hitters, = the jsonl writer's summed over the periods"
done

# ---- the CLI client ----------------------------------------------------------
# netspectra query, pointed at the API by the daemon's config: the API's
# answers, in JSON and as a table.
nq() { ip netns exec "$NSB" "$NETSPECTRA" query "$@" -c "$T/api.yaml"; }
nq aggregate --task per_five_tuple --json >"$T/q.agg.json" 2>"$T/q.err" ||
	fail "netspectra query aggregate: $(cat "$T/q.err")"
got=$(python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
s = [x for x in j["summaries"] if x["taskName"] == "per_five_tuple"][0]
print(s["totalPackets"], s["totalBytes"], s["flowCount"])
' "$T/q.agg.json") || fail "netspectra query aggregate --json: $(cat "$T/q.agg.json")"
[ "$got" = "$t_pk $t_by $t_fl" ] || fail "netspectra query aggregate: $got, tshark $t_pk $t_by $t_fl"
nq aggregate --task per_five_tuple >"$T/q.agg.txt" 2>"$T/q.err" ||
	fail "netspectra query aggregate (table): $(cat "$T/q.err")"
grep -q "per_five_tuple" "$T/q.agg.txt" && grep -q "$t_pk" "$T/q.agg.txt" ||
	fail "netspectra query aggregate's table lacks the task or its $t_pk packets: $(cat "$T/q.agg.txt")"
read -r _ sip dip sp dp pr pk by _ <<EOF
$(sort -t'	' -k7,7nr "$T/tshark.flows" | head -1)
EOF
nq trace --task per_five_tuple --key "SrcIP=$sip" --key "DstIP=$dip" --key "SrcPort=$sp" \
	--key "DstPort=$dp" --key "Protocol=$pr" --json >"$T/q.trace.json" 2>"$T/q.err" ||
	fail "netspectra query trace: $(cat "$T/q.err")"
got=$(json_get "$T/q.trace.json" 'j["lifecycle"]["totalPackets"] + " " + j["lifecycle"]["totalBytes"]') ||
	fail "netspectra query trace --json: $(cat "$T/q.trace.json")"
[ "$got" = "$pk $by" ] || fail "netspectra query trace of $sip $dip $sp $dp $pr: $got, tshark $pk $by"
nq heavy-hitters --task hh --type size --limit 100000 --json >"$T/q.hh.json" 2>"$T/q.err" ||
	fail "netspectra query heavy-hitters: $(cat "$T/q.err")"
python3 -c '
import json, sys
for h in json.load(open(sys.argv[1]))["hitters"]:
    print("%s\t%s" % (h["flow"], h["value"]))
' "$T/q.hh.json" | sort >"$T/q.hh" || fail "netspectra query heavy-hitters --json: $(cat "$T/q.hh.json")"
same_or_fail "$T/api.size" "$T/q.hh" "netspectra query heavy-hitters --type size differs from the API (< API, > CLI)"
echo "ok: netspectra query aggregate, trace (the heaviest flow) and heavy-hitters give the API's answers (JSON; the aggregate as a table too)"

# ---- Go2NetSpectra's all-time argMax, for contrast ------------------------------
# Its aggregate SQL, unchanged (example values: per_five_tuple, up to 2030),
# keeps only each flow's latest snapshot: the earlier periods are lost.
g2n_sql LatestByteCount >"$T/g2n.sql" || fail "no aggregate query in the reference SQL"
ch_query "$(cat "$T/g2n.sql")"
read -r g_task g_by g_pk g_fl <<EOF
$CH_R
EOF
[ "$g_task" = per_five_tuple ] && [ -n "$g_pk" ] || fail "Go2NetSpectra's aggregate query: '$CH_R'"
[ "$g_pk" -lt "$t_pk" ] && [ "$g_by" -lt "$t_by" ] ||
	fail "Go2NetSpectra's argMax query gives $g_pk packets, $g_by bytes, tshark $t_pk, $t_by: it should lose the earlier periods (is the test blind?)"
[ "$g_fl" = "$t_fl" ] || fail "Go2NetSpectra's argMax query counts $g_fl flows, tshark $t_fl"
echo "ok: Go2NetSpectra's all-time argMax query on the same table: $g_pk packets, $g_by bytes (tshark: $t_pk, $t_by): the API's history is right where it is not"

daemon_stop "$DPID" "$T/api.log"
