#!/bin/sh
# make-sample.sh -- record contrib/sample.pcap, the capture the README's
# first command analyzes: real programs (curl against python's http.server,
# ping, UDP datagrams to a closed port) between two network namespaces over a
# veth pair (and on 802.1Q VLAN 100 where the kernel has it), IPv4 and IPv6.
# Run as root from the source tree: sh contrib/make-sample.sh [OUT]
out=${1:-contrib/sample.pcap}
NS_SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
. "$NS_SRCDIR/tests/integration/lib.sh"
need_root
need tcpdump curl python3 socat ping ip ss
ns_tmpdir
ns_pair
ns_record "$NSA" "$T/sample.pcap" -i va
vlan_addrs=
[ "$NS_VLAN" = 1 ] && vlan_addrs="10.200.100.2 fd00:200:100::2"
ns_traffic "$NSA" "$NSB" 10.200.0.2 fd00:200::2 $vlan_addrs
ns_record_stop "$NSA" "$T/sample.pcap" 10.200.0.2
cp "$T/sample.pcap" "$out"
echo "wrote $out: $(tcpdump -r "$out" 2>/dev/null | wc -l) packets, $(wc -c <"$out") bytes"
