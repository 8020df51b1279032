# tshark_dump.awk -- turn tshark's field output (see lib.sh) into the format
# of `netspectra dump`.  The protocol is the first transport layer after the
# outer IP header in frame.protocols (so an ICMP error quoting a UDP header is
# ICMP, ports 0); ports come only from TCP, UDP and SCTP.
function first(s,   a) { split(s, a, ","); return a[1] }
function last(s,   n, a) { n = split(s, a, ","); return a[n] }
BEGIN {
	num["tcp"] = 6; num["udp"] = 17; num["sctp"] = 132
	num["icmp"] = 1; num["icmpv6"] = 58; num["esp"] = 50; num["gre"] = 47
	num["igmp"] = 2; num["ospf"] = 89; num["pim"] = 103; num["vrrp"] = 112
	ext["ipv6.hopopts"] = 16; ext["ipv6.dstopts"] = 17
	ext["ipv6.routing"] = 18; ext["ipv6.fraghdr"] = 19; ext["ah"] = 20
}
{
	n = split($3, layers, ":")
	ipi = 0
	for (i = 1; i <= n; i++)
		if (layers[i] == "ip" || layers[i] == "ipv6") { ipi = i; break }
	if (ipi == 0)
		next
	v6 = layers[ipi] == "ipv6"
	proto = ""; lastext = ""
	for (i = ipi + 1; i <= n; i++) {
		if (layers[i] in num) { proto = layers[i]; break }
		if (layers[i] in ext) lastext = layers[i]
		else if (v6 || layers[i] != "ah") break
	}
	if (proto != "")
		p = num[proto]
	else if (lastext != "")
		p = first($(ext[lastext]))
	else
		p = v6 ? first($9) : first($8)
	sp = dp = 0
	if (proto == "tcp") { sp = first($10); dp = first($11) }
	if (proto == "udp") { sp = first($12); dp = first($13) }
	if (proto == "sctp") { sp = first($14); dp = first($15) }
	src = v6 ? first($6) : first($4)
	dst = v6 ? first($7) : first($5)
	printf "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", $1, src, dst, sp, dp, p, $2
}
