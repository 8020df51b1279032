#!/bin/bash
# scrape-bench.sh -- /metrics latency with many flows in the tables, and
# the number of series against the number of flows.
#
# netspectrad captures on one end of a bare veth; tcpreplay sends a pcapgen
# trace of FLOWS flows (each seen once or more) as fast as it can; then
# /metrics is scraped SCRAPES times and the latencies reported, along with
# the series count.  The same is done with a trace of a tenth of the flows:
# the series count must not change.  Needs root and tcpreplay.
#
# Environment: NS_BUILDDIR, BENCH_FLOWS [1000000], BENCH_SCRAPES [20].
set -eu
src=${NS_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${NS_BUILDDIR:-$src/build}
flows=${BENCH_FLOWS:-1000000} scrapes=${BENCH_SCRAPES:-20}
T=$(mktemp -d "${TMPDIR:-/tmp}/ns-scrape-bench.XXXXXX")
NSA=sba-$$ NSB=sbb-$$ port=19571
cleanup() {
	[ -f "$T/d.pid" ] && kill -9 "$(cat "$T/d.pid")" 2>/dev/null || true
	ip netns del "$NSA" 2>/dev/null || true
	ip netns del "$NSB" 2>/dev/null || true
	rm -f "/dev/shm/netspectra-sb-$$" "/dev/shm/netspectra-sb-$$.lock"
	rm -rf "$T"
}
trap cleanup EXIT
command -v tcpreplay >/dev/null || { echo "scrape-bench: needs tcpreplay" >&2; exit 0; }
ip netns add "$NSA"; ip netns add "$NSB"
ip link add va netns "$NSA" type veth peer name vb netns "$NSB"
for ns in "$NSA va" "$NSB vb"; do
	set -- $ns
	ip netns exec "$1" sysctl -q -w "net.ipv6.conf.all.disable_ipv6=1"
	ip -n "$1" link set "$2" up
	ip -n "$1" link set lo up
done

# run FLOWS: replay a trace of about FLOWS flows (uniform over FLOWS/2
# conversations, each direction a flow, ~2.4 packets a flow), scrape;
# prints "p50 max series flows drops"
run() {
	local n=$1 d i
	"$bld/contrib/pcapgen" -o "$T/t.pcap" -n $(( n * 12 / 5 )) -f $(( n * 3 / 5 )) -z 0 \
		--snaplen 96 -s 77 2>/dev/null
	rm -f "/dev/shm/netspectra-sb-$$"
	cat >"$T/d.yaml" <<EOC
daemon: {pidfile: $T/d.pid, shm_name: /netspectra-sb-$$, log_level: info}
inputs: [{type: pcap, interface: vb, snaplen: 96, promisc: true, buffer_size: 256MiB}]
prometheus: {enabled: true, listen: "127.0.0.1:$port", top_k: 10}
aggregator:
  period: 1h
  num_workers: 2
  exact:
    tasks:
      - {name: five, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: $(( n * 2 ))}
EOC
	ip netns exec "$NSB" "$bld/netspectrad" -f -c "$T/d.yaml" >"$T/d.log" 2>&1 &
	d=$!
	for _ in $(seq 100); do grep -q "serving /metrics" "$T/d.log" && break; sleep 0.05; done
	# 200 kpps: fast, and below what the capture takes without a drop.
	ip netns exec "$NSA" tcpreplay -q -i va --pps 200000 "$T/t.pcap" >/dev/null 2>&1
	# Until the tables hold what arrived and the top-K series are made.
	for _ in $(seq 300); do
		ip netns exec "$NSB" curl -s "http://127.0.0.1:$port/metrics" >"$T/m" || true
		[ "$(grep -c '^netspectra_top_flow_packets' "$T/m")" = 10 ] &&
			[ "$(grep '^netspectra_task_period_flows' "$T/m")" = \
			  "$(ip netns exec "$NSB" curl -s "http://127.0.0.1:$port/metrics" | grep '^netspectra_task_period_flows')" ] &&
			break
		sleep 0.1
	done
	for i in $(seq "$scrapes"); do
		ip netns exec "$NSB" curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/metrics"
	done | sort -n >"$T/lat"
	local series fl
	series=$(grep -vc '^#' "$T/m")
	fl=$(sed -n 's/^netspectra_task_period_flows{task="five"} //p' "$T/m")
	kill -TERM "$d"; wait "$d" || true
	echo "$(awk '{ a[NR] = $1 } END { printf "%.1f %.1f", a[int((NR + 1) / 2)] * 1000, a[NR] * 1000 }' "$T/lat") $series $fl $(sed -n 's/.*kernel drops \([0-9]*\).*/\1/p' "$T/d.log")"
}

read -r p50 max series nfl drops < <(run "$flows")
read -r sp50 smax sseries snfl sdrops < <(run $(( flows / 10 )))
echo "# /metrics scrape latency, $scrapes scrapes each, same run"
printf "%-10s %10s %10s %8s %13s\n" flows p50_ms max_ms series kernel_drops
printf "%-10s %10s %10s %8s %13s\n" "$snfl" "$sp50" "$smax" "$sseries" "$sdrops"
printf "%-10s %10s %10s %8s %13s\n" "$nfl" "$p50" "$max" "$series" "$drops"
awk -v m="$max" 'BEGIN { printf "%s  scrape latency with %s flows: max %.1f ms (target < 50)\n", m < 50 ? "PASS" : "FAIL", "'"$nfl"'", m }'
[ "$series" = "$sseries" ] && echo "PASS  series independent of flows ($series for $snfl and $nfl flows)" ||
	echo "FAIL  series: $sseries for $snfl flows, $series for $nfl"
