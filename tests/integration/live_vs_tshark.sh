#!/bin/sh
# live_vs_tshark.sh -- live capture is exact: in a pair of network
# namespaces joined by veth, tcpreplay sends a pcapgen trace at a fixed rate
# into the interface netspectrad captures on; after a graceful stop
# (SIGTERM) the jsonl writer's flows, summed over the wall-clock periods,
# equal tshark's per-flow reading of the trace, and no layer dropped a
# packet (kernel, ring_full, table_full).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
need_root
need tcpreplay
need tshark
ns_tmpdir

ns_bare_pair
ns_at_exit "rm -f /dev/shm/netspectra-live-$$ /dev/shm/netspectra-live-$$.lock"

"$PCAPGEN" -o "$T/trace.pcap" -n 30000 -f 2000 -s 41 --ipv6 0.3 --vlan 0.1 \
	--proto-mix tcp=60,udp=25,icmp=10,sctp=5 2>/dev/null || fail "pcapgen"
cat >"$T/d.yaml" <<EOC
daemon:
  pidfile: $T/d.pid
  shm_name: /netspectra-live-$$
  log_level: info
inputs:
  - {type: pcap, interface: vb, snaplen: 256, promisc: true, immediate: true, buffer_size: 16MiB}
prometheus: {enabled: false}
aggregator:
  period: 2s
  num_workers: 2
  exact:
    writers:
      - {type: jsonl, snapshot_interval: 2s, jsonl: {root_path: $T/out}}
    tasks:
      - {name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 100000}
EOC
"$NETSPECTRAD" -t -c "$T/d.yaml" >/dev/null 2>"$T/t.err" || fail "config: $(cat "$T/t.err")"

# live_run TAG KILLS: run netspectrad while tcpreplay sends the trace,
# kill -9 a worker KILLS times meanwhile, stop it, compare with tshark.
live_run() {
	_tag=$1 _kills=$2
	sed "s#$T/out#$T/out-$_tag#" "$T/d.yaml" >"$T/d-$_tag.yaml"
	daemon_start "$NSB" "$T/d-$_tag.yaml" "$T/d-$_tag.log" "capturing on vb"
	rx0=$(rx)
	ip netns exec "$NSA" tcpreplay -q -i va --pps 10000 "$T/trace.pcap" >"$T/replay.log" 2>&1 &
	rpid=$!
	_k=0
	while [ "$_k" -lt "$_kills" ] && kill -0 "$rpid" 2>/dev/null; do
		# A random moment of the replay, then a random worker.
		sleep "0.$(od -An -N1 -tu1 /dev/urandom | awk '{ printf "%d", 1 + $1 % 4 }')"
		_v=$(pgrep -P "$DPID" -x "ns-worker-$(( $(od -An -N1 -tu1 /dev/urandom) % 2 ))") || continue
		kill -9 "$_v" && _k=$((_k + 1))
	done
	wait "$rpid" || fail "tcpreplay: $(cat "$T/replay.log")"
	# Every packet has reached the capture before the stop.
	wait_for 10 rx_at_least "$rx0" "$sent" ||
		fail "vb received fewer than $sent packets"
	daemon_stop "$DPID" "$T/d-$_tag.log"
	drops=$(sed -n 's/.*kernel drops \([0-9]*\).*/\1/p' "$T/d-$_tag.log")
	ring=$(sed -n 's/.*ring_full \([0-9]*\), table_full \([0-9]*\).*/\1 \2/p' "$T/d-$_tag.log")
	[ "$drops" = 0 ] && [ "$ring" = "0 0" ] || fail "$_tag: drops: kernel $drops, ring_full/table_full $ring"
	periods=$(ls "$T/out-$_tag" | wc -l)
	[ "$periods" -ge 2 ] || fail "$_tag: expected several periods, got $periods"
	cat "$T"/out-$_tag/*/per_five_tuple/flows.jsonl >"$T/live-$_tag.jsonl"
	flows_py ns per_five_tuple "$T/live-$_tag.jsonl" >"$T/live-$_tag.flows" || fail "bad flow output"
	# Times are capture times here, not the trace's: packets, bytes, flags.
	n=$(flows_py diff "$T/tshark.flows" "$T/live-$_tag.flows" packets bytes flags) ||
		fail "$_tag: live flows differ from tshark's reading of the trace (< tshark, > netspectrad)"
	[ "$n" -ge 1000 ] || fail "$_tag: only $n flows compared"
	echo "ok: $_tag: $sent packets replayed at 10 kpps, $_k worker kills, $n flows over $periods periods identical to tshark (packets, bytes, TCP flags); drops: kernel 0, ring_full 0, table_full 0"
}

sent=$(tshark -r "$T/trace.pcap" -T fields -e frame.number 2>/dev/null | wc -l)
tshark_flows "$T/trace.pcap" "$T/tshark.flows"
live_run plain 0
live_run kills 4
