#!/bin/sh
# ch_two_nodes.sh -- two engines, one table.  A pcapgen trace of 3 s is
# split packet by packet (odd frames, even frames), so that every flow of
# every period is seen by both halves; two netspectrad instances (own shared
# memory, pidfile and state directory; node a and node b) each read one half
# as a file input, with 1 s periods, writing to the same scratch
# clickhouse-server.  The API's totals then equal tshark's for the whole
# trace, and so do its traces of flows, while keeping only the latest row
# per key across nodes (Go2NetSpectra's way, one engine overwriting the
# other) does not: the test can tell.
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
AP=$(ch_free_port 19700)
API_URL=http://127.0.0.1:$AP
ns_at_exit "rm -f /dev/shm/netspectra-ch2-$$-*"

"$PCAPGEN" -o "$T/trace.pcap" -n 40000 -f 3000 -s 142 --duration 3 --ipv6 0.3 --vlan 0.1 \
	--proto-mix tcp=60,udp=25,icmp=10,sctp=5 2>/dev/null || fail "pcapgen"
# Odd and even frames of a classic pcap file: 24 bytes of file header,
# then records of a 16-byte header (caplen at offset 8) and the frame.
python3 - "$T/trace.pcap" "$T/a.pcap" "$T/b.pcap" <<'EOP' || fail "splitting the trace"
import struct, sys
data = open(sys.argv[1], "rb").read()
magic = data[:4]
end = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
outs = [open(p, "wb") for p in sys.argv[2:4]]
for o in outs:
    o.write(data[:24])
off, n = 24, 0
while off < len(data):
    caplen = struct.unpack(end + "I", data[off + 8:off + 12])[0]
    outs[n % 2].write(data[off:off + 16 + caplen])
    off += 16 + caplen
    n += 1
assert off == len(data) and n > 0
EOP

# cfg NAME NODE INPUT API: a daemon's config into $T/NAME.yaml.
cfg() {
	cat >"$T/$1.yaml" <<EOC
daemon: {pidfile: $T/$1.pid, shm_name: /netspectra-ch2-$$-$1, state_dir: $T/state-$1, log_level: info}
inputs: [$3]
prometheus: {enabled: false}
api: {enabled: $4, http_listen_addr: 127.0.0.1:$AP}
aggregator:
  period: 1s
  num_workers: 2
  exact:
    writers:
      - type: clickhouse
        snapshot_interval: 200ms
        clickhouse: {host: 127.0.0.1, port: $CH_HTTP, database: default, username: default, password: "", node: $2}
    tasks:
      - {name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 100000}
      - {name: per_proto, key_fields: [Protocol], max_flows: 1000}
EOC
	check_config "$T/$1.yaml"
}
cfg a a "{type: file, path: $T/a.pcap}" false
cfg b b "{type: file, path: $T/b.pcap}" false
cfg api api "{type: pcap, interface: idle0, snaplen: 128}" true

# Both engines at once; each stops by itself at the end of its file.
for n in a b; do
	ip netns exec "$NSA" "$NETSPECTRAD" -f -c "$T/$n.yaml" >"$T/$n.log" 2>&1 &
	eval "pid_$n=\$!"
	ns_at_exit "kill -9 $! 2>/dev/null"
done
for n in a b; do
	eval "p=\$pid_$n"
	wait_for 60 eval "! kill -0 $p 2>/dev/null" || fail "node $n did not stop by itself: $(tail -5 "$T/$n.log")"
	wait "$p" || fail "node $n exited non-zero: $(cat "$T/$n.log")"
done
daemon_start "$NSA" "$T/api.yaml" "$T/api.log" "capturing on idle0"
wait_for 20 api_up || fail "the API does not answer GET /: $(tail -5 "$T/api.log")"
for n in a b; do
	wait_for 30 spool_empty "$T/state-$n" ||
		fail "node $n: $(spool_files "$T/state-$n") batches still spooled"
done

tshark_flows "$T/trace.pcap" "$T/tshark.flows"
read -r t_pk t_by t_fl <<EOF
$(awk -F'\t' '{ p += $7; b += $8; n++ } END { printf "%d %d %d\n", p, b, n }' "$T/tshark.flows")
EOF
t_pr=$(cut -f6 "$T/tshark.flows" | sort -u | wc -l)

# Both nodes wrote every period; a flow's key shows up under both.
ch_query "SELECT Node, uniqExact(PeriodStart) FROM flow_metrics WHERE Final = 1 GROUP BY Node ORDER BY Node"
[ "$(echo "$CH_R" | tr '\t\n' ' ')" = "a 3 b 3 " ] ||
	fail "final rows per node and period: $(echo "$CH_R" | tr '\t\n' ' '), want 3 periods of both a and b"
# Keeping one row per key across the nodes loses packets: overwriting
# engines would be seen.
ch_query "SELECT sum(p) FROM (SELECT max(PacketCount) AS p FROM flow_metrics WHERE TaskName = 'per_five_tuple' GROUP BY PeriodStart, SrcIP, DstIP, SrcPort, DstPort, Protocol)"
[ "$CH_R" -lt "$t_pk" ] || fail "one row per key across nodes gives $CH_R packets, tshark $t_pk: the halves do not overlap, the test cannot tell"
lost=$((t_pk - CH_R))
# Read per the contract (max per node, period, generation and key,
# summed), the table holds the whole trace: what the API must answer.
ch_query "SELECT sum(p), sum(b) FROM (SELECT max(PacketCount) AS p, max(ByteCount) AS b FROM flow_metrics WHERE TaskName = 'per_five_tuple' GROUP BY Node, PeriodStart, Generation, SrcIP, DstIP, SrcPort, DstPort, Protocol)"
[ "$(echo "$CH_R" | tr '\t' ' ')" = "$t_pk $t_by" ] ||
	fail "flow_metrics read per the contract: $CH_R, tshark $t_pk $t_by"

got=$(api_py aggregate per_five_tuple) || fail "aggregate per_five_tuple"
[ "$got" = "$t_pk $t_by $t_fl" ] ||
	fail "aggregate per_five_tuple over nodes a and b: packets bytes flows $got, tshark $t_pk $t_by $t_fl"
got=$(api_py aggregate per_proto) || fail "aggregate per_proto"
[ "$got" = "$t_pk $t_by $t_pr" ] ||
	fail "aggregate per_proto over nodes a and b: packets bytes flows $got, tshark $t_pk $t_by $t_pr"
n=$(api_py trace per_five_tuple "$T/tshark.flows" 50) || fail "/api/v1/flows/trace over two nodes differs from tshark"
echo "ok: two engines (node a, node b), each with every other packet of a 3 s trace: the API's totals = tshark's ($t_pk packets, $t_by bytes, $t_fl flows; per protocol too) and $n traced flows; one row per key across nodes would lose $lost packets"
daemon_stop "$DPID" "$T/api.log"
