#!/bin/bash
# live-bench.sh -- the highest packet rate each flow tool takes over a veth
# with no loss: netspectrad with one and two workers, softflowd, and
# tcpdump -w /dev/null as the floor of what any capture costs.
#
# Two network namespaces joined by a bare veth (no addresses, IPv6 off).
# pktblast (contrib/bench/pktblast.c) sends BENCH_PACKETS frames of a
# pcapgen trace from one end at each rate of BENCH_RATES ("top": flat
# out); at every rate each tool in turn captures on the other end, all
# with the same snaplen (128) and kernel buffer.  A rate is loss-free for
# a tool only if no layer dropped anything -- the kernel (pcap's ps_drop
# and ps_ifdrop) and the tool itself (netspectrad's ring_full and
# table_full) -- and the tool counted exactly the packets sent.  The run
# must be long beside the buffer (2M packets against about 300k that
# 64 MiB hold) or the buffer, not the tool, takes the rate.  The trace
# holds 200k flows, each seen 10 times: a flow meter's per-flow work (a
# new entry, a cache miss, a page first touched) weighs as it does on a
# busy link; with a few thousand flows every tool kept up with the link.
# Passes with smaller buffers (4 MiB, some 20k frames: 25 ms at 800 kpps;
# 1 MiB, 6 ms) show which tool rides out its own stalls and the
# machine's: on this kind of machine every tool keeps up with the link
# through a 64 MiB buffer.
#
# On a veth the receiving side's softirq (the copy into each capture ring)
# runs on the sender's core, so the top rate is what one core can both
# send and deliver; a tool clean there is limited by the link, not itself.
#
# Needs root; softflowd and tcpdump are optional (their columns say so).
# Environment: NS_BUILDDIR, BENCH_PACKETS [2000000],
# BENCH_RATES ["100000 200000 400000 800000 1200000 top"], BENCH_BUFFERS_MB
# ["64 4 1"], a pass per kernel buffer size,
# BENCH_TOOLS ["ns1 ns2 softflowd tcpdump"], BENCH_FLOWS [200000] distinct
# 5-tuples among the trace's 200k frames, BENCH_KEEP=1.
set -eu
export LC_ALL=C
src=${NS_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${NS_BUILDDIR:-$src/build}
packets=${BENCH_PACKETS:-2000000}
flows=${BENCH_FLOWS:-200000}
max_flows=$((flows * 5))	# each tool's flow table: the same room for all
rates=${BENCH_RATES:-100000 200000 400000 800000 1200000 top}
buffers=${BENCH_BUFFERS_MB:-64 4 1}
tools=${BENCH_TOOLS:-ns1 ns2 softflowd tcpdump}
blast=$bld/contrib/bench/pktblast
filler=20000		# non-IP frames after softflowd's runs (pktblast -f)
T=$(mktemp -d "${TMPDIR:-/tmp}/ns-live-bench.XXXXXX")
NSA=lba-$$ NSB=lbb-$$ SHM=netspectra-lb-$$
cur=		# the tool running, if any: the only process to kill at exit
cleanup() {
	[ -z "$cur" ] || kill -KILL "$cur" 2>/dev/null || true
	ip netns del "$NSA" 2>/dev/null || true
	ip netns del "$NSB" 2>/dev/null || true
	rm -f "/dev/shm/$SHM" "/dev/shm/$SHM.lock"
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$T"
}
trap cleanup EXIT
[ -x "$blast" ] || { echo "live-bench: build first ($blast missing)" >&2; exit 1; }

ip netns add "$NSA"; ip netns add "$NSB"
ip link add va netns "$NSA" type veth peer name vb netns "$NSB"
for ns in "$NSA va" "$NSB vb"; do
	set -- $ns
	ip netns exec "$1" sysctl -q -w "net.ipv6.conf.all.disable_ipv6=1"
	ip -n "$1" link set "$2" up
	ip -n "$1" link set lo up
done
# 200k distinct frames, $flows flows; pktblast repeats them up to $packets.
"$bld/contrib/pcapgen" -o "$T/trace.pcap" -n 200000 -f "$flows" --snaplen 128 \
	2>/dev/null
ns_config() {	# ns_config BUFFER_MB: netspectrad's, one and two workers
	local w

	for w in 1 2; do
		cat >"$T/ns$w.yaml" <<EOC
daemon: {pidfile: $T/ns$w.pid, shm_name: /$SHM, log_level: info}
inputs: [{type: pcap, interface: vb, snaplen: 128, promisc: true, buffer_size: ${1}MiB}]
prometheus: {enabled: false}
aggregator:
  period: 1h
  num_workers: $w
  exact:
    tasks:
      - {name: five, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: $max_flows}
EOC
	done
}

rx() { ip netns exec "$NSB" cat /sys/class/net/vb/statistics/rx_packets; }

# poll SECONDS CMD...: until CMD succeeds, false once the deadline passes.
poll() {
	local end=$(( $(date +%s) + $1 ))

	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# stop PID: SIGTERM, and SIGKILL if it has not exited within a minute.
stop() {
	kill -TERM "$1" 2>/dev/null || true
	poll 60 sh -c "! kill -0 $1" || kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	cur=
}

# send RATE: pktblast at RATE; "sent" and "reached" set from its report,
# "linkloss" to what vb did not receive of it.
send() {
	local opt="-r $1" r0

	[ "$1" = top ] && opt=
	r0=$(rx)
	ip netns exec "$NSA" "$blast" -i va $opt -c "$packets" "$T/trace.pcap" \
		>"$T/blast.out"
	set -- $(tail -1 "$T/blast.out")	# sent N errors E seconds S pps P
	sent=$2 reached=$8
	linkloss=$(( sent - ($(rx) - r0) ))
}

# Each run_TOOL RATE sets got (packets the tool counted), drop (by every
# layer), and extra (what else disagrees with $sent; empty if nothing).

run_ns() {	# run_ns WORKERS RATE
	local d log=$T/ns$1.log kr kd rf tf

	rm -f "/dev/shm/$SHM"
	ip netns exec "$NSB" "$bld/netspectrad" -f -c "$T/ns$1.yaml" >"$log" 2>&1 &
	d=$! cur=$d
	poll 30 grep -q "capturing on" "$log" || echo "live-bench: netspectrad did not start" >&2
	send "$2"
	stop "$d"
	kr=$(sed -n 's/.*kernel received \([0-9]*\), kernel drops.*/\1/p' "$log")
	kd=$(sed -n 's/.*kernel drops \([0-9]*\).*/\1/p' "$log")
	rf=$(sed -n 's/.*drops: ring_full \([0-9]*\), .*/\1/p' "$log")
	tf=$(sed -n 's/.*table_full \([0-9]*\).*/\1/p' "$log")
	got=$(sed -n 's/.*task five: lifetime packets \([0-9]*\).*/\1/p' "$log")
	drop=$(( ${kd:-0} + ${rf:-0} + ${tf:-0} ))
	extra=
	[ "${kr:-x}" = "$sent" ] || extra="kernel received ${kr:-?}"
	[ "$drop" = 0 ] || extra="$extra kernel $kd ring_full $rf table_full $tf"
}
run_ns1() { run_ns 1 "$1"; }
run_ns2() { run_ns 2 "$1"; }

sf_stat() {	# sf_stat LABEL: a figure of softflowctl statistics
	sed -n "s/^$1: \([0-9]*\).*/\1/p" "$T/sf.stats"
}
sf_read() {
	ip netns exec "$NSB" softflowctl -c "$T/sf.ctl" statistics >"$T/sf.stats" 2>&1
}
sf_done() {	# all counted, or no progress since the last look
	local last=${sf_last:-}

	sf_read || return 1
	sf_last=$(sf_stat "Packets processed")
	[ "$sf_last" = "$sent" ] || [ "$sf_last" = "$last" ]
}

# softflowd polls its TPACKET_V3 ring with no block timeout, so the last,
# partly filled block reaches it only once more frames fill it: pktblast's
# filler, non-IP, which softflowd counts apart ("Ignored packets").  The
# kernel's figures are taken before it: a drop of filler is no loss.
run_softflowd() {
	local s lr ld li end

	ip netns exec "$NSB" softflowd -d -i vb -v 9 -m "$max_flows" -n 127.0.0.1:9 \
		-C 128 -B $((bufmb << 20)) -p "$T/sf.pid" -c "$T/sf.ctl" \
		>"$T/sf.log" 2>&1 &
	s=$! cur=$s
	poll 30 sf_read || echo "live-bench: softflowd did not start" >&2
	send "$1"
	sf_read
	lr=$(sf_stat "Packets received by libpcap")
	ld=$(sf_stat "Packets dropped by libpcap")
	li=$(sf_stat "Packets dropped by interface")
	ip netns exec "$NSA" "$blast" -i va -l 0 -f "$filler" "$T/trace.pcap" >/dev/null
	# Done when all is counted, or when a second brings nothing more.
	sf_last= end=$(( $(date +%s) + 120 ))
	until sf_done || [ "$(date +%s)" -ge "$end" ]; do sleep 1; done
	stop "$s"
	got=$(sf_stat "Packets processed")
	drop=$(( ${ld:-0} + ${li:-0} ))
	extra=
	[ "${lr:-x}" = "$sent" ] || extra="libpcap received ${lr:-?}"
	[ "$drop" = 0 ] || extra="$extra libpcap $ld interface $li"
}

# tcpdump stops by itself once it has all; if it cannot, a deadline does.
run_tcpdump() {
	local t err=$T/td.err kr kd id

	ip netns exec "$NSB" tcpdump -i vb -s 128 -B $((bufmb << 10)) -c "$packets" \
		-w /dev/null 2>"$err" &
	t=$! cur=$t
	poll 30 grep -q "listening on" "$err" || echo "live-bench: tcpdump did not start" >&2
	send "$1"
	poll 10 sh -c "! kill -0 $t" || true
	stop "$t"
	got=$(sed -n 's/^\([0-9]*\) packets captured/\1/p' "$err")
	kr=$(sed -n 's/^\([0-9]*\) packets received by filter/\1/p' "$err")
	kd=$(sed -n 's/^\([0-9]*\) packets dropped by kernel/\1/p' "$err")
	id=$(sed -n 's/^\([0-9]*\) packets dropped by interface/\1/p' "$err")
	drop=$(( ${kd:-0} + ${id:-0} ))
	extra=
	[ "${kr:-x}" = "$sent" ] || extra="received by filter ${kr:-?}"
}

have() {	# have TOOL: installed, or said why not
	case $1 in
	softflowd) command -v softflowd >/dev/null && command -v softflowctl >/dev/null ;;
	tcpdump) command -v tcpdump >/dev/null ;;
	*) return 0 ;;
	esac
}

label() {
	case $1 in
	ns1) echo "netspectrad 1w" ;; ns2) echo "netspectrad 2w" ;; *) echo "$1" ;;
	esac
}

# The sender alone, no capture: pktblast flat out, and tcpreplay for scale.
solo() {
	local tr=

	send top
	echo "sender alone (no capture), $packets frames: pktblast $reached pps"
	if command -v tcpreplay >/dev/null; then
		ip netns exec "$NSA" tcpreplay -i va --topspeed "$T/trace.pcap" >"$T/tr.out" 2>&1 || true
		tr=$(sed -n 's/.*Rated: [0-9.]* Bps, [0-9.]* Mbps, \([0-9.]*\) pps.*/\1/p' "$T/tr.out")
		echo "  tcpreplay --topspeed, 200000 frames: ${tr%.*} pps"
	fi
}

# One pass: every rate, every tool, at kernel buffer $bufmb MiB.
pass() {
	local rate tool ok

	: >"$res"
	ns_config "$bufmb"
	for rate in $rates; do
		for tool in $tools; do
			if ! have "$tool"; then
				echo "$rate $tool - - - - missing" >>"$res"
				continue
			fi
			"run_$tool" "$rate"
			ok=no
			[ "$drop" = 0 ] && [ "${got:-x}" = "$sent" ] && [ -z "$extra" ] && ok=yes
			[ "$linkloss" = 0 ] || extra="$extra link lost $linkloss"
			echo "$rate $tool $reached $sent ${got:-?} $drop $ok" >>"$res"
			printf '  %-6s %-15s reached %8s pps: counted %s of %s, dropped %s%s\n' \
				"$rate" "$(label "$tool")" "$reached" "${got:-?}" "$sent" "$drop" \
				"${extra:+ ($extra)}" >&2
		done
	done
}

# The table: a row per rate, a column per tool (counted / dropped / ok).
table() {
	local rate tool

	echo
	echo "# kernel buffer $bufmb MiB: packets counted / dropped / loss-free, $packets sent per run"
	printf '%-8s %10s' rate reached
	for tool in $tools; do printf ' | %-22s' "$(label "$tool")"; done
	echo
	for rate in $rates; do
		printf '%-8s %10s' "$rate" "$(awk -v r="$rate" '$1 == r && $3 != "-" {
			k = int($3 / 1000); if (n++ == 0 || k < lo) lo = k; if (k > hi) hi = k }
			END { print lo == hi ? lo "k" : lo "-" hi "k" }' "$res")"
		for tool in $tools; do
			printf ' | %-22s' "$(awk -v r="$rate" -v t="$tool" '$1 == r && $2 == t {
				print ($7 == "missing" ? "not installed" : $5 " / " $6 " / " $7) }' "$res")"
		done
		echo
	done
	echo "highest loss-free rate (there and at every lower rate; pps reached):"
	for tool in $tools; do
		printf '  %-16s %s\n' "$(label "$tool")" "$(awk -v t="$tool" '
			$2 != t { next }
			$7 == "missing" { m = 1 }
			$7 == "yes" && !bad { best = $1 " (" $3 " pps)" }
			$7 == "yes" && bad { again = again " " $1 }
			$7 == "no" { bad = 1 }
			END { if (m) { print "not installed"; exit }
				print (best == "" ? "none" : best) \
				    (again == "" ? "" : "; loss-free again at" again) }' "$res")"
	done
}

echo "live-bench: $packets packets per run, snaplen 128, rates: $rates; kernel buffers (MiB): $buffers"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
solo
res=$T/results
for bufmb in $buffers; do
	echo "pass: kernel buffer $bufmb MiB" >&2
	pass
	table >"$T/table-$bufmb"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
for bufmb in $buffers; do cat "$T/table-$bufmb"; done
echo
echo "(\"top\": pktblast flat out; the veth's receive path runs on the sender's"
echo " core, so a tool loss-free there is limited by the link, not by itself)"
