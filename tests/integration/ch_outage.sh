#!/bin/sh
# ch_outage.sh -- a ClickHouse outage loses nothing and stalls nothing.  In
# a pair of network namespaces joined by veth, tcpreplay sends a pcapgen
# trace at 5 kpps (about 8 s) into the interface netspectrad captures on,
# with 1 s periods and ClickHouse writers (200 ms snapshots, exact and
# sketch) to a scratch clickhouse-server in the same namespace.  During the
# replay the server is killed and stays down until the spool holds the
# final state of at least 3 periods, then is started again.  Then:
#
#   - no capture layer dropped a packet (kernel, ring_full, table_full),
#     and no writer dropped a row;
#   - the spool had batches while the server was down and drains after;
#   - the API's totals equal tshark's;
#   - the spooled batches copied aside while the server was down, POSTed
#     again once they had been delivered (an acknowledgement lost after the
#     server stored them), change no API result;
#   - with a spool_max far too small and the server down, the rows that fit
#     nowhere are counted (netspectra_export_dropped_rows_total > 0) while
#     the daemon keeps capturing without a drop.
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
PP=$(ch_free_port 19600)
AP=$(ch_free_port 19700)
API_URL=http://127.0.0.1:$AP
ns_at_exit "rm -f /dev/shm/netspectra-cho-$$-*"

"$PCAPGEN" -o "$T/trace.pcap" -n 40000 -f 2000 -s 143 --ipv6 0.3 --vlan 0.1 \
	--proto-mix tcp=60,udp=25,icmp=10,sctp=5 2>/dev/null || fail "pcapgen"
sent=$(tshark -r "$T/trace.pcap" -T fields -e frame.number 2>/dev/null | wc -l)

# cfg NAME IFACE SPOOL_DIR SPOOL_MAX
cfg() {
	_ch="clickhouse: {host: 127.0.0.1, port: $CH_HTTP, node: outage, timeout: 2s, spool_dir: $3, spool_max: $4}"
	cat >"$T/$1.yaml" <<EOC
daemon: {pidfile: $T/$1.pid, shm_name: /netspectra-cho-$$-$1, state_dir: $T/state-$1, log_level: info}
inputs:
  - {type: pcap, interface: $2, snaplen: 256, promisc: true, immediate: true, buffer_size: 16MiB}
prometheus: {enabled: true, listen: 127.0.0.1:$PP, top_k: 0}
api: {enabled: true, http_listen_addr: 127.0.0.1:$AP}
aggregator:
  period: 1s
  num_workers: 2
  exact:
    writers:
      - {type: clickhouse, snapshot_interval: 200ms, $_ch}
    tasks:
      - {name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 100000}
  sketch:
    writers:
      - {type: clickhouse, snapshot_interval: 200ms, $_ch}
    tasks:
      - {name: hh, skt_type: 0, flow_fields: [SrcIP], width: 4096, depth: 2,
         count_threshold: 100, size_threshold: 100000, top_k: 50}
EOC
	check_config "$T/$1.yaml"
}
cfg cap vb "$T/spool" 1GiB
cfg api idle0 "$T/spool" 1GiB
cfg tiny vb "$T/spool-tiny" 1KiB

# metric NAME WRITER: a writer's counter from /metrics ("" if absent).
metric() {
	in_ch curl -sS -m 5 "http://127.0.0.1:$PP/metrics" 2>/dev/null |
		sed -n "s/^$1{writer=\"$2\"} \([0-9]*\)$/\1/p"
}
# spooled_finals DIR: distinct periods with final rows (Final, column 13,
# = 1; PeriodStart is column 12) in the flow batches spooled under DIR.
spooled_finals() {
	cat "$1"/*.flows.tsv 2>/dev/null | awk -F'\t' '$13 == 1 { print $12 }' | sort -u | wc -l
}
finals_at_least() { [ "$(spooled_finals "$1")" -ge "$2" ]; }
# check_drops LOG: no capture layer dropped a packet (the stop's summary).
check_drops() {
	_k=$(sed -n 's/.*kernel drops \([0-9]*\).*/\1/p' "$1")
	_r=$(sed -n 's/.*ring_full \([0-9]*\), table_full \([0-9]*\).*/\1 \2/p' "$1")
	[ "$_k" = 0 ] && [ "$_r" = "0 0" ] || fail "$2: drops: kernel '$_k', ring_full/table_full '$_r'"
}

# ---- the outage ------------------------------------------------------------
daemon_start "$NSB" "$T/cap.yaml" "$T/cap.log" "capturing on vb"
cap_pid=$DPID
wait_for 20 eval '[ -n "$(metric netspectra_export_rows_total exact.0)" ]' ||
	fail "no netspectra_export_rows_total{writer=\"exact.0\"} on /metrics"
rx0=$(rx)
ip netns exec "$NSA" tcpreplay -q -i va --pps 5000 "$T/trace.pcap" >"$T/replay.log" 2>&1 &
rpid=$!
ns_at_exit "kill $rpid 2>/dev/null"
wait_for 10 rx_at_least "$rx0" 2000 || fail "no traffic reaches vb: $(cat "$T/replay.log")"
# Down at once: kill -9 (a crash).  A SIGTERM'd 18.16 server takes 10-15 s
# to finish its merges while it still answers some requests: too slow for
# a short replay.
ch_kill
down_at=$(rx)
# Down until the spool holds the finals of 3 periods: 3 boundaries passed.
wait_for 20 finals_at_least "$T/spool/exact.0" 3 ||
	fail "20 s into the outage the spool holds finals of $(spooled_finals "$T/spool/exact.0") periods: $(ls "$T/spool" "$T/spool"/* 2>&1 | head)"
kill -0 "$rpid" 2>/dev/null || fail "the replay ended during the outage: make it longer"
nspool=$(spool_files "$T/spool")
[ -n "$(ls "$T/spool/sketch.0"/*.hh.tsv 2>/dev/null)" ] || fail "no heavy-hitter batch spooled in $T/spool/sketch.0"
[ "$(metric netspectra_export_spool_bytes exact.0)" -gt 0 ] ||
	fail "netspectra_export_spool_bytes{writer=\"exact.0\"} is '$(metric netspectra_export_spool_bytes exact.0)' with $nspool batches spooled"
[ "$(metric netspectra_export_errors_total exact.0)" -gt 0 ] ||
	fail "netspectra_export_errors_total{writer=\"exact.0\"} is '$(metric netspectra_export_errors_total exact.0)' during the outage"
# The batches as they are now: to be sent again once delivered.  (A batch
# is written under a hidden name and linked in whole: these are complete.)
mkdir -p "$T/aside"
for f in "$T"/spool/*/*.tsv; do
	cp "$f" "$T/aside/$(basename "$(dirname "$f")").$(basename "$f")" ||
		fail "copying $f"
done
ch_start
during=$(( $(rx) - down_at ))
wait "$rpid" || fail "tcpreplay: $(cat "$T/replay.log")"
wait_for 10 rx_at_least "$rx0" "$sent" || fail "vb received fewer than $sent packets"
wait_for 60 spool_empty "$T/spool" ||
	fail "the spool still holds $(spool_files "$T/spool") batches 60 s after the server came back"
for w in exact.0 sketch.0; do
	d=$(metric netspectra_export_dropped_rows_total "$w")
	[ "$d" = 0 ] || fail "writer $w dropped '$d' rows with a 1 GiB spool"
done
daemon_stop "$cap_pid" "$T/cap.log"
check_drops "$T/cap.log" "outage"
echo "ok: clickhouse-server down for $during packets and 3 period boundaries or more: $nspool batches spooled, no packet dropped by any capture layer, no row dropped; the spool drained after the restart"

# ---- the totals ------------------------------------------------------------
daemon_start "$NSB" "$T/api.yaml" "$T/api.log" "capturing on idle0"
wait_for 20 api_up || fail "the API does not answer GET /: $(tail -5 "$T/api.log")"
wait_for 30 spool_empty "$T/spool" || fail "the spool is not empty"
tshark_flows "$T/trace.pcap" "$T/tshark.flows"
read -r t_pk t_by t_fl <<EOF
$(awk -F'\t' '{ p += $7; b += $8; n++ } END { printf "%d %d %d\n", p, b, n }' "$T/tshark.flows")
EOF
# answers OUT: every API result this test looks at.
answers() {
	{ api_py aggregate per_five_tuple && api_py trace per_five_tuple "$T/tshark.flows" 50 &&
	  api_py hh hh 0 1000 && api_py hh hh 1 1000; } >"$1" || fail "API: see above"
}
answers "$T/before"
[ "$(head -1 "$T/before")" = "$t_pk $t_by $t_fl" ] ||
	fail "after the outage: aggregate packets bytes flows $(head -1 "$T/before"), tshark $t_pk $t_by $t_fl"
ch_query "SELECT count() FROM heavy_hitters WHERE Final = 1"
[ "$CH_R" -gt 0 ] || fail "no final heavy-hitter row after the outage"
echo "ok: after the outage the API's totals = tshark's: $t_pk packets, $t_by bytes, $t_fl flows; 50 traced flows too"

# ---- a lost acknowledgement ----------------------------------------------------
ch_query "SELECT count() FROM flow_metrics"
rows0=$CH_R
nres=0
for f in "$T"/aside/*.flows.tsv; do
	[ -s "$f" ] || continue
	ch_insert_file flow_metrics "$f"; nres=$((nres + 1))
done
for f in "$T"/aside/*.hh.tsv; do
	[ -s "$f" ] || continue
	ch_insert_file heavy_hitters "$f"; nres=$((nres + 1))
done
[ "$nres" -ge 3 ] || fail "only $nres spooled batches to send again"
ch_query "SELECT count() FROM flow_metrics"
[ "$CH_R" -gt "$rows0" ] || fail "the batches sent again added no row ($rows0, then $CH_R)"
answers "$T/after"
same_or_fail "$T/before" "$T/after" "$nres batches sent again changed API results (< before, > after)"
echo "ok: $nres spooled batches delivered twice (flow_metrics $rows0 -> $CH_R rows): aggregate, 50 traces and heavy hitters unchanged"
daemon_stop "$DPID" "$T/api.log"

# ---- a full spool counts its losses ----------------------------------------------
ch_kill
daemon_start "$NSB" "$T/tiny.yaml" "$T/tiny.log" "capturing on vb"
tiny_pid=$DPID
"$PCAPGEN" -o "$T/short.pcap" -n 10000 -f 1000 -s 144 2>/dev/null || fail "pcapgen"
rx0=$(rx)
ip netns exec "$NSA" tcpreplay -q -i va --pps 5000 "$T/short.pcap" >"$T/replay2.log" 2>&1 ||
	fail "tcpreplay: $(cat "$T/replay2.log")"
wait_for 10 rx_at_least "$rx0" 10000 || fail "vb received fewer than 10000 packets"
wait_for 20 eval '[ "$(metric netspectra_export_dropped_rows_total exact.0)" -gt 0 ]' ||
	fail "spool_max 1KiB, server down: netspectra_export_dropped_rows_total{writer=\"exact.0\"} is '$(metric netspectra_export_dropped_rows_total exact.0)'"
dropped=$(metric netspectra_export_dropped_rows_total exact.0)
kill -0 "$tiny_pid" 2>/dev/null || fail "the daemon died with a full spool: $(tail -5 "$T/tiny.log")"
# spool_max is each writer's (exact.0, sketch.0): their batches, not the
# hidden file a batch is written under before it is linked in.
for w in "$T/spool-tiny"/*/; do
	sz=$(find "$w" -type f -name '[0-9]*.tsv' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
	[ "$sz" -le 1024 ] || fail "spool_max 1KiB: the spool of $(basename "$w") holds $sz bytes"
done
ip netns exec "$NSB" "$NETSPECTRA" status -c "$T/tiny.yaml" >"$T/status" 2>&1 ||
	fail "netspectra status: $(cat "$T/status")"
grep -i "exact.0" "$T/status" | grep -qi "dropped" ||
	fail "netspectra status shows no dropped rows for writer exact.0: $(cat "$T/status")"
daemon_stop "$tiny_pid" "$T/tiny.log"
check_drops "$T/tiny.log" "full spool"
echo "ok: spool_max 1KiB with the server down: $dropped rows counted as dropped (/metrics, netspectra status), the daemon kept capturing without a drop and stopped cleanly"
