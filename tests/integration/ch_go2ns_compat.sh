#!/bin/sh
# ch_go2ns_compat.sh -- Go2NetSpectra's configuration and queries work
# unchanged.  netspectrad runs on Go2NetSpectra's configs/config.yaml
# (tests/data/config/go2netspectra.yaml, identical to the shared reference)
# with only its ${CLICKHOUSE_*} variables set, pointing at a scratch
# clickhouse-server.  The file names no input and no daemon paths, so it
# gets the defaults: a live capture on the interface of the default route,
# shared memory /netspectra, state (spool) in /var/lib/netspectra.  The
# daemon runs in a network namespace whose default route goes out of a
# veth end (the capture), and in a mount namespace of its own with a
# private /dev/shm and a scratch directory over /var/lib/netspectra, so the
# defaults touch nothing of the machine's.  tcpreplay sends a pcapgen trace
# plus one heavy flow 10.0.0.1:40000 -> 10.0.0.2:443 (5000 packets of 1000
# bytes) into the capture; after SIGTERM the tables netspectra created
# carry Go2NetSpectra's columns with its types, and its three queries
# (shared/reference/go2netspectra-clickhouse.sql, copied as
# tests/data/go2netspectra-clickhouse.sql) run unchanged on them: the
# aggregate equals tshark's totals (one 720 h period: its argMax is right
# here), the trace of 10.0.0.1 -> :443 gives the heavy flow's counts, and
# the heavy hitters of cm_src_left put 10.0.0.1 first.  Rows name the host
# as their node (the default).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
. "$(dirname "$0")/ch_lib.sh"
need_ch
need tcpreplay tshark mergecap unshare
ns_tmpdir

G2N_CFG=$NS_TEST_DATA/config/go2netspectra.yaml
[ -r "$G2N_CFG" ] || fail "missing $G2N_CFG"
if [ -r /work/shared/reference/go2netspectra-config.yaml ]; then
	cmp -s "$G2N_CFG" /work/shared/reference/go2netspectra-config.yaml ||
		fail "$G2N_CFG differs from the shared reference"
fi

ns_bare_pair
ip -n "$NSB" addr add 10.200.0.2/24 dev vb || fail "address on vb"
ip -n "$NSB" route add default via 10.200.0.1 dev vb || fail "default route via vb"
ch_setup "$NSB"
ch_start

# The trace: pcapgen's, then the heavy flow (Ethernet, IPv4, TCP, 1000-byte
# frames), concatenated.
"$PCAPGEN" -o "$T/mix.pcap" -n 5000 -f 500 -s 145 --ipv6 0.2 \
	--proto-mix tcp=70,udp=20,icmp=10 2>/dev/null || fail "pcapgen"
python3 - "$T/heavy.pcap" <<'EOP' || fail "writing the heavy flow"
import socket, struct, sys

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

src, dst = socket.inet_aton("10.0.0.1"), socket.inet_aton("10.0.0.2")
out = open(sys.argv[1], "wb")
out.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
for i in range(5000):
    payload = bytes(1000 - 14 - 20 - 20)
    tcp = struct.pack("!HHIIBBHHH", 40000, 443, 1000 + i * len(payload), 1,
                      5 << 4, 0x18, 65535, 0, 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xffff, 0x4000,
                     64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    frame = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00" + ip + tcp
    assert len(frame) == 1000
    out.write(struct.pack("<IIII", 1767225600 + i // 1000, (i % 1000) * 1000,
                          len(frame), len(frame)) + frame)
EOP
mergecap -a -F pcap -w "$T/trace.pcap" "$T/mix.pcap" "$T/heavy.pcap" || fail "mergecap"
read -r t_pk t_by <<EOF
$(tshark_totals "$T/trace.pcap")
EOF
tshark_flows "$T/trace.pcap" "$T/tshark.flows"
t_fl=$(wc -l <"$T/tshark.flows")
heavy=$(awk -F'\t' '$2 == "10.0.0.1" && $5 == 443 { print $7, $8 }' "$T/tshark.flows")
[ "$heavy" = "5000 5000000" ] || fail "tshark reads the heavy flow as '$heavy'"

# The reference file, unchanged; its variables for the test server.
CLICKHOUSE_HOST=127.0.0.1 CLICKHOUSE_PORT=$CH_HTTP CLICKHOUSE_DB=default
CLICKHOUSE_USERNAME=$CH_USER CLICKHOUSE_PASSWORD=$CH_PASSWORD
export CLICKHOUSE_HOST CLICKHOUSE_PORT CLICKHOUSE_DB CLICKHOUSE_USERNAME CLICKHOUSE_PASSWORD
"$NETSPECTRAD" -t -c "$G2N_CFG" >"$T/effective.yaml" 2>"$T/t.err" ||
	fail "netspectrad -t on Go2NetSpectra's config: $(cat "$T/t.err")"
grep -q "port: $CH_HTTP$" "$T/effective.yaml" || fail "CLICKHOUSE_PORT not in the effective config: $(grep -A6 'clickhouse:' "$T/effective.yaml")"

# Its default state directory, over a scratch one in the daemon's own
# mount namespace (created here if the machine lacks it, removed after).
if [ ! -d /var/lib/netspectra ]; then
	mkdir -p /var/lib/netspectra || fail "mkdir /var/lib/netspectra"
	ns_at_exit "rmdir /var/lib/netspectra"
fi
mkdir -p "$T/state"
ip netns exec "$NSB" unshare -m --propagation private sh -c \
	'mount -t tmpfs -o mode=1777 tmpfs /dev/shm && mount --bind "$1" /var/lib/netspectra &&
	 exec "$2" -f -c "$3" -p "$4"' sh "$T/state" "$NETSPECTRAD" "$G2N_CFG" "$T/d.pid" \
	>"$T/d.log" 2>&1 &
DPID=$!
ns_at_exit "kill -9 $DPID 2>/dev/null"
wait_for 30 grep -q "capturing on vb" "$T/d.log" ||
	fail "netspectrad on Go2NetSpectra's config did not start capturing on vb (the default route's interface): $(tail -20 "$T/d.log")"
rx0=$(rx)
ip netns exec "$NSA" tcpreplay -q -i va --pps 10000 "$T/trace.pcap" >"$T/replay.log" 2>&1 ||
	fail "tcpreplay: $(cat "$T/replay.log")"
sent=$(tshark -r "$T/trace.pcap" -T fields -e frame.number 2>/dev/null | wc -l)
wait_for 10 rx_at_least "$rx0" "$sent" ||
	fail "vb received fewer than $sent packets"
daemon_stop "$DPID" "$T/d.log"
drops=$(sed -n 's/.*kernel drops \([0-9]*\).*/\1/p' "$T/d.log")
ring=$(sed -n 's/.*ring_full \([0-9]*\), table_full \([0-9]*\).*/\1 \2/p' "$T/d.log")
[ "$drops" = 0 ] && [ "$ring" = "0 0" ] || fail "drops: kernel '$drops', ring_full/table_full '$ring'"
spool_empty "$T/state" || fail "$(spool_files "$T/state") batches left in the spool (/var/lib/netspectra/spool) at the stop: $(tail -5 "$T/d.log")"
[ -d "$T/state/spool" ] || fail "no spool under the default state_dir: $(find "$T/state" | head)"
echo "ok: netspectrad ran Go2NetSpectra's config.yaml unchanged (CLICKHOUSE_* set): captured $sent packets on the default route's interface, no drop, everything delivered"

# ---- the tables: Go2NetSpectra's columns, with its types --------------------
python3 - "$NS_TEST_DATA/go2netspectra-clickhouse.sql" >"$T/g2n.columns" <<'EOP' || fail "reading the reference DDL"
import re, sys
sql = open(sys.argv[1]).read()
for table, body in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\) ENGINE", sql, re.S):
    for line in body.strip().splitlines():
        name, typ = line.strip().rstrip(",").split(None, 1)
        print("%s\t%s\t%s" % (table, name, typ))
EOP
[ "$(wc -l <"$T/g2n.columns")" = 16 ] || fail "the reference DDL: $(cat "$T/g2n.columns")"
for table in flow_metrics heavy_hitters; do
	ch_query "DESCRIBE TABLE $table"
	printf '%s\n' "$CH_R" | awk -F'\t' -v t="$table" '{ print t "\t" $1 "\t" $2 }' >>"$T/ns.columns"
done
missing=$(grep -vxFf "$T/ns.columns" "$T/g2n.columns")
[ -z "$missing" ] || fail "columns of Go2NetSpectra's tables missing or of another type in netspectra's: $missing"
ch_query "SELECT groupUniqArray(Node) FROM flow_metrics"
[ "$CH_R" = "['$(hostname)']" ] || fail "Node $CH_R, want the host name ['$(hostname)'] (node unset)"
echo "ok: flow_metrics and heavy_hitters as netspectra created them have Go2NetSpectra's 16 columns with its types (and Node = the host name)"

# ---- Go2NetSpectra's queries, unchanged -----------------------------------
# Their example values: task per_five_tuple and cm_src_left (the config's),
# DstPort 443 and SrcIP 10.0.0.1 (the heavy flow), up to 2030-01-01.
g2n_sql LatestByteCount >"$T/agg.sql" || fail "no aggregate query"
g2n_sql "max(PacketCount)" >"$T/trace.sql" || fail "no trace query"
g2n_sql LatestValue >"$T/hh.sql" || fail "no heavy-hitter query"
# g2n_queries WHERE: the three, on the tables in database $CH_DB.
g2n_queries() {
	ch_query "$(cat "$T/agg.sql")"
	[ "$CH_R" = "per_five_tuple	$t_by	$t_pk	$t_fl" ] ||
		fail "$1: Go2NetSpectra's aggregate query: '$CH_R', tshark: per_five_tuple $t_by bytes $t_pk packets $t_fl flows"
	ch_query "$(cat "$T/trace.sql")"
	read -r first_d first_t last_d last_t tp tb <<EOF
$CH_R
EOF
	[ "$tp $tb" = "5000 5000000" ] || fail "$1: Go2NetSpectra's trace query: '$CH_R', want 5000 packets, 5000000 bytes"
	[ "${first_d%%-*}" -ge 2020 ] && [ "${last_d%%-*}" -ge 2020 ] || fail "$1: Go2NetSpectra's trace query: times '$CH_R'"
	ch_query "$(cat "$T/hh.sql")"
	read -r hflow hval <<EOF
$CH_R
EOF
	[ "$hflow" = 10.0.0.1 ] && [ "$hval" -ge 5000 ] && [ "$hval" -le "$t_pk" ] ||
		fail "$1: Go2NetSpectra's heavy-hitter query (cm_src_left, count): '$(echo "$CH_R" | head -3)', want 10.0.0.1 first with at least 5000"
}
g2n_queries "tables netspectra created"
echo "ok: Go2NetSpectra's three queries run unchanged: aggregate = tshark ($t_pk packets, $t_by bytes, $t_fl flows), trace of 10.0.0.1 -> :443 = 5000 packets / 5000000 bytes ($first_d $first_t .. $last_d $last_t), heavy hitter #1 of cm_src_left = 10.0.0.1 ($hval packets)"

# ---- Go2NetSpectra's own tables, already there ------------------------------
# Made from its DDL in a database of their own, empty: netspectra adds its
# columns to them and writes; the queries still run and still add up.  (A
# file input, so a config of the test's, with the reference's tasks; final
# snapshots only: a live one in the same second as the final would make
# argMax over Timestamp, which has whole seconds, pick either.)
ch_query "CREATE DATABASE g2n"
CH_DB=g2n
python3 - "$NS_TEST_DATA/go2netspectra-clickhouse.sql" "$T/ddl" <<'EOP' || fail "the reference DDL"
import re, sys
sql = open(sys.argv[1]).read()
for i, q in enumerate(re.findall(r"CREATE TABLE IF NOT EXISTS .*?;", sql, re.S)):
    open("%s.%d" % (sys.argv[2], i), "w").write(q.rstrip(";"))
EOP
for f in "$T"/ddl.*; do ch_query "$(cat "$f")"; done
_ch="clickhouse: {host: 127.0.0.1, port: $CH_HTTP, database: g2n, username: $CH_USER, password: \"$CH_PASSWORD\"}"
cat >"$T/old.yaml" <<EOC
daemon: {pidfile: $T/old.pid, shm_name: /netspectra-g2n-$$, state_dir: $T/state-old, log_level: info}
inputs: [{type: file, path: $T/trace.pcap}]
prometheus: {enabled: false}
aggregator:
  period: 720h
  num_workers: 2
  exact:
    writers: [{type: clickhouse, snapshot_interval: 720h, $_ch}]
    tasks:
      - {name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 100000}
  sketch:
    writers: [{type: clickhouse, snapshot_interval: 720h, $_ch}]
    tasks:
      - {name: cm_src_left, skt_type: 0, flow_fields: [SrcIP], element_fields: [DstIP, SrcPort, DstPort, Protocol],
         width: 32768, depth: 2, size_thereshold: 4096000, count_thereshold: 4096}
EOC
ns_at_exit "rm -f /dev/shm/netspectra-g2n-$$ /dev/shm/netspectra-g2n-$$.lock"
check_config "$T/old.yaml"
ip netns exec "$NSB" "$NETSPECTRAD" -f -c "$T/old.yaml" >"$T/old.log" 2>&1 ||
	fail "netspectrad on Go2NetSpectra's existing tables: $(tail -5 "$T/old.log")"
spool_empty "$T/state-old" || fail "batches left in the spool: $(grep -i clickhouse "$T/old.log" | tail -3)"
for table in flow_metrics heavy_hitters; do
	ch_query "SELECT count() FROM system.columns WHERE database = 'g2n' AND table = '$table' AND name IN ('PeriodStart', 'Final', 'Node')"
	[ "$CH_R" = 3 ] || fail "g2n.$table: $CH_R of PeriodStart, Final, Node added"
done
g2n_queries "Go2NetSpectra's existing tables"
echo "ok: on Go2NetSpectra's own (empty) tables, netspectra added its columns and wrote; the three queries run unchanged and add up as above"
