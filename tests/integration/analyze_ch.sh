#!/bin/sh
# analyze_ch.sh -- `netspectra analyze` drives every enabled writer of its
# configuration, as Go2NetSpectra's pcap-analyzer does: a pcapgen trace of
# several 1 s periods (packet time) is analyzed with a ClickHouse writer on
# both aggregators (beside jsonl file writers) into a scratch
# clickhouse-server, no netspectrad running.  When analyze exits, the
# server holds every period's final rows and nothing is left spooled (its
# private spool directory under $TMPDIR is gone); a daemon serving only
# the API answers /api/v1/aggregate with tshark's totals of the whole
# trace, and /api/v1/heavy-hitters with the file writer's heavy hitters.
# With the server down, analyze still ends and names the directory where
# the undelivered batches are kept.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
. "$(dirname "$0")/ch_lib.sh"
need_ch
need tshark
ns_tmpdir

ns_alone
ns_idle_if "$NSA"
ch_setup "$NSA"
ch_start
AP=$(ch_free_port 19750)
API_URL=http://127.0.0.1:$AP
ns_at_exit "rm -f /dev/shm/netspectra-cha-$$-*"

"$PCAPGEN" -o "$T/trace.pcap" -n 20000 -f 1500 -s 151 --ipv6 0.3 --vlan 0.1 \
	--duration 5 --proto-mix tcp=60,udp=30,icmp=10 2>/dev/null || fail "pcapgen"

# cfg NAME API-ENABLED: analyze's (and the API daemon's) configuration.
cfg() {
	_ch="clickhouse: {host: 127.0.0.1, port: $CH_HTTP, node: analyze, timeout: 5s}"
	cat >"$T/$1.yaml" <<EOC
daemon: {pidfile: $T/$1.pid, shm_name: /netspectra-cha-$$-$1, state_dir: $T/state-$1, log_level: info}
inputs:
  - {type: pcap, interface: idle0, snaplen: 256}
prometheus: {enabled: false}
api: {enabled: $2, http_listen_addr: 127.0.0.1:$AP}
aggregator:
  period: 1s
  num_workers: 2
  exact:
    writers:
      - {type: jsonl, snapshot_interval: 1s, jsonl: {root_path: $T/out-$1}}
      - {type: clickhouse, snapshot_interval: 1s, $_ch}
    tasks:
      - {name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 100000}
  sketch:
    writers:
      - {type: jsonl, snapshot_interval: 1s, jsonl: {root_path: $T/sk-$1}}
      - {type: clickhouse, snapshot_interval: 1s, $_ch}
    tasks:
      - {name: hh, skt_type: 0, flow_fields: [SrcIP, DstIP, Protocol],
         width: 4096, depth: 2, count_threshold: 40, top_k: 100}
EOC
	check_config "$T/$1.yaml"
}
cfg an false
cfg api true

# ---- analyze into ClickHouse ---------------------------------------------------
mkdir "$T/tmp"
in_ch env TMPDIR="$T/tmp" "$NETSPECTRA" analyze -c "$T/an.yaml" "$T/trace.pcap" \
	>"$T/an.out" 2>"$T/an.err" || fail "analyze: $(tail -5 "$T/an.err")"
[ -z "$(ls -A "$T/tmp")" ] || fail "analyze left its spool behind: $(find "$T/tmp" | head)"
ch_query "SELECT uniqExact(PeriodStart) FROM flow_metrics WHERE Final = 1"
nper=$CH_R
[ "$nper" -ge 3 ] || fail "final rows of $nper periods in flow_metrics, want at least 3"
nfiles=$(ls "$T/out-an" | wc -l)
[ "$nper" = "$nfiles" ] || fail "final rows of $nper periods, the jsonl writer wrote $nfiles"
ch_query "SELECT count() FROM heavy_hitters WHERE Final = 1"
[ "$CH_R" -gt 0 ] || fail "no final heavy hitters in ClickHouse"
echo "ok: analyze wrote the finals of $nper periods to ClickHouse and its spool is gone"

# ---- the API against tshark and the file writer -------------------------------------
tshark_flows "$T/trace.pcap" "$T/tshark.flows"
t_tot=$(awk -F'\t' '{ p += $7; b += $8; n++ } END { printf "%d %d %d\n", p, b, n }' "$T/tshark.flows")
daemon_start "$NSA" "$T/api.yaml" "$T/api.log" "serving the query API"
wait_for 20 api_up || fail "the API does not answer GET /: $(tail -5 "$T/api.log")"
got=$(api_py aggregate per_five_tuple) || fail "aggregate per_five_tuple"
[ "$got" = "$t_tot" ] ||
	fail "aggregate per_five_tuple after analyze: packets bytes flows $got, tshark $t_tot"
echo "ok: /api/v1/aggregate over what analyze wrote = tshark: packets bytes flows $t_tot"
python3 - "$T/sk-an" >"$T/want.hh" <<'EOP' || fail "the jsonl writer's heavy hitters"
import glob, json, os, sys
sums = {}
for p in sorted(glob.glob(os.path.join(sys.argv[1], "*"))):
    path = os.path.join(p, "hh", "count.jsonl")
    if os.path.exists(path):
        for line in open(path):
            o = json.loads(line)
            flow = " ".join(str(v) for v in o["flow"].values())
            sums[flow] = sums.get(flow, 0) + int(o["value"])
for flow, v in sorted(sums.items()):
    print("%s\t%d" % (flow, v))
EOP
[ -s "$T/want.hh" ] || fail "the jsonl writer reported no heavy hitter"
api_py hh hh 0 100000 >"$T/got.raw" || fail "/api/v1/heavy-hitters"
sort "$T/got.raw" >"$T/got.hh"
same_or_fail "$T/want.hh" "$T/got.hh" "/api/v1/heavy-hitters after analyze differ from the jsonl writer's (< file, > API)"
echo "ok: /api/v1/heavy-hitters over what analyze wrote = the file writer's $(wc -l <"$T/want.hh") heavy hitters"
daemon_stop "$DPID" "$T/api.log"

# ---- a dead server: analyze ends, and says where the batches are ---------------------
ch_kill
in_ch env TMPDIR="$T/tmp" "$NETSPECTRA" analyze -c "$T/an.yaml" "$T/trace.pcap" \
	>"$T/an2.out" 2>"$T/an2.err" || fail "analyze with the server down: $(tail -5 "$T/an2.err")"
grep -q "undelivered batches are kept in $T/tmp/netspectra-analyze" "$T/an2.err" ||
	fail "analyze with the server down does not name its spool: $(tail -5 "$T/an2.err")"
[ -n "$(find "$T/tmp" -name '*.tsv')" ] || fail "no batch kept in $T/tmp"
echo "ok: with the server down analyze ends and keeps its batches in its spool"
