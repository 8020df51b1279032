#!/bin/sh
# live_two_inputs.sh -- several interfaces at once: netspectrad captures on
# two veth links while tcpreplay sends a different trace into each; with
# 1 s periods (so the inputs cross many boundaries together) every flow of
# both traces is counted once, as tshark reads them, with zero drops.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
need_root
need tcpreplay
need tshark
ns_tmpdir
ns_bare_pair
ns_at_exit "rm -f /dev/shm/netspectra-two-$$ /dev/shm/netspectra-two-$$.lock"
# A second link between the same namespaces.
ip link add wa netns "$NSA" type veth peer name wb netns "$NSB" || fail "veth"
ip -n "$NSA" link set wa up
ip -n "$NSB" link set wb up

"$PCAPGEN" -o "$T/a.pcap" -n 20000 -f 2000 -s 51 --ipv6 0.3 2>/dev/null || fail "pcapgen"
"$PCAPGEN" -o "$T/b.pcap" -n 20000 -f 2000 -s 52 --vlan 0.3 2>/dev/null || fail "pcapgen"
mergecap -w "$T/both.pcap" "$T/a.pcap" "$T/b.pcap" 2>/dev/null || fail "mergecap"
cat >"$T/d.yaml" <<EOC
daemon: {pidfile: $T/d.pid, shm_name: /netspectra-two-$$, log_level: info}
inputs:
  - {type: pcap, interface: vb, promisc: true, immediate: true}
  - {type: pcap, interface: wb, promisc: true, immediate: true}
prometheus: {enabled: false}
aggregator:
  period: 1s
  num_workers: 2
  exact:
    writers: [{type: jsonl, snapshot_interval: 1s, jsonl: {root_path: $T/out}}]
    tasks:
      - {name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 100000}
EOC
daemon_start "$NSB" "$T/d.yaml" "$T/d.log" "capturing on"
wait_for 10 sh -c "[ \$(grep -c 'capturing on' '$T/d.log') = 2 ]" || fail "did not start: $(cat "$T/d.log")"
v0=$(rx vb) w0=$(rx wb)
ip netns exec "$NSA" tcpreplay -q -i va --pps 5000 "$T/a.pcap" >/dev/null 2>&1 &
r1=$!
ip netns exec "$NSA" tcpreplay -q -i wa --pps 5000 "$T/b.pcap" >/dev/null 2>&1 || fail "tcpreplay b"
wait "$r1" || fail "tcpreplay a"
wait_for 10 eval '[ $(( $(rx vb) - v0 )) -ge 20000 ] && [ $(( $(rx wb) - w0 )) -ge 20000 ]' ||
	fail "the links missed packets"
daemon_stop "$DPID" "$T/d.log"
for i in 0 1; do
	grep -q "input $i: kernel received [1-9][0-9]*, kernel drops 0" "$T/d.log" ||
		fail "input $i: $(grep "input $i:" "$T/d.log")"
done
grep -q "ring_full 0, table_full 0" "$T/d.log" || fail "drops: $(grep drops "$T/d.log")"
# A child that died lost what its link carried meanwhile (both captures
# crossing a boundary at once used to kill the loser of the race).
! grep -q "restarting" "$T/d.log" || fail "a child died: $(grep -E "cannot|restarting" "$T/d.log")"
periods=$(ls "$T/out" | wc -l)
[ "$periods" -ge 3 ] || fail "only $periods periods"
cat "$T"/out/*/per_five_tuple/flows.jsonl >"$T/live.jsonl"
tshark_flows "$T/both.pcap" "$T/tshark.flows"
flows_py ns per_five_tuple "$T/live.jsonl" >"$T/live.flows" || fail "bad flow output"
n=$(flows_py diff "$T/tshark.flows" "$T/live.flows" packets bytes flags) ||
	fail "flows of the two links differ from tshark (< tshark, > netspectrad)"
echo "ok: two inputs, 40000 packets over $periods periods of 1 s: $n flows identical to tshark, zero drops"
