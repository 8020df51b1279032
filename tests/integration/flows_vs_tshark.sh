#!/bin/sh
# flows_vs_tshark.sh -- the exact 5-tuple task against tshark, flow by flow:
# `netspectra analyze --flows jsonl` on the sample capture, on pcapgen
# traces (Ethernet with IPv4, IPv6, VLAN and QinQ stacks, fragments, IPv6
# extension headers, ICMP and SCTP; raw IP), on a trace with malformed
# packets (against pcapgen's ground truth) and on real traffic recorded with
# tcpdump on lo and on "any".  Every flow's packets, bytes, first and last
# seen and TCP flags, summed over periods, equal what tshark's fields add up
# to: zero differences, and no flow missing on either side.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
need tshark
need_flows
ns_tmpdir

# Periods of 1 s cut every trace into several, so the sums cross boundaries.
flows_config "$T/flows.yaml" 1s 2

cp "$NS_SRCDIR/contrib/sample.pcap" "$T/sample.pcap"
compare_flows "$T/flows.yaml" "$T/sample.pcap" 1

mix="--proto-mix tcp=55,udp=25,icmp=10,sctp=10 --ipv6 0.3"
"$PCAPGEN" -o "$T/eth.pcap" -n 50000 -f 3000 -s 11 --link en10mb $mix \
	--vlan 0.2 --qinq 0.1 --frag 0.05 --ext6 0.2 2>/dev/null || fail "pcapgen eth"
compare_flows "$T/flows.yaml" "$T/eth.pcap" 1000

"$PCAPGEN" -o "$T/raw.pcap" -n 50000 -f 3000 -s 12 --link raw $mix \
	--frag 0.05 --ext6 0.2 2>/dev/null || fail "pcapgen raw"
compare_flows "$T/flows.yaml" "$T/raw.pcap" 1000

# Header-only capture, nanosecond timestamps.
"$PCAPGEN" -o "$T/snap.pcap" -n 50000 -f 3000 -s 13 --link en10mb $mix \
	--vlan 0.2 --snaplen 96 --nsec 2>/dev/null || fail "pcapgen snaplen"
compare_flows "$T/flows.yaml" "$T/snap.pcap" 1000

# Malformed packets are not flows: the flows are pcapgen's ground truth
# (no fragments here: the truth file gives later fragments their flow's
# ports).  tshark still dissects part of a broken packet, so it is not the
# oracle for this one.
"$PCAPGEN" -o "$T/bad.pcap" -n 50000 -f 3000 -s 14 --link en10mb $mix \
	--vlan 0.2 --ext6 0.2 --malformed 0.02 --truth "$T/bad.truth" 2>"$T/bad.err" ||
	fail "pcapgen malformed"
grep -q 'malformed [1-9]' "$T/bad.err" || fail "pcapgen made no malformed packet: $(cat "$T/bad.err")"
flows_py truth "$T/bad.truth" >"$T/bad.tflows" || fail "reading the truth file"
analyze_flows "$T/flows.yaml" "$T/bad.pcap" "$T/bad.jsonl" || fail "analyze failed on bad.pcap: $(cat "$T/bad.jsonl.err")"
flows_py ns per_five_tuple "$T/bad.jsonl" >"$T/bad.nflows" || fail "bad.pcap: bad flow output"
n=$(flows_py diff "$T/bad.tflows" "$T/bad.nflows" packets bytes) ||
	fail "bad.pcap: flows differ from pcapgen's truth (< truth, > netspectra)"
[ "$n" = "$(wc -l <"$T/bad.truth")" ] && [ "$n" -ge 1000 ] || fail "bad.pcap: $n flows compared"
echo "ok: $T/bad.pcap: $n flows identical to pcapgen's truth, malformed packets left out"

# Real programs talking, recorded on lo and on "any" (Linux cooked v2).
need_root
need tcpdump curl socat ping ip ss
ns_alone
ns_record "$NSA" "$T/lo.pcap" -i lo
ns_traffic "$NSA" "$NSA" 127.0.0.1 ::1
ns_record_stop "$NSA" "$T/lo.pcap" 127.0.0.1
compare_flows "$T/flows.yaml" "$T/lo.pcap" 10

ns_pair
ns_record "$NSA" "$T/any.pcap" -i any -y LINUX_SLL2
ns_traffic "$NSA" "$NSB" 10.200.0.2 fd00:200::2
ns_traffic "$NSA" "$NSA" 127.0.0.1 ::1
ns_record_stop "$NSA" "$T/any.pcap" 10.200.0.2
compare_flows "$T/flows.yaml" "$T/any.pcap" 20
