#!/bin/sh
# parse_vs_tshark.sh -- netspectra's parser against tshark, packet by packet,
# on the shipped sample capture and on pcapgen traces of both link types
# (VLAN and QinQ stacks, IPv6 extension headers, IPv4 fragments, ICMP, SCTP,
# header-only captures).  A malformed trace checks that every broken packet
# is counted and skipped while every sound one still matches tshark.
. "$(dirname "$0")/lib.sh"
need tshark
ns_tmpdir

cp "$NS_SRCDIR/contrib/sample.pcap" "$T/sample.pcap"
compare_dump "$T/sample.pcap"

mix="--proto-mix tcp=55,udp=25,icmp=10,sctp=10 --ipv6 0.3"
"$PCAPGEN" -o "$T/eth.pcap" -n 20000 -f 2000 -s 7 --link en10mb $mix \
	--vlan 0.2 --qinq 0.1 --frag 0.05 --ext6 0.2 2>/dev/null || fail "pcapgen eth"
compare_dump "$T/eth.pcap"

"$PCAPGEN" -o "$T/raw.pcap" -n 20000 -f 2000 -s 8 --link raw $mix \
	--frag 0.05 --ext6 0.2 2>/dev/null || fail "pcapgen raw"
compare_dump "$T/raw.pcap"

"$PCAPGEN" -o "$T/snap.pcap" -n 20000 -f 2000 -s 9 --link en10mb $mix \
	--vlan 0.2 --snaplen 96 --nsec 2>/dev/null || fail "pcapgen snaplen"
compare_dump "$T/snap.pcap"

# Malformed packets: netspectra skips exactly those pcapgen broke, and the
# rest match tshark.
"$PCAPGEN" -o "$T/bad.pcap" -n 20000 -f 2000 -s 10 --link en10mb $mix \
	--malformed 0.02 2>"$T/bad.err" || fail "pcapgen malformed"
"$NETSPECTRA" dump "$T/bad.pcap" >"$T/bad.ns" || fail "dump malformed"
want=$(sed -n 's/.*malformed[^0-9]*\([0-9][0-9]*\).*/\1/p' "$T/bad.err" | head -1)
got=$(grep -c '	!' "$T/bad.ns")
[ -n "$want" ] && [ "$want" -gt 0 ] || fail "pcapgen reported no malformed count: $(cat "$T/bad.err")"
[ "$got" = "$want" ] || fail "netspectra skipped $got malformed packets, pcapgen made $want"
tshark_dump "$T/bad.pcap" >"$T/bad.tshark"
grep -v '	!' "$T/bad.ns" >"$T/bad.ok"
# tshark still prints what it can of a broken packet; compare the others.
cut -f1 "$T/bad.ok" >"$T/bad.frames"
awk -F'\t' 'NR == FNR { ok[$1] = 1; next } ok[$1]' "$T/bad.frames" "$T/bad.tshark" >"$T/bad.tshark.ok"
diff -u "$T/bad.tshark.ok" "$T/bad.ok" >/dev/null || fail "sound packets of the malformed trace differ from tshark"
[ "$(wc -l <"$T/bad.ok")" -gt 15000 ] || fail "too few sound packets in the malformed trace"
echo "ok: malformed trace: $got skipped as pcapgen made them, $(wc -l <"$T/bad.ok") identical to tshark"
