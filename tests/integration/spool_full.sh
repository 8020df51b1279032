#!/bin/sh
# spool_full.sh -- the ClickHouse writer's spool on a full disk.  The spool
# directory is a small tmpfs of its own; clickhouse-server is down from the
# start, so every batch stays in the spool.  In a pair of network
# namespaces joined by veth, three pcapgen traces are replayed into the
# interface netspectrad captures on (1 s periods, 200 ms live snapshots),
# each in periods of its own (the next waits until the last period of the
# one before has been exported):
#
#   A  spooled (disk free);
#   B  with the tmpfs filled to the last byte: the daemon keeps capturing
#      and counting, logs "No space left on device", counts every final
#      row of B as dropped (/metrics, netspectra status) and keeps A's
#      batches whole;
#   C  after the filler is removed and the server started: A's batches
#      drain, C's are delivered.
#
# Then the API's totals equal tshark's of A and C together (B, whose rows
# were all counted as lost, adds nothing: ClickHouse holds no row of B's
# periods), and ClickHouse holds exactly the rows the writer spooled: each
# batch delivered once.  No capture layer dropped a packet.
#
# A NATS writer (nats-server down until C) spools on the same tmpfs: it too
# logs the full disk and counts B's rows as dropped, and its spool drains
# once the server is up (its accounting only: nats_outage.sh and
# nats_writer.sh check what the server gets).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
. "$(dirname "$0")/ch_lib.sh"
. "$(dirname "$0")/nats_lib.sh"
need_ch
need_nats
need tcpreplay tshark mergecap mount umount dd
ns_tmpdir

ns_bare_pair
ch_setup "$NSB"
nats_setup "$NSB"
PP=$(ch_free_port 19800)
AP=$(ch_free_port 19900)
API_URL=http://127.0.0.1:$AP
ns_at_exit "rm -f /dev/shm/netspectra-spf-$$ /dev/shm/netspectra-spf-$$.lock"

# The spool's own small disk, unmounted at exit (before $T is removed).
SPOOL=$T/spool
mkdir -p "$SPOOL"
mount -t tmpfs -o size=8m,mode=0750 "spool-full-$$" "$SPOOL" || skip "cannot mount a tmpfs"
ns_at_exit "umount -l $SPOOL"

for t in "A 11" "B 12" "C 13"; do
	set -- $t
	"$PCAPGEN" -o "$T/$1.pcap" -n 6000 -f 600 -s "$2" --ipv6 0.3 \
		--proto-mix tcp=60,udp=30,icmp=10 2>/dev/null || fail "pcapgen $1"
done

cat >"$T/d.yaml" <<EOC
daemon: {pidfile: $T/d.pid, shm_name: /netspectra-spf-$$, state_dir: $T/state, log_level: info}
inputs:
  - {type: pcap, interface: vb, snaplen: 256, promisc: true, immediate: true, buffer_size: 16MiB}
prometheus: {enabled: true, listen: 127.0.0.1:$PP, top_k: 0}
api: {enabled: true, http_listen_addr: 127.0.0.1:$AP}
aggregator:
  period: 1s
  num_workers: 2
  exact:
    writers:
      - {type: clickhouse, snapshot_interval: 200ms,
         clickhouse: {host: 127.0.0.1, port: $CH_HTTP, node: spoolfull, timeout: 10s,
                      spool_dir: $SPOOL, spool_max: 1GiB}}
      - {type: nats, snapshot_interval: 200ms,
         nats: {url: '$NATS_URL', subject: spf$$, node: spoolfull, timeout: 2s,
                spool_dir: $SPOOL/nats, spool_max: 1GiB}}
    tasks:
      - {name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 100000}
EOC
check_config "$T/d.yaml"

# metric NAME [LABELS]: a value from /metrics ("" if absent); the labels
# are the writer's unless given ('' for none).
metric() {
	if [ $# -ge 2 ]; then _l=$2; else _l='{writer="exact.0"}'; fi
	in_ch curl -sS -m 5 "http://127.0.0.1:$PP/metrics" 2>/dev/null |
		sed -n "s/^$1$_l \([0-9.]*\)$/\1/p"
}
pkts() { metric netspectra_input_packets_total '{input="0"}'; }
pkts_at_least() { [ "$(pkts)" -ge "$1" ] 2>/dev/null; }
periods() { metric netspectra_exporter_periods_total '{exporter="files"}'; }
period_after() { awk -v s="$(metric netspectra_period_start_seconds '')" -v t="$1" 'BEGIN { exit !(s > t) }'; }
periods_at_least() { [ "$(periods)" -ge "$1" ] 2>/dev/null; }
# exported_past SECS: the period holding unix time SECS is closed and its
# final snapshot written (a period began after SECS; one more was exported
# after that was seen -- a period too many at most).
exported_past() {
	wait_for 30 period_after "$1" || fail "no period began after $1 within 30 s"
	_p=$(periods)
	wait_for 30 periods_at_least $((_p + 1)) || fail "no period exported within 30 s ($_p so far)"
}
# replay NAME: the trace into va; returns once the daemon has counted all
# its packets (input_packets_total), and the period of the last one has
# been exported.  Sets END to when the packets were all in.
replay() {
	_before=$(pkts) _rx0=$(rx)
	ip netns exec "$NSA" tcpreplay -q -i va --pps 4000 "$T/$1.pcap" >"$T/$1.replay" 2>&1 ||
		fail "tcpreplay $1: $(cat "$T/$1.replay")"
	wait_for 30 pkts_at_least $((_before + 6000)) ||
		fail "trace $1: the daemon counted $(( $(pkts) - _before )) of its 6000 packets;" \
		    "vb received $(( $(rx) - _rx0 )); tcpreplay: $(cat "$T/$1.replay"); $(tail -3 "$T/d.log")"
	END=$(date +%s.%N)
	exported_past "$END"
}
# nats_files: the NATS writer's snapshots waiting in its spool.
nats_files() { find "$SPOOL/nats" -type f ! -name '.*' 2>/dev/null | wc -l; }
nats_empty() { [ "$(nats_files)" = 0 ]; }
# check_drops LOG: no capture layer dropped a packet (the stop's summary).
check_drops() {
	_k=$(sed -n 's/.*kernel drops \([0-9]*\).*/\1/p' "$1")
	_r=$(sed -n 's/.*ring_full \([0-9]*\), table_full \([0-9]*\).*/\1 \2/p' "$1")
	[ "$_k" = 0 ] && [ "$_r" = "0 0" ] || fail "drops: kernel '$_k', ring_full/table_full '$_r'"
}

daemon_start "$NSB" "$T/d.yaml" "$T/d.log" "capturing on vb"
dpid=$DPID
wait_for 20 eval '[ -n "$(pkts)" ] && [ -n "$(periods)" ]' || fail "no input or exporter counters on /metrics"

# ---- A: spooled -------------------------------------------------------------
replay A
endA=$END
nA=$(spool_files "$SPOOL")
[ "$nA" -gt 0 ] || fail "server down: no batch in the spool after trace A"
[ "$(metric netspectra_export_errors_total)" -gt 0 ] || fail "server down: no export error counted"
[ "$(metric netspectra_export_dropped_rows_total)" = 0 ] || fail "rows dropped with room in the spool"
[ "$(nats_files)" -gt 0 ] || fail "NATS down: no snapshot in its spool after trace A"
[ "$(metric netspectra_export_dropped_rows_total '{writer="exact.1"}')" = 0 ] ||
	fail "NATS rows dropped with room in the spool"
echo "ok: A: servers down, $nA ClickHouse batches and $(nats_files) NATS snapshots spooled on the tmpfs"

# ---- B: the disk is full ---------------------------------------------------------
dd if=/dev/zero of="$SPOOL/filler" bs=64k 2>"$T/dd.err" &&
	fail "dd filled no disk: the spool's tmpfs has no size limit?"
grep -q "No space left" "$T/dd.err" || fail "dd: $(cat "$T/dd.err")"
ls -l "$SPOOL"/exact.0 >"$T/spoolA.ls"
spooled0=$(metric netspectra_export_spooled_rows_total)
pB0=$(pkts)
replay B
endB=$END
kill -0 "$dpid" 2>/dev/null || fail "the daemon died on a full disk: $(tail -5 "$T/d.log")"
lost=$(metric netspectra_export_dropped_rows_total)
tshark_flows "$T/B.pcap" "$T/B.flows"
fB=$(wc -l <"$T/B.flows")
[ "$lost" -ge "$fB" ] ||
	fail "disk full: $lost rows counted as dropped, fewer than B's $fB flows (each in one final at least)"
[ "$(metric netspectra_export_spooled_rows_total)" = "$spooled0" ] ||
	fail "disk full, yet the writer counts rows spooled ($spooled0 -> $(metric netspectra_export_spooled_rows_total))"
grep "clickhouse writer exact.0: final snapshot of generation" "$T/d.log" | grep -q "No space left on device" ||
	fail "no 'No space left on device' error in the log: $(grep -i clickhouse "$T/d.log" | tail -5)"
ls -l "$SPOOL"/exact.0 | cmp -s - "$T/spoolA.ls" || fail "A's spooled batches changed while the disk was full"
nlost=$(metric netspectra_export_dropped_rows_total '{writer="exact.1"}')
[ "$nlost" -ge "$fB" ] || fail "disk full: the NATS writer counts $nlost rows as dropped, fewer than B's $fB flows"
grep "nats writer exact.1: final snapshot of generation" "$T/d.log" | grep -q "No space left on device" ||
	fail "no 'No space left on device' error of the NATS writer in the log"
ip netns exec "$NSB" "$NETSPECTRA" status -c "$T/d.yaml" >"$T/status" 2>&1 ||
	fail "netspectra status: $(cat "$T/status")"
grep "exact.0" "$T/status" | grep -qi "dropped" || fail "netspectra status shows no dropped rows: $(cat "$T/status")"
echo "ok: B: disk full: the daemon counted all $(( $(pkts) - pB0 )) packets and kept running, logged 'No space left on device', $lost ClickHouse and $nlost NATS rows counted as dropped ($fB flows), A's batches untouched"

# ---- C: space and the server are back ------------------------------------------
rm -f "$SPOOL/filler"
ch_start
nats_start
wait_for 60 spool_empty "$SPOOL" || fail "A's batches still spooled 60 s after the server came back"
wait_for 60 nats_empty || fail "A's NATS snapshots still spooled 60 s after nats-server came back"
replay C
wait_for 60 spool_empty "$SPOOL" || fail "C's batches still spooled after 60 s"
wait_for 60 nats_empty || fail "C's NATS snapshots still spooled after 60 s"
[ "$(metric netspectra_export_dropped_rows_total '{writer="exact.1"}')" = "$nlost" ] ||
	fail "NATS rows dropped after the disk had room again"
n_sp=$(metric netspectra_export_spooled_rows_total '{writer="exact.1"}')
[ "$(metric netspectra_export_rows_total '{writer="exact.1"}')" = "$n_sp" ] ||
	fail "NATS: $n_sp rows spooled, $(metric netspectra_export_rows_total '{writer="exact.1"}') sent"
[ "$(metric netspectra_export_dropped_rows_total)" = "$lost" ] ||
	fail "rows dropped after the disk had room again ($lost -> $(metric netspectra_export_dropped_rows_total))"

# ---- exactness ------------------------------------------------------------------
mergecap -a -w "$T/AC.pcap" "$T/A.pcap" "$T/C.pcap" || fail "mergecap"
tshark_flows "$T/AC.pcap" "$T/AC.flows"
read -r t_pk t_by t_fl <<EOF
$(awk -F'\t' '{ p += $7; b += $8; n++ } END { printf "%d %d %d\n", p, b, n }' "$T/AC.flows")
EOF
wait_for 20 api_up || fail "the API does not answer"
got=$(api_py aggregate per_five_tuple) || fail "API aggregate"
[ "$got" = "$t_pk $t_by $t_fl" ] ||
	fail "API aggregate packets bytes flows: $got; tshark of A and C: $t_pk $t_by $t_fl"
api_py trace per_five_tuple "$T/AC.flows" 30 >/dev/null || fail "traced flows differ from tshark"
ch_query "SELECT count() FROM flow_metrics WHERE PeriodStart > toDateTime(${endA%.*}) AND PeriodStart <= toDateTime(${endB%.*})"
[ "$CH_R" = 0 ] || fail "ClickHouse holds $CH_R rows of B's periods, all counted as dropped"
ch_query "SELECT count() FROM flow_metrics"
sent=$(metric netspectra_export_rows_total)
spooled=$(metric netspectra_export_spooled_rows_total)
[ "$CH_R" = "$sent" ] && [ "$sent" = "$spooled" ] ||
	fail "ClickHouse holds $CH_R rows; the writer spooled $spooled and had $sent acknowledged"
daemon_stop "$dpid" "$T/d.log"
check_drops "$T/d.log"
echo "ok: API totals = tshark of A and C: $t_pk packets, $t_by bytes, $t_fl flows; no row of B; ClickHouse holds the $spooled spooled rows once each; no packet dropped"
