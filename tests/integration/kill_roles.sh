#!/bin/sh
# kill_roles.sh -- kill -9 of each long-lived role the kill tests before
# it leave alone: the Prometheus exporter (ns-export-prom), the file
# exporter (ns-export-files), the ClickHouse writer (ns-export-ch), the
# query API (ns-api) and the alerter (ns-alert), one after the other,
# while tcpreplay sends a pcapgen trace into the interface netspectrad
# captures on (veth in a pair of network namespaces, a scratch
# clickhouse-server in the daemon's).  Each is re-forked (the
# supervisor's "killed by signal 9; restarting" line), /metrics and the
# API answer again, and nothing lifetime starts over: the task's packet
# count, the file exporter's periods, the ClickHouse writer's acknowledged
# rows and the alerter's evaluations on /metrics go on from where they
# were, and the restarts are counted by role.  At the end the jsonl
# flows summed over the periods are tshark's, flow by flow; so are the
# API's totals over the ClickHouse history; no capture layer dropped a
# packet, no row was dropped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
. "$(dirname "$0")/ch_lib.sh"
need_ch
need tcpreplay tshark pgrep
ns_tmpdir

ns_bare_pair
ch_setup "$NSB"
ch_start
PP=$(ch_free_port 19800)
AP=$(ch_free_port $((PP + 1)))
API_URL=http://127.0.0.1:$AP
SHM=/netspectra-kroles-$$
ns_at_exit "rm -f /dev/shm$SHM /dev/shm$SHM.lock"

# 60000 packets at 4 kpps: 15 s of traffic, the kills paced over its
# first two thirds by the packets received.
N=60000
"$PCAPGEN" -o "$T/trace.pcap" -n "$N" -f 3000 -s 151 --ipv6 0.3 --vlan 0.1 \
	--proto-mix tcp=60,udp=25,icmp=10,sctp=5 2>/dev/null || fail "pcapgen"
tshark_read "$T/trace.pcap"	# one pass of tshark, for the count and the flows
sent=$(wc -l <"$T/trace.pcap.tsdump")

_ch="clickhouse: {host: 127.0.0.1, port: $CH_HTTP, node: kroles, timeout: 2s, spool_dir: $T/spool}"
cat >"$T/d.yaml" <<EOC
daemon: {pidfile: $T/d.pid, shm_name: $SHM, log_level: info}
inputs:
  - {type: pcap, interface: vb, snaplen: 256, promisc: true, immediate: true, buffer_size: 16MiB}
prometheus: {enabled: true, listen: 127.0.0.1:$PP, top_k: 3}
api: {enabled: true, http_listen_addr: 127.0.0.1:$AP}
alerter:
  enabled: true
  check_interval: 1s
  nats_enabled: false
  rules:
    - {name: Never, task_name: five, metric: total_packets, operator: ">", threshold: 1e12}
aggregator:
  period: 2s
  num_workers: 2
  exact:
    writers:
      - {type: jsonl, snapshot_interval: 500ms, jsonl: {root_path: $T/out}}
      - {type: clickhouse, snapshot_interval: 500ms, $_ch}
    tasks:
      - {name: five, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 100000}
EOC
check_config "$T/d.yaml"

# metric NAME{LABELS}: its value on /metrics ("" if absent or no answer).
metric() {
	in_ch curl -sS -m 5 "http://127.0.0.1:$PP/metrics" 2>/dev/null |
		awk -v m="$1" '$1 == m { print $2 }'
}
metrics_up() { [ -n "$(metric 'netspectra_task_packets_total{task="five"}')" ]; }
ge() { [ "$1" -ge "$2" ]; }	# ge A B, both non-empty numbers
grows() { _v=$(metric "$1") && [ -n "$_v" ] && [ "$_v" -gt "$2" ]; }

daemon_start "$NSB" "$T/d.yaml" "$T/d.log" "capturing on vb"
wait_for 30 metrics_up || fail "/metrics does not answer: $(tail -5 "$T/d.log")"
wait_for 30 api_up || fail "the API does not answer GET /: $(tail -5 "$T/d.log")"
EVALS=netspectra_alert_evaluations_total
PERIODS='netspectra_exporter_periods_total{exporter="files"}'
CHROWS='netspectra_export_rows_total{writer="exact.1"}'
wait_for 30 grows "$EVALS" 0 ||
	fail "the alerter does not evaluate: $EVALS is '$(metric "$EVALS")'"

rx0=$(rx)
ip netns exec "$NSA" tcpreplay -q -i va --pps 4000 "$T/trace.pcap" >"$T/replay.log" 2>&1 &
rpid=$!
ns_at_exit "kill $rpid 2>/dev/null"

# kill_role NAME: kill -9 NAME once the replay is another 7000 packets
# on, and wait for the supervisor to fork it again.  Just before the
# kill: the lifetime packets PK0, alert evaluations EV0, periods the file
# exporter wrote PE0, rows ClickHouse acknowledged CR0.
k=0 during=0
kill_role() {
	k=$((k + 1))
	wait_for 30 rx_at_least "$rx0" $((k * 7000)) || fail "the replay stalls: $(cat "$T/replay.log")"
	_pid=$(ns_child_pid "$DPID" "$1") || fail "no $1 among the daemon's children"
	PK0=$(metric 'netspectra_task_packets_total{task="five"}')
	EV0=$(metric "$EVALS") PE0=$(metric "$PERIODS") CR0=$(metric "$CHROWS")
	[ -n "$PK0" ] && [ -n "$EV0" ] && [ -n "$PE0" ] && [ -n "$CR0" ] ||
		fail "/metrics does not answer before the kill of $1"
	kill -0 "$rpid" 2>/dev/null && during=$((during + 1))
	kill -9 "$_pid"
	wait_for 30 ns_respawned "$DPID" "$1" "$_pid" || fail "$1 was not forked again: $(tail -5 "$T/d.log")"
	grep -q "$1 (pid $_pid) killed by signal 9; restarting" "$T/d.log" ||
		fail "no restart of $1 logged: $(tail -5 "$T/d.log")"
}

# The Prometheus exporter: what it serves comes from the segment.
kill_role ns-export-prom
p0=$PK0
wait_for 30 metrics_up || fail "/metrics does not answer after the kill: $(tail -5 "$T/d.log")"
p1=$(metric 'netspectra_task_packets_total{task="five"}')
[ "$p0" -gt 0 ] && ge "$p1" "$p0" || fail "netspectra_task_packets_total went from $p0 to $p1 over the kill"

# The file exporter's periods and the ClickHouse writer's rows are
# counted in the segment: they go on from where they were.
kill_role ns-export-files
[ "$PE0" -gt 0 ] || fail "no period written before the file exporter's kill"
wait_for 30 grows "$PERIODS" "$PE0" ||
	fail "$PERIODS went from $PE0 to '$(metric "$PERIODS")' over the kill"
kill_role ns-export-ch
[ "$CR0" -gt 0 ] || fail "no row acknowledged before the ClickHouse writer's kill"
wait_for 30 grows "$CHROWS" "$CR0" ||
	fail "$CHROWS went from $CR0 to '$(metric "$CHROWS")' over the kill"

kill_role ns-api
wait_for 30 api_up || fail "the API does not answer after the kill: $(tail -5 "$T/d.log")"

# The alerter's counters live in the segment: they go on from where they were.
kill_role ns-alert
e0=$EV0
wait_for 30 grows "$EVALS" "$e0" ||
	fail "$EVALS went from $e0 to '$(metric "$EVALS")' over the alerter's kill"
e1=$(metric "$EVALS")

wait "$rpid" || fail "tcpreplay: $(cat "$T/replay.log")"
[ "$during" = 5 ] || fail "only $during of 5 kills landed during the replay: make it longer"
wait_for 20 rx_at_least "$rx0" "$sent" || fail "vb received fewer than $sent packets"
wait_for 30 eval '[ "$(metric "netspectra_task_packets_total{task=\"five\"}")" = "$sent" ]' ||
	fail "netspectra_task_packets_total is $(metric 'netspectra_task_packets_total{task="five"}'), want $sent"
for role in exporter:4 api:1 worker:0 capture:0; do
	got=$(metric "netspectra_process_restarts_total{role=\"${role%:*}\"}")
	[ "$got" = "${role#*:}" ] ||
		fail "netspectra_process_restarts_total{role=\"${role%:*}\"} is '$got', want ${role#*:}"
done

# The ClickHouse history through the API, once the last busy period's
# final is in: tshark's totals.
tshark_flows "$T/trace.pcap" "$T/tshark.flows"
want=$(awk -F'\t' '{ p += $7; b += $8; n++ } END { printf "%d %d %d\n", p, b, n }' "$T/tshark.flows")
api_totals() { [ "$(api_py aggregate five 2>/dev/null)" = "$want" ]; }
wait_for 60 api_totals ||
	fail "API aggregate (packets bytes flows) '$(api_py aggregate five)', tshark '$want'"
[ "$(metric 'netspectra_export_dropped_rows_total{writer="exact.1"}')" = 0 ] ||
	fail "the ClickHouse writer dropped rows: $(metric 'netspectra_export_dropped_rows_total{writer="exact.1"}')"

daemon_stop "$DPID" "$T/d.log"
drops=$(sed -n 's/.*kernel drops \([0-9]*\).*/\1/p' "$T/d.log")
ring=$(sed -n 's/.*ring_full \([0-9]*\), table_full \([0-9]*\).*/\1 \2/p' "$T/d.log")
[ "$drops" = 0 ] && [ "$ring" = "0 0" ] || fail "drops: kernel '$drops', ring_full/table_full '$ring'"
grep -q "task five: lifetime packets $sent," "$T/d.log" ||
	fail "lifetime at the stop: $(grep 'lifetime packets' "$T/d.log"), want $sent"
periods=$(ls "$T/out" | wc -l)
[ "$periods" -ge 4 ] || fail "only $periods periods written"
cat "$T"/out/*/five/flows.jsonl >"$T/live.jsonl"
flows_py ns five "$T/live.jsonl" >"$T/live.flows" || fail "bad flow output"
n=$(flows_py diff "$T/tshark.flows" "$T/live.flows" packets bytes flags) ||
	fail "flows differ from tshark's reading of the trace (< tshark, > netspectrad)"
echo "ok: kill -9 of ns-export-prom, ns-export-files, ns-export-ch, ns-api and ns-alert during a replay of $sent packets: each restarted and logged, /metrics and the API answer again, lifetime packets ($p0 -> $p1), periods written, ClickHouse rows and alert evaluations ($e0 -> $e1) go on over the kills; restarts counted (exporter 4, api 1)"
echo "ok: $n flows over $periods periods identical to tshark; the API's ClickHouse totals ($want) are tshark's; drops: kernel 0, ring_full 0, table_full 0"
