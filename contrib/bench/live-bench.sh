#!/bin/bash
# live-bench.sh -- the highest replay rate netspectrad takes with zero drops
# at every layer (kernel, ring_full, table_full, and packets counted equal
# to packets sent), beside softflowd on the same veth in the same run.
#
# Two network namespaces joined by a bare veth (no addresses, IPv6 off);
# tcpreplay sends a pcapgen trace from one end at a fixed rate, the tool
# captures on the other.  Rates double from BENCH_RATE0 until a run drops,
# then the last clean rate is reported.  Needs root, tcpreplay, softflowd.
#
# Environment: NS_BUILDDIR, BENCH_PACKETS [200000], BENCH_RATE0 [25000],
# BENCH_RATE_MAX [1600000], BENCH_KEEP=1.
set -eu
src=${NS_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${NS_BUILDDIR:-$src/build}
packets=${BENCH_PACKETS:-200000} rate0=${BENCH_RATE0:-25000} rmax=${BENCH_RATE_MAX:-1600000}
T=$(mktemp -d "${TMPDIR:-/tmp}/ns-live-bench.XXXXXX")
NSA=lba-$$ NSB=lbb-$$
cleanup() {
	pkill -f "netspectra-lb-$$" 2>/dev/null || true
	ip netns del "$NSA" 2>/dev/null || true
	ip netns del "$NSB" 2>/dev/null || true
	rm -f "/dev/shm/netspectra-lb-$$"
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$T"
}
trap cleanup EXIT
command -v tcpreplay >/dev/null || { echo "live-bench: needs tcpreplay" >&2; exit 0; }
ip netns add "$NSA"; ip netns add "$NSB"
ip link add va netns "$NSA" type veth peer name vb netns "$NSB"
for ns in "$NSA va" "$NSB vb"; do
	set -- $ns
	ip netns exec "$1" sysctl -q -w "net.ipv6.conf.all.disable_ipv6=1"
	ip -n "$1" link set "$2" up
	ip -n "$1" link set lo up
done
"$bld/contrib/pcapgen" -o "$T/trace.pcap" -n "$packets" -f 20000 --snaplen 128 2>/dev/null
cat >"$T/d.yaml" <<EOC
daemon: {pidfile: $T/d.pid, shm_name: /netspectra-lb-$$, log_level: info}
inputs: [{type: pcap, interface: vb, snaplen: 128, promisc: true, buffer_size: 64MiB}]
prometheus: {enabled: false}
aggregator:
  period: 1h
  num_workers: 1
  exact:
    tasks:
      - {name: five, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 100000}
EOC
rx() { ip netns exec "$NSB" cat /sys/class/net/vb/statistics/rx_packets; }
wait_rx() {	# until vb has seen $1 more packets than $2, 20 s at most
	for _ in $(seq 400); do
		[ $(( $(rx) - $2 )) -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# replay RATE: tcpreplay at RATE pps ("top": as fast as it can); the rate
# it reached goes to $T/actual.
replay() {
	local opt="--pps $1"

	[ "$1" = top ] && opt=--topspeed
	ip netns exec "$NSA" tcpreplay -i va $opt "$T/trace.pcap" >"$T/replay.out" 2>&1 || true
	sed -n 's/.*Rated: [0-9.]* Bps, [0-9.]* Mbps, \([0-9.]*\) pps.*/\1/p' "$T/replay.out" |
		head -1 >"$T/actual"
}

# netspectrad at RATE: prints "clean" or why not.
ns_run() {
	rm -f "/dev/shm/netspectra-lb-$$"
	ip netns exec "$NSB" "$bld/netspectrad" -f -c "$T/d.yaml" >"$T/d.log" 2>&1 &
	local d=$! r0
	for _ in $(seq 100); do grep -q "capturing on" "$T/d.log" && break; sleep 0.05; done
	r0=$(rx)
	replay "$1"
	wait_rx "$packets" "$r0" || true
	kill -TERM "$d"; wait "$d" || true
	local kd rf got
	kd=$(sed -n 's/.*kernel drops \([0-9]*\).*/\1/p' "$T/d.log")
	rf=$(sed -n 's/.*ring_full \([0-9]*\), table_full.*/\1/p' "$T/d.log")
	got=$(sed -n 's/.*task five: lifetime packets \([0-9]*\).*/\1/p' "$T/d.log")
	if [ "$kd" = 0 ] && [ "$rf" = 0 ] && [ "$got" = "$packets" ]; then
		echo clean
	else
		echo "kernel drops $kd, ring_full $rf, counted $got of $packets"
	fi
}

# softflowd at RATE: its own statistics after the replay.
sf_run() {
	local s r0 out
	r0=$(rx)
	ip netns exec "$NSB" softflowd -d -i vb -v 9 -m 100000 -n 127.0.0.1:9 \
		-c "$T/sf.ctl" >"$T/sf.log" 2>&1 &
	s=$!
	# Ready once its control socket answers.
	for _ in $(seq 100); do
		ip netns exec "$NSB" softflowctl -c "$T/sf.ctl" statistics >/dev/null 2>&1 && break
		sleep 0.05
	done
	replay "$1"
	wait_rx "$packets" "$r0" || true
	out=$(ip netns exec "$NSB" softflowctl -c "$T/sf.ctl" statistics 2>&1 || true)
	echo "$out" >"$T/sf.stats"
	kill -TERM "$s" 2>/dev/null; wait "$s" 2>/dev/null || true
	local seen drop
	seen=$(echo "$out" | sed -n 's/^Packets received by libpcap: \([0-9]*\).*/\1/p')
	drop=$(echo "$out" | sed -n 's/^Packets dropped by \(libpcap\|interface\): \([0-9]*\).*/\2/p' |
		awk '{ d += $1 } END { print d + 0 }')
	if [ "${seen:-0}" -ge "$packets" ] && [ "${drop:-0}" = 0 ]; then
		echo clean
	else
		echo "saw ${seen:-?} of $packets, dropped ${drop:-?}"
	fi
}

best() {	# best TOOLFN: the highest clean rate reached, as tcpreplay measured it
	local rate=$rate0 ok=0 res
	while :; do
		res=$("$1" "$rate")
		echo "  $1 at $rate pps (reached $(cat "$T/actual") pps): $res" >&2
		[ "$res" = clean ] || break
		ok=$(cat "$T/actual")
		[ "$rate" = top ] && break
		rate=$((rate * 2))
		[ "$rate" -le "$rmax" ] || rate=top
	done
	echo "$ok"
}

echo "live-bench: $packets packets per run, rates doubling from $rate0 pps" >&2
nsr=$(best ns_run)
if command -v softflowd >/dev/null; then sfr=$(best sf_run); else sfr=; fi
echo
echo "# highest loss-free replay rate over veth, $packets packets, same run"
echo "netspectrad (1 worker)  ${nsr} pps"
[ -n "$sfr" ] && echo "softflowd               ${sfr} pps" || echo "softflowd               not installed"
echo "(pps as tcpreplay reached them; the last step is --topspeed, so a tool"
echo " clean there is limited by the sender, not by itself; 0: dropped at $rate0 pps)"
