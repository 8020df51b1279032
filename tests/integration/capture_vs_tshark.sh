#!/bin/sh
# capture_vs_tshark.sh -- record real traffic (curl, http.server, ping, UDP
# senders) with tcpdump on lo, on a veth carrying VLAN-tagged frames, and on
# "any" (Linux cooked v1 and v2), then check netspectra's parser against
# tshark packet by packet.  (VLAN stacks are covered by pcapgen traces in
# parse_vs_tshark.sh, since not every kernel here has 802.1Q.)
. "$(dirname "$0")/lib.sh"
need_root
need tshark tcpdump curl python3 socat ping ip ss
ns_tmpdir

# Loopback only, in a namespace of its own: IPv4 and IPv6 over lo.
ns_alone
ns_record "$NSA" "$T/lo.pcap" -i lo
ns_traffic "$NSA" "$NSA" 127.0.0.1 ::1
ns_record_stop "$NSA" "$T/lo.pcap" 127.0.0.1
compare_dump "$T/lo.pcap"

# Two hosts on a veth pair, untagged and on VLAN 100.
ns_pair
ns_record "$NSA" "$T/veth.pcap" -i va
vlan_addrs=
[ "$NS_VLAN" = 1 ] && vlan_addrs="10.200.100.2 fd00:200:100::2"
ns_traffic "$NSA" "$NSB" 10.200.0.2 fd00:200::2 $vlan_addrs
ns_record_stop "$NSA" "$T/veth.pcap" 10.200.0.2
compare_dump "$T/veth.pcap"

# "any": Linux cooked capture, both versions of the header.
for sll in LINUX_SLL LINUX_SLL2; do
	f="$T/any-$sll.pcap"
	ns_record "$NSA" "$f" -i any -y "$sll"
	ns_traffic "$NSA" "$NSB" 10.200.0.2 fd00:200::2
	ns_traffic "$NSA" "$NSA" 127.0.0.1 ::1
	ns_record_stop "$NSA" "$f" 10.200.0.2
	compare_dump "$f"
done
